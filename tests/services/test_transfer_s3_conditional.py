"""Conditional writes on an S3 destination, against a proxy that enforces them as S3 does
(tests/s3_strict.py: moto ignores If-Match on CompleteMultipartUpload and no stand-in models a
store that refuses the headers).

* the object changed between planning and CompleteMultipartUpload: 412, the upload aborted,
  the other writer's object kept, reported "changed since planning"; the re-run re-plans;
* another conditional write in progress: 409 ConditionalRequestConflict, the same outcome;
* an endpoint that refuses the headers (501, or 400 to If-None-Match): ``auto`` sends that
  request again without them, says once that overwrites are unguarded and records it in the
  summary; ``on`` fails the writes; ``off`` never sends them."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout

import pytest

from engine.events import Message, Progress
from engine.transfer.api import TransferSpec, run_transfer
from engine.transfer.journal import Journal
from tests.s3_strict import StrictS3
from tests.transfer_support import MIB, read_s3, s3_client, write_local


@pytest.fixture()
def strict(aws, monkeypatch):
    def start(refuse: str = "") -> StrictS3:
        proxy = StrictS3(aws.url, refuse=refuse)
        started.append(proxy)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        return proxy

    started: list[StrictS3] = []
    yield start
    for proxy in started:
        proxy.stop()


def _uploads(bucket: str) -> list[dict]:
    return s3_client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def _spec(tmp_path, bucket: str, **kw) -> TransferSpec:
    return TransferSpec(src=str(tmp_path / "src"), dst=f"s3://{bucket}/d", part_threshold_mib=5, part_size_mib=5,
                        **{"jobs": 2, **kw})


def test_complete_under_if_match_refused_when_the_object_changed_since_planning(tmp_path, strict) -> None:
    proxy = strict()
    s3 = s3_client()
    s3.create_bucket(Bucket="cmp-ifmatch")
    planned = s3.put_object(Bucket="cmp-ifmatch", Key="d/big.bin", Body=b"old")["ETag"]
    ours = os.urandom(11 * MIB)
    write_local(tmp_path / "src", {"big.bin": ours})
    theirs = b"written by someone else after planning"

    def emit(event) -> None:  # someone overwrites the key while our parts are in flight
        if isinstance(event, Progress) and event.extra.get("phase") == "started":
            s3_client().put_object(Bucket="cmp-ifmatch", Key="d/big.bin", Body=theirs)

    journal = tmp_path / "j.sqlite"
    s = run_transfer(_spec(tmp_path, "cmp-ifmatch"), emit=emit, journal=journal)
    assert s.failed == 1 and "changed since planning" in s.failures[0].error, s.failures
    assert ("CompleteMultipartUpload", {"if-match": planned}, 412) in proxy.seen
    assert _uploads("cmp-ifmatch") == []  # aborted: no parts left
    assert read_s3("cmp-ifmatch") == {"d/big.bin": theirs}
    assert Journal(journal).stale_uploads() == []
    # the re-run plans again: now If-Match carries their ETag, and it holds
    again = run_transfer(_spec(tmp_path, "cmp-ifmatch"), journal=journal)
    assert again.ok and again.copied == 1 and not again.unguarded_writes, (again.failures, proxy.seen)
    assert proxy.seen[-1][0] == "CompleteMultipartUpload" and proxy.seen[-1][2] == 200
    assert read_s3("cmp-ifmatch") == {"d/big.bin": ours}


def test_a_concurrent_conditional_write_is_a_conflict_not_an_overwrite(tmp_path, strict) -> None:
    proxy = strict()
    s3_client().create_bucket(Bucket="cmp-409")
    write_local(tmp_path / "src", {"big.bin": os.urandom(11 * MIB)})
    held = []

    def emit(event) -> None:  # another writer's conditional complete is in progress on the key
        if isinstance(event, Progress) and event.extra.get("phase") == "started" and not held:
            held.append(proxy.busy("cmp-409", "d/big.bin"))
            held[0].__enter__()

    try:
        s = run_transfer(_spec(tmp_path, "cmp-409"), emit=emit, journal=tmp_path / "j.sqlite")
    finally:
        held[0].__exit__(None, None, None)
    assert s.failed == 1 and "changed since planning" in s.failures[0].error, s.failures
    assert ("CompleteMultipartUpload", {"if-none-match": "*"}, 409) in proxy.seen
    assert _uploads("cmp-409") == [] and read_s3("cmp-409") == {}


def _refusing_run(tmp_path, strict, refuse: str, mode: str, bucket: str):
    proxy = strict(refuse)
    s3 = s3_client()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="d/changed.txt", Body=b"old")
    s3.put_object(Bucket=bucket, Key="d/extra.txt", Body=b"the source no longer has it")
    tree = {"big.bin": os.urandom(11 * MIB), "changed.txt": b"new content", "new.txt": b"new"}
    write_local(tmp_path / "src", tree)
    events: list = []
    s = run_transfer(_spec(tmp_path, bucket, jobs=1, delete=True, max_delete=5, s3_conditional_writes=mode),
                     emit=events.append, journal=tmp_path / "j.sqlite", approve_delete=lambda *a, **k: None)
    loud = [e.text for e in events if isinstance(e, Message) and "OVERWRITES UNGUARDED" in e.text]
    return proxy, s, loud, {"d/" + k: v for k, v in tree.items()}


@pytest.mark.parametrize("refuse", ["501", "400-if-none-match"])
def test_auto_writes_unguarded_where_the_endpoint_refuses_conditions_and_says_so(tmp_path, strict, refuse) -> None:
    proxy, s, loud, want = _refusing_run(tmp_path, strict, refuse, "auto", f"refuse-{refuse[:3]}")
    assert s.ok and s.copied == 3 and s.deleted == 1, s.failures
    assert read_s3(f"refuse-{refuse[:3]}") == want
    refused = [n for n, entry in enumerate(proxy.seen) if entry[2] in (400, 501)]
    assert len(refused) == 1 and proxy.seen[refused[0]][1]  # one refusal: a conditional write
    assert all(cond == {} for _op, cond, _status in proxy.seen[refused[0] + 1:])  # then all unguarded
    assert len(loud) == 1 and "s3://refuse-" in loud[0]
    assert refuse[:3] in s.unguarded_writes and "If-None-Match" in s.unguarded_writes
    assert "OVERWRITES UNGUARDED" in s.line() and s.to_event()["unguarded_writes"] == s.unguarded_writes


def test_on_refuses_to_write_unguarded_and_off_never_sends_conditions(tmp_path, strict) -> None:
    proxy, s, loud, _ = _refusing_run(tmp_path, strict, "501", "on", "cond-on")
    assert s.failed == 3 and not loud and not s.unguarded_writes
    assert all('s3_conditional_writes = "on"' in f.error and "501 NotImplemented" in f.error for f in s.failures)
    assert read_s3("cond-on") == {"d/changed.txt": b"old", "d/extra.txt": b"the source no longer has it"}
    assert _uploads("cond-on") == []  # the refused complete's upload aborted
    assert [status for _op, _cond, status in proxy.seen[2:]] == [501, 501, 501]  # after the set-up: none unguarded

    (tmp_path / "src").rename(tmp_path / "src-on")
    proxy, s, loud, want = _refusing_run(tmp_path, strict, "501", "off", "cond-off")
    assert s.ok and read_s3("cond-off") == want and not loud
    assert proxy.seen and all(cond == {} and status in (200, 204) for _op, cond, status in proxy.seen)
    assert s.unguarded_writes == 's3_conditional_writes = "off"'


def test_cli_flag_reaches_the_backend(tmp_path, strict) -> None:
    from tui.cli import main

    strict("501")
    s3_client().create_bucket(Bucket="cond-cli")
    write_local(tmp_path / "src", {"a.txt": b"a"})
    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(["transfer", str(tmp_path / "src"), "s3://cond-cli/d", "--s3-conditional-writes", "on"])
    assert rc != 0 and 'refuses conditional writes (If-None-Match: 501 NotImplemented)' in out.getvalue()
    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(["transfer", str(tmp_path / "src"), "s3://cond-cli/d"])
    assert rc == 0 and "OVERWRITES UNGUARDED" in out.getvalue(), out.getvalue()
    assert read_s3("cond-cli") == {"d/a.txt": b"a"}
