"""S3 as a destination leaves no debris and overwrites nothing it did not plan to.

A failed multipart upload is aborted (no parts billed for an object nobody sees); uploads an
earlier run started and no journalled object continues are aborted on the next run, and
uploads of other tools under the same prefix are left alone; writes and deletes carry what
planning saw (If-None-Match: * on create, If-Match: ETag on overwrite and delete)."""

from __future__ import annotations

import os

import pytest

from engine.events import Progress
from engine.transfer.api import TransferSpec, journal_path_for, run_transfer
from engine.transfer.journal import Journal
from tests.transfer_support import MIB, interrupt_after_a_part, read_s3, s3_client, write_local


def _uploads(bucket: str) -> list[dict]:
    return s3_client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_a_failed_multipart_upload_is_aborted_and_a_newer_object_kept(tmp_path, aws) -> None:
    s3_client().create_bucket(Bucket="mpu-fail")
    write_local(tmp_path / "src", {"big.bin": os.urandom(11 * MIB)})
    theirs = b"written by someone else after planning"

    def emit(event) -> None:  # someone writes the key while our parts are in flight
        if isinstance(event, Progress) and event.extra.get("phase") == "started":
            s3_client().put_object(Bucket="mpu-fail", Key="d/big.bin", Body=theirs)

    s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst="s3://mpu-fail/d", part_threshold_mib=5,
                                  part_size_mib=5, jobs=2), emit=emit, journal=tmp_path / "j.sqlite")
    assert s.failed == 1 and "changed since planning" in s.failures[0].error, s.failures
    assert _uploads("mpu-fail") == []  # aborted: no parts left
    assert read_s3("mpu-fail") == {"d/big.bin": theirs}
    assert Journal(tmp_path / "j.sqlite").stale_uploads() == []


def test_stale_uploads_of_this_engine_are_aborted_on_the_next_run_others_kept(tmp_path, aws) -> None:
    s3 = s3_client()
    s3.create_bucket(Bucket="mpu-stale")
    data = os.urandom(6 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    ours = s3.create_multipart_upload(Bucket="mpu-stale", Key="d/big.bin")["UploadId"]
    theirs = s3.create_multipart_upload(Bucket="mpu-stale", Key="d/other.bin")["UploadId"]
    journal = Journal(tmp_path / "j.sqlite")  # a run that was killed before it could abort its upload
    journal.set_upload("big.bin", "an older source", ours, 5 * MIB)
    journal.drop_upload("big.bin")
    journal.close()
    s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst="s3://mpu-stale/d", part_threshold_mib=5,
                                  part_size_mib=5), journal=tmp_path / "j.sqlite")
    assert s.ok and s.copied == 1
    assert [(u["Key"], u["UploadId"]) for u in _uploads("mpu-stale")] == [("d/other.bin", theirs)]
    assert Journal(tmp_path / "j.sqlite").stale_uploads() == []


def test_an_upload_replaced_by_a_changed_source_is_aborted(tmp_path, aws) -> None:
    s3_client().create_bucket(Bucket="mpu-replaced")
    write_local(tmp_path / "src", {"big.bin": os.urandom(11 * MIB)})
    spec = TransferSpec(src=str(tmp_path / "src"), dst="s3://mpu-replaced/d", part_threshold_mib=5, part_size_mib=5)
    journal = Journal(tmp_path / "j.sqlite")  # an interrupted run: its upload journalled, one part sent
    fp_old = "11534336:1:1"
    token = s3_client().create_multipart_upload(Bucket="mpu-replaced", Key="d/big.bin")["UploadId"]
    assert journal.set_upload("big.bin", fp_old, token, 5 * MIB) == []
    journal.close()
    s = run_transfer(spec, journal=tmp_path / "j.sqlite")
    assert s.ok and s.copied == 1
    assert _uploads("mpu-replaced") == []


