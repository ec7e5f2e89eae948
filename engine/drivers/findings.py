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

