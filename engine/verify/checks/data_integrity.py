"""Data integrity: source and destination manifests agree object for object.

Manifests are JSON lines written by ``gpumigrate transfer --verify-only``::

    {"path": str, "size": int, "crc32c": 8-hex|null, "md5": 32-hex|null, "sha256": 64-hex|null}

Objects are matched by path.  Sizes must be equal; checksums are compared on
every algorithm both sides recorded (an object with no algorithm in common is
counted as "unverified": a difference, since nothing proves its content).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.verify.checks.base import CheckContext, CheckError, Skip, Verdict

NAME = "data_integrity"
TITLE = "Data integrity"
MEASURES = "transfer manifests of source and destination: count, bytes and checksums, object for object"

ALGORITHMS = {"crc32c": re.compile(r"^[0-9a-f]{8}$"), "md5": re.compile(r"^[0-9a-f]{32}$"),
              "sha256": re.compile(r"^[0-9a-f]{64}$")}


class ManifestError(ValueError):
    """A manifest line that breaks the format (with file and line)."""


@dataclass(frozen=True)
class Entry:
    size: int
    sums: dict[str, str]


def read_manifest(path: Path) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    try:
        stream = open(path, encoding="utf-8")
    except OSError as exc:
        unfinished = path.with_name(path.name + ".partial")
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}" + (
            f" ({unfinished.name} is there: the `transfer --verify-only` run writing it did not finish)"
            if unfinished.exists() else "")) from None
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or set(row) != {"path", "size", *ALGORITHMS}:
                raise ManifestError(f"{path}:{number}: expected exactly the fields path, size, crc32c, md5, sha256")
            name, size = row["path"], row["size"]
            if not isinstance(name, str) or not name:
                raise ManifestError(f"{path}:{number}: path must be a non-empty string")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ManifestError(f"{path}:{number}: size must be a non-negative integer")
            sums: dict[str, str] = {}
            for algo, pattern in ALGORITHMS.items():
                value = row[algo]
                if value is None:
                    continue
                if not isinstance(value, str) or not pattern.match(value.lower()):
                    raise ManifestError(f"{path}:{number}: {algo} {value!r} is not a valid {algo}")
                sums[algo] = value.lower()
            if name in entries:
                raise ManifestError(f"{path}:{number}: {name!r} is listed twice")
            entries[name] = Entry(size, sums)
    return entries


def compare(source: dict[str, Entry], target: dict[str, Entry]) -> dict[str, list[dict[str, Any]]]:
    """Differences by kind: missing (in source, not target), extra, size, checksum, unverified."""
    out: dict[str, list[dict[str, Any]]] = {"missing": [], "extra": [], "size": [], "checksum": [], "unverified": []}
    for name in sorted(source.keys() - target.keys()):
        out["missing"].append({"path": name, "size": source[name].size})
    for name in sorted(target.keys() - source.keys()):
        out["extra"].append({"path": name, "size": target[name].size})
    for name in sorted(source.keys() & target.keys()):
        s, t = source[name], target[name]
        if s.size != t.size:
            out["size"].append({"path": name, "source": s.size, "target": t.size})
            continue
        common = [a for a in ALGORITHMS if a in s.sums and a in t.sums]
        if not common:
            out["unverified"].append({"path": name, "source": sorted(s.sums), "target": sorted(t.sums)})
            continue
        bad = [a for a in common if s.sums[a] != t.sums[a]]
        if bad:
            out["checksum"].append({"path": name, "algorithm": bad[0], "source": s.sums[bad[0]],
                                    "target": t.sums[bad[0]]})
    return out


def measure(ctx: CheckContext) -> dict[str, Any]:
    cfg = ctx.section.data_integrity
    live = [t for t in ctx.transfers if t.engine == "local"] if cfg.transfers else []
    if not cfg.manifests and not live:
        raise Skip("nothing to compare: no manifests ([[verify.data_integrity.manifests]]) and "
                   "data_integrity.transfers is off or no [[transfer]] entry runs locally")
    pairs: list[dict[str, Any]] = [_compare_transfer(ctx, spec, cfg.max_listed) for spec in live]
    for i, pair in enumerate(cfg.manifests):
        try:
            source = read_manifest(ctx.path(pair.source))
            target = read_manifest(ctx.path(pair.target))
            written = min(ctx.path(pair.source).stat().st_mtime, ctx.path(pair.target).stat().st_mtime)
        except ManifestError as exc:
            raise CheckError(str(exc)) from None
        except OSError as exc:  # removed between the read and the stat
            raise CheckError(f"{pair.target}: {exc.strerror or exc}") from None
        diffs = compare(source, target)
        counts = {kind: len(items) for kind, items in diffs.items()}
        listed = {kind: items[: cfg.max_listed] for kind, items in diffs.items() if items}
        pairs.append({
            "label": pair.label or Path(pair.target).name,
            "source_objects": len(source), "target_objects": len(target),
            "source_bytes": sum(e.size for e in source.values()),
            "target_bytes": sum(e.size for e in target.values()),
            "verified": sum(1 for n in source.keys() & target.keys()
                            if source[n].size == target[n].size
                            and any(a in source[n].sums and a in target[n].sums for a in ALGORITHMS)) - counts["checksum"],
            "differences": counts, "listed": listed, "written_at": written,
        })
        ctx.progress(i + 1, len(cfg.manifests))
    return {"pairs": pairs}


def _compare_transfer(ctx: CheckContext, spec: Any, max_listed: int) -> dict[str, Any]:
    """Compare one [[transfer]] entry's two trees now, through the transfer engine's verifier."""
    from engine.errors import GpumigrateError
    from engine.transfer.api import verify_trees

    try:
        report = verify_trees(spec.src, spec.dst, exclude=list(spec.exclude), base_dir=ctx.base_dir,
                              recursive=spec.recursive, follow_symlinks=spec.follow_symlinks,
                              skip_broken_symlinks=spec.skip_broken_symlinks)
    except GpumigrateError as exc:
        raise CheckError(f"{spec.src} -> {spec.dst}: {exc}") from None
    counts = {"missing": len(report.missing), "extra": len(report.extra) if spec.delete else 0,
              "size": 0, "checksum": len(report.mismatched), "unverified": 0}
    # The tree comparison keeps paths, not sizes: say where each one stands rather than "? bytes"
    listed = {kind: [{"path": p, "where": where} for p in paths[:max_listed]]
              for kind, paths, where in (("missing", report.missing, "not in the destination"),
                                         ("extra", report.extra if spec.delete else [], "not in the source"))
              if paths}
    if report.mismatched:
        listed["checksum"] = [{"path": p, "where": "its size or content differs from the source's"}
                              for p in report.mismatched[:max_listed]]
    objects = report.matched + len(report.mismatched) + len(report.missing)
    return {"label": f"{spec.src} -> {spec.dst} (checked now)", "checked_now": True, "source_objects": objects,
            "target_objects": report.matched + len(report.mismatched) + len(report.extra),
            "source_bytes": None, "target_bytes": None, "verified": report.matched,
            "verified_bytes": report.bytes, "differences": counts, "listed": listed}


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _stale_pairs(ctx: CheckContext, pairs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The pairs to count, and what is said of those written before the session's last transfer run.

    Such a pair describes an earlier copy, not the destination now: it "verified" a destination the final pass
    had changed since.  It is not counted: the check is not run, unless every [[transfer]] entry is compared now
    (``transfers = true``, local entries), which then carries the verdict."""
    if ctx.last_copy is None:
        return pairs, []
    at, state = ctx.last_copy
    when = f"running since {_clock(at)}" if state == "running" else f"{state} {_clock(at)}"
    stale = [p for p in pairs if not p.get("checked_now") and p.get("written_at") and p["written_at"] < at]
    if not stale:
        return pairs, []
    words = [f"manifest pair {p['label']} (written {_clock(p['written_at'])}) predates the last transfer run "
             f"({when})" for p in stale]
    every_live = (ctx.section.data_integrity.transfers and bool(ctx.transfers)
                  and all(t.engine == "local" for t in ctx.transfers))
    if not every_live:
        raise Skip("; ".join(words) + (": it describes" if len(stale) == 1 else ": they describe")
                   + " an earlier copy, not the destination now. Write the manifests "
                   "again after the copy (`gpumigrate transfer SRC DST --verify-only --manifest FILE`), or set "
                   "[verify.data_integrity] transfers = true to compare the trees now")
    notes = [f"{p['label']}: not counted: written {_clock(p['written_at'])}, it predates the last transfer run "
             f"({when}); every [[transfer]] entry was compared now instead" for p in stale]
    return [p for p in pairs if p not in stale], notes


