"""A verdict on one component: red (broken), amber (works with a caveat), green (fine), and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Literal

Status = Literal["green", "amber", "red"]
STATUS_ORDER = {"green": 0, "amber": 1, "red": 2}

@dataclass
class Finding:
    """One component's verdict: red (broken), amber (works with a caveat), green (fine)."""

    component: str
    status: Status
    reason: str
    fix: str = ""
    code: str = ""
    """A stable identifier for tests and tools (e.g. "wheel-arch-unsupported")."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def worst(findings: Iterable[Finding]) -> Status:
    status: Status = "green"
    for f in findings:
        if STATUS_ORDER[f.status] > STATUS_ORDER[status]:
            status = f.status
    return status


def machine_word(findings: Iterable[Finding]) -> str:
    """The doctor's one word for a machine: its worst status, or "not checked (no NVIDIA GPU)" where it found no
    GPU at all (an amber there read as "works with a caveat" on a machine where nothing GPU was checked)."""
    findings = list(findings)
    if any(f.code == "no-gpu" for f in findings):
        return "not checked (no NVIDIA GPU)"
    if any(f.code == "gpu-not-seen" for f in findings):
        return "not checked (no NVIDIA driver; PCI bus not read)"
    return worst(findings)

