"""Every ``gpumigrate session`` subcommand run by someone who does not drive: steering is refused.

Alice drives (she holds the seat and a run is alive); Bob is a second person on the
same shared account (declared names). Each subcommand the parser knows is run as Bob,
in-process. Steering is refused and read-only commands change nothing.  Only a second
person's part may change the session, and then by exactly its one designed record in
Bob's name: ticking a runbook item, approving or declining (the product is "one drives,
the other watches and approves"; a ``--watch`` client cannot even do these:
tests/unit/test_session_store.py, tests/tui/test_watch_walk.py, and a person whose only attached
clients are ``--watch`` cannot do them from the CLI either: the last test here). ``share``/``unshare`` are about OS ownership and are
walked as a real second user in tests/services/test_session_users.py; ``attach`` opens
the app, walked in tests/tui/test_watch_walk.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from engine.session import SAME_ACCOUNT, SessionStore
from tests.cutover_support import shared_session, write_profile
from tui.cli import build_parser, main

SECOND_PERSON = {"approve", "decline", "tick"}
ELSEWHERE = {"attach", "share", "unshare"}


def _state() -> dict[str, Any]:
    with SessionStore.open("walk", create=False) as store:
        lease = store.lease()
        return {"steps": store.steps(), "runs": [(r.id, r.state, r.cancel_requested_by, r.pause_requested_by)
                                                 for r in store.runs()],
                "lease": (lease.holder, lease.operator) if lease else None, "approvals": store.approvals(),
                "ticks": store.ticks(), "meta": {k: store.get_meta(k) for k in ("profile_path", "shared_account")},
                "paused": store.get_meta("run:1:paused"), "events": store.last_seq()}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    session = build_parser()._subparsers._group_actions[0].choices["session"]  # type: ignore[union-attr]
    return dict(session._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


def _designed_record(name: str, before: dict[str, Any], after: dict[str, Any], new: list[Any]) -> None:
    """A second person's subcommand left exactly its one record, in Bob's name, and nothing else."""
    import os

    assert len(new) == 1, f"`session {name}` wrote {[e.kind for e in new]}"
    (event,) = new
    assert event.operator == "bob" and event.who["uid"] == os.getuid() and event.who["declared"] == "bob"
    assert event.who["pid"] == os.getpid()  # the process that ran the subcommand, as the OS says
    rest = {k: v for k, v in after.items() if k not in ("approvals", "ticks", "events")}
    assert rest == {k: v for k, v in before.items() if k not in ("approvals", "ticks", "events")}, name
    if name in ("approve", "decline"):
        assert after["ticks"] == before["ticks"]
        changed = [(b, a) for b, a in zip(before["approvals"], after["approvals"]) if a != b]
        assert len(after["approvals"]) == len(before["approvals"]) and len(changed) == 1, name
        (old, decided), = changed
        state = "approved" if name == "approve" else "declined"
        assert (decided.state, decided.decided_by, decided.decided_uid) == (state, "bob", os.getuid())
        assert decided.requested_by == "alice"
        if name == "approve":
            assert decided.how_approved == SAME_ACCOUNT
        assert {k: v for k, v in vars(decided).items() if k not in ("state", "decided_by", "decided_at",
                                                                      "decided_uid", "same_account")} == \
            {k: v for k, v in vars(old).items() if k not in ("state", "decided_by", "decided_at", "decided_uid",
                                                            "same_account")}
        assert event.kind == f"approval_{state}" and event.payload["id"] == decided.id
    else:
        assert after["approvals"] == before["approvals"]
        added = set(after["ticks"]) - set(before["ticks"])
        assert len(after["ticks"]) == len(before["ticks"]) + 1 and len(added) == 1
        assert after["ticks"][added.pop()].ticked_by == "bob"
        assert event.kind == "runbook_ticked"


def test_no_session_subcommand_lets_a_non_driver_steer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Each subcommand as Bob: refused (nothing changes), read-only (nothing changes), or a second person's
    part that writes exactly its one designed record (the approval decided / the item ticked, in Bob's name)."""
    profile = write_profile(tmp_path, files=1, bwlimit=None, shared_account=True)
    shared_session("walk")
    alice = SessionStore.open("walk", operator="alice")
    alice.set_meta("profile_path", str(profile))
    assert alice.acquire_lease("alice-app", ttl_s=600)
    alice.begin_run("alice-run", ["transfer"], ttl_s=600)
    first = alice.request_approval("transfer-delete", "delete 1 object", ["x"])
    second = alice.request_approval("transfer-delete", "delete 1 more object", ["y"])
    monkeypatch.setenv("GPUMIGRATE_OPERATOR", "bob")
    argv = {"approve": [str(first)], "decline": [str(second)], "tick": ["1"], "tail": ["--no-follow"],
            "export": ["--out", str(tmp_path / "out")]}
    walked = []
    try:
        for name, sub in sorted(_subcommands().items()):
            if name in ELSEWHERE:
                continue
            takes_name = any(a.dest == "name" for a in sub._actions)
            before = _state()
            code = main(["session", name, *(["walk"] if takes_name else []), *argv.get(name, [])])
            after = _state()
            walked.append((name, code))
            if name in SECOND_PERSON:
                assert code == 0, capsys.readouterr().err
                _designed_record(name, before, after, alice.events_after(before["events"]))
                continue
            assert after == before, f"`session {name}` as a watcher changed the session (exit {code})"
            if name in ("pause", "continue", "cancel", "resume"):
                assert code == 2 and "alice" in capsys.readouterr().err
        assert {n for n, _ in walked} >= {"list", "show", "tail", "export", "pause", "continue", "cancel", "resume",
                                          "approve", "decline", "tick"}
    finally:
        alice.close()


def test_a_person_attached_only_with_watch_cannot_approve_or_tick_from_the_cli(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Bob chose to be read-only (his only attached client is `--watch`): approve, decline and tick from his
    login are refused (exit 2, one line naming the fix) and change nothing.  Detached, he is the
    documented approver again (a login with no client attached may approve)."""
    profile = write_profile(tmp_path, files=1, bwlimit=None, shared_account=True)
    shared_session("watching")
    alice = SessionStore.open("watching", operator="alice")
    alice.set_meta("profile_path", str(profile))
    assert alice.acquire_lease("alice-app", ttl_s=600)
    first = alice.request_approval("transfer-delete", "delete 1 object", ["x"])
    bob = SessionStore.open("watching", operator="bob")
    bob.attach_client("bob-watch", kind="tui", watch_only=True)
    monkeypatch.setenv("GPUMIGRATE_OPERATOR", "bob")
    try:
        for argv in (["approve", "watching", str(first)], ["decline", "watching", str(first)],
                     ["tick", "watching", "1"]):
            seq = alice.last_seq()
            assert main(["session", *argv]) == 2, argv
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and "--watch" in err and "without --watch" in err, err
            assert "detach" in err and alice.last_seq() == seq and not alice.ticks(), argv
        assert alice.approval(first).state == "pending"  # type: ignore[union-attr]
        bob.detach_client("bob-watch")
        assert main(["session", "approve", "watching", str(first)]) == 0, capsys.readouterr().err
        assert alice.approval(first).state == "approved"  # type: ignore[union-attr]
    finally:
        bob.close()
        alice.close()
