"""Event latency across processes: from a driver writing an event to a watcher seeing it.

Run: .venv/bin/python -m benchmarks.bench_session_latency [--events 400] [--watchers 2] [--interval-ms 10]

One writer process appends events to a session (as a worker does: one
``SessionStore.append`` per event, WAL mode) while N watcher processes follow
the session the way the app does (``events_after`` then a 50 ms wait when
nothing is new; ``tui.pairing.POLL_S``).  Each watcher records, per event, the
time it saw it minus the event's own write timestamp (one machine, one clock).
The target from issue 8 is 250 ms; a second pass with progress-sized bursts
shows what a busy transfer looks like.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POLL_S = 0.05  # tui.pairing.POLL_S (not imported: that module imports Textual)

WATCHER = """
import json, sys, time
from engine.session import SessionStore
name, total, poll = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
store = SessionStore.open(name)
print("ready", flush=True)
seq, lat = 0, []
while len(lat) < total:
    batch = store.events_after(seq)
    now = time.time()
    for ev in batch:
        seq = ev.seq
        if ev.kind == "bench":
            lat.append(now - ev.ts)
    if not batch:
        time.sleep(poll)
print(json.dumps(lat), flush=True)
"""

WRITER = """
import sys, time
from engine.session import SessionStore
name, total, interval, burst = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
store = SessionStore.open(name)
for i in range(total):
    for j in range(burst - 1):
        store.append("transfer", "progress", {"done": j, "label": "bytes"})
    store.append("transfer", "bench", {"i": i})
    time.sleep(interval)
"""


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def run(events: int, watchers: int, interval_s: float, burst: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ, GPUMIGRATE_STATE_DIR=state, PYTHONPATH=str(REPO))
        name = f"bench{burst}"
        subprocess.run([sys.executable, "-c", "from engine.session import SessionStore; SessionStore.open(%r).close()"
                        % name], env=env, check=True, cwd=REPO)
        procs = [subprocess.Popen([sys.executable, "-c", WATCHER, name, str(events), str(POLL_S)], env=env,
                                  cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(watchers)]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", WRITER, name, str(events), str(interval_s), str(burst)], env=env,
                       cwd=REPO, check=True)
        wall = time.perf_counter() - t0
        lat: list[float] = []
        for p in procs:
            out, _ = p.communicate(timeout=120)
            lat += json.loads(out.strip().splitlines()[-1])
    ms = [x * 1000 for x in lat]
    return {"n": len(ms), "p50": statistics.median(ms), "p95": _pct(ms, 95), "p99": _pct(ms, 99), "max": max(ms),
            "rows_per_s": events * burst / wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=400)
    ap.add_argument("--watchers", type=int, default=2)
    ap.add_argument("--interval-ms", type=float, default=10.0)
    a = ap.parse_args()
    print(f"{a.watchers} watcher processes following one writer process; watcher poll {POLL_S * 1000:.0f} ms; "
          f"target: seen within 250 ms")
    for burst, label in ((1, "one event per write"), (20, "bursts of 20 rows (busy transfer)")):
        r = run(a.events, a.watchers, a.interval_ms / 1000, burst)
        verdict = "meets" if r["p95"] <= 250 else "MISSES"
        print(f"{label:<36} n={r['n']:<5} p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
              f"max {r['max']:6.1f} ms  ({r['rows_per_s']:.0f} rows/s written; {verdict} the 250 ms target at p95)")


if __name__ == "__main__":
    main()
