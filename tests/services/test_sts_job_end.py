"""STS jobs end with the cutover (issue #16): the job's real state is read and guarded, a schedule the
profile dropped is removed from the job, the migration's jobs are disabled at cutover sign-off and by
``gpumigrate transfer --engine sts --disable``, progress never passes 100% on a re-run, and the
"source empty" guard counts what the sync skipped.  All against the REST stand-in (tests/sts_stub.py),
which keeps a field left out of the update mask, as the service does."""

from __future__ import annotations

from typing import Iterator

import pytest

from engine.errors import BadInputError
from engine.events import Progress
from engine.transfer.spec import TransferSpec
from engine.transfer.sts import DeletePlan, StsOptions, StsSchedule, job_name_for, make_client, run_sts_transfer
from engine.transfer.sts_jobs import (
    JobState,
    StsJobDisabled,
    check_job_state,
    disable_jobs,
    job_state,
    set_job_status,
)
from tests.sts_stub import StsStub

PROJECT = "test-project"
ROLE = "arn:aws:iam::123456789012:role/gpumigrate-sts"
SCHED = StsSchedule(start_date="2026-03-01", repeat_every_hours=24)


@pytest.fixture()
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StsStub]:
    server = StsStub(list_per_poll=5, copy_per_poll=5).start()
    monkeypatch.setenv("GPUMIGRATE_STS_ENDPOINT", server.url)
    yield server
    server.stop()


STS_PROFILE = f"""
[source]
provider = "aws"
[target]
project = "{PROJECT}"
[[transfer]]
src = "s3://src"
dst = "gs://dst"
engine = "sts"
"""
"""A profile with one STS entry s3://src -> gs://dst; tests append the sections they need."""


def opts(**kw) -> StsOptions:
    return StsOptions(**{"aws_role_arn": ROLE, "poll_interval_s": 0.001, **kw})


def seed(stub: StsStub, root: str, n: int) -> None:
    for i in range(n):
        stub.put(f"{root}f{i:02d}.bin", 100 + i)


def test_a_dropped_schedule_is_removed_from_the_job_and_no_later_run_deletes(stub: StsStub) -> None:
    seed(stub, "s3://src/", 3)
    spec = TransferSpec(src="s3://src", dst="gs://dst", delete=True)
    # during the window: a daily schedule with deletion, confirmed
    run_sts_transfer(spec, project=PROJECT, options=opts(schedule=SCHED), confirm_delete=True)
    assert stub.jobs[job_name_for(spec)]["schedule"]
    # after cutover the profile drops the schedule and the deletion; the last run goes through
    final = spec.model_copy(update={"delete": False})
    run_sts_transfer(final, project=PROJECT, options=opts())
    job = stub.jobs[job_name_for(spec)]
    assert "schedule" not in job
    assert not job["transferSpec"]["transferOptions"].get("deleteObjectsUniqueInSink")
    # the new workload writes a checkpoint; the service's scheduler has nothing to start
    stub.put("gs://dst/ckpt/step-100.pt", 5)
    assert stub.fire_schedules() == []
    assert "ckpt/step-100.pt" in stub.under("gs://dst/")


def test_the_stub_keeps_a_schedule_left_out_of_the_mask_so_the_old_bug_deletes(stub: StsStub) -> None:
    """The defect reproduced on the strict stand-in: a PATCH without ``schedule`` in the mask keeps it,
    and the next scheduled run deletes what the new workload wrote."""
    from google.protobuf import field_mask_pb2

    seed(stub, "s3://src/", 2)
    spec = TransferSpec(src="s3://src", dst="gs://dst", delete=True)
    run_sts_transfer(spec, project=PROJECT, options=opts(schedule=SCHED), confirm_delete=True)
    client = make_client()
    name = job_name_for(spec)
    job = client.get_transfer_job(request={"job_name": name, "project_id": PROJECT})
    del job.schedule
    client.update_transfer_job(request={"job_name": name, "project_id": PROJECT, "transfer_job": job,
                                        "update_transfer_job_field_mask": field_mask_pb2.FieldMask(
                                            paths=["description", "transfer_spec"])})
    assert stub.jobs[name]["schedule"]  # kept: the mask did not name it
    stub.put("gs://dst/ckpt/new.pt", 5)
    assert len(stub.fire_schedules()) == 1
    assert "ckpt/new.pt" not in stub.under("gs://dst/")  # deleted after cutover
    # and the guard reading the job (not the profile) refuses to run it unconfirmed
    state = job_state(client, name, PROJECT)
    assert state is not None and state.scheduled and state.deletes_in_sink
    with pytest.raises(BadInputError, match="schedule and deletes"):
        check_job_state(state, confirmed=False)
    from google.api_core import exceptions as gexc

    with pytest.raises(gexc.BadRequest, match="cannot be updated"):  # a field the service does not update
        client.update_transfer_job(request={"job_name": name, "project_id": PROJECT, "transfer_job": job,
                                            "update_transfer_job_field_mask": field_mask_pb2.FieldMask(
                                                paths=["project_id"])})


