"""GPU health judged against what the profile planned: the driver runs the planned CUDA, MIG only where planned.

A target whose driver is older than the CUDA its framework build needs (R450 under a torch cu121 plan), or whose
A100 has MIG mode on with no MIG layout planned, read "1x NVIDIA A100-SXM4-40GB: healthy", PASS: the first fails
every CUDA call with "driver too old", the second shows the workload slices (or, with no instance, no device).
"""

from __future__ import annotations

from pathlib import Path

from engine.drivers.compat import recommend
from engine.runner import run_steps
from engine.verify.checks import gpu_health
from engine.verify.checks.base import run_check
from tests.nvml_fake import FakeNvml, load_host_data
from tests.verify_support import context


def _one_a100(**system) -> dict:
    data = load_host_data("a100_8x_nvlink")
    data["gpus"] = data["gpus"][:1]
    data["system"].update(system)
    return data


def _health(tmp_path: Path, data: dict, plan=None, **cfg):
    ctx = context(tmp_path, nvml_api=FakeNvml(data), gpu_count=1, gpu_model="A100 40GB", **cfg)
    ctx.driver_plan = plan
    return run_check(gpu_health, ctx, None)


def _plan():
    return recommend("A100 40GB", os_image="ubuntu-2204", framework="pytorch", framework_version="2.4")


def test_a_driver_too_old_for_the_planned_cuda_is_not_healthy(tmp_path: Path) -> None:
    plan = _plan()
    assert plan.cuda == "12.1" and plan.wheel == "cu121"
    old = _health(tmp_path, _one_a100(driver_version="450.80.02", cuda_driver_version=11000), plan)
    assert old.status == "fail", old.details
    text = "\n".join(old.details)
    assert "driver 450.80.02 cannot run the planned CUDA 12.1 (pytorch 2.4, cu121)" in text
    assert "gpumigrate drivers PROFILE --emit startup-script" in text
    assert "driver runs CUDA 12.1 (the drivers plan)" in old.threshold
    ok = _health(tmp_path, _one_a100(), plan)  # 535.104.12 runs 12.1 natively
    assert ok.status == "pass", ok.details
    assert "driver runs CUDA 12.1 (the drivers plan)" in ok.threshold
    assert any("installed R535, the plan's R580" in d for d in ok.details)


def test_a_driver_that_cannot_be_read_leaves_the_plan_rule_unchecked(tmp_path: Path) -> None:
    data = _one_a100()
    data["system"]["driver_version"] = {"error": 999}
    result = _health(tmp_path, data, _plan())
    assert result.status == "not-run"
    assert "the driver version could not be read" in result.summary


def test_mig_mode_on_with_no_layout_planned_is_not_the_planned_gpu(tmp_path: Path) -> None:
    data = _one_a100()
    data["gpus"][0]["mig_mode"] = [1, 1]
    result = _health(tmp_path, data)
    assert result.status == "fail", result.details
    assert any(d.startswith("GPU0: MIG mode is on and the profile plans whole GPUs (no MIG layout in "
                            "[verify.gpu] mig_profiles)") for d in result.details), result.details
    empty = _health(tmp_path, data, gpu={"mig_profiles": []})  # "no instance" planned: the layout [] matched
    assert empty.status == "fail" and any("CUDA sees no device" in d for d in empty.details), empty.details
    pending = _one_a100()
    pending["gpus"][0]["mig_mode"] = [0, 1]  # turns on at the next GPU reset
    later = _health(tmp_path, pending)
    assert later.status == "fail" and any("MIG mode turns on at the next GPU reset" in d for d in later.details)


def test_the_verify_step_judges_the_profiles_driver_plan(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "a100"\n[source]\nprovider = "local"\n'
                    '[target]\ngpu_model = "A100 40GB"\ngpu_count = 1\n'
                    '[drivers]\nframework = "pytorch"\nframework_version = "2.4"\nos_image = "ubuntu-2204"\n'
                    '[verify]\nchecks = ["gpu_health"]\n')
    from engine.profile import load_profile

    summary = run_steps(load_profile(path), ["verify"], emit=lambda e: None, profile_path=path,
                        options={"nvml_api": FakeNvml(_one_a100(driver_version="450.80.02"))})
    result = summary.results["verify"]
    assert not result.ok
    check = next(c for c in result.data["report"]["checks"] if c["name"] == "gpu_health")
    assert check["status"] == "fail"
    assert any("cannot run the planned CUDA 12.1" in d for d in check["details"])


def test_a_healthy_verdict_says_what_it_did_not_count(tmp_path: Path) -> None:
    """ECC off read "healthy" with the ECC rule in the threshold; 70 retired pages and lifetime uncorrectable errors
    (volatile counters reset by a reboot) were not said at all."""
    data = load_host_data("v100_host")
    gpu = data["gpus"][0]
    gpu["total_ecc_errors"]["aggregate_uncorrected"] = 3
    gpu["retired_pages"] = {"single_bit": 30, "double_bit": 40}
    ctx = context(tmp_path, nvml_api=FakeNvml(data), gpu_count=1)
    result = run_check(gpu_health, ctx, None)
    assert result.status == "pass", result.details
    assert "clock slowdown when read (once, before the workload checks: throttling under load is not seen here)" \
        in result.threshold  # read once at idle: the PASS does not cover throttling under load
    assert "GPU0: 70 memory page(s) retired over its life (30 after repeated single-bit errors, 40 after a " \
           "double-bit error): not judged here (`nvidia-smi -q -d PAGE_RETIREMENT`)" in result.details
    assert "GPU0: 3 uncorrectable ECC error(s) over its life, none since the driver loaded" in result.details
    off = load_host_data("v100_host")
    off["gpus"][0]["total_ecc_errors"] = None
    unread = run_check(gpu_health, context(tmp_path, nvml_api=FakeNvml(off), gpu_count=1), None)
    assert unread.status == "pass"
    assert unread.summary == "1x Tesla V100-SXM2-16GB: healthy, but ECC errors not counted on GPU0", unread.summary
