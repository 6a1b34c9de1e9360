"""The skill-conditioned recurrent policy: the map crop, the message and a few stats, encoded, then an LSTM
conditioned on the active skill, with a policy head and one value head per skill."""

from __future__ import annotations

import torch
from torch import nn

STAT_FEATURES = 4  # HP fraction, any gold, depth - 1, steps of the current skill / its limit


class SkillPolicy(nn.Module):
    def __init__(self, actions: int, skills: int, crop: int, hidden: int = 128) -> None:
        super().__init__()
        self.skills = skills
        self.embed = nn.Embedding(256, 8)
        self.conv = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        side = (crop + 1) // 2
        self.map_head = nn.Linear(16 * side * side, hidden)
        self.message = nn.EmbeddingBag(257, 32, mode="mean", padding_idx=0)
        self.stats = nn.Linear(STAT_FEATURES, 32)
        self.lstm = nn.LSTMCell(hidden + 64 + skills, hidden)
        self.policy = nn.Linear(hidden, actions)
        self.value = nn.Linear(hidden, skills)

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.zeros(batch, self.lstm.hidden_size, device=self.policy.weight.device)
        return h, h.clone()

    def encode(self, chars: torch.Tensor, messages: torch.Tensor, stats: torch.Tensor, skill: torch.Tensor
               ) -> torch.Tensor:
        """[N, in] from chars [N, crop, crop] uint8, message bytes [N, 256], stats [N, 4], skill ids [N]."""
        grid = self.embed(chars.long()).permute(0, 3, 1, 2)  # [N, 8, crop, crop]
        x = torch.relu(self.map_head(self.conv(grid)))
        m = self.message(messages)
        s = torch.relu(self.stats(stats))
        return torch.cat([x, torch.relu(m), s, nn.functional.one_hot(skill, self.skills).float()], dim=-1)

    def step(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], start: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One step: encoded inputs [N, in], the LSTM state, `start` [N] (1 where an episode begins: the state
        is zeroed) -> logits [N, A], values of each skill [N, K], the new state."""
        keep = (1.0 - start.float())[:, None]
        h, c = self.lstm(x, (state[0] * keep, state[1] * keep))
        return self.policy(h), self.value(h), (h, c)

    def unroll(self, chars: torch.Tensor, messages: torch.Tensor, stats: torch.Tensor, skill: torch.Tensor,
               starts: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Over a rollout [T, B, ...] from `state`: logits [T, B, A] and the active skill's value [T, B]."""
        steps, batch = skill.shape
        x = self.encode(chars.flatten(0, 1), messages.flatten(0, 1), stats.flatten(0, 1),
                        skill.flatten()).view(steps, batch, -1)
        logits, values = [], []
        for t in range(steps):
            out, v, state = self.step(x[t], state, starts[t])
            logits.append(out)
            values.append(v.gather(1, skill[t][:, None]).squeeze(1))
        return torch.stack(logits), torch.stack(values)
