"""Data integrity on a destination a transfer left half done (review session 7).

Checked now against the [[transfer]] entry, a partial copy FAILed, but its line read "6 objects, 3,000 bytes in
1 manifest pair(s)": 3,000 bytes were only the objects that matched (the source holds 21,000), no manifest was
read, and the listing said "f4.bin (? bytes)" and "f3.bin (crc32c/md5 ? != ?)".
"""

from __future__ import annotations

from pathlib import Path

from engine.transfer.spec import TransferSpec
from engine.verify.checks import data_integrity
from engine.verify.checks.base import CheckContext
from engine.verify.section import VerifySection


def test_a_half_copied_destination_is_described_as_it_is(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    for i in range(1, 7):
        (src / f"f{i}.bin").write_bytes(bytes([i]) * (i * 1000))
    for i in (1, 2):
        (dst / f"f{i}.bin").write_bytes((src / f"f{i}.bin").read_bytes())
    (dst / "f3.bin").write_bytes(bytes([3]) * 1500)  # cut short
    section = VerifySection.model_validate({"data_integrity": {"transfers": True}})
    ctx = CheckContext(section=section, base_dir=tmp_path, transfers=[TransferSpec(src=str(src), dst=str(dst))])
    verdict = data_integrity.judge(ctx, data_integrity.measure(ctx), None)
    assert not verdict.passed
    assert verdict.summary == ("6 source objects in 1 transfer checked now: 2 verified (3,000 bytes), "
                               "4 difference(s)"), verdict.summary
    assert "  missing: f4.bin (not in the destination)" in verdict.details
    assert "  checksum: f3.bin (its size or content differs from the source's)" in verdict.details


def test_manifest_pairs_keep_their_byte_totals(tmp_path: Path) -> None:
    from tests.verify_support import context

    line = '{{"path": "{p}", "size": {s}, "crc32c": "0000000{c}", "md5": null, "sha256": null}}\n'
    (tmp_path / "s.jsonl").write_text(line.format(p="a", s=10, c=1) + line.format(p="b", s=20, c=2))
    (tmp_path / "t.jsonl").write_text(line.format(p="a", s=10, c=1))
    ctx = context(tmp_path, data_integrity={"manifests": [{"source": "s.jsonl", "target": "t.jsonl"}]})
    verdict = data_integrity.judge(ctx, data_integrity.measure(ctx), None)
    assert verdict.summary == "2 source objects, 30 bytes in 1 manifest pair: 1 verified, 1 difference(s)"
