"""Helpers for the transfer tests: trees on every backend, and a fault-injecting HTTP proxy."""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
from pathlib import Path
from typing import Any, Callable

from tests.loopback_proxy import HOP, LoopbackProxy, ProxyHandler

MIB = 1 << 20

TREE_SMALL = {
    "a.txt": b"hello\n",
    "with space/ünïcødé 文件.txt": "ünïcødé ✓\n".encode(),
    "deep/" + "/".join(f"d{i}" for i in range(12)) + "/leaf.bin": os.urandom(3000),
    "empty.dat": b"",
    "sub-dir/x": b"x" * 100,
    "sub/x": b"y" * 200,
    "z/medium.bin": os.urandom(9 * MIB),  # streamed (over the single-request size, under the threshold)
}


def sample_tree(big: int = 12 * MIB) -> dict[str, bytes]:
    tree = dict(TREE_SMALL)
    if big:
        tree["big/large.bin"] = os.urandom(big)
    return tree


def write_local(root: Path, tree: dict[str, bytes]) -> None:
    for rel, data in tree.items():
        p = root.joinpath(*rel.split("/"))
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def read_local(root: Path) -> dict[str, bytes]:
    out = {}
    for p in root.rglob("*"):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(s3={"addressing_style": "path"}))


def gcs_client() -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test-project", credentials=AnonymousCredentials())


def write_s3(bucket: str, prefix: str, tree: dict[str, bytes], multipart_above: int = 5 * MIB) -> None:
    import io

    from boto3.s3.transfer import TransferConfig

    s3 = s3_client()
    cfg = TransferConfig(multipart_threshold=multipart_above, multipart_chunksize=5 * MIB)
    for rel, data in tree.items():
        # upload_fileobj makes real multipart ETags ("md5-N") for the big ones, with no CRC32C
        s3.upload_fileobj(io.BytesIO(data), bucket, prefix + rel, Config=cfg,
                          ExtraArgs=None)


def read_s3(bucket: str, prefix: str = "") -> dict[str, bytes]:
    s3 = s3_client()
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"][len(prefix):]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


def write_gcs(bucket: str, prefix: str, tree: dict[str, bytes]) -> None:
    b = gcs_client().bucket(bucket)
    for rel, data in tree.items():
        b.blob(prefix + rel).upload_from_string(data)


def read_gcs(bucket: str, prefix: str = "", include_tmp: bool = False) -> dict[str, bytes]:
    client = gcs_client()
    out = {}
    for blob in client.list_blobs(bucket, prefix=prefix):
        if not include_tmp and ".gpumigrate-tmp" in blob.name:
            continue
        out[blob.name[len(prefix):]] = blob.download_as_bytes()
    return out


def gcs_names(bucket: str) -> list[str]:
    return [b.name for b in gcs_client().list_blobs(bucket)]


# --- a fault-injecting reverse proxy on 127.0.0.1 ----------------------------------

class FaultProxy(LoopbackProxy):
    """Forwards HTTP to ``upstream``; a share of requests get a 503, a connection reset before
    any answer, or a reset half-way through the response body.  Counts what it did.

    ``answer(method, path)`` may answer a request itself (status, JSON body) instead of
    forwarding it; ``rewrite(method, path, status, body)`` may change a forwarded answer's body:
    how a test gives a stand-in a setting it does not model (a bucket's retention policy);
    ``cut(method, path)`` returning True sends that answer's body cut in half, then resets."""

    def __init__(self, upstream: str, *, p503: float = 0.15, preset: float = 0.05, ptruncate: float = 0.05,
                 seed: int = 7, min_body_for_faults: int = 0,
                 answer: Callable[[str, str], tuple[int, bytes] | None] | None = None,
                 rewrite: Callable[[str, str, int, bytes], bytes] | None = None,
                 cut: Callable[[str, str], bool] | None = None):
        super().__init__(upstream)
        self.p503, self.preset, self.ptruncate = p503, preset, ptruncate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts = {"forwarded": 0, "503": 0, "reset": 0, "truncated": 0}
        self.enabled = True
        proxy = self

        class Handler(ProxyHandler):
            def _reset(self) -> None:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True

            def _handle(self) -> None:
                body = self._body()
                with proxy.lock:
                    roll = proxy.rng.random() if proxy.enabled else 1.0
                    if roll < proxy.p503:
                        fault = "503"
                    elif roll < proxy.p503 + proxy.preset:
                        fault = "reset"
                    elif roll < proxy.p503 + proxy.preset + proxy.ptruncate:
                        fault = "truncated"
                    else:
                        fault = ""
                    proxy.counts[fault or "forwarded"] += 1
                if fault == "503":
                    payload = b'{"error": {"code": 503, "message": "injected"}}'
                    if "amz" in " ".join(self.headers.keys()).lower() or "Authorization" in self.headers and "AWS4" in self.headers["Authorization"]:
                        payload = b"<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if fault == "reset":
                    self._reset()
                    return
                own = answer(self.command, self.path) if answer is not None else None
                if own is not None:
                    self.send_response(own[0])
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(own[1])))
                    self.end_headers()
                    self.wfile.write(own[1])
                    return
                headers = dict(self.headers.items())  # the last of a repeated header, as before
                if os.environ.get("FAULTPROXY_DEBUG"):
                    print(self.command, self.path, proxy._upstream_headers(self.command, headers, body), len(body))
                status, resp_headers, data = proxy._forward(self.command, self.path, headers, body)
                if rewrite is not None:
                    data = rewrite(self.command, self.path, status, data)
                if cut is not None and cut(self.command, self.path):
                    fault = "truncated"
                if fault == "truncated" and len(data) > 16:
                    self.send_response(status)
                    for k, v in resp_headers:
                        if k.lower() not in HOP:
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self._reset()
                    return
                self.send_response(status)
                length = str(len(data))
                for k, v in resp_headers:
                    if k.lower() == "content-length" and self.command == "HEAD":
                        length = v  # a HEAD's length is the object's, not its (empty) body's
                    if k.lower() in HOP:
                        continue
                    if k.lower() == "location":
                        v = v.replace(f"{proxy.up_host}:{proxy.up_port}", f"127.0.0.1:{proxy.port}")
                    self.send_header(k, v)
                self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

        self._serve(Handler, poll_interval=0.5)

    def faults(self) -> int:
        return self.counts["503"] + self.counts["reset"] + self.counts["truncated"]


def interrupt_after_a_part(spec: Any, journal: Path | None, **run_args: Any) -> Any:
    """Run ``spec`` and cancel it once one part is journalled (a killed run, minus the kill); its summary.

    ``run_args`` go to ``run_transfer`` as they are (e.g. ``emit``)."""
    import sqlite3
    import threading
    import time

    from engine.transfer.api import TransferControl, journal_path_for, run_transfer

    control = TransferControl()
    journal = journal or journal_path_for(spec)  # None: where the CLI's own journal goes

    def watch() -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with sqlite3.connect(journal) as db:
                    if db.execute("SELECT COUNT(*) FROM parts").fetchone()[0] >= 1:
                        control.cancel()
                        return
            except sqlite3.Error:
                pass
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    result = run_transfer(spec, journal=journal, control=control, **run_args)
    watcher.join()
    assert result.interrupted
    return result
