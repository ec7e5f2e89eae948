"""Sign-off: who approved (or rejected) a verification, recorded in the session's audit log."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Literal

from engine.errors import BadInputError
from engine.session import SessionStore
from engine.verify.suite import VerifyReport

STEP = "verify"
KIND = "signoff"


def report_digest(report: VerifyReport) -> str:
    """A digest of what was signed: the results, not the sign-offs themselves."""
    data = report.to_dict()
    data.pop("signoffs", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def sign_off(session: SessionStore, report: VerifyReport, decision: Literal["approved", "rejected"],
             note: str = "") -> dict[str, Any]:
    """Record a decision; approving a report with a failed or errored check is refused."""
    if report.mode != "verify":
        raise BadInputError("a baseline capture is not signed off; verify the target against it first")
    if decision == "approved" and not report.ok:
        bad = [r.name for r in report.results if not r.ok]
        raise BadInputError(f"cannot approve: {', '.join(bad)} did not pass; fix and verify again, or reject")
    payload = {"decision": decision, "note": note[:2000], "summary": report.summary(), "counts": report.counts(),
               "report_digest": report_digest(report), "profile_name": report.profile_name}
    seq = session.append(STEP, KIND, payload)
    entry = {**payload, "operator": session.operator, "ts": time.time(), "seq": seq}
    report.signoffs.append(entry)
    return entry


def signoffs(session: SessionStore) -> list[dict[str, Any]]:
    """Every recorded sign-off, oldest first, with who and when."""
    return [{**e.payload, "operator": e.operator, "ts": e.ts, "seq": e.seq}
            for e in session.events_after(0) if e.step == STEP and e.kind == KIND]
