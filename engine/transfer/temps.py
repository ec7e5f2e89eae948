"""No debris: finding and removing the engine's own temporary objects.

Everything temporary carries ``TMP_MARK`` (``.gpumigrate-tmp``) in its name, so the engine
can tell its own leftovers from anyone's data:

* local destinations: ``.<digest>.gpumigrate-tmp`` beside the final file (a file being
  written, renamed into place only when verified; a large file's parts are written into it);
* GCS: the components of a composite upload, under ``<prefix>.gpumigrate-tmp/<digest>/``
  (earlier versions: at the bucket's root), removed once composed;
* S3 keeps no temporary objects: an unfinished multipart upload is invisible until
  completed, and the journal's ledger marks the ones this engine started (aborted by the
  next run of the same transfer).
* GCS XML multipart uploads: likewise invisible and on the journal's ledger.

``--cleanup`` also lists unfinished multipart uploads on S3 and GCS (:func:`find_unfinished_uploads`):
neither store's listing says which tool started one (GCS returns no metadata of it; S3's
``Initiator`` is a principal, not a tool), so each is matched against the journals on this
machine; one no journal records (a lost journal, another machine, another tool) is aborted
only on request (``abort_unknown``).

A run cleans up after itself (:func:`orphaned_uploads`, :func:`stray_local_temps`), and
``gpumigrate transfer --cleanup DST`` lists (then, with ``--remove``, removes) whatever a
killed run left (:func:`find_leftovers`, :func:`remove_leftovers`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from engine.errors import BadInputError
from engine.transfer.backends.base import TMP_MARK, Backend

if TYPE_CHECKING:
    from engine.transfer.journal import JournalledUpload

RECENT_S = 15 * 60
"""Leftovers younger than this may belong to a transfer still running: listed, never removed."""


@dataclass
class Leftover:
    """One temporary object or file found at a destination."""

    name: str
    """A local path, or the object name in the bucket."""
    size: int
    age_s: float
    generation: int | None = None
    """GCS: the generation listed, so removing it cannot delete a newer object of that name."""
    upload_id: str | None = None
    """GCS: an unfinished XML multipart upload of the object ``name`` (``size``: its parts'
    bytes; ``age_s``: since its newest part, or its start without parts)."""
    started: float | None = None
    parts: int = 0
    owner: JournalledUpload | None = None
    """The journal on this machine recording the upload as this engine's; None: none does."""
    running: bool = False
    """A transfer holding the journal that records it runs now: in use, whatever its age."""

    @property
    def recent(self) -> bool:
        """Kept by ``--remove``: young enough to belong to a running transfer, or known to."""
        return self.age_s < RECENT_S or self.running

    @property
    def unknown(self) -> bool:
        """An unfinished upload no journal here records: whose it is cannot be told."""
        return self.upload_id is not None and self.owner is None


def find_leftovers(backend: Backend) -> list[Leftover]:
    """The engine's temporary objects at this destination (local tree or GCS bucket)."""
    now = time.time()
    out: list[Leftover] = []
    if backend.scheme == "file":
        root = backend.loc.path
        if not os.path.isdir(root):  # a mistyped path is not "0 leftovers"
            raise BadInputError(f"--cleanup {root}: not a directory")
        for folder, _dirs, files in os.walk(root):
            for name in files:
                if TMP_MARK in name:
                    full = os.path.join(folder, name)
                    try:
                        s = os.lstat(full)
                    except OSError:
                        continue
                    out.append(Leftover(full, s.st_size, now - s.st_mtime))
    elif backend.scheme == "gs":
        client = backend.client  # type: ignore[attr-defined]
        # where this version puts components (inside the destination prefix), and the bucket
        # root where earlier versions put them
        prefixes = {getattr(backend, "components", "") or backend.loc.prefix + TMP_MARK + "/", TMP_MARK + "/"}
        mine = _journalled_component_prefixes(backend)
        prefixes |= set(mine)
        in_use = {token for token, up in mine.items() if up.running}
        seen: set[str] = set()
        for prefix in sorted(prefixes):
            for blob in client.list_blobs(backend.loc.bucket, prefix=prefix):
                if blob.name in seen:
                    continue
                seen.add(blob.name)
                made = blob.time_created.timestamp() if blob.time_created else now
                out.append(Leftover(blob.name, int(blob.size or 0), now - made, blob.generation,
                                    running=blob.name.rsplit("/", 1)[0] + "/" in in_use))
    return sorted(out, key=lambda x: x.name)


def _journalled_component_prefixes(backend: Backend) -> dict[str, JournalledUpload]:
    """Where the journals here say composite uploads under this destination put components: a
    run with ``gcs_component_prefix`` (a profile setting) put them outside the default folder,
    where ``--cleanup DST`` alone would not look."""
    from engine.transfer.journal import journalled_uploads
    from engine.transfer.urls import parse_url

    out = {}
    for token, up in journalled_uploads().items():
        if not token.endswith("/"):  # an S3 or XML multipart upload id, not a components prefix
            continue
        try:
            dst = parse_url(up.dst)
        except (BadInputError, ValueError):
            continue
        if dst.scheme == "gs" and dst.bucket == backend.loc.bucket and dst.prefix.startswith(backend.loc.prefix):
            out[token] = up
    return out


