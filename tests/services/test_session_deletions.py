"""Many deletions through `replay --session`: the session counts them, an audit file lists them, --json lists each.

The session is the database every watcher polls; one row per deleted object would
grow it without bound at millions of objects.  What was deleted must still be on
record, so each deletion is one line of an audit file the session names.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from engine.session import SessionStore
from tests.cutover_support import cli

pytestmark = pytest.mark.timeout(90)

STALE = 600


def test_many_deletions_keep_the_session_small_and_are_listed_in_an_audit_file(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "keep").mkdir(parents=True)
    (dst / "stale").mkdir(parents=True)
    for i in range(5):
        (src / "keep" / f"{i}.txt").write_text(f"v{i}")
    for i in range(STALE):
        (dst / "stale" / f"{i:04d}.bin").write_bytes(b"x" * 10)
    profile = tmp_path / "p.toml"
    profile.write_text(f'schema_version = 1\nname = "deletions"\n[source]\nprovider = "local"\n'
                       f'[[transfer]]\nsrc = "{src}"\ndst = "{dst}"\ndelete = true\nmax_delete = {STALE}\n'
                       "[cutover]\nrequire_approval = []\n")
    done = cli("replay", str(profile), "--steps", "transfer", "--session", "many", "--json", timeout=80)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in dst.rglob("*") if p.is_file()) == [f"{i}.txt" for i in range(5)]

    # --json still lists every object
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    deleted = {e["item"] for e in lines if e.get("event") == "item_done" and e.get("status") == "deleted"}
    assert deleted == {f"stale/{i:04d}.bin" for i in range(STALE)}

    with SessionStore.open("many", create=False) as store:
        rows = store.events_after(0)
        audit = store.deletions_file("transfer")
    kinds = [e.kind for e in rows]
    assert "item_done" not in kinds  # no row per deleted (or copied) object...
    assert len(rows) < 40, kinds  # ...so 600 deletions leave a handful of rows
    (agg,) = [e.payload for e in rows if e.kind == "items_aggregated"]
    assert agg["counts"] == {"copied": 5, "deleted": STALE}
    assert agg["deleted_file"] == str(audit)
    (listed,) = [e.payload for e in rows if e.kind == "deletions_listed"]
    assert listed["file"] == str(audit)

    # the audit file: every deleted path once, with its size and a UTC time; user-only like the session
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    assert {e["path"] for e in entries} == deleted and len(entries) == STALE
    assert all(e["size"] == 10 and e["time"].endswith("+00:00") for e in entries)
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    assert stat.S_IMODE(audit.parent.stat().st_mode) == 0o700

    shown = cli("session", "show", "many", "--events", "40")
    assert shown.returncode == 0, shown.stderr
    assert f"{STALE:,} deleted" in shown.stdout and str(audit) in shown.stdout
