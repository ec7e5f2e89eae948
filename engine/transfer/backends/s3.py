"""S3 through boto3: paginated byte-ordered listings, ranged reads pinned by ETag, multipart
writes with per-part CRC32C (the composite checksum S3 reports is checked on completion).

Endpoints and credentials come from boto3's standard chain (``AWS_ENDPOINT_URL``, profiles,
env vars, instance roles), so the same code talks to AWS and to moto.
"""

from __future__ import annotations

import datetime
import email.utils
import io
import os
import re
import sys
import threading
from typing import Any, BinaryIO, Callable, Iterator

from engine.errors import BadInputError, EnvironmentProblem
from engine.transfer.backends.base import (ETAG_UNCONFIRMED, Backend, ObjectInfo, PartUpload, PreconditionLost,
                                           SourceChanged, with_folders)
from engine.transfer.lister import ParallelListing, common_prefix
from engine.transfer.checksums import b64_to_hex, combine_parts, crc_to_b64, crc_to_hex, s3_composite_crc32c
from engine.transfer.retry import ChecksumMismatch, TransientError

MTIME_KEY = "mtime"
"""User metadata (x-amz-meta-mtime) rclone stores the source mtime in: seconds, decimal."""
GSUTIL_MTIME_KEY = "goog-reserved-file-mtime"
"""The key gsutil stores it in on S3 too (whole seconds); written and read as well."""

_NOT_MD5_SSE = ("aws:kms", "aws:kms:dsse")


def etag_is_md5(resp: dict[str, Any]) -> bool:
    """Whether a HEAD, GET or PUT answer's single-part ETag is its bytes' MD5 (not SSE-KMS, DSSE-KMS, SSE-C)."""
    return resp.get("ServerSideEncryption") not in _NOT_MD5_SSE and not resp.get("SSECustomerAlgorithm")


def mtime_metadata(src: ObjectInfo) -> dict[str, str]:
    """The source mtime as rclone and gsutil store it on S3 (exact from a local file's ns)."""
    if src.mtime_ns is not None:
        sec, ns = divmod(src.mtime_ns, 1_000_000_000)
        exact = f"{sec}.{ns:09d}" if sec >= 0 or ns == 0 else f"{src.mtime_ns / 1e9:.9f}"
    else:
        exact = f"{src.mtime:.9f}"
    return {MTIME_KEY: exact, GSUTIL_MTIME_KEY: str(int(src.mtime))}


def parse_mtime_metadata(meta: dict[str, str]) -> float | None:
    """The stored source mtime (seconds) from S3 user metadata, or None."""
    for key in (MTIME_KEY, GSUTIL_MTIME_KEY):
        if key in meta:
            try:
                return float(meta[key])
            except ValueError:
                continue
    return None


def _parse_timestamp(value: Any) -> Any:
    """botocore's timestamp parser, with fast paths for what S3 sends.

    botocore parses every timestamp through dateutil: ~70 us for a ``Last-Modified`` header
    (RFC 1123, on every GET/HEAD) and ~47 us for a listing's ``LastModified`` (ISO 8601, on
    every listed key). The standard library parses both exactly in 0.1-4 us. Anything else,
    or a result without a time zone, goes to botocore's parser as before."""
    from botocore.utils import parse_timestamp

    if isinstance(value, str):
        try:
            if value.endswith(" GMT"):
                parsed = email.utils.parsedate_to_datetime(value)
            elif "T" in value:
                parsed = datetime.datetime.fromisoformat(value)
            else:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return parsed
        except (TypeError, ValueError, IndexError):
            pass
    return parse_timestamp(value)


_ROOT_TAG = re.compile(rb"<([A-Za-z_][A-Za-z0-9_.:-]*)")


