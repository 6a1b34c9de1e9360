"""Tables, plots and the report page.

`render_method(folder)` turns a reproduction folder's `claim.json` and `figures.json` into `table.md`,
`table.csv` and one PNG per figure. `build_report` does that for every method's committed results
(`results/<method>/`, the `quick` preset) and for its newest reproduction under `runs/` of each other
preset (the `demo` one that `make demo` just ran), then writes `report/index.html` and
`report/report.md`. It never writes into the installed package: the README's method table and each
method README's results table are refreshed only by `update_repository_readmes(checkout, results)`
(`anthology report --update-readmes` in a checkout of the repository).
"""

from __future__ import annotations

import csv
import html
import json
import pathlib
import shutil
from typing import Any

from anthology.core.claims import Claim, format_table, read_claim
from anthology.core.errors import AnthologyError
from anthology.core.registry import get_method, method_names
from anthology.core.reproduction import CLAIM_FILE, FIGURES_FILE
from anthology.core.run_dir import REPRODUCTION_PREFIX

README_START, README_END = "<!-- methods-table:start -->", "<!-- methods-table:end -->"
RESULTS_START, RESULTS_END = "<!-- results-table:start -->", "<!-- results-table:end -->"
SHOWN_PRESETS = ("demo", "paper", "tiny")


