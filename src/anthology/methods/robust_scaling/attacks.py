"""Attacks on a text classifier: GCG and random token, on a batch of examples at once, with FLOPs counted.

Each example is (text before the attack, text after it, true label y); the attack is `tokens` token ids
spliced in between. The objective is the proxy label 1 - y: an attack minimises CE(logits, 1 - y), and
succeeds when argmax(logits) != y. Only examples the model classifies correctly before the attack are
attacked (`attackable`); the attack success rate's denominator is their count.

GCG (Zou et al. 2023, as the official robust-llm runner), per iteration and example:
1. g = d CE / d e_onehot, the gradient with respect to the one-hot attack [tokens, V];
2. the top-k tokens per position of -g (special tokens excluded) pool into tokens x k (position, token)
   pairs; `candidates` of them are drawn uniformly without replacement, each a single-token swap;
3. candidates whose prompt does not survive a decode/encode round trip are dropped (the retokenisation
   filter, on the whole prompt), as is a swap to the same token;
4. the candidate with the lowest loss becomes the attack, even if worse than the current one (no early
   stop: the official runner). Success per iteration is that of the current attack (not cumulative).
Random token: each iteration draws `tokens` fresh uniform non-special tokens; an example stops at its first
success (cumulative success).

Cost: the gradient passes of all examples run as one padded batch; each example's candidates are scored
after its fixed prefix (the tokens before the attack), whose keys and values are computed once (`Scorer`,
the official runner's prefix cache). FLOPs (the official hooks): a forward pass costs 2 N T, a backward pass
4 N T, with N all parameters (embedding included) and T the input's token count, the cached prefix included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from anthology.nets.causal_lm import pad_batch
from anthology.text.neox import NeoXClassifier, count_parameters
from anthology.text.tokenizer import Tokenizer

from .config import AttackConfig

INIT_STRING = "@&"


@dataclasses.dataclass
class AttackResult:
    success: torch.Tensor
    """[iterations + 1, examples] bool: whether each attacked example is misclassified after each iteration
    (row 0: before the attack, all False)."""
    attacks: list[list[int]]
    """The final attack tokens of each example."""
    flops: float

    @property
    def asr(self) -> list[float]:
        """Attack success rate after each iteration (index 0: 0.0)."""
        return self.success.float().mean(1).tolist() if self.success.shape[1] else [0.0] * len(self.success)


def forward_flops(model: NeoXClassifier, tokens: int) -> float:
    return 2.0 * count_parameters(model) * tokens


def backward_flops(model: NeoXClassifier, tokens: int) -> float:
    return 4.0 * count_parameters(model) * tokens


def training_flops(model: NeoXClassifier, tokens: int) -> float:
    """One training step on `tokens` padded tokens: 6 N T with N the non-embedding parameters (Hugging Face
    Trainer's `floating_point_ops`, the official defence count)."""
    return 6.0 * count_parameters(model, embedding=False) * tokens


@dataclasses.dataclass
class Batch:
    """Examples with an attack slot: ids [B, T] (right-padded), lengths [B], the slot's start [B]."""

    ids: torch.Tensor
    lengths: torch.Tensor
    start: torch.Tensor
    tokens: int


def build_batch(tokenizer: Tokenizer, parts: Sequence[tuple[list[int], list[int]]], attacks: torch.Tensor
                ) -> Batch:
    """Rows before + attack + after, right-padded with the pad id."""
    ids, lengths = pad([b + attack + a for (b, a), attack in zip(parts, attacks.tolist(), strict=True)],
                       tokenizer.pad_id)
    return Batch(ids, lengths, torch.tensor([len(b) for b, _ in parts]), attacks.shape[1])


def slot_index(batch: Batch) -> torch.Tensor:
    """[B, n] column index of each attack token."""
    return batch.start[:, None] + torch.arange(batch.tokens)[None, :]


def place(batch: Batch, attacks: torch.Tensor) -> None:
    batch.ids.scatter_(1, slot_index(batch), attacks)


class Scorer:
    """Scores attack candidates of one example: rows of attack tokens followed by the example's `after`
    tokens, continuing its fixed `before` tokens from a cached prefix when the model has one (`prefix`, as
    the official runner's prefix cache; FLOPs are still counted on the whole input, as there)."""

    def __init__(self, model: torch.nn.Module, before: list[int], after: list[int], device: torch.device) -> None:
        self.model, self.device = model, device
        self.before = torch.tensor(before, dtype=torch.long, device=device)[None]
        self.after = torch.tensor(after, dtype=torch.long, device=device)[None]
        self.cache = model.prefix(self.before) if hasattr(model, "prefix") and before else None

    @torch.no_grad()
    def __call__(self, attacks: torch.Tensor) -> tuple[torch.Tensor, float]:
        rows = len(attacks)
        tail = torch.cat([attacks.to(self.device), self.after.expand(rows, -1)], dim=1)
        if self.cache is not None:
            logits = self.model(tail, past=self.cache)
        else:
            logits = self.model(torch.cat([self.before.expand(rows, -1), tail], dim=1))
        return logits, forward_flops(self.model, rows * (self.before.shape[1] + tail.shape[1]))


def encode_parts(tokenizer: Tokenizer, texts: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    return [(tokenizer.encode(b), tokenizer.encode(a)) for b, a in texts]


def initial_attack(tokenizer: Tokenizer, tokens: int) -> list[int]:
    """The official start "@&@&..." (`tokens` tokens); for tokenizers that merge it, `tokens` copies of "@"'s."""
    ids = tokenizer.encode((INIT_STRING * tokens)[:tokens])
    if len(ids) != tokens:
        ids = tokenizer.encode("@")[:1] * tokens
    return ids


def survives(tokenizer: Tokenizer, parts: tuple[list[int], list[int]], texts: tuple[str, str],
             attack: list[int]) -> bool:
    """The retokenisation filter: the prompt rebuilt from the candidate's decoded text encodes to exactly
    before + candidate + after."""
    return tokenizer.encode(texts[0] + tokenizer.decode(attack) + texts[1]) == parts[0] + attack + parts[1]


def candidate_mask(tokenizer: Tokenizer, parts: Sequence[tuple[list[int], list[int]]], texts: Sequence[tuple[str, str]],
                   attacks: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """[B, C] bool: candidates that change the attack and survive the retokenisation filter (skipped for a
    lossless tokenizer, one token per character, where every attack survives)."""
    valid = candidates.ne(attacks[:, None, :]).any(-1)
    if not tokenizer.lossless:
        for b in range(candidates.shape[0]):
            for c in range(candidates.shape[1]):
                if valid[b, c]:
                    valid[b, c] = survives(tokenizer, parts[b], texts[b], candidates[b, c].tolist())
    return valid


def gcg(model: NeoXClassifier, tokenizer: Tokenizer, texts: Sequence[tuple[str, str]], labels: torch.Tensor,
        cfg: AttackConfig, iterations: int | None = None, targets: torch.Tensor | None = None) -> AttackResult:
    """GCG on every example (all attacked in lockstep); see the module docstring. `targets`: the class each
    example is pushed toward (default: the proxy label 1 - y); any model with `embedding` and
    `forward(ids, lengths, embeds)` returning class logits can be attacked (a causal LM's next-token logits
    with a target token, as `benchmarks/gcg_speed.py` does)."""
    iterations = cfg.iterations if iterations is None else iterations
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(cfg.seed)
    parts = encode_parts(tokenizer, texts)
    count, n = len(parts), cfg.tokens
    attacks = torch.tensor([initial_attack(tokenizer, n)] * count, dtype=torch.long)
    batch = build_batch(tokenizer, parts, attacks)
    labels = labels.to(device)
    targets = (1 - labels) if targets is None else targets.to(device)
    weight = model.embedding.weight
    vocab = weight.shape[0]
    banned = torch.ones(vocab, dtype=torch.bool)
    banned[tokenizer.attack_ids()] = False
    success = torch.zeros(iterations + 1, count, dtype=torch.bool)
    flops = 0.0
    was_training = model.training
    model.eval()
    scorers = [Scorer(model, b, a, device) for b, a in parts]
    rows = torch.arange(count)
    for it in range(1, iterations + 1):
        # 1. the gradient with respect to the one-hot attack
        one_hot = F.one_hot(attacks, vocab).to(weight.dtype).requires_grad_(True)
        embeds = model.embedding(batch.ids.to(device)).detach()
        embeds = embeds.index_put((rows[:, None].expand(-1, n).reshape(-1), slot_index(batch).reshape(-1)),
                                  (one_hot.to(device) @ weight).reshape(-1, weight.shape[1]))
        loss = F.cross_entropy(model(lengths=batch.lengths.to(device), embeds=embeds), targets, reduction="sum")
        grad, = torch.autograd.grad(loss, one_hot)
        flops += forward_flops(model, batch.ids.numel()) + backward_flops(model, batch.ids.numel())
        # 2. top-k per position, candidates drawn uniformly from the pooled (position, token) pairs
        grad[:, :, banned] = float("inf")
        top = (-grad).topk(min(cfg.top_k, int((~banned).sum())), dim=-1).indices  # [B, n, k]
        pool = n * top.shape[-1]
        draw = torch.rand(count, pool, generator=generator).argsort(dim=1)[:, :cfg.candidates]  # [B, C]
        position, choice = draw // top.shape[-1], draw % top.shape[-1]
        token = top[rows[:, None], position, choice]  # [B, C]
        candidates = attacks[:, None, :].repeat(1, draw.shape[1], 1)  # [B, C, n]
        candidates.scatter_(2, position[..., None], token[..., None])
        # 3. the retokenisation filter and no self-replacement
        valid = candidate_mask(tokenizer, parts, texts, attacks, candidates)
        # 4. score every candidate; the lowest loss replaces the attack
        per = candidates.shape[1]
        scored = []
        for b in range(count):
            out, cost = scorers[b](candidates[b])
            scored.append(out)
            flops += cost
        logits = torch.stack(scored)  # [B, C, classes]
        losses = F.cross_entropy(logits.flatten(0, 1), targets.repeat_interleave(per),
                                 reduction="none").view(count, per).cpu()
        losses[~valid] = float("inf")
        best = losses.argmin(1)
        update = valid.any(1)
        picked = logits[rows, best].argmax(-1).cpu()
        attacks[update] = candidates[rows, best][update]
        place(batch, attacks)
        now = picked != labels.cpu()
        success[it] = torch.where(update, now, success[it - 1])
    model.train(was_training)
    return AttackResult(success, attacks.tolist(), flops)


@torch.no_grad()
def random_token(model: NeoXClassifier, tokenizer: Tokenizer, texts: Sequence[tuple[str, str]],
                 labels: torch.Tensor, cfg: AttackConfig, iterations: int | None = None,
                 chunk: int = 128) -> AttackResult:
    """Fresh uniform non-special tokens each iteration; an example stops at its first success. Each example's
    iterations are scored `chunk` at a time (the official runner scores all of them in one batch); FLOPs count
    the chunks scored."""
    iterations = cfg.iterations if iterations is None else iterations
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(cfg.seed)
    parts = encode_parts(tokenizer, texts)
    count, n = len(parts), cfg.tokens
    allowed = tokenizer.attack_ids()
    success = torch.zeros(iterations + 1, count, dtype=torch.bool)
    attacks, flops = [], 0.0
    was_training = model.training
    model.eval()
    for b, (before, after) in enumerate(parts):
        scorer = Scorer(model, before, after, device)
        last = None
        for start in range(0, iterations, chunk):
            draw = allowed[torch.randint(len(allowed), (min(chunk, iterations - start), n), generator=generator)]
            logits, cost = scorer(draw)
            flops += cost
            wrong = torch.nonzero(logits.argmax(-1).cpu() != int(labels[b])).flatten()
            last = draw[-1]
            if len(wrong):
                first = int(wrong[0])
                success[start + first + 1:, b] = True
                last = draw[first]
                break
        attacks.append(last.tolist())
    model.train(was_training)
    return AttackResult(success, attacks, flops)


ATTACKS = {"gcg": gcg, "random_token": random_token}


def attack(model: NeoXClassifier, tokenizer: Tokenizer, texts: Sequence[tuple[str, str]], labels: torch.Tensor,
           cfg: AttackConfig, iterations: int | None = None) -> AttackResult:
    return ATTACKS[cfg.kind](model, tokenizer, texts, labels, cfg, iterations)


@torch.no_grad()
def predictions(model: NeoXClassifier, tokenizer: Tokenizer, texts: Sequence[str], batch: int = 512) -> torch.Tensor:
    """argmax labels of plain texts."""
    device = next(model.parameters()).device
    out = []
    was_training = model.training
    model.eval()
    for i in range(0, len(texts), batch):
        ids, lengths = pad([tokenizer.encode(t) for t in texts[i:i + batch]], tokenizer.pad_id)
        out.append(model(ids.to(device), lengths.to(device)).argmax(-1).cpu())
    model.train(was_training)
    return torch.cat(out)


def pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids [B, T] and each row's length (`nets.causal_lm.pad_batch`)."""
    ids, attention, _ = pad_batch(rows, [0] * len(rows), pad_id)
    return ids.long(), attention.sum(1)


def iterations_to(asr: Sequence[float], target: float) -> float | None:
    """Iterations to reach an attack success rate `target`: linear interpolation between the two iterations
    around it (asr[0] is the un-attacked 0.0), None if never reached (the official
    `interpolated_iteration_for_asr`)."""
    if target == 0:
        return 0.0
    previous = 0.0
    for i, a in enumerate(asr):
        if a == target:
            return float(i)
        if a > target:
            return (i - 1) + (target - previous) / (a - previous)
        previous = a
    return None
