"""Writing the reports: the files asked for, SVG plots and raw command output beside them."""

from __future__ import annotations

import json
from pathlib import Path

from engine.verify.report.common import plots
from engine.verify.report.html import render_html
from engine.verify.report.junit import render_junit
from engine.verify.report.markdown import render_markdown
from engine.verify.suite import VerifyReport


def render_json(report: VerifyReport) -> str:
    """The whole report; command output stays as printed (JSON escapes every control byte)."""
    return json.dumps(report.to_dict(), indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def _raw_outputs(report: VerifyReport, folder: Path) -> dict[str, Path]:
    """Each check's output exactly as its command printed it (colour codes, progress bars and all), uncut
    when this run measured it (a report read back from JSON has only its clipped end)."""
    written: dict[str, Path] = {}
    for r in report.results:
        text = r.raw_output or r.output
        if text.strip():
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{r.name}.log"
            path.write_text(text, encoding="utf-8", newline="")
            written[r.name] = path
    return written


def write_reports(report: VerifyReport, *, markdown: Path | None = None, html_path: Path | None = None,
                  junit: Path | None = None, json_path: Path | None = None,
                  p99_ms: float | None = None) -> list[Path]:
    """Write the asked-for files.

    Beside the first of Markdown, HTML and JUnit: ``<name>-plots/*.svg`` (Markdown links them,
    HTML inlines them) and ``<name>-output/<check>.log`` with each check's raw output.
    """
    written: list[Path] = []
    first = markdown or html_path or junit
    raw_dir = f"{first.stem}-output" if first else None
    raw: dict[str, Path] = _raw_outputs(report, first.parent / raw_dir) if first and raw_dir else {}
    written += raw.values()
    names = set(raw)
    images = plots(report, p99_ms) if (markdown or html_path) else {}

    def rel(target: Path) -> str | None:
        """The raw-output folder as seen from ``target``'s folder (None when elsewhere)."""
        return raw_dir if first and target.parent == first.parent else None

    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        plot_dir = f"{markdown.stem}-plots"
        if images:
            (markdown.parent / plot_dir).mkdir(exist_ok=True)
            for name, (_caption, svg) in images.items():
                path = markdown.parent / plot_dir / f"{name}.svg"
                path.write_text(svg, encoding="utf-8")
                written.append(path)
        markdown.write_text(render_markdown(report, plot_dir, images, rel(markdown), names), encoding="utf-8")
        written.append(markdown)
    if html_path:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(report, images, rel(html_path), names), encoding="utf-8")
        written.append(html_path)
    if junit:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(render_junit(report, rel(junit), names), encoding="utf-8")
        written.append(junit)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(render_json(report), encoding="utf-8")
        written.append(json_path)
    return written
