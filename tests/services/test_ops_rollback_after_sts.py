"""Rollback after a Storage Transfer Service copy copies back only what changed (issue #16).

STS does not write the mtime metadata the planner's size+mtime compare relies on, so objects it copied
look changed by time; the reverse sync must compare them by checksum instead of sending the whole data
set back.  The "STS copy" here is what STS leaves: the same bytes uploaded to the bucket with no
gpumigrate/gsutil mtime metadata.  Real stand-ins: fake-gcs-server and moto's S3.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine.ops.rollback import reverse_specs, reverse_sync
from engine.profile import parse_profile


def _gcs_bucket(name: str):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test-project", credentials=AnonymousCredentials()).create_bucket(name)


def test_reverse_sync_to_s3_after_sts_copies_only_the_changed(aws, gcs, unique_bucket: str) -> None:
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=unique_bucket)
    target = _gcs_bucket(unique_bucket)
    files = {f"data/f{i}.bin": bytes([i]) * (1000 + i) for i in range(6)}
    for key, body in files.items():
        s3.put_object(Bucket=unique_bucket, Key=key, Body=body)
        target.blob(key).upload_from_string(body)  # what STS leaves: same bytes, no mtime metadata
    target.blob("data/f0.bin").upload_from_string(b"retrained on the target")
    profile = parse_profile(f"""
[source]
provider = "aws"
[[transfer]]
src = "s3://{unique_bucket}/data"
dst = "gs://{unique_bucket}/data"
engine = "sts"
""")
    (spec,) = reverse_specs(profile)
    assert spec.checksum and spec.engine == "local" and not spec.delete
    (result,) = reverse_sync(profile, dry_run=True)
    assert result["summary"]["copied"] == 1 and result["summary"]["deleted"] == 0


def test_reverse_sync_to_a_local_source_after_sts_agents_copies_only_the_changed(
        tmp_path: Path, gcs, unique_bucket: str) -> None:
    src = tmp_path / "data"
    src.mkdir()
    target = _gcs_bucket(unique_bucket)
    old = time.time() - 3 * 86400
    for i in range(5):
        path = src / f"f{i}.bin"
        path.write_bytes(bytes([i]) * (2000 + i))
        os.utime(path, (old, old))
        target.blob(f"data/f{i}.bin").upload_from_string(path.read_bytes())  # STS agents' copy
    target.blob("data/f3.bin").upload_from_string(bytes([9]) * 2003)  # same size, changed on the target
    profile = parse_profile(f"""
[source]
provider = "local"
[[transfer]]
src = "{src}"
dst = "gs://{unique_bucket}/data"
engine = "sts"
[transfer.sts]
agent_pool = "onprem"
""")
    (result,) = reverse_sync(profile, dry_run=True)
    assert result["summary"]["copied"] == 1, result
    done = reverse_sync(profile)
    assert done[0]["ok"] and (src / "f3.bin").read_bytes() == bytes([9]) * 2003
    assert reverse_sync(profile, dry_run=True)[0]["summary"]["copied"] == 0
