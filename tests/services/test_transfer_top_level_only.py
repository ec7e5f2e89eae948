"""Without -r a bucket source copies its top level only, as gsutil does; the sub-prefixes it leaves
must be said, as a local source's sub-folders are ("folder not copied"), not dropped without a word:
`transfer s3://b/data gs://b/data` read "copied 2, verified 2" with every sub-folder left behind."""

from __future__ import annotations

import pytest

from engine.transfer.api import TransferSpec, run_transfer, verify_trees
from tests.transfer_support import gcs_client, read_gcs, s3_client, write_gcs, write_s3

TREE = {"a.txt": b"a", "ckpt/step-1/w.bin": b"w", "ckpt/step-2/w.bin": b"v", "z.txt": b"z", "zz/y": b"y"}


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_without_r_a_bucket_sources_sub_prefixes_are_reported_not_copied(scheme, tmp_path, aws, gcs, unique_bucket):
    if scheme == "s3":
        s3_client().create_bucket(Bucket=unique_bucket)
        write_s3(unique_bucket, "data/", TREE)
    else:
        gcs_client().create_bucket(unique_bucket)
        write_gcs(unique_bucket, "data/", TREE)
    src = f"{scheme}://{unique_bucket}/data"
    dst = tmp_path / "dst"
    s = run_transfer(TransferSpec(src=src, dst=str(dst), recursive=False))
    assert s.ok and s.copied == 2
    assert [(n.path, n.reason) for n in s.not_copied] == [
        ("ckpt/", "folder not copied (without -r only the top level is copied)"),
        ("zz/", "folder not copied (without -r only the top level is copied)")]
    assert "not copied: 2 folder not copied" in s.line(), s.line()
    assert sorted(p.name for p in dst.iterdir()) == ["a.txt", "z.txt"]
    report = verify_trees(src, str(dst), recursive=False)  # the same set: the top level, nothing missing
    assert report.ok and report.matched == 2


def test_without_r_a_bucket_destinations_sub_prefixes_are_neither_copied_nor_deleted(tmp_path, gcs, unique_bucket):
    from tests.transfer_support import write_local

    gcs_client().create_bucket(unique_bucket)
    write_gcs(unique_bucket, "data/", {"keep/x": b"x", "old.txt": b"o"})
    write_local(tmp_path / "src", {"a.txt": b"a", "sub/b.txt": b"b"})
    s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}/data", delete=True, recursive=False,
                                  max_delete=5))
    assert s.ok and (s.copied, s.deleted) == (1, 1)
    assert read_gcs(unique_bucket, "data/") == {"a.txt": b"a", "keep/x": b"x"}
