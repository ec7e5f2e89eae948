"""GCS through google-cloud-storage: byte-ordered listings, reads pinned by generation,
uploads with ``if_generation_match`` preconditions, large objects as parallel component
uploads joined with ``compose`` (at most 32 per call, in rounds), components removed after.

Credentials: Application Default Credentials; with ``STORAGE_EMULATOR_HOST`` set (an
emulator such as fake-gcs-server) anonymous credentials are used instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from typing import Any, BinaryIO, Iterator

from engine.errors import BadInputError, EnvironmentProblem
from engine.transfer.backends.base import (TMP_MARK, Backend, ObjectInfo, PartUpload, PreconditionLost, SourceChanged,
                                           with_folders)
from engine.transfer.backends.gcs_xml import XMLUploads
from engine.transfer.lister import ParallelListing, common_prefix
from engine.transfer.checksums import b64_to_hex, combine_parts, crc_to_hex
from engine.transfer.retry import ChecksumMismatch

MTIME_KEY = "goog-reserved-file-mtime"  # what gsutil/gcloud store, so their rsync agrees with ours
COMPOSE_MAX = 32
STREAM_CHUNK = 8 << 20
"""Read size of a streamed download."""
UPLOAD_CHUNK = 16 << 20
"""Chunk of a resumable (streamed) upload: one request each. 16 MiB is what rclone sends; 8 MiB
took ~40% longer on a 64 MiB object (twice the round trips), 32 MiB was no faster (a chunk is read
whole before it is sent, so bigger chunks overlap less) and holds more memory per stream."""


def make_client(pool: int = 20) -> Any:
    """A storage client on a pooled session of our own (see :func:`client_and_session`)."""
    return client_and_session(pool)[0]


def client_and_session(pool: int = 20) -> tuple[Any, Any]:
    """A storage client on a requests session of our own, built with a connection pool as large
    as the transfer's parallelism (the library's own session keeps requests' default of 10
    connections per host; ``-j 32`` would queue on them). The session is handed to the client
    through its constructor's ``_http`` argument, so nothing inside the client is replaced."""
    import google.auth.transport.requests
    import requests.adapters
    from google.cloud import storage

    project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("CLOUDSDK_CORE_PROJECT")
    emulator = bool(os.environ.get("STORAGE_EMULATOR_HOST"))
    if emulator:
        from google.auth.credentials import AnonymousCredentials

        credentials: Any = AnonymousCredentials()
        project = project or "test-project"
    else:
        import google.auth
        import google.auth.exceptions

        try:
            credentials, found = google.auth.default(scopes=storage.Client.SCOPE)
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise EnvironmentProblem(
                "no Google credentials found: run `gcloud auth application-default login` or set "
                "GOOGLE_APPLICATION_CREDENTIALS (or STORAGE_EMULATOR_HOST for an emulator)") from exc
        project = project or found
    session = google.auth.transport.requests.AuthorizedSession(credentials)
    if not emulator:
        session.configure_mtls_channel()  # what the client does with a session it builds itself
    if not getattr(session, "is_mtls", False):  # an mTLS channel keeps its own adapter
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    # requests re-reads the environment on every request (proxies and no_proxy, CA bundle
    # variables, ~/.netrc): ~17% of the client's CPU per small upload
    _stop_reading_environment(session)
    return storage.Client(project=project, credentials=credentials, _http=session), session


def _stop_reading_environment(http: Any) -> None:
    """Read once what requests would read from the environment on every request, when that is
    only a CA bundle (REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE): pin it on the session and stop the
    per-request reads. Proxy variables or a netrc file leave the session as it is."""
    import urllib.request

    if urllib.request.getproxies_environment():
        return
    netrc = os.environ.get("NETRC")
    for name in ([netrc] if netrc else ["~/.netrc", "~/_netrc"]):
        if os.path.exists(os.path.expanduser(name)):
            return
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and http.verify is True:
        http.verify = bundle  # what merge_environment_settings would pick for every request
    http.trust_env = False


def _translate(exc: Exception, what: str) -> Exception:
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.NotFound):
        return BadInputError(f"{what}: bucket does not exist")
    if isinstance(exc, (gexc.Forbidden, gexc.Unauthorized)):
        return EnvironmentProblem(f"{what}: access denied by GCS; check the Google credentials in use")
    return exc


