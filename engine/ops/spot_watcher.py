"""The spot preemption watcher: a bash script and its systemd unit.

Rendered from templates with ``@@NAME@@`` placeholders.  Every profile value
is checked again against its allow-list pattern here (a profile built in code
skips load-time validation) and then shell-quoted, so nothing in a profile can
change what the script does beyond the arguments it passes.
"""

from __future__ import annotations

import re
import shlex
from importlib import resources
from typing import TYPE_CHECKING

from engine.errors import BadInputError
from engine.ops.section import (ABS_PATH_PATTERN, ARGV_WORD_PATTERN, LABEL_VALUE_PATTERN, UNIX_USER_PATTERN,
                                migration_label)

if TYPE_CHECKING:  # pragma: no cover
    from engine.profile import Profile

SCRIPT_NAME = "gpumigrate-spot-watcher.sh"
UNIT_NAME = "gpumigrate-spot-watcher.service"
SCRIPT_PATH = "/usr/local/bin/gpumigrate-spot-watcher.sh"
KILL_AFTER_S = 2
"""Seconds ``timeout`` waits after SIGTERM before it SIGKILLs a checkpoint that overran."""
NOTICE_READ_S = 2
"""The longest a plain read of the notice may take (on stop, and the first read)."""
BUDGET_S = 25
"""Everything between the notice and the end of the checkpoint must fit well inside the ~30 s a
spot VM gets (Compute Engine preemption docs); 25 leaves the rest of the shutdown its share."""


def stop_budget_s(ops: object) -> int:
    """Worst case from the notice to the end of the checkpoint: a failed read and its retry wait,
    the notice read, the checkpoint's limit, and the kill grace."""
    return int(getattr(ops, "poll_interval_s")) + NOTICE_READ_S + int(getattr(ops, "checkpoint_timeout_s")) + \
        KILL_AFTER_S


def wanted(profile: "Profile") -> bool:
    """Whether the profile asks for a watcher ("auto": only for spot targets)."""
    mode = profile.ops.spot_watcher
    return mode == "always" or (mode == "auto" and profile.target.pricing == "spot")


def _check(value: str, pattern: str, what: str) -> str:
    if not isinstance(value, str) or not re.match(pattern, value):
        raise BadInputError(f"[ops].{what}: {value!r} is not allowed (must match {pattern})")
    return value


def _argv(words: list[str], what: str) -> str:
    return " ".join(shlex.quote(_check(w, ARGV_WORD_PATTERN, what)) for w in words)


def _template(name: str) -> str:
    return resources.files("engine.ops").joinpath("templates", name).read_text(encoding="utf-8")


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    leftover = re.findall(r"@@[A-Z_]+@@", text)
    if leftover:
        raise RuntimeError(f"template placeholders left unfilled: {sorted(set(leftover))}")
    return text


def render_script(profile: "Profile") -> str:
    ops = profile.ops
    return _fill(_template("spot-watcher.sh.tmpl"), {
        "LABEL": _check(migration_label(profile), LABEL_VALUE_PATTERN, "label"),
        "POLL_INTERVAL_S": str(int(ops.poll_interval_s)),
        "CHECKPOINT_TIMEOUT_S": str(int(ops.checkpoint_timeout_s)),
        "KILL_AFTER_S": str(KILL_AFTER_S),
        "NOTICE_READ_S": str(NOTICE_READ_S),
        "STATE_DIR": shlex.quote(_check(ops.state_dir, ABS_PATH_PATTERN, "state_dir")),
        "CHECKPOINT_CMD": _argv(ops.checkpoint_command, "checkpoint_command"),
        "RESUME_CMD": _argv(ops.resume_command, "resume_command"),
    })


def render_unit(profile: "Profile") -> str:
    ops = profile.ops
    return _fill(_template("spot-watcher.service.tmpl"), {
        "LABEL": _check(migration_label(profile), LABEL_VALUE_PATTERN, "label"),
        "USER": _check(ops.watcher_user, UNIX_USER_PATTERN, "watcher_user"),
        "SCRIPT_PATH": SCRIPT_PATH,
        "STOP_TIMEOUT_S": str(stop_budget_s(ops)),
    })
