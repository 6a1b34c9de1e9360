"""REINFORCE leave-one-out (RLOO; Ahmadian et al. 2024) for causal language models, as TRL's
`RLOOTrainer` implements it.

k samples are drawn for each prompt. Each sample's reward is the task's score minus beta times the
sequence log-ratio to a frozen reference model; its baseline is the mean reward of the other k - 1
samples for the same prompt; the policy loss is PPO's clipped surrogate on the sequence-level ratio.
`rloo_finetune` is the loop; `rloo_advantages` and `rloo_loss` its two formulas.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

from anthology.core.config import validate
from anthology.nets.causal_lm import continuation_mask, sample, sequence_log_probs, set_trainable


@dataclasses.dataclass(frozen=True)
class RLOOConfig:
    """RLOO (as TRL's RLOOTrainer): k samples per prompt, leave-one-out baseline, clipped sequence ratio."""

    steps: int = 50
    prompts: int = 16
    """Prompts per step; each is sampled k times (batch = prompts x k)."""
    k: int = 4
    lr: float = 1e-4
    beta: float = 0.2
    """KL coefficient to the reference model, subtracted from the reward (Mol-MoE's experts: 0.2; router: 0.05)."""
    clip: float = 0.2
    ppo_epochs: int = 2
    minibatch: int = 64
    patience: int = 0
    """Early stopping: stop once the smoothed total reward has not beaten its best by `min_delta` for
    this many steps (0: always run `steps`; Mol-MoE's release stops after 50 logs without a +0.025 gain)."""
    min_delta: float = 0.0
    smoothing: int = 10
    """Steps the total reward is averaged over for early stopping."""

    def __post_init__(self) -> None:
        validate(self, lr=">0", beta=">=0", clip=">0", patience=">=0", min_delta=">=0", smoothing=">0")


class EarlyStop:
    """The stopping rule of `RLOOConfig.patience`: a moving average of the last `smoothing` rewards that
    has not risen `min_delta` above its best for `patience` steps."""

    def __init__(self, patience: int, min_delta: float, smoothing: int) -> None:
        self.patience, self.min_delta, self.smoothing = patience, min_delta, smoothing
        self.recent: list[float] = []
        self.best = -math.inf
        self.since = 0

    def __call__(self, reward: float) -> bool:
        """Record one step's reward; True when training should stop."""
        self.recent = [*self.recent, reward][-self.smoothing:]
        if len(self.recent) < self.smoothing:
            return False
        smoothed = sum(self.recent) / len(self.recent)
        if smoothed > self.best + self.min_delta:
            self.best, self.since = smoothed, 0
        else:
            self.since += 1
        return self.patience > 0 and self.since >= self.patience


@dataclasses.dataclass(frozen=True)
class Sampling:
    """How continuations are drawn (`nets.causal_lm.sample`) and therefore scored."""

    max_new_tokens: int
    eos_id: int
    pad_id: int
    temperature: float = 1.0
    top_p: float = 1.0
    suppress: torch.Tensor | None = None
    """Ids a continuation may never contain."""


Prompts = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
"""(n, generator) -> (prompt ids [n, P], a context row per prompt [n, ...], e.g. its preference)."""
Reward = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, float]]]
"""(continuations [N, T], the context of each [N, ...]) -> (task reward [N], metrics to log)."""


def rloo_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """A_j = R_j - 1/(k-1) sum_{l != j} R_l for rewards [n_prompts, k] (k >= 2)."""
    k = rewards.shape[-1]
    if k < 2:
        raise ValueError("RLOO needs at least two samples per prompt")
    return rewards - (rewards.sum(-1, keepdim=True) - rewards) / (k - 1)


def rloo_loss(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
              clip: float = 0.2) -> tuple[torch.Tensor, dict[str, Any]]:
    """-E[min(rho A, clip(rho, 1 - clip, 1 + clip) A)] with rho = exp(log pi(x) - log pi_old(x)) of whole
    sequences [N]."""
    ratio = torch.exp(log_prob - old_log_prob)
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages)
    loss = -surrogate.mean()
    clipped = ((ratio - 1.0).abs() > clip).float().mean()
    return loss, {"loss_policy": loss.item(), "clip_fraction": float(clipped), "ratio_mean": ratio.mean().item()}


def rloo_finetune(policy: Any, reference: Any, trainable: list[torch.nn.Parameter], cfg: RLOOConfig,
                  sampling: Sampling, make_prompts: Prompts, reward: Reward, generator: torch.Generator,
                  log: Callable[[int, dict[str, float]], None] | None = None) -> Any:
    """RLOO on the `trainable` parameters of `policy` (the others stay frozen), KL to `reference`.

    Each step: `prompts` prompts, k continuations each; total reward r(x) - beta (log pi_old(x) -
    log pi_ref(x)), both log-probabilities of the whole sequence, pi_old under the sampling distribution
    and the reference without top-p (so a token outside its nucleus costs a finite KL); leave-one-out
    advantages; `ppo_epochs` passes of clipped-ratio minibatch updates (AdamW, gradient norm 1). Stops
    early by `EarlyStop` when `cfg.patience` > 0; the last step logs `stopped_at`."""
    sampled = (sampling.temperature, sampling.top_p)
    set_trainable(policy, trainable)
    reference.requires_grad_(False)
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=0.0)
    stop = EarlyStop(cfg.patience, cfg.min_delta, cfg.smoothing)
    for step in range(1, cfg.steps + 1):
        prompts, context = make_prompts(cfg.prompts, generator)
        prompts, context = prompts.repeat_interleave(cfg.k, 0), context.repeat_interleave(cfg.k, 0)  # [N = n k, ...]
        tokens = sample(policy, prompts, sampling.max_new_tokens, sampling.eos_id, sampling.pad_id, generator,
                        sampling.temperature, sampling.top_p, sampling.suppress)
        mask = continuation_mask(tokens, sampling.eos_id)
        score, metrics = reward(tokens, context)
        with torch.no_grad():
            old = sequence_log_probs(policy, prompts, tokens, mask, sampling.suppress, *sampled).sum(1)  # [N]
            ref = sequence_log_probs(reference, prompts, tokens, mask, sampling.suppress, sampled[0]).sum(1)
        total = score - cfg.beta * (old - ref)
        advantages = rloo_advantages(total.view(-1, cfg.k)).view(-1)
        policy.train()
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(len(tokens), generator=generator)
            for start in range(0, len(order), cfg.minibatch):
                idx = order[start:start + cfg.minibatch]
                new = sequence_log_probs(policy, prompts[idx], tokens[idx], mask[idx], sampling.suppress,
                                         *sampled).sum(1)
                loss, info = rloo_loss(new, old[idx], advantages[idx], cfg.clip)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                optimizer.step()
        policy.eval()
        done = stop(float(total.mean())) or step == cfg.steps
        if log is not None:
            log(step, {"reward": float(score.mean()), "kl": float((old - ref).mean()), **metrics, **info,
                       **({"stopped_at": float(step)} if done else {})})
        if done:
            break
    set_trainable(policy, list(policy.parameters()))
    return policy
