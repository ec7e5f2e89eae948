"""Running check commands: argument lists, a clean environment, hard timeouts.

A command never sees the operator's environment (no cloud credentials, no
proxies): it gets a minimal one plus what ``[verify] env`` adds.  It runs in
its own process group, so a timeout kills everything it started, and the
output it printed so far is kept for the report. If the process running the
check dies first (a worker killed with kill -9), the command dies with it, and
a watcher kills the rest of its group (what it started).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from engine.secrets import redact

_PASSED_THROUGH = ("LANG", "LC_ALL", "TZ", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES")


@dataclass
class CommandRun:
    """One run: how long it took, how it ended, what it printed (stdout and stderr)."""

    argv: list[str]
    returncode: int | None
    seconds: float
    stdout: str
    stderr: str
    timed_out: bool = False
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.cancelled

    def transcript(self) -> str:
        """What a person needs to see: the command, how it ended, its output."""
        end = ("cancelled" if self.cancelled else f"timed out after {self.seconds:.1f}s" if self.timed_out
               else f"exit {self.returncode} after {self.seconds:.3f}s")
        parts = [f"$ {' '.join(self.argv)}", f"({end})"]
        if self.stdout.strip():
            parts += ["--- stdout ---", self.stdout.rstrip()]
        if self.stderr.strip():
            parts += ["--- stderr ---", self.stderr.rstrip()]
        return redact("\n".join(parts))

    def failure(self) -> str | None:
        """Why this run is unusable, or None."""
        if self.cancelled:
            return "cancelled"
        if self.timed_out:
            return f"timed out after {self.seconds:.1f}s"
        if self.returncode != 0:
            return f"exited with status {self.returncode}"
        return None


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: PATH (with this interpreter's folder first), HOME, TMPDIR, locale."""
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([bindir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": os.environ.get("HOME", tempfile.gettempdir()),
        "TMPDIR": tempfile.gettempdir(),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    for key in _PASSED_THROUGH:
        if key in os.environ:
            env[key] = os.environ[key]
    env.setdefault("LANG", "C.UTF-8")
    env.update(extra or {})
    return env


def expand(argv: list[str], base_dir: Path) -> list[str]:
    """``{python}`` and ``{profile_dir}`` placeholders."""
    return [a.replace("{python}", sys.executable).replace("{profile_dir}", str(base_dir)) for a in argv]


def run_command(argv: list[str], *, cwd: Path, timeout_s: float, env: dict[str, str] | None = None,
                cancel: threading.Event | None = None, stdin: bytes | None = None) -> CommandRun:
    """Run once; never raises for the command's own failure (a missing program is exit 127)."""
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            argv, cwd=str(cwd), env=clean_env(env), stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=_die_with_parent(),  # noqa: PLW1509 - one prctl call, prepared before the fork
        )
    except FileNotFoundError as exc:
        return CommandRun(argv, 127, time.perf_counter() - started, "", f"cannot run {argv[0]!r}: {exc.strerror}")
    except OSError as exc:
        return CommandRun(argv, 126, time.perf_counter() - started, "", f"cannot run {argv[0]!r}: {exc}")
    guard = _guard_group(proc.pid)
    try:
        return _wait(proc, argv, started, timeout_s, cancel, stdin)
    finally:
        _release(guard)


def _wait(proc: subprocess.Popen[bytes], argv: list[str], started: float, timeout_s: float,
          cancel: threading.Event | None, stdin: bytes | None) -> CommandRun:
    timed_out = cancelled = False
    deadline = started + timeout_s
    out = err = b""
    first = True
    while True:
        wait = min(0.2, max(0.0, deadline - time.perf_counter()))
        try:
            out, err = proc.communicate(input=stdin if first else None, timeout=wait)
            break
        except subprocess.TimeoutExpired:
            first = False
            if cancel is not None and cancel.is_set():
                cancelled = True
            elif time.perf_counter() < deadline:
                continue
            else:
                timed_out = True
            _kill_group(proc)
            try:
                out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # something ignores SIGKILL on its pipes; give up on them
                out, err = b"", b"(output lost: the process group did not exit)"
            break
    seconds = time.perf_counter() - started
    return CommandRun(argv, proc.returncode, seconds, out.decode("utf-8", "replace"),
                      err.decode("utf-8", "replace"), timed_out=timed_out, cancelled=cancelled)


def _die_with_parent() -> "Callable[[], None] | None":
    """Linux: the command is killed (SIGKILL) when the process running the check dies.

    A command runs in its own session (so a timeout kills its whole group), which also let it
    outlive a worker killed with kill -9: the session showed the step interrupted while the check
    still ran on the GPU, and a resume started a second copy beside it (two model loads, each timing
    the other). ``PR_SET_PDEATHSIG`` ends it with its parent; the thread that starts it waits for it
    here, so it is not ended early. Elsewhere (no prctl) None: the command runs as before."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call: nobody waits for this check
            os._exit(1)

    return preexec


_GUARD = ("import os, signal, sys\n"
          "if sys.stdin.buffer.read() != b'ended':\n"
          "    try:\n"
          "        os.killpg(int(sys.argv[1]), signal.SIGKILL)\n"
          "    except OSError:\n"
          "        pass\n")


def _guard_group(pgid: int) -> subprocess.Popen[bytes] | None:
    """A watcher that kills the command's whole process group if the process running the check dies first.

    ``PR_SET_PDEATHSIG`` ends only the command itself: what it started (torchrun's workers, a shell script's
    background jobs, a DataLoader's processes) lived on after a worker killed with kill -9, holding the GPUs
    while the resumed check measured beside them. The watcher reads a pipe only this process holds: at its
    end without the word "ended" (this process died) it kills the group. It runs in a session of its own (a
    timeout's kill of the group leaves it) and starts after the command, so its start-up is not timed.
    POSIX only; None where it cannot start (the command then runs as before)."""
    if os.name != "posix":
        return None
    try:
        return subprocess.Popen([sys.executable, "-S", "-c", _GUARD, str(pgid)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None


def _release(guard: subprocess.Popen[bytes] | None) -> None:
    """The command ended here: the watcher goes without killing anything."""
    if guard is None:
        return
    try:
        assert guard.stdin is not None
        guard.stdin.write(b"ended")
        guard.stdin.close()
    except OSError:
        pass
    try:
        guard.wait(5)
    except subprocess.TimeoutExpired:
        guard.kill()
        guard.wait()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
