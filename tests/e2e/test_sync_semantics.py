"""The peers' suites as ours: sync scenarios from gsutil's and rclone's own tests, on every store.

Each row names the test it comes from: ``gsutil:`` = ``gslib/tests/test_rsync.py`` of
GoogleCloudPlatform/gsutil (read at cdd4555e0cc6), ``rclone:`` = ``fs/sync/sync_test.go`` of
rclone/rclone (read at 64ab1ac32260).  The scenario is re-stated here, not copied: the setup
and the expected outcome in our terms.  Each runs in the directions it applies to, against a
local tree, S3 (moto's server) and GCS (fake-gcs-server) on 127.0.0.1.  Where gpumigrate
deliberately differs from the anchor, ``differs`` says how and why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from engine.errors import BadInputError
from engine.transfer.api import DeleteRefused, TransferSpec, TransferSummary, run_transfer
from tests import transfer_support
from tests.transfer_support import read_local

_CLIENTS: dict[tuple[str, str], object] = {}


def _client(kind: str):
    """One client per stand-in for the whole module: building a boto3 client costs ~0.2 s."""
    key = (kind, os.environ.get("AWS_ENDPOINT_URL" if kind == "s3" else "STORAGE_EMULATOR_HOST", ""))
    if key not in _CLIENTS:
        _CLIENTS[key] = transfer_support.s3_client() if kind == "s3" else transfer_support.gcs_client()
    return _CLIENTS[key]


def s3_client():
    return _client("s3")


def gcs_client():
    return _client("gs")


S3_MTIME = "mtime"
GCS_MTIME = "goog-reserved-file-mtime"


class Side:
    """One end of a transfer: a local folder, or a prefix in an S3 or GCS bucket."""

    def __init__(self, kind: str, tmp_path: Path, bucket: str, role: str):
        self.kind, self.role = kind, role
        if kind == "local":
            self.root = tmp_path / role
            self.root.mkdir(parents=True, exist_ok=True)
            self.url = str(self.root)
        else:
            self.bucket, self.prefix = bucket, f"{role}/"
            self.url = f"{kind}://{bucket}/{role}"

    # --- writing the scenario's starting state -----------------------------------------
    def put(self, path: str, data: bytes, mtime: float | None = None) -> None:
        """An object as a tool that keeps mtimes writes it (None: as one that does not)."""
        if self.kind == "local":
            p = self.root.joinpath(*path.split("/"))
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            if mtime is not None:
                os.utime(p, (mtime, mtime))
        elif self.kind == "s3":
            meta = {S3_MTIME: f"{mtime:.9f}"} if mtime is not None else {}
            s3_client().put_object(Bucket=self.bucket, Key=self.prefix + path, Body=data, Metadata=meta)
        else:
            blob = gcs_client().bucket(self.bucket).blob(self.prefix + path)
            if mtime is not None:
                blob.metadata = {GCS_MTIME: str(int(mtime))}
            blob.upload_from_string(data)

    def put_raw_key(self, key: str, data: bytes) -> None:
        """An object under the prefix exactly as named (placeholders such as ``dir/``)."""
        if self.kind == "s3":
            s3_client().put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        else:
            gcs_client().bucket(self.bucket).blob(self.prefix + key).upload_from_string(data)

    def remove(self, path: str) -> None:
        if self.kind == "local":
            self.root.joinpath(*path.split("/")).unlink()
        elif self.kind == "s3":
            s3_client().delete_object(Bucket=self.bucket, Key=self.prefix + path)
        else:
            gcs_client().bucket(self.bucket).blob(self.prefix + path).delete()

    # --- reading the outcome ---------------------------------------------------------------
    def read(self) -> dict[str, bytes]:
        if self.kind == "local":
            return {k: v for k, v in read_local(self.root).items() if "gpumigrate-tmp" not in k}
        out = {}
        if self.kind == "s3":
            s3 = s3_client()
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for o in page.get("Contents", []):
                    out[o["Key"][len(self.prefix):]] = s3.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read()
        else:
            for blob in gcs_client().list_blobs(self.bucket, prefix=self.prefix):
                out[blob.name[len(self.prefix):]] = blob.download_as_bytes()
        return out

    def mtime(self, path: str) -> float | None:
        """The file's mtime, or the source mtime stored with the object (None: none stored)."""
        if self.kind == "local":
            return os.stat(self.root.joinpath(*path.split("/"))).st_mtime
        if self.kind == "s3":
            meta = s3_client().head_object(Bucket=self.bucket, Key=self.prefix + path)["Metadata"]
            return float(meta[S3_MTIME]) if S3_MTIME in meta else None
        blob = gcs_client().bucket(self.bucket).get_blob(self.prefix + path)
        meta = blob.metadata or {}
        return float(meta[GCS_MTIME]) if GCS_MTIME in meta else None


