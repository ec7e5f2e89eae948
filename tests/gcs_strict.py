"""A loopback proxy in front of fake-gcs-server that enforces a resumable upload's preconditions as GCS does.

fake-gcs-server (1.54.0, the wrapper's binary) ignores ``ifGenerationMatch`` on a resumable upload altogether:
an upload started with ``ifGenerationMatch=0`` over an object that already exists, or one someone else
created while it was sent, overwrites it (probed by hand: both cases answer 200). GCS evaluates the
preconditions a resumable upload was started with when the upload *finalizes* (the request that carries its
last byte creates the object), not when the session is created:

* googleapis/google-cloud-java issue #201: the session-initiating POST with a mismatched
  ``ifGenerationMatch`` returned 200; the mismatch failed on the later upload request;
* fsouza/fake-gcs-server issue #1967 ("preconditions ... (correctly) not checked on the initial request to
  create the upload object, and are not passed to createObject upon commit") and its fix, pull request
  #2260 ("capture them with the upload session at initiation ... and enforce them when the object is
  created").

So this proxy records ``ifGenerationMatch`` from the initiating POST (by the session's ``upload_id``), answers
the request that finalizes the session with GCS's 412 when the object's generation no longer matches (0: no
object may exist), and forwards everything else. The initiating answer's ``Location`` is rewritten to the
proxy, so the chunks come through it. ``on_chunk(upload_id, final)`` runs before each chunk is decided: a test
writes "someone else's" object there, mid-upload.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Callable
from urllib.parse import parse_qs, quote, urlsplit

from tests.loopback_proxy import LoopbackProxy, ProxyHandler

_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")
_PRECONDITION = json.dumps({"error": {"code": 412, "message": "At least one of the pre-conditions you specified "
                                      "did not hold.", "errors": [{"domain": "global", "reason": "conditionNotMet",
                                                                   "message": "At least one of the pre-conditions "
                                                                   "you specified did not hold.",
                                                                   "locationType": "header",
                                                                   "location": "If-Match"}]}}).encode()


def finalizes(content_range: str) -> bool:
    """Whether a chunk with this ``Content-Range`` carries the upload's last byte (its total is known and
    the chunk ends there, or it is the empty ``bytes */N`` that closes an upload of N bytes)."""
    m = _RANGE.fullmatch(content_range.strip())
    if m is None or m.group(3) == "*":
        return False
    total = int(m.group(3))
    return m.group(2) is None or int(m.group(2)) + 1 == total


class StrictGCSResumable(LoopbackProxy):
    """Start with ``StrictGCSResumable(gcs_url)``; point ``STORAGE_EMULATOR_HOST`` at ``.url``; ``stop()``.
    ``refused`` lists the uploads answered 412 (bucket, name, expected generation, generation found)."""

    def __init__(self, upstream: str, on_chunk: Callable[[str, bool], None] | None = None):
        super().__init__(upstream)
        self.sessions: dict[str, tuple[str, str, int | None]] = {}
        self.refused: list[tuple[str, str, int, int]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(ProxyHandler):
            def _handle(self) -> None:
                body = self._body()
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                upload_id = (query.get("upload_id") or [""])[0]
                if self.command == "POST" and (query.get("uploadType") or [""])[0] == "resumable":
                    status, headers, data = proxy._forward(self.command, self.path, self.headers, body)
                    proxy._opened(parts.path, query, body, headers)
                    self._send(status, data, [(k, proxy._local(v) if k.lower() == "location" else v)
                                              for k, v in headers])
                    return
                if self.command == "PUT" and upload_id in proxy.sessions:
                    final = finalizes(self.headers.get("Content-Range", ""))
                    if on_chunk is not None:
                        on_chunk(upload_id, final)
                    if final and not proxy._holds(upload_id):
                        self._send(412, _PRECONDITION, [("Content-Type", "application/json")])
                        return
                status, headers, data = proxy._forward(self.command, self.path, self.headers, body)
                self._send(status, data, headers)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

        self._serve(Handler)

    def _opened(self, path: str, query: dict[str, list[str]], body: bytes, headers: list[tuple[str, str]]) -> None:
        location = next((v for k, v in headers if k.lower() == "location"), "")
        upload_id = (parse_qs(urlsplit(location).query).get("upload_id") or [""])[0]
        if not upload_id:
            return
        bucket = path.split("/b/", 1)[1].split("/", 1)[0]
        name = (query.get("name") or [""])[0]
        if not name and body:
            name = str(json.loads(body).get("name", ""))
        gen = (query.get("ifGenerationMatch") or [None])[0]
        with self.lock:
            self.sessions[upload_id] = (bucket, name, int(gen) if gen is not None else None)

    def _local(self, location: str) -> str:
        """The session's address, at this proxy (fake-gcs-server gives out its own)."""
        parts = urlsplit(location)
        return f"{self.url}{parts.path}?{parts.query}" if parts.query else f"{self.url}{parts.path}"

    def _holds(self, upload_id: str) -> bool:
        """Whether the object's generation is still the one the upload was started to replace."""
        bucket, name, want = self.sessions[upload_id]
        if want is None:
            return True
        status, _headers, data = self._forward("GET", f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}", {}, b"")
        now = int(json.loads(data)["generation"]) if status == 200 else 0
        if now == want:
            return True
        with self.lock:
            self.refused.append((bucket, name, want, now))
        return False
