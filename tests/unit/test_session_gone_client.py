"""A killed app (kill -9 of a TUI attached to a session) records no detach.  The next attach, `session show`
and its JSON now say it went without detaching (once, as an event in the log) instead of listing nothing
about it, or, within its heartbeat window, listing it as attached."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

import pytest

from engine.cutover.status import summarize
from engine.session import SessionStore
from tui.commands import session as cli

ATTACHED_APP = """
import sys, time
from engine.session import SessionStore
store = SessionStore.open(sys.argv[1], operator="bob")
store.attach_client("bob-web", kind="web", watch_only=True)
print("attached", flush=True)
time.sleep(60)
"""


def test_a_killed_app_is_told_from_a_live_one(capsys: pytest.CaptureFixture[str]) -> None:
    with SessionStore.open("gone-app", operator="alice") as store:
        store.attach_client("alice-tui", kind="tui")
    app = subprocess.Popen([sys.executable, "-c", ATTACHED_APP, "gone-app"], stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "attached"
        with SessionStore.open("gone-app", create=False) as store:
            assert sorted(c.holder for c in store.clients()) == ["alice-tui", "bob-web"]
        app.send_signal(signal.SIGKILL)
        app.wait()
    finally:
        app.kill()
    args = argparse.Namespace(session_command="show", name="gone-app", json=False, events=15)
    assert cli.run(args) == 0
    out = capsys.readouterr().out
    attached = out.split("attached:")[1].splitlines()[0]
    assert "(tui, pid" in attached and "web" not in attached
    assert f"'s web (pid {app.pid}" in out.split("gone:")[1] and "without detaching" in out
    assert "web (watch only)" in out and "is gone without detaching" in out  # the log says it for good
    with SessionStore.open("gone-app", create=False) as store:
        again = summarize(store)
        store.attach_client("carol-tui", kind="tui")  # the next attach: nothing more to notice
        kinds = [e.kind for e in store.events_after(0)]
    assert again["clients_gone"] == [] and [c["kind"] for c in again["clients"]] == ["tui"]
    assert kinds.count("client_gone") == 1
