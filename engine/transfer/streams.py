"""Readers that hash what passes through them, and a shared bandwidth limit."""

from __future__ import annotations

import threading
import time
from typing import BinaryIO, Callable

from engine.transfer.checksums import Hasher, crc_to_hex
from engine.transfer.retry import ChecksumMismatch, TransientError


class RateLimiter:
    """A token bucket shared by every worker: at most ``rate`` bytes per second overall."""

    def __init__(self, rate: float | None, burst_s: float = 0.25):
        self.rate = rate
        self._allowance = (rate or 0) * burst_s
        self._burst = (rate or 0) * burst_s
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self, n: int, cancel: threading.Event | None = None) -> None:
        if not self.rate or n <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._allowance = min(self._burst, self._allowance + (now - self._last) * self.rate)
            self._last = now
            self._allowance -= n
            wait = -self._allowance / self.rate if self._allowance < 0 else 0.0
        if wait > 0:
            if cancel is not None:
                cancel.wait(wait)
            else:
                time.sleep(wait)


def parse_rate(text: str | None) -> float | None:
    """"50M" -> 52428800.0 bytes/s; None stays None."""
    if not text:
        return None
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1].lower(), 1)
    number = text[:-1] if text[-1].lower() in "kmg" else text
    return float(number) * mult


class HashingReader:
    """Wraps a source stream: hashes, counts, limits bandwidth, checks the length and the
    source's own checksum at EOF (raising :class:`ChecksumMismatch` before a writer can finish)."""

    def __init__(self, raw: BinaryIO, size: int, *, expect_crc32c: str | None = None,
                 expect_md5: str | None = None, limiter: RateLimiter | None = None,
                 on_bytes=None, cancel: threading.Event | None = None, label: str = "",
                 at_end: Callable[[], None] | None = None):
        self.raw = raw
        self.size = size
        self.hasher = Hasher(md5=expect_md5 is not None and expect_crc32c is None)
        self.expect_crc32c = expect_crc32c
        self.expect_md5 = expect_md5 if expect_crc32c is None else None
        self.limiter = limiter
        self.on_bytes = on_bytes
        self.cancel = cancel
        self.label = label
        self.at_end = at_end
        """Called once the whole stream is read, before a writer can finish (a snapshot check)."""
        self._checked = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.hasher.length

    def read(self, n: int = -1) -> bytes:
        if self.cancel is not None and self.cancel.is_set():
            raise InterruptedError("transfer cancelled")
        if n is None or n < 0:
            n = max(self.size - self.hasher.length, 0) or 1 << 20
        data = self.raw.read(n)
        if data:
            if self.limiter is not None:
                self.limiter.take(len(data), self.cancel)
            self.hasher.update(data)
            if self.on_bytes is not None:
                self.on_bytes(len(data))
        if not data or self.hasher.length >= self.size:
            self.check()
        return data

    def check(self) -> None:
        """Verify length and the source checksum once the whole stream has been read."""
        if self._checked:
            return
        if self.at_end is not None:  # first: a file that shrank or grew is a changed source
            self.at_end()
        if self.hasher.length < self.size:
            raise TransientError(f"{self.label}: short read ({self.hasher.length} of {self.size} bytes)")
        if self.hasher.length > self.size:
            raise ChecksumMismatch(f"{self.label}: source grew while reading ({self.hasher.length} > {self.size})")
        self._checked = True
        if self.expect_crc32c is not None and crc_to_hex(self.hasher.crc) != self.expect_crc32c:
            raise ChecksumMismatch(f"{self.label}: CRC32C read {crc_to_hex(self.hasher.crc)} != source {self.expect_crc32c}")
        if self.expect_md5 is not None and self.hasher.md5_hex != self.expect_md5:
            raise ChecksumMismatch(f"{self.label}: MD5 read {self.hasher.md5_hex} != source {self.expect_md5}")

    def close(self) -> None:
        try:
            self.raw.close()
        except Exception:  # noqa: BLE001 - closing a spent stream
            pass
