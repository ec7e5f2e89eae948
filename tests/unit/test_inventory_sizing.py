"""Sizing: the memory arithmetic and the target ranking, over hand-made candidate shapes."""

from __future__ import annotations

import pytest

from engine.inventory.sizing import (
    GIB,
    Candidate,
    SourceShape,
    WorkloadSpec,
    estimate_memory,
    gcp_nvlink,
    normalize_gpu_model,
    recommend,
)


def shapes() -> list[Candidate]:
    rows = [
        ("a2-highgpu-1g", "A100 40GB", 1, 40, 3.67), ("a2-highgpu-2g", "A100 40GB", 2, 40, 7.35),
        ("a2-highgpu-8g", "A100 40GB", 8, 40, 29.39), ("a2-ultragpu-1g", "A100 80GB", 1, 80, 5.07),
        ("a2-ultragpu-8g", "A100 80GB", 8, 80, 40.55), ("a3-highgpu-1g", "H100", 1, 80, 10.98),
        ("a3-highgpu-8g", "H100", 8, 80, 87.83), ("a3-ultragpu-8g", "H200", 8, 141, 86.76),
        ("g2-standard-4", "L4", 1, 24, 0.71), ("g2-standard-8", "L4", 1, 24, 0.85),
        ("g2-standard-96", "L4", 8, 24, 8.0), ("n1-standard-8", "T4", 1, 16, 0.73),
        ("n1-standard-64", "T4", 4, 16, 2.92),
    ]
    return [Candidate(machine_type=m, gpu_model=g, gpu_count=n, gpu_memory_gib=mem, hourly_usd=usd,
                      region="us-central1") for m, g, n, mem, usd in rows]


def test_training_16_bytes_per_param_with_arithmetic() -> None:
    est = estimate_memory(WorkloadSpec(kind="training", params_billions=1.0, precision="bf16"))
    assert est.components_gib["weights"] == pytest.approx(2e9 / GIB, abs=1e-3)
    assert est.components_gib["gradients"] == pytest.approx(2e9 / GIB, abs=1e-3)
    assert est.components_gib["optimizer"] == pytest.approx(12e9 / GIB, abs=1e-3)
    assert est.static_gib == pytest.approx(16e9 / GIB, abs=1e-3)
    assert est.total_gib == pytest.approx(16e9 * 1.1 / GIB, abs=1e-3)  # +10% overhead
    assert "16 bytes/parameter" in est.rule
    assert any("1,000,000,000 params × 12 B" in line for line in est.lines)
    assert not est.activations_known and est.required_per_gpu_gib == est.total_gib


def test_fp32_training_splits_4_4_8() -> None:
    est = estimate_memory(WorkloadSpec(kind="training", params_billions=0.5, precision="fp32"))
    assert est.components_gib["weights"] == pytest.approx(2e9 / GIB, abs=1e-3)
    assert est.components_gib["optimizer"] == pytest.approx(4e9 / GIB, abs=1e-3)
    assert est.static_gib == pytest.approx(8e9 / GIB, abs=1e-3)


def test_transformer_activations_34sbhL() -> None:
    # 7B: L = round((7e9 / (12·128²))^(1/3)) = 33, h = int(sqrt(7e9 / (12·33))) = 4204
    est = estimate_memory(WorkloadSpec(kind="training", params_billions=7, precision="bf16", batch_size=1,
                                       seq_len=2048))
    expected = 34 * 2048 * 1 * 4204 * 33
    assert est.components_gib["activations"] == pytest.approx(expected / GIB, abs=1e-3)
    assert any("L=33 layers, h=4204" in line for line in est.lines)
    total = (7e9 * 16 + expected) * 1.1
    assert est.total_gib == pytest.approx(total / GIB, abs=1e-3)
    assert est.activations_known


def test_inference_weights_kv_cache_and_buffers() -> None:
    est = estimate_memory(WorkloadSpec(kind="inference", params_billions=7, precision="fp16", batch_size=8,
                                       seq_len=4096))
    kv = 2 * 33 * 4204 * 4096 * 8 * 2
    weights = 7e9 * 2
    assert est.components_gib["kv_cache"] == pytest.approx(kv / GIB, abs=1e-3)
    assert est.components_gib["activations"] == pytest.approx(0.2 * weights / GIB, abs=1e-3)
    assert est.total_gib == pytest.approx((weights * 1.2 + kv) * 1.1 / GIB, abs=1e-3)
    int4 = estimate_memory(WorkloadSpec(kind="inference", params_billions=7, precision="int4"))
    assert int4.components_gib["weights"] == pytest.approx(3.5e9 / GIB, abs=1e-3)


def test_unknown_activations_keep_the_source_memory_as_the_floor() -> None:
    est = estimate_memory(WorkloadSpec(kind="training", params_billions=0.0256, precision="fp16"), 16)
    assert est.total_gib is not None and est.total_gib < 1
    assert est.required_per_gpu_gib == 16
    assert "fits in today" in est.lines[-1]
    none = estimate_memory(WorkloadSpec(kind="training"), 16)
    assert none.total_gib is None and none.required_per_gpu_gib == 16


def test_v100_training_goes_to_a100_then_l4_then_t4() -> None:
    res = recommend(WorkloadSpec(kind="training", params_billions=0.0256, precision="fp16"),
                    SourceShape(gpu_model="V100", gpu_count=1, gpu_memory_gib=16), shapes())
    assert [r.machine_type for r in res.recommendations] == ["a2-highgpu-1g", "g2-standard-4", "n1-standard-8"]
    best = res.best
    assert best is not None and "V100 → A100 40GB" in best.reason and "1 GPU like the source" in best.reason
    t4 = res.recommendations[2]
    assert any("inference GPU" in w for w in t4.warnings) and any("little headroom" in w for w in t4.warnings)


