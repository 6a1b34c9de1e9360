import math

import pytest
import torch

from anthology.core.errors import AnthologyError
from anthology.envs.control_tasks import (
    CONTROL_TASKS,
    CreditAssignment,
    DoublePendulum,
    credit_final_reward,
    double_pendulum_energy,
    landscape,
    make_control_task,
    total_variation,
)


def _random_actions(task, batch, length, generator, dtype=torch.float64):
    low = torch.tensor(task.action_low, dtype=dtype)
    high = torch.tensor(task.action_high, dtype=dtype)
    return low + (high - low) * torch.rand(batch, length, task.action_dim, generator=generator, dtype=dtype)


@pytest.mark.parametrize("name", sorted(CONTROL_TASKS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rollout_shapes_and_dtype_for_every_task(name, dtype):
    task = make_control_task(name, horizon=7)
    actions = _random_actions(task, 3, 7, torch.Generator().manual_seed(0), dtype)
    states, rewards = task.rollout(task.initial_state(3, dtype=dtype), actions)
    assert states.shape == (3, 8, task.state_dim) and rewards.shape == (3, 7)
    assert states.dtype == rewards.dtype == dtype
    assert torch.isfinite(states).all() and torch.isfinite(rewards).all()
    assert len(task.action_low) == len(task.action_high) == task.action_dim


@pytest.mark.parametrize("name", sorted(CONTROL_TASKS))
def test_rollout_stays_on_the_inputs_device(name):
    # the meta device stands in for an accelerator: any tensor made on the CPU inside step or reward
    # and mixed with the state would raise here
    task = make_control_task(name, horizon=4)
    states, rewards = task.rollout(task.initial_state(2, device="meta"), torch.zeros(2, 4, task.action_dim, device="meta"))
    assert states.device.type == rewards.device.type == "meta"


def test_rollout_rejects_too_many_actions():
    task = DoublePendulum(horizon=3)
    with pytest.raises(ValueError, match="actions must be"):
        task.rollout(task.initial_state(1), torch.zeros(1, 4, 1))


@pytest.mark.parametrize("name", ["double_pendulum", "credit_assignment"])
def test_returns_pass_gradcheck_in_actions_and_initial_state(name):
    task = make_control_task(name, horizon=5)
    generator = torch.Generator().manual_seed(1)
    # first actions in [-0.3, 0.9]: away from the credit task's clip kink at a_0 = -0.5
    actions = (-0.3 + 1.2 * torch.rand(2, 5, 1, generator=generator, dtype=torch.float64)).requires_grad_()
    initial = task.initial_state(2, dtype=torch.float64)
    initial = (initial + 0.1 * torch.rand(initial.shape, generator=generator, dtype=torch.float64)).requires_grad_()

    def episode_return(s, a):
        return task.rollout(s, a)[1].sum(dim=1)

    assert torch.autograd.gradcheck(episode_return, (initial, actions))
    (grad,) = torch.autograd.grad(episode_return(initial, actions).sum(), actions)
    assert grad[:, 0].abs().min() > 1e-3  # the first action matters in both tasks, so the check is not vacuous


ENERGY_SCALE = (2 * 1.0 + 1.0) * 9.8 * 1.0  # (m1 + m2) g l1 + m2 g l2: the range of the potential energy / 2


def _passive_energy_drift(dt, steps):
    task = DoublePendulum(horizon=steps, dt=dt)
    first = torch.linspace(-1.0, 1.0, 9, dtype=torch.float64)
    actions = torch.zeros(9, steps, 1, dtype=torch.float64)
    actions[:, 0, 0] = first
    states, _ = task.rollout(task.initial_state(9, dtype=torch.float64), actions)
    energy = double_pendulum_energy(states[:, 1:])  # from s_2, after the first action placed the arm
    return (energy - energy[:, :1]).abs().max(dim=1).values


def test_rk4_double_pendulum_conserves_energy_to_fourth_order():
    coarse = _passive_energy_drift(0.05, 20)  # 1 s at the task's dt
    fine = _passive_energy_drift(0.025, 40)
    # Measured: worst drift 0.22 J (0.8% of the 29.4 J energy scale), from near-inverted starts (a = -0.75)
    # that move fastest; 1e-4 J near the bottom. RK4's error is O(dt^4), so halving dt divides the drift by
    # about 16 (measured 12 to 43 over the nine starts); a second-order scheme would give 4.
    assert coarse.max() < 0.02 * ENERGY_SCALE
    assert (coarse / fine).min() > 8.0


def test_double_pendulum_first_action_sets_theta1_and_later_actions_have_no_effect():
    task = DoublePendulum(horizon=6)
    actions = torch.tensor([[[0.4], [0.9], [-0.7], [0.2], [0.1], [-1.0]]], dtype=torch.float64, requires_grad=True)
    placed = task.initial_state(1, dtype=torch.float64)
    placed[0, 0] = 0.4 * math.pi
    states, rewards = task.rollout(task.initial_state(1, dtype=torch.float64), actions)
    assert torch.allclose(states[0, 1], task.step(placed, torch.zeros(1, 1, dtype=torch.float64), 1))
    (grad,) = torch.autograd.grad(rewards.sum(), actions)
    assert grad[0, 0, 0] != 0 and torch.equal(grad[0, 1:], torch.zeros(5, 1, dtype=torch.float64))
    assert torch.equal(rewards[0, :-1], torch.zeros(5, dtype=torch.float64))


def test_double_pendulum_return_is_zero_at_the_goal_action_and_negative_elsewhere():
    task = DoublePendulum(horizon=20)
    values = landscape(task, torch.tensor([task.goal_action, -0.5, 0.0, 0.9], dtype=torch.float64))
    assert values[0].abs() < 1e-20 and (values[1:] < -1e-3).all()


def test_double_pendulum_clamps_actions_to_its_bounds():
    task = DoublePendulum(horizon=5)
    values = landscape(task, torch.tensor([1.0, 3.0], dtype=torch.float64))
    assert values[0] == values[1]


def test_landscape_total_variation_grows_with_the_horizon():
    grid = torch.linspace(-1.0, 1.0, 2001, dtype=torch.float64)
    variation = {h: total_variation(landscape(DoublePendulum(horizon=h), grid)) for h in (10, 20, 40, 80)}
    # Measured here (and in the design notes' prototype: 63, 189, 362, 3743): 63.0, 188.8, 361.7, 3743.0
    assert variation[10] < variation[20] < variation[40] < variation[80]
    for h, expected in {10: 63.0, 20: 188.8, 40: 361.7, 80: 3743.0}.items():
        assert variation[h] == pytest.approx(expected, rel=1e-3)


def test_total_variation_of_a_hand_made_sequence():
    assert total_variation(torch.tensor([0.0, 2.0, -1.0, -1.0, 3.0])) == pytest.approx(2 + 3 + 0 + 4)


def test_credit_assignment_final_reward_peaks_at_a0_one_half_and_is_clipped_at_minus_ten():
    first = torch.linspace(-1.0, 1.0, 201, dtype=torch.float64)
    reward = credit_final_reward(first)
    assert first[reward.argmax()] == pytest.approx(0.5) and reward.max() == pytest.approx(10.0)
    assert reward.min() == -10.0 and reward[first < -0.5].eq(-10.0).all()


def test_credit_assignment_return_is_maximal_for_a0_one_half_then_matching_targets():
    task = CreditAssignment(horizon=20)
    best = torch.zeros(1, 20, 1, dtype=torch.float64)
    best[0, 0, 0] = 0.5  # the targets r_t are 0 with the official state_std = 0, so a_t = 0 afterwards
    initial = task.initial_state(1, dtype=torch.float64)
    best_return = task.rollout(initial, best)[1].sum()
    assert best_return == pytest.approx(10.0)
    others = _random_actions(task, 64, 20, torch.Generator().manual_seed(0))
    assert (task.rollout(initial.expand(64, -1), others)[1].sum(dim=1) < best_return).all()
    # the short-term reward pulls later actions to the target: -a^2 / L at each 0 < t < L - 1
    one_off = best.clone()
    one_off[0, 3, 0] = 0.5
    assert task.rollout(initial, one_off)[1].sum() == pytest.approx(10.0 - 0.25 / 20)


def test_credit_assignment_states_move_along_the_true_direction():
    task = CreditAssignment(horizon=8)
    actions = _random_actions(task, 1, 8, torch.Generator().manual_seed(2)).requires_grad_()
    states, _ = task.rollout(task.initial_state(1, dtype=torch.float64), actions)
    for t in range(1, 9):  # d s_t / d a_0 for every state after the first action
        jacobian = torch.stack([torch.autograd.grad(states[0, t, i], actions, retain_graph=True)[0][0, 0, 0]
                                for i in range(3)])
        assert torch.equal(jacobian, task.true_direction(torch.float64))
    assert torch.equal(states[0, :, 2], torch.arange(9, dtype=torch.float64))  # the step count


def test_credit_assignment_noise_is_off_by_default_and_reproducible_by_seed():
    actions = _random_actions(CreditAssignment(), 4, 20, torch.Generator().manual_seed(3))

    def run(task):
        return task.rollout(task.initial_state(4, dtype=torch.float64), actions)

    quiet_states, quiet_rewards = run(CreditAssignment())
    assert torch.equal(quiet_states[:, :, 1], torch.zeros(4, 21, dtype=torch.float64))
    noisy = CreditAssignment(reward_std=1.0, state_std=1.0, noise_seed=5)
    first = run(noisy)
    assert not torch.equal(first[1], quiet_rewards) and first[0][:, 1:, 1].std() > 0.5
    assert not torch.equal(run(noisy)[1], first[1])  # a fresh draw each episode
    noisy.reset_noise()
    assert torch.equal(run(noisy)[1], first[1])  # the same stream again from the seed
    again = run(CreditAssignment(reward_std=1.0, state_std=1.0, noise_seed=5))
    assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])


def test_credit_assignment_clamps_the_stored_action():
    task = CreditAssignment(horizon=3)
    states, _ = task.rollout(task.initial_state(1), torch.tensor([[[3.0], [0.0], [0.0]]]))
    assert states[0, 1:, 0].eq(1.0).all()


def test_unknown_task_name_is_a_user_error_listing_the_valid_names():
    with pytest.raises(AnthologyError, match="double_pendulum") as info:
        make_control_task("cancr", horizon=10)
    message = str(info.value)
    assert "\n" not in message and "Did you mean 'cancer'" in message
    assert all(name in message for name in CONTROL_TASKS)


def test_registry_builds_each_task_with_its_horizon_and_options():
    for name in CONTROL_TASKS:
        task = make_control_task(name, horizon=12)
        assert task.name == name and task.horizon == 12
    assert make_control_task("double_pendulum", horizon=5, goal_action=-0.2).goal_action == -0.2
