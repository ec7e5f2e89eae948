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


@pytest.mark.parametrize("version", ["2.12", "2.13", "2.14", "2.15"])
def test_tensorflow_2_12_to_2_15_on_h100_jit_their_compute_80_ptx_with_the_warning_tensorflow_prints(
        version: str) -> None:
    p = plan("H100", "tensorflow", version)  # tensorflow#60739 (2.14-dev), #62320 (2.15.0rc0) on H100
    assert p.status == "amber"
    f = by_code(p)["framework-ptx-jit"]
    assert "compute_80 PTX" in f.reason
    assert ("TensorFlow was not built with CUDA kernel binaries compatible with compute capability 9.0. CUDA kernels "
            "will be jit-compiled from PTX, which could take 30 minutes or longer.") in f.reason
    assert f.fix.startswith("use tensorflow 2.16.1 or newer with the cu123 build (the first with sm_90)")


def test_tensorflow_2_16_is_the_first_with_hopper_kernels_and_2_17_the_first_with_ada_kernels() -> None:
    assert plan("H100", "tensorflow", "2.16").status == "green"
    assert plan("H100", "tensorflow", "2.17").status == "green"
    l4_216 = plan("L4", "tensorflow", "2.16")
    assert l4_216.status == "green" and "its sm_80 kernels run on L4" in by_code(l4_216)["wheel-binary-compat"].reason
    l4_217 = plan("L4", "tensorflow", "2.17")
    assert l4_217.status == "green" and "wheel-binary-compat" not in by_code(l4_217)  # sm_89 SASS (2.17 notes)


def test_tensorflow_2_17_dropped_maxwell_and_the_fix_is_the_last_release_that_runs() -> None:
    assert plan("M60", "tensorflow", "2.16").status == "amber"  # end-of-line GPU, sm_50 SASS runs on sm_52
    p = plan("M60", "tensorflow", "2.17")
    assert p.status == "red" and p.wheel is None
    red = [f for f in p.findings if f.component == "framework" and f.status == "red"]
    assert [f.code for f in red] == ["framework-no-kernels"]  # one line, not a second generic one
    assert "cu123 carries sm_60 sm_70 sm_80 sm_89 sm_90 compute_90" in red[0].reason
    assert red[0].fix.startswith("use tensorflow 2.16.1 with the cu123 build (the newest whose kernels run on sm_52)")


def test_when_no_build_has_kernels_the_plan_shows_one_red_framework_line() -> None:
    p = plan("H100", version="1.13")
    assert [f.code for f in p.findings if f.component == "framework" and f.status == "red"] == [
        "framework-no-kernels"]
    assert by_code(p)["cuda-ok"].reason.endswith("(chosen from the driver alone: no pytorch 1.13 build fits)")
    pinned = plan("V100", version="2.14", cuda="13.0")  # cu130 has no Volta; cu126 would run
    red = [f for f in pinned.findings if f.component == "framework" and f.status == "red"]
    assert [f.code for f in red] == ["framework-no-kernels"]
    assert "cu130 carries" in red[0].reason and red[0].fix == 'set drivers.cuda = "12.6" (cu126 fits)'


def test_v100_is_planned_onto_a_build_that_still_has_volta_kernels() -> None:
    """cu128 had no sm_70 in 2.7, had it in 2.8-2.10 and dropped it again in 2.11 (pytorch#182250)."""
    assert plan("V100", version="2.11").wheel == "cu126"
    assert plan("V100", version="2.10").wheel == "cu128"
    p = plan("V100", version="2.11", cuda="12.8")
    assert p.wheel == "cu126" and p.cuda == "12.8"
    f = by_code(p)["wheel-nearest"]
    assert f.status == "amber"
    assert f.reason.startswith("pytorch 2.11's cu128 build has no kernels for V100 (sm_70): it carries sm_75 ")
    assert f.fix == "install the cu126 build (--index-url https://download.pytorch.org/whl/cu126)"


def test_every_framework_build_in_the_tables_has_its_kernel_list() -> None:
    """No release is planned green without its SASS/PTX being checked (TF 2.12-2.17 once were)."""
    for rel in compat.tables().frameworks:
        old = {"tensorflow": (2, 8), "pytorch": (1, 10)}.get(rel.framework, (0, 0))
        if compat.vtuple(rel.version)[:2] < old:
            continue
        for w in rel.wheels:
            arch = compat.build_arch(rel.framework, rel.version, w.variant)
            assert arch is not None, (rel.framework, rel.version, w.variant)
            assert arch.src.verified.startswith(("yes", "partial")), (rel.framework, rel.version, arch.src.verified)


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
                assert len([f for f in p.findings if f.component == "framework" and f.status == "red"]) <= 1, where
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
