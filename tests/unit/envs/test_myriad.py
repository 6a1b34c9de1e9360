"""Myriad-style optimal-control problems: Euler dynamics, costs, clips, and their reference optima."""

import math

import pytest
import torch

from anthology.envs.control_tasks import make_control_task
from anthology.envs.myriad import (
    MYRIAD_SYSTEMS,
    CancerTreatment,
    HIVTreatment,
    PredatorPrey,
    costate_trajectory,
    episode_return,
    forward_backward_sweep,
    normalised_return,
    open_loop_optimum,
    physical_trajectory,
    reference_optimum,
    reference_returns,
)

WITH_SWEEP = sorted(name for name, cls in MYRIAD_SYSTEMS.items() if cls.has_control_characterisation)


def _uniform_controls(task, batch, generator):
    low = torch.tensor(task.action_low, dtype=torch.float64)
    high = torch.tensor(task.action_high, dtype=torch.float64)
    return low + (high - low) * torch.rand(batch, task.horizon, task.action_dim, generator=generator,
                                           dtype=torch.float64)


def _inside(task, states):
    x = states[..., : task.physical_dim]
    low = torch.tensor(task.state_low, dtype=x.dtype)
    high = torch.tensor(task.state_high, dtype=x.dtype)
    return bool((x >= low).all() & (x <= high).all())


def test_the_five_lenhart_systems_are_registered():
    assert sorted(MYRIAD_SYSTEMS) == ["bioreactor", "cancer", "glucose", "hiv", "predator_prey"]
    assert WITH_SWEEP == ["cancer", "glucose", "hiv"]
    task = make_control_task("cancer", horizon=50, duration=10.0)
    assert isinstance(task, CancerTreatment) and task.dt == pytest.approx(0.2)


# dt for the gradient check: the official one at L = 100, except predator-prey (1.0 there), whose pest
# is clipped to 0 within two steps at that dt (see its docstring); 0.05 keeps every clip inactive.
GRADCHECK_DT = {"cancer": 0.2, "bioreactor": 0.02, "predator_prey": 0.05, "glucose": 0.002, "hiv": 0.2}


@pytest.mark.parametrize("name", sorted(MYRIAD_SYSTEMS))
def test_returns_pass_gradcheck_in_actions_and_initial_state(name):
    task = make_control_task(name, horizon=5, duration=5 * GRADCHECK_DT[name])
    generator = torch.Generator().manual_seed(0)
    actions = _uniform_controls(task, 2, generator).requires_grad_()
    initial = task.initial_state(2, dtype=torch.float64)
    scale = torch.tensor(task.state_high, dtype=torch.float64) - torch.tensor(task.state_low, dtype=torch.float64)
    initial[:, : task.physical_dim] += 0.01 * scale * torch.rand(2, task.physical_dim, generator=generator,
                                                                 dtype=torch.float64)
    initial.requires_grad_()

    def returns(s, a):
        return task.rollout(s, a)[1].sum(dim=1)

    assert torch.autograd.gradcheck(returns, (initial, actions))
    states, _ = task.rollout(initial, actions)
    lows = torch.tensor(task.state_low, dtype=torch.float64)
    highs = torch.tensor(task.state_high, dtype=torch.float64)
    x = states[..., : task.physical_dim]
    assert ((x > lows) & (x < highs)).all()  # no clip active: the check covers the dynamics themselves
    (grad,) = torch.autograd.grad(returns(initial, actions).sum(), actions)
    assert (grad[:, :-1].abs() > 1e-8).all()


def test_cancer_euler_step_and_reward_match_hand_computed_values():
    task = CancerTreatment(horizon=100)  # dt = 20 / 100 = 0.2
    state, action = task.initial_state(1, dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64)
    # x' = 0.3 * 0.975 * ln(1 / 0.975) - 0.45 * 1 * 0.975 = 0.0074054588 - 0.43875 = -0.4313445412
    # x_1 = 0.975 + 0.2 * x' = 0.8887310918; reward = -(3 * 0.975^2 + 1^2) * 0.2 = -0.770375
    next_state = task.step(state, action, 0)
    assert next_state[0, 0].item() == pytest.approx(0.888731091767081, abs=1e-12)
    assert next_state[0, 1].item() == 1.0  # the step count
    assert task.reward(state, action, next_state, 0).item() == pytest.approx(-0.770375, abs=1e-12)


def test_the_time_feature_counts_steps_or_fractions():
    for as_fraction, expected in ((False, torch.arange(11.0)), (True, torch.arange(11.0) / 10)):
        task = make_control_task("glucose", horizon=10, time_as_fraction=as_fraction)
        states, _ = task.rollout(task.initial_state(2), torch.zeros(2, 10, 1))
        assert torch.allclose(states[:, :, -1], expected.expand(2, -1))


