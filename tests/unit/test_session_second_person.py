"""Two people, and who drives, cannot be rewritten after the fact by the same account through gpumigrate.

An approval is judged by what the session said when it was requested: a later run (or a dry run)
of a profile that says ``shared_account = true`` does not turn one account's self-approval into
"same account, name declared".  A dry run records nothing about who may approve, and only the
driver starts steps in a session someone drives.
"""

from __future__ import annotations

import sys
import types

import pytest

from engine import runner
from engine.cutover.pairing import Pairing
from engine.cutover.section import CutoverSection
from engine.cutover.steering import NotTheDriver
from engine.errors import BadInputError
from engine.profile import Profile, SourceSection, TargetSection
from engine.session import SessionStore
from tests import runner_steps


def _profile(shared: bool, **kw: object) -> Profile:
    return Profile(source=SourceSection(provider="aws"), target=TargetSection(**kw),
                   cutover=CutoverSection(shared_account=shared))


@pytest.fixture()
def one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = types.ModuleType("tests._step_second_person_ok")
    mod.run = runner_steps.ok  # type: ignore[attr-defined]
    sys.modules[mod.__name__] = mod
    monkeypatch.setattr(runner, "STEP_MODULES", {"a": mod.__name__})
    monkeypatch.setattr(runner, "STEP_ORDER", ("a",))


def test_a_later_shared_account_does_not_make_an_earlier_self_approval_valid() -> None:
    with SessionStore.open("two") as alice:
        alice.set_shared_account(False)  # what the driver's profile says
        request = alice.request_approval("cutover", "final cutover")
        alice.set_shared_account(True)  # a later run of another profile says otherwise
    with SessionStore.open("two", operator="bob") as same_uid:
        with pytest.raises(BadInputError, match="needs a second person"):
            same_uid.decide_approval(request, True)
        assert same_uid.approval(request).state == "pending"  # type: ignore[union-attr]


def test_a_request_made_in_a_shared_account_session_still_takes_two_declared_names() -> None:
    with SessionStore.open("shared", operator="alice") as alice:
        alice.set_shared_account(True)
        request = alice.request_approval("cutover", "final cutover")
    with SessionStore.open("shared", operator="bob") as bob:
        decided = bob.decide_approval(request, True)
    assert decided.state == "approved" and decided.how_approved == "same account, name declared"


def test_a_dry_run_changes_neither_who_may_approve_nor_the_sessions_profile(one_step: None) -> None:
    with SessionStore.open("dry") as s:
        runner.run_steps(_profile(False), emit=lambda e: None, session=s)
        recorded = s.get_meta("profile_toml")
        runner.run_steps(_profile(True, gpu_count=8), emit=lambda e: None, session=s, dry_run=True)
        assert s.get_meta("shared_account") == "0"
        assert s.get_meta("profile_toml") == recorded


def test_a_dry_run_in_a_new_session_records_its_profile_for_whoever_attaches(one_step: None) -> None:
    with SessionStore.open("fresh") as s:
        runner.run_steps(_profile(True), emit=lambda e: None, session=s, dry_run=True)
        assert s.get_meta("profile_toml") and s.get_meta("shared_account") is None


def test_only_the_driver_starts_steps_in_a_session_someone_drives(one_step: None) -> None:
    with SessionStore.open("seat", operator="alice") as alice:
        alice.set_shared_account(True)
        seat = Pairing(alice, ttl_s=30, kind="tui")
        assert seat.try_drive()
        with SessionStore.open("seat", operator="bob") as bob:
            with pytest.raises(NotTheDriver, match="alice"):
                runner.run_steps(_profile(True), emit=lambda e: None, session=bob)
            assert bob.step("a") is None and bob.runs() == []
            bob.close()
        summary = runner.run_steps(_profile(True), emit=lambda e: None, session=alice)
        assert summary.ok
        seat.detach()


def test_a_second_run_while_one_is_alive_is_still_busy_for_anyone(one_step: None) -> None:
    from engine.session import SessionBusy

    with SessionStore.open("busy", operator="alice") as alice:
        alice.set_shared_account(True)
        run = alice.begin_run("holder-a", ["a"], 30.0)
        with SessionStore.open("busy", operator="bob") as bob:
            with pytest.raises(SessionBusy, match="alice"):
                runner.run_steps(_profile(True), emit=lambda e: None, session=bob)
        alice.end_run(run, 0)


SIGN_OFF_WAITER = """
import sys
from engine.cutover.approvals import require
from engine.session import SessionStore
with SessionStore.open(sys.argv[1]) as s:
    require(s, "cutover", "final cutover", poll_s=0.05)
"""


def test_a_request_whose_requester_was_killed_cannot_be_approved_any_more() -> None:
    """A sign-off (no run) killed while it waited: approving it would approve what nobody acts on."""
    import os
    import signal
    import subprocess
    import time

    from tests.cutover_support import REPO, env_for

    with SessionStore.open("orphan") as s:
        s.set_shared_account(True)
    waiter = subprocess.Popen([sys.executable, "-c", SIGN_OFF_WAITER, "orphan"], cwd=REPO, env=env_for("alice"))
    try:
        with SessionStore.open("orphan", operator="bob") as bob:
            deadline = time.monotonic() + 15
            while not bob.approvals("pending") and time.monotonic() < deadline:
                time.sleep(0.05)
            (request,) = bob.approvals("pending")
            os.kill(waiter.pid, signal.SIGKILL)
            waiter.wait(10)
            with SessionStore.open("orphan", operator="carol") as watcher:  # a --watch app notices it too
                watcher.become_watch_only()
                watcher.reconcile()
            assert bob.approvals("pending") == []
            with pytest.raises(BadInputError, match=r"already withdrawn.*requester \(pid \d+\) is gone"):
                bob.decide_approval(request.id, True)
            assert bob.approvals("pending") == []
    finally:
        waiter.kill()
        waiter.wait(10)