def sync(src: Side, dst: Side, **kw) -> TransferSummary:
    kw.setdefault("jobs", 2)
    kw.setdefault("recursive", True)
    return run_transfer(TransferSpec(src=src.url, dst=dst.url, **kw), journal=False)


# --- the scenarios ------------------------------------------------------------------------
def copy_then_nothing(src: Side, dst: Side) -> None:
    tree = {"obj1": b"obj1", ".obj2": b".obj2", "subdir/obj3": b"subdir/obj3", "empty": b""}
    for k, v in tree.items():
        src.put(k, v, mtime=1_600_000_000)
    s = sync(src, dst)
    assert (s.copied, s.failed, s.verified) == (4, 0, 4) and s.ok
    assert dst.read() == tree
    again = sync(src, dst)
    assert (again.copied, again.skipped, again.failed) == (0, 4, 0)


def minus_d_deletes_extra(src: Side, dst: Side) -> None:
    src.put("obj1", b"obj1", 1_600_000_000)
    src.put("subdir/obj3", b"3", 1_600_000_000)
    dst.put("obj1", b"obj1", 1_600_000_000)
    dst.put("obj4", b"extra", 1_600_000_000)
    dst.put("subdir/obj5", b"extra", 1_600_000_000)
    s = sync(src, dst, delete=True, max_delete=2)
    assert (s.copied, s.deleted, s.skipped) == (1, 2, 1) and s.ok
    assert dst.read() == {"obj1": b"obj1", "subdir/obj3": b"3"}


def dry_run_changes_nothing(src: Side, dst: Side) -> None:
    src.put("new", b"n")
    dst.put("old", b"o")
    s = run_transfer(TransferSpec(src=src.url, dst=dst.url, delete=True, max_delete=1), dry_run=True)
    assert (s.copied, s.deleted, s.dry_run) == (1, 1, True)
    assert dst.read() == {"old": b"o"}


def size_change_copied(src: Side, dst: Side) -> None:
    src.put("f", b"longer now", 1_600_000_000)
    dst.put("f", b"short", 1_600_000_000)
    s = sync(src, dst)
    assert s.copied == 1 and dst.read() == {"f": b"longer now"}


def contents_change_copied(src: Side, dst: Side) -> None:
    src.put("f", b"AAAA")
    sync(src, dst)
    src.put("f", b"BBBB", mtime=(src.mtime("f") or 0) + 60)
    s = sync(src, dst)
    assert s.copied == 1 and dst.read() == {"f": b"BBBB"}


def modtime_only_change(src: Side, dst: Side) -> None:
    src.put("f", b"same", 1_600_000_000)
    sync(src, dst)
    src.put("f", b"same", 1_600_000_100)
    s = sync(src, dst)
    assert s.copied == 1 and int(dst.mtime("f") or 0) == 1_600_000_100
    assert sync(src, dst).copied == 0


def checksum_mode(src: Side, dst: Side) -> None:
    src.put("f", b"new!", 1_600_000_000)
    dst.put("f", b"old!", 1_600_000_000)
    assert sync(src, dst).copied == 0  # same size and mtime: equal by the default rule
    s = sync(src, dst, checksum=True)
    assert s.copied == 1 and dst.read() == {"f": b"new!"}