def plot_figure(spec: dict[str, Any], path: pathlib.Path) -> pathlib.Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    for s in spec["series"]:
        style = s.get("style", "-")
        ax.plot(s["x"], s["y"], style if style != "-" else "-", label=s["label"], linewidth=1.2)
    if spec.get("logy"):
        ax.set_yscale("log")
    if spec.get("xlim"):
        ax.set_xlim(*spec["xlim"])
    if spec.get("ylim"):
        ax.set_ylim(*spec["ylim"])
    ax.set(title=spec["title"], xlabel=spec["xlabel"], ylabel=spec["ylabel"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncols=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_table_csv(claim: Claim, path: pathlib.Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["setting", "variant", "metric", "mean", "std", "n"])
        for r in claim.table:
            writer.writerow([r.setting, r.variant, r.metric, r.mean, "" if r.std is None else r.std, r.n])


def render_method(folder: pathlib.Path) -> list[pathlib.Path]:
    """table.md, table.csv and PNGs for one reproduction folder; returns the PNG paths."""
    claim = read_claim(folder / CLAIM_FILE)
    (folder / "table.md").write_text(
        f"# {claim.method}: {claim.preset} preset\n\nClaim: {claim.claim}\n\nHolds: **{claim.holds}**. "
        f"{claim.evidence}\n\nCommand: `{claim.command}` (seeds {claim.seeds})\n\n{format_table(claim.table)}\n")
    write_table_csv(claim, folder / "table.csv")
    pngs = []
    if (folder / FIGURES_FILE).exists():
        for spec in json.loads((folder / FIGURES_FILE).read_text()):
            pngs.append(plot_figure(spec, folder / f"{spec['name']}.png"))
    return pngs


def _sources(method: str, runs: pathlib.Path, results: pathlib.Path) -> list[tuple[str, pathlib.Path]]:
    """(label, folder) of the committed results and the newest finished reproduction of other presets."""
    found = []
    if (results / method / CLAIM_FILE).exists():
        found.append(("committed results (quick preset)", results / method))
    for preset in SHOWN_PRESETS:
        base = runs / method / preset
        done = sorted((p for p in base.glob(f"{REPRODUCTION_PREFIX}-*") if (p / CLAIM_FILE).exists()),
                      key=lambda p: p.name) if base.is_dir() else []
        if done:
            found.append((f"this machine's latest {preset} reproduction ({done[-1].name})", done[-1]))
    return found


def _summary_row(method: str, claim: Claim | None) -> str:
    spec = get_method(method)
    if claim is None:
        return f"| {method} | {spec.title} | not reproduced yet | | |"
    return (f"| {method} | {spec.title} | {'yes' if claim.holds else 'no'} | {claim.evidence} | "
            f"`{claim.command}` |")


def methods_table(results: pathlib.Path) -> str:
    lines = ["| method | title | claim holds | evidence | command |", "|---|---|---|---|---|"]
    for method in method_names():
        path = results / method / CLAIM_FILE
        lines.append(_summary_row(method, read_claim(path) if path.exists() else None))
    return "\n".join(lines)


def pivot_table(claim: Claim) -> str:
    """One line per (setting, variant), one column per metric: the compact view of a claim's table."""
    metrics = list(dict.fromkeys(r.metric for r in claim.table))
    keys = list(dict.fromkeys((r.setting, r.variant) for r in claim.table))
    cells = {(r.setting, r.variant, r.metric): r for r in claim.table}
    lines = ["| setting | variant | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for setting, variant in keys:
        row = []
        for m in metrics:
            r = cells.get((setting, variant, m))
            row.append("" if r is None else f"{r.mean:.4g}" + ("" if r.std is None else f" ± {r.std:.2g}"))
        lines.append(f"| {setting} | {variant} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def replace_between(path: pathlib.Path, start: str, end: str, content: str) -> bool:
    """Replace the text between two marker lines of a file; False when the file or a marker is missing."""
    if not path.exists():
        return False
    text = path.read_text()
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{content}\n{end}{tail}"
    if new != text:
        path.write_text(new)
    return True


def update_readme(readme: pathlib.Path, results: pathlib.Path) -> bool:
    """Rebuild the README's method table from results/."""
    return replace_between(readme, README_START, README_END, methods_table(results))


def update_method_readme(readme: pathlib.Path, method: str, results: pathlib.Path) -> bool:
    """Rebuild the results table in a method's README from results/<method>/claim.json."""
    path = results / method / CLAIM_FILE
    if not path.exists():
        return False
    claim = read_claim(path)
    content = (f"Made by `{claim.command}` (seeds {claim.seeds}); holds: **{claim.holds}**. {claim.evidence}"
               f"\n\n{pivot_table(claim)}")
    return replace_between(readme, RESULTS_START, RESULTS_END, content)


def update_repository_readmes(checkout: pathlib.Path, results: pathlib.Path) -> list[pathlib.Path]:
    """Refresh README.md's method table and `src/anthology/methods/<m>/README.md`'s results tables in a
    checkout of the repository (never in an installed package); returns the files that were updated."""
    methods_dir = checkout / "src" / "anthology" / "methods"
    if not (checkout / "pyproject.toml").exists() or not methods_dir.is_dir():
        raise AnthologyError(f"'{checkout}' is not a checkout of the anthology repository (no pyproject.toml "
                             "and src/anthology/methods); run --update-readmes from the repository root")
    updated = [checkout / "README.md"] if update_readme(checkout / "README.md", results) else []
    for method in method_names():
        readme = methods_dir / method / "README.md"
        if update_method_readme(readme, method, results):
            updated.append(readme)
    return updated


def build_report(runs: pathlib.Path, results: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """Render every method's sources and write out/index.html and out/report.md."""
    out.mkdir(parents=True, exist_ok=True)
    md = ["# anthology report", "", methods_table(results), ""]
    body = ["<h1>anthology report</h1>"]
    for method in method_names():
        spec = get_method(method)
        md += [f"## {method}: {spec.title}", "", f"*{spec.paper}*", "", f"Claim: {spec.claim}", ""]
        body += [f"<h2>{html.escape(method)}: {html.escape(spec.title)}</h2>",
                 f"<p><i>{html.escape(spec.paper)}</i></p><p>Claim: {html.escape(spec.claim)}</p>"]
        sources = _sources(method, runs, results)
        if not sources:
            md.append("No reproduction yet: run `anthology reproduce " + method + " --preset demo`.\n")
            body.append("<p>No reproduction yet.</p>")
        for label, folder in sources:
            claim = read_claim(folder / CLAIM_FILE)
            pngs = render_method(folder)
            assets = out / "assets" / method / folder.name
            assets.mkdir(parents=True, exist_ok=True)
            md += [f"### {label}", "", f"Holds: **{claim.holds}**. {claim.evidence}", "",
                   f"Command: `{claim.command}`, seeds {claim.seeds}", "", format_table(claim.table), ""]
            body += [f"<h3>{html.escape(label)}</h3>",
                     f"<p>Holds: <b>{claim.holds}</b>. {html.escape(claim.evidence)}</p>",
                     f"<p>Command: <code>{html.escape(claim.command)}</code>, seeds {claim.seeds}</p>",
                     _html_table(claim)]
            for png in pngs:
                shutil.copy2(png, assets / png.name)
                rel = f"assets/{method}/{folder.name}/{png.name}"
                md.append(f"![{png.stem}]({rel})")
                body.append(f'<img src="{rel}" alt="{png.stem}" width="560">')
            md.append("")
        for bench in sorted((results / method).glob("*.md")) if (results / method).is_dir() else []:
            if bench.name == "table.md":
                continue
            text = bench.read_text()
            md += [f"### {bench.stem} (committed, `results/{method}/{bench.name}`)", "", text, ""]
            body += [f"<h3>{html.escape(bench.stem)} (committed)</h3><pre>{html.escape(text)}</pre>"]
    (out / "report.md").write_text("\n".join(md) + "\n")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>anthology report</title><style>"
            "body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;"
            "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    (out / "index.html").write_text(page)
    return out / "index.html"


def _html_table(claim: Claim) -> str:
    rows = ["<table><tr><th>setting</th><th>variant</th><th>metric</th><th>mean</th><th>std</th><th>n</th></tr>"]
    for r in claim.table:
        std = "" if r.std is None else f"{r.std:.3g}"
        rows.append(f"<tr><td>{html.escape(r.setting)}</td><td>{html.escape(r.variant)}</td>"
                    f"<td>{html.escape(r.metric)}</td><td>{r.mean:.4g}</td><td>{std}</td><td>{r.n}</td></tr>")
    return "".join(rows) + "</table>"


__all__ = ["build_report", "methods_table", "render_method", "update_readme", "update_repository_readmes"]
