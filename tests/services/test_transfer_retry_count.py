"""One retry layer, counted on the wire: a request the store fails N times is sent N + 1 times
(the library retries it; the engine's own loop does not retry it again), and one that fails for
good is sent exactly as many times as the library's attempts allow (botocore: AWS_MAX_ATTEMPTS
in all; before issue 19 the engine's loop multiplied them: 6 x 4 = 24)."""

from __future__ import annotations

import threading

import pytest

from engine.transfer.api import TransferSpec, run_transfer
from tests.transfer_support import FaultProxy, gcs_client, read_gcs, read_s3, s3_client, write_local


def _fail_first(n: int, which, status: int, body: bytes):
    sent: list[str] = []
    lock = threading.Lock()

    def answer(method: str, path: str):
        if not which(method, path):
            return None
        with lock:
            sent.append(path)
            if len(sent) <= n:
                return status, body
        return None
    return answer, sent


@pytest.mark.parametrize(("fails", "ok"), [(2, True), (99, False)])
def test_s3_a_failing_write_is_sent_as_often_as_botocore_allows(tmp_path, aws, monkeypatch, fails, ok) -> None:
    s3_client().create_bucket(Bucket="retry-count")
    write_local(tmp_path / "src", {"a.txt": b"payload"})
    answer, sent = _fail_first(fails, lambda m, p: m == "PUT" and p.endswith("/a.txt"), 500,
                               b"<Error><Code>InternalError</Code><Message>injected</Message></Error>")
    proxy = FaultProxy(aws.url, p503=0, preset=0, ptruncate=0, answer=answer)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
        s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst="s3://retry-count/d"),
                         journal=tmp_path / "j.sqlite")
    finally:
        proxy.stop()
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    if ok:
        assert s.ok and len(sent) == fails + 1 and read_s3("retry-count") == {"d/a.txt": b"payload"}
    else:
        assert s.failed == 1 and "InternalError" in s.failures[0].error and len(sent) == 3, (sent, s.failures)


def test_gcs_a_failing_write_is_sent_once_more_per_failure(tmp_path, gcs, unique_bucket, monkeypatch) -> None:
    gcs_client().create_bucket(unique_bucket)
    write_local(tmp_path / "src", {"a.txt": b"payload"})
    answer, sent = _fail_first(1, lambda m, p: m == "POST" and "/upload/" in p, 503,
                               b'{"error": {"code": 503, "message": "injected"}}')
    proxy = FaultProxy(gcs.url, p503=0, preset=0, ptruncate=0, answer=answer)
    try:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}/d"),
                         journal=tmp_path / "j.sqlite")
    finally:
        proxy.stop()
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    assert s.ok and len(sent) == 2, sent
    assert read_gcs(unique_bucket, "d/") == {"a.txt": b"payload"}


@pytest.mark.parametrize(("size", "gets"), [(100_000, 1), (9 << 20, 2)])
def test_gcs_a_body_cut_short_is_fetched_once_more(tmp_path, gcs, unique_bucket, monkeypatch, size, gets) -> None:
    """A GCS read whose body breaks off half-way (Content-Length promised more) is retried once,
    by one layer: one media GET more than ``gets`` uncut, the file whole and verified (a single
    download, and a stream read in 8 MiB chunks above the single-request size: 8 MiB and 1 MiB,
    nothing past the end: the generation read has the listed size)."""
    import os

    gcs_client().create_bucket(unique_bucket)
    data = os.urandom(size)
    gcs_client().bucket(unique_bucket).blob("d/o.bin").upload_from_string(data)
    media: list[str] = []
    lock = threading.Lock()

    def cut(method: str, path: str) -> bool:
        if method != "GET" or "alt=media" not in path:
            return False
        with lock:
            media.append(path)
            return len(media) == 1

    proxy = FaultProxy(gcs.url, p503=0, preset=0, ptruncate=0, cut=cut)
    try:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        s = run_transfer(TransferSpec(src=f"gs://{unique_bucket}/d", dst=str(tmp_path / "dst")),
                         journal=tmp_path / "j.sqlite")
    finally:
        proxy.stop()
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    assert s.ok and s.verified == 1 and len(media) == gets + 1, (media, s.failures)
    assert (tmp_path / "dst" / "o.bin").read_bytes() == data
