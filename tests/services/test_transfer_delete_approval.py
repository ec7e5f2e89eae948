"""Two-person approval before -d deletions ([cutover] require_approval = ["transfer-delete"])."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine.errors import BadInputError, ExitCode
from engine.events import Event, Message
from engine.profile import parse_profile
from engine.runner import run_steps
from engine.session import SessionStore
from tests.transfer_support import read_local, write_local

HEAD = """
[source]
provider = "aws"
[target]
machine_type = "a2-highgpu-1g"
[workload]
runs_per_month = 20
"""


def make_pair(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    src, dst = tmp_path / "src", tmp_path / "dst"
    tree = {f"keep/{i}.txt": f"v{i}".encode() for i in range(8)}
    write_local(src, {**tree, "new.txt": b"new"})
    write_local(dst, {**tree, "stale/a": b"1", "stale/b": b"2"})
    return src, dst, tree


def profile_text(src: Path, dst: Path, approval: str = '["transfer-delete"]') -> str:
    return HEAD + f"""
[[transfer]]
src = "{src}"
dst = "{dst}"
delete = true
max_delete = 2

[cutover]
require_approval = {approval}
shared_account = true
"""


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_in_thread(profile, session: SessionStore, tmp_path: Path):
    events: list[Event] = []
    out: dict = {}

    def go() -> None:
        out["summary"] = run_steps(profile, ["transfer"], emit=events.append, session=session,
                                   profile_path=tmp_path / "p.toml")

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread, events, out


def wait_pending(store: SessionStore, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = store.approvals("pending")
        if pending:
            return pending[0]
        time.sleep(0.05)
    raise AssertionError("no approval was requested")


def test_a_second_operator_approves_then_deletions_run(tmp_path: Path) -> None:
    src, dst, tree = make_pair(tmp_path)
    before = snapshot(dst)
    driver = SessionStore.open("cutover", operator="alice")
    other = SessionStore.open("cutover", operator="bob")
    thread, events, out = run_in_thread(parse_profile(profile_text(src, dst)), driver, tmp_path)
    request = wait_pending(other)
    assert request.action == "transfer-delete" and request.requested_by == "alice"
    assert "delete 2 destination object(s)" in request.detail
    # the approver sees what would be deleted: the paths, their count, and a file with all of them
    assert request.plan_count == 2 and request.plan_preview() == ["stale/a", "stale/b"]
    assert oct(Path(request.plan_path).stat().st_mode & 0o777) == "0o600"
    time.sleep(0.3)
    assert snapshot(dst) == before  # waiting: nothing copied, nothing deleted yet
    # the same login cannot approve its own request
    with pytest.raises(BadInputError, match="needs a second person"):
        SessionStore.open("cutover", operator="alice").decide_approval(request.id, True)
    other.decide_approval(request.id, True)
    thread.join(60)
    summary = out["summary"]
    assert summary.ok, summary.results["transfer"].summary
    assert read_local(dst) == {**tree, "new.txt": b"new"}
    assert summary.results["transfer"].data["deleted"] == 2
    decided = driver.approval(request.id)
    assert (decided.state, decided.requested_by, decided.decided_by) == ("approved", "alice", "bob")
    assert any("approved by bob" in e.text for e in events if isinstance(e, Message))
    kinds = [e.kind for e in driver.events_after(0)]
    assert "approval_requested" in kinds and "approval_approved" in kinds


def test_declined_fails_the_step_and_changes_nothing(tmp_path: Path) -> None:
    src, dst, _tree = make_pair(tmp_path)
    before = snapshot(dst)
    driver = SessionStore.open("cutover2", operator="alice")
    other = SessionStore.open("cutover2", operator="carol")
    thread, _events, out = run_in_thread(parse_profile(profile_text(src, dst)), driver, tmp_path)
    other.decide_approval(wait_pending(other).id, False)
    thread.join(60)
    summary = out["summary"]
    result = summary.results["transfer"]
    assert not summary.ok and summary.exit_code == ExitCode.FAILED
    assert "declined by carol" in result.summary and "nothing was done" in result.summary
    assert snapshot(dst) == before
    assert driver.step("transfer").state == "failed"


def test_no_approval_when_the_profile_does_not_ask_or_nothing_would_be_deleted(tmp_path: Path) -> None:
    src, dst, tree = make_pair(tmp_path)
    session = SessionStore.open("solo", operator="alice")
    summary = run_steps(parse_profile(profile_text(src, dst, approval="[]")), ["transfer"], emit=lambda e: None,
                        session=session, profile_path=tmp_path / "p.toml")
    assert summary.ok and read_local(dst) == {**tree, "new.txt": b"new"}
    # a second run plans no deletions: it does not wait for anyone even though the profile asks
    again = run_steps(parse_profile(profile_text(src, dst) + "lease_ttl_s = 15.0\n"), ["transfer"],
                      emit=lambda e: None, session=session, profile_path=tmp_path / "p.toml")
    assert again.ok and session.approvals() == []
