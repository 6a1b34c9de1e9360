"""One victim: train (or fine-tune) a GPT-NeoX classifier, attack it, then adversarially train it in rounds,
attacking it again after every round."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from anthology.core.checkpoint import load_checkpoint, load_training_state, save_training_state
from anthology.core.device import resolve_device
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.core.seeding import seed_everything
from anthology.text.neox import NeoXClassifier, NeoXConfig, count_parameters, load_pretrained
from anthology.text.tasks import Example, TextTask, make_task
from anthology.text.tokenizer import BPETokenizer, CharTokenizer, Tokenizer
from anthology.tracking import Tracker, make_tracker

from .attacks import AttackResult, attack, iterations_to, pad, predictions, training_flops
from .config import AttackKind, Config

ASR_TARGET = 0.5  # the claim's "iterations to 50% success"


def load_victim(cfg: Config) -> tuple[NeoXClassifier, Tokenizer]:
    if cfg.pretrained is not None:
        return load_pretrained(cfg.pretrained), BPETokenizer.from_file(cfg.pretrained)
    tokenizer = CharTokenizer()
    return NeoXClassifier(NeoXConfig(tokenizer.vocab_size, cfg.hidden, cfg.layers, cfg.heads)), tokenizer


def make_optimizer(cfg: Config, model: NeoXClassifier, lr: float) -> torch.optim.Optimizer:
    if cfg.optimizer == "adafactor":
        return torch.optim.Adafactor(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)


def fit_epoch(model: NeoXClassifier, optimizer: torch.optim.Optimizer, tokenizer: Tokenizer, texts: Sequence[str],
              labels: Sequence[int], batch_size: int, generator: torch.Generator, device: torch.device
              ) -> tuple[list[float], float]:
    """One shuffled epoch of cross-entropy on the true labels; (each example's loss, training FLOPs)."""
    model.train()
    order = torch.randperm(len(texts), generator=generator).tolist()
    losses = [0.0] * len(texts)
    flops = 0.0
    for i in range(0, len(order), batch_size):
        index = order[i:i + batch_size]
        ids, lengths = pad([tokenizer.encode(texts[j]) for j in index], tokenizer.pad_id)
        y = torch.tensor([labels[j] for j in index], device=device)
        per = F.cross_entropy(model(ids.to(device), lengths.to(device)), y, reduction="none")
        optimizer.zero_grad(set_to_none=True)
        per.mean().backward()
        optimizer.step()
        for j, loss in zip(index, per.detach().cpu().tolist(), strict=True):
            losses[j] = loss
        flops += training_flops(model, ids.numel())
    return losses, flops


def attack_texts(examples: Sequence[Example], cfg: Config) -> list[tuple[str, str]]:
    return [e.split(cfg.position, cfg.instructions) for e in examples]


def clean_texts(examples: Sequence[Example], cfg: Config) -> list[str]:
    return [e.text("", cfg.position, cfg.instructions) for e in examples]


def evaluate_attacks(cfg: Config, model: NeoXClassifier, tokenizer: Tokenizer, task: TextTask,
                     kinds: Sequence[AttackKind], iterations: dict[str, int], n_attack: int = 0) -> dict[str, Any]:
    """Clean validation accuracy, then each attack on the first `n_attack` validation examples the model
    classifies correctly: the success-rate curve over iterations, iterations to 50%, FLOPs."""
    val = task.validation
    labels = torch.tensor([e.label for e in val])
    correct = predictions(model, tokenizer, clean_texts(val, cfg)) == labels
    chosen = torch.nonzero(correct).flatten()[:n_attack or cfg.n_attack].tolist()
    out: dict[str, Any] = {"eval/accuracy": float(correct.float().mean()), "eval/attacked": len(chosen)}
    for kind in kinds:
        result = attack(model, tokenizer, attack_texts([val[i] for i in chosen], cfg), labels[chosen],
                        cfg.attack(kind, iterations[kind]))
        out.update(attack_record(kind, result))
    return out


def attack_record(kind: str, result: AttackResult) -> dict[str, Any]:
    asr = result.asr
    return {f"eval/{kind}_asr": asr[-1], f"eval/{kind}_iterations_to_50": iterations_to(asr, ASR_TARGET),
            f"eval/{kind}_asr_curve": asr, f"eval/{kind}_flops": result.flops,
            f"eval/{kind}_flops_per_iteration": result.flops / max(1, len(asr) - 1)}


def schedule(cfg: Config) -> list[int]:
    """The training attack's iterations at each generation (rounds 0 .. rounds-1), linear from
    schedule[0] to schedule[1] (the official AttackSchedule: start + int(i (end - start) / (n - 1)))."""
    start, end = cfg.schedule
    n = cfg.rounds
    return [start + int(i * (end - start) / (n - 1)) if n > 1 else start for i in range(n)]


def adversarial_indices(losses: Sequence[float], count: int, cfg: Config, rng: np.random.Generator) -> list[int]:
    """`count` adversarial examples of the bank, sampled without replacement with weights
    exp(decay (r - max r)), r = (1 - w) time rank + w loss rank (newest and highest-loss first; an example
    not yet trained on has loss inf)."""
    n = len(losses)
    time_ranks = np.arange(n, dtype=float)
    values = np.asarray(losses, dtype=float)
    loss_ranks = np.argsort(values) if cfg.loss_rank == "argsort" else np.argsort(np.argsort(values, kind="stable"),
                                                                                    kind="stable")
    ranks = (1 - cfg.loss_rank_weight) * time_ranks + cfg.loss_rank_weight * loss_ranks
    weights = np.exp(cfg.sampling_decay * (ranks - ranks.max()))
    return rng.choice(n, count, replace=False, p=weights / weights.sum()).tolist()


def train(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None) -> TrainResult:
    """Scaling Trends in Language Model Robustness (Howe, McKenzie, Hollinsworth, Zajac, Tseng, Tucker,
    Bacon, Gleave, arXiv 2407.18213): one victim of the size sweep.

    1. Train a GPT-NeoX classifier on the task (from scratch on characters, or fine-tune a Pythia checkpoint).
    2. Attack it: GCG (`gcg_iterations`) and random token (`random_token_iterations`) on the first
       `n_attack` validation examples it classifies correctly.
    3. Adversarial training, `rounds` rounds (the paper's loop): round 0 attacks `adv_examples` clean training
       examples with the training attack at schedule[0] iterations; each later round builds a training set of
       at most `max_train_set` examples, at most `max_adv_fraction` of them adversarial (sampled from the
       growing bank by recency and loss), trains one epoch, attacks the validation set again (the training
       attack and the transfer attack), then attacks new training examples with the next schedule step.
       Defence FLOPs: 6 N T per training batch (N without the embedding) plus the training attacks' FLOPs.

    CLI: `anthology train robust_scaling --preset demo --hidden 128 --layers 3`.
    """
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    task = make_task(cfg.task, cfg.n_train, cfg.n_val, cfg.seed, cfg.words, cfg.data)
    model, tokenizer = load_victim(cfg)
    model = model.to(device)
    generator = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    sample_rng = random.Random(cfg.seed)
    train_texts, train_labels = clean_texts(task.train, cfg), [e.label for e in task.train]
    optimizer = make_optimizer(cfg, model, cfg.lr)
    state: dict[str, Any] = {"phase": "train", "epoch": 0, "round": 0, "curve": [], "summary": {}, "bank": [],
                             "bank_losses": [], "train_flops": 0.0, "defense_flops": 0.0}
    if run_dir is not None:
        run_dir.write_config(cfg, "robust_scaling", "custom")
        if run_dir.has_checkpoint():  # the optimiser of the phase the run was in, then every state
            if load_checkpoint(run_dir.checkpoint_path)["extra"]["state"]["phase"] == "adversarial":
                optimizer = make_optimizer(cfg, model, cfg.adv_lr)
            extra = load_training_state(run_dir.checkpoint_path, {"model": model, "optimizer": optimizer},
                                        generator)[1]
            state = extra["state"]
            rng.bit_generator.state = extra["rng"]
            sample_rng.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in extra["sample_rng"]))

    def save() -> None:
        if run_dir is not None:
            save_training_state(run_dir.checkpoint_path, state["epoch"] + state["round"],
                                {"model": model, "optimizer": optimizer}, generator,
                                {"state": state, "rng": rng.bit_generator.state,
                                 "sample_rng": list(sample_rng.getstate())})

    steps = cfg.epochs + cfg.rounds
    tracker.start(steps, state["epoch"] + state["round"], f"robust_scaling {cfg.task} {count_parameters(model)} params")
    # 1. the victim
    while state["phase"] == "train" and state["epoch"] < cfg.epochs:
        losses, flops = fit_epoch(model, optimizer, tokenizer, train_texts, train_labels, cfg.batch_size, generator,
                                  device)
        state["epoch"] += 1
        state["train_flops"] += flops
        tracker.log(state["epoch"], {"train/loss": float(np.mean(losses))})
        save()
    # 2. the fixed-budget attacks
    if state["phase"] == "train":
        record = evaluate_attacks(cfg, model, tokenizer, task, ("gcg", "random_token"),
                                  {"gcg": cfg.gcg_iterations, "random_token": cfg.random_token_iterations})
        state["summary"] = record
        state["phase"] = "adversarial"
        optimizer = make_optimizer(cfg, model, cfg.adv_lr)
        save()
    # 3. adversarial training
    plan = schedule(cfg)
    round_iterations = {"gcg": cfg.round_gcg_iterations, "random_token": cfg.round_random_token_iterations}
    while cfg.rounds and state["round"] <= cfg.rounds:  # a round is checkpointed as a whole
        r = state["round"]
        if r > 0:
            bank, bank_losses = state["bank"], state["bank_losses"]
            size = min(len(train_texts) + len(bank), cfg.max_train_set)
            n_adv = min(int(size * cfg.max_adv_fraction), len(bank))
            adv = adversarial_indices(bank_losses, n_adv, cfg, rng)
            clean = rng.choice(len(train_texts), size - n_adv, replace=False).tolist()
            texts = [train_texts[i] for i in clean] + [bank[i][0] for i in adv]
            labels = [train_labels[i] for i in clean] + [bank[i][1] for i in adv]
            losses, flops = fit_epoch(model, optimizer, tokenizer, texts, labels, cfg.adv_batch_size, generator, device)
            for k, i in enumerate(adv):
                bank_losses[i] = losses[len(clean) + k]
            state["defense_flops"] += flops
        record = {"step": r, "train/defense_flops": state["defense_flops"],
                  **evaluate_attacks(cfg, model, tokenizer, task, cfg.round_attacks, round_iterations,
                                     cfg.round_n_attack)}
        if r < cfg.rounds:  # new adversarial examples against the current model
            chosen = sample_rng.sample(range(len(task.train)), min(cfg.adv_examples, len(task.train)))
            examples = [task.train[i] for i in chosen]
            result = attack(model, tokenizer, attack_texts(examples, cfg), torch.tensor([e.label for e in examples]),
                            cfg.attack(cfg.train_attack, plan[r]))
            for e, tokens in zip(examples, result.attacks, strict=True):
                before, after = e.split(cfg.position, cfg.instructions)
                state["bank"].append([before + tokenizer.decode(tokens) + after, e.label])
                state["bank_losses"].append(math.inf)
            state["defense_flops"] += result.flops
        state["curve"].append(record)
        tracker.log(cfg.epochs + r, {k: v for k, v in record.items() if k.startswith("eval/") and not isinstance(v, list)})
        state["round"] += 1
        save()
    n_params = count_parameters(model)
    final = {f"eval/final_{k[5:]}": v for k, v in (state["curve"][-1].items() if state["curve"] else ())
             if k.startswith("eval/") and not isinstance(v, list)}  # after the last adversarial round
    summary = {"method": "robust_scaling", "task": cfg.task, "seed": cfg.seed, "params": n_params,
               "params_non_embedding": count_parameters(model, embedding=False),
               "train/flops": state["train_flops"], "train/defense_flops": state["defense_flops"], **state["summary"],
               **final}
    tracker.close()
    curve = state["curve"]
    if run_dir is not None:
        run_dir.write_curve(curve)
        run_dir.write_summary(summary)
    return TrainResult(summary, curve, {"model": model, "tokenizer": tokenizer})
