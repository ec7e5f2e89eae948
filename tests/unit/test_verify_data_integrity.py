"""Data integrity: manifests in the transfer engine's --verify-only format, compared object for object."""

from __future__ import annotations

import json
from pathlib import Path

from engine.verify.checks import data_integrity
from engine.verify.checks.base import run_check
from tests.verify_support import context


def _entry(path: str, size: int, crc: str | None = "0a0b0c0d", md5: str | None = None,
           sha: str | None = None) -> dict:
    return {"path": path, "size": size, "crc32c": crc, "md5": md5, "sha256": sha}


def _write(path: Path, entries: list[dict]) -> str:
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return path.name


def test_agreeing_manifests_pass(tmp_path: Path) -> None:
    entries = [_entry("a/b.bin", 10, md5="0" * 32), _entry("ü.txt", 0, crc="00000000")]
    src = _write(tmp_path / "s.jsonl", entries)
    dst = _write(tmp_path / "d.jsonl", [_entry("a/b.bin", 10, md5=None), _entry("ü.txt", 0, crc="00000000")])
    result = run_check(data_integrity, context(tmp_path, data_integrity={"manifests": [{"source": src, "target": dst}]}),
                       None)
    assert result.status == "pass", result.details
    assert result.figures["pairs"][0]["verified"] == 2


def test_every_kind_of_difference_is_listed(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.jsonl", [
        _entry("same", 1), _entry("missing", 5), _entry("short", 100), _entry("corrupt", 7, crc=None, sha="a" * 64),
        _entry("nocommon", 3, crc=None, md5="b" * 32),
    ])
    dst = _write(tmp_path / "d.jsonl", [
        _entry("same", 1), _entry("extra", 9), _entry("short", 99), _entry("corrupt", 7, crc=None, sha="c" * 64),
        _entry("nocommon", 3),
    ])
    result = run_check(data_integrity, context(tmp_path, data_integrity={"manifests": [{"source": src, "target": dst,
                                                                                         "label": "bucket"}]}), None)
    assert result.status == "fail"
    assert result.figures["pairs"][0]["differences"] == {"missing": 1, "extra": 1, "size": 1, "checksum": 1,
                                                        "unverified": 1}
    text = "\n".join(result.details)
    assert "missing: missing (5 bytes)" in text and "extra: extra" in text
    assert "short (100 bytes at the source, 99 at the destination)" in text
    assert f"sha256 {'a' * 64} != {'c' * 64}" in text and "no checksum in common" in text


def test_listing_is_capped_but_counts_are_not(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.jsonl", [_entry(f"f{i}", 1) for i in range(30)])
    dst = _write(tmp_path / "d.jsonl", [])
    result = run_check(data_integrity, context(tmp_path, data_integrity={
        "manifests": [{"source": src, "target": dst}], "max_listed": 5}), None)
    assert result.figures["pairs"][0]["differences"]["missing"] == 30
    assert sum(1 for d in result.details if d.strip().startswith("missing:")) == 5


def test_malformed_manifests_are_errors_with_the_line(tmp_path: Path) -> None:
    good = _write(tmp_path / "g.jsonl", [_entry("a", 1)])
    for name, text, why in [
        ("x1.jsonl", '{"path": "a", "size": 1}\n', "exactly the fields"),
        ("x2.jsonl", json.dumps(_entry("a", -1)) + "\n", "size"),
        ("x3.jsonl", json.dumps(_entry("a", 1, crc="xyz")) + "\n", "crc32c"),
        ("x4.jsonl", "garbage\n", "not JSON"),
        ("x5.jsonl", json.dumps(_entry("a", 1)) + "\n" + json.dumps(_entry("a", 1)) + "\n", "twice"),
    ]:
        (tmp_path / name).write_text(text)
        result = run_check(data_integrity, context(tmp_path, data_integrity={
            "manifests": [{"source": good, "target": name}]}), None)
        assert result.status == "error", name
        assert why in result.summary and f"{name}:" in result.summary, result.summary


def test_missing_manifest_file_is_an_error_and_none_configured_is_not_run(tmp_path: Path) -> None:
    result = run_check(data_integrity, context(tmp_path, data_integrity={
        "manifests": [{"source": "nope.jsonl", "target": "nope.jsonl"}]}), None)
    assert result.status == "error" and "cannot read" in result.summary
    assert run_check(data_integrity, context(tmp_path), None).status == "not-run"


def test_two_empty_manifests_verify_nothing_and_are_not_a_pass(tmp_path: Path) -> None:
    """A listing that wrote no line on either side 'agreed' as 0 objects: PASS (review session 6)."""
    full = [_entry("a.bin", 10)]
    pairs = [{"source": _write(tmp_path / "s1.jsonl", full), "target": _write(tmp_path / "d1.jsonl", full)},
             {"source": _write(tmp_path / "s2.jsonl", []), "target": _write(tmp_path / "d2.jsonl", []),
              "label": "checkpoints"}]
    result = run_check(data_integrity, context(tmp_path, data_integrity={"manifests": pairs}), None)
    assert result.status == "not-run", result.summary
    assert "but checkpoints: neither side lists any object, so nothing was verified" in result.summary
    pairs[1]["target"] = _write(tmp_path / "d2.jsonl", full)  # one side lists objects: a real difference
    assert run_check(data_integrity, context(tmp_path, data_integrity={"manifests": pairs}), None).status == "fail"
