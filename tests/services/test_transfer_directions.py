"""Every direction against moto and fake-gcs-server: content, odd names, empty and large files."""

from __future__ import annotations

import pytest

from engine.transfer.api import TransferSpec, run_transfer
from tests.transfer_support import (MIB, gcs_client, gcs_names, read_gcs, read_local, read_s3, s3_client,
                                    sample_tree, write_gcs, write_local, write_s3)

DIRECTIONS = ["local-gs", "local-s3", "s3-gs", "gs-local", "s3-local", "gs-s3", "gs-gs"]


def _setup(kind: str, tmp_path, bucket: str, tree, role: str) -> str:
    if kind == "local":
        root = tmp_path / role
        if role == "src":
            write_local(root, tree)
        return str(root)
    if kind == "s3":
        s3_client().create_bucket(Bucket=f"{bucket}-{role}")
        if role == "src":
            write_s3(f"{bucket}-{role}", "data/", tree)
        return f"s3://{bucket}-{role}/data"
    gcs_client().create_bucket(f"{bucket}-{role}")
    if role == "src":
        write_gcs(f"{bucket}-{role}", "data/", tree)
    return f"gs://{bucket}-{role}/data"


def _read(kind: str, url: str, tmp_path) -> dict[str, bytes]:
    if kind == "local":
        return read_local(tmp_path / "dst")
    bucket = url.split("/")[2]
    return read_s3(bucket, "data/") if kind == "s3" else read_gcs(bucket, "data/")


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_every_direction_copies_exact_bytes_and_resyncs_to_nothing(direction, tmp_path, aws, gcs, unique_bucket):
    s_kind, d_kind = direction.split("-")
    tree = sample_tree(big=12 * MIB)
    src = _setup(s_kind, tmp_path, unique_bucket, tree, "src")
    dst = _setup(d_kind, tmp_path, unique_bucket, tree, "dst")
    events = []
    spec = TransferSpec(src=src, dst=dst, part_threshold_mib=5, jobs=4)
    summary = run_transfer(spec, emit=events.append)
    assert summary.failures == []
    assert summary.copied == len(tree)
    assert summary.verified == len(tree)
    assert summary.bytes == sum(len(v) for v in tree.values())
    assert _read(d_kind, dst, tmp_path) == tree
    # the large file went in parts and the per-object feed reported it
    phases = {(e.extra.get("path"), e.extra.get("phase")) for e in events if getattr(e, "label", "") == "object"}
    assert ("big/large.bin", "done") in phases
    if d_kind == "gs":  # components were cleaned up
        assert not [n for n in gcs_names(dst.split("/")[2]) if ".gpumigrate-tmp" in n]
    again = run_transfer(spec)
    assert (again.copied, again.skipped, again.failed) == (0, len(tree), 0)


def test_gcs_compose_in_rounds_for_more_than_32_components(tmp_path, gcs, unique_bucket):
    gcs_client().create_bucket(unique_bucket)
    tree = {"huge.bin": b"".join(bytes([i]) * MIB for i in range(40)) + b"tail"}  # 41 parts of 1 MiB
    write_local(tmp_path / "src", tree)
    spec = TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}/", part_threshold_mib=5,
                        part_size_mib=1, jobs=4)
    summary = run_transfer(spec)
    assert summary.failures == [] and summary.verified == 1
    blob = gcs_client().bucket(unique_bucket).get_blob("huge.bin")
    assert blob.download_as_bytes() == tree["huge.bin"]
    assert gcs_names(unique_bucket) == ["huge.bin"]  # components and intermediates removed
    assert blob.metadata.get("goog-reserved-file-mtime")


def test_s3_multipart_destination_reports_the_composite_checksum(tmp_path, aws):
    s3_client().create_bucket(Bucket="mp-bucket")
    tree = {"f.bin": bytes(range(256)) * (48 * 1024)}  # 12 MiB -> 3 parts of 5 MiB
    write_local(tmp_path / "src", tree)
    summary = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst="s3://mp-bucket/p", part_threshold_mib=5))
    assert summary.failures == [] and summary.verified == 1
    head = s3_client().head_object(Bucket="mp-bucket", Key="p/f.bin", ChecksumMode="ENABLED")
    assert head["ETag"].strip('"').endswith("-3")
    assert read_s3("mp-bucket", "p/") == tree
