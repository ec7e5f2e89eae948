"""A second Unix user, for real: refused with one line naming the fix, then shared, attached, approving.

Needs root (to create the user and group for the test); skipped with the reason otherwise.
The second user runs the CLI with an interpreter it may execute (the venv's may live under
a private home: then a system Python of the same version with the venv's packages).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.cutover_support import REPO, wait_for

pytestmark = pytest.mark.timeout(120)

REQUESTER = """
import sys
from engine.cutover.approvals import require
from engine.session import SessionStore
with SessionStore.open(sys.argv[1]) as s:
    a = require(s, "transfer-delete", "delete 2 objects from gs://b", timeout=60, poll_s=0.05, plan=["a", "b"])
print("approved by", a.decided_by, "uid", a.decided_uid, a.how_approved, flush=True)
"""


def _interpreter_for(user: str) -> list[str] | None:
    candidates = [sys.executable, f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"]
    for exe in candidates:
        probe = subprocess.run(["runuser", "-u", user, "--", exe, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == str(tuple(sys.version_info[:2])):
            # a system Python skips its own site-packages (-S): the venv's come through PYTHONPATH
            return [exe] if exe == sys.executable else [exe, "-S"]
    return None


@pytest.fixture()
def bob() -> Iterator[dict[str, object]]:
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs root with useradd and runuser to create a second Unix user")
    tag = f"{os.getpid() % 100000}"
    group, user = f"gm13g{tag}", f"gm13b{tag}"
    subprocess.run(["groupadd", group], check=True)
    subprocess.run(["useradd", "--no-create-home", "--gid", group, "--shell", "/usr/sbin/nologin", user], check=True)
    state = Path(tempfile.mkdtemp(prefix="gm13-state-", dir="/tmp"))
    try:
        interpreter = _interpreter_for(user)
        if interpreter is None:
            pytest.skip(f"no Python {sys.version_info[0]}.{sys.version_info[1]} that {user} may run")
        yield {"user": user, "group": group, "uid": pwd.getpwnam(user).pw_uid, "gid": grp.getgrnam(group).gr_gid,
               "state": state, "python": interpreter}
    finally:
        shutil.rmtree(state, ignore_errors=True)
        subprocess.run(["userdel", user], check=False)
        subprocess.run(["groupdel", group], check=False)


def _env(state: Path) -> dict[str, str]:
    site = next(Path(sys.prefix, "lib").glob("python3*/site-packages"))
    return {"PATH": "/usr/bin:/bin", "GPUMIGRATE_STATE_DIR": str(state), "HOME": str(state),
            "PYTHONPATH": f"{REPO}:{site}", "PYTHONDONTWRITEBYTECODE": "1", "LOGNAME": "root", "USER": "root"}


def _as(bob: dict[str, object], *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [*bob["python"], "-c", code, *args] if code else [*bob["python"], "-m", "tui.cli", *args]  # type: ignore[misc]
    return subprocess.run(argv, cwd=REPO, env=_env(bob["state"]), user=bob["uid"], group=bob["gid"],  # type: ignore[arg-type]
                          extra_groups=[bob["gid"]], umask=0o022, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def _mine(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, env={**os.environ, **_env(state)},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_another_user_is_refused_with_the_fix_then_shares_and_approves(bob: dict[str, object]) -> None:
    state: Path = bob["state"]  # type: ignore[assignment]
    os.chmod(state, 0o700)
    env = {**os.environ, **_env(state)}
    subprocess.run([sys.executable, "-c", "from engine.session import SessionStore; SessionStore.open('cut').close()"],
                   cwd=REPO, env=env, check=True)
    for args in (("session", "show", "cut"), ("session", "list"), ("session", "approve", "cut", "1"),
                 ("session", "tail", "cut", "--no-follow"), ("attach", "cut")):
        refused = _as(bob, *args)
        assert refused.returncode == 4, (args, refused.stderr)
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert "gpumigrate session share" in lines[0] and "--group" in lines[0]

    shared = _mine(state, "session", "share", "cut", "--group", str(bob["group"]))
    assert shared.returncode == 0, shared.stderr
    sessions = state / "sessions"
    for folder in (state, sessions, state / "logs"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o3770 and folder.stat().st_gid == bob["gid"]
    assert stat.S_IMODE((sessions / "cut.sqlite").stat().st_mode) == 0o660

    asker = subprocess.Popen([sys.executable, "-c", REQUESTER, "cut"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        shown = wait_for(lambda: (lambda p: p if "approvals waiting" in p.stdout else None)(
            _as(bob, "session", "show", "cut")), what="bob to see the request")
        assert "it covers 2 path(s)" in shown.stdout and "        a\n        b\n" in shown.stdout
        approved = _as(bob, "session", "approve", "cut", "1")
        assert approved.returncode == 0, approved.stderr
        out, err = asker.communicate(timeout=30)
    finally:
        if asker.poll() is None:
            asker.kill()
    assert asker.returncode == 0, err
    assert f"approved by {bob['user']} uid {bob['uid']} two accounts" in out

    # what bob writes in the shared folders is the group's too, under his umask 022
    made = _as(bob, "cut", code=REQUESTER.replace("timeout=60", "timeout=0.2"))
    assert made.returncode == 1 and "nobody approved" in made.stderr, made.stderr
    plans = sorted((sessions / "cut.sqlite.approvals").iterdir(), key=lambda p: p.stat().st_mtime)
    assert len(plans) == 2  # alice's plan for request 1, then bob's for request 2
    plan = plans[-1]
    assert plan.stat().st_uid == bob["uid"] and plan.stat().st_gid == bob["gid"]
    assert stat.S_IMODE(plan.stat().st_mode) == 0o660
    for extra in ("cut.sqlite-wal", "cut.sqlite-shm"):
        if (sessions / extra).exists():
            assert stat.S_IMODE((sessions / extra).stat().st_mode) & 0o060 == 0o060

    for verb in ("unshare", "share"):  # only the owner shares or unshares
        tried = _as(bob, "session", verb, "cut", *(["--group", str(bob["group"])] if verb == "share" else []))
        assert tried.returncode == 4 and "its owner" in tried.stderr, tried.stderr
    assert _mine(state, "session", "unshare", "cut").returncode == 0
    again = _as(bob, "session", "show", "cut")
    assert again.returncode == 4 and "gpumigrate session share cut --group" in again.stderr


def test_a_link_another_login_plants_in_the_shared_folders_is_never_written_through(bob: dict[str, object]) -> None:
    """The shared folders have no sticky bit: a group member may replace the worker's log (or a
    deletions list) with a link to the owner's own files. The owner's gpumigrate refuses to write there."""
    state: Path = bob["state"]  # type: ignore[assignment]
    env = {**os.environ, **_env(state)}
    subprocess.run([sys.executable, "-c", "from engine.session import SessionStore; SessionStore.open('cut').close()"],
                   cwd=REPO, env=env, check=True)
    assert _mine(state, "session", "share", "cut", "--group", str(bob["group"])).returncode == 0
    victim = state.parent / f"{state.name}-victim.txt"  # a file only the owner may write
    victim.write_text("the owner's own file\n")
    victim.chmod(0o600)
    try:
        planted = _as(bob, code=f"import os; os.makedirs({str(state / 'logs')!r}, exist_ok=True); "
                               f"os.symlink({str(victim)!r}, {str(state / 'logs' / 'cut.log')!r})")
        assert planted.returncode == 0, planted.stderr
        refused = _mine(state, "replay", str(REPO / "profiles" / "demo.toml"), "--steps", "inventory",
                        "--session", "cut", "--detach")
        assert refused.returncode == 2, refused.stderr
        assert "is a symbolic link" in refused.stderr and bob["user"] in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        assert victim.read_text() == "the owner's own file\n"
    finally:
        victim.unlink(missing_ok=True)


BOBS_APP = """
import asyncio
from tui.app import GpuMigrateApp

