"""Recording a real host's raw NVML answers as JSON (the fixture format tests/nvml_fake.py reads).

Run on a GPU host: ``python -m engine.inventory.nvml --record > host.json``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from engine.inventory.nvml_api import MAX_NVLINKS, NvmlApi, NvmlError, PynvmlApi


def _raw(fn: Callable[[], Any]) -> Any:
    try:
        value = fn()
    except NvmlError as exc:
        return None if exc.unsupported else {"error": exc.code}
    return list(value) if isinstance(value, tuple) else value


def record_raw(api: NvmlApi | None = None) -> dict[str, Any]:
    """The seam's raw answers for this host as JSON-able data (a fixture for FakeNvml).

    Keys mirror the seam's method names; ``null`` means the call was not supported.
    """
    api = api or PynvmlApi()
    try:
        api.init()
    except NvmlError as exc:
        return {"init_error": exc.code}
    try:
        data: dict[str, Any] = {
            "system": {"driver_version": _raw(api.driver_version),
                       "cuda_driver_version": _raw(api.cuda_driver_version),
                       "nvml_version": _raw(api.nvml_version)},
            "gpus": [],
        }
        handles = [api.device_handle(i) for i in range(api.device_count())]
        for h in handles:
            gpu: dict[str, Any] = {}
            for key in ("name", "uuid", "memory_info", "cuda_compute_capability", "pci_bus_id", "pcie_link",
                        "persistence_mode", "mig_mode", "ecc_mode", "retired_pages_pending", "remapped_rows",
                        "clocks_event_reasons", "temperature", "power_usage", "power_limit", "utilization",
                        "numa_node"):
                gpu[key] = _raw(functools.partial(getattr(api, key), h))
            gpu["cpu_affinity"] = _raw(lambda: api.cpu_affinity(h, 4))
            gpu["total_ecc_errors"] = {
                f"{'aggregate' if agg else 'volatile'}_{'uncorrected' if unc else 'corrected'}":
                    _raw(lambda unc=unc, agg=agg: api.total_ecc_errors(h, unc, agg))
                for agg in (False, True) for unc in (False, True)}
            gpu["retired_pages"] = {"single_bit": _raw(lambda: api.retired_pages(h, False)),
                                    "double_bit": _raw(lambda: api.retired_pages(h, True))}
            links = []
            for link in range(MAX_NVLINKS):
                state = _raw(lambda: api.nvlink_state(h, link))
                if state is None or isinstance(state, dict):
                    break
                links.append({"state": state,
                              "remote_pci_bus_id": _raw(lambda: api.nvlink_remote_pci_bus_id(h, link))
                              if state else None})
            gpu["nvlinks"] = links if links else None
            migs = []
            if isinstance(gpu["mig_mode"], list) and gpu["mig_mode"][0]:
                for slot in range(_raw(lambda: api.max_mig_device_count(h)) or 0):
                    try:
                        m = api.mig_device_handle(h, slot)
                    except NvmlError:
                        continue
                    migs.append({"slot": slot, "name": _raw(lambda: api.name(m)), "uuid": _raw(lambda: api.uuid(m)),
                                 "memory_info": _raw(lambda: api.memory_info(m)),
                                 "gpu_instance_id": _raw(lambda: api.gpu_instance_id(m)),
                                 "compute_instance_id": _raw(lambda: api.compute_instance_id(m))})
            gpu["mig_devices"] = migs
            data["gpus"].append(gpu)
        data["topology_common_ancestor"] = [
            [0 if i == j else _raw(lambda a=a, b=b: api.topology_common_ancestor(a, b))
             for j, b in enumerate(handles)] for i, a in enumerate(handles)]
        return data
    finally:
        try:
            api.shutdown()
        except NvmlError:
            pass