@contextlib.contextmanager
def _generation_gone(info: ObjectInfo) -> Iterator[None]:
    """A read pinned to a generation that no longer exists: the source changed (or went)."""
    from google.api_core import exceptions as gexc

    try:
        yield
    except gexc.NotFound as exc:
        raise SourceChanged(f"{info.path}: generation {info.version} no longer exists") from exc


def _retry(conditional: bool = True) -> Any:
    """google-cloud-storage's own retry, the one layer that retries GCS requests (see
    :mod:`engine.transfer.retry`): ``DEFAULT_RETRY`` where the call is idempotent as made
    (reads; writes to this engine's own temporary names), and the library's conditional policy
    elsewhere: writes and deletes are retried only when they carry a generation precondition."""
    from google.cloud.storage.retry import DEFAULT_RETRY, DEFAULT_RETRY_IF_GENERATION_SPECIFIED

    return DEFAULT_RETRY_IF_GENERATION_SPECIFIED if conditional else DEFAULT_RETRY


MIN_STORAGE_DAYS = {"NEARLINE": 30, "COLDLINE": 90, "ARCHIVE": 365}
"""Minimum storage durations: deleting a component earlier is billed as if it had stayed."""


def compose_refusal(storage_class: str | None, retention_s: int | None, event_hold: bool | None,
                    soft_delete_s: int | None) -> str:
    """Why composing in a bucket with these settings would cost or leave debris ("" if it would not).

    Components are written, composed, then deleted: a minimum storage duration bills every
    component for it (early-deletion fee); a retention policy or a default event-based hold
    makes them undeletable until it lapses; soft delete keeps every deleted component (billed)
    for its retention. The fall-back is one resumable upload of the object, with no components."""
    if retention_s:
        return (f"the bucket has a retention policy of {retention_s} s: components could not be deleted "
                "after compose")
    if event_hold:
        return "the bucket puts a default event-based hold on new objects: components could not be deleted"
    days = MIN_STORAGE_DAYS.get((storage_class or "").upper())
    if days:
        return (f"the bucket's storage class is {storage_class} (minimum storage {days} days): every deleted "
                "component would be billed an early-deletion fee")
    if soft_delete_s:
        return (f"the bucket keeps deleted objects for {soft_delete_s / 86400:g} days (soft delete): every "
                "component would stay billed that long after compose")
    return ""


class _PinnedReader:
    """A generation-pinned stream: the reader fetches lazily, so a replaced generation shows up
    on a read, where it becomes :class:`SourceChanged` too.

    A generation's size never changes, and the listing gave it: once that many bytes are read
    the stream ends here. The library's reader, built without the object's size, would ask GCS
    for a range past the end (one more round trip per streamed object). Bytes beyond the listed
    size, were there any, would change the checksum the caller compares."""

    def __init__(self, raw: Any, info: ObjectInfo):
        self.raw, self.info = raw, info
        self.left = info.size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        with _generation_gone(self.info):
            data: bytes = self.raw.read(self.left if n is None or n < 0 else min(n, self.left))
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.raw.close()


LARGE_UPLOAD_WAYS = ("auto", "xml-multipart", "compose", "single")


