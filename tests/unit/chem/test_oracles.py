import math

import pytest

from anthology.chem.data import data_file
from anthology.chem.oracles import (
    CachedOracle,
    OracleCache,
    OracleResult,
    ProxyOracle,
    RDKitOracle,
    VinaOracle,
    run_with_timeout,
)
from anthology.core.errors import AnthologyError
from anthology.testing import SimulatedKill, crashing_oracle_call, slow_oracle_call


class CountingOracle:
    """Scores by the number of characters; counts calls; optionally dies after `die_after` results."""

    name = "length"

    def __init__(self, die_after=None):
        self.calls, self.die_after = [], die_after

    def settings(self):
        return {"version": 1}

    def score(self, smiles):
        for i, s in enumerate(smiles):
            if self.die_after is not None and i == self.die_after:
                raise SimulatedKill("killed mid-batch")
            self.calls.append(s)
            yield OracleResult(s, float(len(s)), "ok")


def test_a_repeated_molecule_is_never_scored_twice(tmp_path):
    fake = CountingOracle()
    oracle = CachedOracle(fake, OracleCache(tmp_path / "cache.sqlite"))
    first = oracle.score(["CCO", "OCC", "c1ccccc1", "C1CC"])  # OCC is ethanol again; C1CC does not parse
    assert [r.status for r in first] == ["ok", "ok", "ok", "invalid"]
    assert fake.calls == ["CCO", "c1ccccc1"]
    again = oracle.score(["c1ccccc1", "CCO"])
    assert fake.calls == ["CCO", "c1ccccc1"] and all(r.cached for r in again)


def test_a_killed_batch_resumes_from_the_cache(tmp_path):
    path = tmp_path / "cache.sqlite"
    batch = ["C", "CC", "CCC", "CCCC", "CCCCC"]
    with pytest.raises(SimulatedKill):
        CachedOracle(CountingOracle(die_after=3), OracleCache(path)).score(batch)
    assert len(OracleCache(path)) == 3  # every finished result was committed when it arrived
    fresh = CountingOracle()
    results = CachedOracle(fresh, OracleCache(path)).score(batch)
    assert fresh.calls == ["CCCC", "CCCCC"] and [r.value for r in results] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_settings_are_part_of_the_key(tmp_path):
    cache = OracleCache(tmp_path / "cache.sqlite")
    CachedOracle(RDKitOracle("qed"), cache).score(["CCO"])
    (sa,) = CachedOracle(RDKitOracle("sa", sign=-1.0), cache).score(["CCO"])
    assert not sa.cached and sa.value < 0


def test_a_call_past_its_timeout_is_recorded_and_the_rest_come_back_before_it():
    # the timeout also covers a fresh worker's start (importing torch takes seconds on a busy machine);
    # results come in completion order, so the three fast calls are not held behind the slow one
    results = list(run_with_timeout(slow_oracle_call, ["a", "slow", "b", "c"], (120.0,), workers=2, timeout=15.0))
    assert [r.smiles for r in results] == ["a", "b", "c", "slow"]
    assert [r.status for r in results] == ["ok", "ok", "ok", "timeout"]


def test_a_dead_worker_is_a_crash_at_once_and_an_exception_a_recorded_failure():
    import time

    tick = time.monotonic()
    results = {r.smiles: r for r in run_with_timeout(crashing_oracle_call, ["a", "die", "raise", "b"], (0.0,),
                                                     workers=2, timeout=120.0)}
    assert time.monotonic() - tick < 60  # not after the 120 s limit
    assert results["die"].status == "crashed" and "exit code 139" in results["die"].message
    assert results["raise"].status == "crashed" and "the oracle broke" in results["raise"].message
    assert results["a"].status == results["b"].status == "ok"


class ScriptedOracle:
    """Answers each SMILES with the next scripted (status, value) for it; records the calls."""

    name = "scripted"

    def __init__(self, script):
        self.script, self.calls = {k: list(v) for k, v in script.items()}, []

    def settings(self):
        return {}

    def score(self, smiles):
        for s in smiles:
            self.calls.append(s)
            status, value = self.script[s].pop(0)
            yield OracleResult(s, value, status) if status != "malformed" else {"smiles": s, "value": value}


