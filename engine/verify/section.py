"""The ``[verify]`` profile section: which checks run, with which thresholds."""

from __future__ import annotations

from pydantic import Field

from engine.model_base import Section


class VerifySection(Section):
    """Checks that prove the target is at least as good as the source."""

    expected_gpus: int | None = Field(default=None, ge=0)
    """How many GPUs the target must show (default: target.gpu_count)."""
    load_time_ratio: float = Field(default=1.10, gt=0)
    """Model-load check passes when target median < baseline median x this."""
    p99_ms: float = Field(default=50.0, gt=0)
    """Inference P99 latency threshold in milliseconds."""