class GCSBackend(ParallelListing, Backend):
    scheme = "gs"
    max_parts = 32 * 32 * 32

    def __init__(self, loc, pool: int = 20, component_prefix: str | None = None, large_uploads: str = "auto"):
        super().__init__(loc)
        self.client, session = client_and_session(pool)
        self.bucket = self.client.bucket(loc.bucket)
        self.large_uploads = large_uploads
        """auto | xml-multipart | compose | single: see ``TransferSpec.gcs_large_uploads``."""
        emulator = bool(os.environ.get("STORAGE_EMULATOR_HOST"))
        self._xml_requests = XMLUploads(session, self.client.api_endpoint, loc.bucket)
        self.xml: XMLUploads | None = None
        """The XML multipart requests, where large objects go that way."""
        if large_uploads == "xml-multipart" or (large_uploads == "auto" and not emulator):
            self.xml = self._xml_requests
            self.min_part_size, self.max_parts = 5 << 20, 10_000  # the XML API's limits
        self._why_path = ("" if large_uploads != "auto" else
                          " (auto: STORAGE_EMULATOR_HOST is set, and emulators have no XML multipart uploads)"
                          if emulator else " (auto: the destination is Google Cloud Storage)")
        self.components = component_prefix if component_prefix is not None else loc.prefix + TMP_MARK + "/"
        """Where composite uploads put their components (bucket-relative; by default a hidden
        folder inside the destination prefix, so prefix-scoped permissions cover them)."""
        if self.components and not self.components.endswith("/"):
            self.components += "/"
        self._refusal: str | None = None
        self._refusal_lock = threading.Lock()

    @property
    def xml_requests(self) -> XMLUploads:
        """The XML multipart requests whichever way this run uploads (``--cleanup`` lists and
        aborts unfinished uploads with them)."""
        return self._xml_requests

    def _hidden(self, name: str) -> bool:
        return name.startswith(self.components)

    def parts_refused(self) -> str:
        """Why large objects go as one resumable upload each: asked to (``single``), or, for a
        composite upload, the bucket's settings. Those (storage class, retention policy, default
        event-based hold, soft-delete policy; see :func:`compose_refusal`) are read once, before
        the first compose. An XML multipart upload writes no component objects: nothing to check."""
        if self.large_uploads == "single":
            return 'gcs_large_uploads = "single" (the one way GCS guards such a write with a generation precondition)'
        if self.xml is not None:
            return ""
        with self._refusal_lock:
            if self._refusal is None:
                from google.api_core import exceptions as gexc

                try:
                    self.bucket.reload(retry=_retry(False))
                except gexc.GoogleAPICallError as exc:
                    self._refusal = (f"the bucket's storage class and retention settings cannot be read "
                                     f"({exc.code}): composing might leave components behind")
                else:
                    soft = self.bucket.soft_delete_policy
                    self._refusal = compose_refusal(
                        self.bucket.storage_class, self.bucket.retention_period,
                        self.bucket.default_event_based_hold,
                        soft.retention_duration_seconds if soft is not None else None)
            return self._refusal

    def parts_path(self) -> str:
        if self.xml is not None:
            return ("XML multipart upload: parts sent in parallel and joined by GCS, no component objects (soft "
                    "delete and retention policies leave nothing behind); GCS takes no precondition on it, so the "
                    "destination is checked just before completing, and a write landing between that check and "
                    "the completion is overwritten (gcs_large_uploads = \"single\" guards it)" + self._why_path)
        return (f"composite upload: parallel components under gs://{self.loc.bucket}/{self.components}, "
                "composed, then deleted" + self._why_path)

    def key(self, path: str) -> str:
        return self.loc.prefix + path

    def _info(self, blob: Any, path: str) -> ObjectInfo:
        meta = blob.metadata or {}
        mtime = None
        if MTIME_KEY in meta:
            try:
                mtime = float(meta[MTIME_KEY])
            except ValueError:
                mtime = None
        return ObjectInfo(
            path=path, size=int(blob.size or 0),
            mtime=mtime if mtime is not None else (blob.updated.timestamp() if blob.updated else 0.0),
            mtime_preserved=mtime is not None,
            crc32c=b64_to_hex(blob.crc32c) if blob.crc32c else None,
            md5=b64_to_hex(blob.md5_hash) if blob.md5_hash else None,
            version=str(blob.generation or ""),
            extra={"components": blob.component_count} if blob.component_count else {},
        )

    def _list_plain(self, recursive: bool, start_after: str | None, end_before: str | None) -> Iterator[ObjectInfo]:
        # every key of (start_after, end_before) starts with their common prefix: ask only for that
        narrow = common_prefix(start_after, end_before) if start_after is not None and end_before is not None else ""
        kwargs: dict[str, Any] = {"prefix": self.loc.prefix + narrow, "page_size": 1000}
        if not recursive:
            kwargs["delimiter"] = "/"
        if start_after:
            kwargs["start_offset"] = self.key(start_after) + "\x00"
        if end_before:
            kwargs["end_offset"] = self.key(end_before)
        n = len(self.loc.prefix)
        try:
            for page in self.client.list_blobs(self.loc.bucket, **kwargs).pages:
                objects = (self._info(b, b.name[n:]) for b in page if b.name[n:] and not self._hidden(b.name))
                folders = [p[n:] for p in page.prefixes if not self._hidden(p)]  # without -r: said, not dropped
                yield from with_folders(objects, folders)
        except Exception as exc:  # noqa: BLE001 - translated for the user
            raise _translate(exc, f"gs://{self.loc.bucket}") from exc

    # --- what the parallel lister needs (engine.transfer.lister.RangeSource) -------------
    def list_range(self, start_after: str | None, end_before: str | None) -> Iterator[ObjectInfo]:
        return self._list_plain(True, start_after, end_before)

    def _pages(self, **kwargs: Any) -> Iterator[tuple[Any, bool]]:
        try:
            it = self.client.list_blobs(self.loc.bucket, **kwargs)
            for page in it.pages:
                yield page, it.next_page_token is not None
        except Exception as exc:  # noqa: BLE001 - translated for the user
            raise _translate(exc, f"gs://{self.loc.bucket}") from exc

    def list_head(self, n: int) -> tuple[list[ObjectInfo], bool]:
        k = len(self.loc.prefix)
        for page, more in self._pages(prefix=self.loc.prefix, page_size=n):
            items = [self._info(b, b.name[k:]) for b in page if b.name[k:] and not self._hidden(b.name)]
            return items, more
        return [], False

    def list_dirs(self, prefix: str, start_after: str | None = None) -> Iterator[tuple[list[tuple[str, bool]], bool]]:
        k = len(self.loc.prefix)
        kwargs: dict[str, Any] = {"prefix": self.key(prefix), "delimiter": "/", "page_size": 1000}
        if start_after:
            kwargs["start_offset"] = self.key(start_after) + "\x00"
        for page, more in self._pages(**kwargs):
            keys = [(b.name[k:], False) for b in page if not self._hidden(b.name)]
            dirs = [(p[k:], True) for p in page.prefixes if not self._hidden(p)]
            yield sorted(keys + dirs), more

    def first_key_after(self, after: str, prefix: str) -> str | None:
        for page, _more in self._pages(prefix=self.key(prefix), start_offset=self.key(after) + "\x00",
                                       max_results=1):
            for blob in page:
                return blob.name[len(self.loc.prefix):]  # type: ignore[no-any-return]
        return None

    def stat(self, path: str) -> ObjectInfo | None:
        blob = self.bucket.get_blob(self.key(path))
        return self._info(blob, path) if blob is not None else None

    def _pinned(self, info: ObjectInfo) -> Any:
        gen = int(info.version) if info.version else None
        return self.bucket.blob(self.key(info.path), generation=gen)

    def open_read(self, info: ObjectInfo) -> BinaryIO:
        with _generation_gone(info):
            raw = self._pinned(info).open("rb", chunk_size=STREAM_CHUNK, retry=_retry(False))
        return _PinnedReader(raw, info)  # type: ignore[return-value]

    def read_range(self, info: ObjectInfo, start: int, length: int) -> bytes:
        if length == 0:
            return b""
        with _generation_gone(info):
            return self._pinned(info).download_as_bytes(start=start, end=start + length - 1,  # type: ignore[no-any-return]
                                                        checksum=None, retry=_retry(False))

    # --- writing ------------------------------------------------------------
    def _blob(self, path: str, src: ObjectInfo) -> Any:
        blob = self.bucket.blob(self.key(path), chunk_size=UPLOAD_CHUNK)
        blob.metadata = {MTIME_KEY: str(int(src.mtime))}
        return blob

    @staticmethod
    def _gen(expect_version: str | None) -> int | None:
        if expect_version is None:
            return None
        return int(expect_version) if expect_version else 0

    def _after_precondition(self, path: str, size: int, crc_hex: str) -> ObjectInfo:
        """A 412: was it our own earlier attempt that succeeded (same bytes), or someone else?"""
        now = self.stat(path)
        if now is not None and now.size == size and now.crc32c == crc_hex:
            return now
        raise PreconditionLost(f"{path}: the destination changed since planning (a newer generation "
                               "exists); not overwritten — re-run to re-plan")

    def put(self, path: str, data: bytes, src: ObjectInfo, expect_version: str | None, crc: int) -> ObjectInfo:
        from google.api_core import exceptions as gexc

        blob = self._blob(path, src)
        try:
            blob.upload_from_string(data, if_generation_match=self._gen(expect_version), checksum="crc32c",
                                    retry=_retry())
        except gexc.PreconditionFailed:
            return self._after_precondition(path, len(data), crc_to_hex(crc))
        return self._info(blob, path)

    def put_stream(self, path: str, reader: BinaryIO, src: ObjectInfo, expect_version: str | None) -> ObjectInfo:
        from google.api_core import exceptions as gexc

        blob = self._blob(path, src)
        try:
            blob.upload_from_file(reader, size=src.size, if_generation_match=self._gen(expect_version),
                                  checksum=None, retry=_retry())
        except gexc.PreconditionFailed:
            crc = getattr(getattr(reader, "hasher", None), "crc", None)
            return self._after_precondition(path, src.size, crc_to_hex(crc) if crc is not None else "")
        return self._info(blob, path)

    def _component_prefix(self, path: str, src: ObjectInfo) -> str:
        digest = hashlib.sha1(f"{self.key(path)}|{src.fingerprint()}".encode()).hexdigest()[:20]
        return f"{self.components}{digest}/"

    def begin_parts(self, path: str, src: ObjectInfo, part_size: int, expect_version: str | None,
                    token: str | None = None) -> PartUpload:
        if token is None:
            token = (self.xml.initiate(self.key(path), {MTIME_KEY: str(int(src.mtime))}) if self.xml is not None
                     else self._component_prefix(path, src))
        return PartUpload(path=path, token=token, size=src.size, part_size=part_size, src=src,
                          expect_version=expect_version)

    @staticmethod
    def _composite(up: PartUpload) -> bool:
        """A composite upload's token is its components' prefix; an XML upload's is GCS's id."""
        return up.token.endswith("/")

    def part_upload_alive(self, up: PartUpload) -> bool:
        if self._composite(up) != (self.xml is None):  # journalled by a run that took the other way
            self.abort_parts(up)
            return False
        if self.xml is not None:
            return self.xml.alive(self.key(up.path), up.token)
        return True  # components are plain objects: missing_parts checks the journalled ones

    def missing_parts(self, up: PartUpload, done: dict[int, tuple[int, str]]) -> set[int]:
        """Components deleted or replaced since they were journalled (a lifecycle rule, a
        clean-up): one listing of the upload's prefix, compared by name and generation."""
        if not self._composite(up):
            return set()  # an XML upload's parts live as long as the upload (alive() checked it)
        present = {blob.name: str(blob.generation) for blob in self.client.list_blobs(self.loc.bucket, prefix=up.token)}
        return {n for n, (_crc, gen) in done.items()
                if present.get(f"{up.token}{n:05d}") is None or (gen and present[f"{up.token}{n:05d}"] != gen)}

    def put_part(self, up: PartUpload, n: int, data: bytes, crc: int) -> str:
        if not self._composite(up):
            assert self.xml is not None
            return self.xml.put_part(self.key(up.path), up.token, n + 1, data, crc)
        blob = self.bucket.blob(f"{up.token}{n:05d}")
        # a temporary name of this upload's own: sending the same bytes again is idempotent
        blob.upload_from_string(data, checksum="crc32c", retry=_retry(False))
        if blob.crc32c and b64_to_hex(blob.crc32c) != crc_to_hex(crc):
            raise ChecksumMismatch(f"{up.path} part {n}: GCS reports CRC32C {b64_to_hex(blob.crc32c)}, sent {crc_to_hex(crc)}")
        return str(blob.generation)

    def _finish_xml(self, up: PartUpload, parts: dict[int, tuple[int, str]]) -> ObjectInfo:
        """Check the destination is still what planning saw, then complete. GCS takes no
        precondition on a completion, so this check is as close to it as the API allows."""
        from google.api_core import exceptions as gexc

        assert self.xml is not None
        expected = crc_to_hex(combine_parts((parts[n][0], up.span(n)[1]) for n in range(up.count)))
        if up.expect_version is not None:
            now = self.stat(up.path)
            if (now.version if now is not None else "") != up.expect_version:
                info = self._after_precondition(up.path, up.size, expected)  # raises unless ours is there
                self.xml.abort(self.key(up.path), up.token)  # the same bytes are there already: no parts left
                return info
        try:
            self.xml.complete(self.key(up.path), up.token, [parts[n][1] for n in range(up.count)])
        except gexc.NotFound:  # completed already (its answer lost, then retried)? only if ours is there
            return self._after_precondition(up.path, up.size, expected)
        info = self.stat(up.path)
        if info is None:
            raise PreconditionLost(f"{up.path}: gone right after its upload completed (deleted by someone else)")
        # GCS gives the result a CRC32C (no MD5); should one ever lack it, the object is kept but
        # not called verified (the caller compares only what the store reports)
        if (info.crc32c is not None and info.crc32c != expected) or info.size != up.size:
            raise ChecksumMismatch(f"{up.path}: completed object reports CRC32C {info.crc32c} ({info.size} bytes), "
                                   f"parts sent give {expected} ({up.size} bytes)")
        return info

    def finish_parts(self, up: PartUpload, parts: dict[int, tuple[int, str]]) -> ObjectInfo:
        from google.api_core import exceptions as gexc

        if not self._composite(up):
            return self._finish_xml(up, parts)
        names = [f"{up.token}{n:05d}" for n in range(up.count)]
        gens = [int(parts[n][1]) if parts[n][1] else None for n in range(up.count)]
        expected = combine_parts((parts[n][0], up.span(n)[1]) for n in range(up.count))
        level = 0
        while len(names) > COMPOSE_MAX:  # rounds: join groups of 32 into intermediates
            next_names, next_gens = [], []
            for i in range(0, len(names), COMPOSE_MAX):
                target = self.bucket.blob(f"{up.token}r{level}-{i // COMPOSE_MAX:05d}")
                group = [self.bucket.blob(x) for x in names[i:i + COMPOSE_MAX]]
                group_gens = gens[i:i + COMPOSE_MAX]
                target.compose(group, if_source_generation_match=group_gens if all(group_gens) else None,
                               retry=_retry(False))  # into a temporary name of this upload's own
                next_names.append(target.name)
                next_gens.append(target.generation)
            names, gens, level = next_names, next_gens, level + 1
        final = self._blob(up.path, up.src)
        try:
            final.compose([self.bucket.blob(x) for x in names],
                          if_source_generation_match=gens if all(gens) else None,
                          if_generation_match=self._gen(up.expect_version), retry=_retry())
            info = self._info(final, up.path)
        except gexc.PreconditionFailed:
            info = self._after_precondition(up.path, up.size, crc_to_hex(expected))
        if info.crc32c != crc_to_hex(expected) or info.size != up.size:
            raise ChecksumMismatch(f"{up.path}: composed object reports CRC32C {info.crc32c} ({info.size} bytes), "
                                   f"parts sent give {crc_to_hex(expected)} ({up.size} bytes)")
        self._cleanup(up.token)
        return info

    def _cleanup(self, token: str) -> None:
        """Remove every component and intermediate of an upload (all live under its token
        prefix); raises if any is left, so the journal keeps the upload for the next run."""
        from google.api_core import exceptions as gexc

        if not token.endswith("/") or token == self.components or not (
                token.startswith(self.components) or TMP_MARK + "/" in token):
            raise ValueError(f"{token!r} is not an upload of this engine under {self.components!r}")
        blobs = list(self.client.list_blobs(self.loc.bucket, prefix=token, retry=_retry(False)))

        def delete(blob: Any) -> None:
            try:
                blob.delete(if_generation_match=blob.generation, retry=_retry())
            except gexc.NotFound:
                pass

        if len(blobs) <= 1:
            for blob in blobs:
                delete(blob)
            return
        # one round trip each: in parallel, or a 200 MiB object's 13 components cost 13 round
        # trips after its compose (0.8 s at 30 ms each way)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(16, len(blobs)), thread_name_prefix="gcs-cleanup") as pool:
            for fut in [pool.submit(delete, blob) for blob in blobs]:
                fut.result()  # the first failure is raised: the journal keeps the upload

    def abort_parts(self, up: PartUpload) -> None:
        if self._composite(up):
            self._cleanup(up.token)
        elif self.xml is not None:
            self.xml.abort(self.key(up.path), up.token)
        else:  # an XML upload journalled by an earlier run, this run composing
            self._xml_requests.abort(self.key(up.path), up.token)

    def delete(self, path: str, version: str | None = None) -> None:
        self.bucket.blob(self.key(path)).delete(if_generation_match=int(version) if version else None, retry=_retry())
