"""Table-driven compatibility answers: GPU x driver x CUDA x framework, and the classic failures."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from engine.drivers import compat

TODAY = date(2026, 11, 23)  # R535 (Jun 2026), R570 (Feb 2026), R610 (Aug 2026) are past end of life


def codes(findings: list[compat.Finding], status: str | None = None) -> set[str]:
    return {f.code for f in findings if status is None or f.status == status}


# --- recommend(): which driver branch, CUDA and wheel, and the verdict ---------------------------------
# (gpu, framework, version, driver_branch, cuda) -> (branch, wheel, cuda, status, red/amber codes that must appear)
RECOMMEND = [
    ("V100", "pytorch", "2.14", None, None, 580, "cu126", "12.6", "amber", {"gpu-end-of-line"}),
    ("V100", "pytorch", "2.12", None, None, 580, "cu126", "12.6", "amber", {"gpu-end-of-line"}),
    ("V100", "pytorch", "2.4", "535", None, 535, "cu121", "12.1", "amber", {"driver-eol"}),
    ("V100", "pytorch", "2.14", "590", None, 590, "cu126", "12.6", "red", {"driver-drops-gpu"}),
    ("V100", "pytorch", "2.14", None, "13.0", 580, None, "13.0", "red", {"framework-no-kernels", "cuda-drops-gpu"}),
    ("P100", "pytorch", "2.12", None, None, 580, "cu126", "12.6", "amber", {"gpu-end-of-line"}),
    ("P100", "jax", None, None, "13.0", 580, None, "13.0", "red", {"cuda-drops-gpu"}),
    ("P4", "none", None, None, None, 580, None, "12.9", "amber", {"gpu-end-of-line"}),
    ("K80", "pytorch", "2.14", None, None, 470, None, None, "red", {"gpu-legacy", "framework-no-kernels"}),
    ("T4", "pytorch", "2.14", None, None, 580, "cu130", "13.0", "green", set()),
    ("T4", "pytorch", "2.9", "590", None, 590, "cu128", "12.8", "green", set()),
    # a branch the tables know nothing of (no data-centre row, no toolkit driver): never all green
    ("A100 40GB", "pytorch", "2.14", "999", None, 999, "cu132", "13.2", "amber", {"driver-unknown"}),
    ("T4", "pytorch", "2.9", "525", None, 525, "cu128", "12.8", "amber", {"driver-eol"}),
    ("A100 40GB", "pytorch", "2.4", None, None, 580, "cu121", "12.1", "green", set()),
    ("A100 40GB", "pytorch", "2.4", None, "12.4", 580, "cu124", "12.4", "amber", set()),
    ("A100 80GB", "pytorch", "2.12", "535", None, 535, "cu126", "12.6", "amber", {"driver-eol"}),
    ("A100 80GB", "pytorch", "2.14", "535", "13.0", 535, None, "13.0", "red", {"wheel-none", "driver-too-old-for-cuda"}),
    ("L4", "pytorch", "2.5", None, "12.4", 580, "cu124", "12.4", "green", set()),
    ("L4", "pytorch", "9.9", None, None, 580, None, "13.0", "amber", {"framework-unknown"}),
    ("H100", "pytorch", "2.8", None, None, 580, "cu128", "12.8", "green", set()),
    ("H100", "tensorflow", "2.18.0", None, None, 580, "cu125", "12.5", "green", set()),
    ("H100", "tensorflow", "2.14", None, None, 580, "cu118", "11.8", "amber", {"framework-ptx-jit"}),
    ("H100", "tensorflow", "2.16", None, None, 580, "cu123", "12.3", "green", set()),
    ("B200", "pytorch", "2.6", None, None, 580, None, None, "red", {"framework-no-kernels"}),
    ("B200", "pytorch", "2.7", None, None, 580, "cu128", "12.8", "amber", set()),
    ("B200", "pytorch", "2.9", "535", None, 535, None, None, "red", {"driver-too-old-for-gpu"}),
    ("NVIDIA H100 80GB HBM3", "pytorch", "2.14", None, None, 580, "cu130", "13.0", "green", set()),
    ("mystery-gpu", "pytorch", "2.14", None, None, 580, "cu130", "13.0", "amber", {"gpu-unknown"}),
]


@pytest.mark.parametrize("gpu,fw,ver,branch,cuda,want_branch,want_wheel,want_cuda,want_status,want_codes", RECOMMEND)
def test_recommend(gpu: str, fw: str, ver: str | None, branch: str | None, cuda: str | None, want_branch: int,
                   want_wheel: str | None, want_cuda: str | None, want_status: str, want_codes: set[str]) -> None:
    plan = compat.recommend(gpu, "ubuntu-2204", fw, ver, branch, cuda, today=TODAY)
    assert plan.driver_branch == want_branch
    assert plan.wheel == want_wheel
    if want_cuda is not None:
        assert plan.cuda == want_cuda
    assert plan.status == want_status, [(f.status, f.code, f.reason) for f in plan.findings]
    assert want_codes <= codes(plan.findings), codes(plan.findings)
    for f in plan.findings:  # every verdict says why
        assert f.reason


def test_volta_gets_proprietary_modules_and_turing_open() -> None:
    assert compat.recommend("V100", today=TODAY).driver_flavour == "proprietary"
    assert compat.recommend("T4", today=TODAY).driver_flavour == "open"


def test_reason_names_the_wheels_left_out_for_volta() -> None:
    plan = compat.recommend("V100", framework_version="2.14", today=TODAY)
    text = " ".join(f.reason for f in plan.findings)
    assert "cu130 leaves out sm_70" in text and "cu126" in text


# --- driver <-> CUDA rules -------------------------------------------------------------------------------
DRIVER_CUDA = [
    ("535.104.05", (12, 2), True, "native"),
    ("535.104.05", (12, 4), True, "minor-version"),
    ("535.104.05", (12, 9), True, "minor-version"),
    ("535.104.05", (13, 0), False, "too-old"),
    ("525.60.13", (12, 0), True, "native"),
    ("520.61.05", (12, 0), False, "too-old"),
    ("470.82.01", (11, 8), True, "minor-version"),
    ("450.80.02", (11, 4), True, "minor-version"),
    ("580.65.06", (13, 2), True, "minor-version"),
    ("580.65.06", (11, 8), True, "native"),
    ("575.57.08", (13, 0), False, "too-old"),
]


@pytest.mark.parametrize("driver,cuda,ok,mode", DRIVER_CUDA)
def test_driver_runs_cuda(driver: str, cuda: tuple[int, int], ok: bool, mode: str) -> None:
    verdict = compat.driver_runs_cuda(driver, cuda)
    assert (verdict.ok, verdict.mode) == (ok, mode), verdict.reason


@pytest.mark.parametrize("driver,cuda", [("535.104.05", (12, 2)), ("550.54.15", (12, 4)), ("580.82.07", (13, 0)),
                                         ("525.147.05", (12, 0)), ("595.45.04", (13, 2))])
def test_max_native_cuda_is_what_nvidia_smi_prints(driver: str, cuda: tuple[int, int]) -> None:
    assert compat.max_native_cuda(driver) == cuda


@pytest.mark.parametrize("name,model", [
    ("Tesla V100-SXM2-16GB", "V100"), ("NVIDIA A100-SXM4-40GB", "A100 40GB"), ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
    ("NVIDIA H100 80GB HBM3", "H100"), ("Tesla T4", "T4"), ("NVIDIA L4", "L4"), ("NVIDIA A10G", "A10G / A10"),
    ("nvidia-tesla-v100", "V100"), ("NVIDIA GH200 480GB", "GH200"), ("Tesla P100-PCIE-16GB", "P100"),
])
def test_gpu_names_from_nvml_and_gce(name: str, model: str) -> None:
    gpu = compat.gpu_info(name)
    assert gpu is not None and gpu.model == model


# --- diagnose(): installed state -> findings ---------------------------------------------------------------


def state(gpu: str | None, driver: str | None, nvcc: str | None = None, torch_cuda: str | None = "unset",
          **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "gpus": [{"index": 0, "name": gpu, "memory_total_mib": 16384, "memory_used_mib": 15000}] if gpu else [],
        "nvml": {"available": bool(driver), "driver_version": driver,
                 "cuda_driver_version": None},
        "nvidia_smi": {"present": bool(driver), "driver_version": driver,
                       "cuda_version": compat.mm_str(compat.max_native_cuda(driver)) if driver else None},
        "kernel_module": {"version": driver, "open": False},
        "nvcc": {"version": nvcc},
        "frameworks": [] if torch_cuda == "unset" else [{"name": "torch", "version": "2.9.0", "cuda": torch_cuda}],
    }
    out.update(extra)
    return out


DIAGNOSE = [
    # nvcc and nvidia-smi disagree
    (state("Tesla T4", "525.147.05", nvcc="12.4.131"), "amber", {"nvcc-smi-minor"}),
    (state("NVIDIA L4", "535.104.05", nvcc="13.0.88"), "red", {"nvcc-newer-than-driver"}),
    (state("NVIDIA L4", "580.82.07", nvcc="12.1.105"), "green", {"nvcc-older"}),
    # a wheel built for a newer CUDA than the driver supports
    (state("Tesla T4", "525.147.05", torch_cuda="13.0"), "red", {"wheel-newer-than-driver"}),
    (state("Tesla T4", "535.104.05", torch_cuda="12.4"), "amber", {"framework-ok", "driver-eol"}),
    (state("Tesla T4", "470.82.01", torch_cuda="12.1"), "red", {"wheel-newer-than-driver"}),
    # a GPU the toolkit / wheel no longer supports
    (state("Tesla V100-SXM2-16GB", "580.82.07", torch_cuda="13.0"), "red", {"wheel-arch-unsupported"}),
    (state("Tesla V100-SXM2-16GB", "580.82.07", nvcc="13.0.88"), "red", {"toolkit-drops-gpu"}),
    (state("Tesla V100-SXM2-16GB", "580.82.07", torch_cuda="12.6"), "green", {"framework-ok"}),
    (state("Tesla P100-PCIE-16GB", "590.44.01"), "red", {"driver-drops-gpu"}),
    (state("NVIDIA B200", "535.104.05"), "red", {"driver-too-old-for-gpu"}),
    (state("NVIDIA H100 80GB HBM3", "470.82.01"), "red", {"driver-too-old-for-gpu"}),
    (state("NVIDIA H100 80GB HBM3", "580.82.07", torch_cuda=None), "red", {"framework-cpu-only"}),
    # kernel module vs user space
    (state("NVIDIA A100-SXM4-40GB", "550.54.15", kernel_module={"version": "535.161.07"}), "red",
     {"driver-library-mismatch"}),
    # runtime errors
    (state("Tesla V100-SXM2-16GB", "580.82.07", torch_cuda="13.0",
           errors_to_explain=["CUDA_ERROR_INVALID_VALUE: invalid argument"]), "red", {"invalid-value"}),
    (state("NVIDIA L4", "580.82.07", errors_to_explain=[
        "RuntimeError: CUDA error: device-side assert triggered"]), "red", {"device-side-assert"}),
    (state("Tesla T4", "580.82.07", errors_to_explain=[
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]), "red", {"out-of-memory"}),
]


@pytest.mark.parametrize("st,want_status,want_codes", DIAGNOSE)
def test_diagnose(st: dict[str, Any], want_status: str, want_codes: set[str]) -> None:
    findings = compat.diagnose(st, today=TODAY)
    assert want_codes <= codes(findings), [(f.status, f.code) for f in findings]
    assert compat.worst(findings) == want_status, [(f.status, f.code, f.reason) for f in findings]
    for f in findings:
        if f.status != "green":
            assert f.fix, f"{f.code} has no fix"


def test_nvcc_smi_disagreement_explains_both_numbers() -> None:
    (finding,) = [f for f in compat.diagnose(state("Tesla T4", "525.147.05", nvcc="12.4.131"), today=TODAY)
                  if f.code == "nvcc-smi-minor"]
    assert "12.4" in finding.reason and "12.0" in finding.reason and "minor-version" in finding.reason


def test_invalid_value_points_at_the_wheel_when_it_leaves_out_the_gpu() -> None:
    st = state("Tesla V100-SXM2-16GB", "580.82.07", torch_cuda="13.0")
    (finding,) = compat.explain_error("CUDA_ERROR_INVALID_VALUE", st)
    assert "leaves out V100" in finding.reason and "cu126" in finding.fix


def test_oom_reports_gpu_memory() -> None:
    (finding,) = compat.explain_error("CUDA out of memory", state("Tesla T4", "580.82.07"))
    assert "16384 MiB" in finding.reason and "batch size" in finding.fix


@pytest.mark.parametrize("text,code", [
    ("no kernel image is available for execution on the device", "no-kernel-image"),
    ("CUDA driver version is insufficient for CUDA runtime version", "driver-insufficient"),
    ("Failed to initialize NVML: Driver/library version mismatch", "driver-library-mismatch"),
    ("CUDA_ERROR_NO_DEVICE", "no-device"),
    ("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "ptx-too-new"),
    ("segfault in my code", "unknown-error"),
])
def test_explain_error(text: str, code: str) -> None:
    assert code in codes(compat.explain_error(text))


def test_shipped_data_keeps_sources() -> None:
    t = compat.tables()
    assert all(tk.src.source and tk.src.verified for tk in t.toolkits)
    assert all(g.src.source for g in t.gpus)
    assert {535, 570, 580, 595} <= set(t.branches)
    assert t.branches[580].eol == date(2028, 6, 28)
