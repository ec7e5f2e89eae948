"""The NVML fake checked against values recorded on real hardware, and the GPU check run on them.

``tests/fixtures/nvml/real_values.csv`` holds values read from real ``nvidia-smi`` captures
(H100 SXM, H100 with MIG, H200, L40S; see its origin line).  The fake's reconstructed H100
MIG host must agree with the real one wherever both say something.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from engine.inventory.nvml import read_host
from engine.verify.checks import gpu_health
from engine.verify.checks.base import run_check
from tests.conftest import FIXTURES
from tests.nvml_fake import FakeNvml, load_host_data
from tests.verify_support import context

MiB = 1024 * 1024


def real_values() -> dict[str, dict[str, str]]:
    lines = (FIXTURES / "nvml" / "real_values.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# origin: facts read from REAL nvidia-smi captures")
    return {row["capture"]: row for row in csv.DictReader(line for line in lines if not line.startswith("#"))}


def test_the_h100_mig_fake_agrees_with_the_real_h100_mig_capture() -> None:
    real = real_values()["h100_mig_590"]
    host = read_host(api=FakeNvml(load_host_data("h100_mig")))
    (gpu,) = host.gpus
    assert gpu.name == real["name"]
    assert gpu.memory_total_bytes // MiB == int(real["memory_total_mib"])
    assert gpu.compute_capability == real["compute_cap"]
    assert (gpu.pcie_gen_max, gpu.pcie_width_max) == (int(real["pcie_gen_max"]), int(real["pcie_width_max"]))
    assert gpu.power_limit_w == pytest.approx(float(real["power_limit_w"]))
    assert gpu.persistence_mode is (real["persistence"] == "Enabled")
    assert gpu.mig_mode_current is (real["mig_mode"] == "Enabled")
    want = [tuple(d.split(":")) for d in real["mig_devices"].split(";")]
    got = [(m.profile, str(m.gpu_instance_id), str(m.memory_total_bytes // MiB)) for m in gpu.mig_instances]
    assert got == want
    assert (gpu.remapped_rows is None) is (real["remapped_rows"] == "N/A")  # NOT_SUPPORTED while MIG is on


def _host_from_real(row: dict[str, str]) -> dict[str, Any]:
    """A FakeNvml host holding a real capture's values (idle counters where the capture has none)."""
    major, minor = (int(p) for p in row["compute_cap"].split("."))
    cuda_major, cuda_minor = (int(p) for p in row["cuda"].split("."))
    return {
        "_meta": {"recorded": False, "source": f"values from real_values.csv row {row['capture']}"},
        "system": {"driver_version": row["driver"], "cuda_driver_version": cuda_major * 1000 + cuda_minor * 10,
                   "nvml_version": f"{cuda_major}.{row['driver']}"},
        "gpus": [{
            "name": row["name"], "uuid": "GPU-00000000-0000-0000-0000-000000000000",
            "memory_info": [int(row["memory_total_mib"]) * MiB, 0], "cuda_compute_capability": [major, minor],
            "pci_bus_id": "00000000:00:09.0",
            "pcie_link": [int(row["pcie_gen_max"]), int(row["pcie_gen_max"]), int(row["pcie_width_max"]),
                          int(row["pcie_width_max"])],
            "persistence_mode": 1 if row["persistence"] == "Enabled" else 0,
            "mig_mode": None if row["mig_mode"] == "N/A" else [int(row["mig_mode"] == "Enabled")] * 2,
            "mig_devices": [], "ecc_mode": [1, 1],
            "total_ecc_errors": {"volatile_corrected": 0, "volatile_uncorrected": 0, "aggregate_corrected": 0,
                                 "aggregate_uncorrected": 0},
            "retired_pages": None, "retired_pages_pending": None,
            "remapped_rows": None if row["remapped_rows"] == "N/A" else [0, 0, 0, 0],
            "clocks_event_reasons": 1, "temperature": 40, "power_usage": 80_000,
            "power_limit": int(float(row["power_limit_w"]) * 1000), "utilization": [0, 0], "numa_node": 0,
            "cpu_affinity": [255, 0, 0, 0], "nvlinks": [],
        }],
    }


@pytest.mark.parametrize("capture,model,ok", [
    ("h200_590", "H200", True),
    ("h100_sxm_590", "H100", True),
    ("l40s_595", "L40S", False),  # the real L40S host ran with persistence mode off
])
def test_the_gpu_check_on_real_hosts(tmp_path: Path, capture: str, model: str, ok: bool) -> None:
    row = real_values()[capture]
    ctx = context(tmp_path, nvml_api=FakeNvml(_host_from_real(row)), gpu_count=1, gpu_model=model,
                  gpu={"pcie_gen": int(row["pcie_gen_max"]), "pcie_width": 16})
    result = run_check(gpu_health, ctx, None)
    assert (result.status == "pass") is ok, (result.summary, result.details)
    if not ok:
        assert any("persistence" in d.lower() for d in result.details)
