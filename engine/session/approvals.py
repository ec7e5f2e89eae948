"""Approval requests in the session: who asked, who decided, and whether they were two people.

Two people means two uids.  In a session whose profile says ``[cutover]
shared_account = true`` two *declared* names on one uid are accepted, and the
approval records that it was "same account, name declared" (which proves less:
see :mod:`engine.session.identity`).  A request belongs to the run that asked
(when a run asked): it dies with that run, so nobody approves what no process
is waiting for any more.  The whole plan (every path a ``-d`` would delete) is
written to a file beside the session and its first lines and count are in the
request.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from engine.errors import BadInputError
from engine.secrets import redact
from engine.session.identity import SAME_ACCOUNT, login_name

PLAN_PREVIEW = 50
"""How many paths of a plan the request itself shows."""


@dataclass(frozen=True)
class Approval:
    id: int
    action: str
    detail: str
    requested_by: str
    requested_at: float
    state: str
    decided_by: str | None
    decided_at: float | None
    requested_uid: int | None = None
    decided_uid: int | None = None
    same_account: int = 0
    run_id: int | None = None
    plan_path: str | None = None
    plan_count: int | None = None
    reason: str | None = None
    shared_at_request: int | None = None
    """1 when the session said ``shared_account`` as the request was made (None: an older file)."""
    requested_pid: int | None = None
    requested_host: str | None = None
    requested_start: str | None = None
    """The requesting process: a request outside a run is withdrawn once it is gone (this host)."""

    @property
    def how_approved(self) -> str | None:
        """'two accounts' or 'same account, name declared' once decided; None while pending."""
        if self.decided_by is None:
            return None
        return SAME_ACCOUNT if self.same_account else "two accounts"

    def plan_preview(self, count: int = PLAN_PREVIEW) -> list[str]:
        """The first ``count`` lines of the plan file (empty when there is none or it is gone)."""
        if not self.plan_path:
            return []
        try:
            with open(self.plan_path, encoding="utf-8") as fh:
                return [line.rstrip("\n") for _, line in zip(range(count), fh)]
        except OSError:
            return []


class ApprovalsMixin:
    """Mixed into :class:`engine.session.store.SessionStore`."""

    def request_approval(self, action: str, detail: str, plan: Iterable[str] | None = None) -> int:
        """Record a request (tied to this process's run, if it has one); ``plan`` lists what it approves.

        The plan is written first and the request row carries it from the moment it exists: a
        second operator polling for pending requests never sees one without its list (approving
        that would approve what nobody saw)."""
        from engine.session.runs import process_start

        plan_path, plan_count, preview = None, None, []
        me = self.identity  # type: ignore[attr-defined]
        self.refresh_shared_account()  # type: ignore[attr-defined]
        run = self.own_run()  # type: ignore[attr-defined]
        if plan is not None:
            plan_path, plan_count, preview = self._write_plan(plan)
        try:
            with self._write() as db:  # type: ignore[attr-defined]
                cur = db.execute(
                    "INSERT INTO approvals(action, detail, requested_by, requested_at, requested_uid, run_id, "
                    "plan_path, plan_count, shared_at_request, requested_pid, requested_host, requested_start) "
                    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (action, detail, self.operator, time.time(), self.uid,  # type: ignore[attr-defined]
                     run.id if run else None, str(plan_path) if plan_path else None, plan_count,
                     int(self.shared_account), me.pid, me.host, process_start(me.pid)),  # type: ignore[attr-defined]
                )
                approval_id = int(cur.lastrowid or 0)
        except BaseException:
            if plan_path is not None:
                plan_path.unlink(missing_ok=True)
            raise
        self.append("session", "approval_requested", {  # type: ignore[attr-defined]
            "id": approval_id, "action": action, "detail": detail, "run": run.id if run else None,
            "plan_count": plan_count, "plan_first": preview, "plan_file": str(plan_path) if plan_path else None})
        return approval_id

    def _write_plan(self, plan: Iterable[str]) -> tuple[Path, int, list[str]]:
        """The plan file, named before its request exists (time and a random part: unique among
        the session's processes)."""
        from engine.session.paths import no_follow, private_file

        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(4)}.txt"
        path = private_file(Path(f"{self.path}.approvals") / name)  # type: ignore[attr-defined]
        count, preview = 0, []
        with open(path, "w", encoding="utf-8", opener=no_follow) as fh:
            for item in plan:
                line = redact(str(item)).replace("\n", "\\n")
                fh.write(line + "\n")
                if count < PLAN_PREVIEW:
                    preview.append(line)
                count += 1
        return path, count, preview

    def decide_approval(self, approval_id: int, approve: bool) -> Approval:
        """Approve or decline; approving needs a different uid (or, with ``shared_account``, a
        different declared name, recorded as such)."""
        self.reconcile()  # type: ignore[attr-defined]  # a request whose run died is withdrawn first
        self.refresh_shared_account()  # type: ignore[attr-defined]  # the profile may have said so since we opened
        same_account = 0
        with self._write() as db:  # type: ignore[attr-defined]
            row = db.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
            if row is None:
                raise BadInputError(f"no approval request #{approval_id}")
            if row["state"] != "pending":
                why = f" ({row['reason']})" if row["reason"] else ""
                by = f" by {row['decided_by']}" if row["decided_by"] else ""
                raise BadInputError(f"approval #{approval_id} was already {row['state']}{by}{why}")
            if approve:
                same_account = self._check_second_person(row)
            state = "approved" if approve else "declined"
            db.execute("UPDATE approvals SET state = ?, decided_by = ?, decided_at = ?, decided_uid = ?, "
                       "same_account = ? WHERE id = ?",
                       (state, self.operator, time.time(), self.uid, same_account, approval_id))  # type: ignore[attr-defined]
            self.append("session", f"approval_{state}", {  # type: ignore[attr-defined]
                "id": approval_id, "action": row["action"], "requested_by": row["requested_by"],
                "requested_uid": row["requested_uid"], "decided_uid": self.uid,  # type: ignore[attr-defined]
                "how": (SAME_ACCOUNT if same_account else "two accounts") if approve else None})
        return self.approval(approval_id)  # type: ignore[return-value]

    def _check_second_person(self, row: object) -> int:
        """Raises unless the decider is a second person; returns 1 for 'same account, name declared'."""
        requested_uid = row["requested_uid"]  # type: ignore[index]
        requested_by = row["requested_by"]  # type: ignore[index]
        if requested_uid is None:  # a request from before uids were recorded: names are all there is
            if (requested_by or "").casefold() == self.operator.casefold():  # type: ignore[attr-defined]
                raise BadInputError(f"approval #{row['id']} needs a second person: {requested_by} requested "  # type: ignore[index]
                                    "it and cannot approve it too")
            return 0
        if requested_uid != self.uid:  # type: ignore[attr-defined]
            return 0
        # Judged by what the session said when the request was made: a run (or dry run) of another
        # profile since then cannot make one account's own request approvable under a declared name.
        shared = row["shared_at_request"]  # type: ignore[index]
        if not (self.shared_account if shared is None else shared):  # type: ignore[attr-defined]
            raise BadInputError(
                f"approval #{row['id']} needs a second person: it was requested by {login_name(requested_uid)} "  # type: ignore[index]
                f"(uid {requested_uid}) and you are the same account; a changed LOGNAME, USER or "
                "GPUMIGRATE_OPERATOR does not make a second person. Approve it from the other person's own login "
                "(or, if your team really shares one account, set [cutover] shared_account = true in the profile; it "
                "applies to requests made after a run of that profile, not to this one)")
        # "Alice" approving alice's request is the same declared person (names compare case-insensitively)
        if not self.declared or self.declared.casefold() == (requested_by or "").casefold():  # type: ignore[attr-defined]
            raise BadInputError(
                f"approval #{row['id']} needs a second person: this session shares one account, so each person "  # type: ignore[index]
                f"declares their name in GPUMIGRATE_OPERATOR; {requested_by} requested it and you declared "
                f"{self.declared or 'no name'}")  # type: ignore[attr-defined]
        return 1

    def _withdraw_orphaned_requests(self) -> None:
        """Withdraw requests made outside a run whose requesting process is gone from this host (a
        sign-off killed while it waited): nobody would act on their approval. Inside reconcile."""
        import socket

        from engine.session.runs import same_process

        rows = self._db.execute(  # type: ignore[attr-defined]
            "SELECT id, requested_pid, requested_start FROM approvals WHERE state = 'pending' AND run_id IS NULL "
            "AND requested_pid IS NOT NULL AND requested_host = ?", (socket.gethostname(),)).fetchall()
        for row in rows:
            if not same_process(int(row["requested_pid"]), row["requested_start"]):
                self.withdraw_approval(int(row["id"]), f"its requester (pid {row['requested_pid']}) is gone")

    def _withdraw_approvals_of(self, db: object, run_id: int, why: str) -> None:
        rows = db.execute("SELECT id FROM approvals WHERE run_id = ? AND state = 'pending'",  # type: ignore[attr-defined]
                          (run_id,)).fetchall()
        for row in rows:
            self.withdraw_approval(int(row["id"]), why)

    def withdraw_approval(self, approval_id: int, why: str) -> bool:
        """Nobody waits for it any more (cancelled, timed out, its run ended or died).  False when it was
        no longer pending: decided in the same instant (the caller reads the decision)."""
        with self._write() as db:  # type: ignore[attr-defined]
            cur = db.execute("UPDATE approvals SET state = 'withdrawn', decided_at = ?, reason = ? "
                             "WHERE id = ? AND state = 'pending'", (time.time(), why, approval_id))
            if cur.rowcount:
                self.append("session", "approval_withdrawn", {"id": approval_id, "why": why})  # type: ignore[attr-defined]
        return bool(cur.rowcount)

    def approval(self, approval_id: int) -> Approval | None:
        row = self._db.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()  # type: ignore[attr-defined]
        return Approval(**dict(row)) if row else None

    def approvals(self, state: str | None = None) -> list[Approval]:
        if state:
            rows = self._db.execute("SELECT * FROM approvals WHERE state = ? ORDER BY id", (state,)).fetchall()  # type: ignore[attr-defined]
        else:
            rows = self._db.execute("SELECT * FROM approvals ORDER BY id").fetchall()  # type: ignore[attr-defined]
        return [Approval(**dict(r)) for r in rows]
