"""A local destination file someone else writes while the copy runs is kept, as on S3 (If-Match /
If-None-Match) and GCS (ifGenerationMatch): the copy is not published over it and is reported "changed since
planning; not overwritten". Before, the local destination was the exception: the other writer's file was
replaced without a word (a training job's checkpoint written into the folder being synced, say)."""

from __future__ import annotations

import os

import pytest

from engine.events import Progress
from engine.transfer.api import TransferSpec, run_transfer
from tests.transfer_support import MIB, read_local, write_local

SIZES = {"small": 2 * MIB, "stream": 9 * MIB, "parts": 12 * MIB}  # each with a "started" event (over 256 KiB)


@pytest.mark.parametrize("existed", [False, True], ids=["new-file", "older-copy"])
@pytest.mark.parametrize("how", list(SIZES))
def test_a_destination_file_written_by_someone_else_mid_copy_is_kept(tmp_path, how: str, existed: bool) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"f.bin": os.urandom(SIZES[how])})
    if existed:
        write_local(dst, {"f.bin": b"an older copy"})
    theirs = b"written by someone else while the copy ran"
    written: list[str] = []

    def emit(event) -> None:
        if isinstance(event, Progress) and event.extra.get("phase") == "started" and not written:
            written.append(event.extra.get("path", ""))
            (dst / "f.bin").parent.mkdir(parents=True, exist_ok=True)
            (dst / "f.bin").write_bytes(theirs)

    threshold = 10 if how == "parts" else 150
    s = run_transfer(TransferSpec(src=str(src), dst=str(dst), part_threshold_mib=threshold, part_size_mib=5),
                     emit=emit, journal=tmp_path / "j.sqlite")
    assert written, "the other writer never ran"
    assert not s.ok and s.failed == 1 and s.copied == 0, s.line()
    assert "changed since planning" in s.failures[0].error, s.failures
    assert read_local(dst) == {"f.bin": theirs}
    again = run_transfer(TransferSpec(src=str(src), dst=str(dst)), journal=tmp_path / "j.sqlite")
    assert again.ok and again.copied == 1 and read_local(dst) == read_local(src)  # the next run plans again
