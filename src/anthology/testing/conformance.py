"""The conformance suite: what every registered method must do, checked with no code of the method's own.

`tests/methods/test_conformance.py` parametrises each check over `core.registry.method_names()`, so a new
method gets all of them by existing. Each check runs the method's `tiny` preset (seconds), through the
`MethodSpec` only:

- `check_tiny_run_writes_its_run_folder`: `train(cfg, run_dir=...)` returns a `core.result.TrainResult`
  and leaves config.json, metrics.jsonl and a summary.json equal to the returned summary, with metric
  at least one evaluation metric (`eval/...`), and a curve (one record per evaluation, when the method
  evaluates during training) whose keys are `step` and `group/name`, written to the run folder's
  curve.json.
- `check_deterministic`: same seed, identical summary; another seed, another evaluation metric.
- `check_every_trainable_parameter_changes`: every parameter handed to an optimizer during the run
  has moved by its end (catches detached graphs and parameters that never reach a loss).
- `check_kill_and_resume`: a run killed (an exception raised from its tracker) at its last logged
  step resumes from what it saved to the uninterrupted run's summary, bit for bit.
- `check_cli_errors`: a wrong preset, an unknown override and a bad value each give one line on
  stderr and exit code 2.
- `check_bad_value`: a NaN, infinite, negative or zero value in any numeric field (nested ones too) is
  refused with one line naming the field when the config is built, or gives a valid tiny run.
- `check_device`: `--device cuda` without a GPU is refused with one line naming the device; with a
  GPU the trained modules are on it, or a CPU-only method refuses in one line (`core.device.require_cpu`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import pathlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from unittest import mock

import torch

from anthology.core.errors import AnthologyError
from anthology.core.registry import MethodSpec
from anthology.core.result import METRIC_GROUPS, TrainResult, evaluation_metrics
from anthology.core.run_dir import RunDir
from anthology.testing.assertions import assert_deterministic, assert_summaries_equal
from anthology.testing.fakes import SimulatedKill


def tiny(spec: MethodSpec, **changes: Any) -> Any:
    return dataclasses.replace(spec.presets["tiny"], **changes)


def check_tiny_run_writes_its_run_folder(spec: MethodSpec, root: pathlib.Path) -> TrainResult:
    cfg = tiny(spec)
    run = RunDir.create(spec.name, "tiny", cfg.seed, root)
    result = spec.train(cfg, run_dir=run)
    assert isinstance(result, TrainResult), f"{spec.name}.train returned {type(result).__name__}, not TrainResult"
    assert run.config_path.is_file() and run.read_config()["method"] == spec.name
    assert run.read_metrics(), "metrics.jsonl is empty"
    written = run.read_summary()
    assert written is not None, "no summary.json"
    assert_summaries_equal({k: v for k, v in written.items() if k in result.summary},
                           json.loads(json.dumps(result.summary)))
    assert evaluation_metrics(result.summary), f"no eval/... metric in {sorted(result.summary)}"
    for record in result.curve:
        bad = [k for k in record if k != "step" and k.split("/", 1)[0] not in METRIC_GROUPS]
        assert "step" in record and not bad, f"curve keys {bad or ['step missing']} break the group/name rule"
    if result.curve:
        assert run.read_curve() == json.loads(json.dumps(result.curve)), "curve.json differs from the returned curve"
    return result


def check_deterministic(spec: MethodSpec) -> None:
    base = tiny(spec)
    assert_deterministic(lambda seed: spec.train(dataclasses.replace(base, seed=seed)).summary,
                         seed=base.seed, other_seed=base.seed + 1)


@contextlib.contextmanager
def record_optimized_parameters() -> Iterator[list[tuple[str, torch.nn.Parameter, torch.Tensor]]]:
    """Every parameter given to any torch optimizer created inside the block, with its value then."""
    seen: list[tuple[str, torch.nn.Parameter, torch.Tensor]] = []
    original = torch.optim.Optimizer.__init__

    optimizers = [0]

    def init(self: torch.optim.Optimizer, params: Any, *args: Any, **kwargs: Any) -> None:
        original(self, params, *args, **kwargs)
        optimizers[0] += 1
        for g, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                seen.append((f"optimizer {optimizers[0]} ({type(self).__name__}) group {g} param {i} "
                             f"{tuple(p.shape)}", p, p.detach().clone()))

    with mock.patch.object(torch.optim.Optimizer, "__init__", init):
        yield seen


def check_every_trainable_parameter_changes(spec: MethodSpec) -> None:
    with record_optimized_parameters() as seen:
        spec.train(tiny(spec))
    assert seen, f"{spec.name} created no torch optimizer"
    unchanged = [name for name, p, before in seen if p.requires_grad and torch.equal(p.detach(), before)]
    nonfinite = [name for name, p, _ in seen if not torch.isfinite(p.detach()).all()]
    assert not unchanged, f"{len(unchanged)} optimised parameter(s) never changed: {unchanged[:5]}"
    assert not nonfinite, f"non-finite parameters: {nonfinite[:5]}"


class _KillAtLoggedStep:
    """A tracker that raises `SimulatedKill` at the first record logged at `step` or later."""

    def __init__(self, step: int | None = None) -> None:
        self.step, self.steps = step, []

    def start(self, total_steps: int, initial_step: int = 0, description: str = "") -> None:
        pass

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        self.steps.append(step)
        if self.step is not None and step >= self.step:
            raise SimulatedKill(f"killed at step {step}")

    def close(self) -> None:
        pass


def check_kill_and_resume(spec: MethodSpec, root: pathlib.Path) -> None:
    cfg = tiny(spec)
    counter = _KillAtLoggedStep()
    whole = spec.train(cfg, tracker=counter, run_dir=RunDir.create(spec.name, "tiny", cfg.seed, root / "whole"))
    steps = sorted(set(counter.steps))
    assert len(steps) >= 2, f"{spec.name} logged fewer than two steps: {steps}"
    run = RunDir.create(spec.name, "tiny", cfg.seed, root / "killed")
    try:
        spec.train(cfg, tracker=_KillAtLoggedStep(steps[-1]), run_dir=run)
    except SimulatedKill:
        pass
    else:
        raise AssertionError(f"{spec.name} never logged step {steps[-1]} the second time")
    assert run.read_summary() is None, "a killed run wrote its summary"
    saved = [p for p in run.path.rglob("*") if p.is_file() and p.name not in ("config.json", "metrics.jsonl")]
    assert saved, f"{spec.name} saved nothing to resume from before its last logged step"
    resumed = spec.train(cfg, run_dir=run)
    assert_summaries_equal(whole.summary, resumed.summary)


CliMain = Callable[[list[str]], int]


def run_cli(main: CliMain, argv: list[str]) -> tuple[int, str, str]:
    """`anthology.cli.main` is passed in: the CLI sits above this layer."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(main: CliMain, argv: list[str], *fragments: str) -> str:
    code, _, err = run_cli(main, argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, f"{argv}: exit {code}, stderr {err!r}"
    for fragment in fragments:
        assert fragment in lines[0], f"{argv}: {lines[0]!r} does not mention {fragment!r}"
    return lines[0]


def check_cli_errors(spec: MethodSpec, root: pathlib.Path, main: CliMain) -> None:
    base = ["train", spec.name, "--runs", str(root), "--quiet"]
    assert_one_line_error(main, [*base, "--preset", "tinny"], "tinny", "tiny")
    assert_one_line_error(main, [*base, "--preset", "tiny", "--no-such-field", "1"], "no-such-field")
    assert_one_line_error(main, [*base, "--preset", "tiny", "--seed", "zero"], "seed")
    assert_one_line_error(main, [*base, "--preset", "tiny", "--seed", "-3"], "seed", ">=0")
    assert not list(root.rglob("summary.json")), "a refused command trained anyway"


def check_device(spec: MethodSpec, root: pathlib.Path, main: CliMain) -> None:
    if torch.cuda.is_available():
        try:
            result = spec.train(tiny(spec, device="cuda"))
        except AnthologyError as err:  # a CPU-only method refuses in one line
            assert "\n" not in str(err) and "cpu" in str(err)
            return
        modules = [m for m in result.artifacts.values() if isinstance(m, torch.nn.Module)]
        assert modules, f"{spec.name} returns no trained module in its artifacts"
        for module in modules:
            assert all(p.is_cuda for p in module.parameters()), f"{spec.name} left parameters off the GPU"
        return
    line = assert_one_line_error(main, ["train", spec.name, "--runs", str(root), "--quiet", "--preset", "tiny",
                                  "--device", "cuda"], "cuda")
    assert "Traceback" not in line
    try:
        spec.train(tiny(spec, device="cuda"))
    except AnthologyError:
        return
    raise AssertionError(f"{spec.name} trained on the CPU although device='cuda' was asked for")


BAD_NUMBERS = (math.nan, math.inf, -math.inf, -1, -1e-3, 0)


def numeric_fields(cfg: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every int, float or tuple-of-numbers field of a (nested) config dataclass."""
    paths = []
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        if dataclasses.is_dataclass(value):
            paths += numeric_fields(value, f"{prefix}{field.name}.")
        elif (isinstance(value, int | float) and not isinstance(value, bool)) or (
                isinstance(value, tuple) and value and all(isinstance(v, int | float) for v in value)):
            paths.append(prefix + field.name)
    return paths


def with_value(cfg: Any, path: str, value: float) -> Any:
    """`cfg` with `value` at the dotted `path` (every element of a tuple field)."""
    head, _, rest = path.partition(".")
    current = getattr(cfg, head)
    if rest:
        return dataclasses.replace(cfg, **{head: with_value(current, rest, value)})
    if isinstance(current, tuple):
        value = tuple(value for _ in current)
    elif isinstance(current, int) and float(value).is_integer():
        value = int(value)
    return dataclasses.replace(cfg, **{head: value})


def check_bad_value(spec: MethodSpec, path: str, value: float) -> None:
    try:
        cfg = with_value(tiny(spec), path, value)
    except AnthologyError as err:
        message = str(err)
        assert "\n" not in message and path.rsplit(".", 1)[-1] in message, message
        return
    try:
        result = spec.train(cfg)
    except AnthologyError as err:  # refused later, still in one line
        assert "\n" not in str(err), str(err)
        return
    assert evaluation_metrics(result.summary), f"{path} = {value!r} ran but evaluated nothing"
