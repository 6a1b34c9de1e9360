"""PPO pieces (Schulman et al. 2017): generalised advantage estimation and the clipped surrogate loss."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

NEG_INF = -1e9  # the logit of a masked action


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, gamma: float = 1.0,
                lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns for [T, B] rollouts, each column one episode or a piece of one.

    `values` is [T + 1, B] (the last row bootstraps an unfinished episode and is ignored after a done);
    `dones[t]` marks that the transition at t ended its episode."""
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(steps)):
        alive = 1.0 - dones[t].float()
        delta = rewards[t] + gamma * values[t + 1] * alive - values[t]
        running = delta + gamma * lam * alive * running
        advantages[t] = running
    return advantages, advantages + values[:-1]


def ppo_loss(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, values: torch.Tensor,
             returns: torch.Tensor, entropy: torch.Tensor, clip: float = 0.2, value_coef: float = 0.5,
             entropy_coef: float = 0.01) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped policy surrogate + value regression - entropy bonus, all means over the minibatch."""
    ratio = (log_prob - old_log_prob).exp()
    surrogate = torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    policy_loss = -surrogate.mean()
    value_loss = 0.5 * (values - returns).pow(2).mean()
    entropy_mean = entropy.mean()
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy_mean
    with torch.no_grad():
        clip_fraction = ((ratio - 1).abs() > clip).float().mean()
        approx_kl = ((ratio - 1) - (log_prob - old_log_prob)).mean()
    return loss, {"train/loss_policy": policy_loss.detach(), "train/loss_value": value_loss.detach(),
                  "train/entropy": entropy_mean.detach(), "train/clip_fraction": clip_fraction,
                  "train/approx_kl": approx_kl}


def terminal_reward_gae(episode: torch.Tensor, values: torch.Tensor, rewards: torch.Tensor,
                        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE (gamma = 1) for episodes of different lengths whose only reward comes at their last step, as in
    molecule building. Transitions are flattened episode by episode: `episode` [N] is each transition's
    episode index (ascending, each episode's steps in order), `values` [N] their value estimates, `rewards`
    [E] each episode's final reward. Returns advantages and returns [N], flattened the same way."""
    n = len(rewards)
    lengths = torch.bincount(episode, minlength=n)
    steps = int(lengths.max())
    position = torch.cat([torch.arange(int(k)) for k in lengths])
    padded_values = torch.zeros(steps + 1, n)  # [T + 1, E]
    padded_values[position, episode] = values
    step_rewards, dones = torch.zeros(steps, n), torch.zeros(steps, n, dtype=torch.bool)
    step_rewards[lengths - 1, torch.arange(n)] = rewards
    dones[lengths - 1, torch.arange(n)] = True
    adv, ret = compute_gae(step_rewards, padded_values, dones, gamma=1.0, lam=lam)
    return adv[position, episode], ret[position, episode]


def masked_ppo_update(evaluate: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                      parameters: Iterable[torch.nn.Parameter], optimizer: torch.optim.Optimizer,
                      masks: torch.Tensor, actions: torch.Tensor, old_log_probs: torch.Tensor,
                      advantages: torch.Tensor, returns: torch.Tensor, epochs: int, minibatch_size: int,
                      clip: float, entropy_coef: float, generator: torch.Generator, value_coef: float = 0.5,
                      max_grad_norm: float = 0.5) -> dict[str, float]:
    """PPO epochs over stored transitions with action masks: `evaluate(indices)` gives (logits, values)
    of those transitions' states; masks [N, A] mark the valid actions. Advantages are normalised over the
    batch; gradients are clipped to `max_grad_norm`."""
    parameters = list(parameters)
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    n, info = len(actions), {}
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, minibatch_size):
            idx = order[start:start + minibatch_size]
            logits, values = evaluate(idx)
            dist = torch.distributions.Categorical(logits=logits.masked_fill(~masks[idx], NEG_INF))
            loss, info = ppo_loss(dist.log_prob(actions[idx]), old_log_probs[idx], advantages[idx], values,
                                  returns[idx], dist.entropy(), clip, value_coef, entropy_coef)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
            optimizer.step()
    return {k: float(v) for k, v in info.items()}


def recurrent_ppo_update(evaluate: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                         parameters: Iterable[torch.nn.Parameter], optimizer: torch.optim.Optimizer,
                         actions: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor,
                         returns: torch.Tensor, epochs: int, minibatches: int, clip: float, entropy_coef: float,
                         generator: torch.Generator, value_coef: float = 0.5,
                         max_grad_norm: float = 0.5) -> dict[str, float]:
    """PPO epochs over a recurrent policy's rollout [T, B]: minibatches are whole columns (envs), so
    `evaluate(columns)` re-runs the recurrent network over those envs' T steps from their stored initial
    state and gives (logits [T, b, A], values [T, b]) (CleanRL's `ppo_atari_lstm` scheme). Advantages are
    normalised over the rollout; gradients are clipped to `max_grad_norm`."""
    parameters = list(parameters)
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    envs, info = actions.shape[1], {}
    per = max(1, envs // minibatches)
    for _ in range(epochs):
        order = torch.randperm(envs, generator=generator)
        for start in range(0, envs, per):
            columns = order[start:start + per]
            logits, values = evaluate(columns)
            dist = torch.distributions.Categorical(logits=logits)
            loss, info = ppo_loss(dist.log_prob(actions[:, columns]).flatten(), old_log_probs[:, columns].flatten(),
                                  advantages[:, columns].flatten(), values.flatten(), returns[:, columns].flatten(),
                                  dist.entropy().flatten(), clip, value_coef, entropy_coef)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
            optimizer.step()
    return {k: float(v) for k, v in info.items()}