def error_or_truncated(body: bytes) -> bool:
    """Whether a 200 response body is really an error: an ``<Error>`` document, or cut short.

    What botocore's ``_looks_like_special_case_error`` decides by parsing the whole body a
    second time before its parser parses it again: a third of the client's CPU on a listing
    (1,000 keys a page).  The root element's name and the body's last bytes say the same for
    anything S3 sends; a body malformed inside still fails in botocore's own parser."""
    if not body:
        return False
    start = 0
    while True:  # skip the XML declaration, comments and processing instructions
        start = body.find(b"<", start)
        if start < 0:
            return True
        if body[start + 1:start + 2] in (b"?", b"!"):
            start = body.find(b">", start) + 1
            if start <= 0:
                return True
            continue
        break
    m = _ROOT_TAG.match(body, start)
    if m is None:
        return True
    tag = m.group(1)
    if tag == b"Error":
        return True
    tail = body.rstrip()
    if tail.endswith(b"</" + tag + b">"):
        return False
    # whole only if the root element itself closes itself (<ListBucketResult/>): a body cut
    # right after an inner self-closing tag (<Prefix/>) also ends in "/>"
    return not (tail.endswith(b"/>") and body.find(b">", m.end()) == len(tail) - 1)


def _handle_200_error(operation_model: Any, response_dict: Any, **kwargs: Any) -> None:
    from botocore import handlers

    if not handlers._should_handle_200_error(operation_model, response_dict):
        return
    if response_dict["status_code"] == 200 and error_or_truncated(response_dict["body"]):
        response_dict["status_code"] = 500  # botocore's retry handler then retries it, as before


def _cheaper_200_error_check(client: Any) -> bool:
    """Swap botocore's S3 200-error check for :func:`error_or_truncated` on this client only;
    returns whether it did (botocore's own check stays where its private names have moved).

    Private botocore names: pyproject bounds botocore below the next minor version, and
    tests/services/test_s3_200_errors.py proves the swap is in effect and that a body cut
    short or an <Error> with a 200 is retried once, by botocore's retry handler alone."""
    from botocore import handlers

    original = getattr(handlers, "_handle_200_error", None)
    if original is None or not hasattr(handlers, "_should_handle_200_error"):
        return False
    client.meta.events.unregister("before-parse.s3.*", original)
    client.meta.events.register_first("before-parse.s3.*", _handle_200_error)
    return True


def _retries() -> dict[str, Any]:
    """botocore's retry settings: the one layer that retries S3 requests (see
    :mod:`engine.transfer.retry`). ``AWS_RETRY_MODE`` (standard or adaptive) and
    ``AWS_MAX_ATTEMPTS`` are honoured as botocore documents them; the default is ``standard``
    with 5 attempts in all (botocore's own default is 3; a transfer of many objects meets
    more throttling than one API call)."""
    mode = os.environ.get("AWS_RETRY_MODE", "standard")
    if mode not in ("standard", "adaptive"):
        mode = "standard"  # "legacy" retries fewer errors and not the 200-error case
    try:
        attempts = max(1, int(os.environ.get("AWS_MAX_ATTEMPTS", "5")))
    except ValueError:
        attempts = 5
    return {"mode": mode, "total_max_attempts": attempts}


def _import_botocore_without_crt() -> None:
    """Import botocore with ``awscrt`` hidden when CRT use is switched off (see :func:`_client`)."""
    if "botocore.compat" in sys.modules or "awscrt" in sys.modules:
        return
    if os.environ.get("BOTO_DISABLE_CRT", "").lower() != "true":
        return
    sys.modules["awscrt"] = None  # type: ignore[assignment]  # import awscrt... -> ImportError
    try:
        import botocore.compat  # noqa: F401
    finally:
        if sys.modules.get("awscrt", "") is None:
            del sys.modules["awscrt"]


