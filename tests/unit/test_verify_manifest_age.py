"""Data integrity on manifest files written before the session's last transfer run is not a PASS (s8target).

A manifest pair describes the copy that was there when `transfer --verify-only` wrote it. After a later transfer
run (`replay --again transfer`, the final pass) the destination is another copy, and the old pair "verified" it:
"all agree", PASS. Now such a pair is not counted: the check is not run (INCOMPLETE) with the times and what to
do, unless every [[transfer]] entry is compared now (`transfers = true`), which then carries the verdict. The
write time of each pair is in the details whatever the verdict.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from engine.profile import load_profile
from engine.runner import run_steps
from engine.session import SessionStore


def _line(path: str, size: int, crc: str) -> str:
    return json.dumps({"path": path, "size": size, "crc32c": crc, "md5": None, "sha256": None}) + "\n"


def _setup(tmp_path: Path, live: bool = False) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("hello")
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "a.txt").write_text("hello")
    for name in ("m_src.jsonl", "m_dst.jsonl"):
        (tmp_path / name).write_text(_line("a.txt", 5, "9a71bb4c"))
    old = time.time() - 3600  # written an hour ago
    for name in ("m_src.jsonl", "m_dst.jsonl"):
        os.utime(tmp_path / name, (old, old))
    path = tmp_path / "p.toml"
    path.write_text('name = "m"\n[source]\nprovider = "local"\n[verify.gpu]\noptional = true\n'
                    '[[transfer]]\nsrc = "src"\ndst = "dst"\n'
                    '[verify]\nchecks = ["data_integrity"]\n'
                    f'[verify.data_integrity]\ntransfers = {"true" if live else "false"}\n'
                    '[[verify.data_integrity.manifests]]\nsource = "m_src.jsonl"\ntarget = "m_dst.jsonl"\n'
                    'label = "set"\n')
    return path


def _integrity(path: Path, session: SessionStore) -> tuple[dict, object]:
    summary = run_steps(load_profile(path), ["verify"], emit=lambda e: None, profile_path=path, session=session,
                        options={"again": ["verify"]})
    result = summary.results["verify"]
    return next(c for c in result.data["report"]["checks"] if c["name"] == "data_integrity"), result


def test_manifests_older_than_the_last_transfer_run_are_not_a_pass(tmp_path: Path) -> None:
    path = _setup(tmp_path)
    with SessionStore.open("old-manifests") as session:
        session.set_step("transfer", "running")
        session.set_step("transfer", "completed", result={"summary": "copied 1"})
        check, result = _integrity(path, session)
        assert check["status"] == "not-run", check
        assert "manifest pair set (written " in check["summary"]
        assert "predates the last transfer run (completed " in check["summary"]
        assert "it describes an earlier copy, not the destination now" in check["summary"]
        assert "--verify-only --manifest" in check["summary"] and "transfers = true" in check["summary"]
        assert result.summary.startswith("INCOMPLETE"), result.summary

        for name in ("m_src.jsonl", "m_dst.jsonl"):  # written again after the copy: counted
            os.utime(tmp_path / name, None)
        check, result = _integrity(path, session)
        assert check["status"] == "pass", check
        assert any(d.startswith("set: manifests written ") for d in check["details"]), check["details"]


def test_a_stale_pair_beside_every_transfer_compared_now_is_left_out_and_said(tmp_path: Path) -> None:
    path = _setup(tmp_path, live=True)
    with SessionStore.open("old-manifests-live") as session:
        session.set_step("transfer", "running")
        session.set_step("transfer", "completed", result={"summary": "copied 1"})
        check, _ = _integrity(path, session)
        assert check["status"] == "pass", check
        assert "1 transfer checked now" in check["summary"] and "manifest pair" not in check["summary"]
        assert any("set: not counted: written " in d and "predates the last transfer run" in d
                   for d in check["details"]), check["details"]
