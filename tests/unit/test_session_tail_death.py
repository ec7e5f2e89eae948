"""`session tail` is the follower the resume and busy messages point to: when the worker it follows dies
it must say so and exit 3 with the resume command, not wait forever."""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading

import pytest

from engine.session import SessionStore
from tui.commands import session as cli


def test_tail_notices_its_workers_death_and_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with SessionStore.open("taildeath") as store:
            run_id = store.begin_run("h", ["transfer"], ttl_s=3600)
            store._db.execute("UPDATE runs SET pid = ?, proc_start = NULL WHERE id = ?",  # noqa: SLF001
                              (worker.pid, run_id))
            store.set_step("transfer", "running")
        result: list[int] = []
        args = argparse.Namespace(session_command="tail", name="taildeath", from_seq=None, json=False,
                                  no_follow=False, until_idle=False, progress=False)
        t = threading.Thread(target=lambda: result.append(cli.run(args)), daemon=True)
        t.start()
        t.join(0.5)
        assert t.is_alive()  # the worker lives: tail follows
        worker.kill()
        worker.wait()
        t.join(5)
        assert result == [3]
        err = capsys.readouterr().err
        assert "died" in err and "gpumigrate session resume taildeath" in err
    finally:
        worker.kill()
