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

A run cleans up after itself (:func:`orphaned_uploads`, :func:`stray_local_temps`), and
``gpumigrate transfer --cleanup DST`` lists (then, with ``--remove``, removes) whatever a
killed run left (:func:`find_leftovers`, :func:`remove_leftovers`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Iterable

from engine.errors import BadInputError
from engine.transfer.backends.base import TMP_MARK, Backend

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

    @property
    def recent(self) -> bool:
        return self.age_s < RECENT_S


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
        seen: set[str] = set()
        for prefix in sorted(prefixes):
            for blob in client.list_blobs(backend.loc.bucket, prefix=prefix):
                if blob.name in seen:
                    continue
                seen.add(blob.name)
                made = blob.time_created.timestamp() if blob.time_created else now
                out.append(Leftover(blob.name, int(blob.size or 0), now - made, blob.generation))
    return sorted(out, key=lambda x: x.name)


def remove_leftovers(backend: Backend, leftovers: Iterable[Leftover]) -> tuple[int, list[str]]:
    """Remove the leftovers that are not recent; (removed, errors).

    A GCS leftover is deleted only at the generation that was listed (``ifGenerationMatch``),
    under the library's conditional retry like every other GCS write of the engine: a retried
    delete cannot remove an object written under that name since the listing, and an object
    already gone (a retry of a delete that had succeeded, another clean-up) counts as removed."""
    removed, errors = 0, []
    for item in leftovers:
        if item.recent:
            continue
        try:
            if backend.scheme == "file":
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
