"""The POMDP part of minimal self-predictive RL (Ni et al. 2024, Sec. 5.3): R2D2-style recurrent
Q-learning on MiniGrid with the ZP loss on the LSTM's states, shaped as the official `minigrid_code`.

History encoder φ: (o_t, one-hot a_{t-1}, r_{t-1}) -> Linear-ELU-Linear-ELU -> LSTM -> z_t.
Q(z_t, ·): MLP with ELU. Double Q-learning with n-step returns on chunks of `learn_len` steps after a
burn-in of up to `burn_in` steps from the recurrent state stored at acting time; soft target updates
of the encoder and the Q-network after every update.
- ZP: a latent model P(z_t, a_t) predicts z_{t+1}, whose target is the EMA encoder's state (or the
  online state, detached or not): mean over steps of ‖P(z_t, a_t) − z̄_{t+1}‖² / Z, masked at the
  episode's last step, added to the TD loss with `aux_coef` (the official 1.0), end to end.
- OP: the model predicts o_{t+1} instead (normalised by the observation's size; the official 0.01).
- none: the recurrent model-free agent (R2D2).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.config import check, validate
from anthology.core.device import resolve_device
from anthology.core.errors import require
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.core.seeding import seed_everything
from anthology.envs.gym_make import make_gym_env
from anthology.rl.evaluation import EPISODE_SEED_STRIDE
from anthology.rl.sac import polyak_update
from anthology.rl.sequence_replay import SequenceBatch, SequenceReplay, recurrent_inputs
from anthology.tracking import Tracker, make_tracker

from .losses import collapse_diagnostics

EVAL_SEED = 50_000


@dataclasses.dataclass(frozen=True)
class RecurrentConfig:
    env: str = "MiniGrid-DoorKey-5x5-v0"
    """A MiniGrid environment id (the agent sees the 7x7x3 egocentric image, flattened)."""
    aux: Literal["zp", "op", "none"] = "zp"
    """zp: predict the next LSTM state, op: predict the next observation, none: model-free R2D2."""
    target: Literal["ema", "detached", "online"] = "ema"
    """ZP's target z̄_{t+1}: the EMA encoder's state, or the online state detached or with gradient."""
    aux_coef: float = 1.0
    """Weight of the auxiliary loss (the official 1.0 for ZP; 0.01 for OP)."""
    seed: int = 0
    device: str = "cpu"
    total_steps: int = 4_000_000
    latent: int = 128
    """Width of the LSTM state z (the official AIS_state_size)."""
    q_hidden: int = 128
    burn_in: int = 50
    learn_len: int = 10
    n_step: int = 5
    batch_size: int = 256
    """Chunks per update."""
    update_every: int = 10
    """Environment steps between updates (the official rl_update_every_n_steps)."""
    buffer_rows: int = 1_000_000
    lr: float = 1e-3
    """Adam's learning rate for the encoder and the Q-network."""
    aux_lr: float = 1e-3
    """Adam's learning rate for the latent (or observation) model."""
    gamma: float = 0.99
    tau: float = 0.005
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay: int = 400_000
    """ε = end + (start − end) exp(−step / eps_decay)."""
    eval_every: int = 10_000
    eval_episodes: int = 10
    log_every: int = 1000
    checkpoint_every: int = 20_000

    def __post_init__(self) -> None:
        validate(self, seed=">=0", aux_coef=">=0", lr=">0", aux_lr=">0", tau="(0,1]", gamma="[0,1]", burn_in=">=0",
                 eps_start="[0,1]", eps_end="[0,1]")  # the other ints: >= 1
        check(self.latent >= 2, f"latent ({self.latent}) must be at least 2: the latent model's hidden width is half")
        check(self.env.startswith("MiniGrid-"), f"'{self.env}' is not a MiniGrid environment id (MiniGrid-...)")


