"""Transfer addresses: a local path or ``file://``, ``s3://bucket/prefix``, ``gs://bucket/prefix``.

A prefix names a "directory": ``gs://b/data`` and ``gs://b/data/`` both mean the
objects under ``data/``; relative paths (what the diff compares and ``-x``
matches) are the keys with that prefix removed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from engine.errors import BadInputError

SCHEMES = ("file", "s3", "gs")


@dataclass(frozen=True)
class Location:
    """Where objects live: ``scheme`` file|s3|gs, ``bucket`` (cloud) or ``path`` (file), ``prefix``."""

    scheme: str
    bucket: str = ""
    prefix: str = ""
    """Cloud key prefix, "" or ending in "/"."""
    path: str = ""
    """Absolute local directory (file scheme)."""

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    def url(self) -> str:
        if self.is_local:
            return self.path
        return f"{self.scheme}://{self.bucket}/{self.prefix}"

    def __str__(self) -> str:
        return self.url()


def parse_url(url: str, base_dir: Path | None = None) -> Location:
    """Parse a transfer address; relative local paths resolve against ``base_dir`` (or the cwd)."""
    if not url or "\x00" in url:
        raise BadInputError(f"not a transfer address: {url!r}")
    if "://" not in url:
        path = Path(os.path.expanduser(url))
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        return Location("file", path=str(path.resolve()))
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme not in SCHEMES:
        raise BadInputError(f"unsupported address {url!r}: use a local path, file://, s3:// or gs://")
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise BadInputError(f"file:// address with a host is not supported: {url!r}")
        return parse_url(unquote(parsed.path) or "/", base_dir)
    bucket = parsed.netloc
    if not bucket:
        raise BadInputError(f"{url!r} names no bucket (expected {scheme}://BUCKET/PREFIX)")
    prefix = url.split("://", 1)[1][len(bucket):].lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return Location(scheme, bucket=bucket, prefix=prefix)
