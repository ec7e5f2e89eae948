"""MIG profile names, as NVML and nvidia-smi print them, parsed into their parts.

Forms seen on real GPUs (NVIDIA's MIG user guide, "Supported MIG Profiles"; mig-parted configs):

* ``3g.40gb`` — a GPU instance of 3 compute slices and 40 GB;
* ``1c.3g.71gb`` — one compute instance of 1 slice sharing a 3g.71gb GPU instance (the memory is the
  GPU instance's, shared with its sibling compute instances);
* suffixes ``+me`` (one media extension), ``+me.all`` (all media engines), ``-me`` (no media engines),
  ``+gfx`` (graphics, RTX PRO Blackwell).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PROFILE = re.compile(r"(?:(?P<ci>\d+)c\.)?(?P<g>\d+)g\.(?P<gb>\d+)gb(?P<suffix>(?:[+-](?:me\.all|me|gfx))*)")


@dataclass(frozen=True)
class MigProfile:
    text: str
    """The profile as printed, e.g. "1c.3g.71gb" or "1g.24gb+me.all"."""
    gpu_slices: int
    """Compute slices of the GPU instance (the "3g")."""
    memory_gb: int
    """Memory of the GPU instance, GB as NVIDIA names it."""
    compute_slices: int | None = None
    """Slices of this compute instance when the GPU instance is split ("1c"); None = the whole instance."""
    suffixes: tuple[str, ...] = ()
    """"+me", "+me.all", "-me", "+gfx"."""

    @property
    def gpu_instance(self) -> str:
        """The GPU-instance profile without compute-instance prefix or suffixes ("3g.71gb")."""
        return f"{self.gpu_slices}g.{self.memory_gb}gb"


def parse_mig_profile(text: str | None) -> MigProfile | None:
    """A profile name, or the MIG device name NVML returns ("NVIDIA H100 80GB HBM3 MIG 1c.3g.40gb")."""
    if not text:
        return None
    match = re.search(r"(?:^|\bMIG\s+|\s)" + _PROFILE.pattern + r"(?=\s|$)", text.strip())
    if not match:
        return None
    suffix = match.group("suffix") or ""
    parts = tuple(re.findall(r"[+-](?:me\.all|me|gfx)", suffix))
    ci = match.group("ci")
    printed = (f"{ci}c." if ci else "") + f"{match.group('g')}g.{match.group('gb')}gb" + suffix
    return MigProfile(text=printed, gpu_slices=int(match.group("g")), memory_gb=int(match.group("gb")),
                      compute_slices=int(ci) if ci else None, suffixes=parts)
