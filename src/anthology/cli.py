"""`anthology` command line: list, train, reproduce, report, data.

    anthology list
    anthology train <method> [--preset tiny|demo|quick|paper] [--resume last|PATH] [--runs DIR] [--quiet]
                             [any config field, e.g. --steps 500 --model.latent-dim 16]
    anthology reproduce <method>|all [--preset demo|quick|paper] [--workers N] [--resume] [--out DIR]
    anthology generate <method> [--weights qed=0.7,sa=0.3] [-n 1000] [--run FOLDER] [--out FILE.csv]
    anthology report [--runs DIR] [--results DIR] [--out DIR]
    anthology data list|fetch [--names FILE ...] [--dest DIR]

Mistakes (a wrong method or preset name, a bad override, a missing extra) print one line saying what
to do and exit with code 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import pathlib
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from anthology.core.errors import AnthologyError, UnknownNameError
from anthology.core.registry import PRESET_NAMES, get_method, method_names

T = TypeVar("T")
USAGE = __doc__.split("\n\n")[1]
RESULTS_DIR = "results"


def _parse(cls: Callable[..., T], args: Sequence[str], prog: str, default: Any = None) -> T:
    """tyro parsing whose errors become one line (help still prints in full)."""
    import tyro

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return tyro.cli(cls, args=list(args), prog=prog, default=default)
    except SystemExit as exit_:
        if exit_.code in (0, None):
            sys.stderr.write(err.getvalue())
            raise
        text = [re.sub(r"^[│╭╰─\s]+|[│╮╯─\s]+$", "", line) for line in err.getvalue().splitlines()]
        body = [t for t in text if t and not t.startswith("For full helptext")]
        message = " ".join(body[1:3] if len(body) > 1 else body)
        raise AnthologyError(f"{message or 'bad arguments'}; see '{prog} --help'") from None


def _take(args: list[str], flag: str, default: str | None = None, boolean: bool = False) -> str | None:
    """Remove `--flag value` (or a boolean `--flag`) from args and return its value."""
    for i, arg in enumerate(args):
        if arg == flag:
            if boolean:
                del args[i]
                return "true"
            if i + 1 >= len(args):
                raise AnthologyError(f"{flag} needs a value")
            value = args[i + 1]
            del args[i:i + 2]
            return value
        if arg.startswith(flag + "="):
            del args[i]
            return arg.split("=", 1)[1]
    return default


def cmd_list(args: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="anthology methods")
    table.add_column("method", no_wrap=True)
    table.add_column("title")
    table.add_column("presets", no_wrap=True)
    table.add_column("reproduces", overflow="fold")
    for name in method_names():
        spec = get_method(name)
        table.add_row(name, spec.title, ", ".join(spec.presets), spec.reproduces)
    Console().print(table)
    return 0


def cmd_train(args: list[str]) -> int:
    from anthology.core.run_dir import RunDir
    from anthology.tracking import make_tracker

    if not args or args[0].startswith("-"):
        raise AnthologyError(f"name a method: anthology train <method> (one of {', '.join(method_names())})")
    spec = get_method(args.pop(0))
    preset = _take(args, "--preset", "demo")
    resume = _take(args, "--resume")
    root = _take(args, "--runs", "runs")
    quiet = _take(args, "--quiet", boolean=True)
    spec.preset(preset)
    if resume:
        run = RunDir.latest(spec.name, preset, root) if resume == "last" else RunDir(pathlib.Path(resume))
        if run is None or not run.config_path.exists():
            raise AnthologyError(f"no run to resume at '{resume}'; give a run folder or 'last'")
        from anthology.core.config import config_from_dict

        if run.read_summary() is not None:
            print(f"run {run.path} has already finished; nothing to resume")
            return 0
        stored = run.read_config()
        cls = type(spec.presets[stored["preset"]]) if stored.get("preset") in spec.presets else spec.config_cls
        cfg = config_from_dict(cls, stored["config"])
    else:  # a preset may be of another config class than the method's main one (self_predictive: MiniGrid)
        cfg = _parse(type(spec.presets[preset]), args, f"anthology train {spec.name} --preset {preset}",
                     default=spec.presets[preset])
        run = RunDir.create(spec.name, preset, cfg.seed, root)
        run.write_config(cfg, spec.name, preset)
    result = spec.train(cfg, tracker=make_tracker(run, console=not quiet), run_dir=run)
    print(f"run: {run.path}")
    for key, value in result.summary.items():
        if isinstance(value, float):
            print(f"  {key} = {value:.4g}")
    return 0


@dataclasses.dataclass(frozen=True)
class ReproduceArgs:
    preset: str = "demo"
    """demo (minutes, `make demo`), quick (what results/ is made from), paper (GPU or long runs), tiny, or a
    method's own (lambdazero: vina)."""
    workers: int | None = None
    """Parallel worker processes (default: the preset's)."""
    resume: bool = False
    """Continue the newest unfinished reproduction of this method and preset."""
    out: str | None = None
    """Also write claim.json/figures.json here (default: results/<method>/ for the quick preset)."""
    device: str | None = None
    """Device for every job (cpu, cuda, auto); default: the preset's (cpu)."""
    backend: str = "process"
    """process (worker processes on this machine) or ray (extra `ray`; joins RAY_ADDRESS when set)."""
    runs: str = "runs"
    quiet: bool = False


