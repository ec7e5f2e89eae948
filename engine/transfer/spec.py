"""One ``[[transfer]]`` entry: what to copy where, with rsync-style options.

The same model backs ``gpumigrate transfer`` flags and profile entries, so a
command line and a profile entry mean exactly the same thing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from engine.model_base import Section
from engine.transfer.sts_options import StsOptions

MAX_BWLIMIT = float(1 << 40)
"""1 TiB a second: far above any network link."""

JOBS = 8
"""Large objects and parts in flight when ``-j`` is not given."""
SMALL_JOBS = 32
"""Small objects (up to 256 KiB: ``engine.transfer.execute.BATCH_OBJECT_MAX``) in flight,
besides ``JOBS``, when ``-j`` is not given.

A small object's copy carries a few KB and costs round trips (an S3 GET, often on a fresh
connection, and a GCS POST): three round trips of 20-60 ms on a real network, so its rate is
concurrency / latency, not bandwidth. With ``JOBS`` workers shared with large objects, a tree
of many small files and a few large ones left the small files a handful of workers while the
large ones copied (600 small + 2 x 200 MiB at 10 ms each way: the small files finished last,
seconds after the large ones). 32 in flight at 30 ms round trips is ~350 objects a second, far
under the stores' published request rates (S3: 5,500 GET and 3,500 PUT a second per prefix;
GCS: ~1,000 object writes a second per bucket before it scales up), holding at most
32 x 256 KiB in memory. An explicit ``-j N`` means N objects and parts in flight, small or large."""


class TransferSpec(Section):
    """A copy from ``src`` to ``dst`` with rsync semantics (like ``gcloud storage rsync``)."""

    src: str = Field(min_length=1, max_length=4096, pattern=r"^[^\x00-\x1f\x7f]+$")
    """Source URL: a local path, file://..., s3://bucket/prefix or gs://bucket/prefix."""
    dst: str = Field(min_length=1, max_length=4096, pattern=r"^[^\x00-\x1f\x7f]+$")
    """Destination URL: gs://bucket/prefix, a local path, or s3://bucket/prefix (the way back)."""
    recursive: bool = True
    """Copy whole trees (-r)."""
    delete: bool = False
    """Delete destination objects the source does not have (-d). Guarded by ``max_delete``."""
    exclude: list[str] = Field(default_factory=list)
    """Regular expressions on the relative path; matching objects are skipped (-x)."""
    checksum: bool = False
    """Compare by checksum instead of size and modification time (-c)."""
    max_delete: int | None = Field(default=None, ge=0, le=10**12)
    """Refuse -d when more than this many deletions are planned (default: 10% of the destination or 1,000, whichever is smaller)."""
    allow_empty_source: bool = False
    """Let -d run even when the source lists empty (normally refused: it would delete everything)."""
    follow_symlinks: bool = True
    """Follow symbolic links to files and folders in a local source (loops are detected and
    reported); False skips every link, each reported (--no-follow-symlinks)."""
    skip_broken_symlinks: bool = False
    """Report a broken link as a notice instead of a failure (its destination object is kept)."""
    jobs: int | None = Field(default=None, ge=1, le=256)
    """Objects (and parts) in flight at once (-j). Unset: 8 large objects or parts, and up to 32
    small objects (up to 256 KiB) besides, which are latency-bound (see :data:`SMALL_JOBS`)."""
    bwlimit: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?[KMGkmg]?$")
    """Bandwidth limit in bytes per second, with an optional K/M/G suffix (e.g. "50M")."""
    part_threshold_mib: int = Field(default=150, ge=5, le=5 * 1024 * 1024)
    """Files at least this large are copied in parallel parts (composite upload / multipart)."""
    part_size_mib: int | None = Field(default=None, ge=1, le=5 * 1024)
    """Size of each part of a large file (raised to the store's minimum, e.g. 5 MiB for S3).
    Unset: chosen per object, between 16 and 64 MiB: its size divided by ``jobs`` when it is the
    only large file left to send (one part per slot), larger beside others, which share the slots
    (two 200 MiB files at ``jobs`` 8: 4 parts of 50 MiB each). Fewer requests and GCS components
    than fixed small parts, the same parallelism."""
    gcs_component_prefix: str | None = Field(default=None, max_length=1024, pattern=r"^[^\x00-\x1f\x7f]*/$")
    """Where a GCS composite upload puts its temporary components, as a prefix in the destination
    bucket ending in "/" (default: the hidden folder ``.gpumigrate-tmp/`` inside the destination
    prefix, so permissions scoped to that prefix cover them). They are deleted after compose."""
    gcs_large_uploads: Literal["auto", "xml-multipart", "compose", "single"] = "auto"
    """How a gs:// destination takes objects at or above ``part_threshold_mib``. "xml-multipart":
    parallel parts joined by GCS, no component objects (GCS takes no precondition on it: the
    destination is checked just before completing, and a write landing between that check and
    the completion is overwritten). "compose": parallel component objects,
    composed, then deleted (one upload each instead where the bucket's storage class, retention,
    holds or soft delete would bill or keep the components). "single": one resumable upload each,
    guarded by a generation precondition. "auto": xml-multipart on Google Cloud Storage, compose
    on an emulator (STORAGE_EMULATOR_HOST set: fake-gcs-server has no XML multipart uploads)."""
    s3_conditional_writes: Literal["auto", "on", "off"] = "auto"
    """Whether writes and deletes on an s3:// destination carry what planning saw (If-None-Match: *
    on create, If-Match: ETag on overwrite and delete), so a newer object is never overwritten.
    "auto": on, until the endpoint refuses the headers (some S3-compatible stores answer 501
    NotImplemented, or 400 to If-None-Match); that request is then sent again without them, the
    rest of the run is unguarded, and the run says so once and in its summary. "on": a refusal
    fails the write. "off": never sent (overwrites are unguarded)."""
    engine: Literal["local", "sts", "auto"] = "local"
    """Which engine copies: this machine, Google's Storage Transfer Service, or chosen by size."""
    sts: StsOptions | None = None
    """Storage Transfer Service settings (role ARN or Secret Manager secret, agent pool, schedule)."""

    def worker_counts(self) -> tuple[int, int]:
        """(large objects and parts, small objects) in flight: ``jobs`` for both when it is set,
        else :data:`JOBS` and :data:`SMALL_JOBS`."""
        return (self.jobs, self.jobs) if self.jobs is not None else (JOBS, SMALL_JOBS)

    @field_validator("bwlimit")
    @classmethod
    def _rate_bounded(cls, value: str | None) -> str | None:
        """The pattern admits any digit string; "1e400" of bytes a second is a typo, and a rate of a few
        bytes a second would stall the copy for ever (0 means no limit, as rsync)."""
        from engine.transfer.streams import parse_rate

        rate = parse_rate(value)
        if rate is not None and rate != 0 and not 1024 <= rate <= MAX_BWLIMIT:
            raise ValueError(f"{value!r} must be 0 (no limit) or from 1K to 1024G bytes a second")
        return value

    @field_validator("exclude")
    @classmethod
    def _regexes_compile(cls, patterns: list[str]) -> list[str]:
        """A bad -x pattern is a load-time error with the profile's line, not a mid-run surprise.  So is one
        Python reads otherwise than it looks (its FutureWarning: "[[:alpha:]]" is no POSIX class but a set of
        "[", ":", ...; "&&", "--", "~~", "||" in a set are set operations in a later Python): it printed the
        warning with this file's path and loaded."""
        import re
        import warnings

        for pattern in patterns:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", FutureWarning)
                    re.compile(pattern)
            except FutureWarning as exc:
                raise ValueError(f"{pattern!r} reads otherwise than it looks ({exc}; '[[:alpha:]]' is not a POSIX "
                                 "class here): escape a literal '[' or '&', '-', '~', '|' inside a set with a "
                                 "backslash") from None
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        return patterns
