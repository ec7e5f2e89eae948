"""Step functions for the runner tests: real functions registered like any step."""

from __future__ import annotations

from engine.errors import EnvironmentProblem, Interrupted
from engine.events import Progress
from engine.runner import StepContext, StepResult

CALLS: list[str] = []


def ok(ctx: StepContext) -> StepResult:
    CALLS.append(ctx.step)
    ctx.emit(Progress(ctx.step, done=1, total=1, unit="items"))
    return StepResult(ok=True, summary="fine", data={"n": 1})


def fails(ctx: StepContext) -> StepResult:
    CALLS.append(ctx.step)
    return StepResult(ok=False, summary="a check did not pass")


def needs_credentials(ctx: StepContext) -> StepResult:
    CALLS.append(ctx.step)
    raise EnvironmentProblem("no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID")


_interrupt_once = {"done": False}


def interrupted_once(ctx: StepContext) -> StepResult:
    CALLS.append(ctx.step)
    if not _interrupt_once["done"]:
        _interrupt_once["done"] = True
        raise Interrupted("stopped at object 3 of 10")
    return StepResult(ok=True, summary="resumed and finished")


def cancels_itself(ctx: StepContext) -> StepResult:
    """Returns as if done, but a cancel came while it ran (the runner records it interrupted)."""
    CALLS.append(ctx.step)
    ctx.cancel.set()
    return StepResult(ok=True, summary="returned early")


def reads_earlier(ctx: StepContext) -> StepResult:
    CALLS.append(ctx.step)
    return StepResult(ok=True, summary=f"saw {sorted(ctx.results)}")


def crashes(ctx: StepContext) -> StepResult:
    CALLS.append(ctx.step)
    raise OSError(28, "No space left on device")


def echoes_a_credential(ctx: StepContext) -> StepResult:
    """A library error that quotes a credential from the environment (a request echoed back in its message)."""
    import os

    CALLS.append(ctx.step)
    raise RuntimeError(f"the backend refused the request with token {os.environ.get('DEPLOY_TOKEN', '')}")


def outdated(data: object) -> None:
    """Read by the runner between steps (``step_outdated``): Ctrl-C arriving there, outside any step."""
    if _interrupt_once.get("between") and not _interrupt_once.get("between_done"):
        _interrupt_once["between_done"] = True
        raise KeyboardInterrupt
    return None
