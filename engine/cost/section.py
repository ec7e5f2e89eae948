"""The ``[cost]`` profile section: assumptions of the cost model."""

from __future__ import annotations

from pydantic import Field

from engine.model_base import Section


class CostSection(Section):
    """Assumptions the cost step uses on top of [source], [target] and [workload]."""

    data_gb: float | None = Field(default=None, ge=0)
    """Data moved off the source, in GB (default: what the transfer step plans)."""
    parallel_run_days: float = Field(default=14, ge=0)
    """Days both environments are paid for during the cutover."""
