"""Report snapshots (Markdown, HTML, JUnit, JSON) from a fixed report, and the PNG plots decoded back."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine.verify.checks.base import CheckResult
from engine.verify.png import BLUE, ORANGE, RED, decode_png
from engine.verify.report import plots, render_html, render_json, render_junit, render_markdown, write_reports
from engine.verify.suite import VerifyReport
from tests.verify_support import loss_curve

SNAPSHOTS = Path(__file__).resolve().parent.parent / "fixtures" / "verify"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


def fixed_report() -> VerifyReport:
    base = [list(p) for p in loss_curve(1, steps=range(0, 501, 25), noise=0)]
    target = [[s, v * 1.02] for s, v in base]
    results = [
        CheckResult("gpu_health", "GPU health", "GPU count, model, memory", "skipped",
                    "no GPU to check on this machine: no NVIDIA driver found", duration_s=0.001),
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
    _snapshot("report.md", render_markdown(report, "report-plots", plots(report, 100.0)))


def test_junit_snapshot_and_structure() -> None:
    text = render_junit(fixed_report())
    _snapshot("junit.xml", text)
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None and suite.get("tests") == "6" and suite.get("failures") == "1"
    assert suite.get("errors") == "1" and suite.get("skipped") == "1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["data_integrity"].find("failure") is not None
    assert "NCCL WARN" in (cases["throughput"].find("error").text or "")
    assert cases["gpu_health"].find("skipped").get("message").startswith("no GPU")


def test_html_snapshot_without_images_and_is_escaped() -> None:
    html = render_html(fixed_report(), plot_files=None)
    _snapshot("report.html", html)
    assert "NCCL WARN &lt;&amp;&gt; &quot;quoted&quot;" in html
    with_images = render_html(fixed_report(), plots(fixed_report(), 100.0))
    assert with_images.count("data:image/png;base64,") == 2


def test_json_round_trip() -> None:
    data = json.loads(render_json(fixed_report()))
    assert data["ok"] is False and data["counts"] == {"pass": 3, "fail": 1, "skipped": 1, "error": 1}
    assert VerifyReport.from_dict(data).to_dict() == data


def test_plots_are_real_pngs_showing_the_data() -> None:
    images = plots(fixed_report(), 100.0)
    loss = decode_png(images["convergence"][1])
    assert (loss.width, loss.height) == (720, 360)
    colours = {loss.get(x, y) for x in range(loss.width) for y in range(loss.height)}
    assert BLUE in colours and ORANGE in colours
    hist = decode_png(images["latency"][1])
    colours = {hist.get(x, y) for x in range(hist.width) for y in range(hist.height)}
    assert BLUE in colours and RED in colours  # bars and the P99 limit
    again = plots(fixed_report(), 100.0)
    assert again["convergence"][1] == images["convergence"][1]  # deterministic bytes


def test_write_reports_links_the_plot_files(tmp_path: Path) -> None:
    written = write_reports(fixed_report(), markdown=tmp_path / "out" / "verify.md", junit=tmp_path / "j.xml",
                            json_path=tmp_path / "r.json", p99_ms=100.0)
    names = sorted(p.name for p in written)
    assert names == ["convergence.png", "j.xml", "latency.png", "r.json", "verify.md"]
    md = (tmp_path / "out" / "verify.md").read_text()
    assert "![Loss curves" in md and "(verify-plots/convergence.png)" in md
    assert (tmp_path / "out" / "verify-plots" / "latency.png").read_bytes().startswith(b"\x89PNG")
