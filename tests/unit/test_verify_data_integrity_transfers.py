"""Data integrity checked live against the profile's [[transfer]] entries (no manifests needed)."""

from __future__ import annotations

from pathlib import Path

from engine.transfer.api import run_transfer
from engine.transfer.spec import TransferSpec
from engine.verify.checks import data_integrity
from engine.verify.checks.base import CheckContext
from engine.verify.section import VerifySection


def _tree(root: Path) -> None:
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.bin").write_bytes(b"x" * 5000)
    (root / "y ü.txt").write_text("hello")


def _ctx(tmp_path: Path, spec: TransferSpec) -> CheckContext:
    section = VerifySection.model_validate({"data_integrity": {"transfers": True}})
    return CheckContext(section=section, base_dir=tmp_path, transfers=[spec])


def test_a_finished_transfer_agrees_and_an_altered_object_is_caught(tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    spec = TransferSpec(src=str(tmp_path / "src"), dst=str(tmp_path / "dst"))
    assert run_transfer(spec, emit=lambda e: None, journal=False).ok
    ctx = _ctx(tmp_path, spec)
    measured = data_integrity.measure(ctx)
    verdict = data_integrity.judge(ctx, measured, None)
    assert verdict.passed and verdict.summary == "2 source objects in 1 transfer checked now: all agree (5,005 bytes)"
    (tmp_path / "dst" / "a" / "x.bin").write_bytes(b"y" * 5000)  # same size, other bytes
    (tmp_path / "dst" / "y ü.txt").unlink()
    verdict = data_integrity.judge(ctx, data_integrity.measure(ctx), None)
    assert not verdict.passed
    text = "\n".join(verdict.details)
    assert "checksum: a/x.bin" in text and "missing: y ü.txt" in text


def test_an_altered_object_in_verify_only_manifests_is_a_checksum_difference_not_missing(tmp_path: Path) -> None:
    """The destination's manifest lists an object that differs from its source with its own digests;
    it left it out, and the manifest comparison called an object that is there 'missing'."""
    from engine.transfer.verify import verify_trees
    from engine.verify.checks.base import run_check
    from tests.verify_support import context

    _tree(tmp_path / "src")
    spec = TransferSpec(src=str(tmp_path / "src"), dst=str(tmp_path / "dst"))
    assert run_transfer(spec, emit=lambda e: None, journal=False).ok
    (tmp_path / "dst" / "a" / "x.bin").write_bytes(b"y" * 5000)  # same size, other bytes
    assert verify_trees(str(tmp_path / "src"), str(tmp_path / "src"), tmp_path / "s.jsonl").ok
    report = verify_trees(str(tmp_path / "src"), str(tmp_path / "dst"), tmp_path / "d.jsonl")
    assert report.mismatched == ["a/x.bin"] and report.matched == 1
    result = run_check(data_integrity, context(tmp_path, data_integrity={
        "manifests": [{"source": "s.jsonl", "target": "d.jsonl"}]}), None)
    assert result.status == "fail"
    text = "\n".join(result.details)
    assert "a/x.bin" in text and "missing" not in text, text


def test_an_entry_that_skips_links_is_checked_with_its_own_link_rules(tmp_path: Path) -> None:
    """follow_symlinks = false: the copy leaves a link to a folder outside the tree; the live check
    walked the trees with the default rules and called that folder's files missing."""
    _tree(tmp_path / "src")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "big.bin").write_bytes(b"z")
    (tmp_path / "src" / "scratch").symlink_to(tmp_path / "elsewhere")
    spec = TransferSpec(src=str(tmp_path / "src"), dst=str(tmp_path / "dst"), follow_symlinks=False)
    assert run_transfer(spec, emit=lambda e: None, journal=False).ok
    ctx = _ctx(tmp_path, spec)
    verdict = data_integrity.judge(ctx, data_integrity.measure(ctx), None)
    assert verdict.passed, verdict.details
