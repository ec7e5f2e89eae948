"""Bounded retries with exponential backoff and full jitter, for retryable errors only.

Retryable: HTTP 408/429/5xx from either cloud, connection resets, broken or
truncated streams, timeouts, and our own :class:`ChecksumMismatch` (the bytes
are fetched again).  Everything else (403, 404, 412 precondition failures, bad
input) fails at once so the real cause is reported, not hidden behind retries.
"""

from __future__ import annotations

import errno
import random
import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class ChecksumMismatch(Exception):
    """The bytes read or written do not match the expected checksum."""


class TransientError(Exception):
    """An error we raise ourselves that is worth retrying (e.g. a short read)."""


def _status_of(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)  # google.api_core exceptions
    if isinstance(code, int):
        return code
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        meta = response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    status = getattr(response, "status_code", None)  # requests / google-resumable-media
    return status if isinstance(status, int) else None


def is_retryable(exc: BaseException) -> bool:
    """True for errors that a later attempt may not hit."""
    if isinstance(exc, (ChecksumMismatch, TransientError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT,
                                                  errno.ECONNREFUSED, errno.ECONNABORTED):
        return True
    status = _status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    name = type(exc).__name__
    module = type(exc).__module__
    if module.startswith(("botocore", "urllib3", "requests", "http.client", "google.resumable_media",
                          "google.auth.exceptions")):
        retryable_names = ("EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError",
                           "ConnectTimeoutError", "IncompleteReadError", "ResponseStreamingError",
                           "ProtocolError", "ConnectionError", "ChunkedEncodingError", "Timeout",
                           "ReadTimeout", "ConnectTimeout", "IncompleteRead", "RemoteDisconnected",
                           "DataIntegrityError", "InvalidResponse", "TransportError", "HTTPClientError",
                           "NewConnectionError", "SSLError")
        if name in retryable_names:
            return True
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        return is_retryable(cause)
    return False


class RetryPolicy:
    """How many attempts, and the backoff between them (full jitter, capped)."""

    def __init__(self, attempts: int = 6, base_s: float = 0.2, cap_s: float = 8.0,
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
