"""The transfer engine's public API (front ends, the replay step and the cutover worker use it).

Quick use::

    from engine.transfer.api import TransferSpec, TransferControl, run_transfer, plan_transfer, verify_trees

    spec = TransferSpec(src="s3://old-bucket/data", dst="gs://new-bucket/data", delete=True, jobs=16)
    control = TransferControl()            # pause() / resume() / cancel() from any thread
    summary = run_transfer(spec, emit=print, control=control)   # journal: automatic (resumable)
    summary.copied, summary.failed, summary.failures, summary.to_event()

* ``plan_transfer(spec)`` lists and diffs without copying: counts, bytes and the actions.
* ``run_transfer(spec, emit=..., dry_run=True)`` reports exactly what would be copied and
  deleted (``ItemDone`` with status ``would_copy`` / ``would_delete``) and changes nothing.
* ``verify_trees(src, dst, manifest_path)`` compares two trees by checksum, writing the
  JSON-lines manifest ``{"path", "size", "crc32c", "md5", "sha256"}``.

Events (all with ``step="transfer"``), for a progress display:

* ``Progress(label="bytes", unit="B")`` and ``Progress(label="files")`` about 4 times a second,
  with ``rate`` (B/s), ``eta_s`` and ``extra`` = files/bytes done and total, ``listing_done``,
  ``in_flight``, the running counts (copied, deleted, skipped, failed, verified) and ``paused``.
  ``total`` is None while the listing is still streaming (copying starts before it ends).
* ``Progress(label="object", unit="B", extra={"path": p, "phase": "started"|"progress"|"done"|"failed"})``
  per object in flight (progress at most twice a second per object): feeds a live table.
* ``ItemDone`` per object: ``copied`` (data: size, crc32c, verified), ``deleted``, ``failed``
  (detail: the last error; data: action, attempts), ``would_copy``/``would_delete`` (dry run).
* ``Message`` for notes (resuming a large object) and refused deletions (level "error").

Resume: every run of the same (src, dst) pair uses the same journal (``journal=None`` picks
``<state_dir>/journals/<hash>.sqlite``, or beside the session file with ``session_path``);
re-running after a crash, ``kill -9`` or a cancel continues, including inside half-copied
large objects.  ``journal=False`` disables journalling (an in-memory journal).

Delete guards: a run with ``delete=True`` lists and diffs both sides to the end first (the
plan is spooled to a SQLite file beside the journal, so memory stays flat), then checks the guards
(the source lists empty; more deletions than ``max_delete``, default 10% of the destination's
objects or 1,000, whichever is smaller) and raises :class:`DeleteRefused` (a ``BadInputError``,
exit 2) *before anything is copied or deleted*.  ``approve_delete(planned, detail, paths)`` (optional)
is called after the guards pass and before any change, when deletions are planned; it raises to
stop the run (e.g. a declined two-person approval).  Without ``delete`` copying overlaps the
listing.

Errors: bad addresses or options raise ``BadInputError``; missing credentials or an
unreachable service raise ``EnvironmentProblem``; per-object failures never raise — they are
in ``summary.failures`` (and ``summary.ok`` is False).  A cancel returns a summary with
``interrupted=True``; callers that want an exception raise ``engine.errors.Interrupted``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from engine.errors import BadInputError, GpumigrateError
from engine.events import Emit, Message, discard
from engine.transfer.background import in_thread
from engine.transfer.backends import open_backend
from engine.transfer.control import TransferControl
from engine.transfer.execute import DeleteRefused, Failure, Transfer, TransferSummary
from engine.transfer.journal import Journal, default_journal_path, open_for_run
from engine.transfer.plan import Action, diff, without_placeholders
from engine.transfer.spec import TransferSpec
from engine.transfer.streams import parse_rate
from engine.transfer.urls import Location, parse_url
from engine.transfer.verify import VerifyReport, verify_trees

__all__ = ["Action", "DeleteRefused", "Failure", "TransferControl", "TransferPlan", "TransferSpec", "TransferSummary",
           "VerifyReport", "journal_path_for", "plan_transfer", "resolve", "run_transfer", "verify_trees"]


def resolve(spec: TransferSpec, base_dir: Path | None = None) -> tuple[Location, Location]:
    """Parse and check the spec's addresses (relative local paths resolve against ``base_dir``)."""
    if spec.engine == "sts":
        raise BadInputError("this entry asks for engine = \"sts\"; the local engine does not run it")
    src, dst = parse_url(spec.src, base_dir), parse_url(spec.dst, base_dir)
    if src.is_local and dst.is_local:
        a, b = Path(src.path), Path(dst.path)
        if a == b or a in b.parents or b in a.parents:
            raise BadInputError(f"source {a} and destination {b} overlap; pick separate folders")
    if src == dst:
        raise BadInputError("source and destination are the same location")
    if not src.is_local and src.scheme == dst.scheme and src.bucket == dst.bucket and (
            src.prefix.startswith(dst.prefix) or dst.prefix.startswith(src.prefix)):
        # gs://b/data -> gs://b/data/backup copies into itself, and with -d the source
        # listing would include (and so protect or delete) the destination's own objects.
        raise BadInputError(f"source {src.url()} and destination {dst.url()} overlap in one bucket; "
                            "pick prefixes where neither contains the other")
    if src.is_local and not Path(src.path).is_dir():
        raise BadInputError(f"source {src.path} is not a directory")
    return src, dst


