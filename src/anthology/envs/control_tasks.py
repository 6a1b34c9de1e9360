"""Differentiable, batched torch simulators with a known reward, for policy optimisation through a model.

These are the tasks of Actions World Models (AWM; Ma, Ni, Gehring, D'Oro and Bacon, "Do Transformer World
Models Give Better Policy Gradients?", ICML 2024), rebuilt in torch from a reading of the official JAX/Brax
code (`micklethepickle/action-conditioned-world-models`: `src/brax/custom_envs/double_pendulum.py`,
`src/brax/custom_envs/toy_ca.py`, `configs/envs/{double_pend_default,toy_ca_default,exp4_toy_ca}.py`).
Every task is a deterministic map from (state, action, t) to the next state, differentiable in both, and a
reward that the agent is told (the paper's BPO loss uses the known reward on imagined states). States are
`[B, S]`, actions `[B, A]` in the task's own bounds (clamped in `step`), and `rollout` unrolls a whole
episode in one batched, differentiable pass. The Myriad optimal-control problems live in `myriad.py`.

- `DoublePendulum`: the paper's chaotic landscape task. The first action sets the first arm's angle, the
  system then swings passively (RK4), and the only reward is the negative mean squared distance between the
  final state and the one reached from `goal_action`. `landscape` gives the true return J(a) over a grid of
  first actions and `total_variation` its roughness, which grows quickly with the horizon.
- `CreditAssignment`: the toy credit-assignment task: the first action is written into the state and scored
  only at the last step; the steps in between carry a small distracting reward.

Differences from the official code are listed in each class's docstring.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from anthology.core.errors import UnknownNameError
from anthology.envs import myriad
from anthology.envs.control_interface import ControlTask

# ---- chaotic double pendulum ------------------------------------------------------------------------

GRAVITY = 9.8  # m/s^2, as in the official double_pendulum.py (the matplotlib double-pendulum example)
ARM_LENGTH_1 = ARM_LENGTH_2 = 1.0  # m
MASS_1 = MASS_2 = 1.0  # kg


def double_pendulum_derivatives(state: Tensor) -> Tensor:
    """d/dt [theta1, omega1, theta2, omega2] for two point masses on rigid massless arms, angles measured
    from the downward vertical: [..., 4] -> [..., 4].

    With delta = theta2 - theta1 and den = (m1 + m2) l1 - m2 l1 cos^2(delta):
      omega1' = (m2 l1 w1^2 sin(d) cos(d) + m2 g sin(th2) cos(d) + m2 l2 w2^2 sin(d) - (m1 + m2) g sin(th1)) / den
      omega2' = (-m2 l2 w2^2 sin(d) cos(d) + (m1 + m2) (g sin(th1) cos(d) - l1 w1^2 sin(d) - g sin(th2)))
                / ((l2 / l1) den)
    """
    theta1, omega1, theta2, omega2 = state.unbind(-1)
    delta = theta2 - theta1
    sin_d, cos_d = torch.sin(delta), torch.cos(delta)
    m12 = MASS_1 + MASS_2
    den1 = m12 * ARM_LENGTH_1 - MASS_2 * ARM_LENGTH_1 * cos_d * cos_d
    domega1 = (MASS_2 * ARM_LENGTH_1 * omega1 * omega1 * sin_d * cos_d
               + MASS_2 * GRAVITY * torch.sin(theta2) * cos_d
               + MASS_2 * ARM_LENGTH_2 * omega2 * omega2 * sin_d
               - m12 * GRAVITY * torch.sin(theta1)) / den1
    den2 = (ARM_LENGTH_2 / ARM_LENGTH_1) * den1
    domega2 = (-MASS_2 * ARM_LENGTH_2 * omega2 * omega2 * sin_d * cos_d
               + m12 * GRAVITY * torch.sin(theta1) * cos_d
               - m12 * ARM_LENGTH_1 * omega1 * omega1 * sin_d
               - m12 * GRAVITY * torch.sin(theta2)) / den2
    return torch.stack([omega1, domega1, omega2, domega2], dim=-1)


def double_pendulum_energy(state: Tensor) -> Tensor:
    """Total mechanical energy E = T + V of [..., 4] states: [...]. Conserved by the passive dynamics.

    T = (m1 + m2) l1^2 w1^2 / 2 + m2 l2^2 w2^2 / 2 + m2 l1 l2 w1 w2 cos(th1 - th2);
    V = -(m1 + m2) g l1 cos(th1) - m2 g l2 cos(th2).
    """
    theta1, omega1, theta2, omega2 = state.unbind(-1)
    kinetic = (0.5 * (MASS_1 + MASS_2) * ARM_LENGTH_1**2 * omega1**2 + 0.5 * MASS_2 * ARM_LENGTH_2**2 * omega2**2
               + MASS_2 * ARM_LENGTH_1 * ARM_LENGTH_2 * omega1 * omega2 * torch.cos(theta1 - theta2))
    potential = (-(MASS_1 + MASS_2) * GRAVITY * ARM_LENGTH_1 * torch.cos(theta1)
                 - MASS_2 * GRAVITY * ARM_LENGTH_2 * torch.cos(theta2))
    return kinetic + potential


def rk4_step(derivatives: Callable[[Tensor], Tensor], state: Tensor, dt: float) -> Tensor:
    """One classical Runge-Kutta step of size dt for an autonomous ODE s' = f(s)."""
    k1 = derivatives(state)
    k2 = derivatives(state + 0.5 * dt * k1)
    k3 = derivatives(state + 0.5 * dt * k2)
    k4 = derivatives(state + dt * k3)
    return state + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


