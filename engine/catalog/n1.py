"""Which GPU counts Google Cloud N1 machine types take: the documented limits, shared by the generator (which
emits a priced row for every N1 type and count within them) and validation (which names them when a choice is
outside them)."""

from __future__ import annotations

N1_LIMITS: dict[str, dict[int, tuple[int, int]]] = {
    # GPU -> {GPUs attached: (most vCPUs, most memory GB)} from Google's "GPU machine types" page
    # (https://cloud.google.com/compute/docs/gpus, N1 general-purpose tables), as transcribed in
    # skypilot-org/skypilot sky/clouds/service_catalog/gcp_catalog.py (_NUM_ACC_TO_MAX_CPU_AND_MEMORY).
    # Every N1 type but the shared-core f1-micro/g1-small within these limits takes that many GPUs.
    # P100 x 4: at most 64 vCPUs / 208 GB in us-east1-c, europe-west1-b and europe-west1-d.
    "T4": {1: (48, 312), 2: (48, 312), 4: (96, 624)},
    "P4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "P100": {1: (16, 104), 2: (32, 208), 4: (96, 624)},
    "V100": {1: (12, 78), 2: (24, 156), 4: (48, 312), 8: (96, 624)},
}
N1_LIMITS_SOURCE = "https://cloud.google.com/compute/docs/gpus (N1 general-purpose: GPUs, vCPUs, memory)"
SMALLER_ZONES: dict[tuple[str, int], tuple[tuple[int, int], tuple[str, ...]]] = {
    # (GPU, count) -> ((most vCPUs, most memory GB) there, zones): the page's exceptions to N1_LIMITS
    ("P100", 4): ((64, 208), ("europe-west1-b", "europe-west1-d", "us-east1-c")),
}


def zone_problem(gpu: str, count: int, vcpus: float, memory_gb: float, zone: str | None) -> str | None:
    """Why ``zone`` cannot hold this N1 shape though the limits elsewhere allow it (None: it can, or no zone)."""
    limit = SMALLER_ZONES.get((gpu, count), ((0, 0), ()))[0]
    if zone and zone in excluded_zones(gpu, count, vcpus, memory_gb):
        return (f"{count} x {gpu} in {zone} takes at most {limit[0]} vCPUs and {limit[1]} GB ({N1_LIMITS_SOURCE}); "
                f"this machine type has {vcpus:g} vCPUs and {memory_gb:g} GB: choose a smaller N1 type or another zone")
    return None


def excluded_zones(gpu: str, count: int, vcpus: float, memory_gb: float) -> tuple[str, ...]:
    """The zones that cannot hold this N1 shape though N1_LIMITS allow it elsewhere (empty: none)."""
    limit, zones = SMALLER_ZONES.get((gpu, count), ((0, 0), ()))
    return zones if zones and (vcpus > limit[0] or memory_gb > limit[1]) else ()


def smaller_limit_text(gpu: str, count: int) -> str:
    """The page's smaller limit for ``count`` x ``gpu`` (empty when it has none), for notes and errors."""
    limit, zones = SMALLER_ZONES.get((gpu, count), ((0, 0), ()))
    return (f"{count} x {gpu} takes at most {limit[0]} vCPUs and {limit[1]} GB in {', '.join(zones)} "
            f"({N1_LIMITS_SOURCE})") if zones else ""


def limits_text(gpu: str) -> str:
    """The documented limits of ``gpu`` on N1 (empty for a GPU N1 does not take), for notes and errors."""
    return "; ".join(f"{count} x {gpu}: up to {cpus} vCPUs and {memory} GB"
                     for count, (cpus, memory) in sorted(N1_LIMITS.get(gpu, {}).items()))


def takes(gpu: str, count: int, vcpus: float, memory_gb: float) -> bool:
    """Whether an N1 type of ``vcpus`` and ``memory_gb`` takes ``count`` x ``gpu`` (Google's limits)."""
    limit = N1_LIMITS.get(gpu, {}).get(count)
    return limit is not None and 0 < vcpus <= limit[0] and 0 < memory_gb <= limit[1]
