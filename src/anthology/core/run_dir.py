"""Run directories: `runs/<method>/<preset>/<seed>-<time>/` with config.json, metrics.jsonl, summary.json.

`config.json` holds the resolved config, the git commit and the versions of the packages that matter,
so a run can be re-created; `metrics.jsonl` is appended to (a resumed run adds a `resume` record and
then carries on); `summary.json` is the final result that tests, reports and reproductions read.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib.metadata
import json
import math
import os
import pathlib
import platform
import subprocess
from collections.abc import Iterator
from typing import Any

from anthology.core.config import config_to_dict

CHECKPOINT = "checkpoint"
REPRODUCTION_PREFIX = "reproduce"
_PACKAGES = ("anthology-ml", "torch", "numpy", "scipy", "tyro", "safetensors")


def git_commit(cwd: str | os.PathLike | None = None) -> str | None:
    """The current git commit (with '-dirty' when the tree has changes), or None outside a repository."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def package_versions(names: tuple[str, ...] = _PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _jsonable(value: Any) -> Any:
    """Floats that JSON cannot hold (nan, inf) become None; numpy/torch scalars become floats."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: pathlib.Path, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2) + "\n")
    tmp.replace(path)


@dataclasses.dataclass(frozen=True)
class RunDir:
    """One run's folder and the files in it."""

    path: pathlib.Path

    @classmethod
    def create(cls, method: str, preset: str, seed: int, root: str | os.PathLike = "runs",
               tag: str | None = None) -> RunDir:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        name = f"{tag or seed}-{stamp}"
        path = pathlib.Path(root) / method / preset / name
        path.mkdir(parents=True, exist_ok=False)
        return cls(path)

    @classmethod
    def latest(cls, method: str, preset: str, root: str | os.PathLike = "runs",
               prefix: str | None = None) -> RunDir | None:
        """The newest run folder of a method and preset whose name starts with `prefix` (default: the
        newest training run, reproductions excluded)."""
        base = pathlib.Path(root) / method / preset
        if not base.is_dir():
            return None
        found = [p for p in base.iterdir() if p.is_dir() and (
            p.name.startswith(prefix) if prefix is not None else not p.name.startswith(REPRODUCTION_PREFIX))]
        found.sort(key=lambda p: p.name.split("-", 1)[-1])
        return cls(found[-1]) if found else None

    @property
    def config_path(self) -> pathlib.Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> pathlib.Path:
        return self.path / "metrics.jsonl"

    @property
    def summary_path(self) -> pathlib.Path:
        return self.path / "summary.json"

    @property
    def curve_path(self) -> pathlib.Path:
        return self.path / "curve.json"

    def write_curve(self, curve: list[dict[str, Any]]) -> None:
        """The run's curve: one record per evaluation, keys `step` and `group/name` (`core.result`)."""
        write_json(self.curve_path, curve)

    def read_curve(self) -> list[dict[str, Any]]:
        return json.loads(self.curve_path.read_text()) if self.curve_path.exists() else []

    @property
    def checkpoint_path(self) -> pathlib.Path:
        return self.path / CHECKPOINT

    def has_checkpoint(self) -> bool:
        return (self.checkpoint_path / "state.json").exists() or (
            self.path / f"{CHECKPOINT}.old" / "state.json").exists()

    def write_config(self, cfg: Any, method: str, preset: str) -> None:
        """Write config.json once (a resumed run keeps the original)."""
        if self.config_path.exists():
            return
        write_json(self.config_path, {
            "method": method, "preset": preset, "config": config_to_dict(cfg),
            "git_commit": git_commit(pathlib.Path(__file__).parent), "packages": package_versions(),
            "created": _dt.datetime.now().isoformat(timespec="seconds"),
        })

    def read_config(self) -> dict[str, Any]:
        return json.loads(self.config_path.read_text())

    def append_metrics(self, record: dict[str, Any]) -> None:
        with self.metrics_path.open("a") as fh:
            fh.write(json.dumps(_jsonable(record)) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.summary_path, summary)

    def read_summary(self) -> dict[str, Any] | None:
        if not self.summary_path.exists():
            return None
        return json.loads(self.summary_path.read_text())


def iter_runs(root: str | os.PathLike = "runs") -> Iterator[RunDir]:
    """Every finished run (one with a summary.json) under `root`."""
    root = pathlib.Path(root)
    if root.is_dir():
        for summary in sorted(root.glob("**/summary.json")):
            yield RunDir(summary.parent)


def cache_root() -> pathlib.Path:
    """The user cache for derived and downloaded files: $ANTHOLOGY_CACHE, default ~/.cache/anthology."""
    return pathlib.Path(os.environ.get("ANTHOLOGY_CACHE", pathlib.Path.home() / ".cache" / "anthology"))
