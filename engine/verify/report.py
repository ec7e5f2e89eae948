"""Verification reports: Markdown (with PNG plots), HTML (plots inline), JUnit XML, JSON.

All four are rendered from a :class:`~engine.verify.suite.VerifyReport` and
are deterministic for a given report (times come from the report), so they
can be snapshot-tested and diffed between runs.
"""

from __future__ import annotations

import base64
import html
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from engine.verify.checks.base import CheckResult
from engine.verify.plots import latency_histogram_png, loss_curves_png
from engine.verify.suite import VerifyReport

MARK = {"pass": "✅ pass", "fail": "❌ FAIL", "skipped": "⏭ skipped", "error": "⚠ ERROR"}
_HIDDEN_FIGURES = {"histogram", "baseline_curve", "target_curve", "samples_s", "values", "gpus", "pairs",
                   "matrix", "labels", "dcgm", "tag", "method"}


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)) if ts else "?"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value) if len(value) <= 8 else f"{len(value)} values"
    return str(value)


def figure_rows(result: CheckResult) -> list[tuple[str, str, str]]:
    """(figure, target, baseline) for the scalar figures of a check."""
    base = result.baseline or {}
    rows = []
    for key, value in result.figures.items():
        if key in _HIDDEN_FIGURES or key.startswith("_") or isinstance(value, dict):
            continue
        rows.append((key, _fmt(value), _fmt(base.get(key)) if key in base else ""))
    return rows


def plots(report: VerifyReport, p99_ms: float | None = None) -> dict[str, tuple[str, bytes]]:
    """Plot name -> (caption, PNG bytes) for the checks that have something to draw."""
    out: dict[str, tuple[str, bytes]] = {}
    conv = report.result("convergence")
    if conv and conv.figures.get("target_curve") and conv.figures.get("baseline_curve"):
        out["convergence"] = (
            "Loss curves: baseline (blue), target (orange), tolerance band (light blue)",
            loss_curves_png(conv.figures["baseline_curve"], conv.figures["target_curve"],
                            conv.figures.get("tolerance"), conv.figures.get("method", "relative")))
    lat = report.result("latency")
    if lat and lat.figures.get("histogram"):
        out["latency"] = ("Latency histogram with P50/P95/P99 and the P99 limit (red)",
                          latency_histogram_png(lat.figures, p99_ms, lat.baseline))
    return out


# --- Markdown ---------------------------------------------------------------------------


def render_markdown(report: VerifyReport, plot_dir: str | None = "plots",
                    plot_files: dict[str, tuple[str, bytes]] | None = None) -> str:
    """The report as Markdown; plots are linked as ``{plot_dir}/{name}.png`` (see :func:`write_reports`)."""
    title = report.profile_name or "gpumigrate verification"
    verdict = ("BASELINE CAPTURED" if report.mode == "capture" else "PASS" if report.ok else "FAIL")
    lines = [f"# Verification report: {title}", "", f"**Result: {verdict}** — {report.summary()}", ""]
    lines.append(f"- Ran on `{report.host}` at {_when(report.started_at)} "
                 f"({report.finished_at - report.started_at:.1f} s)")
    if report.mode == "capture":
        lines.append("- Mode: baseline capture on the source (nothing is judged)")
    elif report.baseline_file:
        lines.append(f"- Baseline: `{report.baseline_file}`, captured {report.baseline_captured_at or '?'} "
                     f"on `{report.baseline_host or '?'}`")
    else:
        lines.append("- Baseline: none (checks that need one are skipped; capture one on the source "
                     "with `gpumigrate verify PROFILE --capture-baseline baseline.json`)")
    lines += ["", "## Summary", "", "| Check | Result | Measured | Threshold |", "|---|---|---|---|"]
    for r in report.results:
        lines.append(f"| {_cell(r.title)} | {MARK[r.status]} | {_cell(r.summary)} | {_cell(r.threshold or '—')} |")
    lines += ["", "## Checks"]
    for r in report.results:
        lines += ["", f"### {r.title} — {MARK[r.status]}", "", f"*Measures:* {r.measures}.  ",
                  f"*Result:* {r.summary}  "]
        if r.threshold:
            lines.append(f"*Threshold:* {r.threshold}  ")
        lines.append(f"*Took:* {r.duration_s:.2f} s")
        if r.figures.get("method") and isinstance(r.figures["method"], str) and r.name == "latency":
            lines += ["", f"*Method:* {r.figures['method']}"]
        rows = figure_rows(r)
        if rows:
            lines += ["", "| Figure | Target | Baseline |", "|---|---|---|"]
            lines += [f"| {_cell(k)} | {_cell(t)} | {_cell(b) or '—'} |" for k, t, b in rows]
        if r.details:
            lines += ["", "Details:", ""] + [f"- {_cell(d.strip())}" for d in r.details]
        if plot_files and r.name in plot_files and plot_dir is not None:
            caption, _png = plot_files[r.name]
            lines += ["", f"![{caption}]({plot_dir}/{r.name}.png)"]
        if r.output.strip():
            lines += ["", "<details><summary>Output</summary>", "", "```text", r.output.rstrip().replace("```", "'''"),
                      "```", "", "</details>"]
    if report.signoffs:
        lines += ["", "## Sign-off", "", "| Who | When | Decision | Note |", "|---|---|---|---|"]
        for s in report.signoffs:
            lines.append(f"| {_cell(s.get('operator', '?'))} | {_when(s.get('ts', 0))} | "
                         f"{_cell(s.get('decision', '?'))} | {_cell(s.get('note', ''))} |")
    return "\n".join(lines) + "\n"