def exclude_neither_copies_nor_deletes(src: Side, dst: Side) -> None:
    for k in ("obj1", ".obj2", "subdir/obj3", "obj4"):
        src.put(k, k.encode())
    dst.put("obj5", b"kept: matches -x")
    s = sync(src, dst, delete=True, max_delete=5, exclude=[r"obj[45]$", r"\..*"])
    assert s.ok and s.excluded == 3 and s.deleted == 0
    assert dst.read() == {"obj1": b"obj1", "subdir/obj3": b"subdir/obj3", "obj5": b"kept: matches -x"}
    assert {n.path for n in s.not_copied} == {".obj2", "obj4"}


def negative_lookahead(src: Side, dst: Side) -> None:
    for k in ("a.txt", "b.bin", "c.txt"):
        src.put(k, b"x")
    s = sync(src, dst, exclude=[r"^(?!.*\.txt$).*"])
    assert s.copied == 2 and sorted(dst.read()) == ["a.txt", "c.txt"]


def unicode_names(src: Side, dst: Side) -> None:
    tree = {"ünïcødé/文件.txt": b"1", "emoji-🚀": b"2", "Ελληνικά": b"3"}
    for k, v in tree.items():
        src.put(k, v)
    assert sync(src, dst).copied == 3 and dst.read() == tree
    assert sync(src, dst).copied == 0


def whitespace_names(src: Side, dst: Side) -> None:
    tree = {"file with spaces": b"1", " leading": b"2", "dir x/trailing ": b"3"}
    for k, v in tree.items():
        src.put(k, v)
    assert sync(src, dst).copied == 3 and dst.read() == tree


def special_characters(src: Side, dst: Side) -> None:
    tree = {"!#$&'()*+,;=@[]": b"1", "percent%20name": b"2", "tilde~plus+": b"3"}
    for k, v in tree.items():
        src.put(k, v)
    assert sync(src, dst).copied == 3 and dst.read() == tree
    assert sync(src, dst).copied == 0


def punctuation_sort_order(src: Side, dst: Side) -> None:
    # "e/obj" sorts after "e-1" and "e.txt" as a key; a local walk must yield the same order
    for k in ("e/obj1", "e-1/obj2", "e.txt", "e0"):
        src.put(k, k.encode(), 1_600_000_000)
    dst.put("e/obj1", b"OVERWRITE", 1_600_000_000)
    dst.put("e-2", b"extra", 1_600_000_000)
    s = sync(src, dst, delete=True, max_delete=1)
    assert s.ok and (s.copied, s.deleted) == (4, 1)
    assert dst.read() == {k: k.encode() for k in ("e/obj1", "e-1/obj2", "e.txt", "e0")}


def empty_destination(src: Side, dst: Side) -> None:
    src.put("a", b"a")
    src.put("b/c", b"c")
    s = sync(src, dst, delete=True)
    assert s.ok and (s.copied, s.deleted) == (2, 0)


def empty_source_refused(src: Side, dst: Side) -> None:
    dst.put("a", b"a")
    dst.put("b", b"b")
    with pytest.raises(DeleteRefused, match="--allow-empty-source"):
        sync(src, dst, delete=True)
    assert sorted(dst.read()) == ["a", "b"]
    s = sync(src, dst, delete=True, allow_empty_source=True)
    assert s.ok and s.deleted == 2 and dst.read() == {}


def placeholder_slash(src: Side, dst: Side) -> None:
    src.put("obj1", b"obj1")
    src.put_raw_key("dir/", b"")
    src.put_raw_key("", b"") if src.kind == "s3" else None  # the prefix's own "src/" marker
    s = sync(src, dst, delete=True)
    assert s.ok and s.copied == 1 and s.skipped == 0 and s.not_copied == []
    assert dst.read() == {"obj1": b"obj1"}