@dataclasses.dataclass(frozen=True)
class DoublePendulum(ControlTask):
    """The chaotic double pendulum with one effective action and a reward at the horizon.

    State [theta1, omega1, theta2, omega2]; s_1 = [0, 0, initial_theta2, 0]. At t = 0 the action a in [-1, 1]
    sets theta1 = a * action_scale (the other three components are kept), then every step, t = 0 included,
    advances the passive dynamics by one RK4 step of `dt`; actions after the first are ignored (zero
    gradient). So s_{L+1} is L RK4 steps from [a pi, 0, 0.5, 0]. The reward is 0 except at the last step,
    r_{L-1} = -mean((s_{L+1} - g)^2) over the 4 components, where g is the s_{L+1} reached from
    a = `goal_action`: J(a) = -MSE(s_{L+1}(a), s_{L+1}(goal_action)), maximal (0) at the goal action.

    This is the setting of the design notes' prototype (their total variations 63, 189, 362, 3743 for
    L = 10, 20, 40, 80 are reproduced to 0.1 by `landscape` on a 2001-point grid). The official code
    differs in ways that do not change the task's nature: it scales the action by 180 and feeds that to
    sin/cos as radians (so a in [-1, 1] wraps theta1 round about 57 times), sets theta2 from a second
    goal-action component times 180, integrates with an adaptive `odeint` (L - 2 steps of dt before the
    rewarded state), shows the goal state as the first observation and appends the step count to the
    observation. Set `action_scale=180.0` for the official scaling.
    """

    horizon: int = 10
    goal_action: float = 0.3
    initial_theta2: float = 0.5
    action_scale: float = math.pi
    dt: float = 0.05
    _goal: tuple[float, ...] = dataclasses.field(init=False, repr=False, compare=False)

    name = "double_pendulum"
    state_dim = 4
    action_dim = 1
    action_low = (-1.0,)
    action_high = (1.0,)

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")
        start = self.initial_state(1, dtype=torch.float64)
        state = self.step(start, torch.tensor([[self.goal_action]], dtype=torch.float64), 0)
        for t in range(1, self.horizon):
            state = self.step(state, torch.zeros(1, 1, dtype=torch.float64), t)
        object.__setattr__(self, "_goal", tuple(state[0].tolist()))

    @property
    def goal_state(self) -> Tensor:
        """g = s_{L+1} reached from the goal action (float64): [4]."""
        return torch.tensor(self._goal, dtype=torch.float64)

    def initial_state(self, batch: int, generator: torch.Generator | None = None,
                      dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
        state = torch.zeros(batch, 4, dtype=dtype, device=device)
        state[:, 2] = self.initial_theta2
        return state

    def step(self, state: Tensor, action: Tensor, t: int) -> Tensor:
        if t == 0:  # the first action places the first arm; the rest of the state is kept
            theta1 = self.clamp_action(action)[:, 0] * self.action_scale
            state = torch.cat([theta1[:, None], state[:, 1:]], dim=1)
        return rk4_step(double_pendulum_derivatives, state, self.dt)

    def reward(self, state: Tensor, action: Tensor, next_state: Tensor, t: int) -> Tensor:
        if t != self.horizon - 1:
            return next_state.new_zeros(next_state.shape[0])
        goal = self.goal_state.to(dtype=next_state.dtype, device=next_state.device)
        return -((next_state - goal) ** 2).mean(dim=-1)


def landscape(task: DoublePendulum, actions_grid: Tensor) -> Tensor:
    """The true return J(a) = sum_t r_t of the double pendulum for each first action a: [N] -> [N].

    Later actions are zero (they have no effect). Differentiable in `actions_grid`; works in its dtype and
    on its device.
    """
    n = actions_grid.shape[0]
    actions = actions_grid.new_zeros(n, task.horizon, 1)
    actions[:, 0, 0] = actions_grid
    initial = task.initial_state(n, dtype=actions_grid.dtype, device=actions_grid.device)
    _, rewards = task.rollout(initial, actions)
    return rewards.sum(dim=1)


def total_variation(values: Tensor) -> float:
    """sum_i |v_{i+1} - v_i| of a 1-D sequence: how much a landscape goes up and down."""
    return float(values.diff().abs().sum())


# ---- toy credit assignment --------------------------------------------------------------------------

CREDIT_GOAL_ACTION = 0.5


def credit_final_reward(first_action: Tensor) -> Tensor:
    """clip(-20 (a_0 - 0.5)^2 + 10, min=-10): 10 at a_0 = 0.5, -10 for |a_0 - 0.5| >= 1."""
    return torch.clamp(-20.0 * (first_action - CREDIT_GOAL_ACTION) ** 2 + 10.0, min=-10.0)


@dataclasses.dataclass(frozen=True)
class CreditAssignment(ControlTask):
    """The toy credit-assignment task (official `toy_ca.py` with the `toy_ca_default`/`exp4_toy_ca` configs).

    State [saved_action, r_t, step_count]; s_1 = 0. At t = 0 the action is written into saved_action and
    kept there; r_{t+1} = state_std * N(0, 1) is a fresh target each step (0 with the default
    state_std = 0); the step count goes up by one. Rewards (a in [-1, 1]):
      t = 0:           0
      0 < t < L - 1:   distracted * (-(r_t - a_t)^2 / L + reward_std * N(0, 1))   (short-term, distracting)
      t = L - 1:       clip(-20 (saved_action - 0.5)^2 + 10, min=-10)             (read from s_t)
    so the return's maximum is at a_0 = 0.5 and a_t = r_t afterwards, and d s_t / d a_0 = [1, 0, 0] for
    every t >= 1 (`true_direction`). The defaults are the official configuration: the distracting reward is
    on (-a_t^2 / L, since r_t = 0) and both noises are off. With noise, draws come from this task's own
    CPU generator seeded by `noise_seed` (reset with `reset_noise`), so a rebuilt task repeats its noise.
    Left out: the optional two-component phase indicator (`do_add_phase`, off in the configs) and the
    final phase longer than one step (`final_phase_ratio`, 0 in the configs).
    """

    horizon: int = 20
    distracted: bool = True
    reward_std: float = 0.0
    state_std: float = 0.0
    noise_seed: int = 0
    _generator: torch.Generator = dataclasses.field(init=False, repr=False, compare=False)

    name = "credit_assignment"
    state_dim = 3
    action_dim = 1
    action_low = (-1.0,)
    action_high = (1.0,)

    def __post_init__(self) -> None:
        if self.horizon < 2:
            raise ValueError(f"horizon must be >= 2 (the first action is scored at the last step), got {self.horizon}")
        object.__setattr__(self, "_generator", torch.Generator().manual_seed(self.noise_seed))

    def reset_noise(self, seed: int | None = None) -> None:
        """Restart the noise stream (at `noise_seed`, or at `seed`)."""
        self._generator.manual_seed(self.noise_seed if seed is None else seed)

    def _normal(self, like: Tensor) -> Tensor:
        noise = torch.randn(like.shape, generator=self._generator, dtype=torch.float64)
        return noise.to(dtype=like.dtype, device=like.device)

    def true_direction(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """d s_t / d a_0 for every t >= 1: [1, 0, 0]."""
        return torch.tensor([1.0, 0.0, 0.0], dtype=dtype)

    def time_feature(self, t: int) -> float:
        """The clock (the state's last entry) before step t: the step count."""
        return float(t)

    def initial_state(self, batch: int, generator: torch.Generator | None = None,
                      dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
        return torch.zeros(batch, 3, dtype=dtype, device=device)

    def step(self, state: Tensor, action: Tensor, t: int) -> Tensor:
        saved = self.clamp_action(action)[:, 0] if t == 0 else state[:, 0]
        target = state.new_zeros(state.shape[0])
        if self.state_std > 0:
            target = self.state_std * self._normal(target)
        return torch.stack([saved, target, state[:, 2] + 1.0], dim=1)

    def reward(self, state: Tensor, action: Tensor, next_state: Tensor, t: int) -> Tensor:
        if t >= self.horizon - 1:
            return credit_final_reward(state[:, 0])
        if t == 0 or not self.distracted:
            return state.new_zeros(state.shape[0])
        short_term = -((state[:, 1] - self.clamp_action(action)[:, 0]) ** 2) / self.horizon
        if self.reward_std > 0:
            short_term = short_term + self.reward_std * self._normal(short_term)
        return short_term


# ---- registry -----------------------------------------------------------------------------------------

CONTROL_TASKS: dict[str, Callable[..., ControlTask]] = {
    "double_pendulum": DoublePendulum,
    "credit_assignment": CreditAssignment,
    **myriad.MYRIAD_SYSTEMS,
}


def make_control_task(name: str, horizon: int, **kwargs: Any) -> ControlTask:
    """Build a task by name with `horizon` actions per episode; `kwargs` go to its constructor."""
    if name not in CONTROL_TASKS:
        raise UnknownNameError("control task", name, CONTROL_TASKS)
    return CONTROL_TASKS[name](horizon=horizon, **kwargs)
