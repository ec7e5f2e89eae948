"""Who is attached and who drives: clients, the driver lease, requests and offers of the seat, ticks.

The driver's seat changes hands only with both people's say: a watcher asks
(:meth:`ClientsMixin.request_control`) and the driver accepts, or the driver
offers (:meth:`ClientsMixin.offer_control`) and the recipient accepts.  A client
attached with ``--watch`` is never offered the seat.  Attaching and detaching are
audit events.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.errors import BadInputError
from engine.secrets import redact
from engine.session.liveness import prune_sightings


@dataclass(frozen=True)
class Lease:
    """Who drives a session, and whether they are still alive."""

    holder: str
    operator: str
    pid: int
    host: str
    acquired_at: float
    heartbeat_at: float
    ttl_s: float
    uid: int | None = None
    proc_start: str | None = None
    """The holder process's start (``BOOT_ID:TICKS``, see :func:`engine.session.runs.process_start`)."""

    pulse: Any = field(default=None, compare=False, repr=False)
    """How this host judges the holder's heartbeat (:class:`engine.session.liveness.Pulse`), set by the store."""

    def expired(self) -> bool:
        """No heartbeat for the lease time as this host measures it (a stopped holder's app too)."""
        return self.pulse is not None and self.pulse.quiet_s > self.pulse.ttl_s

    def process_alive(self) -> bool | None:
        """True/False when the holder's process is on this host (a reused pid is not the holder);
        None when it is elsewhere (or unknown)."""
        return _holder_alive(self.pid, self.host, self.proc_start)

    def live(self) -> bool:
        """Does somebody drive?  Not when no heartbeat came for the lease time (by this host's clock: a
        stopped app, or a holder elsewhere), nor (on this host) when the holder's process is gone: a kill
        -9'd worker frees the seat at once, not at lease expiry."""
        return self.pulse is not None and self.pulse.alive

    def seconds_left(self) -> float:
        """Seconds of silence left before the seat counts as free, as this host measures it."""
        quiet = self.pulse.quiet_s if self.pulse is not None else 0.0
        return max(0.0, self.ttl_s - quiet)


def _holder_alive(pid: int | None, host: str | None, proc_start: str | None = None) -> bool | None:
    from engine.session import runs

    if not pid or host != socket.gethostname():
        return None
    return runs.same_process(pid, proc_start)


def _my_start() -> str | None:
    from engine.session import runs

    return runs.process_start(os.getpid())


@dataclass(frozen=True)
class ControlRequest:
    """A watcher asking the driver for the seat, or (``offered_by`` set) the driver offering it."""

    id: int
    holder: str
    operator: str
    requested_at: float
    state: str
    decided_by: str | None
    decided_at: float | None
    uid: int | None = None
    offered_by: str | None = None


@dataclass(frozen=True)
class Client:
    """A process attached to the session (a TUI, a tail, a browser tab)."""

    holder: str
    operator: str
    pid: int
    host: str
    kind: str
    attached_at: float
    seen_at: float
    uid: int | None = None
    watch_only: int = 0
    proc_start: str | None = None


@dataclass(frozen=True)
class Tick:
    """A runbook item ticked by someone."""

    item: str
    ticked_by: str
    ticked_at: float
    note: str


