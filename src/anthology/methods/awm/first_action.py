"""The first-action schedule: for a task whose first action decides the episode from one fixed state (the
chaotic double pendulum), fit the model on random episodes, then ascend J(a) of the first action through
it from many starts and score the result on the true task; the design prototype's experiment."""

from __future__ import annotations

import json
from typing import Any

import torch

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.envs.control_tasks import landscape, total_variation
from anthology.tracking import Tracker

from .config import Config
from .episodes import EVAL_SEED_OFFSET, collect_episode, sample_episodes
from .losses import Simulator, open_loop_return, world_model_loss

LANDSCAPE_FILE = "landscape.json"
LANDSCAPE_TASK = "double_pendulum"
LANDSCAPE_POINTS = 2001  # the grid of first actions on which J(a) and its total variation are measured


def first_action_sequences(task: Any, first: torch.Tensor) -> torch.Tensor:
    """[N] first actions -> [N, L, A] sequences: the first action in entry 0 of step 1, zeros elsewhere."""
    rest = torch.zeros(first.shape[0], task.horizon * task.action_dim - 1, device=first.device, dtype=first.dtype)
    return torch.cat([first[:, None], rest], dim=1).view(first.shape[0], task.horizon, task.action_dim)


def optimise_first_actions(dynamics: Any, task: Any, starts: torch.Tensor, steps: int, lr: float
                           ) -> tuple[torch.Tensor, list[float]]:
    """Gradient ascent on J(a) of the first action (the rest zero) through `dynamics`, from `starts` [N]:
    Adam, projected back into the bounds after each step. Returns the final actions and, per step, the
    mean return that `dynamics` predicts."""
    low, high = task.action_low[0], task.action_high[0]
    action = starts.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([action], lr=lr)
    s1 = task.initial_state(starts.shape[0], None).to(starts.device)
    predicted = []
    for _ in range(steps):
        value = open_loop_return(dynamics, task, s1, first_action_sequences(task, action))
        optimizer.zero_grad(set_to_none=True)
        (-value.sum()).backward()
        optimizer.step()
        with torch.no_grad():
            action.clamp_(low, high)
        predicted.append(float(value.detach().mean()))
    return action.detach(), predicted


def true_first_action_returns(task: Any, first: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return landscape(task, first)


def train_first_action(cfg: Config, task: Any, model: torch.nn.Module | None, tracker: Tracker,
                       run_dir: RunDir | None, device: torch.device) -> TrainResult:
    """The `first_action` schedule (see `Config.schedule`)."""
    generator = torch.Generator().manual_seed(cfg.seed)
    start = 0
    optimizer = None if model is None else torch.optim.Adam(model.parameters(), lr=cfg.world_model.lr)
    stateful: dict[str, Any] = {} if model is None else {"model": model, "optimizer": optimizer}
    data = None if model is None else collect_episode(task, None, generator, cfg.offline_episodes, device=device)[0]
    if run_dir is not None:
        run_dir.write_config(cfg, "awm", "custom")
        if run_dir.has_checkpoint() and stateful:
            start, _ = load_training_state(run_dir.checkpoint_path, stateful, generator)
    steps = cfg.model_steps if model is not None else 0
    tracker.start(max(steps, 1), start, f"{cfg.task} H={cfg.horizon} {cfg.method} (first action)")
    losses: list[float] = []
    for step in range(start, steps):
        assert model is not None and optimizer is not None and data is not None
        model.train()
        loss, _ = world_model_loss(model, sample_episodes(data, cfg.world_model.batch, generator))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        done = step + 1
        if done % max(1, steps // 20) == 0 or done == steps:
            tracker.log(done, {"train/model_loss": loss.item()})
        if run_dir is not None and done % cfg.checkpoint_every == 0 and done < steps:
            save_training_state(run_dir.checkpoint_path, done, stateful, generator)
    dynamics: Any = Simulator(task) if model is None else model
    if model is not None:
        model.eval()
    draw = torch.Generator().manual_seed(cfg.seed + EVAL_SEED_OFFSET)
    low, high = task.action_low[0], task.action_high[0]
    starts = (low + (high - low) * torch.rand(cfg.starts, generator=draw)).to(device)
    final, predicted = optimise_first_actions(dynamics, task, starts, cfg.action_steps, cfg.action_lr)
    true = true_first_action_returns(task, final)
    initial = true_first_action_returns(task, starts)
    summary: dict[str, Any] = {"method": "awm", "task": cfg.task, "horizon": cfg.horizon, "model": cfg.method,
                               "core": cfg.world_model.core, "seed": cfg.seed, "schedule": cfg.schedule,
                               "eval/return": float(true.mean()), "eval/return_std": float(true.std(unbiased=False)),
                               "eval/initial_return": float(initial.mean()),
                               "eval/predicted_return": predicted[-1] if predicted else float("nan")}
    if losses:
        last = losses[-max(1, len(losses) // 10):]  # the last tenth of the updates
        summary["final/model_loss_mean"] = sum(last) / len(last)
    landscape = None
    if model is not None:
        landscape = first_action_landscape(task, model, device)
        summary |= {"eval/landscape_tv_true": landscape["tv_true"], "eval/landscape_tv_model": landscape["tv_model"]}
    tracker.log(max(steps, 1), {k: v for k, v in summary.items() if k.startswith(("eval/", "final/"))})
    tracker.close()
    curve = [{"step": i + 1, "eval/predicted_return": v} for i, v in enumerate(predicted)]
    if run_dir is not None:
        if landscape is not None:
            (run_dir.path / LANDSCAPE_FILE).write_text(json.dumps(landscape))
        run_dir.write_curve(curve)
        run_dir.write_summary(summary)
    return TrainResult(summary, curve, {"landscape": landscape, "actions": final}
                       | ({} if model is None else {"model": model}))


@torch.no_grad()
def first_action_landscape(task: Any, model: torch.nn.Module, device: torch.device) -> dict[str, Any]:
    """J(a) of the first action a (the rest zero) on a grid over its bounds, true and under the model,
    with each curve's total variation sum |J(a_{i+1}) - J(a_i)|: how rough a landscape the gradient
    descends. For tasks whose first action decides the episode (the chaotic double pendulum)."""
    grid = torch.linspace(task.action_low[0], task.action_high[0], LANDSCAPE_POINTS, device=device)
    actions = first_action_sequences(task, grid)
    s1 = task.initial_state(LANDSCAPE_POINTS, torch.Generator().manual_seed(0)).to(device)
    model.eval()
    true = landscape(task, grid)
    predicted = open_loop_return(model, task, s1, actions)
    return {"actions": grid.tolist(), "true": true.tolist(), "model": predicted.tolist(),
            "tv_true": total_variation(true), "tv_model": total_variation(predicted)}
