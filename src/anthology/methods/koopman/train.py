"""Train a Koopman autoencoder (or the nonlinear-latent baseline) and evaluate periodic reencoding."""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.device import resolve_device
from anthology.core.errors import AnthologyError
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.core.seeding import seed_everything
from anthology.envs.dynamical_systems import Trajectories, generate_trajectories, make_system
from anthology.tracking import Tracker, make_tracker

from .config import Config
from .losses import Window, koopman_loss
from .networks import KoopmanAutoencoder, make_model
from .reencoding import evaluate

TEST_SEED_OFFSET = 1_000_003  # test initial conditions come from a different stream than training ones
VAL_SEED_OFFSET = 2_000_003  # and validation ones from a third
EVALUATION_FILE = "evaluation.safetensors"


def save_evaluation(run_dir: RunDir, curves: dict[str, np.ndarray], portraits: dict[str, np.ndarray]) -> None:
    tensors = {f"curve/{k}": torch.as_tensor(v) for k, v in curves.items()}
    tensors.update({f"portrait/{k}": torch.as_tensor(v) for k, v in portraits.items()})
    save_file(tensors, str(run_dir.path / EVALUATION_FILE))


def load_evaluation(run_dir: RunDir) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(curves, portraits) saved by a finished run."""
    tensors = load_file(str(run_dir.path / EVALUATION_FILE))
    curves = {k.split("/", 1)[1]: v.numpy() for k, v in tensors.items() if k.startswith("curve/")}
    portraits = {k.split("/", 1)[1]: v.numpy() for k, v in tensors.items() if k.startswith("portrait/")}
    return curves, portraits


def sample_windows(states: torch.Tensor, controls: torch.Tensor | None, window: int, batch_size: int,
                   generator: torch.Generator) -> Window:
    """Random windows of `window` steps from random trajectories (states [N, L+1, d], controls [N, L, m])."""
    n, length = states.shape[0], states.shape[1] - 1
    traj = torch.randint(n, (batch_size,), generator=generator)
    start = torch.randint(length - window + 1, (batch_size,), generator=generator)
    pos = start[:, None] + torch.arange(window + 1)  # [B, T+1]
    return Window(states[traj[:, None], pos], None if controls is None else controls[traj[:, None], pos[:, :-1]])


def as_tensors(data: Trajectories, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    states = torch.as_tensor(data.states, dtype=torch.float32, device=device)
    controls = None if data.controls is None else torch.as_tensor(data.controls, dtype=torch.float32, device=device)
    return states, controls


def learning_rate(cfg: Config, step: int) -> float:
    """Cosine decay from lr to lr * lr_final_fraction over the run."""
    progress = step / max(cfg.steps - 1, 1)
    return cfg.lr * (cfg.lr_final_fraction + (1 - cfg.lr_final_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None) -> TrainResult:
    """Koopman autoencoder with periodic reencoding (Fathi, Gehring, Pilault, Kanaa, Bacon, Goroshin,
    "Course Correcting Koopman Representations", ICLR 2024).

    An MLP encoder maps states to a latent z whose dynamics are linear and continuous, dz/dt = K_c z
    (+ L_c u), discretised with the bilinear (Tustin) transform. Training unrolls the latent from the
    first state of a window and sums alignment, reconstruction and prediction losses; at inference the
    latent is re-encoded every k steps, z <- E(D(z)). `cfg.model.kind = "mlp"` swaps the linear
    generator for a residual MLP (the nonlinear-latent baseline). After training, every period in
    `cfg.eval.reencode_periods` is evaluated on held-out test initial conditions (`eval/k=...`) and on
    validation ones (`eval/val/k=...`, where a reproduction chooses k).

    CLI: `anthology train koopman --preset demo --system lorenz63`.
    `--system cheetah` is the paper's experiment with actions (a MuJoCo body under random actions).
    Left out: the paper's control use of the model.

    When `run_dir` holds a checkpoint, training resumes from it and ends with the same result as an
    uninterrupted run of the same config.
    """
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    system = make_system(cfg.system)
    if cfg.loss.window > cfg.data.train_steps:
        raise AnthologyError(f"loss.window ({cfg.loss.window}) must not exceed data.train_steps "
                             f"({cfg.data.train_steps}); lower --loss.window or raise --data.train-steps")
    train_data = generate_trajectories(system, cfg.data.n_train, cfg.data.train_steps, seed=cfg.data.seed)
    test_data = generate_trajectories(system, cfg.data.n_test, cfg.data.test_steps,
                                      seed=cfg.data.seed + TEST_SEED_OFFSET)
    val_data = generate_trajectories(system, cfg.data.n_val, cfg.data.test_steps,
                                     seed=cfg.data.seed + VAL_SEED_OFFSET)

    train_states, train_controls = as_tensors(train_data, device)
    test_states, test_controls = as_tensors(test_data, device)
    val_states, val_controls = as_tensors(val_data, device)
    model = make_model(cfg.model, system.state_dim, system.dt, system.control_dim).to(device)
    model.normalizer.fit(train_states)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    stateful = {"model": model, "optimizer": optimizer}

    start = 0
    if run_dir is not None:
        run_dir.write_config(cfg, "koopman", "custom")  # no-op when the CLI or a reproduction wrote it
        if run_dir.has_checkpoint():
            start, _ = load_training_state(run_dir.checkpoint_path, stateful, generator)
    tracker.start(cfg.steps, start, f"{cfg.system} {cfg.model.kind}")
    began, last_log = time.perf_counter(), start
    for step in range(start, cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        window = sample_windows(train_states, train_controls, cfg.loss.window, cfg.batch_size, generator)
        loss, info = koopman_loss(model, window, cfg.loss.align, cfg.loss.reconstruction, cfg.loss.prediction)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            elapsed = time.perf_counter() - began
            tracker.log(done, {"train/loss": loss.item(), **{k: v.item() for k, v in info.items()},
                               "train/grad_norm": float(grad_norm), "train/lr": optimizer.param_groups[0]["lr"],
                               "time/steps_per_sec": (done - last_log) / max(elapsed, 1e-9)})
            began, last_log = time.perf_counter(), done
        if run_dir is not None and done % cfg.checkpoint_every == 0 and done < cfg.steps:
            save_training_state(run_dir.checkpoint_path, done, stateful, generator)

    model.eval()
    metrics, curves, portraits = evaluate(model, test_states, cfg.eval.reencode_periods, cfg.eval.horizons,
                                          cfg.eval.vpt_threshold, system.dt, system.lyapunov_exponent,
                                          test_controls)
    val_metrics, _, _ = evaluate(model, val_states, cfg.eval.reencode_periods, cfg.eval.horizons,
                                 cfg.eval.vpt_threshold, system.dt, system.lyapunov_exponent, val_controls,
                                 prefix="eval/val/")
    metrics |= val_metrics
    with torch.no_grad():
        final_window = sample_windows(train_states, train_controls, cfg.loss.window, cfg.batch_size, generator)
        final_loss, final_info = koopman_loss(model, final_window, cfg.loss.align, cfg.loss.reconstruction,
                                              cfg.loss.prediction)
    summary = {"method": "koopman", "system": cfg.system, "model": cfg.model.kind, "seed": cfg.seed,
               "steps": cfg.steps, "final/loss": final_loss.item(),
               **{k.replace("train/", "final/"): v.item() for k, v in final_info.items()}, **metrics}
    if isinstance(model, KoopmanAutoencoder):
        summary["eval/spectral_radius"] = model.spectral_radius()
    tracker.log(cfg.steps, metrics)
    tracker.close()
    if run_dir is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                  str(run_dir.path / "model.safetensors"))
        save_evaluation(run_dir, curves, portraits)
        run_dir.write_summary(summary)
    return TrainResult(summary, [], {"model": model, "curves": curves, "portraits": portraits})