class SeqEncoder(nn.Module):
    """φ: rows (o, one-hot a_prev, r_prev) [B, T, input] -> LSTM states z [B, T, Z]."""

    def __init__(self, input_dim: int, latent: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(input_dim, latent), nn.Linear(latent, latent)
        self.lstm = nn.LSTM(latent, latent, batch_first=True)
        init_linear(self)

    def embed(self, rows: torch.Tensor) -> torch.Tensor:
        return F.elu(self.fc2(F.elu(self.fc1(rows))))

    def step(self, row: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor]
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One acting step: row [1, input], hidden ([1, 1, Z], [1, 1, Z]) -> z [1, Z], the next hidden.
        The LSTM cell written out with the LSTM's own weights (half the time of a one-step `nn.LSTM` call)."""
        lstm, (h, c) = self.lstm, (hidden[0][0], hidden[1][0])
        gates = F.linear(self.embed(row), lstm.weight_ih_l0, lstm.bias_ih_l0) + F.linear(h, lstm.weight_hh_l0,
                                                                                          lstm.bias_hh_l0)
        i, f, g, o = gates.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h[None], c[None])

    def unroll(self, rows: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """States z [B, T, Z] of rows [B, T, input] from hidden ([1, B, Z], [1, B, Z]). Rows past a sequence's
        end (right padding) only change the states after it, which the losses mask; no packing needed."""
        return self.lstm(self.embed(rows), hidden)[0]

    def final_state(self, rows: torch.Tensor, lengths: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor]
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The state after each sequence's last real row (right-padded rows, lengths [B] each >= 1)."""
        packed = pack_padded_sequence(self.embed(rows), lengths.cpu(), batch_first=True, enforce_sorted=False)
        return self.lstm(packed, hidden)[1]


def init_linear(module: nn.Module) -> None:
    """The official init: Xavier-uniform weights and zero biases on every Linear (the LSTM keeps torch's)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def q_network(latent: int, hidden: int, actions: int) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(latent, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
                        nn.Linear(hidden, actions))
    init_linear(net)
    return net


def latent_model(latent: int, actions: int, out: int) -> nn.Sequential:
    """P(z, a): Linear(Z + A, Z/2)-ELU-Linear(out), out = Z for ZP or the observation's size for OP."""
    net = nn.Sequential(nn.Linear(latent + actions, latent // 2), nn.ELU(), nn.Linear(latent // 2, out))
    init_linear(net)
    return net


def epsilon(cfg: RecurrentConfig, step: int) -> float:
    return cfg.eps_end + (cfg.eps_start - cfg.eps_end) * math.exp(-step / cfg.eps_decay)


def make_env(cfg: RecurrentConfig) -> Any:
    require("minigrid", "control")  # registers the MiniGrid-* ids
    return make_gym_env(cfg.env, "; see minigrid's list of MiniGrid-* ids")


def observe(obs: dict[str, Any]) -> np.ndarray:
    return np.asarray(obs["image"], np.float32).reshape(-1)


def input_row(obs: np.ndarray, prev_action: int, prev_reward: float, actions: int) -> torch.Tensor:
    """One acting step's input [1, o + A + 1], encoded as the replay encodes its rows."""
    return torch.from_numpy(recurrent_inputs(obs, np.asarray(prev_action), np.asarray(prev_reward, np.float32),
                                             actions))[None]


class Agent(nn.Module):
    """The encoder, Q-network, their EMA targets and the auxiliary model."""

    def __init__(self, cfg: RecurrentConfig, obs_dim: int, actions: int) -> None:
        super().__init__()
        self.actions = actions
        self.encoder = SeqEncoder(obs_dim + actions + 1, cfg.latent)
        self.q = q_network(cfg.latent, cfg.q_hidden, actions)
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.target_q = copy.deepcopy(self.q).requires_grad_(False)
        out = {"zp": cfg.latent, "op": obs_dim}.get(cfg.aux)
        self.model = latent_model(cfg.latent, actions, out) if out is not None else None

    def initial_hidden(self, batch: int = 1, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(1, batch, self.encoder.lstm.hidden_size, device=device)
        return zeros, zeros.clone()


def burn_in(encoder: SeqEncoder, batch: SequenceBatch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The state at the chunk's first row: the burn-in rows run from the stored state (no gradient);
    a chunk at an episode's start keeps the stored state."""
    hidden = (batch.hidden[0][None].to(device), batch.hidden[1][None].to(device))
    if batch.burn_in.shape[1] == 0 or not bool((batch.burn_in_len > 0).any()):
        return hidden
    with torch.no_grad():
        h, c = encoder.final_state(batch.burn_in.to(device), batch.burn_in_len.clamp(min=1), hidden)
    keep = (batch.burn_in_len == 0).to(device)[None, :, None]
    return torch.where(keep, hidden[0], h), torch.where(keep, hidden[1], c)


@torch.no_grad()
def td_target(agent: Agent, z: torch.Tensor, target_z: torch.Tensor, batch: SequenceBatch) -> torch.Tensor:
    """Double Q-learning's n-step target [B, L]: R_t + γ^m Q_target(z̄_{t+m}, argmax_a Q(z_{t+m}, a)), where
    the online network picks the action and the target network (on the target encoder's state) rates it."""
    device = z.device
    index = batch.bootstrap_row.to(device)[..., None].expand(-1, -1, z.shape[-1])
    best = agent.q(z.gather(1, index)).argmax(-1, keepdim=True)
    next_q = agent.target_q(target_z.gather(1, index)).gather(-1, best)[..., 0]
    return batch.nstep_return.to(device) + batch.discount.to(device) * next_q


def aux_loss(cfg: RecurrentConfig, agent: Agent, z: torch.Tensor, target_z: torch.Tensor,
             batch: SequenceBatch) -> torch.Tensor:
    """ZP: mean over the chunk's steps of ‖P(z_t, a_t) − z̄_{t+1}‖² / Z, z̄ the EMA encoder's state (or the
    online state, detached or not); OP: of ‖P(z_t, a_t) − o_{t+1}‖² / |o|. Masked at the episode's last step
    as the official code (its next state is never fed to the encoder there)."""
    assert agent.model is not None
    device, big_l = z.device, batch.action.shape[1]
    inputs = torch.cat([z[:, :big_l], F.one_hot(batch.action.to(device), agent.actions).float()], -1)
    if cfg.aux == "zp":
        goal = {"ema": target_z, "detached": z.detach(), "online": z}[cfg.target][:, 1:big_l + 1]
    else:
        goal = batch.next_obs.to(device)
    error = ((agent.model(inputs) - goal) ** 2).sum(-1) * batch.aux_valid.to(device)
    return error.sum() / batch.valid.to(device).sum().clamp(min=1) / goal.shape[-1]


def update(cfg: RecurrentConfig, agent: Agent, optimizer: torch.optim.Optimizer,
           model_optimizer: torch.optim.Optimizer | None, batch: SequenceBatch, device: torch.device,
           diagnose: bool) -> dict[str, float]:
    """One update as the official `single_update`: burn-in, unroll, double-Q n-step TD loss plus the
    auxiliary loss, one step of both optimizers, then soft targets."""
    learn = batch.learn.to(device)
    z = agent.encoder.unroll(learn, burn_in(agent.encoder, batch, device))  # [B, L+n, Z]
    with torch.no_grad():
        target_z = agent.target_encoder.unroll(learn, burn_in(agent.target_encoder, batch, device))
    big_l = batch.action.shape[1]
    valid = batch.valid.to(device)
    count = valid.sum().clamp(min=1)
    q = agent.q(z[:, :big_l]).gather(-1, batch.action.to(device)[..., None])[..., 0]  # Q(z_t, a_t) [B, L]
    y = td_target(agent, z, target_z, batch)
    td_loss = (((q - y) ** 2) * valid).sum() / count
    info = {"train/td_loss": float(td_loss.detach()), "train/q": float((q.detach() * valid).sum() / count)}
    loss = td_loss
    if agent.model is not None:
        aux = aux_loss(cfg, agent, z, target_z, batch)
        loss = loss + cfg.aux_coef * aux
        info[f"train/{cfg.aux}_loss"] = float(aux.detach())
    if diagnose:
        info |= collapse_diagnostics(z[:, :big_l][valid].detach())
    optimizer.zero_grad(set_to_none=True)
    if model_optimizer is not None:
        model_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if model_optimizer is not None:
        model_optimizer.step()
    polyak_update(agent.target_encoder, agent.encoder, cfg.tau)
    polyak_update(agent.target_q, agent.q, cfg.tau)
    return info


@dataclasses.dataclass
class Episode:
    """What acting records for the replay: o_0..o_t, a_0.., r_0.., the (h, c) before each row."""

    obs: list[np.ndarray] = dataclasses.field(default_factory=list)
    actions: list[int] = dataclasses.field(default_factory=list)
    rewards: list[float] = dataclasses.field(default_factory=list)
    hiddens: list[np.ndarray] = dataclasses.field(default_factory=list)
    terminated: bool = False

    def store(self, replay: SequenceReplay) -> None:
        replay.add_episode(np.stack(self.obs), np.asarray(self.actions), np.asarray(self.rewards, np.float32),
                           self.terminated, np.stack(self.hiddens))


def _pair(hidden: tuple[torch.Tensor, torch.Tensor]) -> np.ndarray:
    return torch.stack([hidden[0][0, 0], hidden[1][0, 0]]).cpu().numpy()


def play(record: Episode, agent: Agent, env: Any, seed: int, eps: Callable[[int], float],
         generator: torch.Generator, device: torch.device) -> Iterator[int]:
    """One ε-greedy episode from env.reset(seed) into an empty `record`, yielding the number of steps taken
    after each (the caller may stop early: the record then ends cut, as at a time-out). The action of
    step t is ε(t)-greedy."""
    obs, _ = env.reset(seed=seed)
    hidden = agent.initial_hidden(1, device)
    record.obs.append(observe(obs))
    record.hiddens.append(_pair(hidden))
    prev_action, prev_reward, done = -1, 0.0, False
    while not done:
        row = input_row(record.obs[-1], prev_action, prev_reward, agent.actions).to(device)
        prev_action, hidden = act(agent, row, hidden, eps(len(record.actions)), generator)
        obs, prev_reward, record.terminated, truncated, _ = env.step(prev_action)
        record.obs.append(observe(obs))
        record.actions.append(prev_action)
        record.rewards.append(float(prev_reward))
        record.hiddens.append(_pair(hidden))  # h after row t is z_t, the state the action was chosen on
        done = record.terminated or truncated
        yield len(record.actions)


@torch.no_grad()
def act(agent: Agent, row: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor], eps: float,
        generator: torch.Generator) -> tuple[int, tuple[torch.Tensor, torch.Tensor]]:
    """ε-greedy on Q(z_t) (the state always advances, as the official agent's)."""
    z, hidden = agent.encoder.step(row, hidden)
    if float(torch.rand((), generator=generator)) < eps:
        return int(torch.randint(agent.actions, (), generator=generator)), hidden
    return int(agent.q(z).argmax()), hidden


def evaluate(agent: Agent, env: Any, episodes: int, seed: int, device: torch.device) -> dict[str, float]:
    """Greedy return and success rate (a positive final reward) over `episodes` seeded episodes, and the
    agent's value estimate max_a Q(z_0, a) at their first steps."""
    generator = torch.Generator().manual_seed(seed)
    returns, successes, values = [], [], []
    for episode in range(episodes):
        record = Episode()
        for _ in play(record, agent, env, seed + episode, lambda t: 0.0, generator, device):
            pass
        returns.append(sum(record.rewards))
        successes.append(float(record.rewards[-1] > 0))
        with torch.no_grad():
            row = input_row(record.obs[0], -1, 0.0, agent.actions).to(device)
            values.append(float(agent.q(agent.encoder.step(row, agent.initial_hidden(1, device))[0]).max()))
    return {"eval/return": float(np.mean(returns)), "eval/success": float(np.mean(successes)),
            "eval/initial_value": float(np.mean(values))}


def train_recurrent(cfg: RecurrentConfig, tracker: Tracker | None = None,
                    run_dir: RunDir | None = None) -> TrainResult:
    """Recurrent Q-learning on a MiniGrid task with the ZP (or OP) loss on the LSTM's states, or none.

    CLI: `anthology train self_predictive --preset pomdp_demo` (a MiniGrid preset)."""
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    env, eval_env = make_env(cfg), make_env(cfg)
    obs_dim, actions = int(np.prod(env.observation_space["image"].shape)), int(env.action_space.n)
    agent = Agent(cfg, obs_dim, actions).to(device)
    optimizer = torch.optim.Adam([*agent.encoder.parameters(), *agent.q.parameters()], lr=cfg.lr, foreach=True)
    model_optimizer = (torch.optim.Adam(agent.model.parameters(), lr=cfg.aux_lr, foreach=True)
                       if agent.model is not None else None)
    replay = SequenceReplay(min(cfg.buffer_rows, cfg.total_steps * 2 + 1000), obs_dim, actions, cfg.latent,
                            cfg.burn_in, cfg.learn_len, cfg.n_step, cfg.gamma)
    generator = torch.Generator().manual_seed(cfg.seed)
    stateful: dict[str, Any] = {"model": agent, "optimizer": optimizer, "replay": replay}
    if model_optimizer is not None:
        stateful["model_optimizer"] = model_optimizer

    start, episode, curve, successes = 0, 0, [], []
    if run_dir is not None:
        run_dir.write_config(cfg, "self_predictive", "custom")
        if run_dir.has_checkpoint():
            start, extra = load_training_state(run_dir.checkpoint_path, stateful, generator)
            episode, curve, successes = extra["episode"], extra["curve"], extra["successes"]
    tracker.start(cfg.total_steps, start, f"{cfg.aux}/{cfg.target} {cfg.env}")
    info: dict[str, float] = {}
    step, last_checkpoint = start, start
    while step < cfg.total_steps:  # one episode per pass; checkpoints fall between episodes
        record, first = Episode(), step
        for taken in play(record, agent, env, cfg.seed * EPISODE_SEED_STRIDE + episode,
                          lambda t, first=first: epsilon(cfg, first + t), generator, device):
            step = first + taken
            if len(replay) > cfg.batch_size and step % cfg.update_every == 0:  # as the official
                info = update(cfg, agent, optimizer, model_optimizer, replay.sample(cfg.batch_size, generator),
                              device, diagnose=step % cfg.log_every < cfg.update_every)
                if step % cfg.log_every < cfg.update_every:
                    tracker.log(step, info)
            if step % cfg.eval_every == 0 or step == cfg.total_steps:
                point = {"step": step, **evaluate(agent, eval_env, cfg.eval_episodes,
                                                  cfg.seed * EPISODE_SEED_STRIDE + EVAL_SEED, device)}
                point |= {k: v for k, v in info.items() if k.startswith("train/rank") or k == "train/condition"}
                curve.append(point)
                tracker.log(step, {k: v for k, v in point.items() if k != "step"})
            if step >= cfg.total_steps:
                break  # the episode is stored cut here, as a time-out
        record.store(replay)
        successes.append(float(record.rewards[-1] > 0))
        tracker.log(step, {"train/episode_return": float(sum(record.rewards))})
        episode += 1
        if run_dir is not None and step - last_checkpoint >= cfg.checkpoint_every and step < cfg.total_steps:
            save_training_state(run_dir.checkpoint_path, step, stateful, generator,
                                {"episode": episode, "curve": curve, "successes": successes})
            last_checkpoint = step

    final = curve[-1]
    summary = {"method": "self_predictive", "env": cfg.env, "aux": cfg.aux, "target": cfg.target, "seed": cfg.seed,
               "steps": cfg.total_steps, **{k: v for k, v in final.items() if k != "step"},
               "train/recent_success": float(np.mean(successes[-20:] or [float("nan")]))}
    tracker.close()
    if run_dir is not None:
        run_dir.write_curve(curve)
        run_dir.write_summary(summary)
    return TrainResult(summary, curve, {"agent": agent})
