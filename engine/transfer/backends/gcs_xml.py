"""GCS XML API multipart uploads: parts sent in parallel, joined by GCS on completion.

Unlike a composite upload there are no component objects, so a bucket's soft delete or
retention policy leaves nothing behind (real buckets keep deleted objects 7 days by default,
which is why composing falls back to one stream there). What the XML API does not do:
preconditions. Google's "XML API multipart uploads" page lists "Preconditions are not supported
in the requests" among its limitations (https://cloud.google.com/storage/docs/multipart-uploads),
the completion reference lists no ``x-goog-if-*`` header (.../xml-api/post-object-complete),
and google-cloud-storage's ``upload_chunks_concurrently`` refuses conditional retry policies
"because preconditions are not supported by the underlying API call". Completion replaces
whatever object is there, so the backend compares the destination's generation just before
completing; a write landing between that check and the completion is not caught. No MD5 for
the result either. Parts are billed as objects until completed or aborted, early-deletion fees
included.

Unfinished uploads are listed with ``GET /BUCKET?uploads`` (.../xml-api/get-bucket-uploads):
each gives only its object name, upload id, storage class and start time; nothing set at
initiation (``x-goog-meta-*``) comes back, so a listing cannot tell this engine's uploads from
another tool's. The resume journals can (``engine.transfer.journal.journalled_uploads``).

google-cloud-storage's ``transfer_manager.upload_chunks_concurrently`` does the same, but
reads parts from a local file by name; the engine's parts come from any source (an S3 range
read), so the four requests are made here, on the client's own authorised session, under
google-cloud-storage's ``DEFAULT_RETRY`` (the one retry layer for GCS requests).
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator
from urllib.parse import quote
from xml.sax.saxutils import escape


class XMLUploads:
    """The XML multipart requests for one bucket, at ``endpoint`` (the client's API endpoint:
    https://storage.googleapis.com, or an emulator's address)."""

    def __init__(self, session: Any, endpoint: str, bucket: str):
        self.session = session
        self.base = endpoint.rstrip("/") + "/" + quote(bucket, safe="")

    def _url(self, name: str) -> str:
        return f"{self.base}/{quote(name, safe='/~')}"

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        """One request under DEFAULT_RETRY (429, 5xx, connection errors); an error answer
        raises google.api_core's exception for its status, with GCS's error code in the text."""
        from google.api_core import exceptions as gexc
        from google.cloud.storage.retry import DEFAULT_RETRY

        def once() -> Any:
            resp = self.session.request(method, url, timeout=(10, 120), **kwargs)
            if resp.status_code >= 400:
                code = _tag(resp.content, "Code") or resp.reason or ""
                text = _tag(resp.content, "Message") or ""
                raise gexc.from_http_status(resp.status_code, f"{method} {url.split('?')[0]}: {code}: {text}".strip())
            return resp

        return DEFAULT_RETRY(once)()

    def initiate(self, name: str, metadata: dict[str, str]) -> str:
        """POST ?uploads with the finished object's metadata; returns the upload id."""
        headers = {f"x-goog-meta-{k}": v for k, v in metadata.items()}
        headers["Content-Type"] = "application/octet-stream"
        resp = self._call("POST", self._url(name) + "?uploads", headers=headers, data=b"")
        upload_id = _tag(resp.content, "UploadId")
        if not upload_id:
            raise ValueError(f"GCS answered the start of a multipart upload of {name} without an UploadId")
        return upload_id

    def put_part(self, name: str, upload_id: str, number: int, data: bytes, crc: int) -> str:
        """PUT ?partNumber&uploadId (1-based ``number``), GCS checking the part's CRC32C; returns its ETag."""
        crc_b64 = base64.b64encode(crc.to_bytes(4, "big")).decode()
        resp = self._call("PUT", f"{self._url(name)}?partNumber={number}&uploadId={quote(upload_id, safe='')}",
                          headers={"x-goog-hash": f"crc32c={crc_b64}"}, data=data)
        etag = resp.headers.get("ETag")
        if not etag:
            raise ValueError(f"GCS answered part {number} of {name} without an ETag")
        return str(etag)

    def complete(self, name: str, upload_id: str, etags: list[str]) -> None:
        """POST ?uploadId with every part in order (GCS refuses gaps, wrong order, unknown ETags)."""
        body = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(etag)}</ETag></Part>"
            for n, etag in enumerate(etags, start=1)) + "</CompleteMultipartUpload>"
        self._call("POST", f"{self._url(name)}?uploadId={quote(upload_id, safe='')}", data=body.encode(),
                   headers={"Content-Type": "application/xml"})

    def abort(self, name: str, upload_id: str) -> None:
        """DELETE ?uploadId; an upload already gone (completed or aborted) is fine."""
        from google.api_core import exceptions as gexc

        try:
            self._call("DELETE", f"{self._url(name)}?uploadId={quote(upload_id, safe='')}")
        except gexc.NotFound:
            pass

    def alive(self, name: str, upload_id: str) -> bool:
        """Whether the upload can still be continued (GET ?uploadId: 404 NoSuchUpload when not)."""
        from google.api_core import exceptions as gexc

        try:
            self._call("GET", f"{self._url(name)}?uploadId={quote(upload_id, safe='')}&max-parts=1")
        except gexc.NotFound:
            return False
        return True


    def list_uploads(self, prefix: str) -> Iterator["OpenUpload"]:
        """Every unfinished upload whose object name starts with ``prefix``, page by page
        (GET ?uploads with ``prefix``, ``key-marker`` and ``upload-id-marker``: the documented
        parameters; at most 1,000 a page). An answer that is not a ``ListMultipartUploadsResult``
        (an emulator without XML multipart answers a bucket listing) raises :class:`NotListed`."""
        key_marker = id_marker = ""
        while True:
            query = "?uploads&prefix=" + quote(prefix, safe="")
            if key_marker:
                query += "&key-marker=" + quote(key_marker, safe="")
                if id_marker:
                    query += "&upload-id-marker=" + quote(id_marker, safe="")
            root = _root(self._call("GET", self.base + query).content, "ListMultipartUploadsResult")
            for item in _children(root, "Upload"):
                yield OpenUpload(key=_text(item, "Key"), upload_id=_text(item, "UploadId"),
                                 initiated=_when(_text(item, "Initiated")))
            if _text(root, "IsTruncated").lower() != "true":
                return
            key_marker, id_marker = _text(root, "NextKeyMarker"), _text(root, "NextUploadIdMarker")
            if not key_marker:
                raise ValueError("GCS answered a truncated list of multipart uploads without a NextKeyMarker")

    def parts_of(self, up: "OpenUpload") -> "OpenUpload":
        """``up`` with its parts counted and sized, and the time of its newest part (GET
        ?uploadId, ``part-number-marker`` for pages past 1,000 parts): how much is billed, and
        whether anything still writes to it."""
        marker = ""
        count = size = 0
        last = up.initiated
        while True:
            query = f"?uploadId={quote(up.upload_id, safe='')}" + (f"&part-number-marker={marker}" if marker else "")
            root = _root(self._call("GET", self._url(up.key) + query).content, "ListPartsResult")
            for part in _children(root, "Part"):
                count += 1
                size += int(_text(part, "Size") or 0)
                if _text(part, "LastModified"):
                    last = max(last, _when(_text(part, "LastModified")))
            if _text(root, "IsTruncated").lower() != "true" or not _text(root, "NextPartNumberMarker"):
                break
            marker = _text(root, "NextPartNumberMarker")
        return OpenUpload(key=up.key, upload_id=up.upload_id, initiated=up.initiated, parts=count, size=size,
                          last_active=last)


