"""Every committed `results/**/claim.json` is what the method's current `judge` says of its own table:
same `holds`, same evidence, per-seed values in every row, and 3+ seeds for `quick` claims."""

import pathlib

import pytest

from anthology.core.claims import read_claim
from anthology.core.registry import get_method

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "results"
CLAIMS = sorted(RESULTS.glob("*/claim.json")) + sorted(RESULTS.glob("*/*/claim.json"))
# Claims written before rows kept per-seed values, whose reproduction has not been rerun yet (the rerun is
# owed, see the method README); the test below fails as soon as such a claim gains its values.
AWAITING_RERUN: set[str] = set()
# Claims whose method's judge changed after they were made and whose rerun is owed (too long for the session
# that changed the judge; the method README says so): re-judging them must give another verdict or evidence,
# so the entry fails as soon as the rerun lands.
JUDGE_CHANGED: set[str] = set()


def _name(path: pathlib.Path) -> str:
    return str(path.relative_to(RESULTS))


def test_every_method_has_a_committed_claim():
    assert {p.parts[-2] for p in RESULTS.glob("*/claim.json")} >= {"koopman", "maxent_gfn", "lambdazero", "mol_moe", "awm", "demp",
                                                                   "decoupled_regularization", "self_predictive"}


@pytest.mark.parametrize("path", CLAIMS, ids=_name)
def test_committed_claim_is_rejudged_identically(path):
    claim = read_claim(path)
    spec = get_method(claim.method)
    has_values = all(len(r.values) == r.n for r in claim.table)
    if _name(path) in AWAITING_RERUN:
        assert not has_values, f"{_name(path)} has per-seed values now: remove it from AWAITING_RERUN"
        return
    assert has_values, [f"{r.setting}/{r.variant}/{r.metric}" for r in claim.table if len(r.values) != r.n][:5]
    if claim.preset == "quick":
        assert len(claim.seeds) >= 3, f"a quick claim needs 3+ seeds, has {claim.seeds}"
    if _name(path) in JUDGE_CHANGED:
        try:
            again = spec.judge(spec.reproduce_presets[claim.preset], claim.table)
        except KeyError:  # the new judge needs rows the old run did not make
            return
        assert again != (claim.holds, claim.evidence), f"{_name(path)} is rerun: remove it from JUDGE_CHANGED"
        return
    holds, evidence = spec.judge(spec.reproduce_presets[claim.preset], claim.table)
    assert (holds, evidence) == (claim.holds, claim.evidence)
