"""Self-predictive RL, the POMDP part: R2D2-style recurrent Q-learning on MiniGrid with ZP on the LSTM states."""

import dataclasses

import numpy as np
import pytest
import torch

from anthology.cli import main
from anthology.methods.self_predictive import METHOD, PRESETS
from anthology.methods.self_predictive.recurrent import (
    Agent,
    Episode,
    RecurrentConfig,
    aux_loss,
    burn_in,
    make_env,
    play,
    td_target,
    train_recurrent,
    update,
)
from anthology.rl.sequence_replay import SequenceReplay
from anthology.testing import conformance

TINY = PRESETS["minigrid_tiny"]
SPEC = dataclasses.replace(METHOD, presets={**METHOD.presets, "tiny": TINY})  # the conformance checks on it


def collect(agent: Agent, cfg: RecurrentConfig, replay: SequenceReplay, seed: int, eps: float = 0.5):
    """Act one episode as the training loop does and store it; returns the states z_t the agent acted on."""
    record = Episode()
    for _ in play(record, agent, make_env(cfg), seed, lambda t: eps, torch.Generator().manual_seed(seed),
                  torch.device("cpu")):
        pass
    record.store(replay)
    return torch.as_tensor(np.stack(record.hiddens[1:]))[:, 0]  # h after row t = z_t


def small_setup(seed: int = 0, **changes):
    torch.manual_seed(seed)
    cfg = dataclasses.replace(TINY, latent=16, q_hidden=16, burn_in=5, learn_len=6, n_step=3, **changes)
    agent = Agent(cfg, 147, 7)
    replay = SequenceReplay(2000, 147, 7, cfg.latent, cfg.burn_in, cfg.learn_len, cfg.n_step, cfg.gamma)
    return cfg, agent, replay


def test_burn_in_and_unroll_give_back_the_states_the_agent_acted_on():
    """Inputs (o_t, a_{t-1}, r_{t-1}), the stored state and the burn-in window line up: replaying any chunk
    from its stored state through its burn-in gives the acting-time z_t (the network unchanged)."""
    cfg, agent, replay = small_setup()
    states = collect(agent, cfg, replay, seed=1)
    assert len(replay.chunks) >= 4
    chunks = list(replay.chunks)
    for first in chunks:
        replay.chunks, replay.chunk_episode = [first], [0]
        batch = replay.sample(1)
        with torch.no_grad():
            z = agent.encoder.unroll(batch.learn, burn_in(agent.encoder, batch, torch.device("cpu")))
        steps = int(batch.steps)
        torch.testing.assert_close(z[0, :steps], states[first:first + steps], atol=1e-5, rtol=1e-5)


def test_double_q_target_lets_the_online_network_pick_and_the_target_network_rate():
    cfg, agent, replay = small_setup()
    collect(agent, cfg, replay, seed=2)
    batch = replay.sample(4, torch.Generator().manual_seed(0))
    z, target_z = torch.randn(4, cfg.learn_len + cfg.n_step, 16), torch.randn(4, cfg.learn_len + cfg.n_step, 16)
    with torch.no_grad():
        agent.target_q[-1].weight.mul_(-1.0)  # the target network now disagrees with the online one
    y = td_target(agent, z, target_z, batch)
    for b in range(4):
        for t in range(int(batch.steps[b])):
            row = int(batch.bootstrap_row[b, t])
            pick = int(agent.q(z[b, row]).argmax())
            expected = batch.nstep_return[b, t] + batch.discount[b, t] * agent.target_q(target_z[b, row])[pick]
            torch.testing.assert_close(y[b, t], expected.detach())
    max_target = batch.nstep_return + batch.discount * agent.target_q(target_z).max(-1).values.gather(
        1, batch.bootstrap_row).detach()
    assert not torch.allclose(y[batch.valid], max_target[batch.valid])  # not the plain max of the target


