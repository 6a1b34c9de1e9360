"""Soft Q-learning (a soft DQN with a Polyak target) on the tabular tasks (escape grid, distractor chain),
one-hot states, masked actions and a per-state temperature, evaluated exactly against soft value
iteration."""

from __future__ import annotations

import copy

import torch

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.device import require_cpu
from anthology.core.errors import AnthologyError
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.core.seeding import seed_everything
from anthology.envs.distractor_chain import DistractorChain
from anthology.envs.escape_grid import EscapeGrid
from anthology.envs.tabular import TabularMDP
from anthology.nets.mlp import make_mlp
from anthology.rl.replay_buffer import ReplayBuffer
from anthology.rl.sac import polyak_update
from anthology.rl.soft_q import (
    normalised_entropy,
    soft_policy,
    soft_q_loss,
    soft_q_target,
    soft_value_iteration,
)
from anthology.rl.temperature import static_discrete_temperature
from anthology.tracking import Tracker, make_tracker

from .config import Config, EnvConfig


def make_tabular_task(cfg: EnvConfig) -> EscapeGrid | DistractorChain:
    if cfg.name == "escape_grid":
        return EscapeGrid(cfg.escape_dims, cfg.escape_width)
    return DistractorChain(cfg.chain)


@torch.no_grad()
def evaluate_soft_q(task: EscapeGrid | DistractorChain, mdp: TabularMDP, q_net: torch.nn.Module,
                    temperature: torch.Tensor, optimal_policy: torch.Tensor) -> dict[str, float]:
    """Exact evaluation of the learned soft-greedy policy softmax(Q / tau(s)) on every state."""
    q = q_net(mdp.observe(torch.arange(mdp.n_states)))
    policy = soft_policy(q, mdp.mask, temperature)
    live = ~mdp.terminal
    total_variation = 0.5 * (policy - optimal_policy).abs().sum(-1)[live]
    normalised = normalised_entropy(policy[live], mdp.mask[live])
    return {"expected_length": task.expected_length(policy), "policy_tv_mean": float(total_variation.mean()),
            "policy_tv_max": float(total_variation.max()), "normalised_entropy_mean": float(normalised.mean())}


def train_soft_q(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None) -> TrainResult:
    """Soft Q-learning (a soft DQN with a Polyak target) on a tabular task, one-hot states, masked actions."""
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    require_cpu(cfg.device, "soft Q-learning on tabular tasks", "a one-hot MLP of this size gains nothing on a GPU")
    task = make_tabular_task(cfg.env)
    mdp = TabularMDP(task)
    n_valid = mdp.mask.sum(-1)
    temperature = (static_discrete_temperature(cfg.tau, n_valid) if cfg.temperature == "static"
                   else torch.full((mdp.n_states,), cfg.tau, dtype=torch.float64)).float()
    try:
        _, optimal_q = soft_value_iteration(mdp.reward, mdp.next_state, mdp.mask, mdp.terminal, temperature.double(),
                                            cfg.gamma)
    except ArithmeticError as err:
        raise AnthologyError(f"{err} (the exact soft optimum this run is compared with does not exist)") from err
    optimal_policy = soft_policy(optimal_q.float(), mdp.mask, temperature)
    q_net = make_mlp(mdp.n_states, cfg.hidden, mdp.n_actions, activation="relu")
    target_net = copy.deepcopy(q_net).requires_grad_(False)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=cfg.lr_q)
    buffer = ReplayBuffer(min(cfg.buffer_size, cfg.total_steps), mdp.n_states, 1, action_dtype=torch.long)
    generator = torch.Generator().manual_seed(cfg.seed)
    holder = torch.nn.Module()
    holder.q_net, holder.target_net = q_net, target_net
    stateful = {"model": holder, "optimizer": optimizer, "buffer": buffer}
    start, curve, state_index, episode_steps = 0, [], mdp.start, 0
    if run_dir is not None:
        run_dir.write_config(cfg, "decoupled_regularization", "custom")
        if run_dir.has_checkpoint():
            start, extra = load_training_state(run_dir.checkpoint_path, stateful, generator)
            curve, state_index, episode_steps = extra["curve"], extra["state"], extra["episode_steps"]
    tracker.start(cfg.total_steps, start, f"soft-q {cfg.temperature} {cfg.env.name}")
    info: dict[str, torch.Tensor] = {}
    for step in range(start, cfg.total_steps):
        state = torch.tensor([state_index])
        with torch.no_grad():
            if step < cfg.learning_starts:
                probs = mdp.mask[state].float()
            else:
                probs = soft_policy(q_net(mdp.observe(state)), mdp.mask[state], temperature[state])
            action = torch.multinomial(probs, 1, generator=generator)[:, 0]
        moved = mdp.step(state, action)
        episode_steps += 1
        buffer.add(mdp.observe(state), action[:, None], moved.reward, mdp.observe(moved.next_state), moved.terminated)
        if bool(moved.terminated) or episode_steps >= cfg.env.max_episode_steps:
            state_index, episode_steps = mdp.start, 0
        else:
            state_index = int(moved.next_state)

        if step >= cfg.learning_starts:
            batch = buffer.sample(cfg.batch_size, generator)
            next_index = batch.next_obs.argmax(-1)
            with torch.no_grad():
                target = soft_q_target(batch.reward, batch.done, target_net(batch.next_obs), mdp.mask[next_index],
                                       temperature[next_index], cfg.gamma)
            q_sa = q_net(batch.obs).gather(1, batch.action)[:, 0]
            loss, info = soft_q_loss(q_sa, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            polyak_update(target_net, q_net, cfg.target_ema)
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.total_steps:
            evaluation = evaluate_soft_q(task, mdp, q_net, temperature, optimal_policy)
            record = {"step": done, **{f"eval/{k}": v for k, v in evaluation.items()}}
            curve.append(record)
            tracker.log(done, {k: v for k, v in record.items() if k != "step"})
        if done % cfg.log_every == 0 and info:
            tracker.log(done, {k: float(v) for k, v in info.items()})
        if run_dir is not None and done % cfg.checkpoint_every == 0 and done < cfg.total_steps:
            save_training_state(run_dir.checkpoint_path, done, stateful, generator,
                                {"curve": curve, "state": state_index, "episode_steps": episode_steps})

    optimal_length = task.expected_length(optimal_policy)
    summary = {"method": "decoupled_regularization", "agent": "soft_q", "env": cfg.env.name,
               "temperature_scheme": cfg.temperature, "tau": cfg.tau, "seed": cfg.seed, "steps": cfg.total_steps,
               "optimal_expected_length": optimal_length,
               **{k: v for k, v in curve[-1].items() if k != "step"}}
    tracker.close()
    if run_dir is not None:
        run_dir.write_curve(curve)
        run_dir.write_summary(summary)
    return TrainResult(summary, curve, {"q_net": q_net})

