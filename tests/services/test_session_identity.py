"""Two-person approval as real processes: the environment cannot make one account into two people."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.session import SessionStore
from tests.cutover_support import REPO, cli, env_for, shared_session, wait_for

pytestmark = pytest.mark.timeout(60)

REQUESTER = """
import sys
from engine.cutover.approvals import require
from engine.session import SessionStore
with SessionStore.open(sys.argv[1]) as s:
    a = require(s, "transfer-delete", "delete 3 objects from gs://b", timeout=30, poll_s=0.05)
print("approved by", a.decided_by, a.how_approved, flush=True)
"""


def _ask(name: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", REQUESTER, name], cwd=REPO, env=env_for("alice", **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def test_self_approval_under_another_name_is_refused_without_shared_account() -> None:
    SessionStore.open("honest").close()
    asker = _ask("honest")
    try:
        with SessionStore.open("honest") as store:
            (request,) = wait_for(lambda: store.approvals("pending"), what="the request")
        assert request.requested_uid is not None
        for var in ("LOGNAME", "USER", "GPUMIGRATE_OPERATOR"):
            disguised = env_for("mallory" if var == "GPUMIGRATE_OPERATOR" else None, **{var: "mallory"})
            refused = cli("session", "approve", "honest", str(request.id), env=disguised)
            assert refused.returncode == 2, refused.stderr
            assert "same account" in refused.stderr and "does not make a second person" in refused.stderr
        all_three = env_for("mallory", LOGNAME="mallory", USER="mallory")
        assert cli("session", "approve", "honest", str(request.id), env=all_three).returncode == 2
        assert asker.poll() is None, "still waiting: nobody else approved"
        with SessionStore.open("honest") as store:
            assert store.approval(request.id).state == "pending"  # type: ignore[union-attr]
    finally:
        asker.kill()
        asker.wait(10)


def test_shared_account_accepts_two_declared_names_and_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    shared_session("shared")
    asker = _ask("shared")
    with SessionStore.open("shared") as store:
        (request,) = wait_for(lambda: store.approvals("pending"), what="the request")
    assert cli("session", "approve", "shared", str(request.id), operator="alice").returncode == 2
    assert cli("session", "approve", "shared", str(request.id), operator="bob", check=True)
    out, err = asker.communicate(timeout=30)
    assert asker.returncode == 0, err
    assert "approved by bob same account, name declared" in out
    cli("session", "export", "shared", "--out", str(tmp_path), check=True)
    md = (tmp_path / "shared.md").read_text()
    assert "same account, name declared" in md and "cannot prove that two people were involved" in md
