"""``gpumigrate session ...``, ``attach`` and ``serve`` as a user runs them (the CLI as a subprocess)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from engine.session import SessionStore, sessions_dir
from tests.cutover_support import REPO, cli, env_for, shared_session, wait_for, write_profile
from tests.stand_ins import free_port

pytestmark = pytest.mark.timeout(90)


def _session_with_profile(tmp_path: Path, name: str) -> Path:
    profile = write_profile(tmp_path, files=2, bwlimit=None, shared_account=True)
    shared_session(name)  # "alice" and "bob" are names declared on this one OS account
    with SessionStore.open(name, operator="alice") as store:
        store.set_meta("profile_path", str(profile))
    return profile


def test_list_show_tick_and_export(tmp_path: Path) -> None:
    _session_with_profile(tmp_path, "cut")
    listed = cli("session", "list", "--json", check=True)
    assert [s["name"] for s in json.loads(listed.stdout)["sessions"]] == ["cut"]
    assert "cut" in cli("session", "list", check=True).stdout

    blocked = cli("session", "tick", "cut", "3", operator="bob")
    assert blocked.returncode == 2 and "go/no-go gate 2" in blocked.stderr
    assert cli("session", "tick", "cut", "1", "--note", "done at 10:02", operator="bob", check=True)
    assert cli("session", "tick", "cut", "Go / no-go", operator="alice", check=True)
    again = cli("session", "tick", "cut", "1", operator="alice")
    assert again.returncode == 2 and "already ticked by bob" in again.stderr
    assert cli("session", "tick", "cut", "3", operator="alice", check=True)
    assert cli("session", "tick", "cut", "9").returncode == 2

    info = json.loads(cli("session", "show", "cut", "--json", check=True).stdout)
    assert [e["ticked_by"] for e in info["runbook"]] == ["bob", "alice", "alice"]
    assert info["runbook"][0]["note"] == "done at 10:02"
    text = cli("session", "show", "cut", check=True).stdout
    assert "[x] 2. GATE Go / no-go — alice" in text

    out = tmp_path / "audit"
    cli("session", "export", "cut", "--out", str(out), check=True)
    md = (out / "cut.md").read_text()
    assert "## Runbook" in md and "ticked by bob" in md
    assert "+00:00 by " in md and "Times are UTC." in md  # ISO-8601 with the offset spelled out
    assert md.index("echo switch back") < md.index("echo unfreeze")  # rollback plan: last step first
    rows = [json.loads(line) for line in (out / "cut.jsonl").read_text().splitlines()]
    ticks = [(r["operator"], r["payload"]["item"]) for r in rows if r["kind"] == "runbook_ticked"]
    assert ticks == [("bob", "Freeze writes"), ("alice", "Go / no-go"), ("alice", "Switch traffic")]
    assert all({"seq", "time", "operator", "step", "kind", "payload", "who"} <= set(r) for r in rows)
    assert all(r["time"].endswith("+00:00") for r in rows)
    assert {r["who"]["uid"] for r in rows if r["kind"] == "runbook_ticked"} == {os.getuid()}
    assert oct(os.stat(out / "cut.jsonl").st_mode & 0o777) == oct(0o600)


def test_tail_prints_and_stops(tmp_path: Path) -> None:
    shared_session("t")
    with SessionStore.open("t", operator="alice") as store:
        store.append("session", "note", {"text": "one"})
        store.append("runbook", "runbook_ticked", {"item": "Freeze writes", "note": ""})
    out = cli("session", "tail", "t", "--no-follow", check=True).stdout
    assert "alice" in out and "ticked 'Freeze writes'" in out
    lines = cli("session", "tail", "t", "--no-follow", "--json", "--from", "1", check=True).stdout.splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [2]


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    missing = cli("session", "show", "nope")
    assert missing.returncode == 2 and "no session named 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert cli("attach", "nope").returncode == 2
    assert cli("session", "approve", "nope", "1").returncode == 2
    SessionStore.open("x").close()
    unknown = cli("session", "approve", "x", "7", operator="bob")
    assert unknown.returncode == 2 and "no approval request #7" in unknown.stderr
    bad_name = cli("session", "show", "../etc")
    assert bad_name.returncode == 2
    bad_operator = cli("session", "show", "x", operator="bad name!")
    assert bad_operator.returncode == 2 and "GPUMIGRATE_OPERATOR" in bad_operator.stderr
    nothing = cli("session", "cancel", "x")
    assert nothing.returncode == 1 and "nothing is running" in nothing.stderr
    never = cli("session", "resume", "x")
    assert never.returncode == 2 and "never run" in never.stderr


def test_app_on_an_unknown_session_refuses_in_a_non_interactive_shell() -> None:
    SessionStore.open("cutover-1").close()
    typo = cli("--session", "cutover1")  # stdin is not a terminal here
    assert typo.returncode == 2 and "no session named 'cutover1'" in typo.stderr and "cutover-1" in typo.stderr
    assert not (sessions_dir() / "cutover1.sqlite").exists()


def _in_a_terminal(args: list[str]):
    """``gpumigrate ARGS`` with a real pty as its terminal (stdin, stdout, stderr); returns (proc, master fd)."""
    import pty
    import subprocess
    import sys

    from tests.cutover_support import REPO, env_for

    master, slave = pty.openpty()
    env = env_for(TERM="xterm-256color", COLUMNS="100", LINES="30")
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", *args], cwd=REPO, env=env, stdin=slave,
                            stdout=slave, stderr=slave, start_new_session=True, close_fds=True)
    os.close(slave)
    return proc, master


def _read_until(master: int, needle: bytes, timeout: float = 20) -> bytes:
    import select
    import time

    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} on the terminal; it showed {seen[-400:]!r}")
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_app_on_an_unknown_session_asks_in_a_terminal_n_creates_nothing_y_creates_it() -> None:
    import signal

    from tests.cutover_support import wait_for

    SessionStore.open("cutover-1").close()
    proc, master = _in_a_terminal(["--session", "cutover1"])
    try:
        _read_until(master, b"Create it? [y/N]")
        os.write(master, b"n\r")
        out = _read_until(master, b"nothing was created")
        assert proc.wait(10) == 2
        assert b"Traceback" not in out
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert not (sessions_dir() / "cutover1.sqlite").exists()

    proc, master = _in_a_terminal(["--session", "cutover2"])
    try:
        shown = _read_until(master, b"Create it? [y/N]")
        assert b"sessions: cutover-1" in shown
        os.write(master, b"y\r")
        wait_for(lambda: (sessions_dir() / "cutover2.sqlite").exists(), timeout=20, what="the session to be created")
        with SessionStore.open("cutover2", create=False) as store:
            attached = wait_for(lambda: [e for e in store.events_after(0) if e.kind == "client_attached"],
                                timeout=30, what="the app to attach")
        assert attached[0].who["pid"] == proc.pid  # type: ignore[index]  # the app that asked is the one attached
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except Exception:  # noqa: BLE001 - a stuck app is killed
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        os.close(master)


def test_steering_is_the_drivers_and_show_tells_who_drives(tmp_path: Path) -> None:
    shared_session("steer")
    with SessionStore.open("steer", operator="alice") as alice:
        alice.acquire_lease("alice-app", ttl_s=60)
        run = alice.begin_run("alice-run", ["transfer"], ttl_s=60)
        text = cli("session", "show", "steer", check=True).stdout
        assert f"driving: alice (pid {os.getpid()} on {socket.gethostname()})" in text
        for verb in ("pause", "continue", "cancel", "resume"):
            refused = cli("session", verb, "steer", operator="bob")
            assert refused.returncode == 2 and "alice" in refused.stderr and "Traceback" not in refused.stderr
        assert alice.cancel_requested(run) is None and not alice.pause_requested(run)
        assert cli("session", "pause", "steer", operator="alice", check=True)
        assert alice.pause_requested(run)
        alice.end_run(run, 0)
        alice.release_lease("alice-app")
    text = cli("session", "show", "steer", check=True).stdout
    assert "driving: nobody: take the seat with `gpumigrate session attach steer`" in text


def test_an_unopenable_session_explains_group_sharing() -> None:
    sessions_dir().mkdir(parents=True, exist_ok=True)
    (sessions_dir() / "locked.sqlite").mkdir()  # not a file this login can open as a database
    out = cli("session", "show", "locked")
    assert out.returncode == 4
    assert "gpumigrate session share locked --group" in out.stderr and "GPUMIGRATE_STATE_DIR" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if int(hexport, 16) == port and state == "0A":
                found.add(addr)
    return found


def _serve(name: str, *extra: str) -> tuple[subprocess.Popen[str], int, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", name, "--port", str(port), *extra], cwd=REPO,
                            env=env_for("alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    link = ""
    deadline = time.monotonic() + 30
    while not link:
        line = proc.stdout.readline()
        if not line and (proc.poll() is not None or time.monotonic() > deadline):
            raise AssertionError(f"serve printed no link: {proc.stderr.read() if proc.stderr else ''}")
        if "?token=" in line:
            link = line.strip()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc, port, link
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not listen: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.1)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def test_serve_refuses_anyone_without_the_secret_and_any_foreign_origin(tmp_path: Path) -> None:
    import asyncio

    import aiohttp

    SessionStore.open("web").close()
    proc, port, link = _serve("web")
    base = f"http://127.0.0.1:{port}"
    from engine.session import state_dir

    stored = state_dir() / "serve" / "web.url"
    assert stored.read_text().strip() == link and oct(stored.stat().st_mode & 0o777) == "0o600"

    async def probe() -> dict[str, object]:
        seen: dict[str, object] = {}
        async with aiohttp.ClientSession() as anon:  # another local user, or a web page: no cookie
            async with anon.get(base + "/") as r:
                seen["page without cookie"] = r.status
            for origin in (None, "http://evil.example"):
                try:
                    headers = {"Origin": origin} if origin else {}
                    async with anon.ws_connect(base + "/ws?width=80&height=24", headers=headers):
                        seen[f"ws {origin}"] = "open"
                except aiohttp.WSServerHandshakeError as exc:
                    seen[f"ws {origin}"] = exc.status
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as owner:  # keeps IP cookies
            async with owner.get(link, allow_redirects=False) as r:
                seen["link"] = (r.status, r.headers.get("Location"), "HttpOnly" in r.headers.get("Set-Cookie", ""))
            async with owner.get(base + "/") as r:
                page = await r.text()
                seen["page with cookie"] = (r.status, "gpumigrate web" in page)
            try:  # even the owner's cookie is refused from a foreign page
                async with owner.ws_connect(base + "/ws", headers={"Origin": "http://evil.example"}):
                    seen["owner ws evil"] = "open"
            except aiohttp.WSServerHandshakeError as exc:
                seen["owner ws evil"] = exc.status
            async with owner.get(base + "/", headers={"Host": f"rebound.example:{port}"}) as r:
                seen["rebound host"] = r.status
            async with owner.ws_connect(base + "/ws?width=80&height=24", headers={"Origin": base}) as ws:
                seen["owner ws"] = "open"
                await ws.close()
        async with aiohttp.ClientSession() as late:
            async with late.get(link, allow_redirects=False) as r:
                seen["link again"] = r.status
        return seen

    try:
        seen = asyncio.run(probe())
        assert _listening_addresses(port) == {"0100007F"}, "only 127.0.0.1 listens"
    finally:
        _stop(proc)
    assert seen == {"page without cookie": 403, "ws None": 403, "ws http://evil.example": 403,
                    "link": (302, "/", True), "page with cookie": (200, True), "owner ws evil": 403,
                    "rebound host": 403, "owner ws": "open", "link again": 403}
    assert not stored.exists(), "the link file goes when the serve ends"


WATCH_TAB_KEYS = {
    # view key -> the keys pressed there (every state-changing binding of that view, then "yes" to any dialog)
    "7": ["t", "u", "a", "d", "s", "y", "\r"],  # runbook: tick, untick, approve, decline, sign off
    "3": ["r", "n", "p", "c", "a", "e", "d", "y", "\r"],  # transfer: run, dry run, pause, cancel, add/edit/remove
    "5": ["r", "a", "x", "g", "y", "\r"],  # verify: run, approve, reject, accept gaps
    "6": ["\x13", "y", "\r"],  # profile: ctrl+s
}
APP_KEYS = ["\x13", "\x14", "\x07", "\x0c", "\x0e", "y", "\r"]  # ctrl+s, ctrl+t, ctrl+g, ctrl+l, ctrl+n


def _tab_state(name: str, profile: Path) -> dict[str, object]:
    with SessionStore.open(name, create=False) as store:
        lease = store.lease()
        return {"profile": profile.read_bytes(), "steps": store.steps(), "runs": store.runs(),
                "lease": (lease.holder, lease.operator) if lease else None, "approvals": store.approvals(),
                "ticks": store.ticks(), "control": store.control_requests(None),
                "meta": {k: store.get_meta(k) for k in ("profile_path", "shared_account")},
                "events": [(e.seq, e.kind) for e in store.events_after(0)
                           if e.kind not in ("client_attached", "client_detached")]}


def test_a_served_watch_tab_changes_nothing_whatever_keys_arrive_over_its_websocket(tmp_path: Path) -> None:
    """The owner's own browser tab of `serve --watch`, driven through textual-serve's WebSocket protocol
    (["stdin", KEYS] envelopes, as its page sends them): the keys reach the app, and nothing changes."""
    import asyncio

    import aiohttp

    profile = write_profile(tmp_path, files=2, bwlimit=None)
    with SessionStore.open("tab") as store:
        store.set_meta("profile_path", str(profile))
        store.request_approval("transfer-delete", "delete 2 objects", ["stale/a", "stale/b"])
    before = _tab_state("tab", profile)
    proc, port, link = _serve("tab", "--watch")
    base = f"http://127.0.0.1:{port}"

    async def drive() -> list[str]:
        screen = bytearray()

        async def until(ws: aiohttp.ClientWebSocketResponse, needle: bytes, timeout: float = 30) -> None:
            start = len(screen)
            deadline = time.monotonic() + timeout
            while needle not in screen[start:]:
                left = deadline - time.monotonic()
                assert left > 0, f"the tab never showed {needle!r}"
                msg = await ws.receive(timeout=left)
                assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), msg
                if msg.type == aiohttp.WSMsgType.BINARY:
                    screen.extend(msg.data)

        async def settle(ws: aiohttp.ClientWebSocketResponse, quiet_s: float = 0.3) -> None:
            while True:
                try:
                    msg = await ws.receive(timeout=quiet_s)
                except asyncio.TimeoutError:
                    return
                if msg.type == aiohttp.WSMsgType.BINARY:
                    screen.extend(msg.data)

        sent = []
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as owner:
            async with owner.get(link, allow_redirects=False) as r:
                assert r.status == 302
            async with owner.ws_connect(base + "/ws?width=140&height=40", headers={"Origin": base}) as ws:
                await until(ws, b"watch only")  # the banner: the tab runs `attach --watch`
                await ws.send_json(["stdin", "7"])
                await until(ws, b"delete 2 objects")  # keys arrive: the Runbook view shows the waiting approval
                for view, keys in WATCH_TAB_KEYS.items():
                    await ws.send_json(["stdin", view])
                    for key in [*keys, *APP_KEYS]:
                        await ws.send_json(["stdin", key])
                        sent.append(f"{view}:{key!r}")
                    await settle(ws)
                await ws.send_json(["stdin", "7"])
                await settle(ws, 0.5)
                await ws.close()
        return sent

    try:
        sent = asyncio.run(drive())
        with SessionStore.open("tab", create=False) as store:
            wait_for(lambda: [e for e in store.events_after(0) if e.kind == "client_detached"], timeout=20,
                     what="the tab's app to end with its WebSocket")
            attached = [e.payload for e in store.events_after(0) if e.kind == "client_attached"]
    finally:
        _stop(proc)
    assert len(sent) > 40
    assert attached and all(a["watch_only"] for a in attached)
    assert _tab_state("tab", profile) == before, f"a served --watch tab changed something; it sent {sent}"


def test_serve_command_attaches_each_tab_to_the_session() -> None:
    from tui.commands.serve import command_for

    assert command_for("web").endswith("-m tui.cli attach web")
    assert command_for("web", watch=True).endswith("attach web --watch")
