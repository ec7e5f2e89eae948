"""The ``[ops]`` profile section: day-two monitoring, budget, spot handling."""

from __future__ import annotations

from pydantic import Field

from engine.model_base import Section


class OpsSection(Section):
    """What to watch on the target after cutover, and when to alert."""

    gpu_memory_alert_pct: float = Field(default=90, gt=0, le=100)
    """Alert when GPU memory use stays above this percentage."""
    idle_gpu_util_pct: float = Field(default=5, ge=0, le=100)
    """Alert when GPU utilisation stays below this (idle spend)."""
    idle_hours: float = Field(default=6, gt=0)
    """...for this many hours."""
    budget_thresholds_pct: list[float] = Field(default_factory=lambda: [50.0, 80.0, 100.0])
    """Budget alert thresholds, as percentages of the monthly run-rate."""
    apply: bool = False
    """Create the alert policies and budget through the APIs in the `ops` step (else only render)."""
