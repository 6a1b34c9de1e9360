"""Decoupled regularization: smoke, determinism, gradients, exact answers, learning, resume, bad input."""

import copy
import json
import math

import pytest
import torch

from anthology.cli import main
from anthology.core.config import override
from anthology.core.errors import AnthologyError
from anthology.core.run_dir import RunDir
from anthology.methods.decoupled_regularization import PRESETS, REPRODUCE_PRESETS, EnvConfig, reproduce, train
from anthology.methods.decoupled_regularization.reproduce import chain_actions, exact_soft_policy
from anthology.methods.decoupled_regularization.train import (
    EPISODE_SEED_STRIDE,
    entropy_target,
    evaluate_policy,
    make_env,
)
from anthology.rl.actor_critic import QEnsemble, SquashedGaussianActor
from anthology.rl.replay_buffer import Batch
from anthology.rl.sac import SACLearner, sac_update
from anthology.testing import (
    KillAtStep,
    SimulatedKill,
    assert_all_parameters_change,
    assert_learns_to_threshold,
    assert_summaries_equal,
)

TINY = PRESETS["tiny"]
CHAIN = override(REPRODUCE_PRESETS["tiny"].chain_train, **{"env.chain": chain_actions(4)})


@pytest.mark.parametrize("scheme", ["fixed", "static", "auto", "dynamic"])
def test_tiny_preset_runs_every_temperature_scheme(scheme):
    s = train(override(TINY, temperature=scheme, **{"env.copies": 2})).summary
    assert s["action_dim"] == 2 and s["steps"] == 400 and math.isfinite(s["eval/return"])
    if scheme in ("fixed", "static"):  # a fixed temperature never moves
        expected = 0.2 if scheme == "fixed" else 0.2 / (2 * (math.log(2.0) - math.log(1e-3)))
        assert s["eval/temperature"] == pytest.approx(expected, rel=1e-6)
    else:
        assert s["eval/temperature"] != pytest.approx(1.0)


def test_sac_runs_on_a_control_suite_task_with_rescaled_actions():
    pytest.importorskip("dm_control", reason="the control extra is installed by make test")
    cfg = override(TINY, temperature="dynamic", total_steps=300, eval_every=300,
                   env=EnvConfig(name="cartpole-swingup", action_scale=0.25))
    s = train(cfg).summary
    # H_max = log 0.5 for the box [-0.25, 0.25]; target 0.1 H_max + 0.9 H_min
    assert s["entropy_max"] == pytest.approx(math.log(0.5)) and s["entropy_target"] == pytest.approx(
        0.1 * math.log(0.5) + 0.9 * math.log(1e-3))
    # the actor acts in the rescaled box, and the reported return is that of its deterministic policy,
    # replayed here on the evaluation environment's seeds
    result = train(cfg)
    assert_summaries_equal(result.summary, s)
    actor = result.artifacts["actor"]
    assert torch.allclose(actor.scale, torch.full_like(actor.scale, 0.25)) and torch.all(actor.bias == 0)
    eval_env = make_env(cfg.env, cfg.seed + 1)
    assert s["eval/return"] == evaluate_policy(lambda o: actor(o).mean_action, eval_env, cfg.eval_episodes, cfg.seed * EPISODE_SEED_STRIDE + 50_000)


@pytest.mark.parametrize("scheme", ["fixed", "static"])
def test_tiny_soft_q_runs_on_both_discrete_tasks(scheme):
    for env in (EnvConfig(name="distractor_chain", chain=(2, 5)), EnvConfig(name="escape_grid", escape_dims=2)):
        s = train(override(CHAIN, temperature=scheme, env=env)).summary
        assert s["agent"] == "soft_q" and s["eval/expected_length"] >= s["optimal_expected_length"] * 0.99


