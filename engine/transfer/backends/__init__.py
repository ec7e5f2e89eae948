"""Storage backends: local files, S3 (boto3) and GCS (google-cloud-storage)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.transfer.backends.base import Backend, ObjectInfo, PartUpload
from engine.transfer.urls import Location

if TYPE_CHECKING:
    from engine.transfer.backends.local_walk import WalkRules


def open_backend(loc: Location, *, jobs: int = 8, small_jobs: int = 0, rules: "WalkRules | None" = None,
                 component_prefix: str | None = None, s3_conditional_writes: str = "auto",
                 gcs_large_uploads: str = "auto") -> Backend:
    """The backend for a location (clients are built from the standard environment); ``rules``:
    how a local walk treats symlinks; ``component_prefix``: where GCS composite uploads put their
    components (see GCSBackend); ``s3_conditional_writes``, ``gcs_large_uploads``: see TransferSpec."""
    if loc.scheme == "file":
        from engine.transfer.backends.local import LocalBackend

        local = LocalBackend(loc)
        if rules is not None:
            local.rules = rules
        return local
    from engine.transfer.lister import list_jobs

    lj = list_jobs(jobs)
    # a connection for every worker (objects, parts, small objects where they have their own
    # pool), every listing thread, and a few spare: none waits for one, none is opened and dropped
    pool = jobs * 2 + (small_jobs if small_jobs > jobs else 0) + lj + 4
    backend: Backend
    if loc.scheme == "s3":
        from engine.transfer.backends.s3 import S3Backend

        backend = S3Backend(loc, pool=pool, conditional_writes=s3_conditional_writes)
    else:
        from engine.transfer.backends.gcs import GCSBackend

        backend = GCSBackend(loc, pool=pool, component_prefix=component_prefix,
                             large_uploads=gcs_large_uploads)
    backend.list_jobs = lj  # type: ignore[attr-defined]
    return backend


__all__ = ["Backend", "ObjectInfo", "PartUpload", "open_backend"]
