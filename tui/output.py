"""Headless rendering of engine events: Rich for people, NDJSON for tools.

The engine emits typed events; this is the only place the CLI turns them into
text.  ``--json`` prints one JSON object per line (each event, then a summary
line); otherwise Rich progress bars for long steps and plain lines for
messages, all on stderr-safe consoles.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import sys
import threading
import time
from typing import Any, Callable, Iterator, TextIO

from engine.events import Event, ItemDone, Message, Progress, StepFinished, StepStarted, from_dict
from engine.secrets import environment_secrets, redact_data


def non_finite_paths(obj: Any, path: str = "") -> list[str]:
    """Where ``obj`` holds NaN or an infinity (``options[1].monthly_usd``): JSON has no such numbers."""
    if isinstance(obj, float):
        return [] if math.isfinite(obj) else [path or "(top level)"]
    if isinstance(obj, dict):
        return [p for key, value in obj.items() for p in non_finite_paths(value, f"{path}.{key}" if path else str(key))]
    if isinstance(obj, (list, tuple)):
        return [p for i, value in enumerate(obj) for p in non_finite_paths(value, f"{path}[{i}]")]
    return []


def dumps_strict(obj: Any) -> str:
    """``json.dumps`` that refuses NaN and infinities (Python would write the invalid ``NaN``/``Infinity``)."""
    try:
        return json.dumps(obj, default=str, ensure_ascii=False, allow_nan=False)
    except ValueError:
        bad = non_finite_paths(obj)
        if not bad:
            raise
        from engine.errors import GpumigrateError

        raise GpumigrateError(f"refusing to write JSON with a non-finite number at {', '.join(bad[:5])} "
                              "(a bug: please report it with the profile)") from None


def print_json(obj: Any, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(dumps_strict(obj) + "\n")
    stream.flush()


class JsonSink:
    """Writes each event as one NDJSON line; thread-safe.

    Per-object lines (``ItemDone``, failures aside) are flushed at most every ``flush_every_s``: a flush per line
    cost a write(2) per copied file, a fifth of the CLI's time on many small files.  Every other
    event flushes at once, and the transfer's progress ticker writes one at least every
    ``progress_every_s``, so a reader never waits longer than that for a line.
    """

    def __init__(self, stream: TextIO | None = None, progress_every_s: float = 0.5, flush_every_s: float = 0.1):
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._last_progress: dict[tuple[str, str], float] = {}
        self.progress_every_s = progress_every_s
        self.flush_every_s = flush_every_s
        self._flushed = 0.0
        self._known = environment_secrets()
        """The environment's credential values, read once: the sink lives for one command."""
        self._pending: list[str] = []
        """Lines not yet written: held here, not in the stream, since PYTHONUNBUFFERED=1 (common in
        container images) makes every stream write a system call."""
        self.closed = False
        self.on_closed: Callable[[], None] | None = None
        """Called once when the reader of the output goes away (see :func:`output_closed`)."""

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            key = (event.step, event.label)
            last = self._last_progress.get(key, 0.0)
            done = event.total is not None and event.done >= event.total
            if event.ts - last < self.progress_every_s and not done:
                return
            self._last_progress[key] = event.ts
        line = dumps_strict(redact_data(event.to_dict(), self._known)) + "\n"
        with self._lock:
            self._pending.append(line)
            now = time.monotonic()
            routine = isinstance(event, ItemDone) and event.status != "failed"
            if not routine or now - self._flushed >= self.flush_every_s:
                self._write()
                self._flushed = now

    def _write(self) -> None:
        if self.closed:
            self._pending.clear()
            return
        try:
            if self._pending:
                self.stream.write("".join(self._pending))
                self._pending.clear()
            self.stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream itself was closed; OSError: EPIPE, ENOSPC
            self._pending.clear()
            output_closed(self, exc)

    def close(self) -> None:
        with self._lock:
            self._write()


