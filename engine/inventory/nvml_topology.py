"""The GPU-to-GPU topology of a host, like `nvidia-smi topo -m`: NVLink peers (direct or through NVSwitch),
else the PCIe/SMP level NVML reports.  NVML refuses NVLink queries on a GPU in MIG mode: there the NVLink
state is unknown (``Topology.nvlink_known`` False), never "none".
"""

from __future__ import annotations

from typing import Any

from engine.inventory.nvml_api import MAX_NVLINKS, TOPOLOGY_LABELS, NvmlApi, NvmlError
from engine.inventory.nvml_model import GpuInfo, Topology


def _nvlinks(api: NvmlApi, handle: Any) -> list[str | None] | None:
    """Remote PCI bus id per active link; None if the GPU has no NVLink."""
    remotes: list[str | None] = []
    supported = False
    for link in range(MAX_NVLINKS):
        try:
            state = api.nvlink_state(handle, link)
        except NvmlError:
            break
        supported = True
        if state:
            try:
                remotes.append(_norm_bus(api.nvlink_remote_pci_bus_id(handle, link)))
            except NvmlError:
                remotes.append(None)
    return remotes if supported else None


def _norm_bus(bus: str | None) -> str | None:
    """NVML writes bus ids with 8 or 4 domain digits, in any case; compare them normalised."""
    if not bus:
        return None
    bus = bus.upper()
    domain, _, rest = bus.partition(":")
    return f"{int(domain, 16):08X}:{rest}" if rest else bus


def topology(api: NvmlApi, handles: list[Any], gpus: list[GpuInfo]) -> Topology:
    """The matrix: "NV#" between NVLink peers, else the PCIe/SMP level; NVLink unknown under MIG."""
    n = len(handles)
    labels = [f"GPU{i}" for i in range(n)]
    bus_to_index = {_norm_bus(g.pci_bus_id): g.index for g in gpus if g.pci_bus_id}
    links = [[0] * n for _ in range(n)]
    switch_links: list[int] = [0] * n
    unknown = [False] * n
    for i, handle in enumerate(handles):
        remotes = _nvlinks(api, handle)
        if remotes is None and gpus[i].mig_mode_current:
            unknown[i] = True  # NVML refuses NVLink queries while MIG is enabled: not "no NVLink"
        gpus[i].nvlink_active = None if remotes is None else len(remotes)
        for remote in remotes or []:
            j = bus_to_index.get(remote) if remote else None
            if j is not None and j != i:
                links[i][j] += 1
            elif remote:
                switch_links[i] += 1  # the far end is not a GPU: an NVSwitch
    nvswitch = n > 1 and sum(1 for s in switch_links if s) > 1
    if nvswitch:  # all-to-all through NVSwitch: nvidia-smi shows NV<links> between every switched pair
        for i in range(n):
            for j in range(n):
                if i != j and switch_links[i] and switch_links[j]:
                    links[i][j] += min(switch_links[i], switch_links[j])
    matrix: list[list[str]] = []
    for i in range(n):
        row = []
        for j in range(n):
            if i == j:
                row.append("X")
            elif links[i][j]:
                row.append(f"NV{links[i][j]}")
            elif unknown[i] or unknown[j]:
                row.append("NV?")
            else:
                try:
                    level = api.topology_common_ancestor(handles[i], handles[j])
                    row.append(TOPOLOGY_LABELS.get(level, "?"))
                except NvmlError:
                    row.append("?")
        matrix.append(row)
    return Topology(labels=labels, matrix=matrix, nvlinks=links, nvswitch=nvswitch, nvlink_known=not any(unknown),
                    numa_nodes=[g.numa_node for g in gpus], cpu_affinity=[g.cpu_affinity for g in gpus])