def committed_results(method: str, preset: str) -> str | None:
    """Where a reproduction's outputs are committed: results/<method>/ for quick, results/<method>/<preset>/
    for a method's own extra presets (lambdazero's vina); nothing for tiny, demo and paper."""
    if preset == "quick":
        return str(pathlib.Path(RESULTS_DIR) / method)
    if preset not in PRESET_NAMES:
        return str(pathlib.Path(RESULTS_DIR) / method / preset)
    return None


def cmd_reproduce(args: list[str]) -> int:
    from anthology.core.run_dir import REPRODUCTION_PREFIX, RunDir
    from anthology.report import render_method
    from anthology.tracking import make_tracker

    if not args or args[0].startswith("-"):
        raise AnthologyError(f"name a method or 'all': anthology reproduce <method>|all ({', '.join(method_names())})")
    target = args.pop(0)
    names = method_names() if target == "all" else [target]
    for name in names:
        get_method(name)  # unknown names fail before anything runs
    opts = _parse(ReproduceArgs, args, f"anthology reproduce {target}")
    if target == "all" and opts.preset not in PRESET_NAMES:
        raise UnknownNameError("preset", opts.preset, PRESET_NAMES)
    failed = []
    for name in names:
        try:
            spec = get_method(name)
            if opts.preset not in spec.reproduce_presets:
                raise UnknownNameError(f"reproduce preset of '{name}'", opts.preset, spec.reproduce_presets)
            out = opts.out or committed_results(name, opts.preset)
            claim = spec.reproduce(opts.preset, out=out, root=opts.runs, workers=opts.workers,
                                   resume=opts.resume, tracker=make_tracker(None, console=not opts.quiet),
                                   backend=opts.backend, device=opts.device)
        except AnthologyError as err:
            if len(names) == 1:
                raise
            print(f"anthology: error: {name}: {err}", file=sys.stderr)  # `all` goes on with the others
            failed.append(name)
            continue
        latest = RunDir.latest(name, opts.preset, opts.runs, prefix=REPRODUCTION_PREFIX)
        for folder in {p for p in (out, latest.path if latest else None) if p}:
            render_method(pathlib.Path(folder))
        print(f"{name}: holds={claim.holds}. {claim.evidence}")
        print(f"  written to {latest.path if latest else ''}" + (f" and {out}" if out else ""))
    if failed:
        print(f"anthology: error: not reproduced: {', '.join(failed)} (see the lines above)", file=sys.stderr)
        return 2
    return 0


@dataclasses.dataclass(frozen=True)
class ReportArgs:
    runs: str = "runs"
    """Where run folders are (demo reproductions there are shown beside the committed results)."""
    results: str = RESULTS_DIR
    """Committed results (results/<method>/claim.json and figures.json)."""
    out: str = "report"
    """Where index.html and report.md go."""
    update_readmes: str | None = None
    """A checkout of the repository (e.g. `.`) whose README method table and method READMEs' results tables
    are rebuilt from --results; off by default (the report never writes into the installed package)."""


