import json

import pytest

from anthology.core.claims import Claim, summarize, write_claim
from anthology.core.errors import AnthologyError
from anthology.core.reproduction import line_figure, series
from anthology.report import build_report, render_method, update_readme, update_repository_readmes


def _write_results(folder, holds=True):
    claim = Claim("koopman", "claim text", "anthology reproduce koopman --preset quick", "quick", [0, 1],
                  [summarize("duffing", "koopman k=25", "mse@1000", [0.1, 0.3])], holds, "evidence text")
    write_claim(folder / "claim.json", claim)
    fig = line_figure("curve", "a curve", "x", "y", [series("a", [0, 1, 2], [1, 0.5, 0.2])], logy=True)
    (folder / "figures.json").write_text(json.dumps([fig]))


def test_render_method_writes_tables_and_pngs(tmp_path):
    _write_results(tmp_path)
    (png,) = render_method(tmp_path)
    assert png.name == "curve.png" and png.read_bytes()[:4] == b"\x89PNG"
    assert "| duffing | koopman k=25 | mse@1000 | 0.2 | 0.141 | 2 | 0.1, 0.3 |" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "table.csv").read_text().splitlines()[1].startswith("duffing,koopman k=25,mse@1000,0.2")


def test_report_page_and_markdown_come_from_the_claims(tmp_path):
    _write_results(tmp_path / "results" / "koopman", holds=False)
    index = build_report(tmp_path / "runs", tmp_path / "results", tmp_path / "report")
    page = index.read_text()
    assert "evidence text" in page and "Holds: <b>False</b>" in page
    assert (tmp_path / "report" / "assets" / "koopman" / "koopman" / "curve.png").exists()
    assert "| koopman | Koopman with periodic reencoding | no | evidence text |" in (
        tmp_path / "report" / "report.md").read_text()


def test_readme_table_is_replaced_only_between_markers(tmp_path):
    _write_results(tmp_path / "results" / "koopman")
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    assert not update_readme(readme, tmp_path / "results")
    readme.write_text("a\n<!-- methods-table:start -->\nstale\n<!-- methods-table:end -->\nb\n")
    assert update_readme(readme, tmp_path / "results")
    text = readme.read_text()
    assert text.startswith("a\n") and text.endswith("\nb\n") and "stale" not in text and "| koopman |" in text


def test_the_report_leaves_readmes_alone_unless_asked_for_a_checkout(tmp_path, monkeypatch):
    _write_results(tmp_path / "results" / "koopman")
    checkout = tmp_path / "repo"
    method_readme = checkout / "src" / "anthology" / "methods" / "koopman" / "README.md"
    method_readme.parent.mkdir(parents=True)
    method_readme.write_text("x\n<!-- results-table:start -->\nstale\n<!-- results-table:end -->\n")
    (checkout / "README.md").write_text("<!-- methods-table:start -->\nstale\n<!-- methods-table:end -->\n")
    monkeypatch.chdir(checkout)
    build_report(tmp_path / "runs", tmp_path / "results", tmp_path / "report")
    assert "stale" in method_readme.read_text() and "stale" in (checkout / "README.md").read_text()
    with pytest.raises(AnthologyError, match="not a checkout"):
        update_repository_readmes(tmp_path / "report", tmp_path / "results")
    (checkout / "pyproject.toml").write_text("")
    assert set(update_repository_readmes(checkout, tmp_path / "results")) == {checkout / "README.md", method_readme}
    assert "stale" not in method_readme.read_text() and "| duffing | koopman k=25 |" in method_readme.read_text()