def placeholder_folder_suffix(src: Side, dst: Side) -> None:
    src.put("data/x", b"x")
    src.put_raw_key("data_$folder$", b"")
    dst.put_raw_key("old_$folder$", b"")
    s = sync(src, dst, delete=True, max_delete=5)
    assert s.ok and (s.copied, s.deleted, s.skipped) == (1, 0, 0)
    assert dst.read() == {"data/x": b"x", "old_$folder$": b""}


def symlinks_followed(src: Side, dst: Side) -> None:
    src.put("obj1", b"obj1")
    src.put("real/obj3", b"obj3")
    os.symlink(src.root / "obj1", src.root / "symlink1")
    os.symlink(src.root / "real", src.root / "linked-dir")
    s = sync(src, dst)
    assert s.ok and s.copied == 4
    assert dst.read() == {"obj1": b"obj1", "real/obj3": b"obj3", "symlink1": b"obj1", "linked-dir/obj3": b"obj3"}


def no_follow_symlinks(src: Side, dst: Side) -> None:
    src.put("obj1", b"obj1")
    os.symlink(src.root / "obj1", src.root / "symlink1")
    dst.put("symlink1", b"an earlier copy")
    s = sync(src, dst, delete=True, follow_symlinks=False)
    assert s.ok and s.copied == 1 and s.deleted == 0
    assert [(n.path, n.reason.split(" (")[0]) for n in s.not_copied] == [("symlink1", "symlink skipped")]
    assert dst.read() == {"obj1": b"obj1", "symlink1": b"an earlier copy"}


def broken_symlink_blocks_deletes(src: Side, dst: Side) -> None:
    src.put("obj1", b"obj1")
    os.symlink("/non-existent/volume/file", src.root / "symlink2")
    dst.put("symlink2", b"copy from when the volume was mounted")
    dst.put("stale", b"would be deleted")
    s = sync(src, dst, delete=True, max_delete=5)
    assert not s.ok and s.failed == 1 and s.deleted == 0 and s.deletions_skipped == "1 error"
    assert sorted(dst.read()) == ["obj1", "stale", "symlink2"]
    s = sync(src, dst, delete=True, max_delete=5, skip_broken_symlinks=True)
    assert s.ok and s.deleted == 1 and sorted(dst.read()) == ["obj1", "symlink2"]


def invalid_name_refused_per_object(src: Side, dst: Side) -> None:
    src.put("good", b"g")
    bad = os.fsencode(str(src.root)) + b"/latin1-\xe9.txt"
    with open(bad, "wb") as f:
        f.write(b"bad")
    dst.put("stale", b"s")
    s = sync(src, dst, delete=True, max_delete=5)
    assert s.copied == 1 and s.refused == 1 and s.deleted == 0 and not s.ok
    assert "invalid name" in s.failures[0].error and "UTF-8" in s.failures[0].error
    assert dst.read() == {"good": b"g", "stale": b"s"}


def mtime_stored_and_compared(src: Side, dst: Side) -> None:
    src.put("obj1", b"obj1", 10)
    src.put("obj6", b"obj6", 100)
    dst.put("obj6", b"obj6", 100)   # same mtime stored: skipped without reading
    s = sync(src, dst)
    assert (s.copied, s.skipped) == (1, 1)
    assert int(dst.mtime("obj1") or -1) == 10
    assert sync(src, dst).copied == 0


def other_tool_same_size_different_bytes(src: Side, dst: Side) -> None:
    src.put("model.bin", b"new weights", 1_600_000_000)
    dst.put("model.bin", b"old weights")  # written later by a tool that stores no mtime
    s = sync(src, dst)
    assert s.copied == 1 and dst.read() == {"model.bin": b"new weights"}


