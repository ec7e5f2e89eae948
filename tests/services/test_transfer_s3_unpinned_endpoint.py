"""An S3-compatible source that ignores ``If-Match`` on GET cannot tear a copy.

Every read of an S3 source carries ``If-Match: <listed ETag>``, and AWS answers 412 once the object was
replaced; a store that ignores the header (some S3-compatible ones do) answers with the new bytes instead, so
the parts of one large object could come from two versions and be joined and "verified" (the destination
equals what was read, not any version the source ever held). The engine now also checks the ETag each answer
carries. The proxy here drops ``If-Match`` from GETs and replaces the object right after the first ranged GET
of it is answered."""

from __future__ import annotations

import os
import threading

from engine.transfer.api import TransferSpec, run_transfer
from tests.loopback_proxy import LoopbackProxy, ProxyHandler
from tests.transfer_support import MIB, read_local, s3_client


class IgnoresIfMatch(LoopbackProxy):
    def __init__(self, upstream: str, on_first_range) -> None:
        super().__init__(upstream)
        self.served = 0
        lock = threading.Lock()
        proxy = self

        class Handler(ProxyHandler):
            def _handle(self) -> None:
                body = self._body()
                headers = {k: v for k, v in self.headers.items()
                           if not (self.command == "GET" and k.lower() == "if-match")}
                status, answer, data = proxy._forward(self.command, self.path, headers, body)
                self._send(status, data, answer)
                if self.command == "GET" and "Range" in self.headers and status == 206:
                    with lock:
                        proxy.served += 1
                        first = proxy.served == 1
                    if first:
                        on_first_range()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._serve(Handler)


def test_parts_of_two_versions_are_never_joined(tmp_path, aws, monkeypatch) -> None:
    old, new = os.urandom(6 * MIB), os.urandom(6 * MIB)
    s3 = s3_client()
    s3.create_bucket(Bucket="unpinned")
    s3.put_object(Bucket="unpinned", Key="d/ckpt.bin", Body=old)
    proxy = IgnoresIfMatch(aws.url, lambda: s3.put_object(Bucket="unpinned", Key="d/ckpt.bin", Body=new))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        s = run_transfer(TransferSpec(src="s3://unpinned/d", dst=str(tmp_path / "dst"), part_threshold_mib=5,
                                      part_size_mib=2, jobs=1), journal=tmp_path / "j.sqlite")
    finally:
        proxy.stop()
    assert proxy.served >= 2, "the object was not read in ranges"
    got = read_local(tmp_path / "dst")
    assert got in ({"ckpt.bin": new}, {}), "a copy joined parts of two versions"
    assert s.ok and s.copied == 1 and got == {"ckpt.bin": new}, s.line()