def new_holder_id() -> str:
    """A lease holder id unique to this process and call."""
    from engine.session.identity import login_name

    return f"{login_name()}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ClientsMixin:
    """Mixed into :class:`engine.session.store.SessionStore`."""

    # --- the driver lease --------------------------------------------------

    def lease(self) -> Lease | None:
        row = self._db.execute("SELECT * FROM lease WHERE id = 1").fetchone()  # type: ignore[attr-defined]
        if not row:
            return None
        from engine.session.liveness import lease_pulse

        return Lease(row["holder"], row["operator"], row["pid"], row["host"], row["acquired_at"],
                     row["heartbeat_at"], row["ttl_s"], row["uid"], row["proc_start"], lease_pulse(self, row))

    def acquire_lease(self, holder: str, ttl_s: float = 15.0, force: bool = False) -> bool:
        """Become the driver if nobody alive is, or if ``force``; True when we hold it."""
        from engine.session.liveness import lease_pulse

        now = time.time()
        me = self.identity  # type: ignore[attr-defined]
        with self._write() as db:  # type: ignore[attr-defined]
            client = db.execute("SELECT watch_only FROM clients WHERE holder = ?", (holder,)).fetchone()
            if client is not None and client["watch_only"]:
                return False  # attached with --watch: never drives, whatever asks
            row = db.execute("SELECT holder, heartbeat_at, ttl_s, pid, host, proc_start FROM lease WHERE id = 1"
                             ).fetchone()
            free = row is None or row["holder"] == holder or not lease_pulse(self, row).alive
            if not (free or force):
                return False
            previous = row["holder"] if row else None
            db.execute(
                """INSERT INTO lease(id, holder, operator, pid, host, acquired_at, heartbeat_at, ttl_s, uid, proc_start)
                   VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, operator = excluded.operator,
                     pid = excluded.pid, host = excluded.host, uid = excluded.uid, proc_start = excluded.proc_start,
                     acquired_at = CASE WHEN lease.holder = excluded.holder THEN lease.acquired_at ELSE excluded.acquired_at END,
                     heartbeat_at = excluded.heartbeat_at, ttl_s = excluded.ttl_s""",
                (holder, self.operator, me.pid, me.host, now, now, ttl_s, me.uid,  # type: ignore[attr-defined]
                 _my_start()),
            )
            if previous != holder:
                self.append("session", "lease_acquired", {"holder": holder, "previous": previous, "forced": force})  # type: ignore[attr-defined]
                prune_sightings(db)
        return True

    def heartbeat(self, holder: str) -> bool:
        """Keep the lease alive; False means it was lost (expired and taken, or handed over)."""
        with self._write() as db:  # type: ignore[attr-defined]
            cur = db.execute("UPDATE lease SET heartbeat_at = ? WHERE id = 1 AND holder = ?", (time.time(), holder))
        return cur.rowcount == 1

    def release_lease(self, holder: str) -> None:
        with self._write() as db:  # type: ignore[attr-defined]
            cur = db.execute("DELETE FROM lease WHERE id = 1 AND holder = ?", (holder,))
            if cur.rowcount:
                self.append("session", "lease_released", {"holder": holder})  # type: ignore[attr-defined]
                prune_sightings(db)

    def _move_lease(self, db: object, from_holder: str, to: ControlRequest | Client) -> bool:
        """Inside a transaction: the seat goes from ``from_holder`` to ``to`` (whose pid/host it records)."""
        now = time.time()
        client = db.execute("SELECT * FROM clients WHERE holder = ?", (to.holder,)).fetchone()  # type: ignore[attr-defined]
        pid, host = (client["pid"], client["host"]) if client else (0, "")
        start = client["proc_start"] if client else None
        old = db.execute("SELECT operator FROM lease WHERE id = 1").fetchone()  # type: ignore[attr-defined]
        cur = db.execute("UPDATE lease SET holder = ?, operator = ?, pid = ?, host = ?, uid = ?, acquired_at = ?, "  # type: ignore[attr-defined]
                         "heartbeat_at = ?, proc_start = ? WHERE id = 1 AND holder = ?",
                         (to.holder, to.operator, pid, host, to.uid, now, now, start, from_holder))
        if cur.rowcount == 1:
            self.append("session", "lease_handed_over", {  # type: ignore[attr-defined]
                "from": from_holder, "from_operator": old["operator"] if old else None,
                "to": to.holder, "to_operator": to.operator})
            prune_sightings(db)
        return cur.rowcount == 1

    # --- attached clients ----------------------------------------------------

    def attach_client(self, holder: str, kind: str = "tui", watch_only: bool = False) -> None:
        self.reap_gone_clients()  # a killed app of before is not left "attached" beside this one
        now = time.time()
        me = self.identity  # type: ignore[attr-defined]
        with self._bookkeeping(), self._write() as db:  # type: ignore[attr-defined]
            cur = db.execute("UPDATE clients SET seen_at = ? WHERE holder = ?", (now, holder))
            if cur.rowcount:
                return
            db.execute("INSERT INTO clients(holder, operator, pid, host, kind, attached_at, seen_at, uid, watch_only, "
                       "proc_start) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (holder, self.operator, me.pid, me.host, kind, now, now, me.uid, int(watch_only),  # type: ignore[attr-defined]
                        _my_start()))
            self.append("session", "client_attached", {"holder": holder, "kind": kind, "watch_only": watch_only})  # type: ignore[attr-defined]

    def detach_client(self, holder: str) -> None:
        with self._bookkeeping(), self._write() as db:  # type: ignore[attr-defined]
            cur = db.execute("DELETE FROM clients WHERE holder = ?", (holder,))
            if cur.rowcount:
                self.append("session", "client_detached", {"holder": holder})  # type: ignore[attr-defined]
                prune_sightings(db)

    def clients(self, fresh_within_s: float = 30.0) -> list[Client]:
        """Clients seen lately: on this host, whose process is there and heartbeat within ``fresh_within_s``
        (a killed app records no detach; a reused pid is not the client: its start time is compared too);
        on another host, whose heartbeat this host saw change within ``fresh_within_s`` by its own clock
        (that host's clock is never compared with ours: see :mod:`engine.session.liveness`)."""
        rows = self._db.execute("SELECT * FROM clients ORDER BY attached_at").fetchall()  # type: ignore[attr-defined]
        out = []
        for c in (Client(**dict(r)) for r in rows):
            pulse = self.pulse("client", c.holder, pid=c.pid, host=c.host, proc_start=c.proc_start,  # type: ignore[attr-defined]
                               heartbeat_at=c.seen_at, ttl_s=fresh_within_s)
            if pulse.alive:
                out.append(c)
        return out

    def reap_gone_clients(self) -> list[Client]:
        """Clients whose process is gone on this host: a killed app (kill -9, a closed terminal) records no
        detach.  Each one's row goes and one ``client_gone`` event says whose app it was and that it went
        without detaching, in the name of whoever noticed; returns them.  Clients on other hosts are left
        to their heartbeat (``clients`` stops listing them after ``fresh_within_s``)."""
        rows = self._db.execute("SELECT * FROM clients").fetchall()  # type: ignore[attr-defined]
        gone = [c for c in (Client(**dict(r)) for r in rows) if _holder_alive(c.pid, c.host, c.proc_start) is False]
        if not gone:
            return []
        reaped = []
        with self._bookkeeping(), self._write() as db:  # type: ignore[attr-defined]
            for c in gone:
                cur = db.execute("DELETE FROM clients WHERE holder = ? AND pid = ?", (c.holder, c.pid))
                if cur.rowcount:
                    reaped.append(c)
                    self.append("session", "client_gone", {  # type: ignore[attr-defined]
                        "holder": c.holder, "operator": c.operator, "kind": c.kind, "pid": c.pid, "host": c.host,
                        "watch_only": bool(c.watch_only), "last_seen_at": c.seen_at})
            prune_sightings(db)
        return reaped

    def client(self, holder: str) -> Client | None:
        row = self._db.execute("SELECT * FROM clients WHERE holder = ?", (holder,)).fetchone()  # type: ignore[attr-defined]
        return Client(**dict(row)) if row else None

    # --- requests for the seat, and offers of it -------------------------------

    def request_control(self, holder: str) -> int:
        """A watcher asks to drive; the driver accepts or declines."""
        client = self.client(holder)
        if client is not None and client.watch_only:
            raise BadInputError("this client was attached with --watch: it cannot drive")
        with self._write() as db:  # type: ignore[attr-defined]
            db.execute("UPDATE control_requests SET state = 'withdrawn' WHERE holder = ? AND state = 'pending'",
                       (holder,))
            cur = db.execute("INSERT INTO control_requests(holder, operator, requested_at, uid) VALUES(?, ?, ?, ?)",
                             (holder, self.operator, time.time(), self.uid))  # type: ignore[attr-defined]
            request_id = int(cur.lastrowid or 0)
            self.append("session", "control_requested", {"id": request_id, "holder": holder})  # type: ignore[attr-defined]
        return request_id

    def control_request(self, request_id: int) -> ControlRequest | None:
        row = self._db.execute("SELECT * FROM control_requests WHERE id = ?", (request_id,)).fetchone()  # type: ignore[attr-defined]
        return ControlRequest(**dict(row)) if row else None

    def control_requests(self, state: str | None = "pending") -> list[ControlRequest]:
        if state:
            rows = self._db.execute("SELECT * FROM control_requests WHERE state = ? ORDER BY id", (state,))  # type: ignore[attr-defined]
        else:
            rows = self._db.execute("SELECT * FROM control_requests ORDER BY id")  # type: ignore[attr-defined]
        return [ControlRequest(**dict(r)) for r in rows.fetchall()]

    def decide_control(self, request_id: int, accept: bool, holder: str) -> ControlRequest:
        """The driver (``holder``) accepts (handing the lease over) or declines a watcher's request.

        The lease check, the request's new state and the hand-over are one transaction, so
        the audit log never says "accepted" for a hand-over that did not happen.
        """
        with self._write() as db:  # type: ignore[attr-defined]
            lease = db.execute("SELECT holder FROM lease WHERE id = 1").fetchone()
            if lease is None or lease["holder"] != holder:
                raise BadInputError("only the driver can accept or decline a request for control")
            row = db.execute("SELECT * FROM control_requests WHERE id = ?", (request_id,)).fetchone()
            if row is None or row["offered_by"] is not None:
                raise BadInputError(f"no request for control #{request_id}")
            if row["state"] != "pending":
                raise BadInputError(f"control request #{request_id} was already {row['state']}")
            db.execute("UPDATE control_requests SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                       ("accepted" if accept else "declined", self.operator, time.time(), request_id))  # type: ignore[attr-defined]
            if accept:
                self._move_lease(db, holder, ControlRequest(**dict(row)))
            self.append("session", "control_accepted" if accept else "control_declined",  # type: ignore[attr-defined]
                        {"id": request_id, "to": row["operator"], "holder": row["holder"]})
        return self.control_request(request_id)  # type: ignore[return-value]

    def offer_control(self, holder: str, to_holder: str) -> int:
        """The driver offers the seat to an attached client; it moves only when they accept."""
        with self._write() as db:  # type: ignore[attr-defined]
            lease = db.execute("SELECT holder FROM lease WHERE id = 1").fetchone()
            if lease is None or lease["holder"] != holder:
                raise BadInputError("only the driver can hand over the driver's seat")
            client = db.execute("SELECT * FROM clients WHERE holder = ?", (to_holder,)).fetchone()
            if client is None:
                raise BadInputError("that client is not attached any more")
            if client["watch_only"]:
                raise BadInputError(f"{client['operator']} attached with --watch and cannot be handed the seat")
            db.execute("UPDATE control_requests SET state = 'withdrawn' WHERE offered_by = ? AND state = 'pending'",
                       (holder,))
            cur = db.execute("INSERT INTO control_requests(holder, operator, requested_at, uid, offered_by) "
                             "VALUES(?, ?, ?, ?, ?)",
                             (to_holder, client["operator"], time.time(), client["uid"], holder))
            offer_id = int(cur.lastrowid or 0)
            self.append("session", "control_offered", {"id": offer_id, "to": client["operator"], "holder": to_holder})  # type: ignore[attr-defined]
        return offer_id

    def answer_offer(self, offer_id: int, accept: bool, holder: str) -> ControlRequest:
        """The recipient (``holder``) accepts or declines the driver's offer."""
        with self._write() as db:  # type: ignore[attr-defined]
            row = db.execute("SELECT * FROM control_requests WHERE id = ?", (offer_id,)).fetchone()
            if row is None or row["offered_by"] is None or row["holder"] != holder:
                raise BadInputError(f"no offer #{offer_id} to this client")
            if row["state"] != "pending":
                raise BadInputError(f"offer #{offer_id} was already {row['state']}")
            moved = accept and self._move_lease(db, row["offered_by"], ControlRequest(**dict(row)))
            state = "accepted" if moved else ("declined" if not accept else "withdrawn")
            db.execute("UPDATE control_requests SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                       (state, self.operator, time.time(), offer_id))  # type: ignore[attr-defined]
            self.append("session", f"offer_{state}", {"id": offer_id, "from": row["offered_by"]})  # type: ignore[attr-defined]
        return self.control_request(offer_id)  # type: ignore[return-value]

    def offers_for(self, holder: str) -> list[ControlRequest]:
        rows = self._db.execute("SELECT * FROM control_requests WHERE holder = ? AND offered_by IS NOT NULL "  # type: ignore[attr-defined]
                                "AND state = 'pending' ORDER BY id", (holder,)).fetchall()
        return [ControlRequest(**dict(r)) for r in rows]

    # --- the runbook ----------------------------------------------------------

    def tick(self, item: str, note: str = "") -> Tick:
        now = time.time()
        with self._write() as db:  # type: ignore[attr-defined]
            row = db.execute("SELECT * FROM runbook_ticks WHERE item = ?", (item,)).fetchone()
            if row is not None:
                raise BadInputError(f"runbook item {item!r} was already ticked by {row['ticked_by']}")
            db.execute("INSERT INTO runbook_ticks(item, ticked_by, ticked_at, note) VALUES(?, ?, ?, ?)",
                       (item, self.operator, now, note))  # type: ignore[attr-defined]
            self.append("runbook", "runbook_ticked", {"item": item, "note": note})  # type: ignore[attr-defined]
        return Tick(item, self.operator, now, redact(note))  # type: ignore[attr-defined]

    def untick(self, item: str) -> None:
        with self._write() as db:  # type: ignore[attr-defined]
            cur = db.execute("DELETE FROM runbook_ticks WHERE item = ?", (item,))
            if cur.rowcount:
                self.append("runbook", "runbook_unticked", {"item": item})  # type: ignore[attr-defined]

    def ticks(self) -> dict[str, Tick]:
        rows = self._db.execute("SELECT * FROM runbook_ticks").fetchall()  # type: ignore[attr-defined]
        return {r["item"]: Tick(**dict(r)) for r in rows}
