"""Actions World Models: gradient paths, the Markov/RNN equivalence, BPO's pieces, learning, resume, CLI."""

import dataclasses

import pytest
import torch
from torch import nn

from anthology.core.config import override
from anthology.envs.control_tasks import make_control_task
from anthology.methods.awm import METHOD, PRESETS, REPRODUCE_PRESETS
from anthology.methods.awm.config import ARMS
from anthology.methods.awm.episodes import collect_episode
from anthology.methods.awm.losses import (
    Episodes,
    Simulator,
    bpo_loss,
    gradient_agreement,
    open_loop_return,
    policy_gradient,
    svg_policy_loss,
    world_model_loss,
)
from anthology.methods.awm.networks import (
    MarkovCore,
    MarkovModel,
    SequenceWorldModel,
    make_policy,
    make_world_model,
)
from anthology.methods.awm.reproduce import build_table, judge
from anthology.testing import conformance


def _model(core, inputs, state_dim=3, action_dim=2, horizon=6):
    torch.manual_seed(0)
    return SequenceWorldModel(state_dim, action_dim, horizon, core, inputs, width=12, layers=2, heads=3,
                              dropout=0.0, decoder_hidden=(16,)).eval()


def _last_state_jacobian_wrt_first_action(model, s1, actions, detach_fed_states):
    actions = actions.clone().requires_grad_(True)
    state, memory = s1, model.start(s1)
    for t in range(actions.shape[1]):
        fed = state.detach() if detach_fed_states else state
        state, memory = model.step(memory, actions[:, t], fed)
    (grad,) = torch.autograd.grad(state.sum(), actions)
    return grad[:, 0]


@pytest.mark.parametrize("core", ["gpt", "lstm", "rnn"])
def test_detaching_the_fed_back_predictions_leaves_an_awm_gradient_unchanged_but_not_a_history_models(core):
    s1, actions = torch.randn(2, 3), torch.randn(2, 6, 2)
    awm = _model(core, "actions")
    kept = _last_state_jacobian_wrt_first_action(awm, s1, actions, False)
    cut = _last_state_jacobian_wrt_first_action(awm, s1, actions, True)
    assert torch.equal(kept, cut) and kept.abs().sum() > 0
    history = _model(core, "history")
    kept = _last_state_jacobian_wrt_first_action(history, s1, actions, False)
    cut = _last_state_jacobian_wrt_first_action(history, s1, actions, True)
    assert (kept - cut).norm() > 1e-3 * kept.norm()  # (1.5 % to 300 % at init) its path from a_1 runs through the intermediate ŝ


class _Pad(nn.Module):
    def __init__(self, before, after):
        super().__init__()
        self.before, self.after = before, after

    def forward(self, x):
        return torch.nn.functional.pad(x, (self.before, self.after))


def test_an_unrolled_markov_model_and_the_equivalent_rnn_awm_give_the_same_gradients():
    torch.manual_seed(1)
    markov = MarkovModel(3, 2, hidden=(16,))
    rnn_awm = _model("rnn", "actions")
    # an RNN AWM whose carry is the state: tokens [s_1, 0] then [0, a_t], the cell is the Markov step
    rnn_awm.core = MarkovCore(markov.net, state_dim=3)
    rnn_awm.embed_state = _Pad(0, 2)
    rnn_awm.embed_token = _Pad(3, 0)
    rnn_awm.decoder = nn.Identity()
    s1 = torch.randn(4, 3, requires_grad=True)
    actions = torch.randn(4, 6, 2, requires_grad=True)
    weights = torch.randn(4, 6, 3)
    grads = []
    for predicted in (markov.unroll(s1, actions), rnn_awm.predict(s1, actions)):
        grads.append(torch.autograd.grad((predicted * weights).sum(), [s1, actions, *markov.parameters()]))
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("method", ["awm", "history", "markov"])
def test_the_one_pass_prediction_equals_imagining_with_the_real_states_fed(method):
    task = make_control_task("cancer", 8)
    cfg = override(PRESETS["tiny"], task="cancer", horizon=8, method=method)
    torch.manual_seed(0)
    model = make_world_model(cfg, task).eval()
    episodes, _ = collect_episode(task, None, torch.Generator().manual_seed(0), count=3)
    whole = model.predict(episodes.states[:, 0], episodes.actions, episodes.states[:, :-1])
    memory, steps = model.start(episodes.states[:, 0]), []
    for t in range(8):
        predicted, memory = model.step(memory, episodes.actions[:, t], episodes.states[:, t])
        steps.append(predicted)
    assert torch.allclose(whole, torch.stack(steps, 1), atol=1e-5)


