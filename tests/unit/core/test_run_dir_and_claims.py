import importlib.util
import pathlib

import pytest

from anthology.core.claims import Claim, read_claim, summarize, write_claim
from anthology.core.run_dir import RunDir, iter_runs
from anthology.methods.koopman import PRESETS

CHECKER = pathlib.Path(__file__).parents[4] / "shared" / "tools" / "check_claims.py"


def test_run_dir_layout_and_files(tmp_path):
    run = RunDir.create("koopman", "tiny", 3, tmp_path)
    assert run.path.parent == tmp_path / "koopman" / "tiny" and run.path.name.startswith("3-")
    run.write_config(PRESETS["tiny"], "koopman", "tiny")
    cfg = run.read_config()
    assert cfg["config"]["steps"] == PRESETS["tiny"].steps and "git_commit" in cfg and cfg["packages"]["torch"]
    run.append_metrics({"step": 1, "train/loss": float("nan")})
    run.append_metrics({"step": 2, "train/loss": 0.5})
    assert [m["train/loss"] for m in run.read_metrics()] == [None, 0.5]
    run.write_summary({"x": 1.0})
    assert run.read_summary() == {"x": 1.0} and [r.path for r in iter_runs(tmp_path)] == [run.path]
    later = RunDir.create("koopman", "tiny", 0, tmp_path)
    assert RunDir.latest("koopman", "tiny", tmp_path).path == later.path


def test_summarize_mean_and_sample_std():
    row = summarize("s", "v", "m", [1.0, 2.0, 3.0])
    assert (row.mean, row.std, row.n) == (2.0, 1.0, 3)
    assert summarize("s", "v", "m", [4.0]).std is None


def _claim() -> Claim:
    return Claim("koopman", "c", "anthology reproduce koopman --preset quick", "quick", [0, 1],
                 [summarize("duffing", "koopman k=25", "mse@1000", [0.1, 0.2])], True, "e")


def test_claim_round_trips(tmp_path):
    path = write_claim(tmp_path / "koopman" / "claim.json", _claim())
    assert read_claim(path) == _claim()


@pytest.mark.skipif(not CHECKER.exists(), reason="shared/tools/check_claims.py is outside this checkout")
def test_written_claims_pass_the_shared_schema_checker(tmp_path):
    write_claim(tmp_path / "koopman" / "claim.json", _claim())
    spec = importlib.util.spec_from_file_location("check_claims", CHECKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.problems(tmp_path / "koopman" / "claim.json") == []