def find_unfinished_uploads(backend: Backend) -> tuple[list[Leftover], str]:
    """The unfinished multipart uploads under an S3 or GCS destination's prefix, each matched
    against the journals on this machine; and why none could be listed ("" when listed: an
    emulator without XML multipart is said so, not taken for an empty list). An error from the
    store (no permission to list uploads...) is raised."""
    if backend.scheme not in ("gs", "s3"):
        return [], ""
    from engine.transfer.journal import journalled_uploads

    if backend.scheme == "gs":
        from engine.transfer.backends.gcs_xml import NotListed

        try:
            listed = _gcs_uploads(backend)
        except NotListed as exc:
            return [], f"the endpoint does not list XML multipart uploads: {exc}"
    else:
        listed = _s3_uploads(backend)
    ours = journalled_uploads() if listed else {}
    for item in listed:
        item.owner = ours.get(item.upload_id or "")
        item.running = item.owner is not None and item.owner.running
    return sorted(listed, key=lambda x: (x.name, x.upload_id or "")), ""


def _gcs_uploads(backend: Backend) -> list[Leftover]:
    from google.api_core import exceptions as gexc

    xml = backend.xml_requests  # type: ignore[attr-defined]
    now, out = time.time(), []
    for up in list(xml.list_uploads(backend.loc.prefix)):
        try:
            up = xml.parts_of(up)
        except gexc.NotFound:  # completed or aborted since the listing
            continue
        out.append(Leftover(up.key, up.size, now - (up.last_active or up.initiated), upload_id=up.upload_id,
                            started=up.initiated, parts=up.parts))
    return out


def _s3_uploads(backend: Backend) -> list[Leftover]:
    """ListMultipartUploads under the prefix, then ListParts of each (bytes billed, newest part)."""
    from botocore.exceptions import ClientError

    client, bucket = backend.client, backend.loc.bucket  # type: ignore[attr-defined]
    now, out = time.time(), []
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=backend.loc.prefix):
        for upload in page.get("Uploads", []):
            started = upload["Initiated"].timestamp()
            count = size = 0
            last = started
            try:
                for part_page in client.get_paginator("list_parts").paginate(
                        Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]):
                    for part in part_page.get("Parts", []):
                        count, size = count + 1, size + int(part.get("Size", 0))
                        if part.get("LastModified"):
                            last = max(last, part["LastModified"].timestamp())
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                    continue  # completed or aborted since the listing
                raise
            out.append(Leftover(upload["Key"], size, now - last, upload_id=upload["UploadId"], started=started,
                                parts=count))
    return out


def _abort_upload(backend: Backend, item: Leftover) -> None:
    """Abort a listed upload (by its id: it cannot touch anything else); one gone is fine."""
    if backend.scheme == "gs":
        backend.xml_requests.abort(item.name, item.upload_id)  # type: ignore[attr-defined]
        return
    from botocore.exceptions import ClientError

    try:
        backend.client.abort_multipart_upload(  # type: ignore[attr-defined]
            Bucket=backend.loc.bucket, Key=item.name, UploadId=item.upload_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
            raise


def remove_leftovers(backend: Backend, leftovers: Iterable[Leftover],
                     abort_unknown: bool = False) -> tuple[int, list[str]]:
    """Remove the leftovers that are not recent; (removed, errors). An unfinished upload no
    journal here records is aborted only with ``abort_unknown`` (it may be another tool's).

    A GCS leftover is deleted only at the generation that was listed (``ifGenerationMatch``),
    under the library's conditional retry like every other GCS write of the engine: a retried
    delete cannot remove an object written under that name since the listing, and an object
    already gone (a retry of a delete that had succeeded, another clean-up) counts as removed."""
    removed, errors = 0, []
    for item in leftovers:
        if item.recent or (item.unknown and not abort_unknown):
            continue
        try:
            if item.upload_id is not None:
                _abort_upload(backend, item)
            elif backend.scheme == "file":
                os.unlink(item.name)
            else:
                _delete_listed(backend, item)
            removed += 1
        except FileNotFoundError:
            continue
        except Exception as exc:  # noqa: BLE001 - reported per object
            errors.append(f"{item.name}: {type(exc).__name__}: {exc}")
    return removed, errors


def _delete_listed(backend: Backend, item: Leftover) -> None:
    from google.api_core import exceptions as gexc
    from google.cloud.storage.retry import DEFAULT_RETRY_IF_GENERATION_SPECIFIED

    try:
        backend.bucket.blob(item.name).delete(  # type: ignore[attr-defined]
            if_generation_match=item.generation, retry=DEFAULT_RETRY_IF_GENERATION_SPECIFIED)
    except gexc.NotFound:
        pass
    except gexc.PreconditionFailed:
        raise RuntimeError(f"replaced since it was listed (generation {item.generation} is gone); "
                           "not removed") from None


def stray_local_temps(seen: Iterable[str], keep: set[str]) -> list[str]:
    """Local temp files a listing saw that no journalled upload continues (``keep``: their
    paths): a killed single-request or streamed write, or a source that vanished since."""
    return [p for p in seen if p not in keep and os.path.exists(p)]


def orphaned_uploads(pending: dict[str, str], planned: set[str]) -> dict[str, str]:
    """Journalled uploads ({path: token}) whose object this run did not plan to copy."""
    return {path: token for path, token in pending.items() if path not in planned}
