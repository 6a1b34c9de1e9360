"""Reward models learned from pairwise preferences over captioned transitions (Motif; MaestroMotif's skill
rewards).

A caption is the game's message (the previous one and the current one) and a few stat changes. The model
reads the message's bytes with a character CNN and the clipped stat changes with an MLP, and outputs a
scalar r. Preferences train it by Bradley-Terry: P(a preferred to b) = softmax(r_a, r_b)[0], with a soft
label (1, 0, or 0.5 for a tie) and cross-entropy (Klissarov et al. 2023, "Motif"; the official
`reward_model.py`: embedding 32, 6 convolutions of 64 channels, a 128-unit message head, a stat MLP, then
256 -> 512 -> 1). Pairs an annotator could not decide (None) are dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

MESSAGE_BYTES = 256


@dataclasses.dataclass(frozen=True)
class Caption:
    previous: str
    message: str
    stats: tuple[float, ...] = ()
    """Changes of (depth, gold, HP, XP, hunger) over the transition."""

    def text(self) -> str:
        """The annotator's view (the paper's caption format)."""
        names = ("Dlvl", "Gold", "HP", "XP", "Hunger")
        changes = ", ".join(f"{n} {v:+g}" for n, v in zip(names, self.stats, strict=False) if v)
        return (f'Message: previously seen "{self.previous}", currently displayed "{self.message}"'
                + (f"; changes: {changes}" if changes else ""))


def encode_messages(messages: Sequence[str]) -> torch.Tensor:
    """[N, 256] byte ids (+1; 0 pads), each message cut or padded to 256 bytes."""
    out = torch.zeros(len(messages), MESSAGE_BYTES, dtype=torch.long)
    for i, m in enumerate(messages):
        data = m.encode("utf-8", errors="replace")[:MESSAGE_BYTES]
        if data:
            out[i, :len(data)] = torch.tensor(list(data), dtype=torch.long) + 1
    return out


class RewardModel(nn.Module):
    def __init__(self, stats: int = 5, embedding: int = 32, channels: int = 64, convolutions: int = 6,
                 hidden: int = 512, stat_clip: float = 10.0) -> None:
        super().__init__()
        self.stat_clip = stat_clip
        self.embed = nn.Embedding(257, embedding, padding_idx=0)
        layers: list[nn.Module] = []
        width = embedding
        for i in range(convolutions):
            layers += [nn.Conv1d(width, channels, 3, padding=1), nn.ReLU()]
            if i < 3:
                layers.append(nn.MaxPool1d(2))
            width = channels
        self.convs = nn.Sequential(*layers)
        self.message_head = nn.Linear(channels, 128)
        self.stat_mlp = nn.Sequential(nn.Linear(stats, 128), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(256, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, messages: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
        """r [N] from byte ids [N, 256] and stat changes [N, stats]."""
        h = self.convs(self.embed(messages).transpose(1, 2)).amax(dim=-1)
        s = self.stat_mlp(stats.clamp(-self.stat_clip, self.stat_clip))
        return self.head(torch.cat([F.relu(self.message_head(h)), s], dim=-1)).squeeze(-1)

    def score(self, captions: Sequence[Caption], batch: int = 1024) -> torch.Tensor:
        device = next(self.parameters()).device
        with torch.no_grad():
            return torch.cat([self(*caption_tensors(captions[i:i + batch], device)) for i in range(0, len(captions),
                                                                                                   batch)])


def caption_tensors(captions: Sequence[Caption], device: torch.device | str = "cpu", stats: int = 5
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    values = torch.zeros(len(captions), stats)
    for i, c in enumerate(captions):
        values[i, :len(c.stats)] = torch.tensor(c.stats[:stats], dtype=torch.float32)
    return encode_messages([c.message for c in captions]).to(device), values.to(device)


def bradley_terry_loss(r_first: torch.Tensor, r_second: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of softmax(r_first, r_second) against (label, 1 - label); label 0.5 is a tie."""
    logp = F.log_softmax(torch.stack([r_first, r_second], dim=-1), dim=-1)
    return -(label * logp[:, 0] + (1 - label) * logp[:, 1]).mean()


def pair_accuracy(model: RewardModel, pairs: Sequence[tuple[Caption, Caption]], labels: Sequence[float | None]
                  ) -> float:
    """Fraction of decided (non-tie) pairs whose preferred caption gets the higher reward."""
    keep = [(p, y) for p, y in zip(pairs, labels, strict=True) if y is not None and y != 0.5]
    if not keep:
        return float("nan")
    first = model.score([p[0] for p, _ in keep])
    second = model.score([p[1] for p, _ in keep])
    wanted = torch.tensor([y for _, y in keep]) > 0.5
    return float(((first > second) == wanted).float().mean())


def train_reward_model(pairs: Sequence[tuple[Caption, Caption]], labels: Sequence[float | None], epochs: int = 20,
                       batch_size: int = 1000, lr: float = 1e-5, seed: int = 0, model: RewardModel | None = None,
                       device: str = "cpu") -> RewardModel:
    """Bradley-Terry training on the decided and tied pairs (None dropped): Adam, the official batch of
    1000 pairs and 20 epochs; lr 1e-5 as the paper (small datasets want more). Each distinct caption in a
    batch is scored once (captions repeat a lot in games); the loss and its gradient are those of scoring
    every pair's two captions separately."""
    torch.manual_seed(seed)
    model = (model or RewardModel()).to(device)
    kept = [(p, y) for p, y in zip(pairs, labels, strict=True) if y is not None]
    distinct = list(dict.fromkeys(c for p, _ in kept for c in p))
    index = {c: i for i, c in enumerate(distinct)}
    first = torch.tensor([index[p[0]] for p, _ in kept], dtype=torch.long)
    second = torch.tensor([index[p[1]] for p, _ in kept], dtype=torch.long)
    messages, stats = caption_tensors(distinct, device)
    target = torch.tensor([y for _, y in kept], dtype=torch.float32, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(kept), generator=generator)
        for i in range(0, len(kept), batch_size):
            idx = order[i:i + batch_size]
            used, inverse = torch.unique(torch.cat([first[idx], second[idx]]), return_inverse=True)
            used_dev = used.to(device)
            r = model(messages[used_dev], stats[used_dev])[inverse.to(device)]
            loss = bradley_terry_loss(r[:len(idx)], r[len(idx):], target[idx.to(device)])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    return model
