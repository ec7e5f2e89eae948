"""An interrupted upload in parts whose object the next run copies another way (the source
shrank below the part threshold, or the threshold was raised) is debris: the next run must
abort it, not keep it journalled for ever (S3 parts billed, GCS components left in the hidden
folder). Found by hand: kill -9 mid composite upload, source rewritten smaller, re-run: the
seven 25 MiB components stayed under ``.gpumigrate-tmp/``."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest

from engine.transfer.api import TransferControl, TransferSpec, run_transfer
from engine.transfer.journal import Journal
from tests.transfer_support import MIB, gcs_client, gcs_names, read_gcs, read_s3, s3_client, write_local


def _interrupt_after_a_part(spec: TransferSpec, journal) -> None:
    """Run ``spec`` and cancel it once one part is journalled (a killed run, minus the kill)."""
    control = TransferControl()

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
    assert run_transfer(spec, journal=journal, control=control).interrupted
    watcher.join()


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_an_upload_the_next_run_does_not_continue_is_removed(tmp_path, aws, gcs, unique_bucket, store) -> None:
    if store == "s3":
        s3_client().create_bucket(Bucket=unique_bucket)
    else:
        gcs_client().create_bucket(unique_bucket)
    write_local(tmp_path / "src", {"big.bin": os.urandom(11 * MIB)})
    journal = tmp_path / "j.sqlite"
    spec = dict(src=str(tmp_path / "src"), dst=f"{store}://{unique_bucket}/d", jobs=1)
    _interrupt_after_a_part(TransferSpec(**spec, part_threshold_mib=5, part_size_mib=5), journal)
    if store == "s3":
        assert s3_client().list_multipart_uploads(Bucket=unique_bucket).get("Uploads")
    else:
        assert [n for n in gcs_names(unique_bucket) if n.startswith("d/.gpumigrate-tmp/")]

    small = os.urandom(2 * MIB)  # rewritten below the threshold: one request, no parts
    write_local(tmp_path / "src", {"big.bin": small})
    s = run_transfer(TransferSpec(**spec, part_threshold_mib=5, part_size_mib=5), journal=journal)
    assert s.ok and s.copied == 1, s.failures
    assert Journal(journal).pending_uploads() == [] and Journal(journal).stale_uploads() == []
    if store == "s3":
        assert s3_client().list_multipart_uploads(Bucket=unique_bucket).get("Uploads") is None
        assert read_s3(unique_bucket) == {"d/big.bin": small}
    else:
        assert gcs_names(unique_bucket) == ["d/big.bin"]
        assert read_gcs(unique_bucket, "d/") == {"big.bin": small}
