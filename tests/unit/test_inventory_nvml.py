"""NVML inventory through the fake at the seam: three recorded hosts, two faulty ones, no driver."""

from __future__ import annotations

import json

import pytest

from engine.inventory.nvml import (
    GpuHost,
    NvmlError,
    PynvmlApi,
    cpu_list,
    cuda_version_text,
    read_host,
    record_raw,
)
from tests.nvml_fake import HOSTS, FakeNvml, load_host_data, no_driver_data

GIB = 2**30


def test_v100_host() -> None:
    fake = FakeNvml.from_fixture("v100_host")
    host = read_host(api=fake)
    assert host.available and host.reason is None
    assert (host.driver_version, host.cuda_driver_version, host.nvml_version) == ("535.183.01", "12.2", "12.535.183.01")
    [gpu] = host.gpus
    assert gpu.name == "Tesla V100-SXM2-16GB" and gpu.compute_capability == "7.0"
    assert gpu.memory_total_bytes == 16160 * 2**20 and gpu.memory_used_bytes == 0
    assert gpu.pci_bus_id == "00000000:00:1E.0"
    assert (gpu.pcie_gen_current, gpu.pcie_gen_max, gpu.pcie_width_current, gpu.pcie_width_max) == (3, 3, 16, 16)
    assert gpu.persistence_mode is True and gpu.ecc_mode_current is True
    # Volta has no MIG and no row remapping: None, not an exception and not a note
    assert gpu.mig_mode_current is None and gpu.mig_instances == [] and gpu.remapped_rows is None
    assert gpu.retired_pages_single_bit == 0 and gpu.retired_pages_double_bit == 0 and gpu.retired_pages_pending is False
    assert gpu.clock_event_reasons == ["gpu_idle"] and gpu.bad_clock_event_reasons == []
    assert gpu.power_draw_w == pytest.approx(24.131) and gpu.power_limit_w == 300
    assert gpu.nvlink_active == 0 and gpu.cpu_affinity == "0-7" and gpu.numa_node == 0
    assert gpu.notes == []
    assert host.topology.matrix == [["X"]] and not host.topology.all_nvlink
    assert fake.inits == 1 and fake.shutdowns == 1


def test_a100_8x_nvswitch_topology() -> None:
    host = read_host(api=FakeNvml.from_fixture("a100_8x_nvlink"))
    assert len(host.gpus) == 8 and {g.name for g in host.gpus} == {"NVIDIA A100-SXM4-40GB"}
    topo = host.topology
    assert topo.labels == [f"GPU{i}" for i in range(8)]
    assert topo.nvswitch and topo.all_nvlink
    for i in range(8):
        for j in range(8):
            assert topo.matrix[i][j] == ("X" if i == j else "NV12")
    assert topo.numa_nodes == [0, 0, 0, 0, 1, 1, 1, 1]
    assert topo.cpu_affinity[0] == "0-23,48-71" and topo.cpu_affinity[7] == "24-47,72-95"
    assert all(g.nvlink_active == 12 for g in host.gpus)
    assert all(g.remapped_rows is not None and not g.remapped_rows.pending for g in host.gpus)
    assert all(g.retired_pages_single_bit is None for g in host.gpus)  # Ampere: row remapping instead
    text = topo.render()
    assert text.splitlines()[0].split()[:3] == ["GPU0", "GPU1", "GPU2"]
    assert "NV12" in text.splitlines()[1]


def test_a100_without_nvlink_falls_back_to_pcie_levels() -> None:
    data = load_host_data("a100_8x_nvlink")
    for gpu in data["gpus"]:
        gpu["nvlinks"] = [{"state": 0, "remote_pci_bus_id": None}] * 12
    topo = read_host(api=FakeNvml(data)).topology
    assert topo.matrix[0][1] == "PXB" and topo.matrix[0][2] == "NODE" and topo.matrix[0][4] == "SYS"
    assert topo.matrix[5][4] == "PXB" and not topo.all_nvlink and not topo.nvswitch


def test_direct_gpu_to_gpu_nvlinks_are_counted_per_pair() -> None:
    data = load_host_data("a100_8x_nvlink")
    gpus = data["gpus"][:2]
    data["gpus"] = gpus
    data["topology_common_ancestor"] = [[0, 20], [20, 0]]
    gpus[0]["nvlinks"] = [{"state": 1, "remote_pci_bus_id": "0000:10:1d.0"}] * 4 + [{"state": 0}] * 8
    gpus[1]["nvlinks"] = [{"state": 1, "remote_pci_bus_id": "00000000:10:1C.0"}] * 4 + [{"state": 0}] * 8
    topo = read_host(api=FakeNvml(data)).topology
    assert topo.matrix == [["X", "NV4"], ["NV4", "X"]] and not topo.nvswitch