def _open_pair(spec: TransferSpec, src_loc: Location, dst_loc: Location, prelist: bool = False) -> tuple[Any, Any]:
    """Both backends, the local walk following the spec's symlink rules; with ``prelist``, a
    cloud source's listing starts before the destination's client is built (see
    :mod:`engine.transfer.prelist`)."""
    from engine.transfer.backends.local_walk import copy_rules

    rules, dst_rules = copy_rules(spec.follow_symlinks, spec.skip_broken_symlinks,
                                  dst_loc.path if dst_loc.is_local else None)
    where = spec.gcs_component_prefix  # composite-upload components (listings hide them on both sides)
    jobs, small_jobs = spec.worker_counts()
    src = open_backend(src_loc, jobs=jobs, small_jobs=small_jobs, rules=rules, component_prefix=where)
    if prelist and not src_loc.is_local:
        from engine.transfer.prelist import PrelistedSource

        src = PrelistedSource(src, spec.recursive)
    try:
        dst = open_backend(dst_loc, jobs=jobs, small_jobs=small_jobs, rules=dst_rules, component_prefix=where,
                           s3_conditional_writes=spec.s3_conditional_writes, gcs_large_uploads=spec.gcs_large_uploads)
    except BaseException:
        src.close()
        raise
    return src, dst


def last_runs(specs: list[TransferSpec], base_dir: Path | None = None) -> list[tuple[str, str | None, float] | None]:
    """Each entry's last run from its resume journal (state, summary, when), read only; None for an
    entry never run here, run by Storage Transfer Service, or whose addresses do not resolve."""
    from engine.transfer.journal import last_run

    out: list[tuple[str, str | None, float] | None] = []
    for spec in specs:
        try:
            out.append(None if spec.engine == "sts" else last_run(journal_path_for(spec, base_dir)))
        except (GpumigrateError, OSError, ValueError):
            out.append(None)
    return out


def journal_path_for(spec: TransferSpec, base_dir: Path | None = None, session_path: Path | None = None) -> Path:
    """The journal file a run of ``spec`` uses (so a worker and a screen can find it)."""
    src, dst = resolve(spec, base_dir)
    return default_journal_path(src.url(), dst.url(), session_path)


@dataclass
class TransferPlan:
    """What a transfer would do, without doing it (checksum-mode checks counted as ``check``)."""

    copy: int = 0
    copy_bytes: int = 0
    delete: int = 0
    delete_bytes: int = 0
    skip: int = 0
    skip_bytes: int = 0
    """Bytes of the objects already at the destination (the cost step counts them: a move's egress)."""
    check: int = 0
    check_bytes: int = 0
    excluded: int = 0
    refused: int = 0
    conflicts: int = 0
    error: int = 0
    """Source entries that cannot be listed or stat'ed (failures; no deletion would run)."""
    notcopied: int = 0
    """Source entries not copied by rule (symlinks skipped, loops, special files)."""
    kept: int = 0
    """-d, local destination: objects the source lacks below a folder link of the destination (never deleted)."""
    source_objects: int = 0
    destination_objects: int = 0
    actions: list[Action] = field(default_factory=list)
    """The first ``keep`` actions other than skips (all of them with keep=None)."""
    truncated: bool = False


