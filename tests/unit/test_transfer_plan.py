"""The streaming diff, the local walk order, key safety, checksums and retry classification."""

from __future__ import annotations

import os
import random

import google_crc32c
import pytest

from engine.transfer.backends.base import ObjectInfo
from engine.transfer.backends.local import LocalBackend
from engine.transfer.checksums import combine_parts, crc32c, crc32c_combine, s3_composite_crc32c
from engine.transfer.compare import CHECK_CLOUD, CHECK_MTIME, CHECK_SUMS
from engine.transfer.plan import compare, diff, unsafe_local_key
from engine.transfer.retry import ChecksumMismatch, RetryPolicy, is_retryable
from engine.transfer.urls import parse_url


def info(path, size=1, mtime=100.0, preserved=True, crc=None, md5=None):
    return ObjectInfo(path=path, size=size, mtime=mtime, mtime_preserved=preserved, crc32c=crc, md5=md5)


def test_local_walk_yields_keys_in_byte_order(tmp_path):
    names = ["a-c", "a/b", "a0", "b c/ü", "b c/z", "B", "é", "z/y/x", "z.y", "~", "a.b/c", "a b"]
    for n in names:
        p = tmp_path.joinpath(*n.split("/"))
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(n)
    listed = [o.path for o in LocalBackend(parse_url(str(tmp_path))).list()]
    assert listed == sorted(names, key=lambda s: s.encode())
    assert listed == sorted(listed)


def test_diff_merges_two_listings_into_actions():
    src = [info("a", 1), info("b", 2), info("c", 3, mtime=200), info("d", 4)]
    dst = [info("b", 2), info("c", 3), info("e", 5)]
    acts = {a.path: a.kind for a in diff(src, dst, delete=True)}
    assert acts == {"a": "copy", "b": "skip", "c": "copy", "d": "copy", "e": "delete"}
    assert {a.path: a.kind for a in diff(src, dst, delete=False)}.get("e") is None


def test_diff_streams_a_large_listing_lazily():
    def gen(n, tag):
        for i in range(n):
            yield info(f"k{i:09d}", size=1 if tag == "s" or i % 100 else 2)

    it = diff(gen(10**9, "s"), gen(10**9, "d"))  # would never fit in memory if it were materialised
    first = [next(it) for _ in range(5)]
    assert [a.kind for a in first] == ["copy", "skip", "skip", "skip", "skip"]


def test_exclusions_are_neither_copied_nor_deleted():
    src = [info("keep.txt"), info("logs/a.log"), info("x.tmp")]
    dst = [info("logs/old.log"), info("y.tmp")]
    acts = {a.path: a.kind for a in diff(src, dst, delete=True, exclude=[r".*\.tmp$", r"logs/"])}
    assert acts == {"keep.txt": "copy", "logs/a.log": "excluded", "logs/old.log": "excluded",
                    "x.tmp": "excluded", "y.tmp": "excluded"}


@pytest.mark.parametrize("key", ["../evil", "a/../../etc/passwd", "/abs/path", "a//b", "./x", "a/./b",
                                 "nul\x00byte", "a\\..\\b", "x" * 300, "C:\\win"])
def test_unsafe_local_keys_are_refused(key):
    assert unsafe_local_key(key) is not None
    acts = list(diff([info(key)], [], local_dst=True))
    assert acts[0].kind == "refused"


@pytest.mark.parametrize("key", ["ok.txt", "dir/sub/ünï.txt", "with space/x", "..dots", "a..b/c"])
def test_safe_local_keys_pass(key):
    assert unsafe_local_key(key) is None


def test_object_and_directory_of_the_same_name_are_a_conflict_for_local_destinations():
    src = [info("a"), info("a b"), info("a b/c"), info("a-c"), info("a/x"), info("b")]
    acts = {a.path: a.kind for a in diff(src, [], local_dst=True)}
    assert acts == {"a": "copy", "a b": "copy", "a b/c": "conflict", "a-c": "copy", "a/x": "conflict", "b": "copy"}
    assert all(a.kind == "copy" for a in diff(src, [], local_dst=False))


def test_compare_rules():
    assert compare(info("a", 1), info("a", 2), False)[0] == "copy"
    assert compare(info("a", 1, 100.4), info("a", 1, 100.9), False)[0] == "skip"
    assert compare(info("a", 1, 150), info("a", 1, 100), False)[0] == "copy"
    # a destination that only knows its write time: never compared with the source mtime (a
    # same-size object written later is not thereby the same bytes); a worker reads the mtime
    # metadata back, or compares checksums (issue 17)
    assert compare(info("a", 1, 100), info("a", 1, 120, preserved=False), False) == ("check", CHECK_MTIME)
    assert compare(info("a", 1, 130), info("a", 1, 120, preserved=False), False) == ("check", CHECK_MTIME)
    # bucket to bucket: hashes, not mtimes (gsutil)
    assert compare(info("a", 1, 1, crc="00000001"), info("a", 1, 99, crc="00000001"), False, both_cloud=True)[0] == "skip"
    assert compare(info("a", 1, 5, crc="00000001"), info("a", 1, 5, crc="00000002"), False, both_cloud=True)[0] == "copy"
    assert compare(info("a", 1, 5, crc="00000001"), info("a", 1, 5), False, both_cloud=True) == ("check", CHECK_CLOUD)
    assert compare(info("a", 1, 5, crc="00000001"), info("a", 1, 5), True) == ("check", CHECK_SUMS)
    assert compare(info("a", 1, crc="00000001"), info("a", 1, crc="00000002"), True)[0] == "copy"
    assert compare(info("a", 1, 1, crc="00000001"), info("a", 1, 99, crc="00000001"), True)[0] == "skip"
    assert compare(info("a", 1, md5="a" * 32), info("a", 1, crc="00000001"), True)[0] == "check"