async def main():
    app = GpuMigrateApp(session_name="cut", start_mode="runbook")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        print("role", app.role, "items", len(app.screen._profile().cutover.runbook), flush=True)

asyncio.run(main())
"""


def test_the_second_person_works_from_the_sessions_copy_when_the_drivers_profile_is_private(
        bob: dict[str, object]) -> None:
    """The driver's profile lives in a 0700 home: the second login ticks and attaches from the copy the
    session keeps, instead of 'permission denied: ... ask them to run session share' (it is shared)."""
    state: Path = bob["state"]  # type: ignore[assignment]
    env = {**os.environ, **_env(state)}
    home = Path(tempfile.mkdtemp(prefix="gm-owner-home-", dir="/tmp"))
    try:
        home.chmod(0o700)
        profile = home / "cut.toml"
        profile.write_text('schema_version = 1\n[source]\nprovider = "local"\n'
                           '[[cutover.runbook]]\ntitle = "Freeze writes"\n'
                           '[[cutover.runbook]]\ntitle = "Switch traffic"\n')
        subprocess.run([sys.executable, "-c", "import sys; from engine.session import SessionStore; "
                        "from engine.profile import load_profile, dump_profile; s = SessionStore.open('cut'); "
                        "s.set_meta('profile_toml', dump_profile(load_profile(sys.argv[1]))); "
                        "s.set_meta('profile_path', sys.argv[1]); s.end_run(s.begin_run('h', ['ops'], 30), 3); "
                        "s.close()", str(profile)],
                       cwd=REPO, env=env, check=True)
        assert _mine(state, "session", "share", "cut", "--group", str(bob["group"])).returncode == 0
        ticked = _as(bob, "session", "tick", "cut", "1")
        assert ticked.returncode == 0, ticked.stderr
        attached = _as(bob, code=BOBS_APP)
        assert attached.returncode == 0, attached.stderr[-2000:]
        assert "role driving items 2" in attached.stdout or "role watching items 2" in attached.stdout
        resumed = _as(bob, "session", "resume", "cut")  # the run needs the file itself: say so, and how
        assert resumed.returncode == 2 and "cannot read: pass --profile PATH" in resumed.stderr, resumed.stderr
        exported = _as(bob, "session", "export", "cut", "--out", str(home / "out"))  # a folder of the owner's
        assert exported.returncode == 4 and str(home) in exported.stderr, exported.stderr
        assert "session share" not in exported.stderr  # the session is shared; the folder is the problem
    finally:
        shutil.rmtree(home, ignore_errors=True)


OWNER_WRITES = """
import sys
from engine import recent, step_memory
from engine.profile import load_profile
profile = sys.argv[1]
recent.remember_profile(profile)
step_memory.remember(profile, load_profile(profile), "inventory", "completed", "read 1 folder")
print(sorted(step_memory.outcomes(profile)), [str(p) for p in recent.recent_profiles()], flush=True)
"""


def test_sharing_one_session_gives_the_group_nothing_else_of_the_owners(bob: dict[str, object]) -> None:
    """`session share cut` made the state folders group-writable without a sticky bit (review s8). A member could
    then delete or swap the owner's other, private sessions (a forged audit trail opened as the owner's own),
    plant a link where the app writes its step outcomes (the owner's own file overwritten through it), and read
    the journals of the owner's later private transfers (made group-shared)."""
    state: Path = bob["state"]  # type: ignore[assignment]
    env = {**os.environ, **_env(state)}
    for name in ("priv", "cut"):
        subprocess.run([sys.executable, "-c", f"from engine.session import SessionStore; SessionStore.open({name!r}).close()"],
                       cwd=REPO, env=env, check=True)
    assert _mine(state, "session", "share", "cut", "--group", str(bob["group"])).returncode == 0
    sessions = state / "sessions"
    assert stat.S_IMODE(sessions.stat().st_mode) & stat.S_ISVTX  # sticky: each login removes only its own files

    swapped = _as(bob, code=f"import os; os.rename({str(sessions / 'priv.sqlite')!r}, {str(sessions / 'old')!r})")
    assert swapped.returncode != 0 and "PermissionError" in swapped.stderr, swapped.stderr
    removed = _as(bob, code=f"import os; os.unlink({str(sessions / 'cut.sqlite')!r})")  # the shared one: not his
    assert removed.returncode != 0 and "PermissionError" in removed.stderr, removed.stderr
    assert (sessions / "priv.sqlite").exists() and (sessions / "cut.sqlite").exists()

    victim = state.parent / f"{state.name}-victim.txt"  # a file only the owner may write
    victim.write_text("the owner's own file\n")
    victim.chmod(0o600)
    home = Path(tempfile.mkdtemp(prefix="gm-owner-", dir="/tmp"))
    try:
        (home / "src").mkdir()
        (home / "src" / "a.txt").write_text("private\n")
        profile = home / "p.toml"
        profile.write_text('schema_version = 1\n[source]\nprovider = "local"\n')
        planted = _as(bob, code="import os, sys; [os.symlink(sys.argv[1], os.path.join(sys.argv[2], n)) for n in "
                                "('.step-outcomes.json.tmp', '.recent-profiles.json.tmp', 'step-outcomes.json')]",
                      *[str(victim), str(state)])
        assert planted.returncode == 0, planted.stderr
        wrote = subprocess.run([sys.executable, "-c", OWNER_WRITES, str(profile)], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=60)
        assert wrote.returncode == 0, wrote.stderr
        assert victim.read_text() == "the owner's own file\n"  # nothing written through bob's links
        assert wrote.stdout.strip() == f"['inventory'] [{str(profile)!r}]", wrote.stdout
        for name in ("step-outcomes.json", "recent-profiles.json"):
            assert not (state / name).is_symlink() and stat.S_IMODE((state / name).stat().st_mode) == 0o600

        copied = _mine(state, "transfer", str(home / "src"), str(home / "dst"))  # a private copy, after the share
        assert copied.returncode == 0, copied.stderr
        journals = state / "journals"
        assert stat.S_IMODE(journals.stat().st_mode) & 0o077 == 0, oct(journals.stat().st_mode)
        assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in journals.iterdir())
    finally:
        victim.unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)


