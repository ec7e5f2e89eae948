"""A resumed upload reuses an earlier run's parts only when the source file is the same file, unchanged.

The journal keys parts by the source's fingerprint. A local file's was its size and mtime: a file rewritten in
place between a killed run and the next one, its size and mtime kept (``cp -p`` or ``rsync -t --inplace`` over
it, an extractor restoring mtimes, ``touch -r``), got the old run's parts spliced in, and the copy was called
copied and verified while the destination held bytes the source never had at once. During one copy the
snapshot already compares inode and ctime; the fingerprint now carries them too."""

from __future__ import annotations

import os

import pytest

from engine.transfer.api import TransferSpec, run_transfer
from tests.transfer_support import MIB, interrupt_after_a_part, read_local, write_local


def _rewrite_keeping_size_and_mtime(path, data: bytes, *, new_inode: bool) -> None:
    before = os.stat(path)
    if new_inode:  # written beside it and renamed over it, as an atomic writer or rsync does
        tmp = path.with_name(path.name + ".new")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    else:  # rewritten in place
        with open(path, "r+b") as f:
            f.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


@pytest.mark.parametrize("new_inode", [False, True], ids=["in-place", "renamed-over"])
def test_a_file_rewritten_between_runs_with_size_and_mtime_kept_is_copied_afresh(tmp_path, new_inode):
    src, dst = tmp_path / "src", tmp_path / "dst"
    old, new = os.urandom(12 * MIB), os.urandom(12 * MIB)
    write_local(src, {"big.bin": old})
    journal = tmp_path / "journal.sqlite"
    spec = dict(src=str(src), dst=str(dst), part_threshold_mib=5, part_size_mib=1, jobs=2)
    first = interrupt_after_a_part(TransferSpec(**spec, bwlimit="8M"), journal, emit=lambda e: None)
    assert first.copied == 0
    _rewrite_keeping_size_and_mtime(src / "big.bin", new, new_inode=new_inode)
    s = run_transfer(TransferSpec(**spec), emit=lambda e: None, journal=journal)
    assert s.ok and s.copied == 1 and s.verified == 1, s.failures
    assert s.resumed_parts == 0 and s.bytes_resumed == 0, s.line()
    assert read_local(dst) == {"big.bin": new}


def test_a_file_rewritten_after_the_resuming_run_listed_it_is_copied_afresh(tmp_path):
    """The resuming run lists the file unchanged (its parts match), then the file is rewritten, size and mtime
    kept, before its copy starts: the copy must follow the file as it is then, not the listing's parts."""
    from engine.transfer.backends.local import LocalBackend
    from engine.transfer.control import TransferControl
    from engine.transfer.execute import Transfer
    from engine.transfer.journal import open_for_run
    from engine.transfer.urls import parse_url

    src, dst = tmp_path / "src", tmp_path / "dst"
    old, new = os.urandom(12 * MIB), os.urandom(12 * MIB)
    write_local(src, {"big.bin": old})
    journal = tmp_path / "journal.sqlite"
    spec = dict(src=str(src), dst=str(dst), part_threshold_mib=5, part_size_mib=1, jobs=2)
    interrupt_after_a_part(TransferSpec(**spec, bwlimit="8M"), journal, emit=lambda e: None)

    class RewrittenOnceListed(LocalBackend):
        def source_state(self, info):
            if not rewritten:
                rewritten.append(info.path)
                _rewrite_keeping_size_and_mtime(src / "big.bin", new, new_inode=False)
            return super().source_state(info)

    rewritten: list[str] = []
    jr, _taken = open_for_run(journal)
    try:
        s = Transfer(src=RewrittenOnceListed(parse_url(str(src))), dst=LocalBackend(parse_url(str(dst))),
                     src_url=str(src), dst_url=str(dst), emit=lambda e: None, journal=jr, control=TransferControl(),
                     part_threshold_mib=5, part_size_mib=1, jobs=2).run()
    finally:
        jr.close()
    assert rewritten and s.ok and s.copied == 1 and s.verified == 1, s.failures
    assert s.resumed_parts == 0, s.line()
    assert read_local(dst) == {"big.bin": new}