def test_crc32c_combine_matches_whole_data():
    rng = random.Random(3)
    for _ in range(20):
        parts = [rng.randbytes(rng.randint(0, 5000)) for _ in range(rng.randint(1, 6))]
        assert combine_parts((crc32c(p), len(p)) for p in parts) == google_crc32c.value(b"".join(parts))
    assert crc32c_combine(5, 7, 0) == 5


def test_s3_composite_checksum_format():
    value = s3_composite_crc32c([1, 2, 3])
    assert value.endswith("-3") and len(value.split("-")[0]) == 8


def test_the_engine_retries_only_what_the_libraries_cannot_see():
    """Requests (HTTP 5xx/429, resets, timeouts) are the libraries' to retry; the engine's loop
    retries a checksum mismatch or a stream broken after the call returned, nothing else."""
    from engine.transfer.retry import TransientError

    class Status(Exception):
        def __init__(self, code):
            self.code = code

    assert is_retryable(ChecksumMismatch()) and is_retryable(TransientError("body cut"))
    for exc in (Status(503), Status(429), Status(412), Status(404), ConnectionResetError(), TimeoutError(),
                ValueError("bad")):
        assert not is_retryable(exc), exc
    calls = []
    slept = []
    policy = RetryPolicy(attempts=4, base_s=0.1, cap_s=1.0, sleep=slept.append, rng=random.Random(1))

    def flaky():
        calls.append(1)
        raise ChecksumMismatch("read CRC32C differs")

    with pytest.raises(ChecksumMismatch):
        policy.call(flaky)
    assert len(calls) == 4 and len(slept) == 3
    assert all(0 <= s <= min(1.0, 0.1 * 2 ** i) for i, s in enumerate(slept))
    calls.clear()

    def request_failed():
        calls.append(1)
        raise Status(503)  # botocore / google-cloud-storage already retried it

    with pytest.raises(Status):
        policy.call(request_failed)
    assert len(calls) == 1


def test_urls():
    assert parse_url("gs://b/x").prefix == "x/"
    assert parse_url("s3://b").prefix == ""
    assert parse_url("file:///tmp/a%20b").path == os.path.realpath("/tmp/a b")
    with pytest.raises(Exception):
        parse_url("ftp://x/y")


def test_cloud_source_and_destination_that_overlap_in_one_bucket_are_refused() -> None:
    import pytest

    from engine.errors import BadInputError
    from engine.transfer.api import resolve
    from engine.transfer.spec import TransferSpec

    for src, dst in (("gs://b/data", "gs://b/data/backup"), ("s3://b/x/y", "s3://b/x"), ("gs://b", "gs://b/p")):
        with pytest.raises(BadInputError, match="overlap"):
            resolve(TransferSpec(src=src, dst=dst))
    resolve(TransferSpec(src="gs://b/data", dst="gs://b/database"))  # a sibling prefix is fine
    resolve(TransferSpec(src="gs://b/data", dst="s3://b/data"))


class _Store:
    """What compare.resolve asks of a backend, with the reads it would make counted."""

    def __init__(self, stored: float | None = None, md5: str = "m" * 32):
        self.stored, self.md5, self.reads, self.asks = stored, md5, 0, 0

    def full_checksums(self, info):  # on S3 a HEAD: asked once per resolve, however it ends
        self.asks += 1
        return info

    def stored_mtime(self, info):
        return info.mtime if info.mtime_preserved else self.stored

    def hash_object(self, info, md5=False, sha256=False):
        self.reads += 1

        class H:
            md5_hex = self.md5
            crc32c_hex = "00000000"
        return H()


def test_bucket_to_bucket_without_a_common_checksum_uses_the_stored_mtime_before_reading():
    from engine.transfer.compare import CHECK_CLOUD, resolve

    src = info("big", 10, 1000.7, crc="0000000a")  # a GCS object: CRC32C, no mtime metadata...
    src.mtime_preserved = False
    dst = info("big", 10, 5000.0)                  # ...copied to S3 in parts: no checksum in common
    dst.mtime_preserved = False
    assert compare(src, dst, False, both_cloud=True) == ("check", CHECK_CLOUD)
    s_store, d_store = _Store(), _Store(stored=1000.0)  # the S3 object stores the source's mtime
    assert resolve(s_store, d_store, src, dst, CHECK_CLOUD)[0] is True
    assert s_store.reads == d_store.reads == 0
    d_other = _Store(stored=999.0, md5="x" * 32)        # another source version: the bytes decide
    same, why = resolve(_Store(), d_other, src, dst, CHECK_CLOUD)
    assert same is False and d_other.reads == 1 and d_other.asks == 1