# --- HTML --------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
.pass{color:#1a7f37}.fail,.error{color:#c62828;font-weight:bold}.skipped{color:#777}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:85%}img{max-width:100%}"""


def render_html(report: VerifyReport, plot_files: dict[str, tuple[str, bytes]] | None = None) -> str:
    """A self-contained HTML page (plots inline as PNG data URIs)."""
    e = html.escape
    title = report.profile_name or "gpumigrate verification"
    verdict = "BASELINE CAPTURED" if report.mode == "capture" else "PASS" if report.ok else "FAIL"
    css = "pass" if report.ok else "fail"
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>Verification report: {e(title)}</title>", f"<style>{_CSS}</style></head><body>",
           f"<h1>Verification report: {e(title)}</h1>",
           f"<p><strong class=\"{css}\">Result: {verdict}</strong> — {e(report.summary())}</p>",
           f"<p>Ran on <code>{e(report.host)}</code> at {_when(report.started_at)}.",
           (f" Baseline: <code>{e(report.baseline_file)}</code>, captured {e(report.baseline_captured_at or '?')} "
            f"on <code>{e(report.baseline_host or '?')}</code>.</p>" if report.baseline_file else " No baseline.</p>"),
           "<h2>Summary</h2>", "<table><tr><th>Check</th><th>Result</th><th>Measured</th><th>Threshold</th></tr>"]
    for r in report.results:
        out.append(f"<tr><td><a href=\"#{r.name}\">{e(r.title)}</a></td><td class=\"{r.status}\">{e(MARK[r.status])}"
                   f"</td><td>{e(r.summary)}</td><td>{e(r.threshold or '—')}</td></tr>")
    out += ["</table>", "<h2>Checks</h2>"]
    for r in report.results:
        out += [f"<h3 id=\"{r.name}\">{e(r.title)} — <span class=\"{r.status}\">{e(MARK[r.status])}</span></h3>",
                f"<p><em>Measures:</em> {e(r.measures)}.<br><em>Result:</em> {e(r.summary)}"
                + (f"<br><em>Threshold:</em> {e(r.threshold)}" if r.threshold else "")
                + f"<br><em>Took:</em> {r.duration_s:.2f} s</p>"]
        rows = figure_rows(r)
        if rows:
            out.append("<table><tr><th>Figure</th><th>Target</th><th>Baseline</th></tr>"
                       + "".join(f"<tr><td>{e(k)}</td><td>{e(t)}</td><td>{e(b) or '—'}</td></tr>" for k, t, b in rows)
                       + "</table>")
        if r.details:
            out.append("<ul>" + "".join(f"<li>{e(d.strip())}</li>" for d in r.details) + "</ul>")
        if plot_files and r.name in plot_files:
            caption, png = plot_files[r.name]
            data = base64.b64encode(png).decode()
            out.append(f"<figure><img alt=\"{e(caption)}\" src=\"data:image/png;base64,{data}\">"
                       f"<figcaption>{e(caption)}</figcaption></figure>")
        if r.output.strip():
            out.append(f"<details><summary>Output</summary><pre>{e(r.output)}</pre></details>")
    if report.signoffs:
        out.append("<h2>Sign-off</h2><table><tr><th>Who</th><th>When</th><th>Decision</th><th>Note</th></tr>")
        for s in report.signoffs:
            out.append(f"<tr><td>{e(str(s.get('operator', '?')))}</td><td>{_when(s.get('ts', 0))}</td>"
                       f"<td>{e(str(s.get('decision', '?')))}</td><td>{e(str(s.get('note', '')))}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --- JUnit XML ---------------------------------------------------------------------------


def render_junit(report: VerifyReport) -> str:
    """One <testcase> per check: failure, error or skipped, with figures and output in system-out."""
    c = report.counts()
    suite = ET.Element("testsuite", {
        "name": "gpumigrate.verify", "tests": str(len(report.results)), "failures": str(c["fail"]),
        "errors": str(c["error"]), "skipped": str(c["skipped"]),
        "time": f"{sum(r.duration_s for r in report.results):.3f}",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(report.started_at)),
        "hostname": report.host or "localhost",
    })
    for r in report.results:
        case = ET.SubElement(suite, "testcase", {"classname": "gpumigrate.verify", "name": r.name,
                                                 "time": f"{r.duration_s:.3f}"})
        body = "\n".join([f"{r.title}: {r.summary}"] + ([f"threshold: {r.threshold}"] if r.threshold else [])
                         + r.details)
        if r.status == "fail":
            ET.SubElement(case, "failure", {"message": r.summary, "type": "threshold"}).text = body
        elif r.status == "error":
            ET.SubElement(case, "error", {"message": r.summary, "type": "error"}).text = (
                body + ("\n\n" + r.output if r.output else ""))
        elif r.status == "skipped":
            ET.SubElement(case, "skipped", {"message": r.summary})
        figures = "\n".join(f"{k} = {t}" + (f" (baseline {b})" if b else "") for k, t, b in figure_rows(r))
        out = "\n".join(x for x in (body, figures, r.output if r.status != "error" else "") if x)
        if out:
            ET.SubElement(case, "system-out").text = out
    root = ET.Element("testsuites", {"name": "gpumigrate verify", "tests": str(len(report.results)),
                                     "failures": str(c["fail"]), "errors": str(c["error"]),
                                     "skipped": str(c["skipped"])})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_json(report: VerifyReport) -> str:
    return json.dumps(report.to_dict(), indent=1, allow_nan=False, ensure_ascii=False) + "\n"


# --- writing -----------------------------------------------------------------------------


def write_reports(report: VerifyReport, *, markdown: Path | None = None, html_path: Path | None = None,
                  junit: Path | None = None, json_path: Path | None = None,
                  p99_ms: float | None = None) -> list[Path]:
    """Write the asked-for files; the Markdown's plots go to ``<name>-plots/`` beside it."""
    written: list[Path] = []
    images = plots(report, p99_ms) if (markdown or html_path) else {}
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        plot_dir = f"{markdown.stem}-plots"
        if images:
            (markdown.parent / plot_dir).mkdir(exist_ok=True)
            for name, (_caption, png) in images.items():
                path = markdown.parent / plot_dir / f"{name}.png"
                path.write_bytes(png)
                written.append(path)
        markdown.write_text(render_markdown(report, plot_dir, images), encoding="utf-8")
        written.append(markdown)
    if html_path:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(report, images), encoding="utf-8")
        written.append(html_path)
    if junit:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(render_junit(report), encoding="utf-8")
        written.append(junit)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(render_json(report), encoding="utf-8")
        written.append(json_path)
    return written
