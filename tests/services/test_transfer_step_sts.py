"""The transfer step and `gpumigrate transfer` on Storage Transfer Service (against tests/sts_stub.py).

The real google-cloud-storage-transfer client talks REST to the stand-in through
GPUMIGRATE_STS_ENDPOINT; nothing is patched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from engine.errors import ExitCode
from engine.events import Event, Message
from engine.profile import parse_profile
from engine.runner import StepContext, StepResult, run_steps
from tests.sts_stub import StsStub
from tests.transfer_support import gcs_client, read_local, write_local

REPO = Path(__file__).resolve().parents[2]
PROJECT = "test-project"
ROLE = "arn:aws:iam::123456789012:role/gpumigrate-sts"
GIB = 1024**3

HEAD = f"""
[source]
provider = "aws"
instance_type = "p3.2xlarge"
[target]
project = "{PROJECT}"
machine_type = "a2-highgpu-1g"
[workload]
source_hours_per_run = 8
runs_per_month = 20
"""


@pytest.fixture()
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StsStub]:
    server = StsStub(list_per_poll=3, copy_per_poll=2).start()
    monkeypatch.setenv("GPUMIGRATE_STS_ENDPOINT", server.url)
    yield server
    server.stop()


def seed(stub: StsStub, root: str, n: int, size: int = 100) -> dict[str, int]:
    names = {f"f{i:02d}.bin": size + i for i in range(n)}
    for name, sz in names.items():
        stub.put(root + name, sz)
    return names


def messages(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, Message)]


def test_profile_entry_with_engine_sts_runs_through_the_replay_step(stub: StsStub, tmp_path: Path) -> None:
    names = seed(stub, "s3://src/data/", 5)
    profile = parse_profile(HEAD + f"""
[[transfer]]
src = "s3://src/data"
dst = "gs://dst/landing"
engine = "sts"
[transfer.sts]
aws_role_arn = "{ROLE}"
poll_interval_s = 0.01
""")
    events: list[Event] = []
    summary = run_steps(profile, ["transfer"], emit=events.append, profile_path=tmp_path / "p.toml")
    result = summary.results["transfer"]
    assert summary.ok and result.ok, result.summary
    assert set(stub.under("gs://dst/landing/")) == set(names)
    entry = result.data["entries"][0]
    assert entry["engine"] == "sts" and entry["status"] == "SUCCESS" and entry["job_name"].startswith("transferJobs/")
    assert (result.data["copied"], result.data["bytes"]) == (5, sum(names.values()))
    assert "engines: sts" in result.summary
    # not planned here (no -d, not auto): the planned volume is unknown, not guessed
    assert result.data["planned_bytes"] is None and entry["planned_bytes"] is None
    assert any("the entry says engine" in m for m in messages(events))


def test_sts_with_delete_is_planned_here_and_guarded(stub: StsStub, tmp_path: Path, gcs, unique_bucket) -> None:
    # -d on STS: the entry is listed and diffed locally (a local source, the bucket on fake-gcs),
    # and the deletion count goes to STS's guards; over max_delete it is refused before any call.
    gcs_client().create_bucket(unique_bucket)
    bucket = gcs_client().bucket(unique_bucket)
    for i in range(10):
        bucket.blob(f"old{i}").upload_from_string(b"o")
    src = tmp_path / "tree"
    write_local(src, {"a.bin": b"a" * 10})
    stub.add_agent_pool(PROJECT, "onprem")
    profile = parse_profile(HEAD + f"""
