"""The doctor against outputs recorded from machines (tests/fixtures/drivers/<machine>/).

The probes read through the injectable runner and filesystem root, so these
tests feed the recorded outputs without patching anything.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from engine.drivers import compat, detect

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "drivers"
TODAY = date(2026, 11, 23)

# machine folder -> (status, codes that must be present, detected driver, nvcc, gpu name)
MACHINES = {
    "gce-v100-r535-ubuntu2204": ("amber", {"driver-eol", "nvcc-older", "framework-ok", "container-ok"},
                                 "535.104.05", "12.1.105", "Tesla V100-SXM2-16GB"),
    "gce-v100-cu130-wheel": ("red", {"wheel-arch-unsupported", "toolkit-drops-gpu"},
                             "580.82.07", "13.0.88", "Tesla V100-SXM2-16GB"),
    "gce-t4-r525-wheel-too-new": ("red", {"wheel-newer-than-driver", "nvcc-smi-minor", "docker-no-nvidia",
                                          "driver-eol"}, "525.147.05", "12.4.131", "Tesla T4"),
    "gce-a100-driver-library-mismatch": ("red", {"driver-library-mismatch"}, None, None, None),
    "gce-h100-r580-healthy": ("green", {"gpu-ok", "driver-ok", "nvcc-older", "framework-ok", "container-ok"},
                              "580.82.07", "12.8.93", "NVIDIA H100 80GB HBM3"),
    "ubuntu-nouveau-no-driver": ("red", {"nouveau-loaded", "module-not-loaded"}, None, None, None),
    "gce-l4-r535-nvcc13": ("red", {"nvcc-newer-than-driver", "framework-cpu-only", "os-other"},
                           "535.183.01", "13.0.88", "NVIDIA L4"),
    "gce-a100-smi-hangs": ("red", {"smi-timeout"}, None, None, None),
    "debian12-no-gpu": ("amber", {"no-gpu", "ctk-missing"}, None, "13.0.88", None),
}


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_doctor_on_recorded_machine(machine: str) -> None:
    status, want, driver, nvcc, gpu = MACHINES[machine]
    state = detect.detect_recorded(FIXTURES / machine)
    json.dumps(state)  # JSON-able, for --json and the session
    findings = compat.diagnose(state, today=TODAY)
    got = {f.code for f in findings}
    assert want <= got, sorted(got)
    assert compat.worst(findings) == status, [(f.status, f.code) for f in findings]
    assert (state["nvml"]["driver_version"] or state["nvidia_smi"].get("driver_version")) == driver
    assert state["nvcc"]["version"] == nvcc
    assert (state["gpus"][0]["name"] if state["gpus"] else None) == gpu


def test_every_fixture_folder_is_covered() -> None:
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} == set(MACHINES)


def test_recorded_nvml_matches_the_inventory_seam_model() -> None:
    from engine.inventory.nvml import GpuHost

    for folder in FIXTURES.iterdir():
        if (folder / "nvml.json").exists():
            GpuHost.model_validate(json.loads((folder / "nvml.json").read_text()))


def test_parsers_on_recorded_outputs() -> None:
    v100 = FIXTURES / "gce-v100-r535-ubuntu2204"
    banner = detect.parse_nvidia_smi((v100 / "cmd/nvidia-smi.out").read_text())
    assert banner == {"driver_version": "535.104.05", "cuda_version": "12.2", "smi_version": "535.104.05"}
    h100 = FIXTURES / "gce-h100-r580-healthy"
    assert detect.parse_proc_version((h100 / "root/proc/driver/nvidia/version").read_text()) == {
        "version": "580.82.07", "open": True}
    docker = detect.parse_docker_info((h100 / "cmd/docker-info.out").read_text())
    assert docker["runtimes"] == ["io.containerd.runc.v2", "nvidia", "runc"] and docker["default_runtime"] == "nvidia"
    assert detect.parse_tool_version((h100 / "cmd/nvidia-ctk.out").read_text()) == "1.14.6"
    assert "nouveau" in detect.parse_modules((FIXTURES / "ubuntu-nouveau-no-driver/cmd/lsmod.out").read_text())
    # /proc/modules and lsmod formats give the same names
    proc = detect.parse_modules((v100 / "root/proc/modules").read_text())
    assert proc[:4] == ["nvidia_uvm", "nvidia_drm", "nvidia_modeset", "nvidia"]
    nobody = FIXTURES / "debian12-no-gpu"  # recorded live on a GPU-less Debian 12 host
    assert detect.parse_nvcc((nobody / "cmd/nvcc.out").read_text()) == "13.0.88"
    down = detect.parse_docker_info((nobody / "cmd/docker-info.out").read_text(),
                                    (nobody / "cmd/docker-info.err").read_text(), 1)
    assert down["daemon"] is False and "Cannot connect" in down["error"]


def test_installed_toolkits_found_under_root() -> None:
    state = detect.detect_recorded(FIXTURES / "gce-h100-r580-healthy")
    assert state["toolkits"] == [{"path": "/usr/local/cuda-12.8", "version": "12.8.1"}]


def test_absent_tools_are_reported_not_raised(tmp_path: Path) -> None:
    state = detect.detect(detect.RecordedRunner(tmp_path), root=tmp_path, nvml=lambda: {"available": False,
                                                                                            "reason": "none"})
    statuses = {p["name"]: p["status"] for p in state["probes"]}
    assert statuses["nvidia-smi"] == statuses["nvcc"] == statuses["docker-info"] == "absent"
    assert statuses["etc/os-release"] == "absent"
    assert state["gpus"] == [] and state["frameworks"] == []


def test_real_subprocess_runner_times_out(tmp_path: Path) -> None:
    script = tmp_path / "slow"
    script.write_text("#!/bin/sh\nsleep 5\n")
    script.chmod(0o755)
    result = detect.SubprocessRunner().run("slow", [str(script)], timeout=0.2)
    assert result.timed_out and not result.ok
    assert detect.SubprocessRunner().run("x", ["no-such-tool-gpumigrate"], timeout=1).missing


def test_record_then_replay_gives_the_same_state(tmp_path: Path) -> None:
    live = detect.record(tmp_path / "rec", timeout=5)
    replayed = detect.detect_recorded(tmp_path / "rec", timeout=5)
    for key in ("nvcc", "docker", "container_toolkit", "gpus", "nvidia_smi", "os"):
        assert replayed[key] == live[key], key


def test_nvml_seam_object_is_read(tmp_path: Path) -> None:
    from engine.inventory.nvml import GpuHost, GpuInfo

    host = GpuHost(available=True, driver_version="580.82.07", cuda_driver_version="13.0",
                   gpus=[GpuInfo(index=0, name="NVIDIA L4", memory_total_bytes=23034 * 2**20, memory_used_bytes=0)])
    state = detect.detect(detect.RecordedRunner(tmp_path), root=tmp_path, nvml=lambda: host)
    assert state["nvml"]["driver_version"] == "580.82.07"
    assert state["gpus"][0] == {"index": 0, "name": "NVIDIA L4", "memory_total_mib": 23034, "memory_used_mib": 0}


def test_a_gpu_on_the_pci_bus_without_a_driver_is_red_not_no_gpu(tmp_path: Path) -> None:
    """A fresh A100 VM whose startup script has not installed the driver: NVML and nvidia-smi are absent, as on
    a GPU-less host, but sysfs lists the card (vendor 0x10de, class 0x0302 3D controller, device 0x20b0 =
    'GA100 [A100 SXM4 40GB]' in the PCI ID database).  The doctor said amber 'no NVIDIA GPU found: run the
    doctor on the GPU machine' on the GPU machine (review session 6)."""
    import shutil

    machine = tmp_path / "a100-no-driver"
    shutil.copytree(FIXTURES / "debian12-no-gpu", machine)
    card = machine / "root" / detect.PCI_DEVICES / "0000:00:04.0"
    card.mkdir(parents=True, exist_ok=True)  # the recording has a virtio device there: it becomes the card
    (card / "vendor").write_text("0x10de\n")
    (card / "class").write_text("0x030200\n")
    (card / "device").write_text("0x20b0\n")
    bridge = machine / "root" / detect.PCI_DEVICES / "0000:00:00.0"  # not a GPU: ignored
    bridge.mkdir(exist_ok=True)
    (bridge / "vendor").write_text("0x8086\n")
    (bridge / "class").write_text("0x060000\n")
    state = detect.detect_recorded(machine)
    assert state["pci_nvidia"] == [{"address": "0000:00:04.0", "device": "0x20b0", "class": "0x030200"}]
    findings = compat.diagnose(state, today=TODAY)
    red = [f for f in findings if f.status == "red"]
    assert [f.code for f in red] == ["driver-missing"], findings
    assert red[0].reason.startswith("1 NVIDIA GPU(s) on the PCI bus (0000:00:04.0 (device 0x20b0)) but no NVIDIA "
                                    "driver answers")
    assert compat.worst(findings) == "red"
    assert compat.machine_word(findings) == "red"
    nobody = compat.diagnose(detect.detect_recorded(FIXTURES / "debian12-no-gpu"), today=TODAY)
    assert "no-gpu" in {f.code for f in nobody}  # no card: still 'run it on the GPU machine'
    assert compat.machine_word(nobody) == "not checked (no NVIDIA GPU)"  # never 'amber' for a machine not checked