def test_writes_and_deletes_are_conditional_on_what_planning_saw(tmp_path, aws) -> None:
    s3 = s3_client()
    s3.create_bucket(Bucket="cond-bucket")
    s3.put_object(Bucket="cond-bucket", Key="d/changed.txt", Body=b"old")
    s3.put_object(Bucket="cond-bucket", Key="d/extra.txt", Body=b"planned for deletion")
    write_local(tmp_path / "src", {"new.txt": b"ours", "changed.txt": b"ours too", "keep.txt": b"k"})
    late = {"d/new.txt": b"appeared after planning", "d/changed.txt": b"replaced after planning",
            "d/extra.txt": b"replaced before the delete"}
    fired = []

    def approve(planned: int, detail: str, paths=None) -> None:  # after planning, before any change: all of it changes
        fired.append(planned)
        for key, body in late.items():
            s3.put_object(Bucket="cond-bucket", Key=key, Body=body)

    s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst="s3://cond-bucket/d", delete=True, max_delete=5,
                                  jobs=1), approve_delete=approve)
    assert fired == [1]
    failed = {f.path: f.error for f in s.failures}
    assert set(failed) == {"new.txt", "changed.txt"}, s.failures
    assert all("changed since planning" in e for e in failed.values())
    # no deletion runs after an error in the run (issue 17): extra.txt is not even tried
    assert s.deletions_skipped == "2 errors" and s.deleted == 0
    assert read_s3("cond-bucket") == {**late, "d/keep.txt": b"k"}
    # the delete alone: replaced between planning and the delete, it is not deleted
    late = {"d/extra.txt": b"replaced again before the delete"}
    s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst="s3://cond-bucket/d", delete=True, max_delete=5,
                                  jobs=1), approve_delete=approve)
    assert [f.path for f in s.failures] == ["extra.txt"] and "changed since planning" in s.failures[0].error
    assert read_s3("cond-bucket")["d/extra.txt"] == b"replaced again before the delete"


def test_a_failed_check_of_a_journalled_upload_keeps_it_for_the_next_run(tmp_path, aws, monkeypatch) -> None:
    """S3 answering the resume check (ListParts) with a 500 is not "the upload is gone": the
    object fails this run, the upload stays journalled (not orphaned), the next run resumes it."""
    from tests.transfer_support import FaultProxy

    s3_client().create_bucket(Bucket="mpu-check")
    data = os.urandom(16 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    journal = tmp_path / "j.sqlite"
    spec = TransferSpec(src=str(tmp_path / "src"), dst="s3://mpu-check/d", part_threshold_mib=5, part_size_mib=5,
                        jobs=1)
    interrupt_after_a_part(spec, journal)
    [upload] = _uploads("mpu-check")  # kept for the resumed run

    def answer(method: str, path: str):
        if method == "GET" and "uploadId=" in path and "partNumber=" not in path:
            return 500, b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
        return None

    proxy = FaultProxy(aws.url, p503=0, preset=0, ptruncate=0, answer=answer)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        failed = run_transfer(spec, journal=journal)
    finally:
        proxy.stop()
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
        monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    assert failed.failed == 1 and "InternalError" in failed.failures[0].error, failed.failures
    assert [u["UploadId"] for u in _uploads("mpu-check")] == [upload["UploadId"]]
    resumed = run_transfer(spec, journal=journal)
    assert resumed.ok and resumed.copied == 1 and resumed.resumed_parts >= 1
    assert _uploads("mpu-check") == [] and read_s3("mpu-check") == {"d/big.bin": data}


def test_cleanup_lists_unfinished_uploads_and_whose_they_are(tmp_path, aws, monkeypatch) -> None:
    """``--cleanup s3://`` lists every unfinished upload under the prefix (key, id, start, parts);
    the journals under the state dir say which are this engine's; ``--remove`` aborts those, and
    the others only with ``--abort-unknown-uploads``. Uploads outside the prefix are not touched."""
    import io
    import json
    from contextlib import redirect_stdout

    from engine.session.paths import state_dir
    from engine.transfer import temps
    from tui.cli import main

    s3 = s3_client()
    s3.create_bucket(Bucket="mpu-cleanup")
    ours = s3.create_multipart_upload(Bucket="mpu-cleanup", Key="d/big.bin")["UploadId"]
    s3.upload_part(Bucket="mpu-cleanup", Key="d/big.bin", UploadId=ours, PartNumber=1, Body=b"x" * (5 * MIB))
    theirs = s3.create_multipart_upload(Bucket="mpu-cleanup", Key="d/other.bin")["UploadId"]
    outside = s3.create_multipart_upload(Bucket="mpu-cleanup", Key="e/x.bin")["UploadId"]
    (state_dir() / "journals").mkdir(parents=True)
    journal = Journal(state_dir() / "journals" / "killed.sqlite")  # a run killed mid-upload
    journal.start_run("file:///src", "s3://mpu-cleanup/d/")
    journal.set_upload("big.bin", "fp", ours, 5 * MIB)
    journal.close()

    def cleanup(*extra: str) -> str:
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["transfer", "--cleanup", "s3://mpu-cleanup/d", *extra]) == 0
        return out.getvalue()

    out = cleanup()
    mine = next(x for x in out.splitlines() if ours in x)
    assert mine.startswith("unfinished upload d/big.bin") and "1 parts, 5242880 bytes" in mine, out
    assert "started by gpumigrate for file:///src -> s3://mpu-cleanup/d/ (the next run of that transfer resumes it)" in mine
    other = next(x for x in out.splitlines() if theirs in x)
    assert "no journal on this machine records it" in other and "S3 lists nothing that tells which tool" in other
    assert outside not in out and "2 unfinished multipart uploads (5242880 bytes of parts" in out
    monkeypatch.setattr(temps, "RECENT_S", 0)  # as if 15 minutes had passed
    event = json.loads(cleanup("--remove", "--json").splitlines()[-1])
    assert event["removed"] == 1 and {u["upload_id"]: u["journal"] is None for u in event["uploads"]} == {
        ours: False, theirs: True}
    assert sorted(u["UploadId"] for u in _uploads("mpu-cleanup")) == sorted([theirs, outside])
    assert "aborted 1 of 1 unfinished multipart uploads" in cleanup("--remove", "--abort-unknown-uploads")
    assert [u["UploadId"] for u in _uploads("mpu-cleanup")] == [outside]