@dataclass
class OpenUpload:
    """An unfinished XML multipart upload as GCS lists it."""

    key: str
    upload_id: str
    initiated: float
    """When it was started (epoch seconds)."""
    parts: int = 0
    size: int = 0
    """Bytes of its parts: billed like objects until it is completed or aborted."""
    last_active: float | None = None
    """When its newest part was written (``initiated`` without parts); None until counted."""


class NotListed(Exception):
    """The endpoint answered something other than the listing asked for: it has no XML
    multipart uploads (fake-gcs-server answers ``GET ?uploads`` with a bucket listing)."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _root(body: bytes, expected: str) -> ET.Element:
    """The parsed answer; GCS puts these documents in the S3 namespace, so tags are compared by
    local name."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise NotListed(f"the answer is not XML ({exc})") from None
    if _local(root.tag) != expected:
        raise NotListed(f"the answer is a {_local(root.tag)}, not a {expected}")
    return root


def _children(node: ET.Element, tag: str) -> list[ET.Element]:
    return [c for c in node if _local(c.tag) == tag]


def _text(node: ET.Element, tag: str) -> str:
    for child in _children(node, tag):
        return (child.text or "").strip()
    return ""


def _when(stamp: str) -> float:
    """An XML API time (``2010-11-10T20:48:33.000Z``) as epoch seconds."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _tag(body: bytes, tag: str) -> str:
    """The text of the first ``<tag>`` of a small XML answer ("" when absent)."""
    m = re.search(rb"<" + tag.encode() + rb">([^<]*)</" + tag.encode() + rb">", body or b"")
    if m is None:
        return ""
    from xml.sax.saxutils import unescape

    return unescape(m.group(1).decode("utf-8", "replace"))