@pytest.mark.parametrize("name", sorted(MYRIAD_SYSTEMS))
def test_states_stay_inside_their_clip_bounds_under_extreme_controls(name):
    task = make_control_task(name, horizon=10)  # coarse steps (dt = T / 10) push the Euler map far out
    low = torch.tensor(task.action_low, dtype=torch.float64)
    high = torch.tensor(task.action_high, dtype=torch.float64)
    pattern = torch.stack([low, high] * 5)
    controls = torch.stack([low.expand(10, -1), high.expand(10, -1), pattern, pattern.flip(0)])
    controls = torch.cat([controls, _uniform_controls(task, 4, torch.Generator().manual_seed(1))])
    states, rewards = task.rollout(task.initial_state(8, dtype=torch.float64), controls)
    assert _inside(task, states) and torch.isfinite(rewards).all()


def test_without_the_clip_cancer_would_leave_its_bounds():
    task = CancerTreatment(horizon=10)  # dt = 2: one step at u = 2 overshoots below zero
    x = torch.tensor([[0.975]], dtype=torch.float64)
    assert (x + task.dt * task.dynamics(x, torch.tensor([[2.0]], dtype=torch.float64))).item() < 0
    states, _ = task.rollout(task.initial_state(1, dtype=torch.float64), torch.full((1, 10, 1), 2.0, dtype=torch.float64))
    assert states[0, 1, 0].item() == 1e-3  # held at the lower bound


def test_actions_are_clamped_into_the_control_bounds():
    task = make_control_task("hiv", horizon=50)
    inside = task.rollout(task.initial_state(1), torch.ones(1, 50, 1))
    outside = task.rollout(task.initial_state(1), torch.full((1, 50, 1), 3.0))
    assert torch.equal(inside[0], outside[0]) and torch.equal(inside[1], outside[1])


def test_predator_prey_terminal_cost_is_read_from_the_state_before_the_last_step():
    task = PredatorPrey(horizon=3, duration=0.3)
    controls = torch.tensor([[[0.2], [0.4], [0.6]]], dtype=torch.float64)
    states, rewards = task.rollout(task.initial_state(1, dtype=torch.float64), controls)
    assert rewards[0, :2].tolist() == pytest.approx([-0.5 * 0.2**2 * 0.1, -0.5 * 0.4**2 * 0.1])
    assert rewards[0, 2].item() == pytest.approx(-0.5 * 0.6**2 * 0.1 - states[0, 2, 0].item())


def test_predator_prey_is_degenerate_with_the_official_duration():
    # documented caveat: T = 100 and Euler at L = 100 wipe out the pest in two steps whatever the control
    task = PredatorPrey(horizon=100)
    controls = torch.cat([torch.zeros(1, 100, 1, dtype=torch.float64), torch.ones(1, 100, 1, dtype=torch.float64),
                          _uniform_controls(task, 6, torch.Generator().manual_seed(2))])
    states, _ = task.rollout(task.initial_state(8, dtype=torch.float64), controls)
    assert states[:, 3:, 0].eq(0.0).all()
    actions, best = reference_optimum(task)
    assert best == 0.0 and actions.eq(0.0).all()


@pytest.mark.parametrize("name", WITH_SWEEP)
def test_hand_derived_costate_is_minus_the_autograd_gradient_of_the_return(name):
    task = make_control_task(name, horizon=60)
    controls = _uniform_controls(task, 1, torch.Generator().manual_seed(3))[0]
    states = physical_trajectory(task, controls)
    costates = costate_trajectory(task, states, controls)
    initial = task.initial_state(1, dtype=torch.float64).requires_grad_()
    rollout_states, rewards = task.rollout(initial, controls[None])
    assert torch.allclose(rollout_states[0, :, : task.physical_dim], states)  # the clip is inactive
    (grad,) = torch.autograd.grad(rewards.sum(), initial)
    assert torch.allclose(costates[0], -grad[0, : task.physical_dim], rtol=1e-10, atol=1e-12)


def test_pontryagin_optimum_for_cancer_matches_scipy_open_loop_optimum():
    task = CancerTreatment(horizon=40)
    sweep = forward_backward_sweep(task)
    actions, best = open_loop_optimum(task)
    # Both solve the same discrete first-order conditions; measured gap 1.7e-10 in the controls (L-BFGS-B
    # stops at a projected gradient of 1e-10) and 0 in the return. A wrong sign in the costate moves the
    # controls by O(1).
    assert sweep.converged and sweep.iterations < 200
    assert (sweep.actions - actions).abs().max() < 1e-6
    assert sweep.ret == pytest.approx(best, rel=1e-9)
    assert sweep.actions.max() > 0.5 and sweep.actions[-1].item() == 0.0  # treats, then stops at the end


