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
* abort ``DELETE ?uploadId=ID`` 204; list parts ``GET ?uploadId=ID`` ``ListPartsResult``
  (``PartNumber``, ``LastModified``, ``ETag``, ``Size`` per part; ``max-parts`` and
  ``part-number-marker``, pages of at most 1,000 with ``NextPartNumberMarker``).
* list uploads ``GET /BUCKET?uploads`` (https://cloud.google.com/storage/docs/xml-api/get-bucket-uploads):
  the documented parameters only (``delimiter``, ``encoding-type`` = ``url``, ``key-marker``,
  ``max-uploads``, ``prefix``, ``upload-id-marker``, ``uploads``); anything else 400
  InvalidArgument. Ordered by object name, then upload id; at most 1,000 a page (``IsTruncated``,
  ``NextKeyMarker``, ``NextUploadIdMarker``); ``upload-id-marker`` without ``key-marker`` is
  ignored, as the page says. Each ``Upload`` carries ``Key``, ``UploadId``, ``StorageClass`` and
  ``Initiated`` only (google-cloud-storage for Java's ``MultipartUpload`` model reads the same
  four): nothing of the metadata given at initiation.
* "Preconditions are not supported in the requests" (the multipart-uploads page); the request
  preconditions page says using one "results in a 400 NotImplemented error" (as quoted in
  apache/opendal#8040). The stand-in answers any ``x-goog-if-*`` header on these requests so,
  and a client relying on one fails here rather than running unguarded on GCS.

``seen`` records (operation, status) for every XML multipart request.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from tests.loopback_proxy import LoopbackProxy, ProxyHandler

MIN_PART = 5 << 20
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
"""GCS answers its S3-compatible XML documents in S3's namespace."""
LIST_PARAMS = {"delimiter", "encoding-type", "key-marker", "max-uploads", "prefix", "upload-id-marker", "uploads"}
PAGE = 1000


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


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
        self.page = PAGE
        """The most a listing page holds (GCS: 1,000); a test lowers it to see pages turn."""
        self._ids = itertools.count(1)
        stand_in = self

        class Handler(ProxyHandler):
            def _handle(self) -> None:
                body = self._body()
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                bucket, _, name = unquote(parts.path).lstrip("/").partition("/")
                xml_mpu = not parts.path.startswith(("/storage/", "/upload/", "/download/", "/batch/")) and bucket and (
                    (name and ((self.command == "POST" and "uploads" in query) or "uploadId" in query))
                    or (not name and self.command == "GET" and "uploads" in query))
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
            raise _Refused(400, "NotImplemented", "Preconditions are not supported for XML API multipart uploads")
        if not name:
            return self._list_uploads(bucket, query)
        if method == "POST" and "uploads" in query:
            if self.store.lookup_bucket(bucket) is None:
                raise _Refused(404, "NoSuchBucket", "The specified bucket does not exist.")
            upload_id = f"ABPnzm{next(self._ids):08d}"
            meta = {k[len("x-goog-meta-"):]: v for k, v in lowered.items() if k.startswith("x-goog-meta-")}
            with self.lock:
                self.uploads[upload_id] = {"bucket": bucket, "name": name, "meta": meta, "parts": {},
                                           "type": lowered.get("content-type") or "application/octet-stream",
                                           "initiated": time.time()}
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
            return self._list_parts(bucket, name, upload_id, upload, query)
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
        upload.setdefault("written", {})[number] = time.time()
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

    @staticmethod
    def _int_param(query: dict[str, list[str]], name: str, default: int, low: int) -> int:
        raw = query.get(name, [str(default)])[0]
        try:
            value = int(raw)
        except ValueError:
            raise _Refused(400, "InvalidArgument", f"Invalid argument for {name}: {raw!r}") from None
        if value < low:
            raise _Refused(400, "InvalidArgument", f"{name} must be at least {low}")
        return value

    def _list_parts(self, bucket: str, name: str, upload_id: str, upload: dict[str, Any],
                    query: dict[str, list[str]]) -> tuple[str, int, bytes, list[tuple[str, str]]]:
        unknown = set(query) - {"uploadId", "max-parts", "part-number-marker"}
        if unknown:
            raise _Refused(400, "InvalidArgument", f"Unknown query parameter(s) for listing parts: {sorted(unknown)}")
        limit = min(self._int_param(query, "max-parts", self.page, 1), self.page)
        after = self._int_param(query, "part-number-marker", 0, 0)
        numbers = [n for n in sorted(upload["parts"]) if n > after]
        page, more = numbers[:limit], len(numbers) > limit
        listed = "".join(
            f"<Part><PartNumber>{n}</PartNumber><LastModified>{_stamp(upload['written'][n])}</LastModified>"
            f"<ETag>{upload['parts'][n][1]}</ETag><Size>{len(upload['parts'][n][0])}</Size></Part>" for n in page)
        tail = f"<NextPartNumberMarker>{page[-1]}</NextPartNumberMarker>" if more else ""
        return "list_parts", 200, (
            f"<?xml version='1.0' encoding='UTF-8'?><ListPartsResult xmlns='{S3_NS}'><Bucket>{bucket}</Bucket>"
            f"<Key>{escape(name)}</Key><UploadId>{upload_id}</UploadId><StorageClass>STANDARD</StorageClass>"
            f"<PartNumberMarker>{after}</PartNumberMarker><MaxParts>{limit}</MaxParts>"
            f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>{tail}{listed}</ListPartsResult>").encode(), []

    def _list_uploads(self, bucket: str, query: dict[str, list[str]]) -> tuple[str, int, bytes, list[tuple[str, str]]]:
        """ListMultipartUploads as get-bucket-uploads documents it (see the module docstring)."""
        unknown = set(query) - LIST_PARAMS
        if unknown:
            raise _Refused(400, "InvalidArgument", f"Unknown query parameter(s) for listing uploads: {sorted(unknown)}")
        if self.store.lookup_bucket(bucket) is None:
            raise _Refused(404, "NoSuchBucket", "The specified bucket does not exist.")
        encoding = query.get("encoding-type", [""])[0]
        if encoding not in ("", "url"):
            raise _Refused(400, "InvalidArgument", f"Invalid encoding-type: {encoding!r}")
        enc = (lambda v: quote(v, safe="/")) if encoding else escape  # noqa: E731 - one-line choice
        limit = min(self._int_param(query, "max-uploads", self.page, 1), self.page)
        prefix, delimiter = query.get("prefix", [""])[0], query.get("delimiter", [""])[0]
        key_marker = query.get("key-marker", [""])[0]
        id_marker = query.get("upload-id-marker", [""])[0] if key_marker else ""
        with self.lock:
            rows = sorted((u["name"], uid, u["initiated"]) for uid, u in self.uploads.items() if u["bucket"] == bucket)
        rows = [r for r in rows if r[0].startswith(prefix) and (
            r[0] > key_marker or (id_marker and r[0] == key_marker and r[1] > id_marker))]
        uploads, prefixes = [], []
        for key, uid, started in rows:
            rest = key[len(prefix):]
            if delimiter and delimiter in rest:
                common = prefix + rest[:rest.index(delimiter) + len(delimiter)]
                if common not in prefixes:
                    prefixes.append(common)
                continue
            uploads.append((key, uid, started))
        entries = sorted([(k, u, t) for k, u, t in uploads] + [(p, "", None) for p in prefixes])
        page, more = entries[:limit], len(entries) > limit
        body = "".join(
            f"<Upload><Key>{enc(k)}</Key><UploadId>{u}</UploadId><StorageClass>STANDARD</StorageClass>"
            f"<Initiated>{_stamp(t)}</Initiated></Upload>" if t is not None
            else f"<CommonPrefixes><Prefix>{enc(k)}</Prefix></CommonPrefixes>" for k, u, t in page)
        nxt = (f"<NextKeyMarker>{enc(page[-1][0])}</NextKeyMarker><NextUploadIdMarker>{page[-1][1]}"
               "</NextUploadIdMarker>") if more else ""
        optional = (f"<Delimiter>{enc(delimiter)}</Delimiter>" if delimiter else "") + (
            f"<EncodingType>{encoding}</EncodingType>" if encoding else "")
        return "list_uploads", 200, (
            f"<?xml version='1.0' encoding='UTF-8'?><ListMultipartUploadsResult xmlns='{S3_NS}'><Bucket>{bucket}"
            f"</Bucket><KeyMarker>{enc(key_marker)}</KeyMarker><UploadIdMarker>{id_marker}</UploadIdMarker>{nxt}"
            f"<Prefix>{enc(prefix)}</Prefix>{optional}<MaxUploads>{limit}</MaxUploads>"
            f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>{body}</ListMultipartUploadsResult>").encode(), []

    def backdate(self, upload_id: str, seconds: float) -> None:
        """Make an upload and its parts look ``seconds`` older (a run killed long ago)."""
        with self.lock:
            upload = self.uploads[upload_id]
            upload["initiated"] -= seconds
            for n in upload.get("written", {}):
                upload["written"][n] -= seconds

    def open_uploads(self) -> list[str]:
        with self.lock:
            return sorted(self.uploads)
