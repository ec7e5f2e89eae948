"""A loopback proxy in front of moto's server that gives SSE-KMS objects the ETags S3 gives them.

S3's ETag is the MD5 of an object's bytes only for a single-part object stored as plaintext or under SSE-S3; an
object encrypted with SSE-KMS (or DSSE-KMS, or SSE-C) has an ETag that is not an MD5 of its data (the S3 API
reference, "Object" data type, ETag; iterate-ch/cyberduck#10371; aptly-dev/aptly#1117: 32 hex characters
all the same; minio's internal/etag package documents the same rule). moto computes every ETag as the MD5,
encrypted or not (probed: put_object(ServerSideEncryption="aws:kms") answered the content MD5), so no test saw
a KMS bucket as S3 shows it.

This proxy forwards everything to moto and rewrites the ETag of each object moto says is stored under
``aws:kms`` / ``aws:kms:dsse`` (the ``x-amz-server-side-encryption`` header of PUT, HEAD and GET answers) to
another 32-hex value, stable per object version, wherever an ETag is shown: those headers and ListObjectsV2's
``<ETag>``. An ``If-Match`` / ``If-None-Match`` naming a rewritten ETag is translated back before moto sees it,
so pinned reads behave as on S3. Only keys whose KMS answer passed through the proxy are rewritten in
listings: a test writes its KMS objects through it.
"""

from __future__ import annotations

import hashlib
import re
import threading

from tests.loopback_proxy import LoopbackProxy, ProxyHandler

KMS = ("aws:kms", "aws:kms:dsse")
_CONTENTS = re.compile(rb"<Contents>(.*?)</Contents>", re.S)
_ETAG = re.compile(rb"<ETag>(&quot;|\")([0-9a-f]{32})(&quot;|\")</ETag>")


def kms_etag(real: str) -> str:
    """The ETag shown for a KMS object whose MD5 ETag (moto's) is ``real``: 32 hex, not the MD5."""
    return hashlib.md5(f"sse-kms:{real}".encode()).hexdigest()


class KmsEtags(LoopbackProxy):
    """Start with ``KmsEtags(moto_url)``; point ``AWS_ENDPOINT_URL`` at ``.url``; ``stop()``."""

    def __init__(self, upstream: str):
        super().__init__(upstream)
        self.lock = threading.Lock()
        self.real: dict[str, str] = {}
        """Shown ETag -> moto's."""
        self.kms_keys: dict[str, str] = {}
        """"/bucket/key" -> moto's ETag of the KMS object last seen there."""
        proxy = self

        class Handler(ProxyHandler):
            def _handle(self) -> None:
                body = self._body()
                headers = {k: proxy._back(v) if k.lower() in ("if-match", "if-none-match") else v
                           for k, v in self.headers.items()}
                status, answer, data = proxy._forward(self.command, self.path, headers, body)
                path = self.path.split("?", 1)[0]
                sse = next((v for k, v in answer if k.lower() == "x-amz-server-side-encryption"), "")
                if sse in KMS:
                    answer = [(k, proxy._shown(path, v) if k.lower() == "etag" else v) for k, v in answer]
                elif self.command == "GET" and b"<ListBucketResult" in data[:300]:
                    data = proxy._listing(path, data)
                self._send(status, data, answer)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._serve(Handler)

    def _shown(self, path: str, etag: str) -> str:
        real = etag.strip('"')
        if not re.fullmatch(r"[0-9a-f]{32}", real):
            return etag  # a multipart ETag ("...-N") is not an MD5 anyway
        shown = kms_etag(real)
        with self.lock:
            self.real[shown] = real
            self.kms_keys[path] = real
        return f'"{shown}"'

    def _back(self, value: str) -> str:
        with self.lock:
            return ", ".join(f'"{self.real.get(v.strip().strip(chr(34)), v.strip().strip(chr(34)))}"'
                             if v.strip() != "*" else "*" for v in value.split(","))

    def _listing(self, path: str, data: bytes) -> bytes:
        bucket = path.strip("/").split("/", 1)[0]

        def one(m: re.Match[bytes]) -> bytes:
            block = m.group(1)
            key = re.search(rb"<Key>(.*?)</Key>", block, re.S)
            if key is None:
                return m.group(0)
            from html import unescape
            from urllib.parse import quote

            name = f"/{bucket}/{quote(unescape(key.group(1).decode()), safe='/~')}"
            with self.lock:
                real = self.kms_keys.get(name)
            if real is None:
                return m.group(0)
            block = _ETAG.sub(lambda e: b"<ETag>" + e.group(1) + (kms_etag(real) if e.group(2).decode() == real
                                                                  else e.group(2).decode()).encode()
                              + e.group(3) + b"</ETag>", block)
            return b"<Contents>" + block + b"</Contents>"

        return _CONTENTS.sub(one, data)
