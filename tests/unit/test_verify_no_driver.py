"""A target with no NVIDIA driver: the GPU checks say "not available here", never "no GPU" (review session 7).

NVML absent (libnvidia-ml not installed, nvidia-ml-py missing) looks the same on a GPU-less laptop and on a
fresh A100 VM whose driver was never installed.  "no GPU to check on this machine" was printed on both; sysfs
tells them apart (the doctor's PCI probe).  Performance figures measured there are said to be measured
without a GPU driver.  Exit codes: tests/e2e/test_verify_cli.py runs the CLI on this GPU-less machine.
"""

from __future__ import annotations

from pathlib import Path

from engine.drivers.detect import PCI_DEVICES
from engine.verify.checks import gpu_health, topology
from engine.verify.checks.base import run_check
from engine.verify.suite import run_verification
from tests.nvml_fake import FakeNvml, no_driver_data
from tests.verify_support import PY, context, section


def _sysfs(root: Path, nvidia_cards: int) -> Path:
    (root / PCI_DEVICES).mkdir(parents=True)
    bridge = root / PCI_DEVICES / "0000:00:00.0"
    bridge.mkdir()
    (bridge / "vendor").write_text("0x8086\n")
    (bridge / "class").write_text("0x060000\n")
    for i in range(nvidia_cards):
        card = root / PCI_DEVICES / f"0000:00:0{4 + i}.0"
        card.mkdir()
        (card / "vendor").write_text("0x10de\n")
        (card / "class").write_text("0x030200\n")
        (card / "device").write_text("0x20b0\n")
    return root


def test_a_card_with_no_driver_is_not_called_no_gpu(tmp_path: Path) -> None:
    root = _sysfs(tmp_path / "a100-vm", nvidia_cards=2)
    for check in (gpu_health, topology):
        ctx = context(tmp_path, nvml_api=FakeNvml(no_driver_data(12)), gpu_count=2)
        ctx.system_root = root
        result = run_check(check, ctx, None)
        assert result.status == "not-run", result.summary
        assert "no GPU to check" not in result.summary
        assert result.summary.startswith("not available here: no NVIDIA driver found (the NVML library "
                                         "libnvidia-ml.so.1 is not installed)"), result.summary
        assert "the PCI bus shows 2 NVIDIA GPU(s) that no driver answers" in result.summary
        assert result.summary.endswith("the GPUs were not checked")


def test_a_machine_with_no_nvidia_device_says_so_and_what_it_did_not_check(tmp_path: Path) -> None:
    ctx = context(tmp_path, nvml_api=FakeNvml(no_driver_data(12)), gpu_count=1)
    ctx.system_root = _sysfs(tmp_path / "laptop", nvidia_cards=0)
    result = run_check(gpu_health, ctx, None)
    assert result.status == "not-run"
    assert result.summary == ("not available here: no NVIDIA driver found (the NVML library libnvidia-ml.so.1 is "
                              "not installed); no NVIDIA device on the PCI bus: the GPUs were not checked")
    ctx = context(tmp_path, nvml_api=FakeNvml(no_driver_data(12)), gpu_count=1)
    ctx.system_root = tmp_path / "no-sysfs"  # a container without /sys: nothing said about the bus
    assert run_check(gpu_health, ctx, None).summary == (
        "not available here: no NVIDIA driver found (the NVML library libnvidia-ml.so.1 is not installed): "
        "the GPUs were not checked")


def test_figures_measured_without_a_gpu_driver_say_so_and_the_verdict_is_not_pass(tmp_path: Path) -> None:
    """A load that ran where NVML is missing ran on whatever answered (a CPU fallback): said beside it."""
    cfg = section(model_load={"command": [PY, "-S", "-c", "pass"], "runs": 3, "warmup": 0, "max_s": 60.0})
    report = run_verification(cfg, base_dir=tmp_path, target_gpu_count=1, nvml_api=FakeNvml(no_driver_data(12)),
                              only=None)
    by_name = {r.name: r for r in report.results}
    assert by_name["gpu_health"].status == "not-run" and by_name["gpu_health"].gap
    assert report.verdict == "INCOMPLETE" and not report.ok
    lat = by_name["model_load"]
    assert lat.status == "pass", lat.summary
    assert any(d.startswith("measured where no NVIDIA driver answers (NVML: no NVIDIA driver found") and
               d.endswith("these figures may not be the target GPUs'") for d in lat.details), lat.details
    # where the GPUs were read, no such words
    ok = run_verification(cfg, base_dir=tmp_path, target_gpu_count=1, nvml_api=FakeNvml.from_fixture("v100_host"))
    assert not any("no NVIDIA driver" in d for d in {r.name: r for r in ok.results}["model_load"].details)


def test_a_capture_where_no_driver_answers_is_not_the_source_gpus_baseline(tmp_path: Path) -> None:
    """Captured on the source where NVML is missing (or on a laptop): the GPU checks the target expects were not
    captured, yet it was 'BASELINE CAPTURED', exit 0, and the target compared with it as 'the old system'."""
    from engine.verify.baseline import baseline_from_report, other_gpu_note

    cfg = section(model_load={"command": [PY, "-S", "-c", "pass"], "runs": 3, "warmup": 0})
    report = run_verification(cfg, base_dir=tmp_path, capture=True, target_gpu_count=8,
                              nvml_api=FakeNvml(no_driver_data(12)))
    assert report.verdict == "BASELINE INCOMPLETE" and not report.ok
    line = report.incomplete_line()
    assert line.startswith("BASELINE INCOMPLETE: expected but not captured: gpu_health (the target must show 8 "
                           "GPU(s)): not available here: no NVIDIA driver found"), line
    assert "topology (the target must show 8 GPUs and their interconnect)" in line
    baseline = baseline_from_report(report)
    assert other_gpu_note(baseline, "V100").startswith(
        "the baseline holds no GPU reading of the machine it was captured on (gpu_health: not available here: no "
        "NVIDIA driver found")
    assert other_gpu_note(baseline, "V100").endswith("whether its figures are the source V100's is not known")
