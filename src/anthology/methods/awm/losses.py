"""The two losses of Actions World Models: world-model regression and backpropagation-based policy
optimisation (BPO, the paper's Algorithm 1), plus the gradient-quality measure against the simulator."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn


class Episodes(NamedTuple):
    states: torch.Tensor  # [B, L+1, S]: s_1..s_{L+1}
    actions: torch.Tensor  # [B, L, A]: a_1..a_L


class Simulator:
    """The true dynamics behind the world models' `start`/`step` interface: BPTT through the simulator."""

    def __init__(self, task: Any) -> None:
        self.task = task

    def start(self, s1: torch.Tensor) -> dict[str, Any]:
        return {"t": 0}

    def step(self, memory: dict[str, Any], action: torch.Tensor, state: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, dict[str, Any]]:
        assert state is not None
        return self.task.step(state, action, memory["t"]), {"t": memory["t"] + 1}


def world_model_loss(model: nn.Module, batch: Episodes) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """0.5 mean ||s_{t+1} - ŝ_{t+1}||^2 over the episode, all steps predicted in one parallel pass (the
    history and one-step models see the real s_t; the AWM only s_1 and the actions)."""
    predicted = model.predict(batch.states[:, 0], batch.actions, batch.states[:, :-1])  # [B, L, S]
    loss = 0.5 * (batch.states[:, 1:] - predicted).pow(2).mean()
    return loss, {"train/model_loss": loss.detach()}


def imagine(policy: nn.Module, model: Any, task: Any, s1: torch.Tensor, generator: torch.Generator | None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Roll the policy through the model from real initial states s1 [P, S]. The policy sees the
    predicted state detached (no gradient through its input: the official `bp_discount = 0`); a_t goes
    into the model (its key/value cache or carry) and the known reward r(ŝ_t, a_t, ŝ_{t+1}).
    Returns (undiscounted return [P], per-step entropy estimate -log pi averaged over steps [P],
    imagined states [P, L+1, S])."""
    state, memory = s1, model.start(s1)
    total = torch.zeros(s1.shape[0], dtype=s1.dtype, device=s1.device)
    neg_log_prob = torch.zeros_like(total)
    states = [s1]
    for t in range(task.horizon):
        sample = policy(state.detach(), generator)
        next_state, memory = model.step(memory, sample.action, state)
        total = total + task.reward(state, sample.action, next_state, t)
        neg_log_prob = neg_log_prob - sample.log_prob
        state = next_state
        states.append(state)
    return total, neg_log_prob / task.horizon, torch.stack(states, dim=1)


def open_loop_return(model: Any, task: Any, s1: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The return of fixed action sequences [B, L, A] from s1 [B, S] under `model` (a world model fed its
    own predictions, or `Simulator`): [B]. An AWM needs no feedback, so it predicts all states in one pass."""
    if getattr(model, "inputs", None) == "actions":
        states = torch.cat([s1[:, None], model.predict(s1, actions)], dim=1)  # [B, L+1, S]
        return torch.stack([task.reward(states[:, t], actions[:, t], states[:, t + 1], t)
                            for t in range(actions.shape[1])], dim=1).sum(1)
    state, memory = s1, model.start(s1)
    total = torch.zeros(s1.shape[0], dtype=s1.dtype, device=s1.device)
    for t in range(actions.shape[1]):
        next_state, memory = model.step(memory, actions[:, t], state)
        total = total + task.reward(state, actions[:, t], next_state, t)
        state = next_state
    return total


def bpo_loss(policy: nn.Module, model: Any, task: Any, s1: torch.Tensor, entropy_coef: float,
             generator: torch.Generator | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """-(mean imagined return + entropy_coef * mean entropy): no critic, no discount, the whole episode."""
    returns, entropy, _ = imagine(policy, model, task, s1, generator)
    loss = -(returns.mean() + entropy_coef * entropy.mean())
    return loss, {"train/imagined_return": returns.mean().detach(), "train/entropy": entropy.mean().detach()}


def policy_gradient(policy: nn.Module, model: Any, task: Any, s1: torch.Tensor, entropy_coef: float,
                    seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The flattened gradient of `bpo_loss` with respect to the policy's parameters, its noise drawn from
    a generator seeded with `seed` (so two models can be compared on the same noise)."""
    generator = torch.Generator(device=s1.device).manual_seed(seed)
    loss, info = bpo_loss(policy, model, task, s1, entropy_coef, generator)
    params = [p for p in policy.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    flat = torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads, strict=True)])
    return flat, info


def gradient_agreement(estimate: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """Cosine similarity and L2 error of a policy gradient against the simulator's (the official code's
    `cosim_grad` and `l2_grad_error`)."""
    cosine = torch.nn.functional.cosine_similarity(estimate, reference, dim=0, eps=1e-12)
    return {"train/grad_cosine": float(cosine), "train/grad_l2_error": float((estimate - reference).norm())}


def svg_critic_loss(critic: nn.Module, target_critic: nn.Module, policy: nn.Module, model: nn.Module, task: Any,
                    batch: Episodes, gamma: float, generator: torch.Generator | None
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """SVG's critic on real states: V(s_t) against r(s_t, a, ŝ') + gamma V_target(ŝ'), a ~ pi(s_t) and
    ŝ' = model(s_t, a), no bootstrap after the last step (the official svginf `critic_loss`)."""
    losses = []
    for t in range(task.horizon):
        state = batch.states[:, t]
        with torch.no_grad():
            action = policy(state, generator).action
            next_state = model(state, action)
            reward = task.reward(state, action, next_state, t)
            bootstrap = 0.0 if t == task.horizon - 1 else gamma * target_critic(next_state)[:, 0]
        losses.append((critic(state)[:, 0] - (reward + bootstrap)).pow(2))
    loss = 0.5 * torch.stack(losses).mean()
    return loss, {"train/critic_loss": loss.detach()}


def svg_policy_loss(policy: nn.Module, model: nn.Module, critic: nn.Module, task: Any, states: torch.Tensor,
                    start: int, unroll: int, gamma: float, bp_discount: float, entropy_coef: float,
                    generator: torch.Generator | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """SVG(k): from real states s_t [P, S] at step `start`, `unroll` model steps with the policy on the
    detached state, the gradient through each predicted state scaled by `bp_discount`, then the critic's
    bootstrap: -(mean of sum_i gamma^i r_i + gamma^k V(ŝ_k) + entropy_coef * entropy)."""
    state, value, neg_log_prob = states, torch.zeros(states.shape[0]), torch.zeros(states.shape[0])
    steps = min(unroll, task.horizon - start)
    for i in range(steps):
        sample = policy(state.detach(), generator)
        next_state = model(state, sample.action)
        value = value + gamma**i * task.reward(state, sample.action, next_state, start + i)
        neg_log_prob = neg_log_prob - sample.log_prob
        state = next_state.detach() + bp_discount * (next_state - next_state.detach())
    if start + steps < task.horizon:
        value = value + gamma**steps * critic(state)[:, 0]
    loss = -(value.mean() + entropy_coef * (neg_log_prob / steps).mean())
    return loss, {"train/imagined_return": value.mean().detach(), "train/entropy": (neg_log_prob / steps).mean().detach()}
