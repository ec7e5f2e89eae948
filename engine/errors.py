"""Exit codes and the error types that carry them.

Front ends map an exception to an exit code in one place (the CLI's ``main``),
so engine code raises a typed error and never calls ``sys.exit``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The process exit codes every headless command uses."""

    OK = 0
    FAILED = 1
    """A step failed or a check did not pass."""
    BAD_INPUT = 2
    """Bad input or usage: a malformed profile, an unknown option."""
    INTERRUPTED = 3
    """Interrupted; re-running the same command resumes."""
    ENVIRONMENT = 4
    """Missing credentials, an unreachable service, a missing tool, the same transfer already running."""


EXIT_MEANING: dict[int, str] = {
    0: "ok",
    1: "failed: a step failed or a check did not pass",
    2: "bad input or usage",
    3: "interrupted: run the same command again to resume",
    4: "environment problem: credentials, an unreachable service, a missing tool, the same run already going",
}
"""What each exit status means, for a ``--json`` summary that a script reads instead of the manual."""


def with_exit_status(event: dict, code: int) -> dict:
    """``event`` with the status the command exits with (``ok``, ``exit_code``, ``exit_meaning``): a script reads
    them from a summary's last line, on every path, not only where the run failed to start."""
    return {**event, "ok": code == 0, "exit_code": code, "exit_meaning": EXIT_MEANING[code]}


class GpumigrateError(Exception):
    """Base of every error the engine raises on purpose (shown without a traceback)."""

    exit_code: ExitCode = ExitCode.FAILED


class BadInputError(GpumigrateError):
    """The user gave something we cannot use; the message says what and where."""

    exit_code = ExitCode.BAD_INPUT


def refuse_unknown(names: list[str], known: list[str], what: str, option: str | None = None) -> None:
    """Refuse the ``names`` not in ``known`` (bad input), naming the option they came from and each one's near
    match: `--steps: unknown step(s): verfy (verfy: did you mean verify?) (known: ...)`."""
    import difflib

    unknown = [n for n in names if n not in known]
    if unknown:
        near = [f"{n}: did you mean {m[0]}?" for n in unknown if (m := difflib.get_close_matches(n, known, n=1))]
        raise BadInputError(f"{option + ': ' if option else ''}unknown {what}(s): {', '.join(unknown)}"
                            + (f" ({'; '.join(near)})" if near else "") + f" (known: {', '.join(known)})")


class EnvironmentProblem(GpumigrateError):
    """Something outside the tool is missing; the message names what to set."""

    exit_code = ExitCode.ENVIRONMENT


RESUMES = "recorded as interrupted; a resume runs it again"
"""How a step's interruption ends when the step says nothing of its own (a transfer says what it copied and kept).
The same in every front end: each says how to resume in its own terms (replay names the command with its session,
the app its key); "run the same command again" was false for a replay without --session (a new session each time)."""


class Interrupted(GpumigrateError):
    """Work stopped part-way; its journal lets the same command resume."""

    exit_code = ExitCode.INTERRUPTED