def test_tiny_preset_through_the_cli(tmp_path):
    assert main(["train", "decoupled_regularization", "--preset", "tiny", "--runs", str(tmp_path), "--quiet",
                 "--temperature", "static"]) == 0
    (run,) = list((tmp_path / "decoupled_regularization" / "tiny").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["temperature_scheme"] == "static" and RunDir(run).read_curve()[-1]["step"] == 400


@pytest.mark.parametrize("scheme", ["auto", "fixed"])
def test_every_parameter_changes_and_gradients_are_finite(scheme):
    torch.manual_seed(0)
    cfg = override(TINY, temperature=scheme, policy_frequency=1)
    low, high = -torch.ones(3), torch.ones(3)
    actor, critic = SquashedGaussianActor(5, low, high, (16, 16)), QEnsemble(5, 3, (16, 16))
    target = copy.deepcopy(critic).requires_grad_(False)
    log_t = torch.nn.Parameter(torch.zeros(()))
    sac = SACLearner(actor, critic, target, log_t, torch.optim.Adam(actor.parameters(), 1e-2),
                     torch.optim.Adam(critic.parameters(), 1e-2), torch.optim.Adam([log_t], 1e-2))
    batch = Batch(torch.randn(32, 5), torch.rand(32, 3) * 2 - 1, torch.randn(32), torch.randn(32, 5),
                  torch.zeros(32, dtype=torch.bool))
    holder = torch.nn.Module()
    holder.actor, holder.critic, holder.log_t = actor, critic, log_t
    targets_before = [p.clone() for p in target.parameters()]

    def update():
        sac_update(sac, batch, cfg.gamma, cfg.policy_frequency, cfg.target_ema, entropy_target(cfg, low, high),
                   torch.Generator().manual_seed(0))

    assert_all_parameters_change(holder, update, ignore=("log_t",) if scheme == "fixed" else ())
    assert all(not torch.equal(a, b) for a, b in zip(targets_before, target.parameters()))  # Polyak moved them
    assert float(log_t.detach()) == 0.0 or scheme == "auto"


def test_learned_soft_q_matches_soft_value_iteration_exactly_on_a_small_chain():
    cfg = override(CHAIN, total_steps=2500, eval_every=2500, learning_starts=300)
    for scheme in ("fixed", "static"):
        s = train(override(cfg, temperature=scheme)).summary
        # 5 seeds (2500 steps, tau 0.2): mean total variation to the exact soft-optimal policy 0.0000..0.0003
        # for both schemes; lengths 6.103..6.105 (exact 6.103, fixed) and 6.024..6.026 (exact 6.024, static).
        assert s["eval/policy_tv_mean"] < 0.02
        assert s["eval/expected_length"] == pytest.approx(s["optimal_expected_length"], rel=0.02)


def test_exact_chain_fixed_temperature_lingers_where_actions_are_many_and_decoupled_does_not():
    from anthology.envs.distractor_chain import DistractorChain

    lengths = {}
    for k in (1, 8):
        chain = DistractorChain(chain_actions(k))
        lengths[k] = {d: chain.expected_length(exact_soft_policy(chain, 0.4, d)) for d in (False, True)}
    # soft value iteration (gamma 1, tau 0.4): fixed 6.54 -> 12.01 steps, decoupled 6.54 -> 6.37; shortest 6
    assert lengths[1][False] == pytest.approx(lengths[1][True])  # log 2 < 1: the clamp makes them equal
    assert lengths[8][False] == pytest.approx(12.01, abs=0.01) and lengths[8][True] == pytest.approx(6.37, abs=0.01)


@pytest.mark.learning
def test_sac_learns_pendulum():
    cfg = override(PRESETS["quick"], hidden=(64, 64), batch_size=64, total_steps=5000, eval_every=5000,
                   learning_starts=500, eval_episodes=3)
    returns = [train(override(cfg, seed=seed)).summary["eval/return"] for seed in (0, 1)]
    # Reward on the control suite's scale (x 1/16.27). 5 seeds, 5000 steps: final returns -7.3, -7.3, -13.0,
    # -29.3, -7.7; an actor that does not learn (lr 1e-12): -77.4, -75.9 on seeds 0 and 1.
    assert_learns_to_threshold(returns, -40, higher_is_better=True, name="Pendulum return")


def test_a_killed_soft_q_run_resumes_to_the_same_summary(tmp_path):
    cfg = override(CHAIN, total_steps=500, checkpoint_every=200, eval_every=100, log_every=100)
    whole = train(cfg, run_dir=RunDir.create("decoupled_regularization", "tiny", 0, tmp_path / "a"))
    run = RunDir.create("decoupled_regularization", "tiny", 0, tmp_path / "b")
    with pytest.raises(SimulatedKill):
        train(cfg, tracker=KillAtStep(300), run_dir=run)
    resumed = train(cfg, run_dir=run)
    assert_summaries_equal(resumed.summary, whole.summary)


def test_mistakes_are_one_line_user_errors():
    with pytest.raises(AnthologyError, match="discrete actions"):
        train(override(CHAIN, temperature="auto"))
    with pytest.raises(AnthologyError, match="unknown env"):
        train(override(TINY, **{"env.name": "pendullum"}))
    with pytest.raises(AnthologyError, match="tau"):
        train(override(TINY, tau=0.0))
    with pytest.raises(AnthologyError, match="does not exist"):  # 64 distractors at tau 0.3: no soft optimum
        train(override(CHAIN, tau=0.3, gamma=1.0, **{"env.chain": (2, 65)}))


@pytest.mark.learning
def test_tiny_reproduction_writes_a_claim(tmp_path):
    claim = reproduce("tiny", out=tmp_path / "out", root=tmp_path / "runs", workers=1)
    assert (tmp_path / "out" / "claim.json").exists()
    table = {(r.setting, r.variant, r.metric): r.mean for r in claim.table}
    assert table[("escape grid n=3", "fixed", "episode_length")] == pytest.approx(11.3, abs=0.05)  # the notes
    assert table[("escape grid n=3", "static decoupled", "episode_length")] == pytest.approx(9.2, abs=0.05)
    assert "escape grid" in claim.evidence and "holds" in claim.evidence


def test_pendulum_on_the_control_suite_scale_costs_at_most_one_a_step():
    """Exact: Pendulum-v1's cost is theta^2 + 0.1 theta_dot^2 + 0.001 u^2, largest (16.27) hanging down at
    full speed and torque; `reward_scale` = PENDULUM_DMC_SCALE makes that -1, the control suite's scale."""
    from anthology.envs.stacked_pendulum import PENDULUM_MAX_COST
    from anthology.methods.decoupled_regularization.config import PENDULUM_DMC_SCALE

    assert abs(PENDULUM_DMC_SCALE * PENDULUM_MAX_COST - 1) < 1e-12
    env = make_env(EnvConfig(reward_scale=PENDULUM_DMC_SCALE, action_scale=0.5))
    env.reset(seed=0)
    env.unwrapped.envs[0].state = [math.pi, 8.0]
    _, reward, *_ = env.step([0.5])  # the agent's 0.5 is the environment's full torque 2
    assert reward == pytest.approx(-1.0, abs=1e-6)


@pytest.mark.parametrize("d", [1, 2, 4, 16])
def test_each_copy_of_a_stack_is_regularised_at_d_times_the_temperature(d):
    """Exact: with the reward a mean over d copies and the product policy's entropy a sum, r_bar + t H =
    (1/d) sum_i (r_i + d t H_i). Fixed t = tau gives each copy d tau; static t = tau / range gives each
    copy tau / (log 2 - log 1e-3) whatever d (the extension's rows say the same)."""
    from anthology.methods.decoupled_regularization.reproduce import per_copy_temperature_rows
    from anthology.rl.temperature import static_box_temperature

    g = torch.Generator().manual_seed(d)
    rewards, entropies, t = torch.randn(d, generator=g), torch.randn(d, generator=g), 0.3
    assert float(rewards.mean() + t * entropies.sum()) == pytest.approx(float((rewards + d * t * entropies).mean()))
    per_copy = d * static_box_temperature(0.25, -torch.ones(d), torch.ones(d))
    assert per_copy == pytest.approx(0.25 / (math.log(2) - math.log(1e-3)), rel=1e-9)
    rows = {r.variant: r.values[0] for r in per_copy_temperature_rows(override(REPRODUCE_PRESETS["quick"], copies=(d,)))}
    assert rows == pytest.approx({"fixed": d * 0.25, "static decoupled": per_copy})


def test_the_actor_keeps_log_sigma_above_its_floor():
    """With every raw log-std far below the floor and the mean at 0, an action is tanh(e^floor eps): the
    authors' floor -3 (the config's default) against CleanRL's -5, from the same noise."""
    actions = {}
    for floor in (-3.0, -5.0):
        actor = SquashedGaussianActor(3, -torch.ones(2), torch.ones(2), (16,), log_std_min=floor)
        with torch.no_grad():
            actor.body[-1].weight.zero_()
            actor.body[-1].bias.copy_(torch.tensor([0.0, 0.0, -100.0, -100.0]))
            actions[floor] = actor(torch.zeros(4, 3), torch.Generator().manual_seed(0)).action
    noise = torch.atanh(actions[-5.0]) / math.exp(-5.0)
    torch.testing.assert_close(actions[-3.0], torch.tanh(math.exp(-3.0) * noise), rtol=1e-4, atol=1e-7)
    assert TINY.log_std_min == -3.0