def _failing(op: str):
    """A FaultProxy ``answer`` failing every request of one multipart operation with a 500."""
    def answer(method: str, path: str):
        kind = {("PUT", True): "UploadPart", ("POST", False): "Complete", ("DELETE", False): "Abort"}.get(
            (method, "partNumber=" in path)) if "uploadId=" in path else None
        if kind in op.split("+"):
            return 500, b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
        return None
    return answer


@pytest.mark.parametrize("op", ["UploadPart", "Complete", "UploadPart+Abort"])
def test_a_failure_on_a_part_or_the_completion_aborts_the_upload(tmp_path, aws, monkeypatch, op) -> None:
    """UploadPart or CompleteMultipartUpload failing for good (after botocore's retries): the
    upload is aborted. Should the abort fail too, the run says so and how to see what is left,
    and the next run aborts it (the journal's ledger)."""
    from engine.events import Message
    from tests.transfer_support import FaultProxy

    bucket = "mpu-" + op.lower().replace("+", "-")
    s3_client().create_bucket(Bucket=bucket)
    data = os.urandom(11 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    spec = TransferSpec(src=str(tmp_path / "src"), dst=f"s3://{bucket}/d", part_threshold_mib=5, part_size_mib=5,
                        jobs=2)
    proxy = FaultProxy(aws.url, p503=0, preset=0, ptruncate=0, answer=_failing(op))
    said: list[str] = []
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        failed = run_transfer(spec, journal=tmp_path / "j.sqlite",
                              emit=lambda e: said.append(e.text) if isinstance(e, Message) else None)
    finally:
        proxy.stop()
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
        monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    assert failed.failed == 1 and "InternalError" in failed.failures[0].error, failed.failures
    if "Abort" not in op:
        assert _uploads(bucket) == []
        return
    assert len(_uploads(bucket)) == 1
    warning = next(t for t in said if "could not clean up" in t)
    assert warning.endswith(f"the next run tries again; `gpumigrate transfer --cleanup s3://{bucket}/d/` lists it"), said
    again = run_transfer(spec, journal=tmp_path / "j.sqlite")
    assert again.ok and again.copied == 1 and _uploads(bucket) == []
    assert read_s3(bucket) == {"d/big.bin": data}


def test_a_stale_upload_the_store_will_not_abort_is_a_warning_with_its_cause(tmp_path, aws, monkeypatch) -> None:
    """The next run cannot abort an earlier run's upload either: it says so as a warning, with
    the store's answer and the command that lists what is left (it said "cleaned up 0 of 1"
    as info, and exited 0 with the upload still billed), and a later run still aborts it."""
    from engine.events import Message
    from tests.transfer_support import FaultProxy

    s3_client().create_bucket(Bucket="mpu-stale-refused")
    write_local(tmp_path / "src", {"big.bin": os.urandom(11 * MIB)})
    spec = TransferSpec(src=str(tmp_path / "src"), dst="s3://mpu-stale-refused/d", part_threshold_mib=5,
                        part_size_mib=5, jobs=2)
    said: list[Message] = []
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    for op in ("UploadPart+Abort", "Abort"):
        proxy = FaultProxy(aws.url, p503=0, preset=0, ptruncate=0, answer=_failing(op))
        try:
            monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
            run_transfer(spec, journal=tmp_path / "j.sqlite",
                         emit=lambda e: said.append(e) if isinstance(e, Message) else None)
        finally:
            proxy.stop()
            monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    assert len(_uploads("mpu-stale-refused")) == 1
    warning = next((m for m in said if "left by an earlier run" in m.text), None)
    assert warning is not None and warning.level == "warning", [m.text for m in said]
    assert "could not abort 1 of 1" in warning.text and "InternalError" in warning.text, warning.text
    assert warning.text.endswith("`gpumigrate transfer --cleanup s3://mpu-stale-refused/d/` lists it")
    assert run_transfer(spec, journal=tmp_path / "j.sqlite").ok and _uploads("mpu-stale-refused") == []


def test_cleanup_remove_keeps_the_upload_of_a_transfer_still_running(tmp_path, aws, monkeypatch) -> None:
    """``--cleanup --remove`` judged only by idle time: a transfer still running whose upload had
    no part written for 15 minutes (a slow link, a huge part) lost it. The journal's run lock
    says the transfer is running: its upload is kept and the line says why."""
    import io
    from contextlib import redirect_stdout

    from engine.session.paths import state_dir
    from engine.transfer import temps
    from tui.cli import main

    s3 = s3_client()
    s3.create_bucket(Bucket="mpu-running")
    ours = s3.create_multipart_upload(Bucket="mpu-running", Key="d/big.bin")["UploadId"]
    (state_dir() / "journals").mkdir(parents=True)
    running = Journal(state_dir() / "journals" / "running.sqlite")  # a run going on right now
    running.start_run("file:///src", "s3://mpu-running/d/")
    running.set_upload("big.bin", "fp", ours, 5 * MIB)
    running.hold()
    monkeypatch.setattr(temps, "RECENT_S", 0)  # as if 15 minutes had passed
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            assert main(["transfer", "--cleanup", "s3://mpu-running/d", "--remove"]) == 0
    finally:
        running.close()
    line = next(x for x in out.getvalue().splitlines() if ours in x)
    assert "its transfer is running now; kept" in line, out.getvalue()
    assert [u["UploadId"] for u in _uploads("mpu-running")] == [ours]
    out = io.StringIO()
    with redirect_stdout(out):  # that run has ended (its lock with it): now it goes
        assert main(["transfer", "--cleanup", "s3://mpu-running/d", "--remove"]) == 0
    assert _uploads("mpu-running") == [], out.getvalue()


def test_a_run_journalled_elsewhere_takes_over_the_killed_runs_upload(tmp_path, aws) -> None:
    """The defect: `gpumigrate replay PROFILE` journals beside a new session each time, so the same
    command after a kill -9 started the large object over and left the killed run's multipart upload
    billed for ever (`--cleanup` said "the next run resumes it"). The next run, in another session or
    from the bare CLI, now resumes it from its parts; a source changed since gets it aborted."""
    from engine.session import sessions_dir

    s3_client().create_bucket(Bucket="mpu-adopt")
    data = os.urandom(16 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    spec = TransferSpec(src=str(tmp_path / "src"), dst="s3://mpu-adopt/d", part_threshold_mib=5, part_size_mib=5,
                        jobs=1, bwlimit="8M")
    first = journal_path_for(spec, session_path=sessions_dir() / "replay-a.sqlite")
    interrupt_after_a_part(spec, first, emit=lambda e: None)
    assert len(_uploads("mpu-adopt")) == 1
    texts: list[str] = []
    s = run_transfer(spec.model_copy(update={"bwlimit": None}), session_path=sessions_dir() / "replay-b.sqlite",
                     emit=lambda e: texts.append(getattr(e, "text", "")))
    assert s.ok and s.copied == 1 and s.verified == 1 and s.resumed_parts >= 1, (s.failures, texts)
    assert any(t.startswith("took over the unfinished uploads") for t in texts), texts
    assert _uploads("mpu-adopt") == [] and read_s3("mpu-adopt") == {"d/big.bin": data}
    assert Journal(first).pending_uploads() == [] and Journal(first).stale_uploads() == []
    # a new version killed in a third session, then the source changes again: the bare CLI's run
    # takes the upload over and aborts it as replaced
    new = os.urandom(17 * MIB)
    (tmp_path / "src" / "big.bin").write_bytes(new)
    interrupt_after_a_part(spec, journal_path_for(spec, session_path=sessions_dir() / "replay-c.sqlite"),
                           emit=lambda e: None)
    assert len(_uploads("mpu-adopt")) == 1
    (tmp_path / "src" / "big.bin").write_bytes(new[:-1])
    s = run_transfer(spec.model_copy(update={"bwlimit": None}))
    assert s.ok and s.copied == 1 and s.resumed_parts == 0
    assert _uploads("mpu-adopt") == [] and read_s3("mpu-adopt") == {"d/big.bin": new[:-1]}
