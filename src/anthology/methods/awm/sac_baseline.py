"""The model-free baseline of Actions World Models: SAC (`anthology.rl.sac`, CleanRL's update) on the same
control tasks, episodes and evaluation as the model-based arms. Uniformly random actions for the first
`warmup_steps`, then one update per real step on a replay buffer, the temperature learned towards an
entropy of -A (the official SAC config: 128 x 128 networks, lr 3e-4)."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.rl.actor_critic import QEnsemble, SquashedGaussianActor
from anthology.rl.replay_buffer import ReplayBuffer
from anthology.rl.sac import SACLearner, sac_update
from anthology.tracking import Tracker

from .config import Config
from .episodes import evaluate


def train_sac(cfg: Config, task: Any, tracker: Tracker, run_dir: RunDir | None, device: torch.device) -> TrainResult:
    low, high = torch.tensor(task.action_low), torch.tensor(task.action_high)
    actor = SquashedGaussianActor(task.state_dim, low, high, cfg.sac_hidden).to(device)
    critic = QEnsemble(task.state_dim, task.action_dim, cfg.sac_hidden).to(device)
    target_critic = copy.deepcopy(critic).requires_grad_(False)
    log_temperature = torch.nn.Parameter(torch.zeros((), device=device))
    sac = SACLearner(actor, critic, target_critic, log_temperature,
                     torch.optim.Adam(actor.parameters(), lr=cfg.sac_lr), torch.optim.Adam(critic.parameters(), lr=cfg.sac_lr),
                     torch.optim.Adam([log_temperature], lr=cfg.sac_lr))
    buffer = ReplayBuffer(cfg.env_steps, task.state_dim, task.action_dim)
    holder = torch.nn.Module()
    holder.actor, holder.critic, holder.target_critic, holder.log_temperature = actor, critic, target_critic, log_temperature
    stateful = {"model": holder, "actor_optimizer": sac.actor_optimizer, "critic_optimizer": sac.critic_optimizer,
                "temperature_optimizer": sac.temperature_optimizer, "buffer": buffer}
    generator = torch.Generator().manual_seed(cfg.seed)
    episodes_total = -(-cfg.env_steps // cfg.horizon)
    eval_episodes = max(1, -(-cfg.eval_every // cfg.horizon))
    start, evaluations = 0, []
    if run_dir is not None:
        run_dir.write_config(cfg, "awm", "custom")
        if run_dir.has_checkpoint():
            start, extra = load_training_state(run_dir.checkpoint_path, stateful, generator)
            evaluations = extra["evaluations"]
    tracker.start(episodes_total, start, f"{cfg.task} H={cfg.horizon} sac")
    info: dict[str, torch.Tensor] = {}
    for episode in range(start, episodes_total):
        state = task.initial_state(1, generator)
        total = 0.0
        for t in range(task.horizon):
            step = episode * task.horizon + t
            with torch.no_grad():
                if step < cfg.warmup_steps:
                    action = low + (high - low) * torch.rand(1, task.action_dim, generator=generator)
                else:
                    action = actor(state.to(device), generator).action.cpu()
                next_state = task.step(state, action, t)
                reward = task.reward(state, action, next_state, t)
            buffer.add(state, action, reward, next_state, torch.tensor([t == task.horizon - 1]))
            total += float(reward)
            state = next_state
            if step >= cfg.warmup_steps:
                batch = buffer.sample(cfg.sac_batch, generator)
                if device.type != "cpu":
                    batch = type(batch)(*(x.to(device) for x in batch))
                info = sac_update(sac, batch, cfg.gamma, 1, 0.005, -float(task.action_dim), generator)
        done = episode + 1
        record: dict[str, Any] = {"train/episode_return": total, **{k: float(v) for k, v in info.items()}}
        if done % eval_episodes == 0 or done == episodes_total:
            evaluation = {"step": min(done * task.horizon, cfg.env_steps), **evaluate(task, actor, cfg, device)}
            evaluations.append(evaluation)
            record |= {k: v for k, v in evaluation.items() if k != "step"}
        record["eval/temperature"] = math.exp(float(log_temperature.detach()))
        tracker.log(done, record)
        if run_dir is not None and done % cfg.checkpoint_every == 0 and done < episodes_total:
            save_training_state(run_dir.checkpoint_path, done, stateful, generator, {"evaluations": evaluations})
    summary: dict[str, Any] = {"method": "awm", "task": cfg.task, "horizon": cfg.horizon, "model": "sac",
                               "core": "none", "seed": cfg.seed, "env_steps": cfg.env_steps,
                               **{k: v for k, v in evaluations[-1].items() if k.startswith("eval/")}}
    tracker.close()
    if run_dir is not None:
        run_dir.write_curve(evaluations)
        run_dir.write_summary(summary)
    return TrainResult(summary, evaluations, {"actor": actor, "critic": critic})