def test_disable_at_cutover_stops_scheduled_runs_and_a_rerun_is_refused(stub: StsStub) -> None:
    seed(stub, "s3://src/", 2)
    spec = TransferSpec(src="s3://src", dst="gs://dst", engine="sts")
    run_sts_transfer(spec, project=PROJECT, options=opts(schedule=SCHED))
    results = disable_jobs([spec, TransferSpec(src="s3://other", dst="gs://dst2", engine="sts")], PROJECT)
    assert [r.outcome for r in results] == ["disabled", "not-found"]
    assert stub.jobs[job_name_for(spec)]["status"] == "DISABLED"
    (patch,) = [b for m, p, b in stub.calls("PATCH", "/v1/transferJobs/")][-1:]
    assert patch["updateTransferJobFieldMask"] == "status"
    assert stub.fire_schedules() == []
    runs = len(stub.calls("POST", ":run"))
    with pytest.raises(StsJobDisabled, match="--enable"):
        run_sts_transfer(spec, project=PROJECT, options=opts(schedule=SCHED))
    assert len(stub.calls("POST", ":run")) == runs
    assert stub.jobs[job_name_for(spec)]["status"] == "DISABLED"  # the refused run changed nothing
    assert disable_jobs([spec], PROJECT)[0].outcome == "already-disabled"
    assert set_job_status(make_client(), spec, PROJECT, "ENABLED").outcome == "enabled"
    assert run_sts_transfer(spec, project=PROJECT, options=opts()).ok


def test_rerun_progress_stays_at_or_under_100_percent(stub: StsStub) -> None:
    seed(stub, "s3://src/", 6)
    spec = TransferSpec(src="s3://src", dst="gs://dst")
    run_sts_transfer(spec, project=PROJECT, options=opts())
    stub.put("s3://src/f00.bin", 9999, etag="changed")
    events: list = []
    again = run_sts_transfer(spec, project=PROJECT, options=opts(), emit=events.append)
    assert again.summary()["copied"] == 1 and again.summary()["skipped"] == 5
    assert again.counters["objectsFoundFromSource"] == 1  # the service leaves skipped objects out
    bars = [e for e in events if isinstance(e, Progress) and e.label == "objects"]
    assert bars and all(b.done <= b.total for b in bars)
    assert (bars[-1].done, bars[-1].total) == (6, 6)


def test_empty_source_guard_counts_objects_skipped_by_sync(stub: StsStub) -> None:
    """Everything already copied: objectsFoundFromSource is 0, yet the source is not empty."""
    seed(stub, "s3://src/", 3)
    spec = TransferSpec(src="s3://src", dst="gs://dst")
    run_sts_transfer(spec, project=PROJECT, options=opts())
    stub.put("gs://dst/stale.bin", 1)
    result = run_sts_transfer(spec.model_copy(update={"delete": True}), project=PROJECT, options=opts(),
                              confirm_delete=True)
    assert result.ok and "stale.bin" not in stub.under("gs://dst/")
    assert len(stub.under("gs://dst/")) == 3


def test_guard_on_the_job_state_is_pure() -> None:
    running = JobState("transferJobs/x", "ENABLED", scheduled=True, repeats=True, deletes_in_sink=True)
    with pytest.raises(BadInputError):
        check_job_state(running, confirmed=False)
    check_job_state(running, confirmed=True)
    check_job_state(JobState("transferJobs/x", "ENABLED", True, True, False), confirmed=False)
    with pytest.raises(StsJobDisabled):
        check_job_state(JobState("transferJobs/x", "DISABLED", False, False, False), confirmed=True)


def test_plan_with_a_delete_plan_still_reads_the_job_first(stub: StsStub) -> None:
    seed(stub, "s3://src/", 2)
    spec = TransferSpec(src="s3://src", dst="gs://dst", delete=True)
    run_sts_transfer(spec, project=PROJECT, options=opts(), delete_plan=DeletePlan(2, 0, 0))
    gets = [p for m, p, b in stub.calls("GET", "/v1/transferJobs/")]
    assert gets  # the job's state was read before the run


