"""A CUDA version the shipped toolkit table does not list is unknown, never judged (review session 7).

`drivers.cuda = "12.99"` on an H100 with R580 was red "R580: driver 580.65.06 supports CUDA up to 13.0; CUDA
12.99 needs >= 525.60.13" (a contradiction built from the 12.x minor-version floor), and the startup script
would ask apt for cuda-toolkit-12-99, the Dockerfile for nvidia/cuda:12.99.0: neither exists.
"""

from __future__ import annotations

from datetime import date

from engine.drivers import compat

TODAY = date(2026, 11, 23)


def test_a_cuda_the_table_does_not_list_is_amber_unknown_with_no_driver_verdict() -> None:
    for cuda in ("12.99", "14.0"):
        plan = compat.recommend("H100 80GB", cuda=cuda, today=TODAY)
        mine = [f for f in plan.findings if f.component == "cuda"]
        assert [(f.status, f.code) for f in mine] == [("amber", "cuda-unknown")], plan.findings
        assert mine[0].reason.startswith(f"CUDA {cuda} is not in the shipped toolkit table (known: 10.0 to 13.2)")
        assert "cuda-toolkit" in mine[0].reason and "nvidia/cuda" in mine[0].reason


def test_a_listed_cuda_is_still_judged() -> None:
    plan = compat.recommend("H100 80GB", cuda="12.4", today=TODAY)
    assert [f.code for f in plan.findings if f.component == "cuda"] == ["cuda-ok"]
    old = compat.recommend("H100 80GB", cuda="13.2", driver_branch="535", today=TODAY)
    assert "driver-too-old-for-cuda" in [f.code for f in old.findings]


def test_an_older_unlisted_toolkit_under_a_newer_driver_is_not_too_old() -> None:
    verdict = compat.driver_runs_cuda("580.65.06", (12, 99))
    assert verdict.ok, verdict.reason
    assert "not in the shipped toolkit table" in verdict.reason
