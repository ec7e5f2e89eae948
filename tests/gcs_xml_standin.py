"""GCS's XML API multipart uploads on loopback, in front of fake-gcs-server (which has none:
``POST ?uploads`` -> 400 "invalid uploadType"). Everything else is forwarded to fake-gcs, so
one address serves the JSON API (through fake-gcs) and the XML multipart requests (here);
a completed upload becomes an object in fake-gcs, with its metadata.

The wire format and the refusals follow Google's "XML API multipart uploads" page and its
reference pages (POST Object for initiating, PUT Object for parts, POST Object for completing,
DELETE Object for aborting, GET Object for listing parts) and the S3 behaviour they say they
are compatible with:

* initiate ``POST /BUCKET/OBJECT?uploads`` -> ``InitiateMultipartUploadResult`` with an
  ``UploadId``; ``x-goog-meta-*`` headers become the object's metadata; unknown bucket 404
  NoSuchBucket.
* part ``PUT ?partNumber=N&uploadId=ID``: N in 1..10,000 (else 400 InvalidArgument); an
  ``x-goog-hash`` (crc32c and/or md5) or ``Content-MD5`` that does not match the body 400
  BadDigest; the answer's ``ETag`` is the part's quoted MD5; unknown upload 404 NoSuchUpload.
* complete ``POST ?uploadId=ID`` with ``<CompleteMultipartUpload><Part><PartNumber>``
  ``<ETag>``: unparsable or no parts 400 MalformedXML; numbers not ascending 400
  InvalidPartOrder; a part not uploaded or another ETag 400 InvalidPart; any part but the
  last under 5 MiB 400 EntityTooSmall. Completion replaces any object of that name.
* abort ``DELETE ?uploadId=ID`` 204; list parts ``GET ?uploadId=ID`` ``ListPartsResult``.
* "Preconditions are not supported" by these requests: the stand-in refuses any
  ``x-goog-if-*`` header on them (400 InvalidArgument), so a client relying on one fails here
  rather than silently unguarded on GCS.

``seen`` records (operation, status) for every XML multipart request.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.loopback_proxy import LoopbackProxy, ProxyHandler

MIN_PART = 5 << 20


def _error(code: str, message: str) -> bytes:
    return (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error>").encode()


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class GcsXmlStandIn(LoopbackProxy):
    """``GcsXmlStandIn(fake_gcs_url)``; set ``STORAGE_EMULATOR_HOST`` to ``.url``; ``stop()``.
    Everything but the XML multipart requests is forwarded to fake-gcs."""

    def __init__(self, upstream: str):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        super().__init__(upstream)
        self.store = storage.Client(project="test-project", credentials=AnonymousCredentials(),
                                    client_options={"api_endpoint": upstream})
        self.lock = threading.Lock()
        self.uploads: dict[str, dict[str, Any]] = {}
        self.seen: list[tuple[str, int]] = []
        self._ids = itertools.count(1)
        stand_in = self

        class Handler(ProxyHandler):
            def _handle(self) -> None:
                body = self._body()
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                bucket, _, name = unquote(parts.path).lstrip("/").partition("/")
                xml_mpu = not parts.path.startswith(("/storage/", "/upload/", "/download/", "/batch/")) and name and (
                    (self.command == "POST" and "uploads" in query) or "uploadId" in query)
                if not xml_mpu:
                    status, headers, data = stand_in._forward(self.command, self.path, self.headers, body)
                    self._send(status, data, headers)
                    return
                try:
                    op, status, data, extra = stand_in._xml(self.command, bucket, name, query, self.headers, body)
                except _Refused as exc:
                    op, status, data, extra = "refused", exc.status, _error(exc.code, exc.message), []
                with stand_in.lock:
                    stand_in.seen.append((op, status))
                self._send(status, data, [("Content-Type", "application/xml"), *extra])

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

        self._serve(Handler)

    # --- the XML multipart API ---------------------------------------------------------
    def _xml(self, method: str, bucket: str, name: str, query: dict[str, list[str]], headers: Any,
             body: bytes) -> tuple[str, int, bytes, list[tuple[str, str]]]:
        lowered = {k.lower(): v for k, v in headers.items()}
        if any(k.startswith("x-goog-if-") for k in lowered):
            raise _Refused(400, "InvalidArgument", "Preconditions are not supported for XML API multipart uploads")
        if method == "POST" and "uploads" in query:
            if self.store.lookup_bucket(bucket) is None:
                raise _Refused(404, "NoSuchBucket", "The specified bucket does not exist.")
            upload_id = f"ABPnzm{next(self._ids):08d}"
            meta = {k[len("x-goog-meta-"):]: v for k, v in lowered.items() if k.startswith("x-goog-meta-")}
            with self.lock:
                self.uploads[upload_id] = {"bucket": bucket, "name": name, "meta": meta, "parts": {},
                                           "type": lowered.get("content-type") or "application/octet-stream"}
            return "initiate", 200, (f"<?xml version='1.0' encoding='UTF-8'?><InitiateMultipartUploadResult>"
                                     f"<Bucket>{bucket}</Bucket><Key>{name}</Key><UploadId>{upload_id}</UploadId>"
                                     "</InitiateMultipartUploadResult>").encode(), []
        upload_id = query["uploadId"][0]
        with self.lock:
            upload = self.uploads.get(upload_id)
        if upload is None or upload["bucket"] != bucket or upload["name"] != name:
            raise _Refused(404, "NoSuchUpload", "The requested upload was not found.")
        if method == "PUT":
            return self._part(upload, query, lowered, body)
        if method == "POST":
            return self._complete(upload_id, upload, body)
        if method == "DELETE":
            with self.lock:
                self.uploads.pop(upload_id, None)
            return "abort", 204, b"", []
        if method == "GET":
            listed = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag><Size>{len(data)}</Size></Part>"
                             for n, (data, etag) in sorted(upload["parts"].items()))
            return "list_parts", 200, (f"<?xml version='1.0' encoding='UTF-8'?><ListPartsResult><Bucket>{bucket}"
                                       f"</Bucket><Key>{name}</Key><UploadId>{upload_id}</UploadId>{listed}"
                                       "</ListPartsResult>").encode(), []
        raise _Refused(405, "MethodNotAllowed", f"{method} is not allowed on a multipart upload")

    @staticmethod
    def _part(upload: dict[str, Any], query: dict[str, list[str]], headers: dict[str, str],
              body: bytes) -> tuple[str, int, bytes, list[tuple[str, str]]]:
        import google_crc32c

        try:
            number = int(query.get("partNumber", [""])[0])
        except ValueError:
            number = 0
        if not 1 <= number <= 10_000:
            raise _Refused(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        md5 = hashlib.md5(body)
        claims = [c.strip() for c in headers.get("x-goog-hash", "").split(",") if c.strip()]
        for claim in claims:
            kind, _, value = claim.partition("=")
            got = (base64.b64encode(google_crc32c.value(body).to_bytes(4, "big")).decode() if kind == "crc32c"
                   else base64.b64encode(md5.digest()).decode() if kind == "md5" else None)
            if got is None or got != value:
                raise _Refused(400, "BadDigest", f"The {kind} you specified did not match what we received.")
        if "content-md5" in headers and headers["content-md5"] != base64.b64encode(md5.digest()).decode():
            raise _Refused(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        etag = f'"{md5.hexdigest()}"'
        upload["parts"][number] = (body, etag)
        return "part", 200, b"", [("ETag", etag)]

    def _complete(self, upload_id: str, upload: dict[str, Any],
                  body: bytes) -> tuple[str, int, bytes, list[tuple[str, str]]]:
        try:
            root = ET.fromstring(body)
            listed = [(int(p.findtext("PartNumber") or ""), (p.findtext("ETag") or "").strip())
                      for p in root.iter("Part")]
        except (ET.ParseError, ValueError):
            raise _Refused(400, "MalformedXML", "The XML you provided was not well-formed") from None
        if root.tag != "CompleteMultipartUpload" or not listed:
            raise _Refused(400, "MalformedXML", "The XML you provided was not well-formed")
        numbers = [n for n, _ in listed]
        if numbers != sorted(set(numbers)):
            raise _Refused(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
        chunks = []
        for i, (number, etag) in enumerate(listed):
            have = upload["parts"].get(number)
            if have is None or have[1].strip('"') != etag.strip('"'):
                raise _Refused(400, "InvalidPart", f"Part {number} was not uploaded, or its ETag does not match.")
            if i < len(listed) - 1 and len(have[0]) < MIN_PART:
                raise _Refused(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.")
            chunks.append(have[0])
        blob = self.store.bucket(upload["bucket"]).blob(upload["name"])
        blob.metadata = upload["meta"] or None
        blob.upload_from_string(b"".join(chunks), content_type=upload["type"])
        with self.lock:
            self.uploads.pop(upload_id, None)
        etag = hashlib.md5(b"".join(bytes.fromhex(e.strip('"')) for _, e in listed)).hexdigest()
        return "complete", 200, (f"<?xml version='1.0' encoding='UTF-8'?><CompleteMultipartUploadResult>"
                                 f"<Location>{self.url}/{upload['bucket']}/{upload['name']}</Location>"
                                 f"<Bucket>{upload['bucket']}</Bucket><Key>{upload['name']}</Key>"
                                 f'<ETag>"{etag}-{len(listed)}"</ETag></CompleteMultipartUploadResult>').encode(), []

    def open_uploads(self) -> list[str]:
        with self.lock:
            return sorted(self.uploads)
