"""A resumed composite upload whose journalled components vanished from GCS sends them again."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from engine.transfer.api import TransferControl, TransferSpec, run_transfer
from tests.transfer_support import MIB, gcs_client, gcs_names, read_gcs


def test_lost_components_are_uploaded_again_on_resume(tmp_path, gcs, unique_bucket) -> None:
    gcs_client().create_bucket(unique_bucket)
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(24 * MIB)
    (src / "big.bin").write_bytes(data)
    journal = tmp_path / "journal.sqlite"
    spec = TransferSpec(src=str(src), dst=f"gs://{unique_bucket}/data", part_threshold_mib=5, part_size_mib=1,
                        jobs=2)
    control = TransferControl()

    def cancel_after_some_parts() -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with sqlite3.connect(journal) as db:
                    if db.execute("SELECT COUNT(*) FROM parts").fetchone()[0] >= 4:
                        control.cancel()
                        return
            except sqlite3.Error:
                pass
            time.sleep(0.01)

    watcher = threading.Thread(target=cancel_after_some_parts)
    watcher.start()
    first = run_transfer(spec, emit=lambda e: None, journal=journal, control=control)
    watcher.join()
    assert first.interrupted
    components = [n for n in gcs_names(unique_bucket) if n.startswith("data/.gpumigrate-tmp/")]
    assert components, "the interrupted upload left its components"
    for name in components[:2]:  # a lifecycle rule (say) removed some of them
        gcs_client().bucket(unique_bucket).blob(name).delete()
    second = run_transfer(spec, emit=lambda e: None, journal=journal)
    assert second.ok and second.copied == 1 and second.verified == 1, second.failures
    assert read_gcs(unique_bucket, "data/") == {"big.bin": data}
    assert gcs_names(unique_bucket) == ["data/big.bin"]  # components cleaned up
