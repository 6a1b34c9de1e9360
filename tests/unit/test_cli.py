"""The CLI: listing, one-line errors with exit code 2, and the reproduce -> report path."""

import json

import pytest

from anthology.cli import main


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("anthology: error:") and "\n" not in err and "Traceback" not in err, err
    return err


def test_list_names_every_method_and_its_presets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "koopman" in out and "tiny, demo, quick, paper" in out


def test_help_prints_usage(capsys):
    assert main(["--help"]) == 0
    assert "anthology reproduce" in capsys.readouterr().out


@pytest.mark.parametrize("argv,expected", [
    (["trian"], "Did you mean 'train'"),
    (["train", "koopmann"], "Did you mean 'koopman'"),
    (["train", "koopman", "--preset", "huge"], "unknown preset of 'koopman' 'huge'"),
    (["train", "koopman", "--preset", "tiny", "--steps", "abc"], "--steps"),
    (["train", "koopman", "--preset", "tiny", "--no-such-flag", "1"], "Unrecognized options"),
    (["train", "koopman", "--preset", "tiny", "--system", "dufing"], "invalid choice"),
    (["train", "koopman", "--resume", "/nonexistent/run"], "no run to resume"),
    (["train"], "name a method"),
    (["reproduce", "koopman", "--preset", "huge"], "unknown reproduce preset of 'koopman' 'huge'"),
    (["reproduce", "all", "--preset", "vina"], "unknown preset 'vina'"),
    (["reproduce", "nope"], "unknown method 'nope'"),
])
def test_mistakes_give_one_line_and_exit_code_2(argv, expected, capsys, tmp_path):
    assert main([*argv, "--runs", str(tmp_path)] if argv[0] != "trian" else argv) == 2
    assert expected in _one_line_error(capsys)


def test_override_error_says_where_help_is(capsys):
    assert main(["train", "koopman", "--preset", "tiny", "--steps", "abc"]) == 2
    assert "anthology train koopman --preset tiny --help" in _one_line_error(capsys)


@pytest.mark.learning
def test_reproduce_then_report_writes_claim_plots_and_page(tmp_path, capsys):
    out = tmp_path / "results" / "koopman"
    assert main(["reproduce", "koopman", "--preset", "tiny", "--runs", str(tmp_path / "runs"), "--quiet",
                 "--out", str(out)]) == 0
    claim = json.loads((out / "claim.json").read_text())
    assert claim["method"] == "koopman" and claim["preset"] == "tiny" and isinstance(claim["holds"], bool)
    assert claim["command"] == "anthology reproduce koopman --preset tiny"
    assert {p.name for p in out.glob("*.png")} >= {"mse_vs_horizon_duffing.png", "phase_parabolic.png"}
    assert main(["report", "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "results"),
                 "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "index.html").read_text()
    assert "committed results" in page and "latest tiny reproduction" in page and "<img" in page
    assert "| koopman | Koopman with periodic reencoding |" in (tmp_path / "report" / "report.md").read_text()
