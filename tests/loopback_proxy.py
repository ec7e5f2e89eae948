"""The plumbing every loopback HTTP proxy in the tests shares: read a request body (chunked or
not), forward a request upstream without its hop-by-hop headers, answer, and serve on a free
127.0.0.1 port.  The stand-ins (GCS XML multipart, strict S3 conditions, the fault proxy) differ
only in what they decide before forwarding; this keeps that one decision in each of them."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
       "transfer-encoding", "upgrade", "content-length"}


class ProxyHandler(BaseHTTPRequestHandler):
    """Quiet HTTP/1.1 handler with the body reader and the answer writer the proxies use."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *a: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        length = str(len(body))
        for k, v in headers:
            if k.lower() == "content-length" and self.command == "HEAD":
                length = v  # a HEAD's length is the object's
            elif k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class LoopbackProxy:
    """Base of a proxy in front of ``upstream``: ``_serve(Handler)`` starts it on a free loopback
    port (``.port``, ``.url``), ``_forward`` passes a request on, ``stop()`` ends it."""

    def __init__(self, upstream: str):
        up = urlsplit(upstream)
        self.up_host, self.up_port = up.hostname or "127.0.0.1", up.port or 80

    def _serve(self, handler: type[BaseHTTPRequestHandler], poll_interval: float = 0.05) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": poll_interval},
                                       daemon=True)
        self.thread.start()

    def _upstream_headers(self, method: str, headers: Any, body: bytes) -> dict[str, str]:
        out = {k: v for k, v in dict(headers).items() if k.lower() not in HOP and k.lower() != "host"}
        out["Host"] = f"{self.up_host}:{self.up_port}"
        if body or method in ("POST", "PUT", "PATCH"):
            out["Content-Length"] = str(len(body))
        return out

    def _forward(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.up_host, self.up_port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=self._upstream_headers(method, headers, body))
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
