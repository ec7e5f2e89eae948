"""The sizing notes that talk about speed say where their figures come from, and the fp32 note is right for PyTorch."""

from __future__ import annotations

from engine.inventory.sizing import (PEAK_DENSE_FP16_TFLOPS, RELATIVE_SPEED, Candidate, SourceShape, WorkloadSpec,
                                     recommend)


def _a100() -> list[Candidate]:
    return [Candidate(machine_type="a2-highgpu-1g", gpu_model="A100 40GB", gpu_count=1, gpu_memory_gib=40,
                      hourly_usd=3.67, region="us-central1")]


def test_relative_speed_is_the_ratio_of_datasheet_peaks() -> None:
    assert RELATIVE_SPEED["A100 40GB"] == PEAK_DENSE_FP16_TFLOPS["A100 40GB"] / 125.0
    assert "A10G" not in RELATIVE_SPEED  # no datasheet figure: no made-up ratio


def test_fp32_note_says_pytorch_matmuls_stay_fp32() -> None:
    res = recommend(WorkloadSpec(kind="training", params_billions=0.0256, precision="fp32"),
                    SourceShape(gpu_model="V100", gpu_count=1, gpu_memory_gib=16), _a100())
    reason = res.recommendations[0].reason
    assert "PyTorch (since 1.12) runs matmuls in full FP32" in reason
    assert "TF32 on Ampere and later by default" not in reason
    assert "2.5× the V100's peak dense FP16 tensor TFLOPS (datasheets; measure the real speed-up)" in reason