class RichSink:
    """Rich progress bars per (step, label), messages and failures as lines.

    Rich is imported and the console built when the first event comes, not when the sink is made:
    ~20 ms of CPU that `gpumigrate transfer` otherwise spent before its first request."""

    def __init__(self, verbose: bool = False):
        self.verbose = verbose
        self._rich: tuple[Any, Any, Any] | None = None
        self._tasks: dict[tuple[str, str], tuple[Any, int]] = {}
        self._lock = threading.Lock()
        self._started = False
        self._known = environment_secrets()
        self.closed = False
        self.on_closed: Callable[[], None] | None = None
        """Called once when the reader of the output goes away (see :func:`output_closed`)."""

    def _parts(self) -> tuple[Any, Any, Any]:
        """(console, count bars, byte bars), built on first use."""
        if self._rich is None:
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress as Bars,
                                       TextColumn, TimeRemainingColumn, TransferSpeedColumn)

            class _Console(Console):
                def on_broken_pipe(self) -> None:  # Rich's own exits the process (SystemExit 1) mid-step
                    self.quiet = True
                    raise BrokenPipeError(32, "the output was closed")

            console = _Console(stderr=False, highlight=False)
            bars = Bars(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=console, transient=False)
            byte_bars = Bars(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                             TransferSpeedColumn(), TimeRemainingColumn(), console=console)
            self._rich = (console, bars, byte_bars)
        return self._rich

    @property
    def console(self) -> Any:
        return self._parts()[0]

    @property
    def _bars(self) -> Any:
        return self._parts()[1]

    @property
    def _byte_bars(self) -> Any:
        return self._parts()[2]

    def _ensure(self) -> None:
        if not self._started and self.console.is_terminal:
            self._bars.start()
            self._byte_bars.start()
            self._started = True

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                self._handle(from_dict(redact_data(event.to_dict(), self._known)))
            except OSError as exc:  # EPIPE (see _Console.on_broken_pipe), or ENOSPC
                output_closed(self, exc)

    def _handle(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            from rich.markup import escape

            self.console.print(f"[bold cyan]▶ {escape(event.description or event.step)}[/]")
        elif isinstance(event, Progress):
            if not self.console.is_terminal:
                return
            self._ensure()
            key = (event.step, event.label)
            bars = self._byte_bars if event.unit == "B" else self._bars
            if key not in self._tasks:
                task = bars.add_task(f"{event.step} {event.label}".strip(), total=event.total)
                self._tasks[key] = (bars, task)
            bars, task = self._tasks[key]
            bars.update(task, completed=event.done, total=event.total)
        elif isinstance(event, Message):
            style = {"warning": "yellow", "error": "bold red", "debug": "dim"}.get(event.level, "")
            if event.level == "debug" and not self.verbose:
                return
            prefix = {"warning": "⚠ ", "error": "✗ "}.get(event.level, "  ")
            self.console.print(f"{prefix}{event.text}", style=style or None, markup=False)
        elif isinstance(event, ItemDone):
            if event.status in ("failed", "error") or self.verbose:
                mark = "✗" if event.status in ("failed", "error") else "·"
                self.console.print(f"  {mark} {event.item} {event.status} {event.detail}".rstrip(),
                                   style="red" if mark == "✗" else "dim", markup=False)
        elif isinstance(event, StepFinished):
            from rich.markup import escape

            mark, style = ("✓", "green") if event.ok else ("✗", "bold red")
            self.console.print(f"[{style}]{mark} {escape(event.step)}[/]: {escape(event.summary)}",
                               highlight=False)

    def close(self) -> None:
        if self._started:
            self._started = False
            try:
                self._bars.stop()
                self._byte_bars.stop()
            except BrokenPipeError as exc:
                output_closed(self, exc)


def output_closed(sink: "JsonSink | RichSink", exc: BaseException) -> None:
    """The reader of stdout went away (``| head``, a log shipper that died): stop writing, point stdout at
    /dev/null (the interpreter's last flush would fail again) and tell the sink's owner through ``on_closed``.

    Without an owner the error goes on up as before. ``replay --json | head -1`` used to end with exit 0 ("every
    step passed") and its step left "running" in the session: its owner now stops the run like Ctrl-C."""
    if sink.closed:
        return
    sink.closed = True
    if sink.on_closed is not None and _guard is not None:
        _guard.said = True  # its owner says what it does about it (stops like Ctrl-C, or says its result)
    if getattr(sink, "stream", sys.stdout) is sys.stdout:  # a sink on another stream leaves stdout alone
        stdout_to_devnull()
    if sink.on_closed is None:
        raise exc
    sink.on_closed()


def stdout_to_devnull() -> None:
    """Point fd 1 at /dev/null: the interpreter's last flush (and any later print) must not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):
        pass


def console(**kwargs: Any) -> Any:
    """A Rich console on stdout whose closed output raises BrokenPipeError (see :func:`report_output`).

    Rich's own reaction is ``SystemExit(1)``: `gpumigrate cost PROFILE | head -1` exited 1, read as a failure."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(32, "the output was closed")

    return _Console(**kwargs)


class GuardedStdout:
    """``sys.stdout`` while a command runs (:func:`guard_stdout`): a write the reader can no longer take (``| head``
    gone, a closed pipe, ``> /dev/full``) is recorded instead of unwinding the command, so the command ends with
    the status it found and :func:`tui.cli.main` says on stderr that its output was lost. Before, the CLI turned
    an uncaught BrokenPipeError into exit 0: a red `transfer` whose summary line met a closed pipe "succeeded",
    and a full disk gave a traceback.

    ``raise_once``: for commands that stream while they work (transfer, replay, ``session tail``, a reverse
    sync) the first failed write still raises, so their sinks stop the work as Ctrl-C would; later writes go
    to /dev/null quietly."""

    def __init__(self, stream: TextIO, raise_once: bool = False):
        self._stream = stream
        self._raise_once = raise_once
        self.error: OSError | None = None
        """The first failed write (a BrokenPipeError: the reader went away; any other OSError: it could not be
        written, e.g. ENOSPC)."""
        self.said = False
        """Whether the command said its own result on stderr (:func:`say_closed`)."""
        self.said_cut = False
        """Whether that line already gave the exit 4 of an output cut short."""
        self.stopped = False
        """Whether the failed write unwound the command (it stopped there, see :func:`tui.cli.main`)."""

    def _failed(self, exc: OSError) -> None:
        first = self.error is None
        if first:
            self.error = exc
            if self._stream is not None:
                stdout_to_devnull()
        if first and self._raise_once:
            raise exc

    def write(self, text: str) -> int:
        if self.error is None:
            if self._stream is None:  # fd 1 was closed when Python started (`>&-`): sys.stdout is None
                self._failed(OSError(errno.EBADF, "the standard output is closed"))
                return len(text)
            try:
                return self._stream.write(text)
            except OSError as exc:
                self._failed(exc)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.error is None and self._stream is not None:
            try:
                self._stream.flush()
            except OSError as exc:
                self._failed(exc)

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def fileno(self) -> int:
        if self._stream is None:
            raise io.UnsupportedOperation("the standard output is closed")
        return self._stream.fileno()

    def __getattr__(self, name: str) -> Any:  # encoding, buffer...: the real stream's
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


_guard: GuardedStdout | None = None


@contextlib.contextmanager
def guard_stdout(raise_once: bool = False) -> Iterator[GuardedStdout]:
    """Run a command with :class:`GuardedStdout` as ``sys.stdout`` (put back afterwards)."""
    global _guard
    previous, previous_guard = sys.stdout, _guard
    if previous is None:
        _keep_fd1_taken()
    guard = _guard = GuardedStdout(previous, raise_once=raise_once)
    sys.stdout = guard  # type: ignore[assignment]
    try:
        yield guard
    finally:
        sys.stdout, _guard = previous, previous_guard


def _keep_fd1_taken() -> None:
    """With fd 1 closed (`gpumigrate ... >&-`), the next file opened gets fd 1, and a stray write to it would land
    in that file (a session database): /dev/null holds fd 1 instead."""
    try:
        os.fstat(1)
        return  # something already holds it
    except OSError:
        pass
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        if fd != 1:
            os.dup2(fd, 1)
            os.close(fd)
    except OSError:
        pass


def current_guard() -> GuardedStdout | None:
    """The guard of the command running now, if any."""
    return _guard


def stdout_failed() -> bool:
    """Whether a write to stdout failed while this command ran (see :class:`GuardedStdout`)."""
    return _guard is not None and _guard.error is not None


class OutputWatch:
    """Whether the reader of stdout went away while a command printed its result."""

    closed = False


@contextlib.contextmanager
def report_output(already_closed: bool = False) -> Iterator[OutputWatch]:
    """Print a command's result inside this block: a reader that went away (``| head -1``) ends the printing,
    not the command, whose exit status stays what it found (the CLI mapped the broken pipe to 0, Rich to 1).
    The caller says its result on stderr when ``watch.closed``."""
    watch = OutputWatch()
    watch.closed = already_closed or stdout_failed()
    try:
        yield watch
        sys.stdout.flush()
    except OSError:  # EPIPE, or ENOSPC from a stream no guard watches
        watch.closed = True
        stdout_to_devnull()
    watch.closed = watch.closed or stdout_failed()


def say_closed(result: str) -> None:
    """The one stderr line of a command that ran to its end with nobody reading its output."""
    if _guard is not None:
        _guard.said = True
        if _guard.error is not None and not isinstance(_guard.error, BrokenPipeError) and result.endswith("(exit 0)"):
            result = result[:-len("(exit 0)")] + f"(exit 4, not 0: {cut_words(_guard.error)})"
            _guard.said_cut = True
    print(f"gpumigrate: {lost_words(_guard.error if _guard else None)}; the command ran to its end: {result}",
          file=sys.stderr)


def how_lost() -> str:
    """How this command's output was lost (:func:`lost_words` of the failed write)."""
    return lost_words(_guard.error if _guard is not None else None)


def cut_words(error: OSError | None) -> str:
    """What an output that could not be written holds: nothing (stdout closed), or a cut result."""
    return "nothing was written" if error is not None and error.errno == errno.EBADF else "what it holds is cut short"


def lost_words(error: OSError | None) -> str:
    """How the output was lost: its reader went away, or it could not be written (a full disk)."""
    if error is None or isinstance(error, BrokenPipeError):
        return "the output was closed"
    return f"the output could not be written ({error.strerror or error})"


def make_sink(json_mode: bool, verbose: bool = False) -> JsonSink | RichSink:
    return JsonSink() if json_mode else RichSink(verbose=verbose)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[threading.Event]:
    """A cancel event that SIGTERM sets while the block runs (in the main thread only).

    A foreground run stopped by ``kill`` (a CI timeout, a supervisor) then ends its step
    at the next check and records it interrupted, like Ctrl-C, instead of dying mid-write.
    """
    import signal

    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: cancel.set())
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGTERM, previous)
