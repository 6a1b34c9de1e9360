"""Maximum-entropy GFlowNets: smoke, determinism, gradients, learning, learned n, resume, bad input."""

import importlib
import json
import math

import pytest
import torch

from anthology.cli import main
from anthology.core.config import override
from anthology.core.errors import AnthologyError
from anthology.core.run_dir import RunDir
from anthology.envs.hypergrid import HyperGrid
from anthology.gfn.exact import build_graph
from anthology.gfn.path_count import path_count_loss
from anthology.gfn.policy import GFlowNetPolicy
from anthology.gfn.sampler import sample_trajectories, score_trajectories
from anthology.methods.maxent_gfn import PRESETS, REPRODUCE_PRESETS, EnvConfig, train
from anthology.methods.maxent_gfn.train import gflownet_loss, make_env
from anthology.testing import (
    KillAtStep,
    SimulatedKill,
    assert_all_parameters_change,
    assert_learns_to_threshold,
    assert_summaries_equal,
)

TINY = PRESETS["tiny"]


@pytest.mark.parametrize("algorithm,backward", [("tb", "maxent"), ("db", "uniform"), ("subtb", "free"),
                                                ("tb", "maxent_learned"), ("soft_q", "maxent")])
def test_tiny_preset_runs_every_loss_and_backward_policy(algorithm, backward):
    s = train(override(TINY, algorithm=algorithm, backward=backward)).summary
    # a smoke test: every loss trains to finite exact metrics over the whole budget (learning is tested below)
    assert math.isfinite(s["eval/l1"]) and math.isfinite(s["eval/entropy"]) and s["trajectories"] == 40 * 16


def test_tiny_preset_through_the_cli(tmp_path, capsys):
    assert main(["train", "maxent_gfn", "--preset", "tiny", "--runs", str(tmp_path), "--quiet",
                 "--backward", "uniform"]) == 0
    (run,) = list((tmp_path / "maxent_gfn" / "tiny").iterdir())
    assert json.loads((run / "summary.json").read_text())["backward"] == "uniform"
    assert json.loads((run / "curve.json").read_text())[-1]["step"] == 40


@pytest.mark.parametrize("algorithm,backward", [("subtb", "maxent_learned"), ("soft_q", "uniform")])
def test_every_parameter_changes_and_gradients_are_finite(algorithm, backward):
    torch.manual_seed(0)
    cfg = override(TINY, algorithm=algorithm, backward=backward)
    env = make_env(cfg.env)
    policy = GFlowNetPolicy(env.input_dim, env.n_actions, env.n_backward_actions, 16)
    log_z = torch.nn.Parameter(torch.zeros(()))
    holder = torch.nn.Module()
    holder.policy, holder.log_z = policy, log_z
    opt = torch.optim.Adam(holder.parameters(), lr=1e-2)
    target = GFlowNetPolicy(env.input_dim, env.n_actions, env.n_backward_actions, 16).requires_grad_(False)

    def update():
        trajs = sample_trajectories(env, policy, 16, torch.Generator().manual_seed(0))
        loss, _ = gflownet_loss(cfg, log_z, trajs, score_trajectories(env, policy, trajs, backward), target, env)
        opt.zero_grad()
        loss.backward()
        opt.step()

    assert_all_parameters_change(holder, update, ignore=("log_z",) if algorithm == "soft_q" else ())


@pytest.mark.learning
def test_tb_with_maxent_backward_policy_learns_the_8x8_grid():
    runs = [train(override(PRESETS["quick"], env=EnvConfig(ndim=2, height=8), iterations=300, eval_every=300,
                           seed=seed)).summary for seed in (0, 1)]
    # 5 seeds, 300 iterations of batch 16: exact L1 0.073..0.105 (untrained: about 1.2), H(tau) 5.94..6.16.
    assert_learns_to_threshold([s["eval/l1"] for s in runs], 0.2, name="exact L1")


