"""``--verify-only``: compare two trees by checksum without copying, and write a manifest.

The manifest is JSON lines, one object per line, exactly
``{"path": str, "size": int, "crc32c": "8 hex" | null, "md5": "32 hex" | null, "sha256": "64 hex" | null}``
describing every destination object compared with its source, with the destination's own size and
digests (the verification step reads this format). One that differs from its source is in it too, with
its digests (null where it could not be read): left out, the data-integrity check called it "missing"
when it is there with other bytes.
Local files get all three digests in one read; cloud objects get what the store reports
(and a CRC32C computed by reading when the store has none to compare).
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.events import Emit, ItemDone, Progress, discard
from engine.transfer.backends import open_backend
from engine.transfer.backends.base import Backend, ObjectInfo
from engine.transfer.backends.local_walk import copy_rules
from engine.transfer.checksums import hash_file
from engine.transfer.plan import diff
from engine.transfer.summary import reason_category
from engine.transfer.urls import parse_url

STEP = "transfer"


@dataclass
class VerifyReport:
    """The outcome of comparing two trees."""

    matched: int = 0
    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """In the source, not in the destination."""
    extra: list[str] = field(default_factory=list)
    """In the destination, not in the source."""
    bytes: int = 0
    manifest_path: str | None = None
    not_compared: Counter = field(default_factory=Counter)
    """Source entries a copy with the same options leaves alone (a sub-folder without -r, a link
    skipped), by reason: not compared, and said, so "verified 3" is not read as the whole tree."""

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing)

    def to_event(self) -> dict[str, Any]:
        return {"event": "summary", "verify_only": True, "matched": self.matched,
                "mismatched": len(self.mismatched), "missing": len(self.missing), "extra": len(self.extra),
                "bytes": self.bytes, "ok": self.ok, "manifest": self.manifest_path,
                "not_compared_by_reason": dict(sorted(self.not_compared.items())),
                "copied": 0, "deleted": 0, "skipped": 0, "failed": len(self.mismatched) + len(self.missing),
                "verified": self.matched,
                "mismatched_paths": self.mismatched[:1000], "missing_paths": self.missing[:1000]}

    def line(self) -> str:
        text = (f"verified {self.matched}, mismatched {len(self.mismatched)}, missing {len(self.missing)}, "
                f"extra in destination {len(self.extra)}")
        if self.not_compared:
            text += "; not compared (a copy leaves them): " + ", ".join(
                f"{n:,} {why}" for why, n in sorted(self.not_compared.items()))
        return text


def _digests(backend: Backend, info: ObjectInfo) -> dict[str, Any]:
    """crc32c/md5/sha256 (hex or None) for one object; reads it only when needed."""
    if backend.scheme == "file":
        h = hash_file(os.path.join(backend.loc.path, *info.path.split("/")), md5=True, sha256=True)
        return {"crc32c": h.crc32c_hex, "md5": h.md5_hex, "sha256": h.sha256_hex}
    backend.full_checksums(info)
    crc, md5 = info.crc32c, info.md5
    if crc is None:
        h = backend.hash_object(info, md5=md5 is None, sha256=True)
        return {"crc32c": h.crc32c_hex, "md5": md5 or h.md5_hex, "sha256": h.sha256_hex}
    return {"crc32c": crc, "md5": md5, "sha256": None}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    for algo in ("crc32c", "md5", "sha256"):
        if a.get(algo) and b.get(algo):
            return bool(a[algo] == b[algo])
    return None


def verify_trees(src_url: str, dst_url: str, manifest_path: str | Path | None = None, *,
                 emit: Emit = discard, jobs: int = 8, exclude: list[str] | None = None,
                 base_dir: Path | None = None, recursive: bool = True, follow_symlinks: bool = True,
                 skip_broken_symlinks: bool = False) -> VerifyReport:
    """Compare every object of ``src_url`` with ``dst_url`` by checksum; write the manifest if asked.

    The trees are walked with the copy's link rules (``follow_symlinks``, ``skip_broken_symlinks``,
    a link into a local destination never entered): the set compared is the set a copy with the
    same options produces, so an entry the copy deliberately skips is not "missing"."""
    src_loc, dst_loc = parse_url(src_url, base_dir), parse_url(dst_url, base_dir)
    rules, dst_rules = copy_rules(follow_symlinks, skip_broken_symlinks, dst_loc.path if dst_loc.is_local else None)
    src = open_backend(src_loc, jobs=jobs, rules=rules)
    dst = open_backend(dst_loc, jobs=jobs, rules=dst_rules)
    report = VerifyReport(manifest_path=str(manifest_path) if manifest_path else None)
    lock = threading.Lock()
    # The manifest is written beside its name and renamed only when every object was compared: one cut short
    # (an error, Ctrl-C) looked complete and read as "missing" objects in the verification's data-integrity
    # check.  An older manifest under the name is removed first: no file is better than a stale one.
    final = Path(manifest_path) if manifest_path else None
    partial = final.with_name(final.name + ".partial") if final else None
    if final is not None and final.exists():
        final.unlink()
    out = open(partial, "w", encoding="utf-8") if partial else None  # noqa: SIM115
    finished = False
    done = [0]

    def check(s: ObjectInfo, d: ObjectInfo) -> None:
        try:
            ds = _digests(src, s)
            dd = _digests(dst, d)
            same = _same(ds, dd)
            if same is None:  # no checksum in common: read the destination for a CRC32C
                dd["crc32c"] = dst.hash_object(d).crc32c_hex
                same = _same(ds, dd)
            ok = bool(same) and s.size == d.size
            error = ""
        except Exception as exc:  # noqa: BLE001 - reported per object
            ok, dd, error = False, {"crc32c": None, "md5": None, "sha256": None}, f"{type(exc).__name__}: {exc}"
        with lock:
            done[0] += 1
            if ok:
                report.matched += 1
                report.bytes += d.size
            else:
                report.mismatched.append(s.path)
            if out is not None:
                out.write(json.dumps({"path": d.path, "size": d.size, "crc32c": dd.get("crc32c"),
                                      "md5": dd.get("md5"), "sha256": dd.get("sha256")},
                                     ensure_ascii=False) + "\n")
        emit(ItemDone(STEP, item=s.path, status="verified" if ok else "mismatch",
                      detail=error or ("" if ok else "checksums differ"), data={"size": s.size}))
        emit(Progress(STEP, done=done[0], unit="objects", label="verified"))

    try:
        with ThreadPoolExecutor(jobs, thread_name_prefix="verify") as pool:
            futures = []
            for act in diff(src.list(recursive), dst.list(recursive), delete=True, exclude=exclude,
                            dst_scheme=dst.scheme):
                if act.kind == "notcopied" and act.src is not None:
                    report.not_compared[reason_category(act.reason)] += 1
                if act.kind in ("excluded", "notcopied"):
                    continue
                if act.kind == "error":  # an entry that cannot be listed cannot be verified
                    report.missing.append(act.path)
                    emit(ItemDone(STEP, item=act.path, status="missing", detail=act.reason))
                    continue
                if act.src is not None and act.dst is not None:
                    futures.append(pool.submit(check, act.src, act.dst))
                elif act.src is not None:
                    report.missing.append(act.path)
                    emit(ItemDone(STEP, item=act.path, status="missing", detail="not in the destination"))
                elif act.dst is not None:
                    report.extra.append(act.path)
                if len(futures) > jobs * 16:
                    futures = [f for f in futures if not f.done()]
            for f in futures:
                f.result()
        finished = True
    finally:
        if out is not None:
            out.close()
            if finished and partial is not None and final is not None:
                partial.replace(final)
        src.close()
        dst.close()
    return report
