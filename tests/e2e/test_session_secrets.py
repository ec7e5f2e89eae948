"""Nothing secret reaches the session store, the logs or an export.

The whole demo runs (foreground and as a detached worker) with credentials in
the environment; then every file written under the state dir, the export
folder and the demo's copy is searched for them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cutover_support import REPO, alive, cli, env_for, free_port_closed, wait_for, worker_pid

pytestmark = pytest.mark.timeout(150)

SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLEsessionTOKENd2hhdGV2ZXI0NTY3ODkw",
    "GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.a0AfH6SMBexampleEXAMPLEexample0123456789",
    "GITHUB_TOKEN": "ghp_EXAMPLEexampleEXAMPLEexample0123456789",
}
PRIVATE_KEY_MARK = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCEXAMPLEPRIVATEKEY"


def _files(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def test_demo_with_credentials_in_the_environment_writes_none_of_them(tmp_path: Path) -> None:
    import os

    state = Path(os.environ["GPUMIGRATE_STATE_DIR"])
    work = tmp_path / "demo"
    for copy in (work / "fg", work / "bg"):  # one copy each: the two runs go at once (two cores, half the wait)
        copy.mkdir(parents=True)
        shutil.copytree(REPO / "profiles" / "demo", copy / "demo", ignore=shutil.ignore_patterns("target-bucket"))
        shutil.copy(REPO / "profiles" / "demo.toml", copy / "demo.toml")
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps({
        "type": "service_account", "project_id": "demo-gpu-project", "private_key_id": "0123456789abcdef",
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{PRIVATE_KEY_MARK}\n-----END PRIVATE KEY-----\n",
        "client_email": "demo@demo-gpu-project.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": f"http://127.0.0.1:{free_port_closed()}/token"}))
    env = env_for("alice", **SECRETS, GOOGLE_APPLICATION_CREDENTIALS=str(key_file),
                  AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port_closed()}", AWS_DEFAULT_REGION="us-east-1")

    detached = cli("replay", str(work / "bg" / "demo.toml"), "--session", "secret-bg", "--detach", env=env,
                   timeout=60)
    assert detached.returncode == 0, detached.stderr
    pid = worker_pid(detached.stdout)
    foreground = cli("replay", str(work / "fg" / "demo.toml"), "--session", "secret-fg", "--json", env=env,
                     timeout=120)
    assert foreground.returncode in (0, 1, 4), foreground.stderr
    assert '"event": "summary"' in foreground.stdout
    wait_for(lambda: not alive(pid), timeout=120, what="the detached demo to finish")
    with_env = dict(env)
    for name in ("secret-fg", "secret-bg"):
        assert cli("session", "export", name, "--out", str(state / "exports"), env=with_env).returncode == 0
        assert cli("session", "show", name, "--json", env=with_env).returncode == 0
    # a person pasting a key into an approval detail or a runbook note is redacted too
    from engine.session import SessionStore

    with SessionStore.open("secret-fg", create=False) as store:
        store.append("session", "note", {"text": f"oops {SECRETS['AWS_ACCESS_KEY_ID']}"})
        store.request_approval("cutover", f"key {SECRETS['AWS_ACCESS_KEY_ID']}")

    files = _files(state, work)
    assert any(p.suffix == ".sqlite" for p in files) and any(p.suffix == ".log" for p in files)
    assert any(p.suffix == ".jsonl" for p in files)
    needles = [v.encode() for v in SECRETS.values()] + [PRIVATE_KEY_MARK.encode()]
    leaks = [(str(p), n.decode()) for p in files for n in needles if n in p.read_bytes()]
    assert leaks == []
    planted = tmp_path / "control.txt"  # the search itself finds a planted one
    planted.write_text(f"x={SECRETS['AWS_SECRET_ACCESS_KEY']}")
    assert [n for n in needles if n in planted.read_bytes()]
    # and the run really happened: the store holds the steps' events
    with SessionStore.open("secret-bg", create=False) as store:
        assert {"transfer", "cost"} <= set(store.steps())