@pytest.mark.parametrize("name", ["cancer", "credit_assignment"])
def test_the_clock_entry_is_carried_exactly_not_predicted(name):
    task = make_control_task(name, 10)
    model = make_world_model(override(PRESETS["tiny"], task=name, horizon=10), task).eval()
    episodes, _ = collect_episode(task, None, torch.Generator().manual_seed(0), count=2)
    predicted = model.predict(episodes.states[:, 0], episodes.actions)
    assert torch.allclose(predicted[..., -1], episodes.states[:, 1:, -1], atol=1e-6)


def test_world_model_loss_is_zero_for_the_simulator_itself():
    task = make_control_task("cancer", 6)
    episodes, _ = collect_episode(task, None, torch.Generator().manual_seed(0), count=4)

    class Exact(nn.Module):
        def predict(self, s1, actions, states):
            return torch.stack([task.step(states[:, t], actions[:, t], t) for t in range(actions.shape[1])], 1)

    loss, _ = world_model_loss(Exact(), episodes)
    assert loss.item() < 1e-12
    noisy = Episodes(episodes.states + 0.1, episodes.actions)
    assert world_model_loss(Exact(), noisy)[0].item() > 1e-4


def test_the_simulator_open_loop_return_is_the_tasks_rollout_return():
    task = make_control_task("cancer", 12)
    actions = torch.rand(3, 12, 1, generator=torch.Generator().manual_seed(0)) * 2
    s1 = task.initial_state(3)
    _, rewards = task.rollout(s1, actions)
    assert torch.allclose(open_loop_return(Simulator(task), task, s1, actions), rewards.sum(1), atol=1e-5)


