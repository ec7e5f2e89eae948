"""Against the stand-ins: traversal keys, conflicts, delete guards, altered objects, faults."""

from __future__ import annotations

import json

import pytest

from engine.transfer.api import DeleteRefused, TransferSpec, run_transfer, verify_trees
from tests import stand_ins
from tests.transfer_support import (MIB, FaultProxy, gcs_client, read_gcs, read_local, read_s3, s3_client,
                                    sample_tree, write_gcs, write_local, write_s3)


def test_traversal_and_conflicting_keys_from_s3_are_refused_never_written_outside(tmp_path, aws):
    s3 = s3_client()
    s3.create_bucket(Bucket="evil-bucket")
    bad = ["../escape.txt", "a/../../escape2.txt", "/abs.txt", "dir//double", "./dot"]
    for key in bad + ["ok.txt", "k", "k/inside"]:
        s3.put_object(Bucket="evil-bucket", Key=key, Body=b"payload")
    dst = tmp_path / "inner" / "dst"
    summary = run_transfer(TransferSpec(src="s3://evil-bucket", dst=str(dst)))
    failed = {f.path: f.action for f in summary.failures}
    assert {p for p, a in failed.items() if a == "refused"} == set(bad)
    assert failed.get("k/inside") == "conflict"
    assert summary.refused == len(bad) and summary.conflicts == 1 and not summary.ok
    assert read_local(dst) == {"ok.txt": b"payload", "k": b"payload"}
    assert sorted(p.name for p in (tmp_path / "inner").iterdir()) == ["dst"]
    assert not list(tmp_path.glob("*escape*"))


def test_delete_guards_on_gcs(tmp_path, gcs, unique_bucket):
    gcs_client().create_bucket(unique_bucket)
    write_gcs(unique_bucket, "", {f"obj{i:02d}": b"x" for i in range(20)})
    (tmp_path / "src").mkdir()
    with pytest.raises(DeleteRefused, match="empty"):
        run_transfer(TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}", delete=True))
    assert len(read_gcs(unique_bucket)) == 20
    write_local(tmp_path / "src", {"obj00": b"x"})
    with pytest.raises(DeleteRefused, match="limit of 2"):
        run_transfer(TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}", delete=True))
    assert len(read_gcs(unique_bucket)) == 20
    allowed = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}", delete=True,
                                        max_delete=19, checksum=True))
    assert allowed.deleted == 19 and set(read_gcs(unique_bucket)) == {"obj00"}


def test_gcs_object_altered_behind_our_back_is_detected_and_repaired(tmp_path, gcs, unique_bucket):
    gcs_client().create_bucket(unique_bucket)
    tree = sample_tree(big=0)
    write_local(tmp_path / "src", tree)
    spec = TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}/d")
    assert run_transfer(spec).verified == len(tree)
    blob = gcs_client().bucket(unique_bucket).get_blob("d/sub/x")
    meta = dict(blob.metadata)
    tampered = gcs_client().bucket(unique_bucket).blob("d/sub/x")
    tampered.metadata = meta  # same size and same preserved mtime: only a checksum can tell
    tampered.upload_from_string(b"Q" * 200)
    assert run_transfer(spec).copied == 0
    report = verify_trees(str(tmp_path / "src"), f"gs://{unique_bucket}/d", tmp_path / "manifest.jsonl")
    assert report.mismatched == ["sub/x"]
    fixed = run_transfer(spec.model_copy(update={"checksum": True}))
    assert fixed.copied == 1 and read_gcs(unique_bucket, "d/") == tree
    report = verify_trees(str(tmp_path / "src"), f"gs://{unique_bucket}/d", tmp_path / "manifest.jsonl")
    assert report.ok
    rows = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert {r["path"] for r in rows} == set(tree)
    assert all(len(r["crc32c"]) == 8 and r["sha256"] is None for r in rows)


def test_s3_multipart_source_without_checksums_is_verified_by_reading(tmp_path, aws):
    s3_client().create_bucket(Bucket="mpsrc-bucket")
    tree = {"m.bin": bytes(range(256)) * (40 * 1024)}  # 10 MiB, multipart ETag, no CRC32C stored
    write_s3("mpsrc-bucket", "", tree)
    report = verify_trees("s3://mpsrc-bucket", str(tmp_path / "nothing"))
    assert report.missing == ["m.bin"]
    s = run_transfer(TransferSpec(src="s3://mpsrc-bucket", dst=str(tmp_path / "out"), part_threshold_mib=5))
    assert s.verified == 1 and read_local(tmp_path / "out") == tree
    assert verify_trees("s3://mpsrc-bucket", str(tmp_path / "out")).ok


@pytest.fixture()
def proxied_s3(aws, monkeypatch):
    proxy = FaultProxy(aws.url, p503=0.15, preset=0.05, ptruncate=0.05, seed=11)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    # one request in four fails here: botocore (the one layer that retries requests) gets the
    # attempts a link this bad needs, through its documented setting
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "10")
    yield proxy
    proxy.stop()


@pytest.fixture()
def proxied_gcs(gcs, monkeypatch):
    proxy = FaultProxy(gcs.url, p503=0.15, preset=0.05, ptruncate=0.05, seed=5)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    yield proxy
    proxy.stop()


def test_faults_on_the_wire_are_retried_until_every_byte_arrives(tmp_path, proxied_s3, proxied_gcs, unique_bucket):
    proxied_s3.enabled = proxied_gcs.enabled = False
    s3_client().create_bucket(Bucket="faulty-bucket")
    gcs_client().create_bucket(unique_bucket)
    tree = sample_tree(big=11 * MIB)
    tree.update({f"many/{i:03d}": bytes([i]) * (i * 37) for i in range(40)})
    write_s3("faulty-bucket", "src/", tree)
    proxied_s3.enabled = proxied_gcs.enabled = True
    from engine.transfer.retry import RetryPolicy

    fast = RetryPolicy(attempts=10, base_s=0.01, cap_s=0.2)
    s = run_transfer(TransferSpec(src="s3://faulty-bucket/src", dst=f"gs://{unique_bucket}/dst",
                                  part_threshold_mib=5, jobs=4), retry=fast)
    assert s.failures == [] and s.copied == len(tree) and s.verified == len(tree)
    s2 = run_transfer(TransferSpec(src=f"gs://{unique_bucket}/dst", dst=str(tmp_path / "back"),
                                   part_threshold_mib=5, jobs=4), retry=fast)
    assert s2.failures == [] and s2.copied == len(tree)
    assert proxied_s3.faults() > 3 and proxied_gcs.faults() > 3
    proxied_s3.enabled = proxied_gcs.enabled = False
    assert read_gcs(unique_bucket, "dst/") == tree
    assert read_local(tmp_path / "back") == tree


def test_a_missing_bucket_is_bad_input_not_retried(tmp_path, aws):
    from engine.errors import BadInputError

    write_local(tmp_path / "src", {"a": b"1"})
    with pytest.raises(BadInputError, match="does not exist"):
        run_transfer(TransferSpec(src=str(tmp_path / "src"), dst="s3://no-such-bucket-here/x"))
