"""Myriad optimal-control problems as differentiable, batched torch tasks, with reference optima.

The AWM paper (Ma et al., ICML 2024) evaluates long-horizon policy optimisation on problems from Lenhart and
Workman's "Optimal Control Applied to Biological Models" as packaged by Myriad (`nikihowe/myriad`,
`myriad/systems/lenhart/*.py`). The official AWM code (`micklethepickle/action-conditioned-world-models`)
carries its own copy of those systems (`src/brax/custom_envs/myriad/lenhart/*.py`) and turns each into an
episodic task in `src/brax/custom_envs/myriad/brax_wrapper.py`, registered in `train_myriad.py` with the
length from `configs/envs/myriad_default.py`. What the wrapper does, and what `MyriadTask` does too:

- one explicit Euler step per action, x_{t+1} = clip(x_t + dt f(x_t, u_t), state bounds), dt = T / L, where T
  is the system's duration and L the number of actions (default 100);
- reward r_t = -g(x_t, u_t) dt from the state *before* the step, and at the last step also -Phi(x_{L-1}), the
  terminal cost, again read from the state before the step (as the wrapper does);
- the observation is the physical state with the step count t appended (a raw count, not t / L), so the
  state is Markov; `time_as_fraction=True` appends t / L instead.

The wrapper maps actions from [-1, 1] into the control bounds; here actions arrive in the bounds and are
clamped. Its optional distractor dimensions and state noise (off by default) are left out.

Systems (parameters from the AWM copy, which differs from Myriad in two places, noted):
cancer (Lenhart ch. 10), bioreactor (ch. 19), predator_prey (ch. 22), glucose (ch. 16), hiv (ch. 14).

Reference optima, for scoring a policy's return:
- `forward_backward_sweep`: Pontryagin's principle for the Euler-discretised problem. With
  H(x, u, lam) = g(x, u) + lam . f(x, u), the costate runs backward as lam_L = 0,
  lam_t = lam_{t+1} - dt * lam'(x_t, u_t, lam_{t+1}) with the hand-derived lam' = -dH/dx, and the control is
  the closed-form minimiser of H over the bounds, u_t = clip(argmin_u H(x_t, u, lam_{t+1})); iterate with
  Lenhart's averaging u <- (u + u_new) / 2. This is Lenhart's forward-backward sweep with Euler steps; its
  fixed point is exactly a KKT point of the discrete problem (as dt -> 0 it tends to the continuous one).
  Available where the control has a closed form and the terminal cost is zero: cancer, glucose, hiv.
- `open_loop_optimum`: scipy's L-BFGS-B over the L open-loop controls (bounds = control bounds), with the
  return and its gradient from torch autograd in float64. Works for every system.
- `normalised_return`: see its docstring (the official code has no normalisation).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar, NamedTuple

import numpy as np
import torch
from scipy.optimize import minimize
from torch import Tensor

from anthology.envs.control_interface import ControlTask


@dataclasses.dataclass(frozen=True)
class MyriadTask(ControlTask):
    """A Myriad system x' = f(x, u) with running cost g(x, u) and terminal cost Phi(x), wrapped as an
    episodic task (see the module docstring). Subclasses give the system; this class gives the episode.

    State [B, n + 1]: the n physical components, then the time feature (t, or t / L).
    """

    horizon: int = 100
    duration: float | None = None
    """T in the system's time units; None: the system's own (`default_duration`)."""
    time_as_fraction: bool = False

    default_duration: ClassVar[float]
    initial_physical_state: ClassVar[tuple[float, ...]]
    state_low: ClassVar[tuple[float, ...]]
    state_high: ClassVar[tuple[float, ...]]
    has_terminal_cost: ClassVar[bool] = False
    has_control_characterisation: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")

    @property
    def physical_dim(self) -> int:
        return len(self.initial_physical_state)

    @property
    def state_dim(self) -> int:  # type: ignore[override]
        return self.physical_dim + 1

    @property
    def action_dim(self) -> int:  # type: ignore[override]
        return len(self.action_low)

    @property
    def dt(self) -> float:
        """dt = T / L."""
        return (self.default_duration if self.duration is None else self.duration) / self.horizon

    # -- the system: subclasses ------------------------------------------------------------------------
    def dynamics(self, x: Tensor, u: Tensor) -> Tensor:
        """f(x, u): [B, n], [B, A] -> [B, n]."""
        raise NotImplementedError

    def running_cost(self, x: Tensor, u: Tensor) -> Tensor:
        """g(x, u): [B]."""
        raise NotImplementedError

    def terminal_cost(self, x: Tensor) -> Tensor:
        """Phi(x): [B]."""
        return x.new_zeros(x.shape[0])

    def costate_derivative(self, x: Tensor, u: Tensor, costate: Tensor) -> Tensor:
        """lam' = -dH/dx with H = g + lam . f, derived by hand: [B, n]."""
        raise NotImplementedError

    def optimal_control(self, x: Tensor, costate: Tensor) -> Tensor:
        """argmin over the control bounds of H(x, u, lam) in closed form: [B, A]."""
        raise NotImplementedError

    # -- the episode ---------------------------------------------------------------------------------
    def time_feature(self, t: int) -> float:
        return t / self.horizon if self.time_as_fraction else float(t)

    def clip_state(self, x: Tensor) -> Tensor:
        low = torch.tensor(self.state_low, dtype=x.dtype, device=x.device)
        high = torch.tensor(self.state_high, dtype=x.dtype, device=x.device)
        return torch.clamp(x, low, high)

    def initial_state(self, batch: int, generator: torch.Generator | None = None,
                      dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
        x0 = torch.tensor([*self.initial_physical_state, self.time_feature(0)], dtype=dtype, device=device)
        return x0.expand(batch, -1).clone()

    def step(self, state: Tensor, action: Tensor, t: int) -> Tensor:
        """[x_t, t] -> [clip(x_t + dt f(x_t, u_t)), t + 1]."""
        x, u = state[:, : self.physical_dim], self.clamp_action(action)
        next_x = self.clip_state(x + self.dt * self.dynamics(x, u))
        time = next_x.new_full((next_x.shape[0], 1), self.time_feature(t + 1))
        return torch.cat([next_x, time], dim=1)

    def reward(self, state: Tensor, action: Tensor, next_state: Tensor, t: int) -> Tensor:
        """-g(x_t, u_t) dt, minus Phi(x_t) at the last step (x_t: the state before the step)."""
        x, u = state[:, : self.physical_dim], self.clamp_action(action)
        reward = -self.running_cost(x, u) * self.dt
        if self.has_terminal_cost and t == self.horizon - 1:
            reward = reward - self.terminal_cost(x)
        return reward

    def normalised_return(self, returns: Tensor | float, baseline: str = "random") -> Tensor | float:
        """`normalised_return(self, returns, baseline)`. The first call per task computes the references
        (cached): 0.3 s for cancer at L = 100, about 10 s for bioreactor (L-BFGS-B on a bang-bang problem)."""
        return normalised_return(self, returns, baseline)


@dataclasses.dataclass(frozen=True)
class CancerTreatment(MyriadTask):
    """Chemotherapy of a Gompertzian tumour (Lenhart & Workman ch. 10; Fister and Panetta 2003).

    x' = r x ln(1/x) - delta u x, g = a x^2 + u^2, x(0) = 0.975, T = 20, x in [1e-3, 1], u in [0, 2].
    Costate lam' = lam (r + delta u - r ln(1/x)) - 2 a x; control u* = clip(lam delta x / 2, 0, 2).
    """

    r: float = 0.3
    a: float = 3.0
    delta: float = 0.45

    name = "cancer"
    default_duration = 20.0
    initial_physical_state = (0.975,)
    state_low, state_high = (1e-3,), (1.0,)
    action_low, action_high = (0.0,), (2.0,)
    has_control_characterisation = True

    def dynamics(self, x: Tensor, u: Tensor) -> Tensor:
        return self.r * x * torch.log(1.0 / x) - self.delta * u * x

    def running_cost(self, x: Tensor, u: Tensor) -> Tensor:
        return (self.a * x**2 + u**2)[:, 0]

    def costate_derivative(self, x: Tensor, u: Tensor, costate: Tensor) -> Tensor:
        return costate * (self.r + self.delta * u - self.r * torch.log(1.0 / x)) - 2.0 * self.a * x

    def optimal_control(self, x: Tensor, costate: Tensor) -> Tensor:
        return self.clamp_action(0.5 * costate * self.delta * x)


@dataclasses.dataclass(frozen=True)
class Bioreactor(MyriadTask):
    """Bacteria boosted by a nutrient to degrade a contaminant (Lenhart & Workman ch. 19).

    x' = G u x - D x^2, g = -K x + u (a maximisation of int K x - u), x(0) = 0.5, T = 2, x in [0, 1],
    u in [0, M]. The cost is linear in u, so the optimum is bang-bang (no closed-form minimiser of H to
    iterate on); use `open_loop_optimum`.
    """

    K: float = 2.0
    G: float = 1.0
    D: float = 1.0

    name = "bioreactor"
    default_duration = 2.0
    initial_physical_state = (0.5,)
    state_low, state_high = (0.0,), (1.0,)
    action_low, action_high = (0.0,), (1.0,)  # M = 1

    def dynamics(self, x: Tensor, u: Tensor) -> Tensor:
        return self.G * u * x - self.D * x**2

    def running_cost(self, x: Tensor, u: Tensor) -> Tensor:
        return (-self.K * x + u)[:, 0]


@dataclasses.dataclass(frozen=True)
class PredatorPrey(MyriadTask):
    """A pest x0 and its predator x1 under a pesticide u that harms both (Lenhart & Workman ch. 22).

    x0' = (1 - x1) x0 - d1 x0 u, x1' = (x0 - 1) x1 - d2 x1 u, z' = u (pesticide used so far);
    g = A u^2 / 2, Phi = x0; x(0) = (10, 1, 0); bounds x0, x1 in [0, 11], z in [0, 5], u in [0, 1].
    The book's constraint z(T) = B is not enforced by the official wrapper (z is only clipped), nor here.
    T = 100 as in the AWM copy (Myriad has T = 10). Caveat, measured: with Euler steps of dt = T / L and
    the clip at 11, the pest is wiped out (x0 clipped to 0) within 6 steps for every control when
    L <= 100 at T = 10, and within 2 steps at T = 100, so the optimum is u = 0 with return 0. Kept for
    fidelity; pass a smaller `duration` or a longer horizon for a non-degenerate problem.
    """

    d1: float = 0.1
    d2: float = 0.1
    A: float = 1.0

    name = "predator_prey"
    default_duration = 100.0
    initial_physical_state = (10.0, 1.0, 0.0)
    state_low, state_high = (0.0, 0.0, 0.0), (11.0, 11.0, 5.0)
    action_low, action_high = (0.0,), (1.0,)  # M = 1
    has_terminal_cost = True

    def dynamics(self, x: Tensor, u: Tensor) -> Tensor:
        prey, predator, _ = x.unbind(-1)
        u = u[:, 0]
        return torch.stack([(1.0 - predator) * prey - self.d1 * prey * u,
                            (prey - 1.0) * predator - self.d2 * predator * u,
                            u], dim=-1)

    def running_cost(self, x: Tensor, u: Tensor) -> Tensor:
        return 0.5 * self.A * u[:, 0] ** 2

    def terminal_cost(self, x: Tensor) -> Tensor:
        return x[:, 0]


GLUCOSE_COST_SCALE = 100_000.0  # the Myriad cost is multiplied by 1e5 "so we can actually see it"


@dataclasses.dataclass(frozen=True)
class Glucose(MyriadTask):
    """Blood glucose x0 and insulin x1 of a diabetic under injected insulin u (Lenhart & Workman ch. 16).

    x0' = -a x0 - b x1, x1' = -c x1 + u, g = 1e5 (A (x0 - l)^2 + u^2), x(0) = (0.75, 0), T = 0.2,
    x in [0, 1]^2, u in [0, 0.01]; l = 0.4 as in the AWM copy (Myriad has 0.5).
    Costate: lam0' = -2e5 A (x0 - l) + a lam0, lam1' = b lam0 + c lam1; control u* = clip(-lam1 / 2e5).
    """

    a: float = 1.0
    b: float = 1.0
    c: float = 1.0
    A: float = 2.0
    level: float = 0.4

    name = "glucose"
    default_duration = 0.2
    initial_physical_state = (0.75, 0.0)
    state_low, state_high = (0.0, 0.0), (1.0, 1.0)
    action_low, action_high = (0.0,), (0.01,)
    has_control_characterisation = True

    def dynamics(self, x: Tensor, u: Tensor) -> Tensor:
        glucose, insulin = x.unbind(-1)
        return torch.stack([-self.a * glucose - self.b * insulin, -self.c * insulin + u[:, 0]], dim=-1)

    def running_cost(self, x: Tensor, u: Tensor) -> Tensor:
        return GLUCOSE_COST_SCALE * (self.A * (x[:, 0] - self.level) ** 2 + u[:, 0] ** 2)

    def costate_derivative(self, x: Tensor, u: Tensor, costate: Tensor) -> Tensor:
        lam0, lam1 = costate.unbind(-1)
        return torch.stack([-2.0 * GLUCOSE_COST_SCALE * self.A * (x[:, 0] - self.level) + self.a * lam0,
                            self.b * lam0 + self.c * lam1], dim=-1)

    def optimal_control(self, x: Tensor, costate: Tensor) -> Tensor:
        return self.clamp_action(-costate[:, 1:2] / (2.0 * GLUCOSE_COST_SCALE))


@dataclasses.dataclass(frozen=True)
class HIVTreatment(MyriadTask):
    """Uninfected (x0) and infected (x1) CD4+ T cells and free virus (x2) under a drug that lowers the
    virus's infectivity; u = 1 is no therapy, u = 0 full therapy (Lenhart & Workman ch. 14).

    x0' = s / (1 + x2) - m1 x0 + r x0 (1 - (x0 + x1) / Tmax) - u k x0 x2
    x1' = u k x0 x2 - m2 x1
    x2' = N m2 x1 - m3 x2
    g = -A x0 + (1 - u)^2; x(0) = (800, 0.04, 1.5), T = 20; bounds x0 in [0, 1600], x1, x2 in [0, 100],
    u in [0, 1]. With lam' = -dH/dx:
    lam0' = A - lam0 (-m1 + r (1 - (x0 + x1) / Tmax) - r x0 / Tmax - u k x2) - lam1 u k x2
    lam1' = lam0 r x0 / Tmax + lam1 m2 - lam2 N m2
    lam2' = lam0 (s / (1 + x2)^2 + u k x0) - lam1 u k x0 + lam2 m3
    dH/du = -2 (1 - u) + k x0 x2 (lam1 - lam0) = 0  ->  u* = clip(1 - k x0 x2 (lam1 - lam0) / 2, 0, 1).
    (Myriad writes the same conditions in the maximisation convention, with the costate's sign flipped.)
    Euler is stable on the virus equation only for dt < 2 / m3 = 0.45, so keep L >= 45 at T = 20 (at
    L = 20 or 40 the virus count oscillates and the sweep stalls).
    """

    s: float = 10.0
    m1: float = 0.02
    m2: float = 0.5
    m3: float = 4.4
    r: float = 0.03
    t_max: float = 1500.0
    k: float = 0.000024
    N: float = 300.0
    A: float = 0.05

    name = "hiv"
    default_duration = 20.0
    initial_physical_state = (800.0, 0.04, 1.5)
    state_low, state_high = (0.0, 0.0, 0.0), (1600.0, 100.0, 100.0)
    action_low, action_high = (0.0,), (1.0,)
    has_control_characterisation = True

    def dynamics(self, x: Tensor, u: Tensor) -> Tensor:
        healthy, infected, virus = x.unbind(-1)
        u = u[:, 0]
        infection = u * self.k * healthy * virus
        return torch.stack([
            self.s / (1.0 + virus) - self.m1 * healthy
            + self.r * healthy * (1.0 - (healthy + infected) / self.t_max) - infection,
            infection - self.m2 * infected,
            self.N * self.m2 * infected - self.m3 * virus,
        ], dim=-1)

    def running_cost(self, x: Tensor, u: Tensor) -> Tensor:
        return -self.A * x[:, 0] + (1.0 - u[:, 0]) ** 2

    def costate_derivative(self, x: Tensor, u: Tensor, costate: Tensor) -> Tensor:
        healthy, infected, virus = x.unbind(-1)
        lam0, lam1, lam2 = costate.unbind(-1)
        u = u[:, 0]
        df0_dx0 = (-self.m1 + self.r * (1.0 - (healthy + infected) / self.t_max)
                   - self.r * healthy / self.t_max - u * self.k * virus)
        return torch.stack([
            self.A - lam0 * df0_dx0 - lam1 * u * self.k * virus,
            lam0 * self.r * healthy / self.t_max + lam1 * self.m2 - lam2 * self.N * self.m2,
            lam0 * (self.s / (1.0 + virus) ** 2 + u * self.k * healthy) - lam1 * u * self.k * healthy
            + lam2 * self.m3,
        ], dim=-1)

    def optimal_control(self, x: Tensor, costate: Tensor) -> Tensor:
        healthy, virus = x[:, 0], x[:, 2]
        u = 1.0 - 0.5 * self.k * healthy * virus * (costate[:, 1] - costate[:, 0])
        return self.clamp_action(u[:, None])


MYRIAD_SYSTEMS: dict[str, type[MyriadTask]] = {
    cls.name: cls for cls in (CancerTreatment, Bioreactor, PredatorPrey, Glucose, HIVTreatment)
}


# ---- reference optima -------------------------------------------------------------------------------

def episode_return(task: MyriadTask, actions: Tensor) -> Tensor:
    """The return of open-loop controls [L, A] (or [B, L, A]) from the task's initial state: [] (or [B])."""
    batched = actions if actions.dim() == 3 else actions[None]
    initial = task.initial_state(batched.shape[0], dtype=actions.dtype, device=actions.device)
    _, rewards = task.rollout(initial, batched)
    returns = rewards.sum(dim=1)
    return returns if actions.dim() == 3 else returns[0]


def physical_trajectory(task: MyriadTask, controls: Tensor) -> Tensor:
    """x_0 ... x_L under open-loop controls [L, A] by unclipped Euler steps, in float64: [L+1, n]."""
    x = torch.tensor(task.initial_physical_state, dtype=torch.float64)[None]
    states = [x]
    for t in range(task.horizon):
        x = x + task.dt * task.dynamics(x, controls[t : t + 1])
        states.append(x)
    return torch.cat(states)


def costate_trajectory(task: MyriadTask, states: Tensor, controls: Tensor) -> Tensor:
    """lam_0 ... lam_L from the hand-derived costate equation: lam_L = 0 (no terminal cost) and
    lam_t = lam_{t+1} - dt lam'(x_t, u_t, lam_{t+1}): [L+1, n].

    lam_t is the derivative of the cost to go, sum_{s >= t} g(x_s, u_s) dt, with respect to x_t, that is
    minus the derivative of the return from step t (while the state clip is inactive).
    """
    costate = torch.zeros(1, task.physical_dim, dtype=torch.float64)
    costates = [costate]
    for t in reversed(range(task.horizon)):
        costate = costate - task.dt * task.costate_derivative(states[t : t + 1], controls[t : t + 1], costate)
        costates.append(costate)
    return torch.cat(costates[::-1])


class SweepResult(NamedTuple):
    actions: Tensor  # [L, A] float64
    ret: float
    iterations: int
    change: float  # max |u_new - u| at the last iteration
    converged: bool  # change < tolerance within max_iterations


def forward_backward_sweep(task: MyriadTask, tolerance: float = 1e-12, max_iterations: int = 1000,
                           relaxation: float = 0.5) -> SweepResult:
    """Lenhart's forward-backward sweep on the Euler-discretised problem (see the module docstring).

    Forward: x_{t+1} = x_t + dt f(x_t, u_t) (`physical_trajectory`). Backward: `costate_trajectory`.
    Update: u_t <- (1 - relaxation) u_t + relaxation clip(argmin_u H(x_t, u, lam_{t+1})), until the largest
    change is below `tolerance`. Assumes the state clip is inactive along the way (true for cancer, glucose
    and hiv from their initial states). In float64 on the CPU; starts from u = lower bound. Measured at
    L = 100: 44 (cancer), 34 (glucose) and 56 (hiv) iterations to a change below 1e-12.
    """
    if not task.has_control_characterisation or task.has_terminal_cost:
        raise ValueError(f"{task.name} has no closed-form control characterisation; use open_loop_optimum")
    low = torch.tensor(task.action_low, dtype=torch.float64)
    controls = low.expand(task.horizon, -1).clone()
    change = float("inf")
    iteration = 0
    while change >= tolerance and iteration < max_iterations:
        iteration += 1
        states = physical_trajectory(task, controls)
        costates = costate_trajectory(task, states, controls)
        proposed = task.optimal_control(states[:-1], costates[1:])  # u_t from x_t and lam_{t+1}: [L, A]
        updated = (1.0 - relaxation) * controls + relaxation * proposed
        change = float((updated - controls).abs().max())
        controls = updated
    return SweepResult(controls, float(episode_return(task, controls)), iteration, change, change < tolerance)


def open_loop_optimum(task: MyriadTask, initial_actions: Tensor | None = None, max_iterations: int = 5000,
                      gradient_tolerance: float = 1e-10) -> tuple[Tensor, float]:
    """Best open-loop controls [L, A] and their return, by scipy's L-BFGS-B within the control bounds.

    The objective is -return of the discretised episode (clips included), with its exact gradient from
    torch autograd in float64. Starts from `initial_actions` (default: the middle of the bounds).
    """
    length, dim = task.horizon, task.action_dim
    low = np.broadcast_to(np.asarray(task.action_low, dtype=np.float64), (length, dim))
    high = np.broadcast_to(np.asarray(task.action_high, dtype=np.float64), (length, dim))
    start = 0.5 * (low + high) if initial_actions is None else initial_actions.detach().double().cpu().numpy()

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        actions = torch.tensor(flat.reshape(length, dim), dtype=torch.float64, requires_grad=True)
        loss = -episode_return(task, actions)
        (grad,) = torch.autograd.grad(loss, actions)
        return loss.item(), grad.numpy().reshape(-1)

    result = minimize(objective, start.reshape(-1), jac=True, method="L-BFGS-B",
                      bounds=list(zip(low.reshape(-1), high.reshape(-1))),
                      options={"maxiter": max_iterations, "ftol": 0.0, "gtol": gradient_tolerance,
                               "maxcor": 20})
    actions = torch.tensor(result.x.reshape(length, dim), dtype=torch.float64)
    return actions, float(episode_return(task, actions))


def reference_optimum(task: MyriadTask) -> tuple[Tensor, float]:
    """The optimal open-loop controls [L, A] (float64) and their return: the forward-backward sweep where
    the system has a closed-form control characterisation, else (or if the sweep does not converge)
    `open_loop_optimum`, started from the sweep's controls when there are some."""
    if task.has_control_characterisation and not task.has_terminal_cost:
        result = forward_backward_sweep(task)
        if result.converged:
            return result.actions, result.ret
        # a sweep that diverged (coarse Euler steps, e.g. cancer at L < 20) leaves no usable start
        usable = bool(torch.isfinite(result.actions).all())
        return open_loop_optimum(task, initial_actions=result.actions if usable else None)
    return open_loop_optimum(task)


class ReferenceReturns(NamedTuple):
    optimum: float  # J*, from `reference_optimum`
    zero: float  # J of u = 0 at every step (the lower control bound of every system here)
    random: float  # mean J of i.i.d. uniform controls (1024 episodes, seed 0)


@functools.lru_cache(maxsize=64)
def reference_returns(task: MyriadTask) -> ReferenceReturns:
    """The returns that `normalised_return` measures against (cached per task)."""
    _, optimum = reference_optimum(task)
    low = torch.tensor(task.action_low, dtype=torch.float64)
    high = torch.tensor(task.action_high, dtype=torch.float64)
    zero = float(episode_return(task, low.expand(task.horizon, -1).clone()))
    generator = torch.Generator().manual_seed(0)
    draws = torch.rand(1024, task.horizon, task.action_dim, generator=generator, dtype=torch.float64)
    random = float(episode_return(task, low + (high - low) * draws).mean())
    return ReferenceReturns(optimum, zero, random)


def normalised_return(task: MyriadTask, returns: Tensor | float, baseline: str = "random") -> Tensor | float:
    """(J - J_low) / (J* - J_low): 0 at the low reference, 1 at the reference optimum J*.

    J_low is the mean return of uniformly random controls (`baseline="random"`, the default) or of the
    control u = 0 at every step (`baseline="zero"`). Source: neither the official AWM code (I read
    `train_myriad.py`, `src/brax/custom_envs/myriad/brax_wrapper.py`, `src/brax/arm/train.py`,
    `src/brax/evaluator.py` and the configs: returns are logged raw, as the sum of -cost dt) nor the parts
    of the paper at hand define a normalisation, so this score is our own, in the style of D4RL's
    (score - random) / (expert - random); compare raw returns with the paper.
    """
    refs = reference_returns(task)
    if baseline not in ("random", "zero"):
        raise ValueError(f"baseline must be 'random' or 'zero', got {baseline!r}")
    low = refs.random if baseline == "random" else refs.zero
    return (returns - low) / (refs.optimum - low)
