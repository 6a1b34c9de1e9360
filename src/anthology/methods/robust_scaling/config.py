"""Configs and presets for attacks and adversarial training of text classifiers across model sizes."""

from __future__ import annotations

import dataclasses
from typing import Literal

from anthology.core.config import check, override, validate
from anthology.text.tasks import Position

AttackKind = Literal["gcg", "random_token"]


@dataclasses.dataclass(frozen=True)
class AttackConfig:
    kind: AttackKind = "gcg"
    iterations: int = 10
    tokens: int = 10
    """Attack length in tokens (the paper's 10)."""
    candidates: int = 128
    """GCG: single-token swaps scored per iteration."""
    top_k: int = 256
    """GCG: tokens kept per position from the one-hot gradient."""
    position: Position = "suffix"
    seed: int = 0

    def __post_init__(self) -> None:
        validate(self, seed=">=0")


@dataclasses.dataclass(frozen=True)
class Config:
    task: Literal["password_match", "word_length", "file"] = "word_length"
    words: str | None = None
    """A word list, one word per line (default: the packaged SCOWL list of Debian's wamerican)."""
    data: str | None = None
    """task=file: a .jsonl of {"text", "label"} or a .tsv of label<TAB>text (spam, IMDB, ...)."""
    n_train: int = 20000
    n_val: int = 500
    instructions: bool = False
    """Prepend the task's constant instructions (the paper's format). The from-scratch victims drop them:
    a constant preamble carries no information for a model that never saw language and would make every
    sequence ~8x longer (a documented deviation)."""
    pretrained: str | None = None
    """A Pythia (GPT-NeoX) checkpoint folder in Hugging Face format to fine-tune (its tokenizer.json is
    used); default: a model of `hidden`/`layers`/`heads` trained from scratch on characters."""
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    optimizer: Literal["adamw", "adafactor"] = "adamw"
    """adamw for the from-scratch victims; adafactor (lr 1e-5) as the paper's fine-tuning of Pythia."""
    lr: float = 1e-3
    weight_decay: float = 0.0
    epochs: int = 3
    batch_size: int = 64
    # the evaluation attacks (on the first `n_attack` validation examples classified correctly)
    n_attack: int = 100
    gcg_iterations: int = 10
    """The paper's fixed budget for the size sweep: GCG 10 iterations."""
    random_token_iterations: int = 1280
    attack_tokens: int = 10
    candidates: int = 128
    top_k: int = 256
    position: Position = "suffix"
    # adversarial training (the official rounds)
    rounds: int = 0
    """Adversarial-training rounds after round 0 (0: none)."""
    train_attack: Literal["gcg", "random_token"] = "gcg"
    schedule: tuple[int, int] = (8, 64)
    """Iterations of the training attack, growing linearly from the first attack to the last (GCG 8 -> 64,
    random token 1024 -> 2048 in the paper)."""
    adv_examples: int = 200
    """Clean training examples attacked per round (all kept, with their true label)."""
    max_train_set: int = 1000
    max_adv_fraction: float = 0.8
    sampling_decay: float = 0.005
    loss_rank_weight: float = 0.5
    loss_rank: Literal["rank", "argsort"] = "rank"
    """rank: an example's rank by its last training loss (the paper's text); argsort: the official code's
    np.argsort(losses) (sort indices, not ranks)."""
    adv_lr: float = 3e-4
    adv_batch_size: int = 8
    """The official effective batch of 8."""
    round_attacks: tuple[AttackKind, ...] = ("gcg", "random_token")
    """Attacks evaluated after every round: the training attack and the transfer one."""
    round_gcg_iterations: int = 10
    round_random_token_iterations: int = 1280
    round_n_attack: int = 0
    """Validation examples attacked after every round (0: n_attack)."""
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        validate(self, seed=">=0", lr=">0", weight_decay=">=0", rounds=">=0", round_n_attack=">=0", max_adv_fraction="[0,1]",
                 sampling_decay=">=0", loss_rank_weight="[0,1]", adv_lr=">0")
        check(self.schedule[0] <= self.schedule[1], f"schedule {self.schedule}: the first attack's iterations "
              "must not exceed the last's")
        check(self.task != "file" or self.data is not None, "task=file needs --data path/to/examples.jsonl")

    def attack(self, kind: AttackKind, iterations: int | None = None) -> AttackConfig:
        default = self.gcg_iterations if kind == "gcg" else self.random_token_iterations
        return AttackConfig(kind, default if iterations is None else iterations, self.attack_tokens,
                            self.candidates, self.top_k, self.position, self.seed)


