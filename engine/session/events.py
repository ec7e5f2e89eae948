"""The audit log (events) and step states of a session, and how engine events are recorded.

Recording is aggregated so that a session scales to millions of objects: the
session keeps a progress row at most every :data:`PROGRESS_EVERY_S` per step
and label (the latest one is never lost: it is written before the step's next
other event), and a per-object row only for what a person must see one by one —
failures, refusals and large objects.  Routine per-object outcomes (copied,
skipped, verified, planned, deleted) are counted and written as one
``items_aggregated`` row when the step finishes.  ``--json`` output does not go
through here and keeps every object.

Deletions are destructive, so they are counted *and* listed: every deleted
object is one line of an audit file beside the session
(``NAME.sqlite.audit/STEP-deleted.ndjson``, user-only or group-shared like the
session), written as it happens, and the session names that file (a
``deletions_listed`` row at the step's first deletion and in its
``items_aggregated`` row).  Millions of deletions thus grow a plain file, not
the database every watcher polls.

Planned actions (a dry run's ``would_copy`` / ``would_delete``) are what a dry run is for, so a
front end following the session must be able to show them: the first :data:`PLAN_LISTED` of a
step are lines of ``NAME.sqlite.audit/STEP-planned.ndjson`` (rewritten by each run), and a
``plan`` progress row, throttled like the others, carries the exact counts of all of them, the
file and how many lines it holds so far.  Only counts would leave a watcher's plan table empty.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from engine.events import Event, ItemDone, Progress, StepFinished

STEP_STATES = ("pending", "running", "completed", "failed", "interrupted", "incomplete", "skipped")
PROGRESS_EVERY_S = 0.25
LARGE_OBJECT = 64 * 1024 * 1024
"""Objects at least this big keep their own rows (start, done) in the session."""
ROUTINE_ITEM_STATUSES = frozenset({"copied", "skipped", "verified", "would_copy", "would_delete", "deleted"})
"""Per-object outcomes that are only counted in the session (``--json`` output still lists each;
deletions are also listed in the step's audit file)."""
PLAN_STATUSES = {"would_copy": "copy", "would_delete": "delete"}
_PLAN_DUE = object()
"""Held in place of a ``plan`` progress row not built yet (it is built when it is written)."""
PLAN_LISTED = 10_000
"""Planned actions listed one by one in the step's plan file (the app's plan table shows this many);
the counts in the ``plan`` progress row stay exact beyond."""


@dataclass(frozen=True)
class StoredEvent:
    """One row of the audit log; ``who`` is the acting process as the OS saw it (login, uid, pid,
    host, tty, ssh, declared), None for rows written before identities were recorded."""

    seq: int
    ts: float
    operator: str
    step: str
    kind: str
    payload: dict[str, Any]
    who: dict[str, Any] | None = None


@dataclass(frozen=True)
class StepRecord:
    name: str
    state: str
    attempt: int
    started_at: float | None
    finished_at: float | None
    updated_at: float
    profile_digest: str | None
    result: dict[str, Any] | None


@dataclass
class _Recorder:
    last_progress: dict[tuple[str, str], float] = field(default_factory=dict)
    last_state: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    """What the last progress row written per (step, label) said, without its time and rate: a
    worker waiting hours for an approval, or paused, keeps ticking, and repeating rows would
    grow the session by ~8 rows a second while nothing moves."""
    pending: dict[tuple[str, str], Any] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    deleted_files: dict[str, Any] = field(default_factory=dict)
    """step -> the open audit file listing its deletions."""
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    """step -> the plan being listed: counts, the open plan file, lines written."""
    moves: int = 0
    """How many events brought news (not a progress tick repeating what the session already holds): the run
    lease's proof that work moves while the thread that runs the steps waits (see RunLease)."""
    secrets: list[str] | None = None
    """The environment's credential values, read once (redacting each deleted path is the hot path)."""


_EVENT_COLUMNS = ("SELECT e.seq, e.ts, e.operator, e.step, e.kind, e.payload, a.login, a.uid, a.declared, a.pid, "
                  "a.host, a.tty, a.ssh FROM events e LEFT JOIN actors a ON a.id = e.actor")


def _stored(r: Any) -> StoredEvent:
    who = None
    if r["uid"] is not None:
        who = {"login": r["login"], "uid": r["uid"], "pid": r["pid"], "host": r["host"], "tty": r["tty"],
               "ssh": r["ssh"], "declared": r["declared"]}
    return StoredEvent(r["seq"], r["ts"], r["operator"], r["step"], r["kind"], json.loads(r["payload"]), who)


class EventsMixin:
    """Events and steps; mixed into :class:`engine.session.store.SessionStore`."""

    def _init_recorder(self) -> None:
        self._rec = _Recorder()
        import threading

        self._rec_lock = threading.Lock()

    # --- events ------------------------------------------------------------

    def append(self, step: str, kind: str, payload: dict[str, Any] | None = None,
               operator: str | None = None) -> int:
        """Append one event to the audit log; returns its sequence number."""
        from engine.session.store import dumps

        text = dumps(payload or {})
        with self._write() as db:  # type: ignore[attr-defined]
            cur = db.execute(
                "INSERT INTO events(ts, operator, step, kind, payload, actor) VALUES(?, ?, ?, ?, ?, ?)",
                (time.time(), operator or self.operator, step, kind, text, self._actor(db)),  # type: ignore[attr-defined]
            )
        return int(cur.lastrowid or 0)

    def record(self, event: Event) -> int:
        """Record an engine event (the runner's sink), aggregated (see the module docstring).

        Returns the new row's sequence number, or 0 when the event was only counted or held
        back.  The common cases (a progress tick inside its 250 ms, a routine object) return
        before the event is serialised: at millions of objects this is the hot path.
        """
        step = event.step
        with self._rec_lock:
            self._rec.moves += 1  # taken back below when a progress tick repeats the last state
            if isinstance(event, ItemDone) and event.status in PLAN_STATUSES:
                counts = self._rec.counts.setdefault(step, {})
                counts[event.status] = counts.get(event.status, 0) + 1
                self._list_planned(event)
                if event.ts - self._rec.last_progress.get((step, "plan"), 0.0) < PROGRESS_EVERY_S:
                    self._rec.pending[(step, "plan")] = _PLAN_DUE  # built when written (the hot path)
                    return 0
                event = self._plan_row(step, event.ts)  # the plan's counts, as a progress row
                if not self._progress_due(event):
                    return 0
            elif isinstance(event, Progress):
                if not self._progress_due(event):
                    return 0
            elif isinstance(event, ItemDone) and event.status == "deleted":
                self._list_deletion(event)
                if _routine(event.status, event.data):
                    counts = self._rec.counts.setdefault(step, {})
                    counts["deleted"] = counts.get("deleted", 0) + 1
                    return 0
                self._flush_step(step, final=False)
            elif isinstance(event, ItemDone) and _routine(event.status, event.data):
                counts = self._rec.counts.setdefault(step, {})
                counts[event.status] = counts.get(event.status, 0) + 1
                return 0
            else:
                self._flush_step(step, final=isinstance(event, StepFinished))
        return self._append_event(event)

    def _progress_due(self, event: Progress) -> bool:
        """True when a progress row must be written now; otherwise it is dropped or held back."""
        key = (event.step, event.label)
        if key[1] == "object" and (event.extra or {}).get("phase") != "failed" \
                and (event.total or 0) < LARGE_OBJECT:
            return False  # a medium object's own bar: the step's byte and file counts carry it
        state = (event.done, event.total, event.unit, event.extra)
        if self._rec.last_state.get(key) == state:
            self._rec.pending.pop(key, None)  # the latest state is already in the session
            self._rec.moves -= 1  # nothing moved: a ticker repeating itself proves no work
            return False
        if event.ts - self._rec.last_progress.get(key, 0.0) < PROGRESS_EVERY_S:
            self._rec.pending[key] = event
            return False
        self._rec.last_progress[key] = event.ts
        self._rec.last_state[key] = state
        self._rec.pending.pop(key, None)
        return True

    def _append_event(self, event: Event) -> int:
        data = event.to_dict()
        data.pop("step", None)
        kind = data.pop("event")
        return self.append(event.step, kind, data)

    def _flush_step(self, step: str, final: bool) -> None:
        """Write the step's held-back progress rows (and, at its end, the aggregated counts)."""
        for key in [k for k in self._rec.pending if k[0] == step]:
            held = self._rec.pending.pop(key)
            if held is _PLAN_DUE:
                held = self._plan_row(step, time.time())
            self._rec.last_state[key] = (held.done, held.total, held.unit, held.extra)
            self._append_event(held)
        if final:
            counts = self._rec.counts.pop(step, None)
            listed = self._rec.deleted_files.pop(step, None)
            if listed is not None:
                listed.close()
            plan = self._rec.plans.pop(step, None)
            if plan is not None:
                plan["file"].close()
            if counts:
                row: dict[str, Any] = {"counts": counts, "note": "routine per-object outcomes are counted here; "
                                                                 "--json output lists every object"}
                if listed is not None:
                    row["deleted_file"] = listed.name
                if plan is not None:
                    row["planned_file"] = plan["file"].name
                self.append(step, "items_aggregated", row)

    def deletions_file(self, step: str) -> Path:
        """Where the objects step ``step`` deleted are listed, one JSON line each."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", step)
        return Path(f"{self.path}.audit") / f"{safe}-deleted.ndjson"  # type: ignore[attr-defined]

    def plan_file(self, step: str) -> Path:
        """Where step ``step``'s latest run lists its first planned actions, one JSON line each."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", step)
        return Path(f"{self.path}.audit") / f"{safe}-planned.ndjson"  # type: ignore[attr-defined]

    def _list_planned(self, event: ItemDone) -> None:
        """Count a planned action and list it while among the first PLAN_LISTED (the file is
        rewritten by each run of the step)."""
        plan = self._rec.plans.get(event.step)
        if plan is None:
            from engine.secrets import environment_secrets
            from engine.session.paths import no_follow, private_file

            path = private_file(self.plan_file(event.step))
            plan = self._rec.plans[event.step] = {
                "file": open(path, "w", encoding="utf-8", opener=no_follow), "listed": 0,
                "counts": {"copy": 0, "copy_bytes": 0, "delete": 0, "delete_bytes": 0}}
            if self._rec.secrets is None:
                self._rec.secrets = environment_secrets()
            self._rec.last_state.pop((event.step, "plan"), None)  # a new run's plan: its first row is due
            self._rec.last_progress.pop((event.step, "plan"), None)
        action = PLAN_STATUSES[event.status]
        size = (event.data or {}).get("size")
        counts = plan["counts"]
        counts[action] += 1
        counts[f"{action}_bytes"] += int(size) if isinstance(size, (int, float)) else 0
        if plan["listed"] < PLAN_LISTED:
            from engine.secrets import redact

            plan["listed"] += 1
            plan["file"].write(json.dumps({"action": action, "path": redact(event.item, self._rec.secrets, names=True),
                                           "size": size, "detail": redact(event.detail, self._rec.secrets),
                                           "entry": (event.data or {}).get("entry")},
                                          ensure_ascii=False) + "\n")

    def _plan_row(self, step: str, ts: float) -> Progress:
        """The ``plan`` progress row: exact counts, the file and how many whole lines it holds now."""
        plan = self._rec.plans[step]
        plan["file"].flush()  # a reader trusts "listed" lines to be there
        counts = plan["counts"]
        return Progress(step, done=counts["copy"] + counts["delete"], unit="objects", label="plan",
                        extra={**counts, "file": plan["file"].name, "listed": plan["listed"]}, ts=ts)

    def _list_deletion(self, event: ItemDone) -> None:
        """Append one deleted object to its step's audit file (opened, and named in the session, once)."""
        from engine.secrets import environment_secrets, redact
        from engine.session.paths import no_follow, private_file

        fh = self._rec.deleted_files.get(event.step)
        if fh is None:
            path = private_file(self.deletions_file(event.step))
            fh = self._rec.deleted_files[event.step] = open(path, "a", encoding="utf-8", buffering=1,
                                                            opener=no_follow)
            self._rec.secrets = environment_secrets()
            self.append(event.step, "deletions_listed", {"file": str(path)})
        size = (event.data or {}).get("size")
        when = datetime.fromtimestamp(event.ts, timezone.utc).isoformat(timespec="milliseconds")
        fh.write(json.dumps({"time": when, "path": redact(event.item, self._rec.secrets, names=True), "size": size},
                            ensure_ascii=False) + "\n")

    def flush_events(self) -> None:
        """Write everything held back (closing the store does this)."""
        with self._rec_lock:
            for step in ({k[0] for k in self._rec.pending} | set(self._rec.counts) | set(self._rec.deleted_files)
                         | set(self._rec.plans)):
                self._flush_step(step, final=True)

    def work_moves(self) -> int:
        """A count that grows whenever this handle records news of work (see :attr:`_Recorder.moves`)."""
        return self._rec.moves

    def events_after(self, seq: int = 0, limit: int = 10_000) -> list[StoredEvent]:
        rows = self._db.execute(f"{_EVENT_COLUMNS} WHERE e.seq > ? ORDER BY e.seq LIMIT ?",  # type: ignore[attr-defined]
                                (seq, limit)).fetchall()
        return [_stored(r) for r in rows]

    def events_of(self, kind: str, after: int = 0, step: str | None = None) -> list[StoredEvent]:
        """Every event of one kind after ``after`` (and of one step), oldest first: the whole log, not one page.
        A long transfer writes more than :meth:`events_after`'s one read (10,000 events), and a reader looking
        for the one event that says how a step ended must not stop before it."""
        where, args = "e.seq > ? AND e.kind = ?", [after, kind]
        if step is not None:
            where, args = f"{where} AND e.step = ?", [*args, step]
        rows = self._db.execute(f"{_EVENT_COLUMNS} WHERE {where} ORDER BY e.seq", args).fetchall()  # type: ignore[attr-defined]
        return [_stored(r) for r in rows]

    def recent_events(self, count: int, skip_kinds: tuple[str, ...] = ("progress",)) -> list[StoredEvent]:
        """The last ``count`` events whose kind is not in ``skip_kinds``, oldest first."""
        marks = ",".join("?" * len(skip_kinds)) or "''"
        rows = self._db.execute(  # type: ignore[attr-defined]
            f"{_EVENT_COLUMNS} WHERE e.kind NOT IN ({marks}) ORDER BY e.seq DESC LIMIT ?", (*skip_kinds, count)
        ).fetchall()
        return [_stored(r) for r in reversed(rows)]

    def last_seq(self) -> int:
        row = self._db.execute("SELECT MAX(seq) AS m FROM events").fetchone()  # type: ignore[attr-defined]
        return int(row["m"] or 0)

    def follow(self, after: int = 0, poll_s: float = 0.05, stop: Any = None) -> Iterator[StoredEvent]:
        """Yield events as they are appended, forever (or until ``stop()`` is true)."""
        seq = after
        while not (stop and stop()):
            batch = self.events_after(seq)
            for event in batch:
                seq = event.seq
                yield event
            if not batch:
                time.sleep(poll_s)

    # --- steps -------------------------------------------------------------

    def set_step(self, name: str, state: str, result: dict[str, Any] | None = None,
                 profile_digest: str | None = None) -> None:
        """Record a step's state. A new attempt (running) or an interruption drops the previous
        attempt's result, so `session show` never prints an old outcome beside the current state."""
        from engine.session.store import dumps

        if state not in STEP_STATES:
            raise ValueError(f"unknown step state {state!r}")
        now = time.time()
        with self._write() as db:  # type: ignore[attr-defined]
            row = db.execute("SELECT attempt FROM steps WHERE name = ?", (name,)).fetchone()
            attempt = (row["attempt"] if row else 0) + (1 if state == "running" else 0)
            db.execute(
                """INSERT INTO steps(name, state, attempt, started_at, finished_at, updated_at, profile_digest, result)
                   VALUES(?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(name) DO UPDATE SET
                     state = excluded.state, attempt = excluded.attempt,
                     started_at = COALESCE(CASE WHEN excluded.state = 'running' THEN excluded.started_at END, steps.started_at),
                     finished_at = excluded.finished_at, updated_at = excluded.updated_at,
                     profile_digest = COALESCE(excluded.profile_digest, steps.profile_digest),
                     result = CASE WHEN excluded.state IN ('running', 'interrupted') THEN excluded.result
                                   ELSE COALESCE(excluded.result, steps.result) END""",
                (name, state, attempt, now if state == "running" else None,
                 now if state in ("completed", "failed", "incomplete", "skipped") else None, now, profile_digest,
                 dumps(result) if result is not None else None),
            )

    def steps(self) -> dict[str, StepRecord]:
        rows = self._db.execute("SELECT * FROM steps").fetchall()  # type: ignore[attr-defined]
        return {
            r["name"]: StepRecord(r["name"], r["state"], r["attempt"], r["started_at"], r["finished_at"],
                                  r["updated_at"], r["profile_digest"],
                                  json.loads(r["result"]) if r["result"] else None)
            for r in rows
        }

    def step(self, name: str) -> StepRecord | None:
        return self.steps().get(name)


def _routine(status: str, data: dict[str, Any] | None) -> bool:
    if status not in ROUTINE_ITEM_STATUSES:
        return False
    size = (data or {}).get("size")
    return not (isinstance(size, (int, float)) and size >= LARGE_OBJECT)
