"""The loop of minimal self-predictive RL: TD3 on a learned encoder with the ZP (or OP) loss beside it."""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.device import resolve_device
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.core.seeding import seed_everything
from anthology.envs.gym_make import make_gym_env
from anthology.rl.evaluation import EPISODE_SEED_STRIDE, evaluate_policy
from anthology.rl.replay_buffer import ReplayBuffer
from anthology.rl.sac import polyak_update
from anthology.rl.td3 import add_exploration_noise, linear_schedule, td3_target_action
from anthology.tracking import Tracker, make_tracker

from .config import Config
from .losses import (
    collapse_diagnostics,
    latent_actor_loss,
    latent_critic_loss,
    op_loss,
    sample,
    zp_loss,
)
from .networks import Encoder, LatentActor, TransitionModel, TwinCritic
from .recurrent import RecurrentConfig, train_recurrent

EVAL_SEED = 50_000


def make_env(cfg: Config) -> Any:
    env = make_gym_env(cfg.env)
    if cfg.distractors:
        from anthology.envs.distractors import GaussianDistractors

        env = GaussianDistractors(env, cfg.distractors, cfg.distractor_scale)
    return env


def encode(encoder: Encoder, obs: torch.Tensor) -> torch.Tensor:
    """The latent the actor acts on: z, or the mean of a Gaussian encoder."""
    out = encoder(obs)
    return out if isinstance(out, torch.Tensor) else out.mean


