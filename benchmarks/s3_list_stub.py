"""A loopback S3 endpoint (run as ``python -m benchmarks.s3_list_stub``) that only lists: a synthetic, sorted key space answered with
ListObjectsV2 (and V1) XML, after a fixed delay per request.

Why: moto answers every LIST by sorting every key under the prefix, so on moto a LIST costs
time proportional to the bucket, and more requests in flight only add work. Real S3 answers
a page in roughly constant time, and a client's listing rate is set by round trips. This stub
models that: each page is found by bisection (microseconds) and returned after
``latency_ms``, the round trip, so a benchmark can compare listers by how well they overlap
round trips, as they would against S3. The delay is a stated assumption, not a measurement of
S3; the benchmark prints it beside every figure.

Supported: GET /BUCKET?list-type=2 with prefix, delimiter, start-after, continuation-token,
max-keys, fetch-owner (ignored), encoding-type (ignored: keys are ASCII); V1 with marker; HEAD
/BUCKET. Signatures are not checked.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
from typing import Callable
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

LAST_MODIFIED = "2026-01-01T00:00:00.000Z"
ETAG = "&quot;d41d8cd98f00b204e9800998ecf8427e&quot;"


def synthetic_keys(n: int, per_dir: int, flat: bool = False) -> list[str]:
    """The same key layout as bench_transfer_list's moto fill, already in byte order."""
    if flat:
        return [f"obj-{i:09d}.bin" for i in range(n)]
    return [f"data/{i // per_dir:05d}/obj-{i:09d}.bin" for i in range(n)]


def _after_prefix_group(common: str) -> str:
    """The smallest string greater than every key that starts with ``common`` (ending in the delimiter)."""
    return common[:-1] + chr(ord(common[-1]) + 1)


def list_page(keys: list[str], prefix: str, delimiter: str, after: str, max_keys: int,
              after_group: bool = False) -> tuple[list[str], list[str], bool, str]:
    """(keys, common prefixes, truncated, last entry returned) for one page, like S3.

    ``after_group``: ``after`` is a common prefix the previous page returned, so the page
    continues past every key under it (what S3's continuation token means)."""
    if after and after_group:
        start = bisect.bisect_left(keys, _after_prefix_group(after))
    else:
        start = bisect.bisect_right(keys, after) if after else 0
    start = max(start, bisect.bisect_left(keys, prefix))
    out_keys: list[str] = []
    out_prefixes: list[str] = []
    last = ""
    i = start
    while i < len(keys) and keys[i].startswith(prefix):
        if len(out_keys) + len(out_prefixes) >= max_keys:
            return out_keys, out_prefixes, True, last
        key = keys[i]
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = key[:cut + len(delimiter)]
            out_prefixes.append(common)
            last = common
            i = bisect.bisect_left(keys, _after_prefix_group(common))
        else:
            out_keys.append(key)
            last = key
            i += 1
    return out_keys, out_prefixes, False, last


class ListStub:
    """An asyncio server on one thread: a page is built in ~3 ms and the round trip is an
    ``asyncio.sleep``, so concurrent requests overlap their delays without Python threads
    contending for the GIL (a ThreadingHTTPServer took 21 ms a page with 8 clients at once
    against 2.8 ms one at a time on the 2-core VM, which would have measured the stub)."""

    def __init__(self, keys: list[str], bucket: str, latency_ms: float = 30.0):
        self.keys, self.bucket, self.latency = keys, bucket, latency_ms / 1000.0
        self.requests = 0
        self.url = ""

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _version = line.decode("latin-1").split(" ", 2)
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # headers: nothing here needs them (no bodies, no signatures)
                self.requests += 1
                url = urlparse(target)
                if url.path.strip("/") != self.bucket:
                    status, body = "404 Not Found", b"<Error><Code>NoSuchBucket</Code></Error>"
                elif method == "HEAD":
                    status, body = "200 OK", b""
                else:
                    q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                    await asyncio.sleep(self.latency)
                    status, body = "200 OK", self.page(q).encode()
                head = (f"HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nx-amz-request-id: stub\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode()
                writer.write(head if method == "HEAD" else head + body)
                await writer.drain()
        except (ConnectionError, ValueError):
            return
        finally:
            writer.close()

    def page(self, q: dict[str, str]) -> str:
        v2 = q.get("list-type") == "2"
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        max_keys = min(int(q.get("max-keys") or 1000), 1000)
        group = False
        if v2:
            token = q.get("continuation-token")
            if token:
                kind, after = base64.urlsafe_b64decode(token).decode().split(":", 1)
                group = kind == "P"
            else:
                after = q.get("start-after", "")
        else:
            after = q.get("marker", "")
            group = bool(delimiter) and after.endswith(delimiter)
        keys, prefixes, truncated, last = list_page(self.keys, prefix, delimiter, after, max_keys, group)
        parts = ['<?xml version="1.0" encoding="UTF-8"?>',
                 '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                 f"<Name>{self.bucket}</Name><Prefix>{escape(prefix)}</Prefix><MaxKeys>{max_keys}</MaxKeys>",
                 f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
        if delimiter:
            parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        if v2:
            parts.append(f"<KeyCount>{len(keys) + len(prefixes)}</KeyCount>")
            if truncated:
                kind = "P" if prefixes and last == prefixes[-1] else "K"
                token = base64.urlsafe_b64encode(f"{kind}:{last}".encode()).decode()
                parts.append(f"<NextContinuationToken>{token}</NextContinuationToken>")
            if q.get("start-after"):
                parts.append(f"<StartAfter>{escape(q['start-after'])}</StartAfter>")
        else:
            parts.append(f"<Marker>{escape(after)}</Marker>")
            if truncated and delimiter:
                parts.append(f"<NextMarker>{escape(last)}</NextMarker>")
        for key in keys:
            parts.append(f"<Contents><Key>{escape(key)}</Key><LastModified>{LAST_MODIFIED}</LastModified>"
                         f"<ETag>{ETAG}</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>")
        for common in prefixes:
            parts.append(f"<CommonPrefixes><Prefix>{escape(common)}</Prefix></CommonPrefixes>")
        parts.append("</ListBucketResult>")
        return "".join(parts)

    async def serve(self, ready: "Callable[[str], None]") -> None:
        server = await asyncio.start_server(self._serve_one, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        ready(self.url)
        async with server:
            await server.serve_forever()


def main() -> None:
    """Serve in a process of its own (so its CPU is not the client's GIL); prints the URL, then
    serves until stdin closes."""
    import argparse
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, required=True)
    ap.add_argument("--per-dir", type=int, default=1000)
    ap.add_argument("--flat", action="store_true")
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--latency-ms", type=float, default=30.0)
    a = ap.parse_args()
    stub = ListStub(synthetic_keys(a.keys, a.per_dir, a.flat), a.bucket, a.latency_ms)
    loop = asyncio.new_event_loop()
    loop.add_reader(sys.stdin.fileno(), loop.stop)  # stdin closed (or written to): stop
    task = loop.create_task(stub.serve(lambda url: print(url, flush=True)))
    loop.run_forever()
    task.cancel()
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    print(f"requests: {stub.requests}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
