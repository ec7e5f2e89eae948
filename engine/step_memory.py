"""Each step's last outcome per profile, for the app without a session (its step bar and opening step).

A session records its steps itself; without one the app forgot a completed Inventory, Cost or
Verify run when it closed, so a restart showed ○ everywhere.  Here, next to the recent-profiles
list (engine/recent.py), a small JSON file keeps per profile path and step: the state, when
(UTC), a one-line summary (redacted) and a fingerprint of the profile sections the step reads.
A record whose fingerprint no longer matches the profile is *stale*: the step shows ○ and
"profile changed since last run", never a ✓ earned on other inputs.  The file is 0600 and
holds no profile content (only digests).  Like the recent list it is best effort: a missing,
unreadable or read-only file never stops the app.

Transfers are not remembered here: their resume journals already say how their last run ended
(engine.transfer.api.last_runs), and a finished copy stays ○ because its source may change.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

STEP_SECTIONS: dict[str, tuple[str, ...]] = {
    "inventory": ("source", "inventory", "target", "workload"),
    "cost": ("source", "target", "workload", "cost", "transfer"),
    "drivers": ("target", "drivers"),
    "verify": ("name", "target", "verify", "transfer"),
}
"""The profile sections each remembered step reads: a change to any of them makes its record stale.
Inventory sizes its recommendation from [workload]; Cost sizes the one-off copy from the [[transfer]]
sources when cost.data_gb is unset; Verify checks the transferred data and names the profile in its report."""

PRICED_STEPS = ("cost",)
"""Steps whose figures also come from the price catalog: a `catalog refresh` makes their record stale."""

KEEP_PROFILES = 32
"""Records for at most this many profiles (the most recently written), so the file stays small."""


class StepOutcome(BaseModel):
    """One step's last run on one profile, as the app saw it end."""

    state: str
    at: float
    """UTC seconds since the epoch."""
    summary: str = ""
    fingerprint: str
    prices: str = ""
    """For a step priced from the catalog (cost): a stamp of the refreshed price caches it ran on."""


def _file() -> Path:
    from engine.session import state_dir

    return state_dir() / "step-outcomes.json"


def fingerprint(profile: Any, step: str) -> str | None:
    """A digest of the sections ``step`` reads; None for a step not remembered here."""
    sections = STEP_SECTIONS.get(step)
    if sections is None or profile is None:
        return None
    data = {name: profile.model_dump(mode="json", include={name}).get(name) for name in sections}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prices_stamp(step: str) -> str:
    """A digest of the refreshed price caches (their dates and sizes) for a priced step; "" for the others."""
    if step not in PRICED_STEPS:
        return ""
    from engine.catalog.load import cache_stamp

    stamp = cache_stamp()  # none: the embedded prices only, as a record from before this field had
    return hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16] if stamp else ""


def why_stale(rec: StepOutcome, profile: Any, step: str) -> str | None:
    """Why ``rec`` no longer speaks for ``step`` on ``profile`` ("profile changed", "prices changed"), or None.
    Without the prices, the app kept "✓ cost: 31% less a month" after a refresh had changed what it came from."""
    if rec.fingerprint != fingerprint(profile, step):
        return "profile changed"
    if step in PRICED_STEPS and rec.prices != prices_stamp(step):
        return "prices changed (catalog refresh)"
    return None


def _read_all() -> dict[str, dict[str, Any]]:
    """Every profile's entry as ``{"steps": {step: record}, "updated": float}``; an entry of another
    shape (a hand edit, another version's file) is dropped here, so no caller meets it."""
    from engine.session.paths import read_own_file

    try:
        raw = json.loads(read_own_file(_file()) or "{}")  # never through a link, never another login's file
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    data: dict[str, dict[str, Any]] = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("steps"), dict):
            continue
        updated = entry.get("updated")
        data[key] = {"steps": entry["steps"],
                     "updated": float(updated) if isinstance(updated, (int, float)) else 0.0}
    return data


def outcomes(profile_path: str | Path) -> dict[str, StepOutcome]:
    """The remembered outcomes for the profile at ``profile_path`` (stale ones included)."""
    entry = _read_all().get(str(Path(profile_path).resolve()), {})
    out: dict[str, StepOutcome] = {}
    for step, rec in entry.get("steps", {}).items():
        try:
            out[step] = StepOutcome.model_validate(rec)
        except ValueError:
            continue
    return out


def remember(profile_path: str | Path, profile: Any, step: str, state: str, summary: str = "") -> StepOutcome | None:
    """Keep ``step``'s outcome on this profile; None (nothing kept) for a step not remembered here."""
    digest = fingerprint(profile, step)
    if digest is None:
        return None
    from engine.secrets import redact

    line = redact(" ".join((summary or "").split()))[:200]
    outcome = StepOutcome(state=state, at=time.time(), summary=line, fingerprint=digest, prices=prices_stamp(step))
    data = _read_all()
    key = str(Path(profile_path).resolve())
    entry = data.pop(key, None)
    steps = entry["steps"] if entry is not None else {}
    steps[step] = outcome.model_dump()
    data[key] = {"steps": steps, "updated": outcome.at}
    kept = sorted(data.items(), key=lambda kv: kv[1]["updated"])
    _write(dict(kept[-KEEP_PROFILES:]))
    return outcome


def _write(data: dict[str, Any]) -> None:
    from engine.session.paths import replace_own_file

    try:
        replace_own_file(_file(), json.dumps(data, indent=1))  # 0600, never through a link (a shared state folder)
    except OSError:
        pass


def current_states(profile_path: str | Path | None, profile: Any) -> tuple[dict[str, str], dict[str, StepOutcome]]:
    """(state per step whose record matches ``profile``, the stale records): what the step bar shows."""
    if profile_path is None or profile is None:
        return {}, {}
    fresh: dict[str, str] = {}
    stale: dict[str, StepOutcome] = {}
    for step, rec in outcomes(profile_path).items():
        if why_stale(rec, profile, step) is None:
            fresh[step] = rec.state
        else:
            stale[step] = rec
    return fresh, stale


def describe(rec: StepOutcome, stale: bool | str | None) -> str:
    """One line for a step's screen: how its last run ended, or why it no longer holds (``stale``: True, or the
    reason :func:`why_stale` gives)."""
    if stale:
        return f"{stale if isinstance(stale, str) else 'profile changed'} since last run"
    when = time.strftime("%m-%d %H:%M UTC", time.gmtime(rec.at))
    return f"last run {rec.state} {when}" + (f": {rec.summary}" if rec.summary else "")