def cmd_report(args: list[str]) -> int:
    from anthology.report import build_report, update_repository_readmes

    opts = _parse(ReportArgs, args, "anthology report")
    index = build_report(pathlib.Path(opts.runs), pathlib.Path(opts.results), pathlib.Path(opts.out))
    print(f"report: {index}")
    if opts.update_readmes is not None:
        for path in update_repository_readmes(pathlib.Path(opts.update_readmes), pathlib.Path(opts.results)):
            print(f"updated {path}")
    return 0


@dataclasses.dataclass(frozen=True)
class DataArgs:
    names: tuple[str, ...] = ()
    """fetch only: the files to download (default: all the molecular files); `fashion_mnist` for Fashion-MNIST,
    which is taken from where it is found (Debian's dataset-fashion-mnist, $ANTHOLOGY_DATA) before any download."""
    dest: str | None = None
    """fetch only: where to put them (default: the user cache, $ANTHOLOGY_CACHE/data)."""


def cmd_data(args: list[str]) -> int:
    """`anthology data list`: each data file and where it is found; `anthology data fetch`: download the
    molecular files from their public sources into the cache (checksums verified); `anthology data fetch
    fashion_mnist`: find Fashion-MNIST, or download it."""
    from anthology.chem.data import DATA_FILES, data_file, fetch_data_files

    action = args.pop(0) if args and not args[0].startswith("-") else "list"
    if action not in ("list", "fetch"):
        raise UnknownNameError("data action", action, ("list", "fetch"))
    names = []
    while args and not args[0].startswith("-"):  # `anthology data fetch fashion_mnist` reads as --names
        names.append(args.pop(0))
    opts = _parse(DataArgs, args, f"anthology data {action}")
    names += list(opts.names)
    if action == "fetch":
        if "fashion_mnist" in names:
            from anthology.vision.datasets import FASHION_FILES, fetch_fashion_mnist, find_fashion_file

            try:
                paths = [find_fashion_file(name) for name in FASHION_FILES]
            except AnthologyError:
                paths = fetch_fashion_mnist(opts.dest)
            for path in paths:
                print(f"ok  {path}")
            names.remove("fashion_mnist")
            if not names:
                return 0
        for path in fetch_data_files(names or None, pathlib.Path(opts.dest) if opts.dest else None):
            print(f"ok  {path}")
        return 0
    for name, spec in DATA_FILES.items():
        try:
            where = str(data_file(name))
        except AnthologyError:
            where = "missing"
        print(f"{name:34s} {where}  ({spec.what})")
    from anthology.vision.datasets import FASHION_FILES, find_fashion_file

    for name in FASHION_FILES:
        try:
            where = str(find_fashion_file(name, verify=False))
        except AnthologyError:
            where = "missing"
        print(f"{'fashion-mnist/' + name:34s} {where}  (Fashion-MNIST)")
    return 0


def cmd_generate(args: list[str]) -> int:
    """`anthology generate <method> ...`: sample from a trained generative model (Mol-MoE) to a CSV."""
    if not args or args[0].startswith("-"):
        raise AnthologyError("name a method: anthology generate <method> (mol_moe)")
    spec = get_method(args.pop(0))
    if spec.generate is None:
        generative = [n for n in method_names() if get_method(n).generate is not None]
        raise AnthologyError(f"'{spec.name}' does not generate samples; methods that do: {', '.join(generative)}")
    args = ["--n" if a == "-n" else a for a in args]
    cfg = _parse(spec.generate_config, args, f"anthology generate {spec.name}")
    path = spec.generate(cfg)
    print(f"wrote {path}")
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "list": cmd_list, "train": cmd_train, "generate": cmd_generate, "reproduce": cmd_reproduce, "report": cmd_report, "data": cmd_data,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    try:
        command = args.pop(0)
        if command not in COMMANDS:
            raise UnknownNameError("command", command, COMMANDS)
        return COMMANDS[command](args)
    except AnthologyError as err:
        print(f"anthology: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("anthology: interrupted; rerun with --resume to continue from the last checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
