"""-d against fake-gcs-server: a tripped guard leaves the bucket exactly as it was (no copies)."""

from __future__ import annotations

import pytest

from engine.transfer.api import DeleteRefused, TransferSpec, run_transfer
from tests.transfer_support import gcs_client, read_gcs, write_gcs, write_local


def bucket_state(bucket: str) -> dict[str, tuple[int, bytes]]:
    """name -> (generation, bytes): any write, even of the same bytes, changes a generation."""
    return {b.name: (b.generation, b.download_as_bytes()) for b in gcs_client().list_blobs(bucket)}


def test_guard_refusal_leaves_the_bucket_unchanged_and_the_allowed_run_deletes(tmp_path, gcs, unique_bucket):
    gcs_client().create_bucket(unique_bucket)
    write_gcs(unique_bucket, "", {f"old/{i:02d}": b"x" * (i + 1) for i in range(20)})
    src = tmp_path / "src"
    write_local(src, {"new/a.txt": b"new file", "new/b.bin": b"\x00" * 5000,
                      **{f"old/{i:02d}": b"y" * (i + 1) for i in range(15)}})  # 5 deletions planned
    before = bucket_state(unique_bucket)
    spec = TransferSpec(src=str(src), dst=f"gs://{unique_bucket}", delete=True)
    with pytest.raises(DeleteRefused, match=r"--max-delete 5"):  # default limit: 10% of 20 = 2
        run_transfer(spec)
    assert bucket_state(unique_bucket) == before
    with pytest.raises(DeleteRefused, match="--allow-empty-source"):
        (tmp_path / "empty").mkdir()
        run_transfer(TransferSpec(src=str(tmp_path / "empty"), dst=f"gs://{unique_bucket}", delete=True,
                                  max_delete=100))
    assert bucket_state(unique_bucket) == before

    done = run_transfer(spec.model_copy(update={"max_delete": 5, "checksum": True}))
    assert done.ok and done.deleted == 5 and done.copied == 17
    got = read_gcs(unique_bucket)
    assert set(got) == {"new/a.txt", "new/b.bin", *(f"old/{i:02d}" for i in range(15))}
    assert got["old/03"] == b"yyyy"
