"""Do Mol-MoE's objectives conflict on MOSES? Pearson and Spearman correlations of the four objective
scores (chem.objectives) on MOSES test molecules, and how often one molecule is good on all of them.
Writes results/mol_moe/objectives_on_moses.{json,md}.

    ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/mol_moe_objectives.py [N]
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
from scipy.stats import spearmanr

from anthology.chem.data import moses_smiles
from anthology.chem.objectives import OBJECTIVES, ObjectiveScorer

OUT = pathlib.Path(__file__).parents[1] / "results" / "mol_moe"


def main(n: int = 2000) -> None:
    smiles = moses_smiles("test", limit=n)
    scores, valid = ObjectiveScorer(OBJECTIVES)(smiles)
    scores = scores[valid]
    pearson = np.corrcoef(scores.T)
    spearman = spearmanr(scores).statistic
    top = scores >= np.quantile(scores, 0.75, axis=0)  # in the top quarter of MOSES on each objective
    result = {"command": f"ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/mol_moe_objectives.py {n}",
              "molecules": len(scores), "objectives": list(OBJECTIVES),
              "mean": scores.mean(0).round(4).tolist(), "std": scores.std(0).round(4).tolist(),
              "pearson": pearson.round(3).tolist(), "spearman": np.asarray(spearman).round(3).tolist(),
              "top_quarter_share_each": top.mean(0).round(3).tolist(),
              "top_quarter_on_all": float(top.all(1).mean()),
              "top_quarter_on_all_if_independent": float(np.prod(top.mean(0)))}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "objectives_on_moses.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Objectives on {len(scores)} MOSES test molecules", "", f"`{result['command']}`", "",
             "| objective | mean | std |", "|---|---|---|"]
    lines += [f"| {o} | {m:.3f} | {s:.3f} |" for o, m, s in zip(OBJECTIVES, result["mean"], result["std"], strict=True)]
    lines += ["", "Spearman correlations:", "", "| | " + " | ".join(OBJECTIVES) + " |",
              "|---" * (len(OBJECTIVES) + 1) + "|"]
    lines += [f"| {o} | " + " | ".join(f"{v:+.2f}" for v in row) + " |" for o, row in zip(OBJECTIVES, spearman, strict=True)]
    lines += ["", f"Molecules in the top quarter on every objective: {result['top_quarter_on_all']:.4f} "
              f"(independent objectives would give {result['top_quarter_on_all_if_independent']:.4f})."]
    (OUT / "objectives_on_moses.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
