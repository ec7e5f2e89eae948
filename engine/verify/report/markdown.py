"""The report as Markdown, plots linked as SVG files beside it."""

from __future__ import annotations

from engine.verify.report.common import clean, figure_rows, mark, optional_line, second_person, when
from engine.verify.suite import VerifyReport


def _cell(text: str) -> str:
    return clean(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: VerifyReport, plot_dir: str | None = "plots",
                    plot_files: dict[str, tuple[str, str]] | None = None,
                    raw_dir: str | None = None, raw_files: set[str] | None = None) -> str:
    """Plots are linked as ``{plot_dir}/{name}.svg``, raw output as ``{raw_dir}/{name}.log`` (see write_reports)."""
    title = report.profile_name or "gpumigrate verification"
    lines = [f"# Verification report: {_cell(title)}", "", f"**Result: {_cell(report.verdict_line())}** — {report.summary()}", ""]
    if report.incomplete_line():
        lines += [f"**{_cell(report.incomplete_line())}**", ""]
    if optional_line(report):
        lines += [f"*{optional_line(report)}*", ""]
    lines.append(f"- Ran on `{report.host}` at {when(report.started_at)} "
                 f"({report.finished_at - report.started_at:.1f} s)")
    if report.mode == "capture":
        lines.append("- Mode: baseline capture on the source (nothing is judged)")
    elif report.baseline_file:
        lines.append(f"- Baseline: `{report.baseline_file}`, captured {report.baseline_captured_at or '?'} "
                     f"on `{report.baseline_host or '?'}`")
    else:
        lines.append("- Baseline: none (checks that need one do not run; capture one on the source "
                     "with `gpumigrate verify PROFILE --capture-baseline baseline.json`)")
    lines += ["", "## Summary", "", "| Check | Result | Measured | Threshold |", "|---|---|---|---|"]
    for r in report.results:
        lines.append(f"| {_cell(r.title)} | {mark(r)} | {_cell(r.summary)} | {_cell(r.threshold or '—')} |")
    lines += ["", "## Checks"]
    for r in report.results:
        lines += ["", f"### {_cell(r.title)} — {mark(r)}", "", f"*Measures:* {r.measures}.  ",
                  f"*Result:* {_cell(r.summary)}  "]
        if r.expected:
            lines.append(f"*Expected because:* {r.expected}{' (marked optional)' if r.optional else ''}  ")
        if r.threshold:
            lines.append(f"*Threshold:* {_cell(r.threshold)}  ")
        lines.append(f"*Took:* {r.duration_s:.2f} s")
        if r.figures.get("method") and isinstance(r.figures["method"], str) and r.name == "latency":
            lines += ["", f"*Method:* {_cell(r.figures['method'])}"]
        rows = figure_rows(r)
        if rows:
            lines += ["", "| Figure | Target | Baseline |", "|---|---|---|"]
            lines += [f"| {_cell(k)} | {_cell(t)} | {_cell(b) or '—'} |" for k, t, b in rows]
        if r.details:
            lines += ["", "Details:", ""] + [f"- {_cell(d.strip())}" for d in r.details]
        if plot_files and r.name in plot_files and plot_dir is not None:
            caption, _svg = plot_files[r.name]
            lines += ["", f"![{caption}]({plot_dir}/{r.name}.svg)"]
        if r.output.strip():
            lines += ["", "<details><summary>Output</summary>", "", "```text",
                      clean(r.output).rstrip().replace("```", "'''"), "```", "", "</details>"]
            if raw_dir and raw_files and r.name in raw_files:
                lines += ["", f"Raw output (as printed): [{raw_dir}/{r.name}.log]({raw_dir}/{r.name}.log)"]
    if report.signoffs:
        lines += ["", "## Sign-off", "", "| Who | When | Decision | Second person | Note |", "|---|---|---|---|---|"]
        for s in report.signoffs:
            lines.append(f"| {_cell(s.get('operator', '?'))} | {when(s.get('ts', 0))} | "
                         f"{_cell(s.get('decision', '?'))} | {_cell(second_person(s))} | "
                         f"{_cell(s.get('note', ''))} |")
    return "\n".join(lines) + "\n"