def train(cfg: Config | RecurrentConfig, tracker: Tracker | None = None, run_dir: RunDir | None = None
          ) -> TrainResult:
    """Minimal self-predictive RL (Ni, Eysenbach, SeyedSalehi, Ma, Gehring, Mahajan, Bacon, "Bridging
    State and History Representations: Understanding Self-Predictive RL", ICLR 2024).

    An encoder z = φ(s) is learned end to end by TD3's critic loss, by the actor's loss through the
    actor's input, and by an auxiliary loss: ZP makes a latent model P_z(z'|z, a) predict the encoding
    of the next state, whose target is the EMA encoder's (or a detached or online encoding); OP predicts
    the next observation instead; `aux none` is the model-free baseline. TD3 runs on z as the official
    code runs it: exploration noise decaying from 1.0 to 0.1, target actions from the online actor on
    the EMA encoder's z' with clipped smoothing noise, twin LayerNorm critics, no reward model, no
    planning. Each update logs the rank of the latent batch (collapse diagnostics).

    CLI: `anthology train self_predictive --preset demo --aux zp --distractors 64`.
    Left out: the KL forms' learned coefficient (`aux_coef` as a constraint) and ALM's reward model.
    A `RecurrentConfig` (the MiniGrid presets) runs the POMDP part instead: `recurrent.train_recurrent`.
    """
    if isinstance(cfg, RecurrentConfig):
        return train_recurrent(cfg, tracker, run_dir)
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    env, eval_env = make_env(cfg), make_env(cfg)
    obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
    low, high = torch.as_tensor(env.action_space.low), torch.as_tensor(env.action_space.high)
    stochastic = cfg.form != "l2"
    encoder = Encoder(obs_dim, cfg.encoder_hidden, cfg.latent, stochastic).to(device)
    target_encoder = copy.deepcopy(encoder).requires_grad_(False)
    model = TransitionModel(cfg.latent, action_dim, cfg.model_hidden, obs_dim if cfg.aux == "op" else cfg.latent,
                            stochastic).to(device)
    actor = LatentActor(cfg.latent, low, high, cfg.actor_hidden).to(device)
    critic = TwinCritic(cfg.latent, action_dim, cfg.critic_hidden).to(device)
    target_critic = copy.deepcopy(critic).requires_grad_(False)
    representation = [*encoder.parameters(), *model.parameters()]
    # foreach: one kernel per step for all of a module's tensors (a quarter of an update's time on CPU)
    model_optimizer = torch.optim.Adam(representation, lr=cfg.lr, foreach=True)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=cfg.lr, foreach=True)
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=cfg.lr, foreach=True)
    buffer = ReplayBuffer(min(cfg.buffer_size, cfg.total_steps), obs_dim, action_dim)
    generator = torch.Generator().manual_seed(cfg.seed)
    holder = torch.nn.ModuleDict({"encoder": encoder, "target_encoder": target_encoder, "model": model,
                                  "actor": actor, "critic": critic, "target_critic": target_critic})
    stateful = {"model": holder, "model_optimizer": model_optimizer, "critic_optimizer": critic_optimizer,
                "actor_optimizer": actor_optimizer, "buffer": buffer}

    start, episode, curve, episode_returns = 0, 0, [], []
    if run_dir is not None:
        run_dir.write_config(cfg, "self_predictive", "custom")
        if run_dir.has_checkpoint():
            start, extra = load_training_state(run_dir.checkpoint_path, stateful, generator)
            episode, curve, episode_returns = extra["episode"], extra["curve"], extra["episode_returns"]
    tracker.start(cfg.total_steps, start, f"{cfg.aux} {cfg.form}/{cfg.target} {cfg.env} d={cfg.distractors}")
    obs_np, _ = env.reset(seed=cfg.seed * EPISODE_SEED_STRIDE + episode)
    obs, episode_return, last_checkpoint = torch.as_tensor(obs_np, dtype=torch.float32), 0.0, start
    info: dict[str, float] = {}
    began, last_log = time.perf_counter(), start
    for step in range(start, cfg.total_steps):
        std = linear_schedule(step, cfg.explore_start, cfg.explore_end, cfg.explore_steps)
        if step < cfg.warmup_steps:
            action = low + (high - low) * torch.rand(action_dim, generator=generator)
        else:
            with torch.no_grad():
                mean = actor(encode(encoder, obs[None].to(device)))[0].cpu()
            action = add_exploration_noise(mean, std, low, high, generator)
        next_np, reward, terminated, truncated, _ = env.step(action.numpy())
        next_obs = torch.as_tensor(next_np, dtype=torch.float32)
        buffer.add(obs[None], action[None], torch.tensor([float(reward)]), next_obs[None], torch.tensor([terminated]))
        obs, episode_return = next_obs, episode_return + float(reward)

        done = step + 1
        if step >= cfg.warmup_steps:
            info = update(cfg, encoder, target_encoder, model, actor, critic, target_critic, model_optimizer,
                          critic_optimizer, actor_optimizer, buffer, std, low.to(device), high.to(device),
                          generator, device, diagnose=done % cfg.log_every == 0)
        if terminated or truncated:
            episode_returns.append(episode_return)
            tracker.log(done, {"train/episode_return": episode_return})
            episode += 1
            obs_np, _ = env.reset(seed=cfg.seed * EPISODE_SEED_STRIDE + episode)
            obs, episode_return = torch.as_tensor(obs_np, dtype=torch.float32), 0.0
        if done % cfg.eval_every == 0 or done == cfg.total_steps:
            encoder.cpu(), actor.cpu()
            record = {"step": done, "eval/return": evaluate_policy(lambda o: actor(encode(encoder, o)), eval_env,
                                                                   cfg.eval_episodes,
                                                                   cfg.seed * EPISODE_SEED_STRIDE + EVAL_SEED)}
            record |= {k: v for k, v in info.items() if k.startswith("train/rank") or k == "train/condition"}
            encoder.to(device)
            actor.to(device)
            curve.append(record)
            tracker.log(done, {k: v for k, v in record.items() if k != "step"})
        if done % cfg.log_every == 0 and info:
            elapsed = time.perf_counter() - began
            tracker.log(done, {**info, "time/steps_per_sec": (done - last_log) / max(elapsed, 1e-9)})
            began, last_log = time.perf_counter(), done
        at_episode_start = terminated or truncated  # the env was just reset from a seed: resumable here
        if (run_dir is not None and at_episode_start and done - last_checkpoint >= cfg.checkpoint_every
                and done < cfg.total_steps):
            save_training_state(run_dir.checkpoint_path, done, stateful, generator,
                                {"episode": episode, "curve": curve, "episode_returns": episode_returns})
            last_checkpoint = done

    final = curve[-1]
    summary = {"method": "self_predictive", "env": cfg.env, "distractors": cfg.distractors, "aux": cfg.aux,
               "form": cfg.form, "target": cfg.target, "seed": cfg.seed, "steps": cfg.total_steps,
               **{k: v for k, v in final.items() if k != "step"},
               "train/recent_episode_return": float(np.mean(episode_returns[-5:] or [float("nan")]))}
    tracker.close()
    if run_dir is not None:
        run_dir.write_curve(curve)
        run_dir.write_summary(summary)
    return TrainResult(summary, curve, {"encoder": encoder, "actor": actor, "critic": critic, "model": model})


