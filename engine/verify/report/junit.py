"""JUnit XML: one ``<testcase>`` per check, parseable whatever the commands printed.

A failed check is a ``<failure>``, an errored one an ``<error>``.  An expected
check that did not run is an ``<error type="not-run">`` too: JUnit has no
"incomplete", and a CI that reads the file must not go green on a target whose
GPU check could not run.  A not-run check the profile does not expect (or marks
optional) is ``<skipped>``.  The verdict is a property of the suite.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

from engine.verify.report.common import clean, figure_rows
from engine.verify.suite import VerifyReport


def render_junit(report: VerifyReport, raw_dir: str | None = None, raw_files: set[str] | None = None) -> str:
    c = report.counts()
    gaps = len(report.gaps)
    errors, skipped = c["error"] + gaps, c["not-run"] - gaps
    common = {"tests": str(len(report.results)), "failures": str(c["fail"]), "errors": str(errors),
              "skipped": str(skipped)}
    suite = ET.Element("testsuite", {
        "name": "gpumigrate.verify", **common, "time": f"{sum(r.duration_s for r in report.results):.3f}",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(report.started_at)),
        "hostname": clean(report.host or "localhost"),
    })
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "verdict", "value": report.verdict})
    if report.incomplete_line():
        ET.SubElement(props, "property", {"name": "incomplete", "value": clean(report.incomplete_line())})
    if report.not_run_by_profile:  # a PASS of the checks the profile named, not of those it left out
        ET.SubElement(props, "property", {"name": "not_run_by_profile", "value": ",".join(report.not_run_by_profile)})
    for r in report.results:
        case = ET.SubElement(suite, "testcase", {"classname": "gpumigrate.verify", "name": r.name,
                                                 "time": f"{r.duration_s:.3f}"})
        summary = clean(r.summary)
        body = "\n".join([f"{clean(r.title)}: {summary}"] + ([f"threshold: {clean(r.threshold)}"] if r.threshold else [])
                         + [clean(d) for d in r.details])
        output = clean(r.output)
        if r.status == "fail":
            ET.SubElement(case, "failure", {"message": summary, "type": "threshold"}).text = body
        elif r.status == "error":
            ET.SubElement(case, "error", {"message": summary, "type": "error"}).text = (
                body + ("\n\n" + output if output else ""))
        elif r.gap:
            ET.SubElement(case, "error", {"message": f"not run (expected: {r.expected}): {summary}",
                                          "type": "not-run"}).text = body
        elif r.status == "not-run":
            ET.SubElement(case, "skipped", {"message": summary + (" (optional)" if r.optional else "")})
        figures = "\n".join(f"{k} = {t}" + (f" (baseline {b})" if b else "") for k, t, b in figure_rows(r))
        raw = (f"raw output: {raw_dir}/{r.name}.log" if raw_dir and raw_files and r.name in raw_files else "")
        out = "\n".join(x for x in (body, figures, output if r.status != "error" else "", raw) if x)
        if out:
            ET.SubElement(case, "system-out").text = out
    root = ET.Element("testsuites", {"name": "gpumigrate verify", **common})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
