"""An S3 source encrypted with SSE-KMS: its ETags are not MD5s, and a copy must neither fail on them nor copy
again on every run because of them.

A listing cannot tell an SSE-KMS object from a plaintext one, and its 32-hex ETag looks like an MD5. Read as
one, every single-part KMS object failed "read MD5 ..., source reports ..." (three tries, then failed), and a
re-sync to GCS compared it with GCS's real MD5 and copied it again. moto shows MD5 ETags for KMS objects, so
these run through :class:`tests.s3_kms.KmsEtags`, which shows them as S3 does (sources in its header)."""

from __future__ import annotations

import hashlib
import os

import pytest

from engine.transfer.api import TransferSpec, run_transfer, verify_trees
from tests.s3_kms import KmsEtags
from tests.transfer_support import MIB, gcs_client, read_gcs, read_local, s3_client


@pytest.fixture()
def kms(aws, monkeypatch):
    proxy = KmsEtags(aws.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    yield proxy
    proxy.stop()


TREE = {"a.txt": b"alpha" * 100, "b/c.bin": os.urandom(4096), "big.bin": os.urandom(9 * MIB)}
PLAIN = {"plain.txt": b"stored without KMS"}


def _kms_bucket(bucket: str) -> None:
    s3 = s3_client()
    s3.create_bucket(Bucket=bucket)
    for key, data in TREE.items():
        s3.put_object(Bucket=bucket, Key=f"data/{key}", Body=data, ServerSideEncryption="aws:kms")
    for key, data in PLAIN.items():
        s3.put_object(Bucket=bucket, Key=f"data/{key}", Body=data)
    shown = {o["Key"]: o["ETag"].strip('"') for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert all(shown[f"data/{k}"] != hashlib.md5(v).hexdigest() for k, v in TREE.items()), shown  # as S3 shows them
    assert shown["data/plain.txt"] == hashlib.md5(PLAIN["plain.txt"]).hexdigest()


def test_a_kms_source_copies_and_verifies_to_a_local_folder(tmp_path, kms) -> None:
    _kms_bucket("kms-src")
    s = run_transfer(TransferSpec(src="s3://kms-src/data", dst=str(tmp_path / "dst"), recursive=True),
                     journal=tmp_path / "j.sqlite")
    assert s.ok and s.copied == 4 and s.failed == 0, s.failures
    assert read_local(tmp_path / "dst") == {**TREE, **PLAIN}
    again = run_transfer(TransferSpec(src="s3://kms-src/data", dst=str(tmp_path / "dst"), recursive=True,
                                      checksum=True), journal=tmp_path / "j.sqlite")
    assert again.ok and again.copied == 0 and again.skipped == 4, again.line()
    report = verify_trees("s3://kms-src/data", str(tmp_path / "dst"))
    assert report.ok and report.matched == 4, report.line()


def test_a_kms_source_resyncs_to_gcs_without_copying_again(tmp_path, kms, gcs, unique_bucket) -> None:
    _kms_bucket("kms-gcs")
    gcs_client().create_bucket(unique_bucket)
    spec = TransferSpec(src="s3://kms-gcs/data", dst=f"gs://{unique_bucket}/d", recursive=True)
    s = run_transfer(spec, journal=tmp_path / "j.sqlite")
    assert s.ok and s.copied == 4 and s.verified == 4, s.failures
    assert read_gcs(unique_bucket, "d/") == {**TREE, **PLAIN}
    again = run_transfer(spec, journal=tmp_path / "j.sqlite")
    assert again.ok and again.copied == 0 and again.skipped == 4, again.line()
