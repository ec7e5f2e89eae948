"""The report as one self-contained HTML page, plots inline as SVG."""

from __future__ import annotations

import html

from engine.verify.report.common import clean, css_class, figure_rows, mark, optional_line, second_person, when
from engine.verify.suite import VerifyReport

_CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
.pass{color:#1a7f37}.fail,.error,.gap{color:#c62828;font-weight:bold}.not-run{color:#777}
.incomplete{background:#fff4e5;border-left:4px solid #c62828;padding:6px 10px}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:85%}svg{max-width:100%;height:auto}"""


def _e(text: object) -> str:
    return html.escape(clean(text))


def render_html(report: VerifyReport, plot_files: dict[str, tuple[str, str]] | None = None,
                raw_dir: str | None = None, raw_files: set[str] | None = None) -> str:
    """A self-contained page; raw output is linked as ``{raw_dir}/{name}.log`` when written."""
    title = report.profile_name or "gpumigrate verification"
    css = "pass" if report.ok else "fail"
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>Verification report: {_e(title)}</title>", f"<style>{_CSS}</style></head><body>",
           f"<h1>Verification report: {_e(title)}</h1>",
           f"<p><strong class=\"{css}\">Result: {_e(report.verdict_line())}</strong> — {_e(report.summary())}</p>"]
    if report.incomplete_line():
        out.append(f"<p class=\"incomplete\"><strong>{_e(report.incomplete_line())}</strong></p>")
    if optional_line(report):
        out.append(f"<p><em>{_e(optional_line(report))}</em></p>")
    out += [f"<p>Ran on <code>{_e(report.host)}</code> at {when(report.started_at)}.",
            (f" Baseline: <code>{_e(report.baseline_file)}</code>, captured {_e(report.baseline_captured_at or '?')} "
             f"on <code>{_e(report.baseline_host or '?')}</code>.</p>" if report.baseline_file else " No baseline.</p>"),
            "<h2>Summary</h2>", "<table><tr><th>Check</th><th>Result</th><th>Measured</th><th>Threshold</th></tr>"]
    for r in report.results:
        out.append(f"<tr><td><a href=\"#{r.name}\">{_e(r.title)}</a></td><td class=\"{css_class(r)}\">"
                   f"{_e(mark(r))}</td><td>{_e(r.summary)}</td><td>{_e(r.threshold or '—')}</td></tr>")
    out += ["</table>", "<h2>Checks</h2>"]
    for r in report.results:
        out += [f"<h3 id=\"{r.name}\">{_e(r.title)} — <span class=\"{css_class(r)}\">{_e(mark(r))}</span></h3>",
                f"<p><em>Measures:</em> {_e(r.measures)}.<br><em>Result:</em> {_e(r.summary)}"
                + (f"<br><em>Expected because:</em> {_e(r.expected)}{' (marked optional)' if r.optional else ''}"
                   if r.expected else "")
                + (f"<br><em>Threshold:</em> {_e(r.threshold)}" if r.threshold else "")
                + f"<br><em>Took:</em> {r.duration_s:.2f} s</p>"]
        rows = figure_rows(r)
        if rows:
            out.append("<table><tr><th>Figure</th><th>Target</th><th>Baseline</th></tr>"
                       + "".join(f"<tr><td>{_e(k)}</td><td>{_e(t)}</td><td>{_e(b) or '—'}</td></tr>"
                                 for k, t, b in rows)
                       + "</table>")
        if r.details:
            out.append("<ul>" + "".join(f"<li>{_e(d.strip())}</li>" for d in r.details) + "</ul>")
        if plot_files and r.name in plot_files:
            caption, svg = plot_files[r.name]
            out.append(f"<figure>{svg.strip()}<figcaption>{_e(caption)}</figcaption></figure>")
        if r.output.strip():
            raw = (f" (<a href=\"{html.escape(raw_dir)}/{r.name}.log\">raw output as printed</a>)"
                   if raw_dir and raw_files and r.name in raw_files else "")
            out.append(f"<details><summary>Output{raw}</summary><pre>{_e(r.output)}</pre></details>")
    if report.signoffs:
        out.append("<h2>Sign-off</h2><table><tr><th>Who</th><th>When</th><th>Decision</th><th>Second person</th>"
                   "<th>Note</th></tr>")
        for s in report.signoffs:
            out.append(f"<tr><td>{_e(s.get('operator', '?'))}</td><td>{when(s.get('ts', 0))}</td>"
                       f"<td>{_e(s.get('decision', '?'))}</td><td>{_e(second_person(s))}</td>"
                       f"<td>{_e(s.get('note', ''))}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