def plan_transfer(spec: TransferSpec, *, emit: Emit = discard, base_dir: Path | None = None,
                  keep: int | None = 10_000, cancel: threading.Event | None = None,
                  on_delete: Callable[[str], None] | None = None, for_sts: bool = False) -> TransferPlan:
    """List both sides and diff them (streaming); nothing is read or written.

    ``for_sts``: the deletions Storage Transfer Service would run (it keeps nothing below a source
    entry this engine lists but does not copy, see :func:`engine.transfer.plan.diff`).

    ``on_delete`` receives every path a ``-d`` would delete, however many (``keep`` bounds only
    the actions kept in memory): an approval of STS deletions lists them all from it."""
    src_loc, dst_loc = resolve(spec, base_dir)
    src, dst = _open_pair(spec, src_loc, dst_loc)
    plan = TransferPlan()

    def count(it, attr: str):
        for info in it:
            setattr(plan, attr, getattr(plan, attr) + 1)
            yield info

    try:
        for act in diff(count(without_placeholders(src.list(spec.recursive)), "source_objects"),
                        count(without_placeholders(dst.list(spec.recursive)), "destination_objects"),
                        checksum=spec.checksum, delete=spec.delete, exclude=spec.exclude,
                        dst_scheme=dst.scheme, both_cloud=not src_loc.is_local and not dst_loc.is_local,
                        keep_below_problems=not for_sts):
            if cancel is not None and cancel.is_set():
                break
            if act.kind == "copy":
                plan.copy += 1
                plan.copy_bytes += act.size
            elif act.kind == "delete":
                plan.delete += 1
                plan.delete_bytes += act.size
                if on_delete is not None:
                    on_delete(act.path)
            elif act.kind == "conflict":
                plan.conflicts += 1
            elif act.kind in ("skip", "check"):
                setattr(plan, act.kind, getattr(plan, act.kind) + 1)
                setattr(plan, f"{act.kind}_bytes", getattr(plan, f"{act.kind}_bytes") + act.size)
            else:
                setattr(plan, act.kind, getattr(plan, act.kind) + 1)
            if act.kind != "skip":
                if keep is None or len(plan.actions) < keep:
                    plan.actions.append(act)
                else:
                    plan.truncated = True
    finally:
        src.close()
        dst.close()
    return plan


def run_transfer(spec: TransferSpec, *, emit: Emit = discard, journal: str | Path | Literal[False] | None = None,
                 cancel: threading.Event | None = None, control: TransferControl | None = None,
                 dry_run: bool = False, base_dir: Path | None = None, session_path: Path | None = None,
                 retry: Any = None, approve_delete: Any = None, opened: Callable[[], None] | None = None
                 ) -> TransferSummary:
    """Run one transfer to the end (or until cancelled); per-object failures are in the summary.

    ``opened`` is called once, when both ends' clients are built (a cloud source may have begun
    listing) and before the destination is listed: a front end's start-up is over there."""
    src_loc, dst_loc = resolve(spec, base_dir)
    for pattern in spec.exclude:
        import re

        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadInputError(f"-x {pattern!r} is not a valid regular expression: {exc}") from exc
    finished = threading.Event()
    if control is None:
        control = TransferControl(cancel)
    elif cancel is not None and cancel is not control.cancel_event:
        # Link the caller's cancel to the control's for this run only: the watcher ends with the
        # run instead of waiting on ``cancel`` for ever (one leaked thread per run in a TUI).
        def _link() -> None:
            while not finished.is_set():
                if cancel.wait(0.2):
                    control.cancel()
                    return

        threading.Thread(target=_link, daemon=True, name="transfer-cancel-link").start()
    if dry_run or journal is False:
        journal_ready: Callable[[], tuple[Journal, list[Path]]] = lambda: (Journal(None), [])
    else:
        path = Path(journal) if journal else default_journal_path(src_loc.url(), dst_loc.url(), session_path)
        # Opened while the clients are built: its disk syncs overlap their CPU (engine.transfer.background).
        journal_ready = in_thread(lambda: open_for_run(path), "transfer-journal")
    try:
        src, dst = _open_pair(spec, src_loc, dst_loc, prelist=True)
    except BaseException:
        try:
            journal_ready()[0].close()  # the run lock too: a front end's next try must not find it held
        except BaseException:  # noqa: BLE001 - the backend's error is the one to report
            pass
        raise
    try:
        jr, taken = journal_ready()
    except BaseException:
        src.close()
        dst.close()
        raise
    if taken:
        emit(Message("transfer", text=f"took over the unfinished uploads an earlier run of this transfer left "
                     f"(journal {taken[0]}{f' and {len(taken) - 1} more' if len(taken) > 1 else ''})",
                     level="info"))
    jobs, small_jobs = spec.worker_counts()
    try:
        if opened is not None:
            opened()
        engine = Transfer(src=src, dst=dst, src_url=src_loc.url(), dst_url=dst_loc.url(), emit=emit, journal=jr,
                          control=control, dry_run=dry_run, recursive=spec.recursive, delete=spec.delete,
                          exclude=list(spec.exclude), checksum=spec.checksum, max_delete=spec.max_delete,
                          allow_empty_source=spec.allow_empty_source, jobs=jobs, small_jobs=small_jobs,
                          bwlimit=parse_rate(spec.bwlimit), part_threshold_mib=spec.part_threshold_mib,
                          part_size_mib=spec.part_size_mib, retry=retry, approve_delete=approve_delete)
        dst.warn = lambda text: emit(Message("transfer", text=text, level="warning"))
        summary = engine.run()
        summary.unguarded_writes = dst.unguarded
        return summary
    finally:
        finished.set()
        jr.close()
        src.close()
        dst.close()
