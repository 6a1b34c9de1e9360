"""Train SAC (continuous actions) or soft Q-learning (discrete actions) with a fixed or decoupled entropy
temperature."""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.device import resolve_device
from anthology.core.errors import AnthologyError
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.core.seeding import seed_everything
from anthology.rl.actor_critic import QEnsemble, SquashedGaussianActor
from anthology.rl.evaluation import EPISODE_SEED_STRIDE, evaluate_policy
from anthology.rl.replay_buffer import ReplayBuffer
from anthology.rl.sac import SACLearner, sac_update
from anthology.rl.temperature import (
    box_entropy_range,
    decoupled_entropy_target,
    sac_entropy_target,
    static_box_temperature,
)
from anthology.tracking import Tracker, make_tracker

from .config import DISCRETE_ENVS, Config, EnvConfig
from .soft_q import train_soft_q


def is_discrete(cfg: EnvConfig) -> bool:
    return cfg.name in DISCRETE_ENVS


def make_env(cfg: EnvConfig, seed: int = 0) -> Any:
    """A Gymnasium environment for the continuous envs (actions rescaled to [-s, s]^d)."""
    if cfg.name == "pendulum":
        from anthology.envs.stacked_pendulum import StackedPendulum

        env = StackedPendulum(cfg.copies, cfg.max_episode_steps)
    elif "-" in cfg.name:
        from anthology.envs.control_suite import make_control_suite

        env = make_control_suite(cfg.name, seed)
    else:
        raise AnthologyError(f"unknown env '{cfg.name}'; use pendulum, a control-suite task such as "
                             f"cartpole-swingup, or one of {', '.join(DISCRETE_ENVS)}")
    from anthology.envs.stacked_pendulum import rescale_actions, scale_rewards

    return rescale_actions(scale_rewards(env, cfg.reward_scale), cfg.action_scale)


def check_config(cfg: Config) -> None:
    if is_discrete(cfg.env) and cfg.temperature in ("auto", "dynamic"):
        raise AnthologyError(f"{cfg.env.name} has discrete actions: use --temperature fixed or static "
                             "(auto and dynamic are SAC's learned temperatures)")


def entropy_target(cfg: Config, low: torch.Tensor, high: torch.Tensor) -> float | None:
    """The learned temperature's target entropy, or None for the fixed schemes."""
    if cfg.temperature == "auto":
        return sac_entropy_target(low.numel())
    if cfg.temperature == "dynamic":
        return decoupled_entropy_target(low, high, cfg.target_alpha)
    return None


def train(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None) -> TrainResult:
    """Soft RL with a temperature decoupled from the action space (Mohammadpour, Frejinger, Bacon,
    "Decoupling regularization from the action space", ICLR 2024).

    The entropy bonus t H(pi(.|s)) has a range that grows with the action space: log|A(s)| for discrete
    actions, H_max - H_min = sum_i log(high_i - low_i) - d log(1e-3) for a box. A fixed t therefore
    regularises large action spaces more, and states with many actions more than states with few.
    Decoupled schemes divide by the range (`static`) or set SAC's learned temperature's entropy target to
    a fixed fraction of the range (`dynamic`) instead of SAC's -d (`auto`). Continuous envs train SAC
    (CleanRL's loop: twin critics, delayed actor updates, Polyak targets); discrete envs train soft
    Q-learning with action masks and a per-state temperature, evaluated exactly against soft value
    iteration.

    CLI: `anthology train decoupled_regularization --preset demo --temperature dynamic --env.copies 4`.
    Left out: the paper's drug-design (sEH fragment) experiment, which needs the chemistry layer.
    """
    check_config(cfg)
    if is_discrete(cfg.env):
        return train_soft_q(cfg, tracker, run_dir)
    return train_sac(cfg, tracker, run_dir)