def test_transient_failures_are_retried_and_permanent_ones_cached(tmp_path):
    fake = ScriptedOracle({"CCO": [("timeout", None), ("ok", 2.0)], "CCC": [("crashed", None), ("ok", 3.0)],
                           "CCN": [("failed", None)]})
    oracle = CachedOracle(fake, OracleCache(tmp_path / "cache.sqlite"))
    assert [r.status for r in oracle.score(["CCO", "CCC", "CCN"])] == ["timeout", "crashed", "failed"]
    assert [r.value for r in oracle.score(["CCO", "CCC", "CCN"])] == [2.0, 3.0, None]
    assert fake.calls == ["CCO", "CCC", "CCN", "CCO", "CCC"]  # the failure was not asked again


def test_a_malformed_or_missing_answer_is_a_recorded_failure(tmp_path):
    class Forgetful(ScriptedOracle):
        def score(self, smiles):  # answers only the first, and a molecule nobody asked for
            yield from super().score(smiles[:1])
            yield OracleResult("CCCCCC", 1.0, "ok")

    bad = CachedOracle(ScriptedOracle({"CCO": [("malformed", 1.0)], "CCC": [("ok", math.nan)]}),
                       OracleCache(tmp_path / "a.sqlite"))
    assert [(r.status, r.value) for r in bad.score(["CCO", "CCC"])] == [("failed", None), ("failed", None)]
    partial = CachedOracle(Forgetful({"CCO": [("ok", 1.0)]}), OracleCache(tmp_path / "b.sqlite"))
    assert [r.status for r in partial.score(["CCO", "CCC"])] == ["ok", "crashed"]


@pytest.mark.parametrize("smiles,reason", [("CCé", "non-ASCII"), ("C" * 5000, "longer than")])
def test_non_ascii_and_huge_smiles_never_reach_rdkit(tmp_path, smiles, reason):
    from anthology.chem.scoring import to_mol

    assert to_mol(smiles) is None  # RDKit would read "CC" from "CCé", and can crash on a huge input
    fake = ScriptedOracle({})
    (result,) = CachedOracle(fake, OracleCache(tmp_path / "cache.sqlite")).score([smiles])
    assert result.status == "invalid" and reason in result.message and fake.calls == []


@pytest.mark.slow  # a local Ray cluster starts in 10-40 s; run with `pytest -m slow` where the ray extra is installed
def test_ray_path_returns_in_completion_order_and_records_a_timeout():
    ray = pytest.importorskip("ray", reason="the ray extra")
    from anthology.chem.oracles import run_on_ray

    try:
        results = list(run_on_ray(slow_oracle_call, ["a", "slow", "b", "c"], (600.0,), workers=2, timeout=20.0,
                                  address="local"))
    finally:
        ray.shutdown()
    assert [r.smiles for r in results] == ["a", "b", "c", "slow"]  # completion order
    assert [r.status for r in results] == ["ok", "ok", "ok", "timeout"]


def test_proxy_oracle_scores_and_records_invalid(shared_data):
    results = ProxyOracle(str(data_file("seh/seh_proxy_2021_params.npz"))).score(["CCO", "nonsense("])
    assert results[0].status == "ok" and math.isfinite(results[0].value) and results[1].status == "invalid"


def test_a_missing_or_broken_receptor_is_a_user_error(tmp_path):
    pytest.importorskip("vina")
    with pytest.raises(AnthologyError, match="receptor file"):
        VinaOracle(str(tmp_path / "none.pdbqt"))
    (tmp_path / "broken.pdbqt").write_text("HEADER not a receptor\n")
    with pytest.raises(AnthologyError, match=r"does not parse as PDBQT.*PDBQT parsing error"):
        VinaOracle(str(tmp_path / "broken.pdbqt"))


@pytest.mark.learning
def test_vina_docks_a_small_ligand_to_a_finite_score_and_records_failures(shared_data):
    pytest.importorskip("vina")
    oracle = VinaOracle(str(data_file("seh/4jnc.nohet.aligned.pdbqt")), exhaustiveness=1, timeout=120)
    ok, bad = oracle.score(["CC(=O)Nc1ccccc1", "[Na+].[Cl-]"])
    # acetanilide at exhaustiveness 1, seeds 0..4: -E = 5.91..6.13 kcal/mol
    assert ok.status == "ok" and 3.0 < ok.value < 9.0
    assert bad.status == "failed" and bad.value is None