@pytest.mark.learning
@pytest.mark.parametrize("name", WITH_SWEEP)
def test_pontryagin_optimum_matches_scipy_at_the_official_horizon(name):
    task = make_control_task(name, horizon=100)
    sweep = forward_backward_sweep(task)
    actions, best = open_loop_optimum(task)
    # measured at L = 100: control gaps 2.9e-9 (cancer), 4.7e-12 (glucose), 1.6e-8 (hiv); returns equal
    # to 1e-15 relative; 0.3 s, 0.3 s and 1.2 s for the sweeps
    assert sweep.converged
    assert (sweep.actions - actions).abs().max() < 1e-6 * (task.action_high[0] - task.action_low[0])
    assert sweep.ret == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("name", ["cancer", "glucose", "bioreactor", "predator_prey"])
def test_reference_optimum_beats_zero_and_random_controls(name):
    task = make_control_task(name, horizon=20)
    actions, best = reference_optimum(task)
    assert actions.shape == (20, 1) and best == pytest.approx(float(episode_return(task, actions)))
    zero = float(episode_return(task, torch.zeros(20, 1, dtype=torch.float64)))
    randoms = episode_return(task, _uniform_controls(task, 256, torch.Generator().manual_seed(4)))
    assert best >= zero and (best > randoms).all()
    # measured gaps over u = 0 at L = 20: cancer 39.9 (-19.6 vs -59.5); glucose 0.26 (insulin is capped at
    # 0.01, so it moves the glucose little); bioreactor 2.5e-5 (the costate sits at the switching value, so
    # zero nutrient is all but optimal); predator-prey 0 (degenerate, see its docstring)
    assert best - zero > {"cancer": 30.0, "glucose": 0.2, "bioreactor": 0.0, "predator_prey": -1e-12}[name]


@pytest.mark.learning
def test_hiv_reference_optimum_beats_zero_and_random_therapy():
    task = HIVTreatment(horizon=50)
    _, best = reference_optimum(task)
    zero = float(episode_return(task, torch.zeros(50, 1, dtype=torch.float64)))
    randoms = episode_return(task, _uniform_controls(task, 256, torch.Generator().manual_seed(5)))
    assert best > zero + 10.0 and (best > randoms).all()  # measured 823.4 against 811.3 (full therapy)


def test_normalised_return_is_one_at_the_optimum_and_zero_at_the_baselines():
    task = CancerTreatment(horizon=20)
    refs = reference_returns(task)
    assert refs.zero < refs.random < refs.optimum
    assert normalised_return(task, refs.optimum) == pytest.approx(1.0)
    assert normalised_return(task, refs.random) == pytest.approx(0.0)
    assert normalised_return(task, refs.zero, baseline="zero") == pytest.approx(0.0)
    scores = normalised_return(task, torch.tensor([refs.random, refs.optimum], dtype=torch.float64))
    assert torch.allclose(scores, torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert task.normalised_return(refs.optimum) == pytest.approx(1.0)  # the same, as a method
    with pytest.raises(ValueError, match="baseline"):
        normalised_return(task, 0.0, baseline="best")


def test_reference_optimum_falls_back_to_scipy_when_the_sweep_does_not_converge(monkeypatch):
    from anthology.envs import myriad

    task = CancerTreatment(horizon=20)
    exact = forward_backward_sweep(task)
    stalled = forward_backward_sweep(task, max_iterations=2)
    assert not stalled.converged and stalled.ret < exact.ret - 0.5  # measured gap 0.81
    monkeypatch.setattr(myriad, "forward_backward_sweep", lambda task: stalled)
    actions, best = reference_optimum(task)
    assert best == pytest.approx(exact.ret, rel=1e-9) and (actions - exact.actions).abs().max() < 1e-6


def test_a_diverging_sweep_falls_back_to_a_finite_scipy_optimum():
    # cancer at L = 10 (Euler steps of 2 time units): the sweep diverges to NaN; scipy from its default
    # start still finds the optimum of the discrete problem (-15.47 on 2026-12-01)
    task = make_control_task("cancer", 10)
    assert not forward_backward_sweep(task).converged
    actions, value = reference_optimum(task)
    assert math.isfinite(value) and torch.isfinite(actions).all()
    references = reference_returns(task)
    assert references.optimum > references.random > references.zero