def test_cutover_sign_off_disables_the_migrations_sts_jobs(stub: StsStub) -> None:
    from engine.cutover import runbook
    from engine.profile import parse_profile
    from engine.session import SessionStore

    profile = parse_profile(STS_PROFILE + f"""[transfer.sts]
aws_role_arn = "{ROLE}"
poll_interval_s = 0.01
[transfer.sts.schedule]
start_date = "2026-03-01"
[cutover]
require_approval = []
[[cutover.runbook]]
title = "switch DNS"
""")
    seed(stub, "s3://src/", 2)
    (spec,) = profile.transfer
    run_sts_transfer(spec, project=PROJECT)
    assert stub.jobs[job_name_for(spec)]["status"] == "ENABLED"
    with SessionStore.open("signoff", operator="alice") as store:
        runbook.tick(store, profile, "1")
        runbook.sign_off(store, profile, acknowledge_unverified=True)  # no verify step in this test
        (event,) = [e for e in store.events_after(0) if e.kind == "cutover_signed_off"]
    assert [j["outcome"] for j in event.payload["sts_jobs"]] == ["disabled"]
    assert stub.jobs[job_name_for(spec)]["status"] == "DISABLED"
    assert stub.fire_schedules() == []


def test_cli_disable_and_enable(stub: StsStub) -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    seed(stub, "gs://old/", 1)
    spec = TransferSpec(src="gs://old", dst="gs://new", recursive=True, engine="sts")
    run_sts_transfer(spec, project=PROJECT, options=opts())
    env = dict(os.environ, GPUMIGRATE_STS_ENDPOINT=stub.url)
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "transfer", "gs://old", "gs://new", "--engine", "sts",
                           "--project", PROJECT, "--disable", "--json"], cwd=repo, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "disabled"
    assert stub.jobs[job_name_for(spec)]["status"] == "DISABLED"
    bad = subprocess.run([sys.executable, "-m", "tui.cli", "transfer", "gs://old", "gs://new", "--disable"],
                         cwd=repo, capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 2 and "--engine sts" in bad.stderr and "Traceback" not in bad.stderr


def test_the_runbook_lists_the_migrations_sts_jobs() -> None:
    from engine.ops.rollback import rollback_items
    from engine.profile import parse_profile

    profile = parse_profile(STS_PROFILE + """[[transfer]]
src = "/data"
dst = "/backup"
""")
    (item,) = [i for i in rollback_items(profile) if "Storage Transfer" in i.title]
    (line,) = item.commands
    assert job_name_for(profile.transfer[0]) in line and "--status=disabled" in line and PROJECT in line


def test_the_stand_in_refuses_bodies_the_library_messages_do_not_parse(stub: StsStub) -> None:
    import json
    import urllib.error
    import urllib.request

    def post(path: str, body: dict, method: str = "POST") -> int:
        req = urllib.request.Request(stub.url + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    job = {"projectId": PROJECT, "transferSpec": {"gcsDataSource": {"bucketName": "a"},
                                                  "gcsDataSink": {"bucketName": "b"}}}
    assert post("/v1/transferJobs", {**job, "scheduel": {}}) == 400  # a misspelt field
    assert post("/v1/transferJobs", job) == 200
    name = next(iter(stub.jobs))
    assert post(f"/v1/{name}", {"projectId": PROJECT, "transferJob": {"status": "DISABLED"},
                                "updateTransferJobFieldMask": "status", "extra": 1}, "PATCH") == 400


def test_cli_disable_dry_run_changes_nothing(stub: StsStub, capsys: pytest.CaptureFixture[str]) -> None:
    """`--disable --dry-run` says what would change and leaves the job enabled (it used to disable it)."""
    from tui.cli import main

    seed(stub, "gs://old/", 1)
    spec = TransferSpec(src="gs://old", dst="gs://new", recursive=True, engine="sts")
    run_sts_transfer(spec, project=PROJECT, options=opts())
    argv = ["transfer", "gs://old", "gs://new", "--engine", "sts", "--project", PROJECT, "--disable"]
    assert main([*argv, "--dry-run"]) == 0
    assert "would-disable (dry run: nothing changed)" in capsys.readouterr().out
    assert stub.jobs[job_name_for(spec)]["status"] == "ENABLED"
    assert not stub.calls("PATCH")
