"""GCS XML API multipart uploads: parts sent in parallel, joined by GCS on completion.

Unlike a composite upload there are no component objects, so a bucket's soft delete or
retention policy leaves nothing behind (real buckets keep deleted objects 7 days by default,
which is why composing falls back to one stream there). What the XML API does not do, per
Google's "XML API multipart uploads" page: preconditions (no ``x-goog-if-generation-match``
on these requests; completion replaces whatever object is there), and no MD5 for the result.
Parts are billed as objects until completed or aborted, early-deletion fees included.

google-cloud-storage's ``transfer_manager.upload_chunks_concurrently`` does the same, but
reads parts from a local file by name; the engine's parts come from any source (an S3 range
read), so the four requests are made here, on the client's own authorised session, under
google-cloud-storage's ``DEFAULT_RETRY`` (the one retry layer for GCS requests).
"""

from __future__ import annotations

import base64
import re
from typing import Any
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


def _tag(body: bytes, tag: str) -> str:
    """The text of the first ``<tag>`` of a small XML answer ("" when absent)."""
    m = re.search(rb"<" + tag.encode() + rb">([^<]*)</" + tag.encode() + rb">", body or b"")
    if m is None:
        return ""
    from xml.sax.saxutils import unescape

    return unescape(m.group(1).decode("utf-8", "replace"))