def test_the_second_login_runs_the_drivers_step_again_in_a_shared_session(bob: dict[str, object]) -> None:
    """The drivers step writes its artefacts beside the session (`NAME.artefacts/drivers`). That folder was not
    shared by `session share` (made 2755 by the owner's umask), so the second login's run of the step (a resume
    after the owner's worker died, `--again drivers`) failed: "unexpected error: PermissionError" (review s8)."""
    state: Path = bob["state"]  # type: ignore[assignment]
    env = {**os.environ, **_env(state)}
    folder = Path(tempfile.mkdtemp(prefix="gm-drivers-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        profile = folder / "p.toml"
        profile.write_text('schema_version = 1\n[source]\nprovider = "local"\n')
        profile.chmod(0o644)
        first = _mine(state, "replay", str(profile), "--session", "cut", "--steps", "drivers")
        assert first.returncode == 0, first.stderr
        assert _mine(state, "session", "share", "cut", "--group", str(bob["group"])).returncode == 0
        again = _as(bob, "replay", str(profile), "--session", "cut", "--steps", "drivers", "--again", "drivers")
        assert again.returncode == 0 and "PermissionError" not in again.stdout + again.stderr, again.stdout
        drivers = state / "sessions" / "cut.artefacts" / "drivers"
        for path in [drivers.parent, drivers, *drivers.rglob("*")]:
            assert stat.S_IMODE(path.stat().st_mode) & 0o060 == 0o060, (path, oct(path.stat().st_mode))
        script = drivers / "startup-script.sh"
        assert script.stat().st_mode & 0o100 and script.stat().st_mtime > profile.stat().st_mtime
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_owner_unshares_a_session_the_second_login_wrote_files_in(bob: dict[str, object]) -> None:
    """Once the second login had made a file in the session's folders (its journal of a resumed transfer, its
    approval's plan), `session unshare` by the owner stopped at it: exit 4, "permission denied ... ask them to run
    `gpumigrate session share`", with the session half unshared and nothing recorded (review s8). Here bob owns
    the session and carol, a second member of the group, wrote in it (as root, the owner could chmod anything)."""
    state: Path = bob["state"]  # type: ignore[assignment]
    os.chown(state, bob["uid"], bob["gid"])  # type: ignore[arg-type]
    carol = f"gm13c{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--gid", str(bob["group"]), "--shell", "/usr/sbin/nologin", carol],
                   check=True)
    try:
        made = _as(bob, code="from engine.session import SessionStore; SessionStore.open('cut').close()")
        assert made.returncode == 0, made.stderr
        assert _as(bob, "session", "share", "cut", "--group", str(bob["group"])).returncode == 0
        journals = state / "sessions" / "cut.sqlite.journals"
        journals.mkdir(exist_ok=True)  # as a run makes it, shared with the session
        os.chown(journals, bob["uid"], bob["gid"])  # type: ignore[arg-type]
        journals.chmod(0o3770)
        theirs = journals / "carols.sqlite"
        wrote = subprocess.run(["runuser", "-u", carol, "--", "sh", "-c", f"umask 007; : > {theirs}"])
        assert wrote.returncode == 0 and theirs.stat().st_uid != bob["uid"]
        done = _as(bob, "session", "unshare", "cut")
        assert done.returncode == 0, done.stderr
        assert "private to its owner again" in done.stdout
        assert f"{theirs} belongs to {carol}" in done.stderr and "only you can enter" in done.stderr, done.stderr
        assert stat.S_IMODE(journals.stat().st_mode) == 0o700
        assert stat.S_IMODE((state / "sessions" / "cut.sqlite").stat().st_mode) == 0o600
        shown = _as(bob, "session", "show", "cut")
        assert "made the session private to its owner again" in shown.stdout, shown.stdout
    finally:
        subprocess.run(["userdel", carol], check=False)
