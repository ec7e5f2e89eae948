"""Verification reports: Markdown and HTML (with SVG plots), JUnit XML, JSON.

All are rendered from a :class:`~engine.verify.suite.VerifyReport` and are
deterministic for a given report (times come from the report), so they can be
snapshot-tested and diffed between runs.  What check commands printed is shown
as a terminal would have shown it (:mod:`engine.verify.textsafe`): every file
parses whatever the commands printed, and the raw output is written beside the
reports (``<name>-output/<check>.log``).
"""

from __future__ import annotations

from engine.verify.report.common import figure_rows, plots
from engine.verify.report.html import render_html
from engine.verify.report.junit import render_junit
from engine.verify.report.markdown import render_markdown
from engine.verify.report.write import render_json, write_reports

__all__ = ["figure_rows", "plots", "render_html", "render_json", "render_junit", "render_markdown",
           "write_reports"]