def other_tool_same_bytes(src: Side, dst: Side) -> None:
    src.put("obj1", b"obj1", 0)
    src.put("subdir/obj2", b"subdir/obj2", 1)
    dst.put("obj1", b"obj1")
    dst.put("subdir/obj2", b"subdir/obj2")
    s = sync(src, dst)
    assert (s.copied, s.skipped) == (0, 2)


def bucket_to_bucket_hashes(src: Side, dst: Side) -> None:
    src.put("same", b"same bytes", 100)
    src.put("diff", b"AAAA", 100)
    dst.put("same", b"same bytes", 999)  # other mtime, same bytes: not copied (hashes)
    dst.put("diff", b"BBBB", 100)        # same mtime, other bytes: copied (hashes)
    s = sync(src, dst)
    assert (s.copied, s.skipped) == (1, 1) and dst.read() == {"same": b"same bytes", "diff": b"AAAA"}


def download_sets_mtime_seconds(src: Side, dst: Side) -> None:
    src.put("obj1", b"obj1", 1_500_000_000)
    src.put("obj2", b"obj2")  # no mtime stored: the object's write time, not its generation
    s = sync(src, dst)
    assert s.copied == 2
    assert dst.mtime("obj1") == 1_500_000_000
    assert abs((dst.mtime("obj2") or 0) - __import__("time").time()) < 3600
    assert sync(src, dst).copied == 0


def future_mtime_stable(src: Side, dst: Side) -> None:
    src.put("obj3", b"obj3", 4_102_444_800)  # 2100-01-01
    assert sync(src, dst).copied == 1
    assert sync(src, dst).copied == 0
    assert int(dst.mtime("obj3") or 0) == 4_102_444_800


def negative_mtime_stable(src: Side, dst: Side) -> None:
    src.put("obj4", b"obj4", -100)
    src.put("obj5", b"obj5", -1)
    assert sync(src, dst).copied == 2
    assert sync(src, dst).copied == 0
    assert int(dst.mtime("obj4") or 0) == -100


def composite_without_md5(src: Side, dst: Side) -> None:
    b = gcs_client().bucket(src.bucket)
    for i in range(2):
        b.blob(f"{src.prefix}part{i}").upload_from_string(b"p" * 10)
    composite = b.blob(f"{src.prefix}obj-composite")
    composite.compose([b.blob(f"{src.prefix}part0"), b.blob(f"{src.prefix}part1")])
    s = sync(src, dst, delete=True)
    assert s.ok and s.copied == 3
    assert sync(src, dst).copied == 0


def rewritten_during_copy(src: Side, dst: Side) -> None:
    from engine.transfer.backends import open_backend
    from engine.transfer.backends.local import LocalBackend
    from engine.transfer.control import TransferControl
    from engine.transfer.execute import Transfer
    from engine.transfer.journal import Journal
    from engine.transfer.urls import parse_url

    src.put("ckpt.bin", b"o" * (6 << 20))

    class Truncating(LocalBackend):  # rclone's "truncate": the file shrinks after a part is read
        def read_range(self, info, start, length):
            data = super().read_range(info, start, length)
            with open(self.full(info.path), "r+b") as f:
                f.truncate(max(0, os.path.getsize(self.full(info.path)) - 1))
            return data

    dst_backend = open_backend(parse_url(dst.url))
    s = Transfer(src=Truncating(parse_url(src.url)), dst=dst_backend, src_url=src.url, dst_url=dst.url,
                 emit=lambda e: None, journal=Journal(None), control=TransferControl(), part_threshold_mib=5,
                 part_size_mib=5, jobs=1).run()
    dst_backend.close()
    assert not s.ok and s.verified == 0 and "changed during copy" in s.failures[0].error
    assert dst.read() == {}


def overlap_refused(src: Side, dst: Side) -> None:
    inner = src.url + "/sub"
    with pytest.raises(BadInputError, match="overlap"):
        run_transfer(TransferSpec(src=src.url, dst=inner))


