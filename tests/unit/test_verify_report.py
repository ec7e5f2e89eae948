"""Report snapshots (Markdown, HTML, JUnit, JSON) from a fixed report; SVG plots; output that breaks XML."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine.verify.checks.base import CheckResult
from engine.verify.report import plots, render_html, render_json, render_junit, render_markdown, write_reports
from engine.verify.suite import VerifyReport
from tests.verify_support import loss_curve

SNAPSHOTS = Path(__file__).resolve().parent.parent / "fixtures" / "verify"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


def fixed_report() -> VerifyReport:
    base = [list(p) for p in loss_curve(1, steps=range(0, 501, 25), noise=0)]
    target = [[s, v * 1.02] for s, v in base]
    results = [
        CheckResult("gpu_health", "GPU health", "GPU count, model, memory", "not-run",
                    "no GPU to check on this machine: no NVIDIA driver found", duration_s=0.001,
                    expected="the target must show 8 GPU(s)"),
        CheckResult("topology", "GPU topology", "GPU-to-GPU links", "not-run",
                    "no GPU to check on this machine: no NVIDIA driver found", duration_s=0.001,
                    expected="the target must show 8 GPUs and their interconnect", optional=True),
        CheckResult("data_integrity", "Data integrity", "transfer manifests", "fail",
                    "3 objects, 300 bytes in 1 manifest pair(s): 1 difference(s)",
                    "every object present on both sides with the same size and checksums",
                    {"pairs": []}, None, ["bucket: 1 missing", "  missing: a|b.bin (5 bytes)"], "", 0.01),
        CheckResult("model_load", "Model load time", "median seconds", "pass", "median 1.200s over 5 runs",
                    "median < baseline 1.300s x 1.1 = 1.430s",
                    {"runs": 5, "median_s": 1.2, "samples_s": [1.1, 1.2], "timing": "wall"},
                    {"runs": 5, "median_s": 1.3}, [], "$ python load.py\n(exit 0)\n--- stdout ---\nok", 6.5),
        CheckResult("latency", "Inference latency", "P50/P95/P99", "pass", "P50 4.2 ms, P95 5.0 ms, P99 61.0 ms",
                    "P99 < 100 ms", {"requests": 200, "errors": 0, "p50_ms": 4.2, "p95_ms": 5.0, "p99_ms": 61.0,
                                     "method": "200 sequential HTTP GET requests",
                                     "histogram": {"lo_ms": 4.0, "width_ms": 2.0, "counts": [150, 46] + [0] * 26 + [4]}},
                    None, ["no baseline P99: compared with the absolute threshold only"], "", 1.2),
        CheckResult("convergence", "Training convergence", "loss curves", "pass", "21 steps compared",
                    "relative band 5% of the baseline",
                    {"baseline_curve": base, "target_curve": target, "tolerance": 0.05, "method": "relative",
                     "compared_steps": 21, "outside": 0}, None, [], "", 0.02),
        CheckResult("throughput", "Training throughput", "samples/s", "error",
                    "the training command timed out after 1800.0s", "", {}, None, [],
                    "$ python train.py\n(timed out)\n--- stderr ---\nNCCL WARN <&> \"quoted\"", 1800.0),
    ]
    return VerifyReport(mode="verify", results=results, profile_name="Demo: V100 to A100", host="target-host",
                        started_at=1_700_000_000.0, finished_at=1_700_000_042.5, baseline_file="baseline.json",
                        baseline_captured_at="2023-11-14T00:00:00Z", baseline_host="source-host",
                        signoffs=[{"operator": "alice", "ts": 1_700_000_100.0, "decision": "rejected",
                                   "note": "throughput timed out"}])


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"snapshot {name} was missing and has been written; run again")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed (UPDATE_SNAPSHOTS=1 to accept)"


def test_markdown_snapshot() -> None:
    report = fixed_report()
    md = render_markdown(report, "report-plots", plots(report, 100.0))
    _snapshot("report.md", md)
    assert "**Result: FAIL**" in md
    assert "**INCOMPLETE: expected but not run: gpu_health (the target must show 8 GPU(s))" in md
    assert "| GPU health | ⛔ NOT RUN (expected) |" in md and "| GPU topology | ⏭ not run (optional) |" in md


def test_junit_snapshot_and_structure() -> None:
    text = render_junit(fixed_report())
    _snapshot("junit.xml", text)
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None and suite.get("tests") == "7" and suite.get("failures") == "1"
    # the expected GPU check that did not run is an error (CI must not go green); the optional one is skipped
    assert suite.get("errors") == "2" and suite.get("skipped") == "1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["data_integrity"].find("failure") is not None
    assert "NCCL WARN" in (cases["throughput"].find("error").text or "")
    gap = cases["gpu_health"].find("error")
    assert gap.get("type") == "not-run" and "no GPU" in gap.get("message")
    assert "(optional)" in cases["topology"].find("skipped").get("message")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "FAIL" and props["incomplete"].startswith("INCOMPLETE: expected but not run: gpu_health")


def test_html_snapshot_and_is_escaped() -> None:
    report = fixed_report()
    html = render_html(report, plots(report, 100.0))
    _snapshot("report.html", html)
    assert "NCCL WARN &lt;&amp;&gt; &quot;quoted&quot;" in html
    assert html.count("<svg ") == 2 and "INCOMPLETE: expected but not run" in html
    assert "not run (optional)" in html


def test_json_round_trip() -> None:
    data = json.loads(render_json(fixed_report()))
    assert data["ok"] is False and data["counts"] == {"pass": 3, "fail": 1, "error": 1, "not-run": 2}
    assert data["verdict"] == "FAIL"
    assert VerifyReport.from_dict(data).to_dict() == data


def test_plots_are_svg_with_real_text() -> None:
    images = plots(fixed_report(), 100.0)
    loss = ET.fromstring(images["convergence"][1])
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in loss.iter(f"{ns}text")]
    assert "step" in texts and "loss" in texts and "baseline" in texts and "target" in texts
    assert any(t and t.startswith("band ±0.05") for t in texts)  # any character, not a 3x5 font's '0'
    strokes = {p.get("stroke") for p in loss.iter(f"{ns}polyline")}
    assert {"#1f77b4", "#e66e14"} <= strokes  # baseline and target drawn
    hist = ET.fromstring(images["latency"][1])
    texts = [t.text for t in hist.iter(f"{ns}text")]
    assert "limit 100 ms" in texts and "P99 61 ms" in texts and "milliseconds" in texts
    assert plots(fixed_report(), 100.0) == images  # deterministic


def test_output_with_colour_codes_and_control_bytes_still_parses(tmp_path: Path) -> None:
    printed = ("\x1b[1;32mINFO\x1b[0m loading\n 10%|#    | 1/10\r100%|#####| 10/10\n"
               "bad bytes: \x00\x01\x0b\x1b]0;title\x07 \x9b31m done\n")
    report = fixed_report()
    for r in report.results:
        r.output = printed
        r.summary += " \x1b[31mred\x1b[0m \x02"
        r.details = [*r.details, "detail \x1b[2K\x08"]
    written = write_reports(report, markdown=tmp_path / "report.md", html_path=tmp_path / "report.html",
                            junit=tmp_path / "junit.xml", json_path=tmp_path / "report.json", p99_ms=100.0)
    root = ET.parse(tmp_path / "junit.xml").getroot()  # parses: that is the point
    out = root.find("testsuite/testcase[@name='model_load']/system-out").text
    assert "INFO loading" in out and "100%|#####| 10/10" in out and " 10%" not in out
    assert "\\x00\\x01\\x0b" in out and "\x1b" not in out
    html = (tmp_path / "report.html").read_text()
    assert "\x1b" not in html and "\x00" not in html and "INFO loading" in html
    md = (tmp_path / "report.md").read_text()
    assert "\x1b" not in md and "(report-output/model_load.log)" in md
    raw = tmp_path / "report-output" / "model_load.log"
    assert raw in written
    assert raw.read_bytes().startswith(b"\x1b[1;32mINFO")  # the raw bytes, as printed, beside the report
    assert json.loads((tmp_path / "report.json").read_text())["checks"][0]["output"] == printed


def test_write_reports_links_the_plot_files(tmp_path: Path) -> None:
    written = write_reports(fixed_report(), markdown=tmp_path / "out" / "verify.md", junit=tmp_path / "j.xml",
                            json_path=tmp_path / "r.json", p99_ms=100.0)
    names = sorted(p.name for p in written)
    assert names == ["convergence.svg", "j.xml", "latency.svg", "model_load.log", "r.json", "throughput.log",
                     "verify.md"]
    md = (tmp_path / "out" / "verify.md").read_text()
    assert "![Loss curves" in md and "(verify-plots/convergence.svg)" in md
    assert (tmp_path / "out" / "verify-plots" / "latency.svg").read_text().startswith("<svg ")


def test_the_raw_output_file_holds_everything_the_command_printed(tmp_path: Path) -> None:
    """The reports and the session keep the end of the output; the file beside the report keeps all of it."""
    from engine.verify.checks import model_load
    from engine.verify.checks.base import OUTPUT_LIMIT, run_check
    from engine.verify.suite import VerifyReport as Report
    from tests.verify_support import PY, context

    script = tmp_path / "noisy.py"
    script.write_text("for i in range(2000):\n    print(f'\\x1b[2mline {i:05d}\\x1b[0m')\n")
    result = run_check(model_load, context(tmp_path, model_load={"command": [PY, str(script)], "max_s": 60.0,
                                                                 "runs": 3, "warmup": 0}), None)
    assert result.status == "pass", result.summary
    assert len(result.output) < OUTPUT_LIMIT + 100 and "line 00000" not in result.output
    assert "raw_output" not in result.to_dict()
    report = Report(mode="verify", results=[result])
    write_reports(report, junit=tmp_path / "junit.xml")
    raw = (tmp_path / "junit-output" / "model_load.log").read_text()
    assert "\x1b[2mline 00000\x1b[0m" in raw and "line 01999" in raw  # first and last line, colour codes kept


def test_a_baseline_from_another_gpu_is_said_so() -> None:
    """Review session 6: a baseline captured on a T4 compared as 'the old system' of a V100 source, silently."""
    from engine.verify.baseline import other_gpu_note

    t4 = {"checks": {"gpu_health": {"gpus": [{"index": 0, "name": "Tesla T4"}]}}}
    assert other_gpu_note(t4, "V100") == ("the baseline was captured on Tesla T4, not the profile's source GPU V100: "
                                          "its figures are not the old system's")
    v100 = {"checks": {"gpu_health": {"gpus": [{"index": 0, "name": "Tesla V100-SXM2-16GB"}]}}}
    assert other_gpu_note(v100, "V100") == ""
    assert other_gpu_note({"checks": {}}, "V100") == "" and other_gpu_note(t4, None) == ""  # nothing to tell by
