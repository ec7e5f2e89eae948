"""A dry run stopped by Ctrl-C has nothing to resume (review s8).

Its one-line summary ended "; interrupted (run the same command again to resume)", as a copy's does; a dry run copies
nothing and keeps no journal: the same command shows the whole plan again from the start. 1042534 said so for a dry
run whose output closed, 1a607d1 for a second Ctrl-C; the first Ctrl-C still promised a resume."""

from __future__ import annotations

from engine.transfer.summary import TransferSummary


def test_an_interrupted_dry_run_does_not_promise_a_resume() -> None:
    dry = TransferSummary(dry_run=True, interrupted=True, copied=3).line()
    assert dry.startswith("would copy 3 ") and "resume" not in dry, dry
    assert dry.endswith("; interrupted (a dry run: nothing was copied or deleted; run it again for the whole plan)"), dry
    real = TransferSummary(interrupted=True, copied=3).line()
    assert real.endswith("; interrupted (run the same command again to resume)"), real
