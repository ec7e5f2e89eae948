"""A loopback proxy in front of moto's server that enforces S3's conditional writes as S3 does.

moto honours ``If-None-Match`` on PutObject and CompleteMultipartUpload and ``If-Match`` on
DeleteObject, but ignores ``If-Match`` on CompleteMultipartUpload; and no stand-in models an
S3-compatible store that refuses the headers.  This proxy decides every conditional write
itself, then forwards it to moto without its condition headers (one lock per key, so the
check and the write are one step against the other writes that go through it).

The rules, from the S3 API reference (PutObject / CompleteMultipartUpload / DeleteObject,
request parameters ``If-Match`` and ``If-None-Match``, and the user guide's "conditional
writes" page):

* ``If-None-Match: *`` and an object exists under the key -> 412 PreconditionFailed.
* ``If-Match: "etag"`` and the current object's ETag differs -> 412 PreconditionFailed; no
  object under the key -> 404 NoSuchKey.
* another conditional write to the same key in progress -> 409 ConditionalRequestConflict.
  After a 409 on CompleteMultipartUpload the upload no longer exists (S3 says to re-initiate
  it and upload every part again); after a 412 it is kept, and the client must abort it.
* ``If-None-Match`` takes only ``*`` (anything else: 400, as CoreWeave's S3 documents).

``refuse`` models the S3-compatible stores without conditional writes: ``"501"`` answers any
write carrying either header with 501 NotImplemented ("A header you provided implies
functionality that is not implemented", S3's wording for an unsupported header);
``"400-if-none-match"`` answers a write carrying ``If-None-Match`` with a 400 naming the header.
Every write it sees is recorded in ``seen`` as (operation, condition headers, status).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from tests.loopback_proxy import LoopbackProxy, ProxyHandler

_CONDITIONS = ("if-match", "if-none-match")


def _error(code: str, message: str, **extra: str) -> bytes:
    more = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"{more}<RequestId>STRICTPROXY</RequestId><HostId>strict</HostId></Error>").encode()


class StrictS3(LoopbackProxy):
    """Start with ``StrictS3(moto_url)``; point ``AWS_ENDPOINT_URL`` at ``.url``; ``stop()``."""

    def __init__(self, upstream: str, *, refuse: str = ""):
        super().__init__(upstream)
        self.refuse = refuse
        import boto3
        from botocore.config import Config

        self.s3 = boto3.client("s3", endpoint_url=upstream, config=Config(s3={"addressing_style": "path"},
                                                                       retries={"max_attempts": 1}))
        """Signed calls of the proxy's own (moto refuses unsigned ones)."""
        self.lock = threading.Lock()
        self.in_flight: set[str] = set()
        self.seen: list[tuple[str, dict[str, str], int]] = []
        proxy = self

        class Handler(ProxyHandler):
            def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
                super()._send(status, body, headers or [("Content-Type", "application/xml")])

            def _handle(self) -> None:
                body = self._body()
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
                op = ""
                if key and self.command == "PUT" and "partNumber" not in query and "uploadId" not in query \
                        and "x-amz-copy-source" not in {h.lower() for h in self.headers.keys()}:
                    op = "PutObject"
                elif key and self.command == "POST" and "uploadId" in query:
                    op = "CompleteMultipartUpload"
                elif key and self.command == "DELETE" and "uploadId" not in query:
                    op = "DeleteObject"
                cond = {k.lower(): v for k, v in self.headers.items() if k.lower() in _CONDITIONS}
                if not op or not cond:
                    status, headers, data = proxy._forward(self.command, self.path, self.headers, body)
                    if op:
                        proxy._record(op, cond, status)
                    self._send(status, data, headers)
                    return
                status, data = proxy._refusal(cond)
                if status:
                    proxy._record(op, cond, status)
                    self._send(status, data)
                    return
                name = f"{bucket}/{key}"
                with proxy.lock:
                    busy = name in proxy.in_flight
                    if not busy:
                        proxy.in_flight.add(name)
                if busy:
                    if op == "CompleteMultipartUpload":  # S3 ends the upload on a 409
                        proxy.s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=query["uploadId"][0])
                    proxy._record(op, cond, 409)
                    self._send(409, _error("ConditionalRequestConflict", "A conflicting conditional operation is "
                                           "currently in progress against this resource. Please try again."))
                    return
                try:
                    status, data = proxy._check(bucket, key, cond)
                    if status:
                        proxy._record(op, cond, status)
                        self._send(status, data)
                        return
                    plain = {k: v for k, v in self.headers.items() if k.lower() not in _CONDITIONS}
                    status, headers, data = proxy._forward(self.command, self.path, plain, body)
                    proxy._record(op, cond, status)
                    self._send(status, data, headers)
                finally:
                    with proxy.lock:
                        proxy.in_flight.discard(name)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._serve(Handler)

    # --- the rules ---------------------------------------------------------------
    def _refusal(self, cond: dict[str, str]) -> tuple[int, bytes]:
        """A store that does not take the headers at all, or a malformed If-None-Match."""
        header = "If-None-Match" if "if-none-match" in cond else "If-Match"
        if self.refuse == "501":
            return 501, _error("NotImplemented", "A header you provided implies functionality that is not "
                               "implemented", Header=header)
        if self.refuse == "400-if-none-match" and "if-none-match" in cond:
            return 400, _error("InvalidArgument", "Unsupported header 'If-None-Match' received for this API call.",
                               ArgumentName="If-None-Match")
        if "if-none-match" in cond and cond["if-none-match"].strip() != "*":
            return 400, _error("InvalidRequest", "If-None-Match only accepts '*'")
        return 0, b""

    def _check(self, bucket: str, key: str, cond: dict[str, str]) -> tuple[int, bytes]:
        """412 / 404 where the object under the key does not meet the condition; (0, b"") when it does."""
        from botocore.exceptions import ClientError

        try:
            etag: str | None = self.s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                raise
            etag = None
        if "if-none-match" in cond and etag is not None:
            return 412, _error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                               Condition="If-None-Match")
        if "if-match" in cond:
            if etag is None:
                return 404, _error("NoSuchKey", "The specified key does not exist.")
            want = cond["if-match"].strip()
            if want != "*" and want.strip('"') != etag:
                return 412, _error("PreconditionFailed", "At least one of the pre-conditions you specified did "
                                   "not hold", Condition="If-Match")
        return 0, b""

    def _record(self, op: str, cond: dict[str, str], status: int) -> None:
        with self.lock:
            self.seen.append((op, cond, status))

    @contextlib.contextmanager
    def busy(self, bucket: str, key: str) -> Iterator[None]:
        """Hold a conditional write to ``key`` open, as another writer's would be."""
        with self.lock:
            self.in_flight.add(f"{bucket}/{key}")
        try:
            yield
        finally:
            with self.lock:
                self.in_flight.discard(f"{bucket}/{key}")
