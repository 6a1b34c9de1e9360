"""Wall times of the README's two commands from a fresh clone, appended to results/wall_times.json and
rendered to results/wall_times.md (the README quotes that file, never a typed number).

    python benchmarks/wall_times.py test          # `bash .ci/run` (= make test) in a fresh clone of HEAD
    python benchmarks/wall_times.py demo          # `make demo` in a fresh clone of HEAD

The clone sits beside this checkout (so `../shared/data` resolves as it does here) and is removed after.
Each measurement records the commit, the date, the machine's core count, the wall time, and for `test`
the pytest counts parsed from its last line.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "wall_times.json"
COMMANDS = {"test": ["bash", ".ci/run"], "demo": ["make", "demo"]}


def measure(what: str) -> dict:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    clone = ROOT.parent / f"wall-times-{what}-{commit}"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    try:
        tick = time.perf_counter()
        run = subprocess.run(COMMANDS[what], cwd=clone, capture_output=True, text=True)
        seconds = time.perf_counter() - tick
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    record = {"command": " ".join(COMMANDS[what]), "what": what, "commit": commit, "exit_code": run.returncode,
              "seconds": round(seconds, 1), "cores": os.cpu_count(),
              "date": datetime.datetime.now().isoformat(timespec="minutes")}
    summary = re.findall(r"^=*\s*((?:\d+ \w+(?:, )?)+) in ([\d.]+)s", run.stdout, re.MULTILINE)
    if summary:
        record["pytest"], record["pytest_seconds"] = summary[-1][0], float(summary[-1][1])
    skipped = re.findall(r"^skipped tests: (\d+)", run.stdout, re.MULTILINE)
    if skipped:
        record["skipped"] = int(skipped[-1])
    if run.returncode != 0:
        record["tail"] = (run.stdout + run.stderr)[-2000:]
    return record


def render(records: list[dict]) -> str:
    lines = ["# Wall times of `make test` and `make demo` from a fresh clone", "",
             "Made by `python benchmarks/wall_times.py test|demo` (appended, newest last).", "",
             "| date | commit | command | exit | minutes | pytest | skipped | cores |", "|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['date']} | {r['commit']} | `{r['command']}` | {r['exit_code']} | {r['seconds'] / 60:.1f} | "
                     f"{r.get('pytest', '')} | {r.get('skipped', '')} | {r['cores']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    what = sys.argv[1] if len(sys.argv) > 1 else "test"
    if what not in COMMANDS:
        print(f"usage: python benchmarks/wall_times.py {'|'.join(COMMANDS)}", file=sys.stderr)
        return 2
    record = measure(what)
    records = json.loads(OUT.read_text()) if OUT.exists() else []
    records.append(record)
    OUT.write_text(json.dumps(records, indent=1) + "\n")
    OUT.with_suffix(".md").write_text(render(records))
    print(json.dumps({k: v for k, v in record.items() if k != "tail"}))
    return 0 if record["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