def test_v100_inference_prefers_l4() -> None:
    res = recommend(WorkloadSpec(kind="inference", params_billions=1, precision="fp16"),
                    SourceShape(gpu_model="V100", gpu_count=1, gpu_memory_gib=16), shapes())
    assert res.recommendations[0].gpu_model == "L4"
    assert res.recommendations[0].machine_type == "g2-standard-4"  # cheapest 1-GPU L4


def test_memory_rules_out_small_gpus() -> None:
    # 13B bf16 inference: 26 GB weights -> not on one L4 (24) nor T4; one A100 40GB holds it
    res = recommend(WorkloadSpec(kind="inference", params_billions=13, precision="bf16"),
                    SourceShape(gpu_model="V100", gpu_count=1, gpu_memory_gib=16), shapes())
    assert [(r.machine_type, r.sharded) for r in res.recommendations] == [
        ("a2-highgpu-1g", False), ("g2-standard-96", True), ("n1-standard-64", True)]
    assert all(any("8 GPUs where the source has 1" in w or "4 GPUs where" in w for w in r.warnings)
               for r in res.recommendations[1:])


def test_8x_a100_nvlink_host_maps_to_8_gpu_nvlink_shapes() -> None:
    src = SourceShape(gpu_model="A100 40GB", gpu_count=8, gpu_memory_gib=40, all_nvlink=True, nvswitch=True,
                      topology_label="NV12")
    res = recommend(WorkloadSpec(kind="training", params_billions=7, precision="bf16", batch_size=1, seq_len=2048),
                    src, shapes())
    models = [(r.machine_type, r.sharded) for r in res.recommendations]
    # 7B needs ~ 128 GiB unsharded: only sharded over 8 GPUs
    assert models[0] == ("a2-highgpu-8g", True)
    assert ("a3-highgpu-8g", True) in models
    assert all(r.gpu_count == 8 for r in res.recommendations)
    assert all("NVLink between all GPUs" in r.reason for r in res.recommendations)
    assert "FSDP" in res.recommendations[0].reason


def test_topology_that_cannot_be_matched_is_warned() -> None:
    src = SourceShape(gpu_model="V100", gpu_count=8, gpu_memory_gib=16, all_nvlink=True, topology_label="NV1")
    cands = [c for c in shapes() if c.gpu_model in ("L4", "T4")]
    res = recommend(WorkloadSpec(kind="inference", params_billions=1, precision="fp16"), src, cands)
    assert [r.machine_type for r in res.recommendations] == ["g2-standard-96"]
    assert any("no NVLink" in w for w in res.recommendations[0].warnings)
    assert any("T4 (at most 4 per machine)" in w for w in res.warnings)
    assert any("no recommended shape matches" in w for w in res.warnings)


def test_mig_source_warns_per_target() -> None:
    src = SourceShape(gpu_model="H100", gpu_count=1, gpu_memory_gib=80, mig_profiles=["3g.40gb", "1g.10gb"])
    res = recommend(WorkloadSpec(kind="inference", params_billions=7, precision="fp16"), src, shapes())
    assert res.best is not None and res.best.machine_type == "a3-highgpu-1g"
    assert any("re-create the profiles" in w for w in res.best.warnings)


def test_region_filter_and_unknown_source() -> None:
    cands = shapes() + [Candidate(machine_type="a2-highgpu-1g", gpu_model="A100 40GB", gpu_count=1,
                                  gpu_memory_gib=40, region="europe-west4", hourly_usd=4.0)]
    res = recommend(WorkloadSpec(kind="training", params_billions=1, precision="bf16"), SourceShape(), cands,
                    region="europe-west4")
    assert [r.region for r in res.recommendations] == ["europe-west4"]
    assert any("source GPU model unknown" in w for w in res.warnings)
    res2 = recommend(WorkloadSpec(), SourceShape(gpu_model="A100 40GB"), shapes(), region="asia-south1")
    assert any("no GPU shapes listed for asia-south1" in w for w in res2.warnings)


def test_nothing_fits() -> None:
    res = recommend(WorkloadSpec(kind="training", params_billions=500, precision="bf16"),
                    SourceShape(gpu_model="A100 40GB", gpu_count=1, gpu_memory_gib=40), shapes())
    assert res.recommendations == [] and any("no catalog shape fits" in w for w in res.warnings)


@pytest.mark.parametrize("name, mem, expected", [
    ("Tesla V100-SXM2-16GB", None, "V100"), ("Tesla V100-SXM2-32GB", None, "V100 32GB"),
    ("NVIDIA A100-SXM4-40GB", None, "A100 40GB"), ("NVIDIA A100-SXM4-80GB", None, "A100 80GB"),
    ("A100", 40, "A100 40GB"), ("A100", 80, "A100 80GB"), ("NVIDIA H100 80GB HBM3", None, "H100"),
    ("H100 80GB Mega", None, "H100"), ("H200 141GB", None, "H200"), ("Tesla T4", None, "T4"),
    ("NVIDIA L4", None, "L4"), ("NVIDIA A10G", None, "A10G"), ("B200 180GB", None, "B200"), (None, None, None),
])
def test_normalize_gpu_model(name: str | None, mem: float | None, expected: str | None) -> None:
    assert normalize_gpu_model(name, mem) == expected


def test_gcp_nvlink_by_family() -> None:
    assert gcp_nvlink("a2-highgpu-8g", 8) and gcp_nvlink("a3-highgpu-2g", 2)
    assert not gcp_nvlink("a2-highgpu-1g", 1) and not gcp_nvlink("g2-standard-96", 8)
    assert not gcp_nvlink("n1-standard-64", 8)
