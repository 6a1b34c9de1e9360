"""Low-dimensional dynamical systems with ground truth from `scipy.integrate.solve_ivp` (DOP853).

Systems used by the Koopman reencoding paper (Fathi et al., ICLR 2024): Duffing, pendulum,
Lotka-Volterra, Lorenz-63 and the parabolic attractor, whose exact 3-D Koopman embedding
(x1, x2, x1^2) is exposed so tests can check rollouts against an exact answer. `forced_duffing`
adds a control input held constant over each step (zero-order hold). `cheetah` is the paper's experiment
with actions: the MuJoCo half-cheetah (dm_control's `cheetah`, the `control` extra) driven by random and
noisy action sequences, as in D4RL's random datasets, simulated rather than integrated.

Trajectories are generated (never downloaded) in one batched `solve_ivp` call and cached as `.npz`
under `$ANTHOLOGY_CACHE` (default `~/.cache/anthology`), keyed by everything that defines them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.integrate import solve_ivp

from anthology.core.errors import UnknownNameError
from anthology.core.run_dir import cache_root

Rhs = Callable[[np.ndarray, np.ndarray | None], np.ndarray]  # (x [N, d], u [N, m] | None) -> dx/dt [N, d]
Sampler = Callable[[np.random.Generator, int], np.ndarray]  # (rng, n) -> x0 [n, d]
Simulator = Callable[[int, int, int], "Trajectories"]  # (n, steps, seed) -> trajectories


@dataclasses.dataclass(frozen=True)
class DynamicalSystem:
    """An ODE dx/dt = f(x, u), its time step and how to draw initial conditions; or a simulator that
    returns whole trajectories (`simulate`, then `rhs` and `sample_initial` are None)."""

    name: str
    state_dim: int
    dt: float
    rhs: Rhs | None
    sample_initial: Sampler | None
    control_dim: int = 0
    lyapunov_exponent: float | None = None  # largest one, for valid prediction time on chaotic systems
    description: str = ""
    simulate: Simulator | None = None
    max_steps: int | None = None
    """Longest evaluation rollout a reproduction uses (an episode's length; None: the config's)."""


# ---- right-hand sides (vectorised over a batch of states) -------------------------------------------

def _duffing(x: np.ndarray, u: np.ndarray | None) -> np.ndarray:
    pos, vel = x[:, 0], x[:, 1]
    force = pos - pos**3 + (u[:, 0] if u is not None else 0.0)
    return np.stack([vel, force], axis=1)


def _pendulum(x: np.ndarray, u: np.ndarray | None) -> np.ndarray:
    return np.stack([x[:, 1], -np.sin(x[:, 0])], axis=1)


LV_ALPHA, LV_BETA, LV_GAMMA, LV_DELTA = 1.0, 1.0, 1.0, 1.0


def _lotka_volterra(x: np.ndarray, u: np.ndarray | None) -> np.ndarray:
    prey, predator = x[:, 0], x[:, 1]
    return np.stack([LV_ALPHA * prey - LV_BETA * prey * predator,
                     LV_DELTA * prey * predator - LV_GAMMA * predator], axis=1)


LORENZ_SIGMA, LORENZ_RHO, LORENZ_BETA = 10.0, 28.0, 8.0 / 3.0


def _lorenz63(x: np.ndarray, u: np.ndarray | None) -> np.ndarray:
    a, b, c = x[:, 0], x[:, 1], x[:, 2]
    return np.stack([LORENZ_SIGMA * (b - a), a * (LORENZ_RHO - c) - b, a * b - LORENZ_BETA * c], axis=1)


PARABOLIC_MU, PARABOLIC_LAMBDA = -0.1, -1.0


def _parabolic(x: np.ndarray, u: np.ndarray | None) -> np.ndarray:
    return np.stack([PARABOLIC_MU * x[:, 0], PARABOLIC_LAMBDA * (x[:, 1] - x[:, 0] ** 2)], axis=1)


def parabolic_koopman_generator(mu: float = PARABOLIC_MU, lam: float = PARABOLIC_LAMBDA) -> np.ndarray:
    """K_c of the exact embedding y = (x1, x2, x1^2): dy/dt = K_c y (Brunton et al. 2016)."""
    return np.array([[mu, 0.0, 0.0], [0.0, lam, -lam], [0.0, 0.0, 2.0 * mu]])


def parabolic_embedding(x: Any) -> Any:
    """y = (x1, x2, x1^2) for numpy arrays or torch tensors [..., 2] -> [..., 3]."""
    stack = np.stack if isinstance(x, np.ndarray) else torch.stack
    return stack([x[..., 0], x[..., 1], x[..., 0] ** 2], -1)


# ---- initial conditions -----------------------------------------------------------------------------

def _uniform(low: list[float], high: list[float]) -> Sampler:
    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(low, high, size=(n, len(low)))
    return sample


def _pendulum_initial(rng: np.random.Generator, n: int) -> np.ndarray:
    """Lusch et al. (2018): x1 in [-3.1, 3.1], x2 in [-2, 2], energy below the separatrix (0.99)."""
    out = np.empty((0, 2))
    while len(out) < n:
        cand = rng.uniform([-3.1, -2.0], [3.1, 2.0], size=(2 * n, 2))
        energy = 0.5 * cand[:, 1] ** 2 - np.cos(cand[:, 0])
        out = np.concatenate([out, cand[energy < 0.99]])
    return out[:n]


def _lorenz_initial(rng: np.random.Generator, n: int) -> np.ndarray:
    """Points on the attractor: random starts run for 20 time units before the trajectory begins."""
    start = rng.uniform([-15.0, -20.0, 5.0], [15.0, 20.0, 40.0], size=(n, 3))
    return integrate(_lorenz63, start, dt=20.0, steps=1)[:, -1]


# ---- the half-cheetah under random actions (the paper's D4RL-style experiment with actions) ------------

CHEETAH_ACTION_REPEAT = 5  # D4RL's HalfCheetah: 5 physics steps of 0.01 s per action, dt = 0.05
CHEETAH_NOISE_CORRELATION, CHEETAH_NOISE_SCALE = 0.9, 0.6


def _cheetah(n: int, steps: int, seed: int) -> Trajectories:
    """n episodes of `steps` actions from the task's own random initial states (joint angles drawn, then
    settled). Even episodes take uniform random actions (D4RL's random policy); odd ones a temporally
    correlated noisy policy, a_t = clip(rho a_{t-1} + sqrt(1 - rho^2) sigma eps_t), which moves the body
    further. States are the 17 observations (joint positions without the root's x, and velocities)."""
    from anthology.envs.control_suite import make_control_suite

    env = make_control_suite("cheetah-run", seed=seed, action_repeat=CHEETAH_ACTION_REPEAT)
    rng = np.random.default_rng(seed)
    m = env.action_space.shape[0]
    states = np.empty((n, steps + 1, env.observation_space.shape[0]))
    controls = np.empty((n, steps, m))
    rho, sigma = CHEETAH_NOISE_CORRELATION, CHEETAH_NOISE_SCALE
    for i in range(n):
        states[i, 0], _ = env.reset()
        action = np.zeros(m)
        for t in range(steps):
            if i % 2 == 0:
                action = rng.uniform(-1.0, 1.0, m)
            else:
                action = np.clip(rho * action + np.sqrt(1 - rho**2) * sigma * rng.standard_normal(m), -1.0, 1.0)
            controls[i, t] = action
            states[i, t + 1], *_ = env.step(action)
    return Trajectories(states, controls)


SYSTEMS: dict[str, DynamicalSystem] = {s.name: s for s in [
    DynamicalSystem("duffing", 2, 0.01, _duffing, _uniform([-1.5, -1.0], [1.5, 1.0]),
                    description="unforced Duffing oscillator x'' = x - x^3 (two wells)"),
    DynamicalSystem("pendulum", 2, 0.01, _pendulum, _pendulum_initial,
                    description="frictionless pendulum below the separatrix"),
    DynamicalSystem("lotka_volterra", 2, 0.01, _lotka_volterra, _uniform([0.5, 0.5], [2.0, 2.0]),
                    description="predator-prey cycles, all rates 1"),
    DynamicalSystem("lorenz63", 3, 0.01, _lorenz63, _lorenz_initial, lyapunov_exponent=0.9056,
                    description="Lorenz-63 (10, 28, 8/3), starts on the attractor"),
    DynamicalSystem("parabolic", 2, 0.01, _parabolic, _uniform([-1.0, -1.0], [1.0, 1.0]),
                    description="slow-manifold attractor mu=-0.1, lambda=-1, exact 3-D Koopman embedding"),
    DynamicalSystem("forced_duffing", 2, 0.01, _duffing, _uniform([-1.5, -1.0], [1.5, 1.0]), control_dim=1,
                    description="Duffing with a force u held constant over each step"),
    DynamicalSystem("cheetah", 17, 0.01 * CHEETAH_ACTION_REPEAT, None, None, control_dim=6, simulate=_cheetah,
                    max_steps=200, description="MuJoCo half-cheetah (dm_control) under random and noisy actions"),
]}


def make_system(name: str) -> DynamicalSystem:
    if name not in SYSTEMS:
        raise UnknownNameError("dynamical system", name, SYSTEMS)
    return SYSTEMS[name]


# ---- integration ------------------------------------------------------------------------------------

def integrate(rhs: Rhs, x0: np.ndarray, dt: float, steps: int, controls: np.ndarray | None = None,
              rtol: float = 1e-10, atol: float = 1e-12) -> np.ndarray:
    """States at t = 0, dt, ..., steps*dt for every initial condition: [N, steps+1, d].

    Without controls, one DOP853 call integrates the whole batch. With controls [N, steps, m], each
    step is integrated with its control held constant (zero-order hold).
    """
    n, d = x0.shape

    def flat_rhs(u: np.ndarray | None) -> Callable[[float, np.ndarray], np.ndarray]:
        return lambda t, y: rhs(y.reshape(n, d), u).reshape(-1)

    if controls is None:
        times = dt * np.arange(steps + 1)
        sol = solve_ivp(flat_rhs(None), (0.0, times[-1]), x0.reshape(-1), method="DOP853", t_eval=times,
                        rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        return sol.y.reshape(n, d, steps + 1).transpose(0, 2, 1).copy()
    out = np.empty((n, steps + 1, d))
    out[:, 0] = x0
    for t in range(steps):
        sol = solve_ivp(flat_rhs(controls[:, t]), (0.0, dt), out[:, t].reshape(-1), method="DOP853",
                        rtol=rtol, atol=atol)
        out[:, t + 1] = sol.y[:, -1].reshape(n, d)
    return out


@dataclasses.dataclass(frozen=True)
class Trajectories:
    states: np.ndarray  # [N, steps+1, d]
    controls: np.ndarray | None  # [N, steps, m] or None


def code_fingerprint(fn: Any, seen: set[int] | None = None) -> str:
    """A digest of what a function computes: its bytecode and constants, its closure's values, and the
    numbers and functions (recursively) it reads from its module, so that a cache keyed by it changes when
    a system's equations, parameters or samplers change."""
    seen = set() if seen is None else seen
    if id(fn) in seen or not hasattr(fn, "__code__"):
        return ""
    seen.add(id(fn))
    h = hashlib.sha256()

    def add_code(code: Any) -> None:
        h.update(code.co_code)
        for const in code.co_consts:
            add_code(const) if hasattr(const, "co_code") else h.update(repr(const).encode())
        for name in code.co_names:
            value = fn.__globals__.get(name)
            if isinstance(value, int | float | str | tuple) and not isinstance(value, bool):
                h.update(f"{name}={value!r}".encode())
            elif callable(value) and hasattr(value, "__code__"):
                h.update(code_fingerprint(value, seen).encode())

    add_code(fn.__code__)
    for cell in fn.__closure__ or ():
        value = cell.cell_contents
        h.update((code_fingerprint(value, seen) if hasattr(value, "__code__") else repr(value)).encode())
    return h.hexdigest()


def trajectory_key(system: DynamicalSystem, n: int, steps: int, seed: int) -> str:
    """Everything that determines a cached set of trajectories."""
    return json.dumps({"system": system.name, "state_dim": system.state_dim, "control_dim": system.control_dim,
                       "dt": system.dt, "n": n, "steps": steps, "seed": seed,
                       "rhs": code_fingerprint(system.rhs), "initial": code_fingerprint(system.sample_initial),
                       "simulate": code_fingerprint(system.simulate),
                       "integrate": code_fingerprint(integrate), "v": 2})


def generate_trajectories(system: DynamicalSystem, n: int, steps: int, seed: int,
                          use_cache: bool = True) -> Trajectories:
    """`n` trajectories of `steps` steps from seeded initial conditions (cached on disk, keyed by
    `trajectory_key`: the system's equations, parameters and sampler, the integrator and the sizes)."""
    key = trajectory_key(system, n, steps, seed)
    path = cache_root() / "dynamical_systems" / f"{system.name}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    if use_cache and path.exists():
        with np.load(path, allow_pickle=False) as data:
            return Trajectories(data["states"], data.get("controls", None))
    if system.simulate is not None:
        data = system.simulate(n, steps, seed)
        states, controls = data.states, data.controls
    else:
        assert system.rhs is not None and system.sample_initial is not None
        rng = np.random.default_rng(seed)
        x0 = system.sample_initial(rng, n)
        controls = rng.uniform(-1.0, 1.0, size=(n, steps, system.control_dim)) if system.control_dim else None
        states = integrate(system.rhs, x0, system.dt, steps, controls)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        arrays = {"states": states} if controls is None else {"states": states, "controls": controls}
        np.savez(tmp, **arrays)
        tmp.replace(path)
    return Trajectories(states, controls)
