"""A GCS destination written by someone else while our resumable upload of it is sent is not overwritten.

An object between 8 MiB and the part threshold goes to GCS as one resumable upload carrying the generation
planning saw (``ifGenerationMatch``; 0 = none may exist). GCS checks it when the upload finalizes, so an
object someone else writes mid-upload makes the last request fail with 412; the transfer must then report
the object "changed since planning" and keep theirs, never call it copied or verified. fake-gcs-server
ignores the precondition on resumable uploads, so these run through :class:`tests.gcs_strict.StrictGCSResumable`,
which checks it where GCS does (sources in its header)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.transfer.api import TransferSpec, run_transfer
from tests.gcs_strict import StrictGCSResumable, finalizes
from tests.transfer_support import MIB, gcs_client, read_gcs, write_local


def test_finalizes_reads_content_range_as_the_upload_protocol_writes_it() -> None:
    assert finalizes("bytes 0-9/10") and finalizes("bytes */10")
    assert not finalizes("bytes 0-4/10") and not finalizes("bytes 0-4/*") and not finalizes("bytes */*")


@pytest.mark.parametrize("existed", [False, True], ids=["new-object", "earlier-copy"])
def test_an_object_written_by_someone_else_mid_upload_is_kept(existed: bool, tmp_path: Path, gcs, unique_bucket,
                                                              monkeypatch) -> None:
    theirs = b"written by someone else while our upload was sent"
    ours = os.urandom(9 * MIB)  # above 8 MiB, below the part threshold: one resumable upload
    src = tmp_path / "src"
    bucket = unique_bucket
    writes: list[str] = []

    def someone_else(upload_id: str, final: bool) -> None:
        if final and not writes:
            writes.append(upload_id)
            proxy._forward("POST", f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name=dst%2Fbig.bin",
                           {"Content-Type": "application/octet-stream"}, theirs)

    proxy = StrictGCSResumable(gcs.url, on_chunk=someone_else)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    try:
        gcs_client().create_bucket(bucket)
        if existed:  # an earlier run copied an older version; the source has changed since
            write_local(src, {"big.bin": os.urandom(9 * MIB + 1)})
            writes.append("not yet")  # our first upload goes through untouched
            first = run_transfer(TransferSpec(src=str(src), dst=f"gs://{bucket}/dst"), journal=tmp_path / "j.sqlite")
            assert first.ok and first.verified == 1, first.failures
            writes.clear()
        write_local(src, {"big.bin": ours})
        s = run_transfer(TransferSpec(src=str(src), dst=f"gs://{bucket}/dst"), journal=tmp_path / "j.sqlite")
        now = read_gcs(bucket, "dst/")
    finally:
        proxy.stop()
    assert writes and proxy.refused, "the other writer's object never met our upload's finalize"
    assert not s.ok and s.failed == 1 and s.copied == 0 and s.verified == 0, s.line()
    assert "changed since planning" in s.failures[0].error, s.failures
    assert now == {"big.bin": theirs}