def train_sac(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None) -> TrainResult:
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    env, eval_env = make_env(cfg.env, cfg.seed), make_env(cfg.env, cfg.seed + 1)
    obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
    low, high = torch.as_tensor(env.action_space.low), torch.as_tensor(env.action_space.high)
    actor = SquashedGaussianActor(obs_dim, low, high, cfg.hidden, cfg.log_std_min).to(device)
    critic = QEnsemble(obs_dim, action_dim, cfg.hidden).to(device)
    target_critic = copy.deepcopy(critic).requires_grad_(False)
    log_temperature = torch.nn.Parameter(torch.tensor(math.log(cfg.initial_temperature), device=device))
    target_entropy = entropy_target(cfg, low, high)
    if cfg.temperature == "static":
        log_temperature.data.fill_(math.log(static_box_temperature(cfg.tau, low, high)))
    elif cfg.temperature == "fixed":
        log_temperature.data.fill_(math.log(cfg.tau))
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=cfg.lr_actor)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=cfg.lr_q)
    temperature_optimizer = torch.optim.Adam([log_temperature], lr=cfg.lr_temperature)
    sac = SACLearner(actor, critic, target_critic, log_temperature, actor_optimizer, critic_optimizer,
                     temperature_optimizer)
    buffer = ReplayBuffer(min(cfg.buffer_size, cfg.total_steps), obs_dim, action_dim)
    generator = torch.Generator().manual_seed(cfg.seed)
    holder = torch.nn.Module()
    holder.actor, holder.critic, holder.target_critic = actor, critic, target_critic
    holder.log_temperature = log_temperature
    stateful = {"model": holder, "actor_optimizer": actor_optimizer, "critic_optimizer": critic_optimizer,
                "temperature_optimizer": temperature_optimizer, "buffer": buffer}

    start, episode, curve, episode_returns = 0, 0, [], []
    if run_dir is not None:
        run_dir.write_config(cfg, "decoupled_regularization", "custom")
        if run_dir.has_checkpoint():
            start, extra = load_training_state(run_dir.checkpoint_path, stateful, generator)
            episode, curve, episode_returns = extra["episode"], extra["curve"], extra["episode_returns"]
    h_max, h_min = box_entropy_range(low, high)
    tracker.start(cfg.total_steps, start, f"sac {cfg.temperature} {cfg.env.name} d={action_dim}")
    obs_np, _ = env.reset(seed=cfg.seed * EPISODE_SEED_STRIDE + episode)
    obs, episode_return, last_checkpoint = torch.as_tensor(obs_np), 0.0, start
    info: dict[str, torch.Tensor] = {}
    began, last_log, train_seconds = time.perf_counter(), start, 0.0
    for step in range(start, cfg.total_steps):
        tick = time.perf_counter()
        if step < cfg.learning_starts:
            action = low + (high - low) * torch.rand(action_dim, generator=generator)
        else:
            with torch.no_grad():
                action = actor(obs[None].to(device), generator).action[0].cpu()
        next_np, reward, terminated, truncated, _ = env.step(action.numpy())
        next_obs = torch.as_tensor(next_np)
        buffer.add(obs[None], action[None], torch.tensor([reward]), next_obs[None], torch.tensor([terminated]))
        obs, episode_return = next_obs, episode_return + float(reward)

        if step >= cfg.learning_starts:
            batch = buffer.sample(cfg.batch_size, generator)
            if device.type != "cpu":
                batch = type(batch)(*(x.to(device) for x in batch))
            info = sac_update(sac, batch, cfg.gamma, cfg.policy_frequency, cfg.target_ema, target_entropy,
                              generator, update_actor=step % cfg.policy_frequency == 0)
        train_seconds += time.perf_counter() - tick

        done = step + 1
        if terminated or truncated:
            episode_returns.append(episode_return)
            tracker.log(done, {"train/episode_return": episode_return})
            episode += 1
            obs_np, _ = env.reset(seed=cfg.seed * EPISODE_SEED_STRIDE + episode)
            obs, episode_return = torch.as_tensor(obs_np), 0.0
        if done % cfg.eval_every == 0 or done == cfg.total_steps:
            actor.cpu()
            record = {"step": done, "eval/return": evaluate_policy(lambda o: actor(o).mean_action, eval_env,
                                                                   cfg.eval_episodes, cfg.seed * EPISODE_SEED_STRIDE + 50_000),
                      "eval/temperature": float(log_temperature.detach().exp())}
            actor.to(device)
            curve.append(record)
            tracker.log(done, {k: v for k, v in record.items() if k != "step"})
        if done % cfg.log_every == 0 and info:
            elapsed = time.perf_counter() - began
            tracker.log(done, {**{k: float(v) for k, v in info.items()},
                               "time/steps_per_sec": (done - last_log) / max(elapsed, 1e-9)})
            began, last_log = time.perf_counter(), done
        at_episode_start = terminated or truncated  # the env was just reset from a seed: resumable here
        if (run_dir is not None and at_episode_start and done - last_checkpoint >= cfg.checkpoint_every
                and done < cfg.total_steps):
            save_training_state(run_dir.checkpoint_path, done, stateful, generator,
                                {"episode": episode, "curve": curve, "episode_returns": episode_returns})
            last_checkpoint = done

    recent = episode_returns[-5:] or [float("nan")]
    summary = {"method": "decoupled_regularization", "agent": "sac", "env": cfg.env.name,
               "action_dim": action_dim, "action_scale": cfg.env.action_scale, "temperature_scheme": cfg.temperature,
               "seed": cfg.seed, "steps": cfg.total_steps, "entropy_max": h_max, "entropy_min": h_min,
               "entropy_target": target_entropy, "eval/return": curve[-1]["eval/return"],
               "eval/temperature": curve[-1]["eval/temperature"], "train/recent_episode_return": float(np.mean(recent))}
    tracker.log(cfg.total_steps, {"time/train_seconds": train_seconds})
    tracker.close()
    if run_dir is not None:
        run_dir.write_curve(curve)
        run_dir.write_summary(summary)
    return TrainResult(summary, curve, {"actor": actor, "critic": critic, "train_seconds": train_seconds})
