"""Several real processes on one session: concurrent writers, a follower, a killed holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from engine.session import SessionStore
from tests.conftest import REPO

_WRITER = textwrap.dedent("""
    import sys
    from engine.session import SessionStore
    name, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with SessionStore.open(name, operator=who) as s:
        for i in range(n):
            s.append("test", "tick", {"i": i, "who": who})
""")

_FOLLOWER = textwrap.dedent("""
    import sys, json
    from engine.session import SessionStore
    name, want = sys.argv[1], int(sys.argv[2])
    seen = []
    with SessionStore.open(name) as s:
        for ev in s.follow(0, poll_s=0.01):
            if ev.kind == "tick":
                seen.append((ev.payload["who"], ev.payload["i"]))
            if len(seen) >= want:
                break
    print(json.dumps(seen))
""")

_HOLDER = textwrap.dedent("""
    import sys, time
    from engine.session import SessionStore
    with SessionStore.open(sys.argv[1], operator="holder") as s:
        assert s.acquire_lease("holder-proc", ttl_s=30.0)  # long: a loaded machine must not let it lapse
        print("held", flush=True)
        while True:
            s.heartbeat("holder-proc")
            time.sleep(0.2)
""")


def _py(code: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_two_writers_and_a_follower_at_the_same_time() -> None:
    SessionStore.open("multi").close()
    follower = _py(_FOLLOWER, "multi", "400")
    writers = [_py(_WRITER, "multi", who, "200") for who in ("alice", "bob")]
    for w in writers:
        assert w.wait(60) == 0, w.stderr.read()
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    import json

    seen = json.loads(out)
    assert len(seen) == 400
    for who in ("alice", "bob"):  # each writer's events arrive complete and in order
        assert [i for w, i in seen if w == who] == list(range(200))
    with SessionStore.open("multi") as s:
        seqs = [e.seq for e in s.events_after(0)]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_a_killed_holders_lease_is_free_at_once_and_can_be_claimed() -> None:
    """The holder's lease has 30 s to run: only the check of its process (gone on this host) can free
    it within the 5 s below (expiry by time alone: tests/unit/test_session_store.py)."""
    SessionStore.open("killed").close()
    holder = _py(_HOLDER, "killed")
    assert holder.stdout.readline().strip() == "held"
    with SessionStore.open("killed", operator="watcher") as s:
        assert not s.acquire_lease("watcher-proc", ttl_s=1.0)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        deadline = time.time() + 5
        while not s.acquire_lease("watcher-proc", ttl_s=1.0):
            assert time.time() < deadline, "the dead holder's lease was not freed"
            time.sleep(0.1)
        lease = s.lease()
        assert lease and lease.holder == "watcher-proc" and lease.operator == s.identity.login
