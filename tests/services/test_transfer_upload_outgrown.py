"""An interrupted upload in parts whose object the next run copies another way (the source
shrank below the part threshold, or the threshold was raised) is debris: the next run must
abort it, not keep it journalled for ever (S3 parts billed, GCS components left in the hidden
folder). Found by hand: kill -9 mid composite upload, source rewritten smaller, re-run: the
seven 25 MiB components stayed under ``.gpumigrate-tmp/``."""

from __future__ import annotations

import os

import pytest

from engine.transfer.api import TransferSpec, run_transfer
from engine.transfer.journal import Journal
from tests.transfer_support import (MIB, gcs_client, gcs_names, interrupt_after_a_part, read_gcs, read_s3,
                                    s3_client, write_local)


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_an_upload_the_next_run_does_not_continue_is_removed(tmp_path, aws, gcs, unique_bucket, store) -> None:
    if store == "s3":
        s3_client().create_bucket(Bucket=unique_bucket)
    else:
        gcs_client().create_bucket(unique_bucket)
    write_local(tmp_path / "src", {"big.bin": os.urandom(11 * MIB)})
    journal = tmp_path / "j.sqlite"
    spec = dict(src=str(tmp_path / "src"), dst=f"{store}://{unique_bucket}/d", jobs=1)
    interrupt_after_a_part(TransferSpec(**spec, part_threshold_mib=5, part_size_mib=5), journal)
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
