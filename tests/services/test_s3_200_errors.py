"""S3 answers some failures with a 200 whose body is an <Error> document, or a body cut short;
the S3 backend's cheaper check (instead of botocore's second full parse) must still retry them.

A loopback server speaks ListObjectsV2: it first sends a body cut short, then an <Error> with
a 200, then the real page; the listing must come back whole after botocore's retries. The swap
relies on botocore's private handler names: the first test fails when they move (pyproject
bounds botocore below the next minor version for that reason)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.transfer.backends.s3 import error_or_truncated

PAGE = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt-test</Name>'
        b"<Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
        b"<Contents><Key>a.bin</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        b"<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size></Contents>"
        b"<Contents><Key>b/c.bin</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        b"<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>3</Size></Contents>"
        b"</ListBucketResult>\n")
ERROR = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
         b"<Message>We encountered an internal error. Please try again.</Message></Error>")


@pytest.mark.parametrize(("body", "bad"), [
    (PAGE, False),
    (PAGE.rstrip(), False),
    (ERROR, True),
    (PAGE[: len(PAGE) // 2], True),
    (PAGE[:-5], True),
    (b"<!-- note -->\n<ListBucketResult/>", False),
    (b"", False),
    (b"not xml at all", True),
    (b'<?xml version="1.0"?>', True),
    (b"<ListBucketResult><Name>b</Name><Prefix/>", True),  # cut right after an inner self-closing tag
    (b"<ListBucketResult/>", False),
    (b'<ListBucketResult xmlns="x" />\n', False),
])
def test_error_or_truncated(body: bytes, bad: bool) -> None:
    assert error_or_truncated(body) is bad


SELF_CLOSED = PAGE.replace(b"<Prefix></Prefix>", b"<Prefix/>")


@pytest.mark.parametrize(("answers", "expect_served"), [
    ([PAGE[:200], ERROR, PAGE], 3),
    # cut right after a self-closing tag: retried once, by botocore (the engine's loop does not
    # retry requests, see engine.transfer.retry)
    ([SELF_CLOSED[:SELF_CLOSED.index(b"<Prefix/>") + len(b"<Prefix/>")], SELF_CLOSED], 2),
])
def test_listing_retries_a_200_error_and_a_truncated_page(monkeypatch: pytest.MonkeyPatch, answers: list[bytes],
                                                          expect_served: int) -> None:
    served: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = answers[min(len(served), len(answers) - 1)]
            served.append(len(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_RETRY_MODE", "standard")
        from engine.transfer.backends import open_backend
        from engine.transfer.urls import parse_url

        backend = open_backend(parse_url("s3://bkt-test"), jobs=1)
        assert backend.cheap_200_check, "botocore's private 200-error handler has moved"
        try:
            got = [(o.path, o.size) for o in backend.list()]
        finally:
            backend.close()
    finally:
        server.shutdown()
        server.server_close()
    assert got == [("a.bin", 0), ("b/c.bin", 3)]
    assert len(served) == expect_served  # each cut page and 200 <Error> retried once