def test_the_simulators_policy_gradient_agrees_with_itself_and_not_with_its_negative():
    task = make_control_task("cancer", 10)
    policy = make_policy(PRESETS["tiny"], task)
    s1 = task.initial_state(4)
    g, _ = policy_gradient(policy, Simulator(task), task, s1, 0.1, seed=3)
    again, _ = policy_gradient(policy, Simulator(task), task, s1, 0.1, seed=3)
    assert gradient_agreement(g, again)["train/grad_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert gradient_agreement(g, -g)["train/grad_cosine"] == pytest.approx(-1.0, abs=1e-6)
    assert gradient_agreement(g, again)["train/grad_l2_error"] == pytest.approx(0.0, abs=1e-6)


def test_the_judge_needs_every_seed():
    rcfg = dataclasses.replace(REPRODUCE_PRESETS["tiny"], seeds=(0, 1, 2),
                               tasks=(("double_pendulum", (10,), "first_action"),))

    def results(awm, sim):
        out = []
        for name, values in (("awm (transformer)", awm), ("simulator bptt", sim)):
            for seed, v in enumerate(values):
                out.append({"variant": name, "curve": None,
                            "summary": {"task": "double_pendulum", "horizon": 10, "seed": seed, "eval/return": v}})
        return out

    holds, evidence = judge(rcfg, build_table(rcfg, results([-1.0, -2.0, -0.5], [-3.0, -2.5, -1.0])))
    assert holds and "wins on every seed" in evidence
    holds, _ = judge(rcfg, build_table(rcfg, results([-1.0, -2.0, -0.5], [-3.0, -1.5, -1.0])))
    assert not holds


def test_the_arms_are_the_papers_comparison():
    assert {m for _, m, _ in ARMS} == {"awm", "history", "markov", "simulator", "sac"}
    assert ("awm (transformer)", "awm", "gpt") in ARMS


def _credit_direction_cosines(seed, steps=300):
    """Train a tiny transformer AWM on random credit-assignment episodes (L = 20) and return, for every
    t, cos(d ŝ_t / d a_1, the true direction [1, 0, 0])."""
    task = make_control_task("credit_assignment", 20)
    torch.manual_seed(seed)
    model = SequenceWorldModel(3, 1, 20, "gpt", "actions", width=32, layers=1, heads=2, dropout=0.0,
                               decoder_hidden=(32,), time_increment=1.0)  # the step count is carried
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    episodes, _ = collect_episode(task, None, torch.Generator().manual_seed(seed), count=256)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        index = torch.randint(256, (64,), generator=generator)
        loss, _ = world_model_loss(model, Episodes(episodes.states[index], episodes.actions[index]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    actions = episodes.actions[:32].clone().requires_grad_(True)
    predicted = model.predict(episodes.states[:32, 0], actions)  # [32, 20, 3]
    cosines = []
    for t in range(20):
        jacobian = torch.stack([torch.autograd.grad(predicted[:, t, i].sum(), actions, retain_graph=True)[0][:, 0, 0]
                                for i in range(3)], dim=-1)  # [32, 3]: d ŝ_{t+1} / d a_1 per episode
        cosines.append(torch.nn.functional.cosine_similarity(jacobian, task.true_direction()[None], dim=-1).mean())
    return torch.stack(cosines)


@pytest.mark.learning
def test_a_tiny_awm_learns_the_credit_assignment_direction():
    # seeds 0-4, 300 steps: the smallest cosine over t was 0.9956-0.9984 (the bar is the 0.9);
    # the untrained model gives -0.77 on seed 0, 30 steps 0.81
    assert _credit_direction_cosines(0).min() > 0.9


@pytest.mark.parametrize("changes", [{"method": "sac"}, {"method": "svg"}, {"schedule": "first_action", "task": "double_pendulum",
                                                         "offline_episodes": 64, "model_steps": 12, "starts": 4,
                                                         "action_steps": 5, "checkpoint_every": 4}])
def test_the_other_arms_are_deterministic_and_resume_after_a_kill(changes, tmp_path):
    # the conformance suite runs the tiny preset (the online AWM); these are SAC, SVG and the first-action schedule
    spec = dataclasses.replace(METHOD, presets={**METHOD.presets, "tiny": override(PRESETS["tiny"], **changes)})
    conformance.check_deterministic(spec)
    conformance.check_kill_and_resume(spec, tmp_path)
    conformance.check_every_trainable_parameter_changes(spec)


def test_svg_unrolled_over_the_whole_episode_with_the_true_dynamics_is_bpo_through_the_simulator():
    task = make_control_task("cancer", 6)
    policy = make_policy(PRESETS["tiny"], task)
    s1 = task.initial_state(5)

    def exact(state, action):  # the simulator's step, its time index read from the state's clock
        return task.step(state, action, int(state[0, -1]))

    svg, _ = svg_policy_loss(policy, exact, None, task, s1, 0, unroll=6, gamma=1.0, bp_discount=1.0,
                             entropy_coef=0.1, generator=torch.Generator().manual_seed(0))
    bpo, _ = bpo_loss(policy, Simulator(task), task, s1, 0.1, torch.Generator().manual_seed(0))
    assert torch.allclose(svg, bpo, atol=1e-5)
    params = list(policy.parameters())
    g_svg = torch.autograd.grad(svg_policy_loss(policy, exact, None, task, s1, 0, 6, 1.0, 1.0, 0.1,
                                                torch.Generator().manual_seed(0))[0], params)
    g_bpo = torch.autograd.grad(bpo_loss(policy, Simulator(task), task, s1, 0.1, torch.Generator().manual_seed(0))[0],
                                params)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(g_svg, g_bpo, strict=True))
    # a backprop discount below 1 changes the gradient, not the value
    damped, _ = svg_policy_loss(policy, exact, None, task, s1, 0, 6, 1.0, 0.5, 0.1, torch.Generator().manual_seed(0))
    assert torch.allclose(damped, bpo, atol=1e-5)
