"""An S3 store that reports no checksum for a completed multipart upload (S3-compatible stores
that take x-amz-checksum-* headers without keeping them, or answer HEAD without them) has not
confirmed what it holds: the object is copied, but not counted "verified". It was: the backend
filled the object's CRC32C in from the parts it had sent, and compared that with itself."""

from __future__ import annotations

import os

from engine.transfer.api import TransferSpec, run_transfer
from tests.loopback_proxy import LoopbackProxy, ProxyHandler
from tests.transfer_support import MIB, read_s3, s3_client, write_local


class NoChecksums(LoopbackProxy):
    """Forwards to S3, dropping every x-amz-checksum-* header from the answers."""

    def __init__(self, upstream: str):
        super().__init__(upstream)
        proxy = self

        class Handler(ProxyHandler):
            def _handle(self) -> None:
                status, headers, data = proxy._forward(self.command, self.path, self.headers, self._body())
                self._send(status, data, [(k, v) for k, v in headers if not k.lower().startswith("x-amz-checksum")])

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._serve(Handler)


def test_a_multipart_upload_the_store_reports_no_checksum_for_is_not_verified(tmp_path, aws, monkeypatch) -> None:
    s3_client().create_bucket(Bucket="no-checksums")
    data = os.urandom(11 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    proxy = NoChecksums(aws.url)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst="s3://no-checksums/d", part_threshold_mib=5,
                                      part_size_mib=5), journal=tmp_path / "j.sqlite")
    finally:
        proxy.stop()
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    assert s.ok and s.copied == 1 and s.verified == 0, s
    assert read_s3("no-checksums") == {"d/big.bin": data}