def test_h100_mig_instances() -> None:
    host = read_host(api=FakeNvml.from_fixture("h100_mig"))
    [gpu] = host.gpus
    assert gpu.name == "NVIDIA H100 80GB HBM3" and gpu.compute_capability == "9.0"
    assert gpu.memory_total_bytes == 81559 * 2**20 and host.cuda_driver_version == "12.4"
    assert gpu.pcie_gen_max == 5 and gpu.power_limit_w == 700
    assert gpu.mig_mode_current is True and gpu.mig_mode_pending is True
    assert [m.profile for m in gpu.mig_instances] == ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"]
    assert [m.gpu_instance_id for m in gpu.mig_instances] == [2, 3, 9, 10]
    assert all(m.uuid and m.uuid.startswith("MIG-") for m in gpu.mig_instances)
    assert gpu.mig_instances[0].memory_total_bytes == 40448 * 2**20  # as the real H100 MIG capture shows
    assert gpu.utilization_gpu_pct is None  # not supported under MIG
    assert gpu.notes == []


def test_faulty_a100_health_fields() -> None:
    [gpu] = read_host(api=FakeNvml.from_fixture("a100_faulty")).gpus
    assert gpu.ecc.volatile_uncorrected == 2 and gpu.ecc.aggregate_uncorrected == 3
    assert gpu.ecc.volatile_corrected == 17 and gpu.ecc.aggregate_corrected == 240
    assert gpu.remapped_rows is not None
    assert gpu.remapped_rows.pending is True and gpu.remapped_rows.uncorrected == 2 and not gpu.remapped_rows.failure
    assert gpu.bad_clock_event_reasons == ["sw_thermal_slowdown", "hw_thermal_slowdown"]
    assert gpu.clock_event_mask == 0x60 and gpu.temperature_c == 91


def test_faulty_v100_retired_pages() -> None:
    [gpu] = read_host(api=FakeNvml.from_fixture("v100_faulty")).gpus
    assert gpu.retired_pages_double_bit == 2 and gpu.retired_pages_single_bit == 1
    assert gpu.retired_pages_pending is True
    assert gpu.bad_clock_event_reasons == ["hw_slowdown", "sw_thermal_slowdown"]
    assert gpu.ecc.volatile_uncorrected == 1


@pytest.mark.parametrize("code, words", [(12, "libnvidia-ml.so.1"), (9, "kernel driver is not loaded")])
def test_no_driver(code: int, words: str) -> None:
    host = read_host(api=FakeNvml(no_driver_data(code)))
    assert not host.available and host.gpus == [] and host.error_code == code
    assert host.reason and host.reason.startswith("no NVIDIA driver found") and words in host.reason
    assert host.summary() == host.reason


def test_real_nvml_on_this_machine_never_raises() -> None:
    host = read_host()
    assert isinstance(host, GpuHost)
    if not host.available:
        assert host.reason and host.error_code is not None


def test_unexpected_errors_become_notes_and_a_lost_gpu_is_reported() -> None:
    data = load_host_data("a100_8x_nvlink")
    data["gpus"][1]["temperature"] = {"error": 999}
    data["gpus"][2]["lost"] = True
    host = read_host(api=FakeNvml(data))
    assert host.gpus[1].temperature_c is None and host.gpus[1].notes == ["temperature: NVML error 999"]
    assert host.gpus[2].name is None and "cannot open GPU 2" in host.gpus[2].notes[0]
    assert host.topology.labels == []  # incomplete: no half matrix
    assert len(host.gpus) == 8


def test_record_raw_round_trips_through_the_fake() -> None:
    for name in HOSTS:
        original = read_host(api=FakeNvml.from_fixture(name))
        recorded = json.loads(json.dumps(record_raw(FakeNvml.from_fixture(name))))
        assert read_host(api=FakeNvml(recorded)) == original


def test_pynvml_api_maps_errors_to_codes() -> None:
    class NVMLError(Exception):
        def __init__(self, value: int):
            self.value = value
            super().__init__("Not Supported" if value == 3 else "Unknown Error")

    class Module:
        pass

    module = Module()
    module.NVMLError = NVMLError  # type: ignore[attr-defined]

    def unsupported(_handle: object) -> int:
        raise NVMLError(3)

    module.nvmlDeviceGetPersistenceMode = unsupported  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda _h: b"Tesla T4"  # type: ignore[attr-defined]
    api = PynvmlApi(module)
    assert api.name(object()) == "Tesla T4"
    with pytest.raises(NvmlError) as exc:
        api.persistence_mode(object())
    assert exc.value.code == 3 and exc.value.unsupported


