"""The online loop of Actions World Models: act in the real task, fit the world model, improve the
policy by backpropagating imagined returns through it."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import torch

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.device import resolve_device
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.core.seeding import seed_everything
from anthology.envs.control_tasks import make_control_task
from anthology.nets.mlp import make_mlp
from anthology.rl.sac import polyak_update
from anthology.tracking import Tracker, make_tracker

from .config import Config
from .episodes import collect_episode, evaluate, sample_episodes
from .first_action import (
    LANDSCAPE_FILE,
    LANDSCAPE_TASK,
    first_action_landscape,
    train_first_action,
)
from .losses import (
    Episodes,
    Simulator,
    bpo_loss,
    gradient_agreement,
    policy_gradient,
    svg_critic_loss,
    svg_policy_loss,
    world_model_loss,
)
from .networks import make_policy, make_world_model
from .sac_baseline import train_sac


def train(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None) -> TrainResult:
    """Actions World Models with backpropagation-based policy optimisation (Ma, Ni, Gehring, D'Oro,
    Bacon, "Do Transformer World Models Give Better Policy Gradients?", ICML 2024).

    An Actions World Model predicts every state of an episode from the initial state and the actions
    alone, ŝ_{t+1} = f(s_1, a_1..a_t) (a causal transformer by default), so the gradient of a late reward
    reaches an early action in one attention hop instead of through every intermediate prediction. The
    loop: collect real episodes (random during warm-up), fit the world model by regression on whole
    episodes every `model_every` steps, and every `policy_every` steps roll the policy out in the model
    from real initial states and ascend the imagined return plus an entropy bonus (the known reward,
    no critic, no discount). `method` swaps the model: the history transformer (fed its own
    predictions), the one-step Markov model, or the true simulator (BPTT, the reference gradient). Each
    policy update can also log the cosine similarity of its gradient with the simulator's.

    CLI: `anthology train awm --preset demo --task double_pendulum --horizon 80`.
    `method` svg is SVG(k) with a one-step model and a critic, and sac the model-free baseline.
    Left out: the learned reward head (the paper uses the known reward) and the official code's S4 core.

    When `run_dir` holds a checkpoint, training resumes from it and ends with the same result as an
    uninterrupted run of the same config.
    """
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    task = make_control_task(cfg.task, cfg.horizon)
    if cfg.method == "sac":
        return train_sac(cfg, task, tracker, run_dir, device)
    model = make_world_model(cfg, task)
    if cfg.schedule == "first_action":
        if model is not None:
            model.to(device)
        return train_first_action(cfg, task, model, tracker, run_dir, device)
    policy = make_policy(cfg, task)
    simulator = Simulator(task)
    dynamics = simulator if model is None else model
    policy_optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.policy_lr)
    stateful: dict[str, Any] = {"policy": policy, "policy_optimizer": policy_optimizer}
    model_optimizer = None
    if model is not None:
        model_optimizer = torch.optim.Adam(model.parameters(), lr=cfg.world_model.lr)
        stateful |= {"model": model, "model_optimizer": model_optimizer}
    critic = target_critic = critic_optimizer = None
    if cfg.method == "svg":
        critic = make_mlp(task.state_dim, cfg.policy_hidden, 1, activation="relu").to(device)
        target_critic = copy.deepcopy(critic).requires_grad_(False)
        critic_optimizer = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)
        stateful |= {"critic": critic, "target_critic": target_critic, "critic_optimizer": critic_optimizer}
    if device.type != "cpu":
        for module in (policy, model):
            if module is not None:
                module.to(device)
    generator = torch.Generator().manual_seed(cfg.seed)
    episodes_total = -(-cfg.env_steps // cfg.horizon)
    eval_episodes = max(1, -(-cfg.eval_every // cfg.horizon))

    buffer = Episodes(torch.zeros(0, cfg.horizon + 1, task.state_dim, device=device),
                      torch.zeros(0, cfg.horizon, task.action_dim, device=device))
    history: dict[str, list[float]] = {"grad_cosine": [], "grad_l2_error": [], "model_loss": []}
    evaluations: list[dict[str, float]] = []
    start, policy_updates, compared = 0, 0, 0  # compared: gradient comparisons folded into an evaluation
    if run_dir is not None:
        run_dir.write_config(cfg, "awm", "custom")
        if run_dir.has_checkpoint():
            start, extra = load_training_state(run_dir.checkpoint_path, stateful, generator)
            buffer = Episodes(extra["states"].to(device), extra["actions"].to(device))
            history, evaluations, policy_updates = extra["history"], extra["evaluations"], extra["policy_updates"]
            compared = extra["compared"]
    tracker.start(episodes_total, start, f"{cfg.task} H={cfg.horizon} {cfg.method}")
    began = time.perf_counter()
    for episode in range(start, episodes_total):
        first_step, last_step = episode * cfg.horizon, (episode + 1) * cfg.horizon
        acting = None if first_step < cfg.warmup_steps else policy
        new, real_returns = collect_episode(task, acting, generator, device=device)
        buffer = Episodes(torch.cat([buffer.states, new.states]), torch.cat([buffer.actions, new.actions]))
        info: dict[str, float] = {"train/episode_return": float(real_returns[0])}
        for step in range(first_step + 1, last_step + 1):
            if step <= cfg.warmup_steps:
                continue
            if model is not None and model_optimizer is not None and step % cfg.model_every == 0:
                model.train()
                loss, model_info = world_model_loss(model, sample_episodes(buffer, cfg.world_model.batch, generator))
                model_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                model_optimizer.step()
                history["model_loss"].append(loss.item())
                info |= {k: v.item() for k, v in model_info.items()}
                if critic is not None and critic_optimizer is not None and target_critic is not None:
                    loss, critic_info = svg_critic_loss(critic, target_critic, policy, model, task,
                                                        sample_episodes(buffer, cfg.world_model.batch, generator),
                                                        cfg.gamma, generator)
                    critic_optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    critic_optimizer.step()
                    polyak_update(target_critic, critic, 0.005)
                    info |= {k: v.item() for k, v in critic_info.items()}
            if step % cfg.policy_every == 0:
                if model is not None:
                    model.eval()  # no dropout while imagining
                s1 = sample_episodes(buffer, cfg.policy_batch, generator).states[:, 0]
                noise_seed = int(torch.randint(2**62, (1,), generator=generator))
                if cfg.compare_gradients and model is not None and critic is None:
                    estimate, _ = policy_gradient(policy, dynamics, task, s1, cfg.entropy_coef, noise_seed)
                    reference, _ = policy_gradient(policy, simulator, task, s1, cfg.entropy_coef, noise_seed)
                    agreement = gradient_agreement(estimate, reference)
                    history["grad_cosine"].append(agreement["train/grad_cosine"])
                    history["grad_l2_error"].append(agreement["train/grad_l2_error"])
                    info |= agreement
                noise = torch.Generator(device=device).manual_seed(noise_seed)
                if critic is None:
                    loss, policy_info = bpo_loss(policy, dynamics, task, s1, cfg.entropy_coef, noise)
                else:  # SVG: from real states at a random step, a short model unroll and the critic
                    at = int(torch.randint(task.horizon, (1,), generator=generator))
                    starts = sample_episodes(buffer, cfg.policy_batch, generator).states[:, at]
                    loss, policy_info = svg_policy_loss(policy, dynamics, critic, task, starts, at, cfg.svg_unroll,
                                                        cfg.gamma, cfg.svg_bp_discount, cfg.entropy_coef, noise)
                policy_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
                policy_optimizer.step()
                policy_updates += 1
                info |= {k: v.item() for k, v in policy_info.items()} | {"train/policy_grad_norm": float(grad_norm)}
        done = episode + 1
        if done % eval_episodes == 0 or done == episodes_total:
            evaluation = {"step": min(last_step, cfg.env_steps), **evaluate(task, policy, cfg, device)}
            since = history["grad_cosine"][compared:]
            if since:  # the gradients' agreement with the simulator's since the previous evaluation
                evaluation["train/grad_cosine"] = sum(since) / len(since)
            compared = len(history["grad_cosine"])
            evaluations.append(evaluation)
            info |= {k: v for k, v in evaluation.items() if k != "step"}
        if done % cfg.log_every == 0 or done == episodes_total:
            elapsed = time.perf_counter() - began
            tracker.log(done, {**info, "time/episodes_per_sec": 1.0 / max(elapsed, 1e-9),
                               "train/policy_updates": float(policy_updates)})
        began = time.perf_counter()
        if run_dir is not None and done % cfg.checkpoint_every == 0 and done < episodes_total:
            save_training_state(run_dir.checkpoint_path, done, stateful, generator,
                                {"states": buffer.states.cpu(), "actions": buffer.actions.cpu(), "history": history,
                                 "evaluations": evaluations, "policy_updates": policy_updates,
                                 "compared": compared})

    final = evaluations[-1]
    summary: dict[str, Any] = {"method": "awm", "task": cfg.task, "horizon": cfg.horizon, "model": cfg.method,
                               "core": cfg.world_model.core, "seed": cfg.seed, "env_steps": cfg.env_steps,
                               "policy_updates": policy_updates,
                               **{k: v for k, v in final.items() if k.startswith("eval/")}}
    for key, values in history.items():
        if values:
            summary[f"final/{key}_mean"] = sum(values) / len(values)
    landscape = None
    if cfg.task == LANDSCAPE_TASK and model is not None:
        landscape = first_action_landscape(task, model, device)
        summary |= {"eval/landscape_tv_true": landscape["tv_true"], "eval/landscape_tv_model": landscape["tv_model"]}
    tracker.log(episodes_total, {k: v for k, v in summary.items() if k.startswith(("eval/", "final/"))})
    tracker.close()
    if run_dir is not None:
        if landscape is not None:
            (run_dir.path / LANDSCAPE_FILE).write_text(json.dumps(landscape))
        run_dir.write_curve(evaluations)
        run_dir.write_summary(summary)
    artifacts = {"policy": policy, "landscape": landscape} | ({} if model is None else {"model": model})
    return TrainResult(summary, evaluations, artifacts)
