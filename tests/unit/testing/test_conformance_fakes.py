"""The conformance suite fails on the broken methods it exists to catch (fake methods, trained in
milliseconds): one that ignores its seed, one with a parameter that never reaches the loss, one that
saves nothing to resume from, one that silently stays on the CPU, one that takes NaN for a rate."""

import dataclasses

import pytest
import torch

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.config import validate
from anthology.core.device import resolve_device
from anthology.core.registry import MethodSpec
from anthology.core.result import TrainResult
from anthology.testing import conformance


@dataclasses.dataclass(frozen=True)
class FakeConfig:
    seed: int = 0
    steps: int = 20
    lr: float = 0.1
    device: str = "cpu"
    ignore_seed: bool = False
    detach_bias: bool = False
    checkpoint: bool = True
    honour_device: bool = True
    validated: bool = True

    def __post_init__(self) -> None:
        if self.validated:
            validate(self, seed=">=0", lr=">0")


def fake_train(cfg: FakeConfig, tracker=None, run_dir=None) -> TrainResult:
    """Linear regression by SGD, logging every step and checkpointing every 5."""
    if cfg.honour_device:
        resolve_device(cfg.device)
    torch.manual_seed(0 if cfg.ignore_seed else cfg.seed)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(123))
    y = x @ torch.tensor([[1.0], [-2.0]]) + 0.5
    start = 0
    if run_dir is not None:
        run_dir.write_config(cfg, "fake", "tiny")
        if run_dir.has_checkpoint():
            start, _ = load_training_state(run_dir.checkpoint_path, {"model": model, "optimizer": optimizer})
    for step in range(start, cfg.steps):
        bias = model.bias.detach() if cfg.detach_bias else model.bias
        loss = ((x @ model.weight.T + bias - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if tracker is not None:
            tracker.log(step + 1, {"train/loss": loss.item()})
        if run_dir is not None:
            run_dir.append_metrics({"step": step + 1, "train/loss": loss.item()})
            if cfg.checkpoint and (step + 1) % 5 == 0:
                save_training_state(run_dir.checkpoint_path, step + 1, {"model": model, "optimizer": optimizer})
    with torch.no_grad():
        final = float(((model(x) - y) ** 2).mean())
    summary = {"seed": cfg.seed, "eval/mse": final}
    if run_dir is not None:
        run_dir.write_summary(summary)
    return TrainResult(summary, [], {"model": model})


def spec(**changes) -> MethodSpec:
    return MethodSpec(name="fake", title="fake", paper="", claim="", reproduces="", config_cls=FakeConfig,
                      presets={"tiny": FakeConfig(**changes)}, train=fake_train, reproduce=lambda *a, **k: None,
                      reproduce_presets={}, judge=lambda rcfg, rows: (True, ""))


def test_a_sound_fake_passes_every_check(tmp_path):
    good = spec()
    conformance.check_tiny_run_writes_its_run_folder(good, tmp_path / "a")
    conformance.check_deterministic(good)
    conformance.check_every_trainable_parameter_changes(good)
    conformance.check_kill_and_resume(good, tmp_path / "b")
    for path in conformance.numeric_fields(good.presets["tiny"]):
        for value in conformance.BAD_NUMBERS:
            conformance.check_bad_value(good, path, value)


def test_a_seed_ignoring_method_fails_determinism():
    with pytest.raises(AssertionError, match="is the seed used"):
        conformance.check_deterministic(spec(ignore_seed=True))


def test_a_parameter_that_never_reaches_the_loss_fails():
    with pytest.raises(AssertionError, match="never changed"):
        conformance.check_every_trainable_parameter_changes(spec(detach_bias=True))


def test_a_method_that_saves_nothing_fails_resume(tmp_path):
    with pytest.raises(AssertionError, match="saved nothing"):
        conformance.check_kill_and_resume(spec(checkpoint=False), tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal seen where no GPU is visible")
def test_a_method_that_stays_on_the_cpu_when_asked_for_cuda_fails(tmp_path):
    import sys

    def refusing_cli(argv):  # the CLI's answer is right; the method's own train() is what is checked next
        print("anthology: error: device 'cuda' was asked for but no CUDA GPU is visible", file=sys.stderr)
        return 2

    conformance.check_device(spec(), tmp_path, refusing_cli)
    with pytest.raises(AssertionError, match="trained on the CPU although device='cuda'"):
        conformance.check_device(spec(honour_device=False), tmp_path, refusing_cli)


def test_an_unvalidated_config_fails_the_bad_value_check():
    with pytest.raises(AssertionError, match="ran but evaluated nothing"):
        unvalidated = spec(validated=False)
        for value in conformance.BAD_NUMBERS:
            conformance.check_bad_value(unvalidated, "lr", value)
