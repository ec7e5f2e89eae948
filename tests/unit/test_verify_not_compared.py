"""A figure judged against the old system only when there is one to compare with (review session 7).

The product promises load time, latency and throughput "against the old system" and the source's
interconnect on the target.  Where no such comparison was made - no baseline figure, a baseline of one run,
a source topology read under MIG - the check says so; it never prints the comfortable PASS.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.verify.checks import latency, model_load, throughput, topology
from engine.verify.checks.base import Skip, run_check
from tests.nvml_fake import FakeNvml, load_host_data
from tests.verify_support import context

CMD = "100 sequential runs of the command after 0 warm-up; wall time of each run including process start; ..."
FIGURES = {"requests": 1000, "errors": 0, "p50_ms": 20.0, "p95_ms": 25.0, "p99_ms": 30.0, "method": CMD}


# --- latency: no baseline P99 --------------------------------------------------------------------------------


def test_latency_without_a_baseline_or_a_threshold_of_ones_own_is_not_compared(tmp_path: Path) -> None:
    """Was PASS "P99 < 50 ms": a default threshold nobody set, and no comparison with the old system at all."""
    with pytest.raises(Skip) as caught:
        latency.judge(context(tmp_path), dict(FIGURES), None)
    words = str(caught.value)
    assert words.startswith("P50 20.0 ms, P95 25.0 ms, P99 30.0 ms: not compared with the old system: "
                            "no baseline P99 from the source"), words
    assert "--capture-baseline" in words and "[verify] p99_ms" in words
    # a slow figure is not a FAIL against a limit nobody set either
    with pytest.raises(Skip, match="not compared with the old system"):
        latency.judge(context(tmp_path), {**FIGURES, "p99_ms": 400.0}, None)


def test_latency_against_a_threshold_the_profile_sets_says_it_is_not_the_old_system(tmp_path: Path) -> None:
    ctx = context(tmp_path, p99_ms=100.0)
    verdict = latency.judge(ctx, dict(FIGURES), None)
    assert verdict.passed and verdict.threshold == "P99 < 100 ms ([verify] p99_ms)"
    assert verdict.summary.endswith("; judged against [verify] p99_ms, not the old system")
    assert verdict.details == ["not compared with the old system: no baseline P99 from the source"]
    slow = latency.judge(ctx, {**FIGURES, "p99_ms": 120.0}, None)
    assert not slow.passed and slow.details[0] == "P99 120.0 ms is not under 100 ms"


def test_latency_against_the_baseline_alone_does_not_apply_a_limit_nobody_set(tmp_path: Path) -> None:
    """Old system P99 200 ms, new 190 ms: better than the old system, was FAIL against the unset 50 ms."""
    verdict = latency.judge(context(tmp_path), {**FIGURES, "p99_ms": 190.0},
                            {"p99_ms": 200.0, "requests": 1000, "method": CMD})
    assert verdict.passed, verdict.details
    assert verdict.threshold == "P99 <= baseline 200.0 ms x 1.1 = 220.0 ms" and verdict.details == []


def test_an_unestablished_baseline_p99_without_a_threshold_is_not_compared(tmp_path: Path) -> None:
    with pytest.raises(Skip, match=r"not compared with the old system: the baseline's P99 is from 40 timed "
                                   r"requests on the source \(100 needed\)"):
        latency.judge(context(tmp_path), dict(FIGURES), {"p99_ms": 31.0, "requests": 40, "method": CMD})


def test_the_demo_style_profile_has_no_hidden_default_threshold() -> None:
    from engine.verify.section import VerifySection

    assert VerifySection().p99_ms is None


# --- model load and throughput: baselines of a single run ---------------------------------------------------


def _load(median: float, runs: int, timing: str = "wall") -> dict:
    return {"runs": runs, "samples_s": [median] * runs, "median_s": median, "min_s": median, "max_s": median,
            "timing": timing}


def test_a_model_load_baseline_of_one_run_is_not_the_old_systems_load_time(tmp_path: Path) -> None:
    """Was PASS "median 0.500s over 5 runs (baseline 0.520s, 0.96x)" on one noisy source sample."""
    with pytest.raises(Skip) as caught:
        model_load.judge(context(tmp_path), _load(0.5, 5), _load(0.52, 1))
    assert ("not compared with the old system: the baseline's median is from 1 run on the source "
            "(3 needed)") in str(caught.value)
    ceiling = model_load.judge(context(tmp_path, model_load={"max_s": 2.0}), _load(0.5, 5), _load(0.52, 1))
    assert ceiling.passed and ceiling.threshold == "median <= 2s"
    assert ceiling.details == ["not compared with the old system: the baseline's median is from 1 run on the "
                               "source (3 needed): judged against [verify.model_load] max_s only"]
    three = model_load.judge(context(tmp_path), _load(0.5, 5), _load(0.52, 3))
    assert three.passed and "baseline 0.520s from 3 runs" in three.summary


def test_a_model_load_of_one_run_on_the_target_can_fail_but_never_pass(tmp_path: Path) -> None:
    with pytest.raises(Skip, match=r"median 0.500s over 1 run \(baseline 0.520s from 5 runs, 0.96x\): one run "
                                   r"cannot establish a load time \(3 needed; raise \[verify.model_load\] runs\)"):
        model_load.judge(context(tmp_path), _load(0.5, 1), _load(0.52, 5))
    slow = model_load.judge(context(tmp_path), _load(5.0, 1), _load(0.52, 5))
    assert not slow.passed


def test_a_throughput_baseline_of_one_run_is_not_compared(tmp_path: Path) -> None:
    measured = {"metric": "samples_per_s", "values": [100.0, 101.0, 99.0], "median": 100.0, "runs": 3}
    with pytest.raises(Skip, match=r"not compared with the old system: the baseline's median is from 1 run on the "
                                   r"source \(3 needed; capture it again with \[verify.throughput\] runs >= 3\)"):
        throughput.judge(context(tmp_path), dict(measured), {"metric": "samples_per_s", "values": [98.0],
                                                             "median": 98.0, "runs": 1})
    ok = throughput.judge(context(tmp_path), dict(measured), {"metric": "samples_per_s", "values": [98.0] * 3,
                                                              "median": 98.0, "runs": 3})
    assert ok.passed and "baseline 98 samples/s (median of 3)" in ok.summary
    one = {"metric": "samples_per_s", "values": [100.0], "median": 100.0, "runs": 1}
    with pytest.raises(Skip, match=r"one run cannot establish a speed \(3 needed; raise \[verify.throughput\] runs\)"):
        throughput.judge(context(tmp_path), one, {"metric": "samples_per_s", "median": 98.0, "runs": 3})
    slow = throughput.judge(context(tmp_path), {**one, "median": 10.0}, {"metric": "samples_per_s", "median": 98.0,
                                                                        "runs": 3})
    assert not slow.passed


def test_throughput_runs_three_times_by_default() -> None:
    from engine.verify.section import ThroughputSettings

    assert ThroughputSettings().runs == 3


# --- topology: a source read under MIG --------------------------------------------------------------------------


def _mig_source(tmp_path: Path) -> dict:
    data = load_host_data("a100_8x_nvlink")
    for gpu in data["gpus"]:
        gpu["mig_mode"], gpu["nvlinks"], gpu["mig_devices"] = [1, 1], None, []
    source = run_check(topology, context(tmp_path, nvml_api=FakeNvml(data), gpu_count=8), None, capture=True)
    assert source.figures["matrix"][0][1] == "NV?"
    return source.figures


def test_a_source_topology_read_under_mig_does_not_pass_a_target_without_nvlink(tmp_path: Path) -> None:
    """The source's NVLink was hidden by MIG ("NV?"): a target with only PCIe was PASS "as planned"."""
    pcie = load_host_data("a100_8x_nvlink")
    for gpu in pcie["gpus"]:
        for link in gpu["nvlinks"]:
            link["state"] = 0
    result = run_check(topology, context(tmp_path, nvml_api=FakeNvml(pcie), gpu_count=8), _mig_source(tmp_path))
    assert result.status == "not-run", (result.status, result.summary)
    assert "not comparable" in result.summary and "the source's NVLink was unknown (read under MIG)" in result.summary
    assert "28 pair(s)" in result.summary and "GPU0-GPU1" in result.summary


