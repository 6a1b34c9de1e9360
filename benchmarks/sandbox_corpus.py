"""Runs the hostile-code corpus (`anthology.testing.hostile_code`) through the sandbox for LLM-written code and
commits the counts: every case must be refused by the static check or stopped while it runs.

`python benchmarks/sandbox_corpus.py` writes results/maestro_motif/sandbox.{json,md}.
"""

from __future__ import annotations

import collections
import json
import pathlib
import time

from anthology.llm.sandbox import Limits, run
from anthology.testing.hostile_code import CASES

OUT = pathlib.Path(__file__).resolve().parents[1] / "results" / "maestro_motif"


def main() -> None:
    limits = Limits(seconds=2.0, memory_mb=256)
    rows = []
    for case in CASES:
        tick = time.perf_counter()
        result = run(case.code, case.entry, [], limits)
        rows.append({"name": case.name, "category": case.category, "stopped": not result.ok, "how": result.kind,
                     "error": result.error, "seconds": round(time.perf_counter() - tick, 2)})
    stopped = sum(r["stopped"] for r in rows)
    how = collections.Counter(r["how"] for r in rows)
    result = {"command": "python benchmarks/sandbox_corpus.py", "limits": {"seconds": limits.seconds,
                                                                        "memory_mb": limits.memory_mb},
              "cases": len(rows), "stopped": stopped, "by_outcome": dict(how), "rows": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sandbox.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Sandbox against the hostile-code corpus (`{result['command']}`)", "",
             f"**{stopped} of {len(rows)} cases stopped** ({', '.join(f'{k}: {v}' for k, v in sorted(how.items()))}); "
             f"limits {limits.seconds:g} s and {limits.memory_mb} MB.", "",
             "| case | category | stopped | how | error |", "|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['category']} | {'yes' if r['stopped'] else 'NO'} | {r['how']} | "
              f"{r['error'][:80].replace('|', '/')} |" for r in rows]
    (OUT / "sandbox.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:3]))


if __name__ == "__main__":
    main()
