"""Is the destination's object the source's? Decided as gsutil rsync and rclone decide it.

At planning (:func:`compare`, from the listings alone):

* sizes differ: copy;
* ``-c``: checksums (CRC32C, else MD5) where both listings carry one, else ``check``;
* bucket to bucket: checksums where both listings carry the same kind (gsutil compares
  hashes between clouds), else ``check`` (checksums from a HEAD, else the destination's
  stored mtime against the source's, else the bytes);
* both sides carry a preserved source mtime (a local file, GCS ``goog-reserved-file-mtime``):
  equal whole seconds skip, different copy;
* otherwise (an S3 listing never carries metadata; objects written by other tools lack it):
  ``check``.  A write time is never compared with a source mtime: an object written after
  the source changed is not thereby the same bytes.

A ``check`` is resolved by a worker (:func:`resolve`): the stored mtime is read back where
the listing lacked it (one HEAD, only for these same-size candidates); where one side still
has none, checksums decide, read from the store or computed from the bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.transfer.backends.base import ETAG_UNCONFIRMED, ObjectInfo

if TYPE_CHECKING:
    from engine.transfer.backends.base import Backend

CHECK_MTIME = "mtime metadata to read"
CHECK_SUMS = "checksums to compare"
CHECK_CLOUD = "checksums to compare, else the stored mtime"


def whole_seconds(mtime: float) -> int:
    """Mtimes compare in whole seconds, truncated (what gsutil stores and compares)."""
    return int(mtime)


def compare(src: ObjectInfo, dst: ObjectInfo, checksum: bool, both_cloud: bool = False) -> tuple[str, str]:
    """("copy"|"skip"|"check", reason) for a path both sides have."""
    if src.size != dst.size:
        return "copy", f"size {dst.size} -> {src.size}"
    if checksum or both_cloud:
        if src.crc32c and dst.crc32c:
            return ("skip", "same crc32c") if src.crc32c == dst.crc32c else ("copy", "crc32c differs")
        if src.md5 and dst.md5:
            if src.md5 == dst.md5:
                return "skip", "same md5"
            if not (_unconfirmed(src) or _unconfirmed(dst)):
                return "copy", "md5 differs"
            # an S3 listing's ETag may be no MD5 at all (SSE-KMS, SSE-C): a HEAD tells, then it decides
        return "check", CHECK_SUMS if checksum else CHECK_CLOUD
    if src.mtime_preserved and dst.mtime_preserved:
        if whole_seconds(src.mtime) == whole_seconds(dst.mtime):
            return "skip", "same size and mtime"
        return "copy", "mtime differs"
    return "check", CHECK_MTIME


def _unconfirmed(info: ObjectInfo) -> bool:
    """Its ``md5`` is an S3 listing's ETag, which may not be an MD5 (see engine.transfer.backends.s3)."""
    return bool(info.extra.get(ETAG_UNCONFIRMED))


def resolve(src_backend: "Backend", dst_backend: "Backend", src: ObjectInfo, dst: ObjectInfo,
            reason: str) -> tuple[bool, str]:
    """(same, why) for a ``check`` action: may HEAD the objects and read their bytes."""
    if reason == CHECK_MTIME:
        s_m = src_backend.stored_mtime(src)
        d_m = dst_backend.stored_mtime(dst)
        if s_m is not None and d_m is not None:
            if whole_seconds(s_m) == whole_seconds(d_m):
                return True, "same size and mtime (metadata)"
            return False, "mtime differs (metadata)"
    # One ask each for the checksums the stores can report (on S3 a HEAD per call: asked once
    # here, not again by each step below).
    src_backend.full_checksums(src)
    dst_backend.full_checksums(dst)
    common = _common_checksum(src, dst)
    if common is not None:
        return common
    if reason == CHECK_CLOUD:
        # Bucket to bucket with no checksum in common (multipart S3 objects, composite GCS
        # ones): the destination's stored mtime, written from this source's mtime when it was
        # copied, decides before any byte is read: reading both objects of every re-sync is
        # what a hash compare would cost.
        d_m = dst_backend.stored_mtime(dst)
        if d_m is not None and whole_seconds(d_m) == whole_seconds(src.mtime):
            return True, "same size; the destination stores this source's mtime (no checksum in common)"
    return _checksums_from_bytes(src_backend, dst_backend, src, dst)


def _common_checksum(src: ObjectInfo, dst: ObjectInfo) -> tuple[bool, str] | None:
    """(same, why) from a checksum both sides already carry (CRC32C, else MD5); None if none."""
    if src.crc32c and dst.crc32c:
        return src.crc32c == dst.crc32c, "crc32c " + ("same" if src.crc32c == dst.crc32c else "differs")
    if src.md5 and dst.md5:
        return src.md5 == dst.md5, "md5 " + ("same" if src.md5 == dst.md5 else "differs")
    return None


def _checksums_from_bytes(src_backend: "Backend", dst_backend: "Backend", src: ObjectInfo,
                          dst: ObjectInfo) -> tuple[bool, str]:
    """No checksum in common (the stores were asked already): compute what is missing."""
    if src.md5 or dst.md5:  # one side reports MD5 (an S3 ETag): compute the other's
        s_md5 = src.md5 or src_backend.hash_object(src, md5=True).md5_hex
        d_md5 = dst.md5 or dst_backend.hash_object(dst, md5=True).md5_hex
        return s_md5 == d_md5, "md5 " + ("same" if s_md5 == d_md5 else "differs")
    if src.crc32c is None:
        src.crc32c = src_backend.hash_object(src).crc32c_hex
    if dst.crc32c is None:
        dst.crc32c = dst_backend.hash_object(dst).crc32c_hex
    return src.crc32c == dst.crc32c, "crc32c " + ("same" if src.crc32c == dst.crc32c else "differs")


def ensure_crc32c(backend: "Backend", info: ObjectInfo) -> str:
    """The object's CRC32C (hex): from the listing, from the store, or by reading it."""
    if info.crc32c is None:
        backend.full_checksums(info)
    if info.crc32c is None:
        info.crc32c = backend.hash_object(info).crc32c_hex
    return info.crc32c
