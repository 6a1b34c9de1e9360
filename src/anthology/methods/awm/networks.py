"""World models for Actions World Models (Ma et al., ICML 2024), one shape for all of them.

Every model predicts a whole episode's states ŝ_2..ŝ_{L+1} from the initial state s_1 and a token per
step, in one parallel pass (`predict`, teacher-forced on real episodes), and also one step at a time
(`start` then `step`, for imagined rollouts: the transformer keeps a key/value cache, the recurrent cores
their carry). The token of step t is

- the action a_t alone: an **Actions World Model** (AWM), ŝ_{t+1} = f(s_1, a_1..a_t). With the GPT core it
  is the paper's transformer AWM; with the LSTM and plain-RNN cores, its recurrent AWMs.
- the pair (s_t, a_t): the **history world model**. Trained on real states, it is fed its own
  predictions ŝ_t when it imagines, so the gradient from a_t to a later ŝ passes through every
  intermediate prediction.

The sequence is [e_s(s_1), e_x(x_1), ..., e_x(x_L)] (plus a learned time embedding for the transformer);
the decoder reads ŝ_{t+1} at x_t's position (the output at s_1's position is dropped). The transformer's
embedders are linear and the recurrent ones MLPs, as in the official code.

`MarkovModel` is the one-step model ŝ_{t+1} = s_t + g(s_t, a_t) (SVG's), trained on single real
transitions; unrolled, it is an RNN AWM whose carry is the predicted state (`MarkovCore`).

When the task's last state entry is its clock (`time_increment` set), the models predict the other
entries and append the known time, as the official code does with its true timesteps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from anthology.nets.gpt import GPT, GPTConfig
from anthology.nets.mlp import make_mlp
from anthology.rl.actor_critic import SquashedGaussianActor

from .config import Config

Core = Literal["gpt", "lstm", "rnn"]
Inputs = Literal["actions", "history"]


class GPTCore(nn.Module):
    """Tokens -> hidden states with a growing key/value cache as memory."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.gpt = GPT(cfg)

    def forward(self, tokens: torch.Tensor, memory: Any = None) -> tuple[torch.Tensor, Any]:
        return self.gpt(tokens, memory)


class RecurrentCore(nn.Module):
    """nn.LSTM or a plain tanh nn.RNN (one layer), memory = its carry."""

    def __init__(self, kind: Literal["lstm", "rnn"], width: int) -> None:
        super().__init__()
        self.rnn = (nn.LSTM if kind == "lstm" else nn.RNN)(width, width, batch_first=True)

    def forward(self, tokens: torch.Tensor, memory: Any = None) -> tuple[torch.Tensor, Any]:
        return self.rnn(tokens, memory)


class MarkovCore(nn.Module):
    """An RNN whose carry is the predicted state: h_{t+1} = h_t + g(h_t, a_t), output h_{t+1}. Tokens are
    [s_1, 0] first (it sets the carry and is output as is), then [0, a_t]."""

    def __init__(self, step: nn.Module, state_dim: int) -> None:
        super().__init__()
        self.step_fn, self.state_dim = step, state_dim

    def forward(self, tokens: torch.Tensor, memory: Any = None) -> tuple[torch.Tensor, Any]:
        outputs = []
        for t in range(tokens.shape[1]):
            if memory is None:
                memory = tokens[:, t, :self.state_dim]
            else:
                memory = memory + self.step_fn(torch.cat([memory, tokens[:, t, self.state_dim:]], dim=-1))
            outputs.append(memory)
        return torch.stack(outputs, dim=1), memory