def test_a_target_with_nvlink_everywhere_meets_a_mig_source_whatever_it_had(tmp_path: Path) -> None:
    result = run_check(topology, context(tmp_path, nvml_api=FakeNvml.from_fixture("a100_8x_nvlink"), gpu_count=8),
                       _mig_source(tmp_path))
    assert result.status == "pass", (result.summary, result.details)


def test_an_unreadable_link_on_the_target_is_not_a_missing_link(tmp_path: Path) -> None:
    source = run_check(topology, context(tmp_path, nvml_api=FakeNvml.from_fixture("a100_8x_nvlink"), gpu_count=8),
                       None, capture=True).figures
    measured = topology.measure(context(tmp_path, nvml_api=FakeNvml.from_fixture("a100_8x_nvlink"), gpu_count=8))
    measured["matrix"] = [["X" if i == j else "?" for j in range(8)] for i in range(8)]
    with pytest.raises(Skip, match="could not be read"):
        topology.judge(context(tmp_path, gpu_count=8), measured, source)


# --- capture: a figure the target will refuse to compare with is not "captured" ---------------------------------


def test_a_capture_the_target_cannot_compare_with_is_baseline_incomplete(tmp_path: Path) -> None:
    """One load run and a MIG-hidden NVLink were 'BASELINE CAPTURED', exit 0, on a source that may be switched off
    next: the target only found out then that nothing could be compared."""
    from engine.verify.baseline import baseline_from_report
    from engine.verify.suite import run_verification
    from tests.verify_support import PY, section

    cfg = section(checks=["model_load"], model_load={"command": [PY, "-S", "-c", "pass"], "runs": 1, "warmup": 0})
    report = run_verification(cfg, base_dir=tmp_path, capture=True)
    assert report.verdict == "BASELINE INCOMPLETE" and not report.ok
    assert report.incomplete_line() == (
        "BASELINE INCOMPLETE: captured, but the target cannot compare with it: model_load: its median is from "
        "1 run (3 needed; raise [verify.model_load] runs)")
    assert baseline_from_report(report)["checks"]["model_load"]["runs"] == 1  # kept: the target says why not
    data = load_host_data("a100_8x_nvlink")
    for gpu in data["gpus"]:
        gpu["mig_mode"], gpu["nvlinks"], gpu["mig_devices"] = [1, 1], None, []
    mig = run_check(topology, context(tmp_path, nvml_api=FakeNvml(data), gpu_count=8), None, capture=True)
    assert mig.status == "pass" and mig.summary.startswith("baseline captured, but the target cannot compare with "
                                                           "it: NVLink is unknown under MIG for 28 pair(s)")
    assert run_check(topology, context(tmp_path, nvml_api=FakeNvml.from_fixture("a100_8x_nvlink"), gpu_count=8),
                     None, capture=True).summary == "baseline captured"


