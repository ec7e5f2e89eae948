"""The engine's own retry loop, for what the cloud libraries cannot see.

Requests are retried by the libraries, once: botocore in ``standard`` mode (``AWS_RETRY_MODE``,
``AWS_MAX_ATTEMPTS``; see :mod:`engine.transfer.backends.s3`) and google-cloud-storage's
``DEFAULT_RETRY`` with its conditional policies (see :mod:`engine.transfer.backends.gcs`):
408/429/5xx, connection resets, timeouts, S3's 200-with-an-error. Retrying those here as well
multiplied the attempts (6 engine attempts x 4 botocore attempts = 24 per call).

What stays here is what only the engine can judge: the bytes read or written do not match
the checksum (:class:`ChecksumMismatch`: fetched and sent again), or a stream that broke
after a library call had returned (:class:`TransientError`: a short read, a response body
cut off while the engine was reading it — no library retries a body it has handed over).
Everything else (403, 404, 412 preconditions, bad input, errors the library already retried)
fails at once, so the real cause is reported.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")


class ChecksumMismatch(Exception):
    """The bytes read or written do not match the expected checksum."""


class TransientError(Exception):
    """A stream that broke after the library call returned (a short read, a body cut off)."""


def is_retryable(exc: BaseException) -> bool:
    """True for the failures only the engine can see, which a later attempt may not hit."""
    return isinstance(exc, (ChecksumMismatch, TransientError))


class RetryPolicy:
    """How many attempts, and the backoff between them (full jitter, capped)."""

    def __init__(self, attempts: int = 4, base_s: float = 0.2, cap_s: float = 8.0,
                 sleep: Callable[[float], None] | None = None, rng: random.Random | None = None):
        self.attempts = attempts
        self.base_s = base_s
        self.cap_s = cap_s
        self._sleep = sleep
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based): U(0, min(cap, base*2^n))."""
        return self._rng.uniform(0, min(self.cap_s, self.base_s * (2 ** (attempt - 1))))

    def call(self, fn: Callable[[], T], *, cancel: threading.Event | None = None,
             on_retry: Callable[[int, BaseException], None] | None = None) -> T:
        """Run ``fn`` until it succeeds, a non-retryable error, or attempts run out (last error raised)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified below
                if attempt >= self.attempts or not is_retryable(exc) or (cancel is not None and cancel.is_set()):
                    raise
                if on_retry is not None:
                    on_retry(attempt, exc)
                wait = self.delay(attempt)
                if cancel is not None:
                    if cancel.wait(wait):
                        raise
                else:
                    (self._sleep or time.sleep)(wait)
