"""The breaks people hit, by hand, and every (GPU family x CUDA x framework release) pair the data can answer.

The generated part walks the shipped tables themselves, so a new row is covered
the day it lands; it asserts the rules (a green plan really runs), not a copy of
the answers.
"""

from __future__ import annotations

from datetime import date

import pytest

from engine.drivers import compat

TODAY = date(2026, 11, 23)


def plan(gpu: str, framework: str = "pytorch", version: str | None = None, branch: str | None = None,
         cuda: str | None = None) -> compat.Plan:
    return compat.recommend(gpu, "ubuntu-2204", framework, version, branch, cuda, today=TODAY)


def by_code(p: compat.Plan) -> dict[str, compat.Finding]:
    return {f.code: f for f in p.findings}


# --- the known breaks, written out -------------------------------------------------------------------


def test_h100_with_cuda_11_7_is_red_because_11_7_cannot_build_for_sm_90() -> None:
    p = plan("H100", cuda="11.7")
    assert p.status == "red"
    f = by_code(p)["cuda-predates-gpu"]
    assert f.status == "red" and "its newest target is sm_86" in f.reason and "CUDA 11.8 is the first" in f.reason
    assert "no kernel image is available for execution on the device" in f.reason
    assert f.fix.startswith('set drivers.cuda = "11.8"')
    assert "cuda-ok" not in by_code(p)  # never "driver supports CUDA 11.7 natively" as the verdict


def test_h100_with_pytorch_1_13_is_red_with_the_message_users_see_and_the_fix() -> None:
    p = plan("NVIDIA H100 80GB HBM3", version="1.13")
    assert p.status == "red" and p.wheel is None
    f = by_code(p)["framework-no-kernels"]
    assert "cu117 carries sm_37 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86" in f.reason
    assert ("with CUDA capability sm_90 is not compatible with the current PyTorch installation. The current "
            "PyTorch install supports CUDA capabilities sm_37 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86.") in f.reason
    assert "no kernel image is available for execution on the device" in f.reason
    assert f.fix.startswith("use pytorch 2.0 or newer with the cu118 build (the first with sm_90)")


def test_h100_pytorch_1_13_pinned_to_cuda_11_7_names_both_breaks() -> None:
    codes = {f.code for f in plan("H100", version="1.13", cuda="11.7").findings if f.status == "red"}
    assert {"framework-no-kernels", "cuda-predates-gpu"} <= codes


def test_l4_with_cuda_11_7_is_amber_through_binary_compatibility_from_sm_86() -> None:
    p = plan("L4", version="1.13", cuda="11.7")
    assert p.status == "amber" and p.wheel == "cu117" and p.cuda == "11.7"
    f = by_code(p)["cuda-binary-compat"]
    assert f.status == "amber"
    assert "its sm_86 builds run on it through binary compatibility (a cubin for 8.6 runs on 8.9)" in f.reason
    assert by_code(p)["wheel-binary-compat"].status == "green"  # PyTorch's own Ada path: sm_86 kernels


def test_a100_with_a_cu102_wheel_has_no_kernels() -> None:
    p = plan("A100 40GB", version="1.10", cuda="10.2")
    assert p.status == "red"
    assert "sm_37 sm_50 sm_60 sm_70" in by_code(p)["framework-no-kernels"].reason


def test_tensorflow_2_8_on_hopper_runs_only_through_ptx_jit() -> None:
    p = plan("H100", "tensorflow", "2.8")
    f = by_code(p)["framework-ptx-jit"]
    assert f.status == "amber" and "compute_80 PTX" in f.reason
    assert p.status == "amber"


def test_driver_below_the_runtime_minimum_is_red() -> None:
    p = plan("A100 40GB", version="2.4", branch="470.82.01", cuda="12.1")
    red = {f.code for f in p.findings if f.status == "red"}
    assert "driver-too-old-for-cuda" in red
    assert "CUDA 12.1 needs >= 530" in by_code(p)["driver-too-old-for-cuda"].reason


def test_driver_past_the_gpus_last_branch_is_red() -> None:
    p = plan("P100", version="2.4", branch="590")
    assert by_code(p)["driver-drops-gpu"].status == "red" and "after R580" in by_code(p)["driver-drops-gpu"].reason


def test_every_framework_the_issue_names_is_in_the_tables() -> None:
    releases = {(f.framework, f.version) for f in compat.tables().frameworks}
    assert {("pytorch", v) for v in ("1.10", "1.11", "1.12", "1.13", "2.0")} <= releases
    assert {("tensorflow", v) for v in ("2.8.0", "2.9.0", "2.10.0", "2.11.0")} <= releases
    assert any(fw == "jax" for fw, _ in releases)
    for arch in compat.tables().build_arch:  # every arch row says where it came from
        assert arch.src.source and arch.src.verified


# --- generated from the data: every GPU family x CUDA x framework release ----------------------------


def _families() -> list[compat.Gpu]:
    seen: dict[str, compat.Gpu] = {}
    for gpu in compat.tables().gpus:
        if gpu.sm >= 30:  # Fermi's "sm_2x" row is a name match only
            seen.setdefault(gpu.family, gpu)
    return list(seen.values())


def test_every_pair_the_data_can_answer_obeys_the_rules() -> None:
    pairs = 0
    for gpu in _families():
        for cuda in compat.known_toolkits():
            for rel in compat.tables().frameworks:
                p = plan(gpu.model, rel.framework, rel.version, None, compat.mm_str(cuda))
                pairs += 1
                where = f"{gpu.model} + CUDA {compat.mm_str(cuda)} + {rel.framework} {rel.version}"
                for f in p.findings:
                    assert f.reason, where
                    if f.status == "red":
                        assert f.fix, (where, f.code)
                cross_major = (gpu.first_cuda is not None and cuda < gpu.first_cuda
                               and (compat.toolkit_max_sm(cuda) or 0) // 10 != gpu.sm // 10)
                if cross_major:  # a toolkit that cannot reach the GPU's architecture is never acceptable
                    assert p.status == "red", (where, [(f.status, f.code) for f in p.findings])
                if not compat.gpu_supports_cuda(gpu, cuda):
                    assert p.status == "red", where
                archs = [compat.build_arch(rel.framework, rel.version, w.variant) for w in rel.wheels]
                if archs and all(a is not None and a.runs_on(gpu.sm)[0] == "none" for a in archs):
                    assert "framework-no-kernels" in by_code(p), where
                if p.status == "green":
                    assert gpu.first_cuda is None or cuda >= gpu.first_cuda, where
                    assert compat.driver_runs_cuda(compat.plan_driver(p), cuda).ok, where
                    if p.wheel:
                        arch = compat.build_arch(rel.framework, rel.version, p.wheel)
                        assert arch is None or arch.runs_on(gpu.sm)[0] in ("native", "binary") or (
                            rel.framework == "jax"), where
    assert pairs == len(_families()) * len(compat.known_toolkits()) * len(compat.tables().frameworks)
    assert pairs > 10_000