def judge(ctx: CheckContext, measured: dict[str, Any], baseline: dict[str, Any] | None) -> Verdict:
    details: list[str] = []
    total_diff = 0
    objects = 0
    verified = 0
    pairs, stale_notes = _stale_pairs(ctx, measured["pairs"])
    for pair in pairs:
        if pair.get("written_at"):
            details.append(f"{pair['label']}: manifests written {_clock(pair['written_at'])} (the older of the two)")
        objects += pair["source_objects"]
        verified += pair.get("verified") or 0
        n = sum(pair["differences"].values())
        total_diff += n
        if n:
            kinds = ", ".join(f"{v} {k}" for k, v in pair["differences"].items() if v)
            details.append(f"{pair['label']}: {kinds}")
            for kind, items in pair["listed"].items():
                for item in items:
                    details.append(f"  {kind}: {_describe(kind, item)}")
    details += stale_notes
    summary = _summary(pairs, objects, verified, total_diff)
    threshold = "every object present on both sides with the same size and checksums"
    empty = [p["label"] for p in pairs if not p["source_objects"] and not p["target_objects"]]
    if empty and not total_diff:  # two empty files (a listing that wrote nothing) "agree": nothing was verified
        raise Skip(f"{summary}, but {', '.join(empty)}: neither side lists any object, so nothing was verified "
                   "(write the manifests again with `gpumigrate transfer --verify-only`)")
    return Verdict(total_diff == 0, summary, threshold, details)


