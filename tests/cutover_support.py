"""Helpers for the cutover tests: a slow local-transfer profile, the CLI as a process, waiting.

The long step in these tests is a real transfer of local files, slowed by the
profile's own ``bwlimit`` so that there is time to kill things in the middle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent


def make_tree(root: Path, files: int = 24, size: int = 64 * 1024) -> Path:
    """Files with distinct, reproducible content."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        block = (f"file {i:04d} ".encode() * (size // 10 + 1))[:size]
        (root / f"part-{i:04d}.bin").write_bytes(block)
    return root


def write_profile(folder: Path, *, files: int = 24, size: int = 64 * 1024, bwlimit: str | None = "256K",
                  ttl_s: float = 2.0, require_approval: list[str] | None = None, delete: bool = False,
                  runbook: bool = True, shared_account: bool = False) -> Path:
    """A profile whose transfer step copies ``folder/src`` to ``folder/dst`` (slowly)."""
    make_tree(folder / "src", files, size)
    lines = [
        "schema_version = 1",
        'name = "cutover test"',
        "",
        "[source]",
        'provider = "local"',
        "",
        "[[transfer]]",
        'src = "src"',
        'dst = "dst"',
        "jobs = 2",
    ]
    if bwlimit:
        lines.append(f'bwlimit = "{bwlimit}"')
    if delete:
        lines.append("delete = true")
    lines += ["", "[cutover]", f"lease_ttl_s = {ttl_s}"]
    if shared_account:  # the tests' two "people" are one OS account with two declared names
        lines.append("shared_account = true")
    if require_approval is not None:
        lines.append("require_approval = [" + ", ".join(f'"{a}"' for a in require_approval) + "]")
    if runbook:
        lines += ["", "[[cutover.runbook]]", 'title = "Freeze writes"', 'rollback = "echo unfreeze"',
                  "", "[[cutover.runbook]]", 'title = "Go / no-go"', "gate = true",
                  "", "[[cutover.runbook]]", 'title = "Switch traffic"', 'rollback = "echo switch back"']
    path = folder / "cutover.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def env_for(operator: str | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    if operator:
        env["GPUMIGRATE_OPERATOR"] = operator
    env.update(extra)
    return env


def cli(*args: str, operator: str | None = None, timeout: float = 60, check: bool = False,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=env or env_for(operator), stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"gpumigrate {' '.join(args)} exited {proc.returncode}: {proc.stderr}{proc.stdout}")
    return proc


def show(name: str) -> dict[str, Any]:
    return json.loads(cli("session", "show", name, "--json", "--events", "0", check=True).stdout)


def wait_for(predicate: Callable[[], Any], timeout: float = 30, every: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(every)


def worker_pid(detach_stdout: str) -> int:
    """The pid printed by ``replay --detach`` / ``session resume``."""
    import re

    match = re.search(r"pid (\d+)", detach_stdout)
    if match:
        return int(match.group(1))
    raise AssertionError(f"no pid in {detach_stdout!r}")


def kill9(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def alive(pid: int) -> bool:
    from engine.session import pid_alive

    return pid_alive(pid)


def same_tree(a: Path, b: Path) -> bool:
    names_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    names_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return names_a == names_b and all((a / n).read_bytes() == (b / n).read_bytes() for n in names_a)


HOLDER = """
import sys, time
from engine.session import SessionStore
from engine.cutover.pairing import Pairing
store = SessionStore.open(sys.argv[1])
p = Pairing(store, ttl_s=float(sys.argv[2]), kind="tui")
assert p.try_drive(), "the seat should be free"
print("driving", p.holder, flush=True)
while True:
    p.tick()
    time.sleep(p.heartbeat_every_s)
"""
"""A process that takes the driver's seat of session ``argv[1]`` (lease TTL ``argv[2]`` s), prints
``driving <holder>`` and keeps its heartbeat until killed."""


def free_port_closed() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    from tests.stand_ins import free_port

    return free_port()


def shared_session(name: str) -> None:
    """Create session ``name`` as one whose profile says ``shared_account``: the tests' "alice" and
    "bob" are names declared on one OS account (real second accounts: tests/services/test_session_users.py)."""
    from engine.session import SessionStore

    with SessionStore.open(name) as store:
        store.set_shared_account(True)
