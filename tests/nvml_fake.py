"""FakeNvml: the NVML seam (engine.inventory.nvml.NvmlApi) answered from a recorded host file.

Usage::

    from tests.nvml_fake import FakeNvml, load_host_data
    host = read_host(api=FakeNvml.from_fixture("a100_8x_nvlink"))
    # or tweak a recording first:
    data = load_host_data("v100_host"); data["gpus"][0]["temperature"] = 91
    host = read_host(api=FakeNvml(data))

Fixture format (tests/fixtures/nvml/*.json, what ``record_raw`` writes): keys named
after the seam's methods.  A value ``null`` makes that call raise NOT_SUPPORTED;
``{"error": CODE}`` raises NvmlError(CODE); ``"init_error": 12`` makes ``init()``
fail (12 = library not found, 9 = driver not loaded).  ``_meta`` says where the
values come from.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from engine.inventory.nvml import INVALID_ARGUMENT, NOT_FOUND, NOT_SUPPORTED, UNINITIALIZED, NvmlError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "nvml"
HOSTS = ("v100_host", "a100_8x_nvlink", "h100_mig", "a100_faulty", "v100_faulty")


def load_host_data(name: str) -> dict[str, Any]:
    """A recorded host file by stem (e.g. "v100_host"), as a fresh dict."""
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


def no_driver_data(code: int = 12) -> dict[str, Any]:
    """A host where ``nvmlInit`` fails (12 = library not found, 9 = driver not loaded)."""
    return {"_meta": {"source": "synthetic"}, "init_error": code}


def _answer(value: Any) -> Any:
    if value is None:
        raise NvmlError(NOT_SUPPORTED, "Not Supported")
    if isinstance(value, dict) and set(value) == {"error"}:
        raise NvmlError(int(value["error"]), f"NVML error {value['error']}")
    return tuple(value) if isinstance(value, list) else value


class FakeNvml:
    """Implements NvmlApi over recorded data; counts init/shutdown so tests can check pairing."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.inits = 0
        self.shutdowns = 0
        self._live = False

    @classmethod
    def from_fixture(cls, name: str) -> "FakeNvml":
        return cls(load_host_data(name))

    # --- system
    def init(self) -> None:
        if self.data.get("init_error"):
            code = int(self.data["init_error"])
            raise NvmlError(code, {12: "NVML Shared Library Not Found", 9: "Driver Not Loaded"}.get(code, "error"))
        self.inits += 1
        self._live = True

    def shutdown(self) -> None:
        self.shutdowns += 1
        self._live = False

    def _check(self) -> None:
        if not self._live:
            raise NvmlError(UNINITIALIZED, "Uninitialized")

    def driver_version(self) -> str:
        self._check()
        return _answer(self.data["system"]["driver_version"])

    def cuda_driver_version(self) -> int:
        self._check()
        return _answer(self.data["system"]["cuda_driver_version"])

    def nvml_version(self) -> str:
        self._check()
        return _answer(self.data["system"]["nvml_version"])

    def device_count(self) -> int:
        self._check()
        return len(self.data["gpus"])

    def device_handle(self, index: int) -> Any:
        self._check()
        gpu = self.data["gpus"][index]
        if gpu.get("lost"):
            raise NvmlError(15, "GPU is lost")
        return ("gpu", index)

    # --- per device
    def _rec(self, handle: Any) -> dict[str, Any]:
        self._check()
        if handle[0] == "gpu":
            return self.data["gpus"][handle[1]]
        gpu = self.data["gpus"][handle[1]]
        return next(m for m in gpu["mig_devices"] if m["slot"] == handle[2])

    def _get(self, handle: Any, key: str) -> Any:
        return _answer(self._rec(handle).get(key))

    def name(self, handle: Any) -> str:
        return self._get(handle, "name")

    def uuid(self, handle: Any) -> str:
        return self._get(handle, "uuid")

    def memory_info(self, handle: Any) -> tuple[int, int]:
        return self._get(handle, "memory_info")

    def cuda_compute_capability(self, handle: Any) -> tuple[int, int]:
        return self._get(handle, "cuda_compute_capability")

    def pci_bus_id(self, handle: Any) -> str:
        return self._get(handle, "pci_bus_id")

    def pcie_link(self, handle: Any) -> tuple[int, int, int, int]:
        return self._get(handle, "pcie_link")

    def persistence_mode(self, handle: Any) -> int:
        return self._get(handle, "persistence_mode")

    def mig_mode(self, handle: Any) -> tuple[int, int]:
        return self._get(handle, "mig_mode")

    def max_mig_device_count(self, handle: Any) -> int:
        rec = self._rec(handle)
        if rec.get("mig_mode") is None:
            raise NvmlError(NOT_SUPPORTED, "Not Supported")
        return int(rec.get("max_mig_device_count", 7))

    def mig_device_handle(self, handle: Any, index: int) -> Any:
        rec = self._rec(handle)
        if not any(m["slot"] == index for m in rec.get("mig_devices") or []):
            raise NvmlError(NOT_FOUND, "Not Found")
        return ("mig", handle[1], index)

    def gpu_instance_id(self, handle: Any) -> int:
        return self._get(handle, "gpu_instance_id")

    def compute_instance_id(self, handle: Any) -> int:
        return self._get(handle, "compute_instance_id")

    def ecc_mode(self, handle: Any) -> tuple[int, int]:
        return self._get(handle, "ecc_mode")

    def total_ecc_errors(self, handle: Any, uncorrected: bool, aggregate: bool) -> int:
        counts = self._rec(handle).get("total_ecc_errors")
        if counts is None:
            raise NvmlError(NOT_SUPPORTED, "Not Supported")
        key = f"{'aggregate' if aggregate else 'volatile'}_{'uncorrected' if uncorrected else 'corrected'}"
        return _answer(counts.get(key))

    def retired_pages(self, handle: Any, double_bit: bool) -> int:
        pages = self._rec(handle).get("retired_pages")
        if pages is None:
            raise NvmlError(NOT_SUPPORTED, "Not Supported")
        return _answer(pages.get("double_bit" if double_bit else "single_bit"))

    def retired_pages_pending(self, handle: Any) -> int:
        return self._get(handle, "retired_pages_pending")

    def remapped_rows(self, handle: Any) -> tuple[int, int, int, int]:
        return self._get(handle, "remapped_rows")

    def clocks_event_reasons(self, handle: Any) -> int:
        return self._get(handle, "clocks_event_reasons")

    def temperature(self, handle: Any) -> int:
        return self._get(handle, "temperature")

    def power_usage(self, handle: Any) -> int:
        return self._get(handle, "power_usage")

    def power_limit(self, handle: Any) -> int:
        return self._get(handle, "power_limit")

    def utilization(self, handle: Any) -> tuple[int, int]:
        return self._get(handle, "utilization")

    def topology_common_ancestor(self, handle1: Any, handle2: Any) -> int:
        self._check()
        matrix = self.data.get("topology_common_ancestor")
        if matrix is None:
            raise NvmlError(NOT_SUPPORTED, "Not Supported")
        return _answer(matrix[handle1[1]][handle2[1]])

    def _links(self, handle: Any) -> list[dict[str, Any]]:
        links = self._rec(handle).get("nvlinks")
        if links is None:
            raise NvmlError(NOT_SUPPORTED, "Not Supported")
        return links

    def nvlink_state(self, handle: Any, link: int) -> int:
        links = self._links(handle)
        if link >= len(links):
            raise NvmlError(INVALID_ARGUMENT, "Invalid Argument")
        return int(links[link]["state"])

    def nvlink_remote_pci_bus_id(self, handle: Any, link: int) -> str:
        links = self._links(handle)
        if link >= len(links):
            raise NvmlError(INVALID_ARGUMENT, "Invalid Argument")
        return _answer(links[link].get("remote_pci_bus_id"))

    def numa_node(self, handle: Any) -> int:
        return self._get(handle, "numa_node")

    def cpu_affinity(self, handle: Any, words: int) -> list[int]:
        value = list(self._get(handle, "cpu_affinity"))
        return (value + [0] * words)[:words]
