"""Where a migration stands: what is left to decide in each step, and which step needs the user next.

The app's step bar, its one-line "left to decide" hint and its *Next* binding read these plain
functions, so ``gpumigrate init`` comments and the screens say the same thing about a profile.
A choice counts as made when the profile sets it explicitly (a default the user never saw is not
a decision), which is why this looks at ``model_fields_set`` and not only at the values.
"""

from __future__ import annotations

from typing import Any, Mapping

WALK: tuple[str, ...] = ("inventory", "cost", "transfer", "drivers", "verify")
"""The steps a migration walks through, in order."""

DONE_STATES = ("completed", "skipped")


def _set(section: Any, field: str) -> bool:
    return field in section.model_fields_set and getattr(section, field) is not None


def left_to_decide(profile: Any, step: str) -> list[str]:
    """Choices still open in ``step``'s part of the profile, as short field paths with a hint."""
    if profile is None:
        return ["open or create a profile"]
    src, tgt, work = profile.source, profile.target, profile.workload
    out: list[str] = []
    if step == "inventory":
        if src.provider == "aws" and not src.instance_type:
            out.append("source.instance_type")
        if src.provider != "aws" and not src.gpu_model:
            out.append("source.gpu_model")
        if not tgt.machine_type:
            out.append("target.machine_type (accept a recommendation)")
        if not tgt.project:
            out.append("target.project")
    elif step == "cost":
        if src.hourly_usd is None and not (src.provider == "aws" and src.instance_type):
            out.append("source.hourly_usd (no catalog price without an AWS instance type)")
        if not _set(tgt, "pricing"):
            out.append("target.pricing")
        if not _set(work, "source_hours_per_run"):
            out.append("workload.source_hours_per_run")
        if not (_set(work, "target_hours_per_run") or _set(work, "speedup")):
            out.append("workload.speedup or target_hours_per_run")
    elif step == "transfer":
        if not profile.transfer:
            out.append("add a [[transfer]] entry (source and destination)")
    elif step == "drivers":
        drv = profile.drivers
        for field in ("os_image", "framework"):
            if field not in drv.model_fields_set:
                out.append(f"drivers.{field}")
        if not _set(drv, "framework_version") and drv.framework != "none":
            out.append("drivers.framework_version")
    elif step == "verify":
        ver = profile.verify
        if not _set(ver, "baseline"):
            out.append("verify.baseline")
        if ver.model_load.command is None and ver.latency.url is None and ver.latency.command is None:
            out.append("verify.model_load.command or verify.latency")
    return out


def hint_line(profile: Any, step: str, width: int | None = None) -> str:
    """One line for the top of a screen: what is left to decide there, or that nothing is.

    ``width``: the line's room.  On an 80-column terminal the full line was cut inside its first
    item's hint, hiding the rest, so the hints go first, then items, replaced by how many more.
    """
    left = left_to_decide(profile, step)
    if not left:
        return "Nothing left to decide here."
    full = "Left to decide: " + ", ".join(left)
    if width is None or len(full) <= width:
        return full
    short = [item.split(" (", 1)[0] for item in left]
    text = "Left to decide: " + ", ".join(short)
    if len(text) <= width:
        return text
    head = f"Left to decide ({len(short)}): "
    for shown in range(len(short) - 1, 0, -1):
        text = head + ", ".join(short[:shown]) + f", +{len(short) - shown} more"
        if len(text) <= width:
            return text
    return head + short[0]


def first_mode(states: Mapping[str, str], steps: tuple[str, ...] = WALK) -> str:
    """The step to open on: the running one, else the first not done, else the last."""
    for name in steps:
        if states.get(name) == "running":
            return name
    for name in steps:
        if states.get(name) not in DONE_STATES:
            return name
    return steps[-1]


def next_step(current: str, states: Mapping[str, str], profile: Any, steps: tuple[str, ...] = WALK) -> str | None:
    """The next step after ``current`` (wrapping) that is not done or still has something to decide."""
    if not steps:
        return None
    start = steps.index(current) + 1 if current in steps else 0
    for offset in range(len(steps)):
        name = steps[(start + offset) % len(steps)]
        if name == current:
            continue
        if states.get(name) not in DONE_STATES or left_to_decide(profile, name):
            return name
    return None