@pytest.mark.learning
def test_learned_path_counts_reach_small_error_on_8x8():
    env = HyperGrid(2, 8)
    graph = build_graph(env)
    torch.manual_seed(0)
    policy = GFlowNetPolicy(env.input_dim, env.n_actions, env.n_backward_actions, hidden=64)
    opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(1500):
        trajs = sample_trajectories(env, policy, 64, gen, epsilon=1.0)  # uniform exploration of the DAG
        scores = score_trajectories(env, policy, trajs, "maxent_learned")
        loss, _ = path_count_loss(scores.log_n, scores.log_pb_learned, trajs.lengths, "transition")
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        err = (policy(env.to_input(graph.states)).log_n.double() - env.log_n(graph.states))[1:].abs()
    # 5 seeds: mean |error of log n| 0.011..0.043, max 0.06..0.28 (log n ranges over 0..8.1).
    assert float(err.mean()) < 0.1 and float(err.max()) < 0.6


def test_path_counts_with_obstacles_equal_brute_force_enumeration():
    # where n(s) has no closed form, the environment's table (what log n is learned and scored against)
    # must count the s0 -> s paths that avoid blocked cells: enumerate them one by one
    env = make_env(EnvConfig(ndim=2, height=5, blocked=0.15, seed=1))
    blocked = {tuple(s.tolist()) for s in env.all_states()[env.blocked_cells]}
    assert blocked and env.has_obstacles

    def paths(cell):
        if cell in blocked:
            return 0
        if cell == (0, 0):
            return 1
        return sum(paths((*cell[:i], cell[i] - 1, *cell[i + 1:])) for i in range(2) if cell[i] > 0)

    states = env.all_states()
    counts = torch.tensor([float(paths(tuple(s.tolist()))) for s in states], dtype=torch.float64)
    torch.testing.assert_close(env.log_n(states), counts.log())


def test_learned_n_runs_and_learns_where_n_has_no_closed_form():
    cfg = override(TINY, backward="maxent_learned", env=EnvConfig(ndim=2, height=5, blocked=0.15, seed=1))
    s = train(cfg).summary
    # 5 seeds at 40 iterations: exact L1 0.50..0.71; after 1 iteration 0.77..0.91 (log n has not moved yet
    # at this size: its max error is 4.09..4.26 either way; tests/methods learn it on 8x8 below)
    assert s["eval/l1"] < 0.75 and math.isfinite(s["eval/log_n_error_max"])


@pytest.mark.parametrize("algorithm", ["soft_q"])  # the tiny preset (tb) is in the conformance suite
def test_a_killed_run_resumes_to_the_same_summary(tmp_path, algorithm):
    cfg = override(TINY, algorithm=algorithm, iterations=60, checkpoint_every=20, eval_every=20, log_every=10)
    whole = train(cfg, run_dir=RunDir.create("maxent_gfn", "tiny", 0, tmp_path / "a"))
    run = RunDir.create("maxent_gfn", "tiny", 0, tmp_path / "b")
    with pytest.raises(SimulatedKill):
        train(cfg, tracker=KillAtStep(50), run_dir=run)
    resumed = train(cfg, run_dir=run)
    assert_summaries_equal(resumed.summary, whole.summary)
    assert resumed.curve == whole.curve


def test_incompatible_choices_are_user_errors():
    with pytest.raises(AnthologyError, match="fixed backward policy"):
        train(override(TINY, algorithm="soft_q", backward="free"))
    with pytest.raises(AnthologyError, match="maxent_learned"):
        train(override(TINY, backward="maxent", env=EnvConfig(ndim=2, height=4, blocked=0.2)))


def test_gsql_puts_the_max_ent_rewards_telescoped_sum_on_the_exit():
    """Exact: along any trajectory the per-step rewards log P_B(s|s') = log n(s) - log n(s') of the max-ent
    P_B sum to -log n(x), which GSQL adds to the exit's log R(x) instead; both MDPs give every trajectory
    the same return, hence the same soft optimum."""
    env = make_env(EnvConfig(ndim=3, height=5))
    torch.manual_seed(0)
    policy = GFlowNetPolicy(env.input_dim, env.n_actions, env.n_backward_actions, 16, 1)
    trajs = sample_trajectories(env, policy, 64, torch.Generator().manual_seed(0))
    scores = score_trajectories(env, policy, trajs, "maxent")
    per_step = scores.log_pb.double().sum(0)  # exit and padding transitions carry 0
    torch.testing.assert_close(per_step, -env.log_n(trajs.terminal), rtol=0, atol=1e-5)