def update(cfg: Config, encoder: Encoder, target_encoder: Encoder, model: TransitionModel, actor: LatentActor,
           critic: TwinCritic, target_critic: TwinCritic, model_optimizer: torch.optim.Optimizer,
           critic_optimizer: torch.optim.Optimizer, actor_optimizer: torch.optim.Optimizer, buffer: ReplayBuffer,
           std: float, low: torch.Tensor, high: torch.Tensor, generator: torch.Generator, device: torch.device,
           diagnose: bool) -> dict[str, float]:
    """One update, in the official order: the representation step (auxiliary loss plus the actor's loss
    through its input), then the critic (whose TD loss also trains the encoder), then the actor on the
    detached latent, then the EMA encoder and target critics."""
    info: dict[str, float] = {}
    representation = model_optimizer.param_groups[0]["params"]  # the encoder's and the model's

    # representation: aux_coef * ZP/OP + -min Q(sg z, π(z) + ε), the critic frozen
    batch = buffer.sample(cfg.batch_size, generator)
    batch = type(batch)(*(x.to(device) for x in batch))
    z = sample(encoder(batch.obs))
    if diagnose:
        info |= collapse_diagnostics(z.detach())
    loss = torch.zeros((), device=device)
    if cfg.aux == "zp":
        if cfg.target == "online":
            target = encoder(batch.next_obs)
        else:
            with torch.no_grad():
                target = (target_encoder if cfg.target == "ema" else encoder)(batch.next_obs)
        distance, aux_info = zp_loss(model(z, batch.action), target, cfg.form)
        loss = loss + cfg.aux_coef * distance.mean()
        info |= {k: float(v) for k, v in aux_info.items()}
    elif cfg.aux == "op":
        distance, aux_info = op_loss(model(z, batch.action), batch.next_obs, cfg.form)
        loss = loss + cfg.aux_coef * distance.mean()
        info |= {k: float(v) for k, v in aux_info.items()}
    critic.requires_grad_(False)
    action = td3_target_action(actor(z), std, cfg.noise_clip, low, high, generator)
    actor_term, _ = latent_actor_loss(critic(z.detach(), action))
    critic.requires_grad_(True)
    model_optimizer.zero_grad(set_to_none=True)
    (loss + actor_term).backward()
    torch.nn.utils.clip_grad_norm_(representation, cfg.max_grad_norm, foreach=True)
    model_optimizer.step()

    # critic, its TD loss reaching the encoder through z
    batch = buffer.sample(cfg.batch_size, generator)
    batch = type(batch)(*(x.to(device) for x in batch))
    z = sample(encoder(batch.obs))
    with torch.no_grad():
        next_z = sample(target_encoder(batch.next_obs))
        next_action = td3_target_action(actor(next_z), std, cfg.noise_clip, low, high, generator)
        next_q = target_critic(next_z, next_action)
    critic_loss, critic_info = latent_critic_loss(critic(z, batch.action), batch.reward, batch.done, next_q,
                                                  cfg.gamma)
    model_optimizer.zero_grad(set_to_none=True)
    critic_optimizer.zero_grad(set_to_none=True)
    critic_loss.backward()
    torch.nn.utils.clip_grad_norm_(critic.parameters(), cfg.max_grad_norm, foreach=True)
    critic_optimizer.step()
    torch.nn.utils.clip_grad_norm_(representation, cfg.max_grad_norm, foreach=True)
    model_optimizer.step()

    # actor on the detached latent
    z = z.detach()
    critic.requires_grad_(False)
    action = td3_target_action(actor(z), std, cfg.noise_clip, low, high, generator)
    actor_loss, actor_info = latent_actor_loss(critic(z, action))
    critic.requires_grad_(True)
    actor_optimizer.zero_grad(set_to_none=True)
    actor_loss.backward()
    torch.nn.utils.clip_grad_norm_(actor.parameters(), cfg.max_grad_norm, foreach=True)
    actor_optimizer.step()

    polyak_update(target_encoder, encoder, cfg.tau)
    polyak_update(target_critic, critic, cfg.tau)
    return info | {k: float(v) for k, v in (critic_info | actor_info).items()}