def _s3_loader(data_path: str | None) -> Any:
    """botocore's data loader for a session that makes S3 clients only. Before loading a model,
    botocore's loader asks which services exist by listing every service folder of its data and
    each one's API versions (~900 directory listings and ~2,700 stats: ~20 ms, twice per client,
    on the 2-core VM). This one answers whether S3 is there and nothing else; everything it loads
    (search paths, ``AWS_DATA_PATH``, extras) is botocore's own, parsed once per botocore version
    (:mod:`engine.transfer.backends.botocore_models`)."""
    from botocore.loaders import Loader

    class S3Loader(Loader):  # type: ignore[misc]
        def list_available_services(self, type_name: str) -> list[str]:
            for path in self.search_paths:
                folder = os.path.join(path, "s3")
                if os.path.isdir(folder) and any(self.file_loader.exists(os.path.join(folder, version, type_name))
                                                 for version in os.listdir(folder)):
                    return ["s3"]
            return []

    from engine.transfer.backends.botocore_models import CachedModels

    if data_path is None:  # as botocore.loaders.create_loader reads AWS_DATA_PATH
        return S3Loader(file_loader=CachedModels())
    return S3Loader(extra_search_paths=[os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)],
                    file_loader=CachedModels())


def _client(pool: int) -> Any:
    """An S3 client from botocore's session (boto3 adds nothing the engine uses, and importing it
    pulls in s3transfer: a tenth of a second and more before the first byte).

    botocore also imports the AWS CRT wherever ``awscrt`` happens to be installed (~80 ms before
    the first byte on the 2-core VM). The engine uses none of it: it computes CRC32C itself
    (google-crc32c), signs with SigV4 and leaves checksums to be computed "when required", so
    ``BOTO_DISABLE_CRT`` is set unless the environment says otherwise. A plain install has no
    awscrt anyway (only the test extra pulls it in, for moto).

    The variable alone does not keep the import away: botocore.compat imports ``awscrt.auth``
    first and reads the variable after (~75 ms of the ~120 ms botocore takes to import here, and
    ~30 ms more in client creation). So while botocore is first imported with CRT use switched
    off, ``awscrt`` reads as not installed, which is what the switch makes of it anyway
    (``HAS_CRT`` false). A process that imported awscrt or botocore already is left as it is, and
    awscrt is importable again afterwards."""
    os.environ.setdefault("BOTO_DISABLE_CRT", "true")
    _import_botocore_without_crt()
    import botocore.session
    from botocore.config import Config

    s3cfg = {"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else {}
    cfg = Config(max_pool_connections=pool, retries=_retries(),
                 request_checksum_calculation="when_required", response_checksum_validation="when_required",
                 connect_timeout=10, read_timeout=60, s3=s3cfg)
    session = botocore.session.get_session()
    session.register_component("data_loader", _s3_loader(session.get_config_variable("data_path")))
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_parse_timestamp)
    client = session.create_client("s3", config=cfg)
    return client


