"""One row of an anthology-against-peer throughput comparison (imported by putting this folder on sys.path;
never imported by src): the means over seeds of each side's steps per second and return, the runs, the ratio."""

from __future__ import annotations

import numpy as np


def comparison_row(hidden: int, batch: int, steps: int, seeds: list[int], ours: list[dict], ref: list[dict],
                   peer: str = "sb3") -> dict:
    def side(runs: list[dict]) -> dict:
        return {"steps_per_sec": float(np.mean([r["steps_per_sec"] for r in runs])),
                "return": float(np.mean([r["return"] for r in runs])), "runs": runs}

    row = {"hidden": [hidden, hidden], "batch_size": batch, "steps": steps, "seeds": list(seeds),
           "anthology": side(ours), peer: side(ref)}
    row["throughput_ratio"] = row["anthology"]["steps_per_sec"] / row[peer]["steps_per_sec"]
    return row
