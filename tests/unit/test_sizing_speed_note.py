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


def test_nothing_known_about_the_job_is_not_called_a_fit() -> None:
    """No model, no params_billions, no source GPU: no '0.0 GiB (0% of usable)', no 'slower than the source'."""
    t4 = Candidate(machine_type="n1-standard-8", gpu_model="T4", gpu_count=1, gpu_memory_gib=14.7, hourly_usd=0.73,
                   region="us-central1")
    res = recommend(WorkloadSpec(kind="training"), SourceShape(), _a100() + [t4])
    reasons = {r.gpu_model: r for r in res.recommendations}
    assert all("whether the job fits is not known" in r.reason and "hold 0.0 GiB" not in r.reason
               for r in res.recommendations)
    assert reasons["T4"].warnings == ["T4 is an inference GPU: training on it is several times slower than on a "
                                      "training GPU"]


def test_a_near_equal_speed_is_said_as_about_with_the_ratio() -> None:
    # A V100 source's L4 (0.97x) read "...; the V100's peak dense FP16 tensor TFLOPS (datasheets)": no figure.
    l4 = Candidate(machine_type="g2-standard-4", gpu_model="L4", gpu_count=1, gpu_memory_gib=22.35,
                   region="us-central1", hourly_usd=0.71)
    res = recommend(WorkloadSpec(kind="training", params_billions=0.0256, precision="bf16"),
                    SourceShape(gpu_model="V100", gpu_count=1, gpu_memory_gib=15.78), [l4])
    assert "about the V100's peak dense FP16 tensor TFLOPS (0.97×, datasheets)" in res.recommendations[0].reason


def test_an_fp32_job_is_told_the_fp16_peaks_are_not_its_speed() -> None:
    """The reference case trains ResNet-50 in fp32 and the ranking estimated an H100 at 7.9x a V100 from FP16
    tensor peaks, a path fp32 never takes (a V100 runs fp32 on CUDA cores; PyTorch keeps matmuls in FP32)."""
    fp32 = recommend(WorkloadSpec(kind="training", params_billions=0.0256, precision="fp32"),
                     SourceShape(gpu_model="V100", gpu_count=1, gpu_memory_gib=16), _a100(), source_hours=8.2)
    assert "the workload is fp32, which no FP16 tensor path runs" in fp32.ranking
    bf16 = recommend(WorkloadSpec(kind="training", params_billions=0.0256, precision="bf16"),
                     SourceShape(gpu_model="V100", gpu_count=1, gpu_memory_gib=16), _a100(), source_hours=8.2)
    assert "no FP16 tensor path" not in bf16.ranking
