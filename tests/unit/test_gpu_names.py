"""The one GPU-name matcher and the MIG profile parser, against real names (origins in the fixture)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from engine.drivers import compat
from engine.gpus.mig import parse_mig_profile
from engine.gpus.names import gpu_spec, match_gpu, same_gpu, specs

FIXTURE = Path(__file__).parents[1] / "fixtures" / "gpu_names" / "names.csv"


def _rows() -> list[tuple[str, float | None, str | None]]:
    lines = [line for line in FIXTURE.read_text().splitlines() if not line.startswith("#")]
    return [(r["name"], float(r["memory_mib"]) if r["memory_mib"] else None, r["key"] or None)
            for r in csv.DictReader(lines)]


@pytest.mark.parametrize("name,memory_mib,key", _rows())
def test_real_names_match(name: str, memory_mib: float | None, key: str | None) -> None:
    assert match_gpu(name, memory_mib) == key


def test_every_nvidia_gpu_in_the_recorded_ec2_instance_types_is_known() -> None:
    import moto

    path = Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz"
    data = json.loads(gzip.decompress(path.read_bytes()))
    seen = {(g["Name"], g["MemoryInfo"]["SizeInMiB"]) for t in data.values() if t.get("GpuInfo")
            for g in t["GpuInfo"]["Gpus"] if g["Manufacturer"] == "NVIDIA"}
    assert ("A100", 81920) in seen
    unknown = sorted(name for name, mib in seen if match_gpu(name, mib) is None)
    assert unknown == ["RTX PRO 4500"]  # not in the table: reported as unknown, never guessed
    assert match_gpu("A100", 81920) == "A100 80GB" and match_gpu("A100", 40960) == "A100 40GB"


def test_same_gpu_by_key_family_or_whole_tokens() -> None:
    assert same_gpu("NVIDIA A100-SXM4-80GB", "A100") and same_gpu("NVIDIA A100-SXM4-80GB", "A100 80GB")
    assert not same_gpu("NVIDIA A100-SXM4-80GB", "A100 40GB")
    assert same_gpu("NVIDIA H100 NVL", "H100") and not same_gpu("NVIDIA H100 80GB HBM3", "H100 NVL")
    assert not same_gpu("NVIDIA L40S", "L4") and not same_gpu("NVIDIA A100 80GB PCIe", "A10")
    assert same_gpu("NVIDIA H100 80GB HBM3 MIG 3g.40gb", "H100")
    # names the matcher does not know: whole tokens, never substrings
    assert same_gpu("NVIDIA GeForce RTX 4090", "RTX 4090") and not same_gpu("NVIDIA GeForce RTX 4090", "RTX 409")
    assert not same_gpu("NVIDIA GeForce RTX 4090", "L4")


def test_drivers_use_the_same_matcher() -> None:
    # the old drivers matcher sent every "...6000..." to Blackwell and did not know V100S; each now has its own
    # sourced row (compute capability from developer.nvidia.com/cuda-gpus), as do A30 and H20
    for name, model, sm in [("NVIDIA RTX A6000", "RTX A6000", 86), ("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", 89),
                            ("NVIDIA A30", "A30", 80), ("NVIDIA H20", "H20", 90)]:
        gpu = compat.gpu_info(name)
        assert gpu is not None and (gpu.model, gpu.sm) == (model, sm), name
    assert match_gpu("NVIDIA H20", 97871) == "H20" and match_gpu("NVIDIA H200") == "H200"
    assert all(s.drivers_row for s in specs().values())  # every GPU sizing knows, the drivers module knows
    blackwell = compat.gpu_info("NVIDIA RTX PRO 6000 Blackwell Server Edition")
    assert blackwell is not None and blackwell.sm == 120
    v100s = compat.gpu_info("Tesla V100S-PCIE-32GB")
    assert v100s is not None and v100s.model == "V100"
    l40 = compat.gpu_info("NVIDIA L40")
    assert l40 is not None and l40.sm == 89


def test_specs_usable_memory_is_the_recorded_total() -> None:
    recorded = {"T4": 15095, "L4": 22888, "A100 40GB": 40960, "A100 80GB": 81920, "H100": 81559,
                "H200": 143771, "L40S": 46068}
    assert {k: specs()[k].usable_mib for k in recorded} == recorded
    nvl = gpu_spec("NVIDIA H100 NVL")
    assert nvl is not None and nvl.nominal_gb == 94 and nvl.usable_gib > 90
    t4 = gpu_spec("T4")
    assert t4 is not None and t4.usable_gib < 15 and not t4.at_least("Ampere")
    h100 = gpu_spec("H100")
    assert h100 is not None and h100.at_least("Hopper") and h100.mig


@pytest.mark.parametrize("text,instance,ci,suffixes,printed", [
    ("NVIDIA H100 80GB HBM3 MIG 3g.40gb", "3g.40gb", None, (), "3g.40gb"),
    ("1c.3g.71gb", "3g.71gb", 1, (), "1c.3g.71gb"),           # mig-parted config on an H100 NVL (1c.3g.71gb: 1)
    ("NVIDIA H100 NVL MIG 1c.3g.47gb", "3g.47gb", 1, (), "1c.3g.47gb"),
    ("MIG 1g.24gb+me.all", "1g.24gb", None, ("+me.all",), "1g.24gb+me.all"),  # RTX PRO 6000 (MIG user guide)
    ("MIG 1g.24gb-me", "1g.24gb", None, ("-me",), "1g.24gb-me"),
    ("MIG 2g.48gb+gfx", "2g.48gb", None, ("+gfx",), "2g.48gb+gfx"),
    ("NVIDIA A100-SXM4-80GB MIG 1g.10gb+me", "1g.10gb", None, ("+me",), "1g.10gb+me"),
])
def test_mig_profiles(text: str, instance: str, ci: int | None, suffixes: tuple[str, ...], printed: str) -> None:
    p = parse_mig_profile(text)
    assert p is not None
    assert (p.gpu_instance, p.compute_slices, p.suffixes, p.text) == (instance, ci, suffixes, printed)


def test_not_a_mig_profile() -> None:
    assert parse_mig_profile("NVIDIA A100-SXM4-40GB") is None and parse_mig_profile(None) is None