def test_helpers() -> None:
    assert cuda_version_text(12020) == "12.2" and cuda_version_text(11080) == "11.8" and cuda_version_text(None) is None
    assert cpu_list([0b1011]) == "0-1,3" and cpu_list([0, 1]) == "64" and cpu_list([]) is None
    assert cpu_list([(1 << 64) - 1, 1]) == "0-64"


def test_nvlink_under_mig_is_unknown_not_none() -> None:
    # The recorded 8 × A100 host with MIG turned on: NVML then refuses the NVLink queries (NOT_SUPPORTED).
    data = load_host_data("a100_8x_nvlink")
    for gpu in data["gpus"]:
        gpu["mig_mode"] = [1, 1]
        gpu["nvlinks"] = None
        gpu["mig_devices"] = []
    host = read_host(api=FakeNvml(data))
    topo = host.topology
    assert not topo.nvlink_known and not topo.all_nvlink
    assert topo.matrix[0][1] == "NV?" and topo.matrix[0][0] == "X"
    plain = read_host(api=FakeNvml.from_fixture("a100_8x_nvlink")).topology
    assert plain.nvlink_known and plain.all_nvlink


def test_sizing_source_from_a_mig_host_is_its_instance() -> None:
    from engine.inventory.scan import _host_shape

    shape = _host_shape(read_host(api=FakeNvml.from_fixture("h100_mig")))
    assert shape.gpu_model == "H100" and shape.mig_instance == "3g.40gb" and shape.gpu_count == 1
    assert shape.gpu_memory_gib == pytest.approx(40448 / 1024, abs=1e-3)  # the instance, not the 80 GB card
    data = load_host_data("a100_8x_nvlink")
    for gpu in data["gpus"]:
        gpu["mig_mode"], gpu["nvlinks"], gpu["mig_devices"] = [1, 1], None, []
    assert _host_shape(read_host(api=FakeNvml(data))).all_nvlink is None


def test_mig_names_with_compute_instances_and_suffixes_keep_their_profile() -> None:
    # Names as NVML prints them for a split GPU instance and for Blackwell-style suffixed profiles
    # (forms from NVIDIA's MIG user guide and mig-parted configs; the host itself is the recorded H100 MIG one).
    data = load_host_data("h100_mig")
    names = ["NVIDIA H100 80GB HBM3 MIG 1c.3g.40gb", "NVIDIA H100 80GB HBM3 MIG 2g.20gb+me",
             "NVIDIA H100 80GB HBM3 MIG 1g.10gb-me", "NVIDIA H100 80GB HBM3 MIG 1g.10gb+me.all"]
    for mig, name in zip(data["gpus"][0]["mig_devices"], names):
        mig["name"] = name
    host = read_host(api=FakeNvml(data))
    assert [m.profile for m in host.gpus[0].mig_instances] == ["1c.3g.40gb", "2g.20gb+me", "1g.10gb-me",
                                                               "1g.10gb+me.all"]


def test_a_lost_gpu_is_said_lost_and_does_not_size_the_source() -> None:
    """GPU0 answers GPU_IS_LOST on opening: the summary said '1x ?' and sizing read the model off GPU0 (None)."""
    from engine.inventory.scan import _host_shape

    data = load_host_data("a100_8x_nvlink")
    data["gpus"][0]["lost"] = True
    host = read_host(api=FakeNvml(data))
    assert host.gpus[0].lost and not host.gpus[1].lost
    assert host.summary().startswith("1x lost (NVML: GPU is lost), 7x NVIDIA A100-SXM4-40GB")
    shape = _host_shape(host)
    assert shape.gpu_model and "A100" in shape.gpu_model and shape.gpu_count == 8


def test_the_inventory_report_names_a_lost_gpu(capsys) -> None:
    from engine.inventory.scan import Inventory
    from tui.commands.inventory import _print_report

    data = load_host_data("a100_8x_nvlink")
    data["gpus"][3]["lost"] = True
    _print_report(Inventory(host=read_host(api=FakeNvml(data))))
    out = capsys.readouterr().out
    assert "LOST" in out and "1x lost (NVML: GPU is lost)" in out  # the table may wrap the name