@pytest.mark.parametrize("reward", ["per_step", "gsql", "naive"])
def test_every_soft_q_reward_trains_and_gsql_needs_the_max_ent_backward_policy(reward):
    s = train(override(TINY, algorithm="soft_q", backward="maxent", soft_q_reward=reward)).summary
    assert s["soft_q_reward"] == reward and math.isfinite(s["eval/l1"])
    if reward == "gsql":
        with pytest.raises(AnthologyError, match="backward maxent"):
            train(override(TINY, algorithm="soft_q", backward="uniform", soft_q_reward="gsql"))


@pytest.mark.parametrize("reward", ["per_step", "gsql", "naive"])
def test_each_soft_q_reward_hands_the_loss_its_own_move_and_exit_rewards(reward, monkeypatch):
    train_module = importlib.import_module("anthology.methods.maxent_gfn.train")  # the package's `train` is the function
    cfg = override(TINY, algorithm="soft_q", backward="maxent", soft_q_reward=reward)
    env = make_env(cfg.env)
    torch.manual_seed(0)
    policy = GFlowNetPolicy(env.input_dim, env.n_actions, env.n_backward_actions, 16, 1)
    trajs = sample_trajectories(env, policy, 32, torch.Generator().manual_seed(0))
    scores = score_trajectories(env, policy, trajs, "maxent")
    seen = {}
    monkeypatch.setattr(train_module, "soft_q_loss", lambda *args, **kw: (seen.update(step=args[4], exit=args[5])
                                                                         or (torch.zeros(()), {})))
    gflownet_loss(cfg, torch.zeros(()), trajs, scores, policy, env)
    log_n = env.log_n(trajs.terminal).float()
    expected_step = scores.log_pb if reward == "per_step" else torch.zeros_like(scores.log_pb)
    expected_exit = trajs.log_reward.float() - (log_n if reward == "gsql" else 0.0)
    torch.testing.assert_close(seen["step"], expected_step)
    torch.testing.assert_close(seen["exit"], expected_exit)


def _judged_rows(rcfg, **changes):
    """A table on which every part of the judge holds on 3 seeds; `changes` maps (variant, metric) names
    joined by '/' to other per-seed values."""
    from anthology.core.claims import summarize
    from anthology.methods.maxent_gfn.reproduce import setting_of

    values = {
        "tb maxent/entropy": [10.5, 10.45, 10.55], "tb maxent/l1": [0.05, 0.06, 0.05],
        "tb maxent learned/entropy": [10.4, 10.45, 10.5], "tb maxent learned/l1": [0.06, 0.06, 0.05],
        "tb maxent learned/log_n_error_max": [0.2, 0.3, 0.1], "tb maxent learned/log_n_error_mean": [0.02] * 3,
        "tb uniform/entropy": [9.0, 9.05, 8.95], "tb uniform/l1": [0.05, 0.05, 0.06],
        "tb free/entropy": [8.5, 9.5, 9.0], "tb free/l1": [0.05, 0.05, 0.05],
        "soft-q per-step log P_B/l1": [0.05, 0.06, 0.07], "soft-q gsql/l1": [0.1, 0.2, 0.15],
        "soft-q naive/l1": [1.9, 1.9, 1.9], "soft-q naive/l1_to_naive_target": [0.1, 0.1, 0.1],
        "exact optimum, maxent P_B/entropy": [10.5], "exact optimum, uniform P_B/entropy": [9.0],
    } | changes
    setting = setting_of(rcfg.train.env)
    return [summarize(setting, *key.split("/"), v) for key, v in values.items()]


@pytest.mark.parametrize("broken", [
    None,
    "tb free/entropy",  # part 1: on one seed the free P_B's entropy above the max-ent's
    "tb maxent/l1",  # part 1: max-ent at more than 25% above the uniform's L1 on one seed
    "tb uniform/entropy",  # part 2: one seed 0.2 nats off its own optimum
    "tb maxent learned/log_n_error_max",  # part 3
    "soft-q gsql/l1",  # part 4
    "soft-q naive/l1_to_naive_target",  # part 5
])
def test_the_judge_fails_when_any_of_its_five_parts_fails_on_one_seed(broken):
    from anthology.methods.maxent_gfn.reproduce import judge

    rcfg = REPRODUCE_PRESETS["quick"]
    bad = {"tb free/entropy": [8.5, 10.5, 9.0], "tb maxent/l1": [0.05, 0.07, 0.05],
           "tb uniform/entropy": [9.0, 9.2, 8.95], "tb maxent learned/log_n_error_max": [0.2, 0.6, 0.1],
           "soft-q gsql/l1": [0.1, 0.4, 0.15], "soft-q naive/l1_to_naive_target": [0.1, 0.3, 0.1]}
    holds, evidence = judge(rcfg, _judged_rows(rcfg, **({broken: bad[broken]} if broken else {})))
    assert holds == (broken is None), evidence
    assert evidence.count("does not hold") == (broken is not None)


