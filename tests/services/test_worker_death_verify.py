"""A detached worker killed (kill -9) in the middle of a verify step: the step is interrupted, never completed,
and the next ``replay --session`` runs it again.

The transfer step's worker death is covered in test_cutover_worker.py (#13's
death detection: on this host a run whose process is gone is dead at once).
This is the same death for a step without a journal of its own: the verify
check's command is the "middle" (it writes a mark, then sleeps), and the count
of marks shows the second replay really ran the check instead of skipping it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.session import SessionStore
from tests.cutover_support import alive, cli, kill9, show, wait_for, worker_pid

pytestmark = pytest.mark.timeout(90)


def _profile(folder: Path) -> tuple[Path, Path]:
    marks = folder / "marks.txt"
    script = folder / "load.py"
    # The first run's command outlasts any delay on a loaded machine between its mark and the kill
    # (a 2.5 s sleep once ended before the worker was killed); a later run (the replay after the
    # death) is not held up. The mark carries the pid: the test ends the orphan the kill leaves.
    script.write_text("import os, sys, time\n"
                      "from pathlib import Path\n"
                      "first = not Path(sys.argv[1]).exists()\n"
                      "with open(sys.argv[1], 'a') as f:\n"
                      "    f.write(f'started {os.getpid()}\\n')\n"
                      "time.sleep(float(sys.argv[2]) if first else 0.1)\n")
    profile = folder / "verify.toml"
    profile.write_text('schema_version = 1\nname = "worker death"\n[source]\nprovider = "local"\n'
                       '[verify]\nchecks = ["model_load"]\n[verify.gpu]\noptional = true\n'
                       '[verify.model_load]\n'
                       f'command = ["{{python}}", "{script}", "{marks}", "60"]\n'
                       'runs = 3\nwarmup = 0\nmax_s = 60.0\n'  # 3: fewer cannot pass (one sample)
                       '[cutover]\nlease_ttl_s = 30.0\n')  # a long lease: death is not expiry
    return profile, marks


def _marks(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_worker_killed_mid_verify_records_interrupted_and_the_next_replay_runs_it_again(tmp_path: Path) -> None:
    profile, marks = _profile(tmp_path)
    pid = worker_pid(cli("replay", str(profile), "--steps", "verify", "--session", "vdeath", "--detach",
                         check=True).stdout)
    wait_for(lambda: _marks(marks) >= 1, timeout=30, what="the check's command to start")
    assert show("vdeath")["steps"]["verify"]["state"] == "running"
    kill9(pid)
    wait_for(lambda: not alive(pid), what="the worker to die")
    kill9(int(marks.read_text().split()[1]))  # the check's own process, orphaned by the kill

    info = show("vdeath")  # looking is enough: the run's process is gone on this host
    assert info["steps"]["verify"]["state"] == "interrupted", info["steps"]
    assert info["run"]["state"] == "dead"
    with SessionStore.open("vdeath", create=False) as store:
        kinds = [e.kind for e in store.events_after(0)]
        finished = [e for e in store.events_after(0) if e.step == "verify" and e.kind == "step_finished"]
    assert "run_died" in kinds and "step_interrupted" in kinds
    assert finished == []  # the dead worker never reported an end

    again = cli("replay", str(profile), "--steps", "verify", "--session", "vdeath", "--detach", check=True)
    pid2 = worker_pid(again.stdout)
    done = wait_for(lambda: (lambda i: i if i["steps"]["verify"]["state"] == "completed" else None)(show("vdeath")),
                    timeout=60, what="the replayed verify to complete")
    wait_for(lambda: not alive(pid2), what="the second worker to exit")
    assert _marks(marks) == 4, "the second replay ran the check again (it was not skipped as completed)"
    assert done["run"]["state"] == "finished" and done["run"]["exit_code"] == 0
    with SessionStore.open("vdeath", create=False) as store:
        ends = [e.payload for e in store.events_after(0) if e.step == "verify" and e.kind == "step_finished"]
    assert len(ends) == 1 and ends[0].get("ok") is True
