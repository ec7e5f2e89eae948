"""The whole STS lifecycle against the REST stand-in on 127.0.0.1 (tests/sts_stub.py).

The real google-cloud-storage-transfer client (REST transport) talks to the
stand-in through ``GPUMIGRATE_STS_ENDPOINT``; nothing is patched.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import pytest

from engine.errors import BadInputError, EnvironmentProblem, Interrupted
from engine.events import Event, ItemDone, Message, Progress
from engine.transfer.spec import TransferSpec
from engine.transfer.sts import (
    DeletePlan,
    StsDeleteRefused,
    StsOptions,
    StsSchedule,
    job_name_for,
    make_client,
    run_sts_transfer,
)
from engine.transfer.sts_track import StsControl, get_snapshot, list_snapshots
from tests.sts_stub import StsStub

PROJECT = "test-project"
ROLE = "arn:aws:iam::123456789012:role/gpumigrate-sts"


@pytest.fixture()
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StsStub]:
    server = StsStub(list_per_poll=3, copy_per_poll=2).start()
    monkeypatch.setenv("GPUMIGRATE_STS_ENDPOINT", server.url)
    yield server
    server.stop()


def opts(**kw) -> StsOptions:
    return StsOptions(**{"aws_role_arn": ROLE, "poll_interval_s": 0.001, **kw})


def seed(stub: StsStub, root: str, n: int, size: int = 100) -> dict[str, int]:
    names = {f"f{i:02d}.bin": size + i for i in range(n)}
    for name, sz in names.items():
        stub.put(root + name, sz)
    return names


class Recorder:
    """An emit callback that keeps events, and can act when one arrives."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.on_event = lambda event: None

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self.on_event(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def bars(self, label: str) -> list[Progress]:
        return [e for e in self.of(Progress) if e.label == label]


def test_s3_to_gcs_runs_to_success_with_progress_and_exclusions(stub: StsStub) -> None:
    names = seed(stub, "s3://src/data/", 7)
    stub.put("s3://src/data/tmp/scratch", 999)
    stub.put("s3://src/data/logs/2024/a.log", 5)
    rec = Recorder()
    spec = TransferSpec(src="s3://src/data", dst="gs://dst/landing", exclude=["^tmp/", "^logs/.*"])
    result = run_sts_transfer(spec, project=PROJECT, options=opts(), emit=rec)

    assert result.ok and result.status == "SUCCESS"
    assert stub.under("gs://dst/landing/") == {n: stub.world["s3://src/data/" + n] for n in names}
    assert result.summary() == {"copied": 7, "deleted": 0, "skipped": 0, "failed": 0,
                                "bytes": sum(names.values()), "verified": 7}
    objects = rec.bars("objects")
    assert len(objects) >= 4  # the stand-in lists 3 and copies 2 per poll: several polls
    assert [p.done for p in objects] == sorted(p.done for p in objects)
    assert objects[-1].done == objects[-1].total == 7
    bytes_bars = rec.bars("bytes")
    assert bytes_bars[-1].done == bytes_bars[-1].total == sum(names.values())
    assert bytes_bars[-1].extra["status"] == "SUCCESS" and bytes_bars[-1].extra["engine"] == "sts"
    assert not rec.of(ItemDone)
    # what went over the wire: a role ARN, never a key; the exclusions as prefixes
    created = stub.calls("POST", "/v1/transferJobs")[0][2]
    assert created["transferSpec"]["awsS3DataSource"]["roleArn"] == ROLE
    assert "awsAccessKey" not in created["transferSpec"]["awsS3DataSource"]
    assert created["transferSpec"]["objectConditions"]["excludePrefixes"] == ["logs/", "tmp/"]


def test_eta_from_the_measured_rate(stub: StsStub) -> None:
    seed(stub, "s3://src/", 10, size=1000)
    ticks = iter(range(0, 10_000, 10))  # each poll is 10 s later
    rec = Recorder()
    run_sts_transfer(TransferSpec(src="s3://src", dst="gs://dst"), project=PROJECT, options=opts(),
                     emit=rec, clock=lambda: float(next(ticks)))
    objects = [p for p in rec.bars("objects") if p.extra["status"] == "IN_PROGRESS"]
    # 2 objects per 10 s poll -> 0.2 objects/s; ETA = what is left / rate
    later = objects[2]
    assert later.rate == pytest.approx(0.2)
    assert later.eta_s == pytest.approx((later.total - later.done) / 0.2)


def test_failed_objects_are_listed_one_by_one(stub: StsStub) -> None:
    seed(stub, "s3://src/data/", 12)
    for i in range(7):  # 7 failures with one code: STS keeps only 5 samples
        stub.fail_object(f"s3://src/data/f{i:02d}.bin", "PERMISSION_DENIED", f"s3:GetObject denied #{i}")
    stub.fail_object("s3://src/data/f10.bin", "NOT_FOUND", "object deleted during transfer")
    rec = Recorder()
    result = run_sts_transfer(TransferSpec(src="s3://src/data/", dst="gs://dst/"), project=PROJECT,
                              options=opts(), emit=rec)

    assert not result.ok and result.status == "FAILED"
    failed = rec.of(ItemDone)
    assert {(e.item, e.status) for e in failed} == {(f"f{i:02d}.bin", "failed") for i in [0, 1, 2, 3, 4, 10]}
    by_item = {e.item: e for e in failed}
    assert by_item["f10.bin"].detail == "NOT_FOUND: object deleted during transfer"
    assert by_item["f03.bin"].data == {"engine": "sts", "url": "s3://src/data/f03.bin", "error_code": "PERMISSION_DENIED"}
    assert len(failed) == len({e.item for e in failed})  # each object once, across all polls
    warning = [m for m in rec.of(Message) if m.level == "warning"]
    assert any("7 failures with PERMISSION_DENIED" in m.text and "only 5" in m.text for m in warning)
    assert result.summary()["failed"] == 8 and result.summary()["copied"] == 4
    assert {f["item"] for f in result.failures} == {e.item for e in failed}


def test_a_source_that_cannot_be_listed_fails_the_operation(stub: StsStub) -> None:
    seed(stub, "s3://locked/", 3)
    stub.fail_listing("s3://locked/", "PERMISSION_DENIED", "ListObjectsV2: Access Denied")
    rec = Recorder()
    result = run_sts_transfer(TransferSpec(src="s3://locked", dst="gs://dst"), project=PROJECT, options=opts(), emit=rec)
    assert result.status == "FAILED" and not result.ok
    assert [(e.item, e.detail) for e in rec.of(ItemDone)] == [("s3://locked/", "PERMISSION_DENIED: ListObjectsV2: Access Denied")]
    assert stub.under("gs://dst/") == {}


def test_cancel_stops_the_operation_and_interrupts(stub: StsStub) -> None:
    seed(stub, "s3://src/", 20)
    cancel = threading.Event()
    rec = Recorder()
    rec.on_event = lambda e: cancel.set() if isinstance(e, Progress) else None
    with pytest.raises(Interrupted, match="cancelled"):
        run_sts_transfer(TransferSpec(src="s3://src", dst="gs://dst"), project=PROJECT, options=opts(),
                         emit=rec, cancel=cancel)
    (op_name,) = list(stub.ops)
    assert stub.sims[op_name].status == "ABORTED"
    assert stub.calls("POST", ":cancel")
    assert 0 < len(stub.under("gs://dst/")) < 20  # what was copied stays


def test_a_job_cancelled_from_the_control_ends_aborted(stub: StsStub) -> None:
    seed(stub, "s3://src/", 20)
    control = StsControl()
    rec = Recorder()
    rec.on_event = lambda e: control.cancel() if isinstance(e, Progress) and e.label == "objects" else None
    result = run_sts_transfer(TransferSpec(src="s3://src", dst="gs://dst"), project=PROJECT, options=opts(),
                              emit=rec, control=control)
    assert result.status == "ABORTED" and not result.ok
    assert control.operation_name == result.operations[0]
    assert len(stub.calls("POST", ":cancel")) == 1


def test_pause_and_resume(stub: StsStub) -> None:
    seed(stub, "s3://src/", 10)
    control = StsControl()
    rec = Recorder()
    state = {"paused_polls": 0}

    def act(event: Event) -> None:
        if not isinstance(event, Progress) or event.label != "objects":
            return
        status = event.extra["status"]
        if status == "IN_PROGRESS" and event.done >= 2 and not stub.calls("POST", ":pause"):
            control.pause()
        elif status == "PAUSED":
            state["paused_polls"] += 1
            if state["paused_polls"] == 3:
                control.resume()

    rec.on_event = act
    result = run_sts_transfer(TransferSpec(src="s3://src", dst="gs://dst"), project=PROJECT, options=opts(),
                              emit=rec, control=control)
    assert result.ok and result.summary()["copied"] == 10
    paused = [p for p in rec.bars("objects") if p.extra["status"] == "PAUSED"]
    assert len(paused) == 3
    assert len({p.done for p in paused}) == 1  # nothing moves while paused
    assert all(p.eta_s is None for p in paused)
    assert len(stub.calls("POST", ":pause")) == 1 and len(stub.calls("POST", ":resume")) == 1
    assert any(isinstance(m, Message) and m.text.endswith("PAUSED") for m in rec.events)


def test_rerun_finds_the_same_job_and_skips_what_is_there(stub: StsStub) -> None:
    names = seed(stub, "s3://src/", 5)
    spec = TransferSpec(src="s3://src", dst="gs://dst")
    first = run_sts_transfer(spec, project=PROJECT, options=opts())
    stub.put("s3://src/f00.bin", 7777, etag="changed")
    second = run_sts_transfer(spec, project=PROJECT, options=opts(overwrite_when="different"))
    assert first.job_name == second.job_name == job_name_for(spec)
    assert len(stub.jobs) == 1 and len(stub.calls("PATCH", "/v1/transferJobs/")) == 1
    assert second.summary()["copied"] == 1 and second.summary()["skipped"] == len(names) - 1
    assert stub.world["gs://dst/f00.bin"] == (7777, "changed")
    ops = list_snapshots(make_client(), PROJECT, first.job_name)
    assert [o.status for o in ops] == ["SUCCESS", "SUCCESS"]


def test_a_rerun_attaches_to_the_operation_still_running(stub: StsStub) -> None:
    seed(stub, "s3://src/", 20)
    spec = TransferSpec(src="s3://src", dst="gs://dst")
    cancel = threading.Event()
    rec = Recorder()
    rec.on_event = lambda e: cancel.set() if isinstance(e, Progress) else None
    detached = run_sts_transfer(spec, project=PROJECT, options=opts(on_cancel="detach"), emit=rec, cancel=cancel)
    assert detached.status == "DETACHED"
    assert get_snapshot(make_client(), detached.operations[0]).status == "IN_PROGRESS"

    rec2 = Recorder()
    again = run_sts_transfer(spec, project=PROJECT, options=opts(), emit=rec2)
    assert again.ok and again.operations == detached.operations
    assert len(stub.calls("POST", ":run")) == 1
    assert any("attaching" in m.text for m in rec2.of(Message))
    assert len(stub.under("gs://dst/")) == 20


def test_delete_with_a_planned_count_deletes_only_what_the_source_lacks(stub: StsStub) -> None:
    seed(stub, "s3://src/", 10)
    seed(stub, "gs://dst/", 10)
    stub.put("gs://dst/stale.bin", 1)
    stub.put("gs://dst/tmp/keep-excluded", 1)  # excluded paths are never deleted, as with -x locally
    spec = TransferSpec(src="s3://src", dst="gs://dst", delete=True, exclude=["^tmp/"])
    result = run_sts_transfer(spec, project=PROJECT, options=opts(),
                              delete_plan=DeletePlan(source_objects=10, sink_objects=12, deletions=1))
    assert result.ok and result.summary()["deleted"] == 1 and result.summary()["skipped"] == 10
    assert "stale.bin" not in stub.under("gs://dst/") and "tmp/keep-excluded" in stub.under("gs://dst/")
    assert len(stub.calls("POST", ":run")) == 1


def test_delete_past_max_delete_is_refused_before_any_call(stub: StsStub) -> None:
    spec = TransferSpec(src="s3://src", dst="gs://dst", delete=True)
    with pytest.raises(StsDeleteRefused, match="max_delete"):
        run_sts_transfer(spec, project=PROJECT, options=opts(), delete_plan=DeletePlan(10, 100, 50))
    with pytest.raises(StsDeleteRefused, match="--dry-run"):
        run_sts_transfer(spec, project=PROJECT, options=opts())
    assert stub.requests == []


def test_a_dry_run_past_the_guards_shows_the_job_and_says_a_real_run_would_refuse(stub: StsStub) -> None:
    """The guard's own advice is "run the entry with --dry-run first": that dry run was refused by the same guard."""
    spec = TransferSpec(src="s3://src", dst="gs://dst", delete=True)
    for plan, why in ((DeletePlan(10, 100, 50), "max_delete"), (None, "--dry-run")):
        rec = Recorder()
        result = run_sts_transfer(spec, project=PROJECT, options=opts(), delete_plan=plan, dry_run=True, emit=rec)
        assert result.status == "DRY_RUN" and not result.ok and result.job  # the job it would create, shown
        (note,) = [n for n in result.notes if n.startswith("a real run would refuse the deletions")]
        assert why in note and any(m.text == note for m in rec.of(Message))
        with pytest.raises(StsDeleteRefused, match=why):
            run_sts_transfer(spec, project=PROJECT, options=opts(), delete_plan=plan)
    assert stub.requests == []


def test_confirmed_delete_without_a_plan_copies_first_then_deletes(stub: StsStub) -> None:
    seed(stub, "s3://src/", 4)
    stub.put("gs://dst/stale.bin", 1)
    rec = Recorder()
    result = run_sts_transfer(TransferSpec(src="s3://src", dst="gs://dst", delete=True), project=PROJECT,
                              options=opts(), confirm_delete=True, emit=rec)
    assert result.ok and len(result.operations) == 2
    first, second = (stub.ops[o]["metadata"]["transferSpec"]["transferOptions"] for o in result.operations)
    assert not first.get("deleteObjectsUniqueInSink") and second["deleteObjectsUniqueInSink"] is True
    assert set(stub.under("gs://dst/")) == {f"f{i:02d}.bin" for i in range(4)}
    assert any("lists 4 objects" in m.text for m in rec.of(Message))


def test_confirmed_delete_with_an_empty_source_is_still_refused(stub: StsStub) -> None:
    seed(stub, "gs://dst/", 3)
    with pytest.raises(StsDeleteRefused, match="listed the source as empty"):
        run_sts_transfer(TransferSpec(src="s3://empty", dst="gs://dst", delete=True), project=PROJECT,
                         options=opts(), confirm_delete=True)
    assert len(stub.under("gs://dst/")) == 3  # nothing deleted
    assert len(stub.calls("POST", ":run")) == 1  # only the copy phase ran


def test_scheduled_job_and_delete_on_schedule_needs_confirmation(stub: StsStub) -> None:
    seed(stub, "s3://src/", 2)
    sched = StsSchedule(start_date="2026-03-01", end_date="2026-03-03", repeat_every_hours=4)
    run_sts_transfer(TransferSpec(src="s3://src", dst="gs://dst"), project=PROJECT, options=opts(schedule=sched))
    (job,) = stub.jobs.values()
    assert job["schedule"]["repeatInterval"] == "14400s"
    assert job["schedule"]["scheduleStartDate"] == {"year": 2026, "month": 3, "day": 1}
    with pytest.raises(StsDeleteRefused, match="scheduled"):
        run_sts_transfer(TransferSpec(src="s3://src", dst="gs://dst", delete=True), project=PROJECT,
                         options=opts(schedule=sched), delete_plan=DeletePlan(2, 2, 0))


def test_posix_through_an_agent_pool_with_a_bandwidth_limit(stub: StsStub, tmp_path: Path) -> None:
    root = f"file://{tmp_path}/"
    seed(stub, root, 4)
    spec = TransferSpec(src=str(tmp_path), dst="gs://dst/fs/", bwlimit="10M")
    options = opts(aws_role_arn=None, agent_pool="onprem")
    with pytest.raises(EnvironmentProblem, match="gcloud transfer agent-pools create onprem"):
        run_sts_transfer(spec, project=PROJECT, options=options)
    pool = stub.add_agent_pool(PROJECT, "onprem")
    rec = Recorder()
    result = run_sts_transfer(spec, project=PROJECT, options=options, emit=rec)
    assert result.ok and result.mode == "agent" and result.job_name.startswith("transferJobs/OPI")
    # limitMbps is megabytes per second: 10 MiB/s = 10.49 MB/s -> 10 (not 83 megabits)
    assert stub.pools[pool]["bandwidthLimit"] == {"limitMbps": "10"}
    assert any("gcloud transfer agents install" in m.text for m in rec.of(Message))
    assert set(stub.under("gs://dst/fs/")) == {f"f{i:02d}.bin" for i in range(4)}
    # an entry without a limit says nothing about the shared pool's: the limit stays
    patches = len(stub.calls("PATCH", "agentPools"))
    run_sts_transfer(spec.model_copy(update={"bwlimit": None}), project=PROJECT, options=options)
    assert stub.pools[pool]["bandwidthLimit"] == {"limitMbps": "10"}
    assert len(stub.calls("PATCH", "agentPools")) == patches


def test_gcs_to_gcs(stub: StsStub) -> None:
    seed(stub, "gs://old/models/", 3)
    result = run_sts_transfer(TransferSpec(src="gs://old/models", dst="gs://new/models"), project=PROJECT,
                              options=StsOptions(poll_interval_s=0.001))
    assert result.ok and len(stub.under("gs://new/models/")) == 3


def test_dry_run_calls_nothing(stub: StsStub) -> None:
    result = run_sts_transfer(TransferSpec(src="s3://src", dst="gs://dst"), project=PROJECT, options=opts(),
                              dry_run=True, planned_bytes=5 * 1024**4)
    assert result.status == "DRY_RUN" and result.job["transferSpec"]["awsS3DataSource"]["bucketName"] == "src"
    assert result.cost_usd == 0 and stub.requests == []


def test_the_service_rejecting_a_request_is_bad_input(stub: StsStub) -> None:
    # The stand-in validates like the service: a job the service rejects becomes one readable error.
    from google.cloud import storage_transfer_v1 as st

    from engine.transfer.sts import _upsert_job

    bad = st.TransferJob(name="transferJobs/x", project_id=PROJECT, status=st.TransferJob.Status.ENABLED,
                         transfer_spec=st.TransferSpec(
                             aws_s3_data_source=st.AwsS3Data(bucket_name="b", role_arn=ROLE),
                             gcs_data_sink=st.GcsData(bucket_name="d"),
                             object_conditions=st.ObjectConditions(include_prefixes=["a/", "a/b/"])))
    with pytest.raises(BadInputError, match="is a prefix of"):
        _upsert_job(make_client(), bad)


def test_an_unreachable_service_is_an_environment_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.stand_ins import free_port

    monkeypatch.setenv("GPUMIGRATE_STS_ENDPOINT", f"127.0.0.1:{free_port()}")
    with pytest.raises(EnvironmentProblem, match="unreachable"):
        run_sts_transfer(TransferSpec(src="s3://src", dst="gs://dst"), project=PROJECT, options=opts())
