"""Checksums: CRC32C (google-crc32c), MD5 and SHA-256, and CRC32C arithmetic.

Clouds report checksums base64-encoded big-endian (GCS ``crc32c``/``md5Hash``,
S3 ``ChecksumCRC32C``); manifests and events use lowercase hex.  The helpers
here convert between them and combine the CRC32C of consecutive parts into the
CRC32C of the whole (what a GCS ``compose`` reports), so a file copied in
parallel parts is verified without reading it twice.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Iterable

import google_crc32c

_POLY = 0x82F63B78  # CRC32C, reflected


def crc32c(data: bytes, value: int = 0) -> int:
    """CRC32C of ``data``, continuing from ``value``."""
    return int(google_crc32c.extend(value, data))


def crc_to_b64(value: int) -> str:
    return base64.b64encode(value.to_bytes(4, "big")).decode()


def crc_from_b64(text: str) -> int:
    return int.from_bytes(base64.b64decode(text), "big")


def crc_to_hex(value: int) -> str:
    return f"{value:08x}"


def b64_to_hex(text: str) -> str:
    return base64.b64decode(text).hex()


def hex_to_b64(text: str) -> str:
    return base64.b64encode(bytes.fromhex(text)).decode()


def _gf2_times(mat: list[int], vec: int) -> int:
    out = 0
    i = 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _gf2_square(mat: list[int]) -> list[int]:
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32c_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC32C of A+B from crc(A), crc(B) and len(B) (zlib's crc32_combine, CRC32C polynomial)."""
    if len2 <= 0:
        return crc1
    odd = [_POLY] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def combine_parts(parts: Iterable[tuple[int, int]]) -> int:
    """CRC32C of the concatenation of parts given as (crc, length), in order."""
    total = 0
    for crc, length in parts:
        total = crc32c_combine(total, crc, length)
    return total


def s3_composite_crc32c(part_crcs: list[int]) -> str:
    """What S3 reports as ``ChecksumCRC32C`` of a multipart upload: crc of the part crcs, "-N"."""
    joined = b"".join(c.to_bytes(4, "big") for c in part_crcs)
    return f"{crc_to_b64(crc32c(joined))}-{len(part_crcs)}"


class Hasher:
    """Feeds bytes to the chosen algorithms at once (crc32c always; md5/sha256 on request)."""

    __slots__ = ("crc", "length", "_md5", "_sha256")

    def __init__(self, md5: bool = False, sha256: bool = False):
        self.crc = 0
        self.length = 0
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self._sha256 = hashlib.sha256() if sha256 else None

    def update(self, data: bytes | memoryview) -> None:
        self.crc = int(google_crc32c.extend(self.crc, data))
        self.length += len(data)
        if self._md5 is not None:
            self._md5.update(data)
        if self._sha256 is not None:
            self._sha256.update(data)

    @property
    def crc32c_hex(self) -> str:
        return crc_to_hex(self.crc)

    @property
    def md5_hex(self) -> str | None:
        return self._md5.hexdigest() if self._md5 is not None else None

    @property
    def sha256_hex(self) -> str | None:
        return self._sha256.hexdigest() if self._sha256 is not None else None


def hash_file(path: str, md5: bool = False, sha256: bool = False, block: int = 4 << 20) -> Hasher:
    """Hash a local file in one pass."""
    h = Hasher(md5=md5, sha256=sha256)
    with open(path, "rb", buffering=0) as f:
        while True:
            data = f.read(block)
            if not data:
                break
            h.update(data)
    return h