def test_the_dry_run_says_which_checks_have_nothing_to_be_compared_with(tmp_path: Path) -> None:
    """A dry run listed latency and load time as checks it "would" run: without a baseline and a limit of the
    profile's own they end not run, and the verification INCOMPLETE."""
    from engine.profile import parse_profile
    from engine.runner import run_steps

    profile = parse_profile('[source]\nprovider = "local"\n[verify.latency]\nurl = "http://127.0.0.1:9/"\n'
                            '[verify.model_load]\ncommand = ["true"]\nmax_s = 5.0\n'
                            '[verify.throughput]\ncommand = ["true"]\n')
    events: list = []
    run_steps(profile, ["verify"], emit=events.append, profile_path=tmp_path / "p.toml", dry_run=True)
    texts = [getattr(e, "text", "") for e in events]
    assert ("no baseline and no limit of the profile's own, so reported not run (not compared with the old "
            "system): latency, throughput") in texts, texts


def test_a_source_with_another_gpu_count_is_not_comparable_not_a_failed_interconnect(tmp_path: Path) -> None:
    """1 x V100 to 8 x A100: the source's 1x1 matrix FAILed the target ("8 GPU(s) on the target, 1 on the source");
    the count is GPU health's to judge, and a 1-GPU source shows no interconnect to keep."""
    one = run_check(topology, context(tmp_path, nvml_api=FakeNvml.from_fixture("v100_host"), gpu_count=1), None,
                    capture=True).figures
    result = run_check(topology, context(tmp_path, nvml_api=FakeNvml.from_fixture("a100_8x_nvlink"), gpu_count=8),
                       one)
    assert result.status == "not-run", (result.status, result.summary)
    assert "the source had 1 GPU(s), the target 8" in result.summary
    assert "[verify.topology] expected" in result.summary
