import numpy as np
import pytest

from anthology.core.errors import UnknownNameError
from anthology.envs.dynamical_systems import (
    SYSTEMS,
    generate_trajectories,
    integrate,
    make_system,
    parabolic_embedding,
    parabolic_koopman_generator,
)


def _duffing_energy(x):
    return 0.5 * x[..., 1] ** 2 - 0.5 * x[..., 0] ** 2 + 0.25 * x[..., 0] ** 4


def test_duffing_conserves_energy_over_1000_steps():
    traj = generate_trajectories(make_system("duffing"), 8, 1000, seed=0, use_cache=False).states
    drift = np.abs(_duffing_energy(traj) - _duffing_energy(traj[:, :1])).max()
    assert drift < 1e-8  # DOP853 at rtol 1e-10 keeps H = v^2/2 - x^2/2 + x^4/4 to ~1e-10


def test_pendulum_conserves_energy_and_stays_below_separatrix():
    traj = generate_trajectories(make_system("pendulum"), 8, 1000, seed=0, use_cache=False).states
    energy = 0.5 * traj[..., 1] ** 2 - np.cos(traj[..., 0])
    assert np.abs(energy - energy[:, :1]).max() < 1e-8 and energy.max() < 0.99


def test_lotka_volterra_conserves_its_invariant():
    traj = generate_trajectories(make_system("lotka_volterra"), 8, 1000, seed=0, use_cache=False).states
    x, y = traj[..., 0], traj[..., 1]
    invariant = x - np.log(x) + y - np.log(y)  # all rates 1
    assert np.abs(invariant - invariant[:, :1]).max() < 1e-8


def test_lorenz_starts_on_the_attractor():
    traj = generate_trajectories(make_system("lorenz63"), 16, 200, seed=0, use_cache=False).states
    assert np.abs(traj[..., :2]).max() < 30 and traj[..., 2].min() > 0 and traj[..., 2].max() < 55


def test_parabolic_embedding_is_an_exact_linear_system():
    x = np.random.default_rng(0).uniform(-1, 1, size=(10, 2))
    dx = make_system("parabolic").rhs(x, None)
    dy = np.stack([dx[:, 0], dx[:, 1], 2 * x[:, 0] * dx[:, 0]], axis=1)  # chain rule on (x1, x2, x1^2)
    assert np.allclose(dy, parabolic_embedding(x) @ parabolic_koopman_generator().T)


def test_controls_are_held_over_each_step():
    system = make_system("forced_duffing")
    data = generate_trajectories(system, 4, 20, seed=0, use_cache=False)
    assert data.states.shape == (4, 21, 2) and data.controls.shape == (4, 20, 1)
    again = integrate(system.rhs, data.states[:, 0], system.dt, 20, data.controls)
    assert np.allclose(again, data.states)


def test_datasets_are_seeded_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHOLOGY_CACHE", str(tmp_path))
    a = generate_trajectories(make_system("duffing"), 5, 10, seed=1)
    assert list(tmp_path.glob("dynamical_systems/duffing-*.npz"))
    b = generate_trajectories(make_system("duffing"), 5, 10, seed=1)
    c = generate_trajectories(make_system("duffing"), 5, 10, seed=2, use_cache=False)
    assert np.array_equal(a.states, b.states) and not np.array_equal(a.states, c.states)


def test_unknown_system_is_a_user_error():
    with pytest.raises(UnknownNameError, match="Did you mean 'duffing'"):
        make_system("dufing")
    assert {"duffing", "pendulum", "lotka_volterra", "lorenz63", "parabolic"} <= set(SYSTEMS)


def test_the_trajectory_cache_is_keyed_by_the_equations_and_their_parameters(monkeypatch):
    import dataclasses
    import subprocess
    import sys

    from anthology.envs import dynamical_systems as ds

    lv = make_system("lotka_volterra")
    key = ds.trajectory_key(lv, 4, 10, 0)
    assert key == ds.trajectory_key(lv, 4, 10, 0)
    assert key != ds.trajectory_key(lv, 4, 10, 1) and key != ds.trajectory_key(lv, 5, 10, 0)
    monkeypatch.setattr(ds, "LV_ALPHA", 2.0)  # another predator-prey rate, same system name
    assert ds.trajectory_key(lv, 4, 10, 0) != key
    monkeypatch.undo()
    faster = dataclasses.replace(lv, rhs=lambda x, u: 2 * ds._lotka_volterra(x, u))  # same name, other equations
    assert ds.trajectory_key(faster, 4, 10, 0) != key
    wider = dataclasses.replace(lv, sample_initial=ds._uniform([0.5, 0.5], [3.0, 3.0]))  # other initial states
    assert ds.trajectory_key(wider, 4, 10, 0) != key
    # the key is the same in another process (no memory addresses in it)
    code = "from anthology.envs import dynamical_systems as ds; print(ds.trajectory_key(ds.make_system('lorenz63'), 4, 10, 0))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == ds.trajectory_key(make_system("lorenz63"), 4, 10, 0)


def test_the_cheetah_is_simulated_from_its_actions_deterministically_by_seed():
    pytest.importorskip("dm_control", reason="the control extra (dm_control, mujoco) is installed by make test")
    system = make_system("cheetah")
    a = generate_trajectories(system, 4, 30, seed=0, use_cache=False)
    assert a.states.shape == (4, 31, 17) and a.controls.shape == (4, 30, 6) and np.abs(a.controls).max() <= 1.0
    assert np.array_equal(a.states, generate_trajectories(system, 4, 30, seed=0, use_cache=False).states)
    b = generate_trajectories(system, 4, 30, seed=1, use_cache=False)
    assert not np.array_equal(a.states[:, 0], b.states[:, 0]) and not np.array_equal(a.controls, b.controls)
    # the noisy policy's actions are correlated in time, the random policy's are not
    lag = [np.corrcoef(a.controls[i, :-1].ravel(), a.controls[i, 1:].ravel())[0, 1] for i in range(4)]
    assert abs(lag[0]) < 0.3 and abs(lag[2]) < 0.3 and lag[1] > 0.6 and lag[3] > 0.6
    # the actions drive the body: replaying episode 0's start with other actions changes what follows
    from anthology.envs.control_suite import make_control_suite

    env = make_control_suite("cheetah-run", seed=0, action_repeat=5)
    first, _ = env.reset()
    assert np.array_equal(first, a.states[0, 0])
    replay = np.stack([env.step(u)[0] for u in a.controls[0, :10]])
    assert np.allclose(replay, a.states[0, 1:11])
    env = make_control_suite("cheetah-run", seed=0, action_repeat=5)
    assert np.array_equal(env.reset()[0], first)
    other = np.stack([env.step(-u)[0] for u in a.controls[0, :10]])
    assert np.abs(other - replay).max() > 0.1