def nonexistent_dst_subdir(src: Side, dst: Side) -> None:
    src.put("obj1", b"1")
    deeper = Side.__new__(Side)
    deeper.__dict__.update(dst.__dict__)
    deeper.url = dst.url + "/does/not/exist"
    s = run_transfer(TransferSpec(src=src.url, dst=deeper.url), journal=False)
    assert s.ok and s.copied == 1


def nonexistent_bucket(src: Side, dst: Side) -> None:
    src.put("obj1", b"1")
    with pytest.raises(BadInputError, match="bucket does not exist"):
        run_transfer(TransferSpec(src=src.url, dst=f"{dst.kind}://no-such-bucket-i17/x"), journal=False)
    with pytest.raises(BadInputError, match="bucket does not exist"):
        run_transfer(TransferSpec(src=f"{dst.kind}://no-such-bucket-i17/x", dst=src.url), journal=False)


def invalid_exclude_regex(src: Side, dst: Side) -> None:
    with pytest.raises(Exception, match="not a valid regular expression"):
        TransferSpec(src=src.url, dst=dst.url, exclude=["*.bad["])


def flat_without_r(src: Side, dst: Side) -> None:
    src.put("top", b"t")
    src.put("sub/deep", b"d")
    s = sync(src, dst, recursive=False)
    assert s.copied == 1 and dst.read() == {"top": b"t"}


def copy_after_delete_keeps_dst(src: Side, dst: Side) -> None:
    src.put("a", b"a")
    sync(src, dst)
    src.remove("a")
    s = sync(src, dst)
    assert s.ok and s.deleted == 0 and dst.read() == {"a": b"a"}


def errors_block_all_deletions(src: Side, dst: Side) -> None:
    src.put("a/potato2", b"-" * 60)
    src.put("c/non empty space", b"AhHa!", 1_600_000_000)
    dst.put("b/potato", b"SMALLER BUT SAME DATE")
    dst.put("c/non empty space", b"AhHa!", 1_600_000_000)
    (src.root / "unreadable-link").symlink_to(src.root / "missing")
    s = sync(src, dst, delete=True, max_delete=5)
    assert s.deletions_skipped == "1 error" and s.deleted == 0 and s.copied == 1
    assert sorted(dst.read()) == ["a/potato2", "b/potato", "c/non empty space"]


def case_change(src: Side, dst: Side) -> None:
    src.put("Obj1", b"obj1")
    dst.put("obj1", b"obj1")
    s = sync(src, dst, delete=True, max_delete=1)
    assert s.ok and (s.copied, s.deleted) == (1, 1) and dst.read() == {"Obj1": b"obj1"}


def empty_dirs_not_created(src: Side, dst: Side) -> None:
    src.put("a", b"a")
    (src.root / "empty-dir").mkdir()
    s = sync(src, dst)
    assert s.copied == 1 and dst.read() == {"a": b"a"}


@dataclass(frozen=True)
class Scenario:
    name: str
    anchor: str
    directions: tuple[str, ...]
    run: Callable[[Side, Side], None]
    differs: str = ""


CLOUD_UP = ("local-gs", "local-s3")
DOWN = ("gs-local", "s3-local")
BETWEEN = ("gs-s3", "s3-gs")