def _status(exc: Exception) -> tuple[int | None, str]:
    """HTTP status and S3 error code of a botocore ClientError (None, "" for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None, ""
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode"), response.get("Error", {}).get("Code", "")


def _conditions(expect_version: str | None) -> dict[str, str]:
    """S3's conditional-write headers for what planning saw at the destination: nothing there
    ("") -> If-None-Match: *, an ETag -> If-Match, None -> unconditional (a caller that did not
    plan, e.g. a repair of its own write)."""
    if expect_version is None:
        return {}
    if expect_version == "":
        return {"IfNoneMatch": "*"}
    return {"IfMatch": f'"{expect_version}"'}


_HEADER_WORDS = ("if-match", "if-none-match", "conditional", "precondition header")


def refuses_conditions(exc: Exception) -> bool:
    """Whether an S3 error is the endpoint refusing the conditional headers themselves, not a
    condition that failed: 501 NotImplemented (S3-compatible stores without conditional writes),
    or a 400 whose answer names the header (stores that reject If-None-Match on a write). Any
    other 400 is not taken for a refusal: it would otherwise turn the guard off for nothing."""
    status, code = _status(exc)
    if status == 501 or code == "NotImplemented":
        return True
    if status != 400:
        return False
    error = getattr(exc, "response", {}).get("Error", {})
    text = " ".join(str(v) for v in error.values()).lower()
    return any(word in text for word in _HEADER_WORDS)


def _conflict(exc: Exception) -> bool:
    """A write's precondition failed (412), its If-Match object is gone (404), or another
    conditional write to the key was in progress (409 ConditionalRequestConflict)."""
    status, code = _status(exc)
    return status in (412, 404) or code == "ConditionalRequestConflict"


def _translate(exc: Exception, what: str) -> Exception:
    from botocore.exceptions import ClientError, NoCredentialsError, EndpointConnectionError

    if isinstance(exc, NoCredentialsError):
        return EnvironmentProblem("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                                  "AWS_SECRET_ACCESS_KEY (or run on an instance with a role)")
    if isinstance(exc, EndpointConnectionError):
        return EnvironmentProblem(f"cannot reach S3 at {exc.kwargs.get('endpoint_url')}: check AWS_ENDPOINT_URL / the network")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket",):
            return BadInputError(f"{what}: bucket does not exist")
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return EnvironmentProblem(f"{what}: access denied by S3 ({code}); check the AWS credentials in use")
    return exc


class _Body:
    """A GET's streamed body: botocore retries the request, but not a body that breaks while
    the engine reads it; that becomes a :class:`TransientError` for the engine's loop."""

    def __init__(self, raw: Any, label: str):
        self.raw = raw
        self.label = label

    def read(self, n: int = -1) -> bytes:
        import http.client

        import urllib3.exceptions
        from botocore.exceptions import BotoCoreError

        try:
            return self.raw.read(n if n is not None and n >= 0 else None)  # type: ignore[no-any-return]
        except InterruptedError:
            raise
        except (BotoCoreError, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            raise TransientError(f"{self.label}: the response body broke off ({type(exc).__name__}: {exc})") from exc

    def close(self) -> None:
        self.raw.close()


class S3Backend(ParallelListing, Backend):
    scheme = "s3"
    min_part_size = 5 << 20
    max_parts = 10_000

    def __init__(self, loc, pool: int = 20, conditional_writes: str = "auto"):
        super().__init__(loc)
        self.client = _client(pool)
        self.cheap_200_check = _cheaper_200_error_check(self.client)
        """Whether botocore's 200-error check was swapped for :func:`error_or_truncated`."""
        self.conditional_writes = conditional_writes
        """auto | on | off: see ``TransferSpec.s3_conditional_writes``."""
        if conditional_writes == "off":
            self.unguarded = 's3_conditional_writes = "off"'
        self._guard_lock = threading.Lock()

    # --- conditional writes ---------------------------------------------------------
    def _guard(self, expect_version: str | None) -> dict[str, str]:
        """The precondition headers a write or delete carries now ({} once they are off)."""
        if self.conditional_writes == "off" or self.unguarded:
            return {}
        return _conditions(expect_version)

    def _guarded(self, call: Callable[[dict[str, str]], Any], guard: dict[str, str], what: str) -> Any:
        """``call(guard)``; where the endpoint refuses the headers themselves, "auto" sends the
        request again without them (and every later one: said once, kept in the summary) and
        "on" fails it, saying how to proceed."""
        from botocore.exceptions import ClientError

        try:
            return call(guard)
        except ClientError as exc:
            if not guard or not refuses_conditions(exc):
                raise
            status, code = _status(exc)
            header = "If-None-Match" if "IfNoneMatch" in guard else "If-Match"
            if self.conditional_writes == "on":
                raise EnvironmentProblem(
                    f"{what}: s3://{self.loc.bucket} refuses conditional writes ({header}: {status} {code}); "
                    "s3_conditional_writes = \"on\" will not write without them. Use \"auto\" or \"off\" "
                    "(--s3-conditional-writes) to write unguarded") from exc
            self._go_unguarded(f"the endpoint refused {header} ({status} {code}) on {what}")
            return call({})

    def _go_unguarded(self, why: str) -> None:
        with self._guard_lock:
            if self.unguarded:
                return
            self.unguarded = why
        if self.warn is not None:
            self.warn(f"OVERWRITES UNGUARDED on s3://{self.loc.bucket}: {why}. Writes and deletes for the rest "
                      "of this run go without If-None-Match/If-Match, so an object someone else writes after "
                      "planning can be overwritten or deleted (s3_conditional_writes = \"auto\"; \"on\" "
                      "refuses to write unguarded)")

    def key(self, path: str) -> str:
        return self.loc.prefix + path

    def _info(self, obj: dict[str, Any], path: str) -> ObjectInfo:
        etag = obj.get("ETag", "").strip('"')
        crc = obj.get("ChecksumCRC32C")
        multipart = "-" in etag
        # A multipart object's CRC32C is a checksum of the parts' checksums ("...-N"; some
        # stand-ins leave out the "-N") unless S3 says it covers the whole object.
        whole = crc and "-" not in crc and (not multipart or obj.get("ChecksumType") == "FULL_OBJECT")
        listed = "Size" in obj  # a listing entry: it says nothing of the object's encryption
        md5 = etag if len(etag) == 32 and not multipart and (listed or etag_is_md5(obj)) else None
        extra: dict[str, Any] = {"multipart": "-" in etag}
        if md5 is not None and listed:
            extra[ETAG_UNCONFIRMED] = True
        return ObjectInfo(
            path=path, size=int(obj.get("Size", obj.get("ContentLength", 0))),
            mtime=obj["LastModified"].timestamp(), mtime_preserved=False,
            md5=md5, crc32c=b64_to_hex(crc) if whole else None, version=etag, extra=extra,
        )

    @staticmethod
    def _learn_md5(info: ObjectInfo, resp: dict[str, Any]) -> None:
        """A HEAD or GET of ``info``'s version says whether its listed ETag is an MD5: drop it where it is not."""
        if info.extra.pop(ETAG_UNCONFIRMED, None) and not etag_is_md5(resp):
            info.md5 = None

    def _list_plain(self, recursive: bool, start_after: str | None, end_before: str | None) -> Iterator[ObjectInfo]:
        # every key of (start_after, end_before) starts with their common prefix: ask only for that
        narrow = common_prefix(start_after, end_before) if start_after is not None and end_before is not None else ""
        kwargs: dict[str, Any] = {"Bucket": self.loc.bucket, "Prefix": self.loc.prefix + narrow,
                                  "PaginationConfig": {"PageSize": 1000}}
        if not recursive:
            kwargs["Delimiter"] = "/"
        if start_after:
            kwargs["StartAfter"] = self.key(start_after)
        n = len(self.loc.prefix)
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                objects = (self._info(obj, obj["Key"][n:]) for obj in page.get("Contents", []) if obj["Key"][n:])
                folders = [p["Prefix"][n:] for p in page.get("CommonPrefixes", [])]  # without -r: said, not dropped
                for info in with_folders(objects, folders):
                    if end_before is not None and info.path >= end_before:
                        return
                    yield info
        except Exception as exc:  # noqa: BLE001 - translated for the user
            raise _translate(exc, f"s3://{self.loc.bucket}") from exc

    # --- what the parallel lister needs (engine.transfer.lister.RangeSource) -------------
    def list_range(self, start_after: str | None, end_before: str | None) -> Iterator[ObjectInfo]:
        return self._list_plain(True, start_after, end_before)

    def _call_list(self, **kwargs: Any) -> dict[str, Any]:
        try:
            return self.client.list_objects_v2(Bucket=self.loc.bucket, **kwargs)  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001 - translated for the user
            raise _translate(exc, f"s3://{self.loc.bucket}") from exc

    def list_head(self, n: int) -> tuple[list[ObjectInfo], bool]:
        resp = self._call_list(Prefix=self.loc.prefix, MaxKeys=n)
        k = len(self.loc.prefix)
        items = [self._info(o, o["Key"][k:]) for o in resp.get("Contents", []) if o["Key"][k:]]
        return items, bool(resp.get("IsTruncated"))

    def list_dirs(self, prefix: str, start_after: str | None = None) -> Iterator[tuple[list[tuple[str, bool]], bool]]:
        k = len(self.loc.prefix)
        kwargs: dict[str, Any] = {"Prefix": self.key(prefix), "Delimiter": "/", "MaxKeys": 1000}
        if start_after:
            kwargs["StartAfter"] = self.key(start_after)
        while True:
            resp = self._call_list(**kwargs)
            entries = sorted([(cp["Prefix"][k:], True) for cp in resp.get("CommonPrefixes", [])]
                             + [(o["Key"][k:], False) for o in resp.get("Contents", [])])
            more = bool(resp.get("IsTruncated")) and bool(resp.get("NextContinuationToken"))
            yield entries, more
            if not more:
                return
            kwargs.pop("StartAfter", None)
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]

    def first_key_after(self, after: str, prefix: str) -> str | None:
        resp = self._call_list(Prefix=self.key(prefix), StartAfter=self.key(after), MaxKeys=1)
        contents = resp.get("Contents", [])
        return contents[0]["Key"][len(self.loc.prefix):] if contents else None

    def stat(self, path: str) -> ObjectInfo | None:
        head = self._head(path)
        if head is None:
            return None
        info = self._info(head, path)
        stored = parse_mtime_metadata(head.get("Metadata", {}))
        if stored is not None:
            info.mtime, info.mtime_preserved = stored, True
        return info

    def stored_mtime(self, info: ObjectInfo) -> float | None:
        """A listing never carries metadata: HEAD the object (same-size candidates only)."""
        if info.mtime_preserved:
            return info.mtime
        now = self.stat(info.path)
        if now is None or now.version != info.version or not now.mtime_preserved:
            return None
        return now.mtime

    def full_checksums(self, info: ObjectInfo) -> ObjectInfo:
        if info.crc32c is None or info.extra.get(ETAG_UNCONFIRMED):
            now = self.stat(info.path)
            if now is not None and now.version == info.version:
                if now.crc32c:
                    info.crc32c = now.crc32c
                if info.extra.pop(ETAG_UNCONFIRMED, None):
                    info.md5 = now.md5  # the HEAD knows the encryption: None where the ETag is no MD5
        return info

    def _pinned_get(self, info: ObjectInfo, **extra: Any) -> Any:
        """GET exactly the listed version (If-Match its ETag): a newer one is SourceChanged."""
        from botocore.exceptions import ClientError

        try:
            resp = self.client.get_object(Bucket=self.loc.bucket, Key=self.key(info.path),
                                          IfMatch=f'"{info.version}"', **extra)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 412 or exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise SourceChanged(f"{info.path}: the object's ETag is no longer {info.version}") from exc
            raise
        got = str(resp.get("ETag", "")).removeprefix("W/").strip('"')
        if got and got.lower() != info.version.lower():  # a store that ignores If-Match: the answer names what it sent
            resp["Body"].close()
            raise SourceChanged(f"{info.path}: the object's ETag is no longer {info.version} (now {got})")
        self._learn_md5(info, resp)  # before anyone compares what was read with info.md5
        return resp

    def open_read(self, info: ObjectInfo) -> BinaryIO:
        return _Body(self._pinned_get(info)["Body"], info.path)  # type: ignore[return-value]

    def read_range(self, info: ObjectInfo, start: int, length: int) -> bytes:
        if length == 0:
            return b""
        resp = self._pinned_get(info, Range=f"bytes={start}-{start + length - 1}")
        return _Body(resp["Body"], info.path).read()

    def _meta(self, src: ObjectInfo) -> dict[str, str]:
        return mtime_metadata(src)

    def _after_precondition(self, path: str, size: int, crc_b64: str) -> ObjectInfo:
        """A 412 (or a 404 under If-Match): was it our own earlier attempt that succeeded (botocore
        retried a write whose answer was lost, same bytes now there), or someone else's write?"""
        head = self._head(path)
        got = (head or {}).get("ChecksumCRC32C") or ""
        if head is not None and int(head["ContentLength"]) == size and got.split("-")[0] == crc_b64.split("-")[0]:
            return self._info(head, path)
        raise PreconditionLost(f"{path}: the destination changed since planning; not overwritten — "
                               "re-run to re-plan")

    def _head(self, path: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.loc.bucket, Key=self.key(path),  # type: ignore[no-any-return]
                                           ChecksumMode="ENABLED")
        except ClientError as exc:
            if _status(exc)[0] == 404:
                return None
            raise

    def put(self, path: str, data: bytes, src: ObjectInfo, expect_version: str | None, crc: int) -> ObjectInfo:
        from botocore.exceptions import ClientError

        guard = self._guard(expect_version)
        try:
            resp = self._guarded(lambda cond: self.client.put_object(
                Bucket=self.loc.bucket, Key=self.key(path), Body=data, ChecksumCRC32C=crc_to_b64(crc),
                Metadata=self._meta(src), **cond), guard, path)
        except ClientError as exc:
            if _conflict(exc) and guard:
                return self._after_precondition(path, len(data), crc_to_b64(crc))
            raise
        etag = resp["ETag"].strip('"')
        got = resp.get("ChecksumCRC32C")
        return ObjectInfo(path=path, size=len(data), mtime=src.mtime,
                          md5=etag if "-" not in etag and etag_is_md5(resp) else None,
                          crc32c=b64_to_hex(got) if got else None, version=etag)

    def put_stream(self, path: str, reader: BinaryIO, src: ObjectInfo, expect_version: str | None) -> ObjectInfo:
        buf = io.BytesIO()
        while True:
            chunk = reader.read(1 << 20)
            if not chunk:
                break
            buf.write(chunk)
        data = buf.getvalue()
        from engine.transfer.checksums import crc32c

        return self.put(path, data, src, expect_version, crc32c(data))

    def begin_parts(self, path: str, src: ObjectInfo, part_size: int, expect_version: str | None,
                    token: str | None = None) -> PartUpload:
        if token is None:
            resp = self.client.create_multipart_upload(Bucket=self.loc.bucket, Key=self.key(path),
                                                       ChecksumAlgorithm="CRC32C", Metadata=self._meta(src))
            token = resp["UploadId"]
        return PartUpload(path=path, token=token, size=src.size, part_size=part_size, src=src,
                          expect_version=expect_version)

    def part_upload_alive(self, up: PartUpload) -> bool:
        """False only when S3 says the upload is gone (NoSuchUpload); any other error is raised,
        so a failed check never leaves a live upload behind unjournalled."""
        from botocore.exceptions import ClientError

        try:
            self.client.list_parts(Bucket=self.loc.bucket, Key=self.key(up.path), UploadId=up.token, MaxParts=1)
            return True
        except ClientError as exc:
            status, code = _status(exc)
            if code == "NoSuchUpload" or status == 404:
                return False
            raise

    def put_part(self, up: PartUpload, n: int, data: bytes, crc: int) -> str:
        resp = self.client.upload_part(Bucket=self.loc.bucket, Key=self.key(up.path), UploadId=up.token,
                                       PartNumber=n + 1, Body=data, ChecksumCRC32C=crc_to_b64(crc))
        return resp["ETag"]  # type: ignore[no-any-return]

    def finish_parts(self, up: PartUpload, parts: dict[int, tuple[int, str]]) -> ObjectInfo:
        from botocore.exceptions import ClientError

        ordered = [parts[n] for n in range(up.count)]
        expected = s3_composite_crc32c([crc for crc, _ in ordered])
        guard = self._guard(up.expect_version)
        body = {"Parts": [{"PartNumber": n + 1, "ETag": etag, "ChecksumCRC32C": crc_to_b64(crc)}
                          for n, (crc, etag) in enumerate(ordered)]}
        try:
            self._guarded(lambda cond: self.client.complete_multipart_upload(
                Bucket=self.loc.bucket, Key=self.key(up.path), UploadId=up.token, MultipartUpload=body, **cond),
                guard, up.path)
        except ClientError as exc:
            if not _conflict(exc) or not guard:
                raise
            # 412: S3 keeps the upload (the caller aborts it); 409: S3 has ended it already
            self._after_precondition(up.path, up.size, expected)  # raises unless it is our own
        head = self._head(up.path)
        if head is None:
            raise PreconditionLost(f"{up.path}: gone right after its upload completed (deleted by someone else)")
        reported = head.get("ChecksumCRC32C")
        if reported and reported.split("-")[0] != expected.split("-")[0]:
            raise ChecksumMismatch(f"{up.path}: S3 reports composite CRC32C {reported}, parts sent give {expected}")
        if int(head["ContentLength"]) != up.size:
            raise ChecksumMismatch(f"{up.path}: S3 reports {head['ContentLength']} bytes, sent {up.size}")
        info = self._info(head, up.path)
        if reported:  # S3 confirmed the parts' checksums: the whole object's CRC32C follows from them
            info.crc32c = crc_to_hex(combine_parts((crc, up.span(n)[1]) for n, (crc, _) in enumerate(ordered)))
        # else the store kept no checksum (some S3-compatible stores): nothing it reports was
        # compared, so the caller does not call the object verified
        return info

    def abort_parts(self, up: PartUpload) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.abort_multipart_upload(Bucket=self.loc.bucket, Key=self.key(up.path), UploadId=up.token)
        except ClientError as exc:
            status, code = _status(exc)
            if code != "NoSuchUpload" and status != 404:
                raise

    def abort_stale(self, stale: list[tuple[str, str]], errors: list[str] | None = None) -> list[str]:
        """List the unfinished multipart uploads under the destination prefix and abort those
        on this engine's ledger (uploads of other tools or people are never touched); what S3
        refuses to abort stays on the ledger, its answer appended to ``errors``."""
        wanted = {token: path for path, token in stale}
        if not wanted:
            return []
        listed: dict[str, str] = {}
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.loc.bucket,
                                                                            Prefix=self.loc.prefix)
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["UploadId"] in wanted:
                    listed[upload["UploadId"]] = upload["Key"]
        gone = [token for token in wanted if token not in listed]  # finished or aborted already
        for token, key in listed.items():
            try:
                self.client.abort_multipart_upload(Bucket=self.loc.bucket, Key=key, UploadId=token)
            except Exception as exc:  # noqa: BLE001 - stays on the ledger for the next run
                if errors is not None:
                    errors.append(f"{key[len(self.loc.prefix):]}: {type(exc).__name__}: {exc}")
                continue
            gone.append(token)
        return gone

    def delete(self, path: str, version: str | None = None) -> None:
        """Delete ``path``; with ``version`` (the ETag planning saw) only if it is still that
        object (If-Match: S3 general purpose buckets honour it since September 2025)."""
        from botocore.exceptions import ClientError

        guard = self._guard(version) if version else {}
        try:
            self._guarded(lambda cond: self.client.delete_object(Bucket=self.loc.bucket, Key=self.key(path), **cond),
                          guard, path)
        except ClientError as exc:
            status, code = _status(exc)
            if status == 404:
                return  # already gone
            if status == 412 or code == "ConditionalRequestConflict":
                raise PreconditionLost(f"{path}: changed since planning; not deleted — re-run to re-plan") from exc
            raise