class SequenceWorldModel(nn.Module):
    """ŝ_{t+1} from s_1 and the tokens x_1..x_t (x_t = a_t, or (s_t, a_t) for the history model)."""

    def __init__(self, state_dim: int, action_dim: int, horizon: int, core: Core = "gpt",
                 inputs: Inputs = "actions", width: int = 48, layers: int = 2, heads: int = 3,
                 dropout: float = 0.1, decoder_hidden: Sequence[int] = (64, 64),
                 time_increment: float | None = None) -> None:
        super().__init__()
        self.inputs, self.time_increment, self.kind = inputs, time_increment, core
        token_dim = action_dim + (state_dim if inputs == "history" else 0)
        out_dim = state_dim - (1 if time_increment is not None else 0)
        if core == "gpt":
            self.core: nn.Module = GPTCore(GPTConfig(width, layers, heads, dropout, max_tokens=horizon + 1))
            self.embed_state: nn.Module = nn.Linear(state_dim, width)
            self.embed_token: nn.Module = nn.Linear(token_dim, width)
            self.embed_time: nn.Module | None = nn.Embedding(horizon + 1, width)
        else:
            self.core = RecurrentCore(core, width)
            self.embed_state = make_mlp(state_dim, decoder_hidden, width, activation="relu")
            self.embed_token = make_mlp(token_dim, decoder_hidden, width, activation="relu")
            self.embed_time = None
        self.decoder = make_mlp(width, decoder_hidden, out_dim, activation="relu")

    def _tokens(self, actions: torch.Tensor, states: torch.Tensor | None) -> torch.Tensor:
        if self.inputs == "history":
            if states is None:
                raise ValueError("a history world model needs the states s_1..s_L beside the actions")
            return torch.cat([states, actions], dim=-1)
        return actions

    def _embed(self, x: torch.Tensor, first: int) -> torch.Tensor:
        if self.embed_time is None:
            return x
        return x + self.embed_time(torch.arange(first, first + x.shape[1], device=x.device))

    def _decode(self, hidden: torch.Tensor, s1: torch.Tensor, first: int) -> torch.Tensor:
        """Hidden states of tokens first..first+T-1 -> ŝ at steps first+1.. (with the clock appended)."""
        predicted = self.decoder(hidden)
        if self.time_increment is None:
            return predicted
        steps = torch.arange(first, first + hidden.shape[1], device=hidden.device, dtype=hidden.dtype)
        clock = s1[:, None, -1:] + steps[None, :, None] * self.time_increment  # [B, T, 1]
        return torch.cat([predicted, clock.expand(hidden.shape[0], -1, 1)], dim=-1)

    def predict(self, s1: torch.Tensor, actions: torch.Tensor, states: torch.Tensor | None = None) -> torch.Tensor:
        """s1 [B, S], actions [B, L, A] (and, for the history model, real states s_1..s_L [B, L, S])
        -> ŝ_2..ŝ_{L+1} [B, L, S], in one pass."""
        sequence = torch.cat([self.embed_state(s1)[:, None], self.embed_token(self._tokens(actions, states))], dim=1)
        hidden, _ = self.core(self._embed(sequence, 0))  # [B, L+1, width]
        return self._decode(hidden[:, 1:], s1, 1)

    def start(self, s1: torch.Tensor) -> dict[str, Any]:
        """Feed s_1 alone; the returned memory is what `step` continues from."""
        _, memory = self.core(self._embed(self.embed_state(s1)[:, None], 0))
        return {"memory": memory, "t": 1, "s1": s1}

    def step(self, memory: dict[str, Any], action: torch.Tensor, state: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, dict[str, Any]]:
        """One token: a_t [B, A] (and ŝ_t [B, S] for the history model) -> ŝ_{t+1} [B, S]."""
        t = memory["t"]
        token = self.embed_token(self._tokens(action[:, None], None if state is None else state[:, None]))
        hidden, core_memory = self.core(self._embed(token, t), memory["memory"])
        return self._decode(hidden, memory["s1"], t)[:, 0], {"memory": core_memory, "t": t + 1, "s1": memory["s1"]}


class MarkovModel(nn.Module):
    """ŝ_{t+1} = s_t + g(s_t, a_t): the one-step (SVG-style) model, trained on single transitions."""

    def __init__(self, state_dim: int, action_dim: int, hidden: Sequence[int] = (64, 64),
                 time_increment: float | None = None) -> None:
        super().__init__()
        self.time_increment = time_increment
        self.out_dim = state_dim - (1 if time_increment is not None else 0)
        self.net = make_mlp(state_dim + action_dim, hidden, self.out_dim, activation="relu")

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        delta = self.net(torch.cat([state, action], dim=-1))
        if self.time_increment is None:
            return state + delta
        return torch.cat([state[..., :-1] + delta, state[..., -1:] + self.time_increment], dim=-1)

    def predict(self, s1: torch.Tensor, actions: torch.Tensor, states: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced: ŝ_{t+1} from the real s_t, all steps in one pass ([B, L, S]). Without real
        states it unrolls its own predictions from s1."""
        if states is None:
            return self.unroll(s1, actions)
        return self(states, actions)

    def unroll(self, s1: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        state, out = s1, []
        for t in range(actions.shape[1]):
            state = self(state, actions[:, t])
            out.append(state)
        return torch.stack(out, dim=1)

    def start(self, s1: torch.Tensor) -> dict[str, Any]:
        return {"state": s1}

    def step(self, memory: dict[str, Any], action: torch.Tensor, state: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, dict[str, Any]]:
        nxt = self(memory["state"] if state is None else state, action)
        return nxt, {"state": nxt}


def clock_increment(task: Any) -> float | None:
    """How much the task's clock (its last state entry, where it has one) advances a step."""
    feature = getattr(task, "time_feature", None)
    return None if feature is None else float(feature(1) - feature(0))


def make_world_model(cfg: Config, task: Any) -> torch.nn.Module | None:
    """The configured world model for `task` (None for simulator BPTT)."""
    wm, time_increment = cfg.world_model, clock_increment(task)
    if cfg.method in ("simulator", "sac"):
        return None
    if cfg.method in ("markov", "svg"):
        return MarkovModel(task.state_dim, task.action_dim, wm.decoder_hidden, time_increment)
    return SequenceWorldModel(task.state_dim, task.action_dim, task.horizon, wm.core,
                              "history" if cfg.method == "history" else "actions", wm.width, wm.layers, wm.heads,
                              wm.dropout, wm.decoder_hidden, time_increment)


def make_policy(cfg: Config, task: Any) -> SquashedGaussianActor:
    low, high = torch.tensor(task.action_low), torch.tensor(task.action_high)
    return SquashedGaussianActor(task.state_dim, low, high, cfg.policy_hidden)
