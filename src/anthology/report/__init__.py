"""Turns reproductions (claim.json + figures.json) into tables, PNG plots and one HTML/Markdown report."""

from anthology.report.build import build_report, render_method, update_readme, update_repository_readmes

__all__ = ["build_report", "render_method", "update_readme", "update_repository_readmes"]