[[transfer]]
src = "{src}"
dst = "gs://{unique_bucket}"
engine = "sts"
delete = true
[transfer.sts]
agent_pool = "onprem"
poll_interval_s = 0.01
""")
    summary = run_steps(profile, ["transfer"], emit=lambda e: None, profile_path=tmp_path / "p.toml")
    result = summary.results["transfer"]
    assert not result.ok and result.exit_code == ExitCode.BAD_INPUT
    assert "10 deletions planned" in result.summary
    assert not stub.calls("POST", "/v1/transferJobs")


def test_cli_engine_sts_prints_the_summary_line(stub: StsStub) -> None:
    names = seed(stub, "gs://old/models/", 3)
    env = dict(os.environ, GPUMIGRATE_STS_ENDPOINT=stub.url)
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "transfer", "gs://old/models", "gs://new/models", "-r",
                           "--engine", "sts", "--project", PROJECT, "--sts-poll-interval", "0.01", "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["event"] == "summary" and last["engine"] == "sts" and last["status"] == "SUCCESS"
    assert (last["copied"], last["failed"], last["bytes"]) == (3, 0, sum(names.values()))
    assert set(stub.under("gs://new/models/")) == set(names)
    # no project: a one-line error, exit 2, no traceback
    bad = subprocess.run([sys.executable, "-m", "tui.cli", "transfer", "gs://old/models", "gs://new/m2", "-r",
                          "--engine", "sts"], cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == int(ExitCode.BAD_INPUT) and "project" in bad.stderr and "Traceback" not in bad.stderr


def test_auto_picks_local_for_a_small_tree(stub: StsStub, tmp_path: Path) -> None:
    tree = {f"d/{i}.txt": b"x" * (i + 1) for i in range(6)}
    write_local(tmp_path / "src", tree)
    profile = parse_profile(HEAD + f"""
[[transfer]]
src = "{tmp_path / 'src'}"
dst = "{tmp_path / 'dst'}"
engine = "auto"
""")
    events: list[Event] = []
    summary = run_steps(profile, ["transfer"], emit=events.append, profile_path=tmp_path / "p.toml")
    result = summary.results["transfer"]
    assert result.ok and read_local(tmp_path / "dst") == tree
    entry = result.data["entries"][0]
    assert entry["engine"] == "local" and "under the STS thresholds" in entry["engine_reason"]
    assert any("local engine (auto:" in m for m in messages(events))
    assert (result.data["planned_objects"], result.data["planned_bytes"]) == (6, sum(map(len, tree.values())))
    assert stub.requests == []


def test_auto_picks_sts_over_tiny_thresholds_and_the_cost_step_prices_it(stub: StsStub, tmp_path: Path, gcs,
                                                                          unique_bucket) -> None:
    gcs_client().create_bucket(unique_bucket)
    src = tmp_path / "tree"
    tree = {f"f{i:02d}.bin": b"z" * (100 + i) for i in range(4)}
    write_local(src, tree)
    for name, data in tree.items():  # what the STS agents would see on that file system
        stub.put(f"file://{src}/{name}", len(data))
    stub.add_agent_pool(PROJECT, "onprem")
    profile = parse_profile(HEAD + f"""
[[transfer]]
src = "{src}"
dst = "gs://{unique_bucket}/fs"
engine = "auto"
[transfer.sts]
agent_pool = "onprem"
poll_interval_s = 0.01
thresholds = {{ bytes = 100, objects = 1000 }}
""")
    events: list[Event] = []
    summary = run_steps(profile, ["transfer"], emit=events.append, profile_path=tmp_path / "p.toml")
    result = summary.results["transfer"]
    assert result.ok, result.summary
    entry = result.data["entries"][0]
    assert entry["engine"] == "sts" and entry["mode"] == "agent" and entry["status"] == "SUCCESS"
    assert "planned >= 100 B" in entry["engine_reason"]
    assert any("sts engine (auto:" in m for m in messages(events))
    assert set(stub.under(f"gs://{unique_bucket}/fs/")) == set(tree)
    planned = sum(map(len, tree.values()))
    assert (result.data["planned_bytes"], result.data["planned_objects"]) == (planned, 4)

    # the cost step reads exactly planned_bytes / planned_objects and prices STS in agent mode
    from engine.cost.step import run as cost_run

    ctx = StepContext(profile=profile, step="cost", emit=lambda e: None, profile_path=tmp_path / "p.toml",
                      results={"transfer": StepResult(ok=True, data=result.data)})
    doc = cost_run(ctx).data
    assert doc["data_basis"] == "planned by the transfer step"
    assert doc["data_gb"] == pytest.approx(planned / GIB) and doc["object_count"] == 4
    sts = [i for i in doc["one_off_items"] if i["name"] == "Storage Transfer Service"]
    assert len(sts) == 1 and sts[0]["usd"] == pytest.approx(round(planned / GIB * 0.0125, 6))
    assert "agent" in sts[0]["detail"]


def test_sts_deletions_wait_for_a_second_operator_and_a_decline_calls_nothing(stub: StsStub, tmp_path: Path, gcs,
                                                                               unique_bucket) -> None:
    import threading
    import time

    from engine.session import SessionStore

    gcs_client().create_bucket(unique_bucket)
    bucket = gcs_client().bucket(unique_bucket)
    old = [f"old/{i:02d}" for i in range(60)]
    for name in old:
        bucket.blob(name).upload_from_string(b"o")
    src = tmp_path / "tree"
    write_local(src, {"a.bin": b"a"})
    stub.add_agent_pool(PROJECT, "onprem")
    profile = parse_profile(HEAD + f"""
