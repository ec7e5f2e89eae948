"""Every ``gpumigrate session`` subcommand run by someone who does not drive: steering is refused.

Alice drives (she holds the seat and a run is alive); Bob is a second person on the
same shared account (declared names). Each subcommand the parser knows is run as Bob,
in-process. Only a second person's part may change the session: ticking a runbook
item, approving or declining. ``share``/``unshare`` are about OS ownership and are
walked as a real second user in tests/services/test_session_users.py; ``attach`` opens
the app, walked in tests/tui/test_watch_walk.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from engine.session import SessionStore
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


def test_no_session_subcommand_lets_a_non_driver_steer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    profile = write_profile(tmp_path, files=1, bwlimit=None, shared_account=True)
    shared_session("walk")
    alice = SessionStore.open("walk", operator="alice")
    alice.set_meta("profile_path", str(profile))
    assert alice.acquire_lease("alice-app", ttl_s=600)
    alice.begin_run("alice-run", ["transfer"], ttl_s=600)
    alice.request_approval("transfer-delete", "delete 1 object", ["x"])
    monkeypatch.setenv("GPUMIGRATE_OPERATOR", "bob")
    argv = {"approve": ["1"], "decline": ["1"], "tick": ["1"], "tail": ["--no-follow"],
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
                continue
            assert after == before, f"`session {name}` as a watcher changed the session (exit {code})"
            if name in ("pause", "continue", "cancel", "resume"):
                assert code == 2 and "alice" in capsys.readouterr().err
        assert {n for n, _ in walked} >= {"list", "show", "tail", "export", "pause", "continue", "cancel", "resume",
                                          "approve", "decline", "tick"}
    finally:
        alice.close()
