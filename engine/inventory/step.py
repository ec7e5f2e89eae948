"""The ``inventory`` step of ``replay``: scan what the profile names, size, record it in the session.

A machine without NVIDIA drivers is not a failure: the step says "no NVIDIA driver found" and goes on.
Missing AWS credentials or an unreachable endpoint (when the profile names AWS regions or buckets)
fail the step with the ENVIRONMENT exit code after everything else has been scanned.  A region, a
bucket or the bucket list that AWS refused (no permission) or failed, or a ``local_dirs`` folder that is not there,
leaves the step "incomplete"
(not completed: the next replay scans again), its summary naming what was not read.
``ctx.options`` may carry ``regions`` (overrides inventory.aws_regions) and ``nvml_api`` (a seam
implementation, for tests).
"""

from __future__ import annotations

from engine.errors import ExitCode
from engine.inventory.scan import run_inventory, summary_line
from engine.runner import StepContext, StepResult


def run(ctx: StepContext) -> StepResult:
    if ctx.dry_run:
        ctx.message("inventory only reads; a dry run scans the same way")
    inv = run_inventory(ctx.profile, base_dir=ctx.base_dir, emit=ctx.emit, cancel=ctx.cancel,
                        regions=ctx.options.get("regions"), nvml_api=ctx.options.get("nvml_api"))
    data = inv.model_dump(mode="json")
    summary = summary_line(inv) or "nothing to inventory"
    if inv.aws_problem:
        return StepResult(ok=False, summary=f"AWS: {inv.aws_problem}", data=data, exit_code=ExitCode.ENVIRONMENT)
    if (inv.aws is not None and inv.aws.errors) or inv.missing_dirs():
        # a region or the bucket list AWS refused, a local folder the profile names that is not there: what is
        # listed is not all there is, and the step runs again ("0 local files", exit 0, for a typo before)
        return StepResult(ok=False, summary=summary, data=data, state="incomplete")
    return StepResult(ok=True, summary=summary, data=data)
