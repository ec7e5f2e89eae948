"""GPU health and topology on recorded NVML hosts, through the inventory seam (tests/nvml_fake.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.inventory.nvml import GPU_IS_LOST, NvmlError, read_host
from engine.verify.checks import dcgm, gpu_health, topology
from engine.verify.checks.base import Skip, run_check
from tests.nvml_fake import FakeNvml, load_host_data, no_driver_data
from tests.verify_support import context


def _health(tmp_path: Path, host: str | dict, **cfg):
    api = FakeNvml(host) if isinstance(host, dict) else FakeNvml.from_fixture(host)
    ctx = context(tmp_path, nvml_api=api, gpu_count=cfg.pop("gpu_count", 1), gpu_model=cfg.pop("gpu_model", None),
                  **cfg)
    return run_check(gpu_health, ctx, None), api


def test_healthy_v100_passes(tmp_path: Path) -> None:
    result, api = _health(tmp_path, "v100_host", gpu_model="V100", gpu={"pcie_gen": 3, "pcie_width": 16,
                                                                          "min_memory_gib": 15})
    assert result.status == "pass", result.details
    assert "1x Tesla V100-SXM2-16GB: healthy" in result.summary
    assert api.inits == api.shutdowns == 1


def test_faulty_a100_fails_with_each_problem(tmp_path: Path) -> None:
    result, _ = _health(tmp_path, "a100_faulty", gpu_model="A100 40GB")
    assert result.status == "fail"
    text = "\n".join(result.details)
    assert "2 uncorrectable ECC error(s)" in text
    assert "row remap is pending" in text
    assert "clocks held down by sw_thermal_slowdown, hw_thermal_slowdown at 91 °C" in text


def test_faulty_v100_retired_pages_pending(tmp_path: Path) -> None:
    result, _ = _health(tmp_path, "v100_faulty")
    assert result.status == "fail"
    assert any("page retirement is pending" in d for d in result.details)
    assert any("hw_slowdown" in d for d in result.details)


def test_wrong_model_count_memory_link_and_persistence(tmp_path: Path) -> None:
    data = load_host_data("v100_host")
    data["gpus"][0]["persistence_mode"] = 0
    data["gpus"][0]["pcie_link"] = [3, 3, 8, 16]
    result, _ = _health(tmp_path, data, gpu_count=2, gpu_model="A100 40GB", gpu={"min_memory_gib": 40})
    assert result.status == "fail"
    text = "\n".join(result.details)
    for expected in ("1 GPU(s) present, 2 expected", "is not the expected A100 40GB", "at least 40 GiB",
                     "PCIe link runs at x8 of x16", "persistence mode is off"):
        assert expected in text


def test_expected_model_uses_the_shared_gpu_matcher(tmp_path: Path) -> None:
    # the old check wanted each token as a substring: "L4" passed on an L40S and the catalog name "H100 80GB Mega"
    # failed a real "NVIDIA H100 80GB HBM3"; now the names go through engine/gpus/names.py
    data = load_host_data("v100_host")
    data["gpus"][0]["name"] = "NVIDIA L40S"
    wrong, _ = _health(tmp_path, data, gpu_model="L4")
    assert wrong.status == "fail" and any("NVIDIA L40S is not the expected L4" in d for d in wrong.details)
    for expected in ("H100 80GB Mega", "H100", "nvidia-h100-80gb"):
        ok, _ = _health(tmp_path, "h100_mig", gpu_model=expected)
        assert not any("is not the expected" in d for d in ok.details), (expected, ok.details)
    v100, _ = _health(tmp_path, "v100_host", gpu_model="V100 32GB")  # a 16 GB V100 is not the 32 GB one
    assert any("is not the expected V100 32GB" in d for d in v100.details)


def test_mig_layout_as_planned_or_not(tmp_path: Path) -> None:
    planned = ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"]
    ok, _ = _health(tmp_path, "h100_mig", gpu_model="H100", gpu={"mig_profiles": planned})
    assert ok.status == "pass", ok.details
    wrong, _ = _health(tmp_path, "h100_mig", gpu={"mig_profiles": ["7g.80gb"]})
    assert wrong.status == "fail" and "planned ['7g.80gb']" in wrong.details[0]


def test_no_driver_is_not_run_with_the_reason(tmp_path: Path) -> None:
    for check in (gpu_health, topology):
        result = run_check(check, context(tmp_path, nvml_api=FakeNvml(no_driver_data())), None)
        assert result.status == "not-run"
        assert result.summary.startswith("not available here: ") and "NVML" in result.summary


def test_topology_nvswitch_matches_documented_shape(tmp_path: Path) -> None:
    want = [["X" if i == j else "NV12" for j in range(8)] for i in range(8)]
    ctx = context(tmp_path, nvml_api=FakeNvml.from_fixture("a100_8x_nvlink"), topology={"expected": want})
    result = run_check(topology, ctx, None)
    assert result.status == "pass", result.details
    assert "NVSwitch" in result.summary and "GPU0" in result.output
    want[0][1] = "NV18"
    result = run_check(topology, context(tmp_path, nvml_api=FakeNvml.from_fixture("a100_8x_nvlink"),
                                         topology={"expected": want}), None)
    assert result.status == "fail" and result.details == ["GPU0-GPU1: NV12, expected NV18"]


def test_topology_against_the_source_baseline(tmp_path: Path) -> None:
    source = run_check(topology, context(tmp_path, nvml_api=FakeNvml.from_fixture("a100_8x_nvlink")), None,
                       capture=True)
    assert source.status == "pass" and len(source.figures["matrix"]) == 8
    same = run_check(topology, context(tmp_path, nvml_api=FakeNvml.from_fixture("a100_8x_nvlink")), source.figures)
    assert same.status == "pass"
    degraded = load_host_data("a100_8x_nvlink")
    for link in degraded["gpus"][3]["nvlinks"]:
        link["state"] = 0  # GPU3's NVLinks are down
    result = run_check(topology, context(tmp_path, nvml_api=FakeNvml(degraded)), source.figures)
    assert result.status == "fail"
    assert any(d.startswith("GPU0-GPU3:") for d in result.details)
    single = run_check(topology, context(tmp_path, nvml_api=FakeNvml.from_fixture("v100_host")), None)
    assert single.status == "not-run" and "1 GPU" in single.summary


DCGM_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "verify" / "dcgm"


def _capture(name: str) -> str:
    """A recorded `dcgmi diag -j` output without its origin header line."""
    lines = (DCGM_FIXTURES / name).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# origin: ")
    return "\n".join(line for line in lines if not line.startswith("# "))


def test_dcgm3_json_from_a_real_capture() -> None:
    tests, _version = dcgm.parse_diag_json(_capture("dcgm3_t400_r3.json.txt"))
    assert [t[0] for t in tests] == ["PCIe", "GPU Memory", "Diagnostic", "EUD Test", "Targeted Stress"]
    assert {t[1] for t in tests} == {"skip"}


def test_dcgm4_json_names_the_failing_gpu_and_dcgms_words() -> None:
    tests, version = dcgm.parse_diag_json("Successfully ran diagnostic.\n" + _capture("dcgm4_h100x2_r1.json.txt"))
    assert version == "4.2.3"
    assert ("software", "pass", "") in tests
    assert ("memory", "fail", "GPU 1: Pending page retirements detected on GPU 1.") in tests


def test_dcgmi_output_that_is_not_its_json_is_refused() -> None:
    for text in ("| Denylist | Pass |", '{"something": 1}', '{"DCGM Diagnostic": {"runtime_error": "no GPUs"}}'):
        with pytest.raises(ValueError):
            dcgm.parse_diag_json(text)


def test_dcgmi_json_is_read_by_the_check_and_fails_it(tmp_path: Path, monkeypatch) -> None:
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fixture = DCGM_FIXTURES / "dcgm4_h100x2_r1.json.txt"
    script = bin_dir / "dcgmi"
    script.write_text(f"#!/bin/sh\n[ \"$*\" = \"diag -r 1 -j\" ] || exit 9\ngrep -v '^# ' '{fixture}'\nexit 226\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result, _ = _health(tmp_path, "v100_host", gpu={"dcgm_level": 1})
    assert result.status == "fail", (result.summary, result.output)
    assert "dcgmi memory: fail GPU 1: Pending page retirements detected on GPU 1." in result.details
    assert "dcgmi diag -r 1 all pass" in result.threshold


def test_dcgmi_asked_for_but_missing_is_not_run_never_pass(tmp_path: Path) -> None:
    result, _ = _health(tmp_path, "v100_host", gpu={"dcgm_level": 1})
    if dcgm.available():  # pragma: no cover - a GPU host with DCGM
        return
    assert result.status == "not-run"
    assert "healthy by NVML, but dcgmi diag -r 1" in result.summary and "dcgmi is not installed" in result.summary
    assert result.figures["count"] == 1  # what NVML measured is kept

# --- NVML answers that must never read as healthy (review session 6) -------------------------------------


def _lost_after_its_name(data: dict, index: int) -> dict:
    """GPU ``index`` answers its name and memory, then GPU_IS_LOST (15) to every later call, as a GPU that
    falls off the bus part-way through the reading does."""
    gpu = data["gpus"][index]
    for key in list(gpu):
        if key not in ("name", "uuid", "memory_info", "mig_devices"):
            gpu[key] = {"error": 15}
    gpu["total_ecc_errors"] = {k: {"error": 15} for k in ("volatile_corrected", "volatile_uncorrected",
                                                          "aggregate_corrected", "aggregate_uncorrected")}
    gpu["nvlinks"] = [{"state": {"error": 15}}]
    return data


def test_a_gpu_lost_part_way_through_the_reading_fails_and_topology_is_not_judged(tmp_path: Path) -> None:
    data = _lost_after_its_name(load_host_data("a100_8x_nvlink"), 3)
    result, _ = _health(tmp_path, data, gpu_count=8, gpu_model="A100 40GB")
    assert result.status == "fail", result.summary
    assert any(d.startswith("GPU3: lost (NVML: GPU is lost") for d in result.details), result.details
    ctx = context(tmp_path, nvml_api=FakeNvml(data), gpu_count=8, topology={"expected": [["*"] * 8] * 8})
    topo = run_check(topology, ctx, None)
    assert topo.status == "not-run" and "GPU3 is lost" in topo.summary  # never "0 GPU(s) on the target"


def test_a_failed_reading_a_rule_needs_is_not_a_pass(tmp_path: Path) -> None:
    data = load_host_data("v100_host")
    data["gpus"][0]["total_ecc_errors"]["volatile_uncorrected"] = {"error": 999}
    result, _ = _health(tmp_path, data)
    assert result.status == "not-run", result.summary
    assert "GPU0 ECC: NVML error 999: health not established" in result.summary
    data = load_host_data("v100_host")
    data["gpus"][0]["temperature"] = {"error": 999}  # judges nothing: still healthy
    assert _health(tmp_path, data)[0].status == "pass"


def test_ecc_counters_not_supported_are_said_not_checked(tmp_path: Path) -> None:
    data = load_host_data("v100_host")
    data["gpus"][0]["total_ecc_errors"] = None
    result, _ = _health(tmp_path, data)
    assert result.status == "pass"
    assert "GPU0: NVML reports no ECC counters (ECC off or not supported): uncorrectable ECC not checked" \
        in result.details


def test_a_driver_without_gpus_is_never_healthy(tmp_path: Path) -> None:
    data = load_host_data("v100_host")
    data["gpus"] = []
    result, _ = _health(tmp_path, data, gpu_count=None)
    assert result.status == "not-run" and "sees no GPU on this machine" in result.summary
    assert _health(tmp_path, data, gpu_count=2)[0].details == ["0 GPU(s) present, 2 expected"]


class _CannotCount(FakeNvml):
    def device_count(self) -> int:
        raise NvmlError(GPU_IS_LOST, "GPU is lost")


def test_gpus_that_cannot_be_counted_are_an_error_not_zero_gpus(tmp_path: Path) -> None:
    api = _CannotCount(load_host_data("v100_host"))
    result = run_check(gpu_health, context(tmp_path, nvml_api=api, gpu_count=1), None)
    assert result.status == "error" and "could not count GPUs: GPU is lost" in result.summary
    assert "0 GPU(s) present" not in " ".join(result.details)
    host = read_host(api=_CannotCount(load_host_data("v100_host")))
    assert host.summary() == "NVIDIA driver 535.183.01: could not count GPUs: GPU is lost"  # not "no GPUs"


def test_reset_required_and_a_corrupted_inforom_are_problems_not_unknowns(tmp_path: Path) -> None:
    data = load_host_data("v100_host")
    data["gpus"][0]["remapped_rows"] = {"error": 16}  # NVML_ERROR_RESET_REQUIRED
    data["gpus"][0]["power_usage"] = {"error": 14}  # NVML_ERROR_CORRUPTED_INFOROM
    result, _ = _health(tmp_path, data)
    assert result.status == "fail", result.summary
    assert "GPU0: NVML: GPU requires a reset (reset it or reboot before use)" in result.details
    assert "GPU0: NVML: corrupted infoROM (the GPU should be serviced)" in result.details


def test_nvml_that_cannot_start_with_gpus_likely_present_does_not_say_no_gpu(tmp_path: Path) -> None:
    for code, words in ((18, "version mismatch"), (9, "kernel driver is not loaded"), (4, "no permission")):
        result = run_check(gpu_health, context(tmp_path, nvml_api=FakeNvml(no_driver_data(code)), gpu_count=1), None)
        assert result.status == "not-run" and result.summary.startswith(
            "the GPUs on this machine could not be checked: "), result.summary
        assert words in result.summary


def test_nvlink_unknown_under_mig_is_not_a_missing_link(tmp_path: Path) -> None:
    """MIG on: NVML refuses NVLink queries ("NV?"); against a source with NV12 that read as a lost link (FAIL)."""
    data = load_host_data("a100_8x_nvlink")
    for gpu in data["gpus"]:
        gpu["mig_mode"], gpu["nvlinks"], gpu["mig_devices"] = [1, 1], None, []
    source = run_check(topology, context(tmp_path, nvml_api=FakeNvml.from_fixture("a100_8x_nvlink"), gpu_count=8),
                       None, capture=True).figures
    result = run_check(topology, context(tmp_path, nvml_api=FakeNvml(data), gpu_count=8), source)
    assert result.status == "not-run", result.summary
    assert "NVLink is unknown under MIG on the target for 28 pair(s)" in result.summary


def test_a_dcgm_diag_that_skipped_every_test_is_not_all_pass(tmp_path: Path) -> None:
    ctx = context(tmp_path, nvml_api=FakeNvml.from_fixture("v100_host"), gpu_count=1)
    measured = gpu_health.measure(ctx)
    measured["dcgm"] = {"level": 1, "tests": [["deployment", "skip", ""], ["memory", "skip", ""]]}
    with pytest.raises(Skip, match="skipped every one of its 2 test"):
        gpu_health.judge(ctx, measured, None)
    measured["dcgm"]["tests"][0][1] = "pass"
    verdict = gpu_health.judge(ctx, measured, None)
    assert verdict.passed and "dcgmi memory: skipped by DCGM (not run)" in verdict.details