[[transfer]]
src = "{src}"
dst = "gs://{unique_bucket}"
engine = "sts"
delete = true
max_delete = 60
[transfer.sts]
agent_pool = "onprem"
poll_interval_s = 0.01
[cutover]
require_approval = ["transfer-delete"]
shared_account = true
""")
    driver, other = SessionStore.open("sts", operator="alice"), SessionStore.open("sts", operator="bob")
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(s=run_steps(profile, ["transfer"], emit=lambda e: None,
                                                                     session=driver, profile_path=tmp_path / "p")))
    thread.start()
    deadline = time.monotonic() + 30
    while not other.approvals("pending") and time.monotonic() < deadline:
        time.sleep(0.05)
    (request,) = other.approvals("pending")
    assert "Storage Transfer Service: delete 60 destination object(s)" in request.detail
    # what STS would delete, as for a local -d: the first 50 paths, the count, the whole list in a file
    assert request.plan_count == 60 and request.plan_preview() == old[:50]
    assert Path(request.plan_path).read_text().splitlines() == old
    other.decide_approval(request.id, False)
    thread.join(60)
    assert not out["s"].ok and "declined by bob" in out["s"].results["transfer"].summary
    assert not stub.calls("POST", "/v1/transferJobs")


def test_sts_deletions_that_cannot_be_listed_here_say_so_in_the_approval(stub: StsStub, tmp_path: Path, gcs,
                                                                         unique_bucket) -> None:
    """A POSIX source may exist only on the STS agents: no listing here, so no list, and the request says so."""
    import threading
    import time

    from engine.session import SessionStore

    gcs_client().create_bucket(unique_bucket)
    stub.add_agent_pool(PROJECT, "onprem")
    profile = parse_profile(HEAD + f"""
[[transfer]]
src = "{tmp_path / 'only-on-the-agents'}"
dst = "gs://{unique_bucket}"
engine = "sts"
delete = true
[transfer.sts]
agent_pool = "onprem"
confirm_delete = true
poll_interval_s = 0.01
[cutover]
require_approval = ["transfer-delete"]
shared_account = true
""")
    driver, other = SessionStore.open("sts2", operator="alice"), SessionStore.open("sts2", operator="bob")
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(s=run_steps(profile, ["transfer"], emit=lambda e: None,
                                                                     session=driver, profile_path=tmp_path / "p")))
    thread.start()
    deadline = time.monotonic() + 30
    while not other.approvals("pending") and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    (request,) = other.approvals("pending")
    assert "delete an UNKNOWN number of destination objects" in request.detail
    assert "is not a directory" in request.detail and "NO list of what STS will delete" in request.detail
    assert request.plan_count is None and request.plan_path is None  # no empty list passed off as complete
    shown = subprocess.run([sys.executable, "-m", "tui.cli", "session", "show", "sts2"], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert "no list of paths comes with this request" in shown.stdout, shown.stderr
    assert "it covers" not in shown.stdout
    other.decide_approval(request.id, False)
    thread.join(60)
    assert not out["s"].ok and not stub.calls("POST", "/v1/transferJobs")
