"""Real episodes: collected from the task (random or by the policy) and sampled for the model's updates."""

from __future__ import annotations

from typing import Any

import torch

from anthology.rl.actor_critic import SquashedGaussianActor

from .config import Config
from .losses import Episodes

EVAL_SEED_OFFSET = 1_000_003  # evaluation states (and the first-action schedule's starts) have their own stream


@torch.no_grad()
def collect_episode(task: Any, policy: SquashedGaussianActor | None, generator: torch.Generator,
                    count: int = 1, deterministic: bool = False, device: torch.device | None = None
                    ) -> tuple[Episodes, torch.Tensor]:
    """`count` real episodes; uniformly random actions when `policy` is None. Returns the episodes and
    their true returns [count]. The generator is a CPU one (what checkpoints capture)."""
    device = device or torch.device("cpu")
    state = task.initial_state(count, generator).to(device)
    low, high = torch.tensor(task.action_low, device=device), torch.tensor(task.action_high, device=device)
    states, actions, total = [state], [], torch.zeros(count, device=device)
    for t in range(task.horizon):
        if policy is None:
            action = low + (high - low) * torch.rand(count, task.action_dim, generator=generator).to(device)
        else:
            sample = policy(state, generator)
            action = sample.mean_action if deterministic else sample.action
        next_state = task.step(state, action, t)
        total += task.reward(state, action, next_state, t)
        states.append(next_state)
        actions.append(action)
        state = next_state
    return Episodes(torch.stack(states, 1), torch.stack(actions, 1)), total


def sample_episodes(buffer: Episodes, size: int, generator: torch.Generator) -> Episodes:
    index = torch.randint(buffer.states.shape[0], (size,), generator=generator).to(buffer.states.device)
    return Episodes(buffer.states[index], buffer.actions[index])


def evaluate(task: Any, policy: SquashedGaussianActor, cfg: Config, device: torch.device) -> dict[str, float]:
    """True return of the policy's mean action on held-out initial states (and, where the task has a
    reference optimum, the return normalised by it)."""
    generator = torch.Generator().manual_seed(cfg.seed + EVAL_SEED_OFFSET)
    _, returns = collect_episode(task, policy, generator, cfg.eval_episodes, deterministic=True, device=device)
    metrics = {"eval/return": float(returns.mean()), "eval/return_std": float(returns.std(unbiased=False))}
    normalise = getattr(task, "normalised_return", None)
    if normalise is not None:
        metrics["eval/normalised_return"] = float(normalise(returns.cpu()).mean())
    return metrics