_TINY = dict(n_train=400, n_val=64, hidden=16, layers=1, heads=2, epochs=2, n_attack=8, gcg_iterations=3,
             random_token_iterations=20, candidates=16, top_k=16, rounds=2, schedule=(2, 3), adv_examples=8,
             max_train_set=40, round_gcg_iterations=2, round_random_token_iterations=10, lr=3e-3)

PRESETS: dict[str, Config] = {
    "tiny": Config(**_TINY),
    "demo": Config(n_train=20000, epochs=3, n_attack=30, rounds=2, train_attack="random_token", schedule=(64, 128),
                   adv_examples=50, max_train_set=500, round_n_attack=20),
    "quick": Config(n_train=20000, epochs=3, n_attack=50, rounds=4, train_attack="random_token",
                    schedule=(64, 256), adv_examples=100, round_n_attack=25),
    # fine-tune a real Pythia checkpoint as the paper: a Hugging Face folder (default ./pythia-14m, or --pretrained)
    "paper": Config(pretrained="pythia-14m", instructions=True, optimizer="adafactor", lr=1e-5, epochs=3, batch_size=8, n_attack=200,
                    n_val=500, rounds=10, adv_lr=1e-5, round_gcg_iterations=128, round_random_token_iterations=12800),
}


@dataclasses.dataclass(frozen=True)
class ModelSize:
    name: str
    hidden: int
    layers: int
    heads: int


@dataclasses.dataclass(frozen=True)
class TaskSetting:
    name: str
    overrides: tuple[tuple[str, object], ...] = ()
    """Config changes for this task's victims (its learning rate)."""


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    train: Config
    sizes: tuple[ModelSize, ...]
    tasks: tuple[TaskSetting, ...]
    adversarial_task: str
    """The task whose victims are also adversarially trained (`train.rounds` rounds)."""
    seeds: tuple[int, ...]
    workers: int = 2

    def __post_init__(self) -> None:
        validate(self, seeds=">=0")
        check(self.adversarial_task in [t.name for t in self.tasks],
              f"adversarial_task {self.adversarial_task} is not one of the tasks")


# probes (seed 0, 20k examples, 3 epochs): WordLength at lr 1e-3 reached 99.4% (24k parameters) and 99.8%
# (608k); PasswordMatch at lr 1e-3 stayed at 50% (106k), at lr 3e-3 reached 83% (61k)
_WL, _PM = TaskSetting("word_length", (("lr", 1e-3),)), TaskSetting("password_match", (("lr", 3e-3),))
_SIZES = (ModelSize("16k", 24, 2, 4), ModelSize("61k", 48, 2, 4), ModelSize("230k", 96, 2, 4))

REPRODUCE_PRESETS: dict[str, ReproduceConfig] = {
    "tiny": ReproduceConfig(PRESETS["tiny"], (ModelSize("2k", 8, 1, 2), ModelSize("5k", 16, 1, 2)),
                            (TaskSetting("word_length"), TaskSetting("password_match")), "word_length", (0,),
                            workers=1),
    "demo": ReproduceConfig(PRESETS["demo"], _SIZES[:2], (_WL,), "word_length", (0,)),
    "quick": ReproduceConfig(PRESETS["quick"], _SIZES, (_WL, _PM), "word_length", (0, 1, 2)),
    # GPU scale: the ladder to 4.8M parameters, the paper's attack sizes and schedule
    "paper": ReproduceConfig(override(PRESETS["quick"], n_attack=200, round_n_attack=200, rounds=10,
                                      adv_examples=200, schedule=(1024, 2048)),
                             (*_SIZES, ModelSize("610k", 128, 3, 4), ModelSize("1.8M", 192, 4, 6),
                              ModelSize("4.8M", 256, 6, 8)), (_WL, _PM), "word_length", (0, 1, 2, 3, 4)),
}