def test_exploration_runs_use_their_own_grid_and_are_reported_not_judged(tmp_path):
    from anthology.core.run_dir import RunDir
    from anthology.methods.maxent_gfn.config import EXPLORATION_GRID, EXPLORATION_VARIANTS
    from anthology.methods.maxent_gfn.reproduce import build_table, judge, make_jobs, setting_of

    rcfg = override(REPRODUCE_PRESETS["paper"], seeds=(0,), variants=("tb maxent",))
    jobs = make_jobs(rcfg, RunDir(tmp_path))
    assert [j.cfg.env for j in jobs] == [rcfg.train.env] + [EXPLORATION_GRID] * len(EXPLORATION_VARIANTS)
    summary = {"seed": 0, "eval/l1": 0.1, "eval/entropy": 5.0, "eval/modes_found": 3.0, "eval/log_z_error": 0.0,
               "eval/l1_to_naive_target": 1.0}
    rows = build_table(rcfg, [{"variant": j.variant, "summary": summary} for j in jobs], {
        "optimal_entropy_maxent": 10.5, "optimal_entropy_uniform": 9.0, "naive_target_l1": 1.9})
    explore = [r for r in rows if r.setting == setting_of(EXPLORATION_GRID)]
    assert {r.metric for r in explore} == {"l1", "entropy", "modes_found"} and len(explore) == 3 * len(EXPLORATION_VARIANTS)
    quick = REPRODUCE_PRESETS["quick"]
    assert quick.exploration == () and judge(quick, _judged_rows(quick) + explore)[0]


def test_fragment_trees_train_with_a_learned_n_and_report_distinct_modes(shared_data):
    """The sEH fragment-tree task end to end on a small library (4 blocks, at most 3: 175 trees)."""
    env_cfg = EnvConfig(kind="fragments", blocks=(4, 5, 12, 25), max_blocks=3)
    env = make_env(env_cfg)
    assert env.n_states == 175 and int(env.is_mode(env.all_states()).sum()) >= 1
    s = train(override(TINY, env=env_cfg, backward="maxent_learned", n_loss="termtb")).summary
    assert 1 <= s["eval/distinct_modes"] <= s["eval/modes_found"] <= s["n_modes"]
    assert math.isfinite(s["eval/log_n_error_max"]) and 0 <= s["eval/l1"] <= 2
    assert make_env(env_cfg).keys == env.keys  # the second call reads the cached tables


def test_the_fragment_judge_reads_every_part_per_seed():
    from anthology.core.claims import summarize
    from anthology.methods.maxent_gfn.reproduce import judge, setting_of

    rcfg = REPRODUCE_PRESETS["fragments"]
    setting = setting_of(rcfg.train.env)

    def rows(distinct_maxent):
        table = [summarize(setting, "exact optimum, maxent P_B", "entropy", [10.0]),
                 summarize(setting, "exact optimum, uniform P_B", "entropy", [9.0])]
        for name, h, distinct in (("tb maxent", 9.95, distinct_maxent), ("tb uniform", 8.95, [50, 50, 50]),
                                  ("tb maxent learned", 9.9, [50, 50, 50])):
            table += [summarize(setting, name, "entropy", [h] * 3), summarize(setting, name, "l1", [0.3] * 3),
                      summarize(setting, name, "distinct_modes", distinct),
                      summarize(setting, name, "distinct_modes_mean", distinct)]
        table += [summarize(setting, "tb maxent learned", "log_n_error_max", [0.2] * 3),
                  summarize(setting, "tb maxent learned", "log_n_error_mean", [0.05] * 3)]
        return table

    assert judge(rcfg, rows([60, 61, 62]))[0]
    holds, evidence = judge(rcfg, rows([60, 61, 49]))  # one seed where max-ent explores less
    assert not holds and "distinct modes" in evidence
