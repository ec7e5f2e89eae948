"""Planning: diff two synthetic byte-ordered listings of N entries with 1% changed.

Run: .venv/bin/python benchmarks/bench_transfer_plan.py [--n 1000000]
Prints wall time, entries/s and peak RSS growth (target: 1M under 10 s and 300 MB).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.transfer.plan import diff  # noqa: E402


def listing(n: int, side: str):
    """Cheap synthetic listings (shared with bench_transfer_scale): 1% changed, 0.1% new, 0.1% deleted."""
    from benchmarks.bench_transfer_scale import synthetic_listing

    return synthetic_listing(n, side)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    a = ap.parse_args()
    t0 = time.perf_counter()
    for _ in zip(listing(a.n, "src"), listing(a.n, "dst")):
        pass
    gen = time.perf_counter() - t0
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    for act in diff(listing(a.n, "src"), listing(a.n, "dst"), delete=True):
        counts[act.kind] = counts.get(act.kind, 0) + 1
    dt = time.perf_counter() - t0
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    total_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"planning diff of 2 x {a.n:,} entries, 1% changed: {dt:.2f} s, {a.n / dt:,.0f} entries/s, "
          f"peak RSS growth {peak:.1f} MB (process peak {total_rss:.1f} MB); actions {counts}")
    print(f"  of which generating the two synthetic listings: {gen:.2f} s; the merge itself: {dt - gen:.2f} s")
    print(f"targets: < 10 s -> {'met' if dt < 10 else 'MISSED'}; < 300 MB -> {'met' if total_rss < 300 else 'MISSED'}")


if __name__ == "__main__":
    main()