@pytest.mark.parametrize("target", ["ema", "detached", "online"])
def test_only_the_online_zp_target_sends_gradient_into_the_next_state(target):
    cfg, agent, replay = small_setup(target=target)
    collect(agent, cfg, replay, seed=3)
    batch = replay.sample(4, torch.Generator().manual_seed(0))
    z = torch.randn(4, cfg.learn_len + cfg.n_step, 16, requires_grad=True)
    target_z = torch.randn(4, cfg.learn_len + cfg.n_step, 16)
    (grad,) = torch.autograd.grad(aux_loss(cfg, agent, z, target_z, batch), z)
    steps = batch.aux_valid.sum(1)
    # z_t feeds the model at every step; z_{t+1} is also the target under `online` only
    into_next = torch.stack([grad[b, int(steps[b])].abs().sum() for b in range(4) if steps[b] > 0])
    if target == "online":
        assert into_next.sum() > 0
    else:
        assert into_next.sum() == 0


def test_a_zp_update_leaves_the_ema_encoder_to_polyak_averaging():
    cfg, agent, replay = small_setup()
    for seed in range(3):
        collect(agent, cfg, replay, seed=seed)
    before = [p.detach().clone() for p in agent.target_encoder.parameters()]
    optimizer = torch.optim.Adam([*agent.encoder.parameters(), *agent.q.parameters()], lr=1e-2)
    model_optimizer = torch.optim.Adam(agent.model.parameters(), lr=1e-2)
    info = update(cfg, agent, optimizer, model_optimizer, replay.sample(8, torch.Generator().manual_seed(0)),
                  torch.device("cpu"), diagnose=True)
    assert info["train/zp_loss"] > 0 and "train/rank_0.01" in info
    for old, ema, online in zip(before, agent.target_encoder.parameters(), agent.encoder.parameters(), strict=True):
        assert ema.grad is None
        torch.testing.assert_close(ema, (1 - cfg.tau) * old + cfg.tau * online.detach())


def test_tiny_run_writes_its_run_folder(tmp_path):
    result = conformance.check_tiny_run_writes_its_run_folder(SPEC, tmp_path)
    assert {"eval/success", "train/rank_0.01"} <= set(result.summary)


def test_deterministic():
    conformance.check_deterministic(SPEC)


def test_every_trainable_parameter_changes():
    conformance.check_every_trainable_parameter_changes(SPEC)


def test_kill_and_resume(tmp_path):
    conformance.check_kill_and_resume(SPEC, tmp_path)


@pytest.mark.parametrize("value", conformance.BAD_NUMBERS)
def test_every_numeric_field_refuses_bad_values_or_runs(value):
    for path in conformance.numeric_fields(TINY):
        conformance.check_bad_value(SPEC, path, value)


def test_cli_trains_a_minigrid_preset_and_rejects_a_non_minigrid_env(tmp_path, capsys):
    assert main(["train", "self_predictive", "--preset", "minigrid_tiny", "--runs", str(tmp_path), "--quiet",
                 "--total-steps", "120", "--eval-every", "60"]) == 0
    assert "eval/success" in capsys.readouterr().out
    conformance.assert_one_line_error(main, ["train", "self_predictive", "--preset", "minigrid_tiny", "--runs",
                                             str(tmp_path), "--env", "CartPole-v1"], "MiniGrid")
    conformance.assert_one_line_error(main, ["train", "self_predictive", "--preset", "minigrid_tiny", "--runs",
                                             str(tmp_path), "--env", "MiniGrid-Nope-v0"], "cannot make")
    conformance.assert_one_line_error(main, ["train", "self_predictive", "--preset", "tiny", "--runs", str(tmp_path),
                                             "--env", "Pendulum-v9"], "cannot make", "Pendulum-v9")


def test_recurrent_zp_agent_learns_empty_room():
    """ZP (EMA) on R2D2 solves MiniGrid-Empty-5x5 in 10k steps at the `minigrid` preset's sizes: greedy
    success over 10 episodes, seeds 0-4 all 1.0 (returns 0.94-0.95); at 6k steps seeds 2 and 4 were still at 0,
    so 10k it is. With lr 1e-9 (seed 0) success stays 0.0 and the test fails."""
    cfg = dataclasses.replace(PRESETS["minigrid"], env="MiniGrid-Empty-5x5-v0", total_steps=10_000, eps_decay=1000,
                              eval_every=10_000)
    assert train_recurrent(cfg).summary["eval/success"] >= 0.8
