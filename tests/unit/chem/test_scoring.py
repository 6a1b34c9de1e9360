import json
import math

import pytest

from anthology.chem.scoring import canonical_smiles, sample_metrics, score_smiles

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def test_aspirin_scores_match_rdkit_reference_values():
    (s,) = score_smiles([ASPIRIN])
    # RDKit's QED of aspirin is 0.550, Crippen logP 1.31, TPSA 63.6, MW 180.16; SA about 1.6 (easy)
    assert s["valid"] and s["qed"] == pytest.approx(0.550, abs=0.005)
    assert s["logp"] == pytest.approx(1.31, abs=0.01) and s["tpsa"] == pytest.approx(63.6, abs=0.1)
    assert s["mw"] == pytest.approx(180.16, abs=0.01) and s["rings"] == 1 and 1.0 <= s["sa"] <= 2.5


def test_invalid_smiles_are_recorded_not_raised():
    scores = score_smiles(["C1CC", "", "CCO"])
    assert [s["valid"] for s in scores] == [False, False, True]
    assert math.isnan(scores[0]["qed"]) and scores[2]["qed"] > 0
    assert canonical_smiles("C1CC") is None and canonical_smiles("OCC") == "CCO"


def test_parallel_scoring_gives_the_serial_answer_in_order():
    smiles = ["CCO", "c1ccccc1", "CC(=O)O", "bad"] * 600
    serial, parallel = score_smiles(smiles), score_smiles(smiles, workers=2)
    assert [json.dumps(s, sort_keys=True) for s in parallel] == [json.dumps(s, sort_keys=True) for s in serial]


def test_sample_metrics_count_validity_uniqueness_novelty_and_scaffolds():
    m = sample_metrics(["CCO", "OCC", "c1ccccc1", "C1CC", "c1ccccc1CC"], reference=["CCO"])
    assert m["validity"] == pytest.approx(0.8) and m["uniqueness"] == pytest.approx(3 / 4)
    assert m["novelty"] == pytest.approx(2 / 3)  # benzene and ethylbenzene are new, ethanol is not
    assert m["scaffolds"] == 2  # '' (acyclic) and benzene
    assert 0 < m["internal_diversity"] <= 1
