"""Scale of the local engine: planning and a dry run over two synthetic 10,000,000-entry listings.

Run: .venv/bin/python benchmarks/bench_transfer_scale.py [--n 10000000] [--jobs 8]

The listings are generated on the fly (never stored): ``data/DDDDD/obj-NNNNNNNNN.bin``, 1,000
per directory, in byte order; against the destination 1% of the entries changed size, 0.1%
are new and 0.1% exist only in the destination (deleted with -d).  Each phase runs in its own
process so its peak RSS is its own:

* generate: the two listings alone (what producing the entries costs; the floor of the rest);
* plan:     ``diff`` of the two listings (what ``plan_transfer`` does after listing);
* dry-run:  the whole engine (``Transfer.run(dry_run=True)``: progress, would_copy events)
            over two synthetic backends, without -d (plan and copies stream together);
* dry-run-d: the same with -d: the engine plans to the end first (spooled to SQLite) so the
            delete guards can refuse before anything changes, then reads the plan back.

Targets (issue 9): under 100 s and under 500 MB peak for 10M entries on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.transfer.backends.base import ObjectInfo  # noqa: E402

MTIME = 1_700_000_000.0
_SUFFIX = [f"{j:03d}.bin" for j in range(1000)]


MD5 = "0" * 32
"""One MD5 for every entry: a bucket-to-bucket listing (S3 single-part ETags, GCS) reports one, so
same-size entries are decided in the planner.  ``--no-checksums`` drops it: then every same-size
pair is a ``check`` for a worker (a HEAD each in a real run), as for multipart/composite objects."""
CHECKSUMS = "--no-checksums" not in sys.argv


def synthetic_listing(n: int, side: str) -> Iterator[ObjectInfo]:
    """``n`` entries in byte order, cheap to make (one string join and one record each).

    src vs dst: every 100th entry differs in size, every 1000th (offset 7) is only in src,
    every 1000th (offset 3, name "...x") only in dst."""
    src = side == "src"
    md5 = MD5 if CHECKSUMS else None
    info = ObjectInfo
    for d in range(-(-n // 1000)):
        head = f"data/{d // 1000:05d}/obj-{d:06d}"
        top = min(1000, n - d * 1000)
        for j in range(top):
            if j == 7 and not src:
                continue
            path = head + _SUFFIX[j]
            yield info(path, 1001 if src and j % 100 == 0 else 1000, MTIME, True, md5=md5)
            if j == 3 and not src:
                yield info(path + "x", 1000, MTIME, True, md5=md5)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_generate(n: int) -> dict:
    t0 = time.perf_counter()
    count = 0
    for _ in synthetic_listing(n, "src"):
        count += 1
    for _ in synthetic_listing(n, "dst"):
        count += 1
    return {"wall_s": time.perf_counter() - t0, "entries": count}


def phase_plan(n: int) -> dict:
    from engine.transfer.plan import diff

    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    for act in diff(synthetic_listing(n, "src"), synthetic_listing(n, "dst"), delete=True):
        counts[act.kind] = counts.get(act.kind, 0) + 1
    return {"wall_s": time.perf_counter() - t0, "actions": counts}


def phase_dry_run(n: int, jobs: int, delete: bool, emit: Any = None) -> dict:
    from engine.events import discard
    from engine.transfer.backends.base import Backend
    from engine.transfer.control import TransferControl
    from engine.transfer.execute import Transfer
    from engine.transfer.journal import Journal
    from engine.transfer.urls import parse_url

    class Synthetic(Backend):
        scheme = "s3"

        def __init__(self, side: str):
            super().__init__(parse_url(f"s3://synthetic-{side}/data"))
            self.side = side

        def list(self, recursive=True, start_after=None, end_before=None):
            return synthetic_listing(n, self.side)

        def __getattr__(self, name):  # any read or write would be a bug in a dry run
            raise AssertionError(f"dry run touched {name}")

    for abstract in ("stat", "open_read", "read_range", "put", "put_stream", "begin_parts", "put_part",
                     "finish_parts", "abort_parts", "delete"):
        setattr(Synthetic, abstract, lambda self, *a, _n=abstract, **k: (_ for _ in ()).throw(AssertionError(_n)))
    Synthetic.__abstractmethods__ = frozenset()
    t0 = time.perf_counter()
    engine = Transfer(src=Synthetic("src"), dst=Synthetic("dst"), src_url="s3://synthetic-src/data",
                      dst_url="s3://synthetic-dst/data", emit=emit or discard, journal=Journal(None),
                      control=TransferControl(), dry_run=True, delete=delete, max_delete=10**9, jobs=jobs)
    s = engine.run()
    return {"wall_s": time.perf_counter() - t0,
            "summary": {"would_copy": s.copied, "would_delete": s.deleted, "skipped": s.skipped, "bytes": s.bytes}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--phase", choices=["generate", "plan", "dry-run", "dry-run-d"])
    ap.add_argument("--skip", action="append", default=[], help="phases to leave out")
    ap.add_argument("--no-checksums", action="store_true",
                    help="listings without a checksum in common: every same-size pair becomes a check")
    a = ap.parse_args()
    if a.phase:
        base = _peak_mb()
        out = (phase_generate(a.n) if a.phase == "generate" else phase_plan(a.n) if a.phase == "plan"
               else phase_dry_run(a.n, a.jobs, a.phase == "dry-run-d"))
        out.update(peak_mb=_peak_mb(), import_mb=base)
        print(json.dumps(out))
        return
    print(f"synthetic listing pair: 2 x {a.n:,} entries (1% changed, 0.1% new, 0.1% only in the destination); "
          f"`{Path(sys.executable).name} benchmarks/bench_transfer_scale.py --n {a.n}`")
    results = {}
    for phase in ("generate", "plan", "dry-run", "dry-run-d"):
        if phase in a.skip:
            continue
        r = subprocess.run([sys.executable, __file__, "--n", str(a.n), "--jobs", str(a.jobs), "--phase", phase,
                            *(["--no-checksums"] if a.no_checksums else [])],
                           capture_output=True, text=True, cwd=REPO)
        if r.returncode:
            raise SystemExit(f"{phase} failed: {r.stderr[-2000:]}")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        results[phase] = res
        detail = res.get("actions") or res.get("summary") or {"entries": res.get("entries")}
        print(f"  {phase:8s} {res['wall_s']:7.1f} s  {a.n / res['wall_s']:>10,.0f} objects/s  "
              f"peak RSS {res['peak_mb']:6.0f} MB (after imports {res['import_mb']:.0f} MB)  {detail}")
    gen = results["generate"]["wall_s"] if "generate" in results else float("nan")
    for phase in ("plan", "dry-run", "dry-run-d"):
        if phase not in results:
            continue
        r = results[phase]
        met = r["wall_s"] < 100 and r["peak_mb"] < 500
        print(f"  {phase}: {r['wall_s']:.1f} s ({r['wall_s'] - gen:.1f} s beyond generating the listings), "
              f"{r['peak_mb']:.0f} MB -> target <100 s and <500 MB {'met' if met else 'MISSED'}; "
              f"ratio to generation alone {r['wall_s'] / gen:.2f}")


if __name__ == "__main__":
    main()