def _summary(pairs: list[dict[str, Any]], objects: int, verified: int, total_diff: int) -> str:
    """"6 source objects in 1 transfer checked now: 2 verified (3,000 bytes), 4 difference(s)".

    A tree checked now knows the bytes of what matched only; a manifest pair knows the source's total.  Each is
    said as what it is (the matched bytes once read as the source's size)."""
    live = [p for p in pairs if p.get("checked_now")]
    files = [p for p in pairs if not p.get("checked_now")]
    where = [f"{len(files)} manifest pair" + ("" if len(files) == 1 else "s")] if files else []
    where += [f"{len(live)} transfer" + ("" if len(live) == 1 else "s") + " checked now"] if live else []
    head = f"{objects} source objects"
    if files and not live:
        head += f", {sum(p['source_bytes'] for p in files):,} bytes"
    head += f" in {' and '.join(where)}"
    live_bytes = f" ({sum(p.get('verified_bytes') or 0 for p in live):,} bytes)" if live and not files else ""
    if not total_diff:
        return f"{head}: all agree{live_bytes}"
    return f"{head}: {verified} verified{live_bytes}, {total_diff} difference(s)"


def _describe(kind: str, item: dict[str, Any]) -> str:
    if "where" in item:  # a tree checked now: paths and where they stand, no sizes
        return f"{item['path']} ({item['where']})"
    if kind == "size":
        return f"{item['path']} ({item['source']} bytes at the source, {item['target']} at the destination)"
    if kind == "checksum":
        return f"{item['path']} ({item['algorithm']} {item['source']} != {item['target']})"
    if kind == "unverified":
        return f"{item['path']} (no checksum in common: {item['source']} vs {item['target']})"
    return f"{item['path']} ({item['size']} bytes)"