SCENARIOS = [
    Scenario("copy then nothing to do", "gsutil:test_dir_to_bucket_minus_d; rclone:TestCopy",
             ("local-gs", "local-s3", "gs-local", "s3-local", "gs-s3", "s3-gs", "local-local"), copy_then_nothing),
    Scenario("-d deletes what the source lacks", "gsutil:test_bucket_to_bucket_minus_d; "
             "rclone:TestSyncAfterRemovingAFileAndAddingAFile", ("local-gs", "s3-local", "gs-s3"),
             minus_d_deletes_extra),
    Scenario("dry run changes nothing", "rclone:TestCopyWithDryRun; rclone:TestSyncAfterRemovingAFileAndAddingAFileDryRun",
             ("local-gs", "gs-local"), dry_run_changes_nothing),
    Scenario("size change copied", "rclone:TestSyncAfterChangingFilesSizeOnly", ("local-gs", "s3-local"),
             size_change_copied),
    Scenario("contents change copied", "rclone:TestSyncAfterChangingContentsOnly",
             ("local-gs", "local-s3", "local-local"), contents_change_copied),
    Scenario("mtime-only change", "rclone:TestSyncAfterChangingModtimeOnly", ("local-gs", "local-s3"),
             modtime_only_change, differs="the object is copied again (rclone and gsutil patch the mtime "
             "metadata in place); one copy, then nothing, either way"),
    Scenario("-c compares checksums", "rclone:TestSyncBasedOnCheckSum", CLOUD_UP, checksum_mode),
    Scenario("-x neither copies nor deletes", "gsutil:test_dir_to_bucket_minus_x; rclone:TestSyncWithExclude",
             ("local-gs",), exclude_neither_copies_nor_deletes),
    Scenario("-x negative lookahead", "gsutil:test_dir_to_bucket_negative_lookahead_works_in_minus_x",
             ("local-gs",), negative_lookahead),
    Scenario("unicode names", "gsutil:test_dir_to_bucket_with_unicode_chars", ("local-gs", "s3-local"),
             unicode_names),
    Scenario("whitespace names", "gsutil:test_rsync_files_with_whitespace", ("s3-local",), whitespace_names),
    Scenario("special characters", "gsutil:test_rsync_files_with_special_characters", ("local-gs", "gs-local"),
             special_characters),
    Scenario("punctuation sort order with -d", "gsutil:test_bucket_to_bucket_minus_d_with_overwrite_and_punc_chars",
             ("local-gs", "gs-s3", "s3-local"), punctuation_sort_order),
    Scenario("empty destination", "gsutil:test_bucket_to_bucket_minus_d_empty_dest", ("gs-s3",), empty_destination),
    Scenario("empty source with -d", "gsutil:test_bucket_to_bucket_minus_d_empty_src", ("local-gs",),
             empty_source_refused, differs="refused unless --allow-empty-source (gsutil deletes everything): "
             "an empty listing is more often a wrong path or a lost mount than an intent"),
    Scenario("dir/ placeholder never copied or deleted",
             "gsutil:test_bucket_to_dir_minus_d_with_leftover_dir_placeholder", ("gs-local", "s3-local", "s3-gs"),
             placeholder_slash),
    Scenario("_$folder$ placeholder never copied or deleted",
             "gsutil:test_bucket_to_dir_minus_d_with_leftover_dir_placeholder", ("s3-gs",),
             placeholder_folder_suffix),
    Scenario("symlinks followed", "gsutil:test_rsync_minus_r_minus_e", CLOUD_UP, symlinks_followed,
             differs="followed by default, as gcloud storage rsync --no-ignore-symlinks (gsutil without -e "
             "follows too; -e ignores them): checkpoints -> /mnt/nvme is the usual GPU-host layout"),
    Scenario("--no-follow-symlinks skips with a notice", "gsutil:test_rsync_minus_d_minus_e", ("local-gs",),
             no_follow_symlinks, differs="each skipped link is reported and its destination object kept"),
    Scenario("broken symlink is a failure, no deletion", "gsutil:test_rsync_minus_d_minus_e",
             CLOUD_UP, broken_symlink_blocks_deletes, differs="a failure unless --skip-broken-symlinks "
             "(gsutil -e skips it silently): the usual cause is an unmounted volume"),
    Scenario("errors block every deletion", "rclone:TestSyncAfterRemovingAFileAndAddingAFileSubDirWithErrors",
             ("local-gs", "local-local"), errors_block_all_deletions),
    Scenario("invalid name refused per object", "gsutil:test_rsync_files_with_special_characters",
             CLOUD_UP, invalid_name_refused_per_object, differs="refused with the reason and counted as a "
             "failure, the rest copied (gsutil stops on the encoding error)"),
    Scenario("dir to bucket stores mtime", "gsutil:test_dir_to_bucket_mtime", CLOUD_UP, mtime_stored_and_compared),
    Scenario("destination without mtime, same size, other bytes", "gsutil:test_bucket_to_bucket_dst_mtime",
             CLOUD_UP, other_tool_same_size_different_bytes),
    Scenario("destination without mtime, same bytes", "gsutil:test_bucket_to_bucket_same_objects_src_mtime",
             CLOUD_UP, other_tool_same_bytes),
    Scenario("bucket to bucket compares hashes", "gsutil:test_bucket_to_bucket_src_mtime; gsutil:test_bucket_to_bucket",
             BETWEEN, bucket_to_bucket_hashes),
    Scenario("bucket to dir sets the mtime", "gsutil:test_bucket_to_dir_mtime", DOWN, download_sets_mtime_seconds),
    Scenario("future mtime stable", "gsutil:test_invalid_src_mtime (obj3)", ("local-gs", "local-s3", "gs-local"),
             future_mtime_stable),
    Scenario("pre-epoch mtime stable", "gsutil:test_invalid_src_mtime (obj4, obj5)",
             ("local-gs", "local-s3", "gs-local"), negative_mtime_stable),
    Scenario("composite objects (no MD5)", "gsutil:test_bucket_to_bucket_minus_d_with_composites", ("gs-s3",),
             composite_without_md5),
    Scenario("source rewritten during copy", "rclone:TestSyncConcurrentTruncate", CLOUD_UP, rewritten_during_copy),
    Scenario("overlapping source and destination refused", "rclone:TestSyncOverlap", ("local-local", "gs-gs"),
             overlap_refused),
    Scenario("destination subdir that does not exist", "gsutil:test_rsync_to_nonexistent_bucket_subdir",
             ("local-gs",), nonexistent_dst_subdir),
    Scenario("bucket that does not exist", "gsutil:test_rsync_to_nonexistent_bucket; "
             "gsutil:test_rsync_from_nonexistent_bucket", CLOUD_UP, nonexistent_bucket),
    Scenario("invalid -x regex", "gsutil:test_rsync_invalid_exclude_regex_fails", ("local-gs",), invalid_exclude_regex),
    Scenario("without -r: top level only", "gsutil:test_dir_to_dir_minus_d (flat)", ("local-gs",), flat_without_r),
    Scenario("copy without -d keeps destination extras", "rclone:TestCopyAfterDelete", ("local-gs",),
             copy_after_delete_keeps_dst),
    Scenario("name case change with -d", "gsutil:test_bucket_to_dir_minus_d_with_fname_case_change",
             ("gs-local",), case_change),
    Scenario("empty folders are not objects", "rclone:TestCopyNoEmptyDirectories", ("local-gs",),
             empty_dirs_not_created),
]

CASES = [pytest.param(sc, d, id=f"{sc.run.__name__}[{d}]") for sc in SCENARIOS for d in sc.directions]


def test_table_has_at_least_30_anchored_scenarios() -> None:
    assert len(SCENARIOS) >= 30
    assert all(sc.anchor.startswith(("gsutil:", "rclone:")) for sc in SCENARIOS)
    assert len({sc.run for sc in SCENARIOS}) == len(SCENARIOS)


@pytest.mark.parametrize(("scenario", "direction"), CASES)
def test_scenario(scenario: Scenario, direction: str, tmp_path: Path, request: pytest.FixtureRequest,
                  unique_bucket: str) -> None:
    s_kind, d_kind = direction.split("-")
    kinds = {s_kind, d_kind}
    if "s3" in kinds:
        request.getfixturevalue("aws")
        s3_client().create_bucket(Bucket=unique_bucket)
    if "gs" in kinds:
        request.getfixturevalue("gcs")
        gcs_client().create_bucket(unique_bucket)
    src = Side(s_kind, tmp_path, unique_bucket, "src")
    dst = Side(d_kind, tmp_path, unique_bucket, "dst")
    scenario.run(src, dst)