def test_no_driver_where_the_pci_bus_was_not_read_is_not_no_gpu(tmp_path: Path) -> None:
    """No /sys/bus/pci (a container, a recording from before the PCI probe): the doctor said "no NVIDIA GPU found"
    and "not checked: no NVIDIA GPU on this machine" with nothing to show there is none (review session 7)."""
    import shutil

    machine = tmp_path / "container"
    shutil.copytree(FIXTURES / "debian12-no-gpu", machine)
    shutil.rmtree(machine / "root" / "sys")
    findings = compat.diagnose(detect.detect_recorded(machine), today=TODAY)
    (gpu,) = [f for f in findings if f.component == "gpu"]
    assert gpu.code == "gpu-not-seen" and gpu.status == "amber"
    assert gpu.reason.startswith("no NVIDIA driver answers and the PCI bus was not read here")
    assert "whether this machine has an NVIDIA GPU is not known" in gpu.reason
    assert compat.machine_word(findings) == "not checked (no NVIDIA driver; PCI bus not read)"
    recorded = compat.diagnose(detect.detect_recorded(FIXTURES / "debian12-no-gpu"), today=TODAY)
    assert "no-gpu" in {f.code for f in recorded}  # its PCI ids (recorded) show no NVIDIA device


def test_a_cuda_framework_no_driver_answers_for_is_not_green() -> None:
    """Driver/library mismatch: NVML and nvidia-smi fail, and "✓ green framework torch 2.4.1+cu124 (CUDA 12.4)"
    stood beside it: the build was never compared with a driver (s8target)."""
    state = detect.detect_recorded(FIXTURES / "gce-a100-driver-library-mismatch")
    (framework,) = [f for f in compat.diagnose(state, today=TODAY) if f.component == "framework"]
    assert (framework.status, framework.code) == ("amber", "framework-unchecked"), framework
    assert framework.reason == ("torch 2.4.1+cu124 was built for CUDA 12.4: not checked against a driver (no "
                                "NVIDIA driver version could be read here)"), framework.reason
