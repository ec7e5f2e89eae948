"""When do the small files of a mixed tree get copied, and what does each process spend?

600 files of 0.1-9 KB + 2 x 200 MiB, S3 -> GCS (or local -> GCS with ``--local``) through
benchmarks/latency_proxy.py (N ms each way), gpumigrate (this checkout, or others with
``--also``) and ``rclone copy`` taking turns, each into a fresh bucket. Per run: wall time, the
CPU of the tool, moto, fake-gcs-server and the two proxies, and from gpumigrate's ``--json`` feed
how many small files were done by the time the last large object was, at what rate, and the rate
after. Small files that crawl while the large objects copy and then run at full speed point to
contention between the two (in the tool or the stand-ins), not to round trips.

Run: .venv/bin/python -m benchmarks.wan_timeline [--delay 10] [--jobs 8] [--repeat 3] [--local]
     [--also NAME=DIR[:EXTRA ARGS]] [--no-rclone]
     (``--also same=.:--part-size 64`` runs this checkout again with other options)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import latency_proxy  # noqa: E402
from benchmarks.bench_transfer_wan import RCLONE  # noqa: E402
from benchmarks.stand_in_run import add_tree_args, moto_and_gcs, seed_mixed_tree  # noqa: E402
from benchmarks.wan_requests import cpu_s  # noqa: E402
from tests import stand_ins  # noqa: E402

LARGE = 1 << 20


def timeline(out: str, started: float) -> str:
    """Small files done by the time the last large object was, their rate then and after."""
    small, large = [], []
    for line in out.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("status") != "copied" or "ts" not in ev:
            continue
        size = (ev.get("data") or {}).get("size") or 0
        (large if size > LARGE else small).append(ev["ts"] - started)
    if not small or not large:
        return ""
    end = max(large)
    during = sum(1 for t in small if t <= end)
    first, last = min(small), max(small)
    after = (len(small) - during) / max(last - end, 1e-3)
    return (f"  small {during} of {len(small)} done with the large ({during / max(end - first, 1e-3):.0f}/s), "
            f"then {after:.0f}/s; large done at {', '.join(f'{t:.2f}' for t in sorted(large))} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=10, help="ms added to each direction")
    add_tree_args(ap)
    a = ap.parse_args()

    gcs_port = stand_ins.free_port()
    with moto_and_gcs("wan-timeline-", gcs_port) as (work, moto, gcs):
        src, base = seed_mixed_tree(work, moto, gcs, a.small, a.big, a.big_mib)
        from tests.transfer_support import gcs_client
        p_s3 = latency_proxy.start(moto.port, a.delay)
        p_gcs = latency_proxy.start(gcs.port, a.delay, listen_port=gcs_port)
        try:
            env = dict(base, **stand_ins.aws_env(p_s3.url), **stand_ins.gcs_env(p_gcs.url),
                       GPUMIGRATE_STATE_DIR=str(work / "state"), **stand_ins.rclone_env(p_s3.url, p_gcs.url))
            source = str(src) if a.local else "s3://bench-src/t"
            jobs = ["-j", str(a.jobs)] if a.jobs else []
            tools: dict[str, tuple[bool, Path, list[str]]] = {}
            for name, spec in [("gpumigrate", f"{REPO}:")] + [tuple(x.split("=", 1)) for x in a.also]:
                folder, _, extra = spec.partition(":")
                d = Path(folder).resolve()
                py = d / ".venv/bin/python"
                tools[name] = (True, d, [str(py) if py.exists() else sys.executable, "-m", "tui.cli", "transfer",
                                         source, "gs://{bucket}/t", "-r", "--json", *jobs, *shlex.split(extra)])
            if not a.no_rclone:
                tools["rclone"] = (False, REPO, [RCLONE, "--config", "/dev/null", "-q", "copy",
                                                 str(src) if a.local else "s3:bench-src/t", "gcs:{bucket}/t",
                                                 *(["--transfers", str(a.jobs), "--checkers", str(a.jobs)] if a.jobs else [])])
            print(f"{a.small} files of 0.1-9 KB + {a.big} x {a.big_mib} MiB, {'local' if a.local else 'S3'} -> GCS, "
                  f"{a.delay:g} ms each way, {'-j ' + str(a.jobs) if a.jobs else 'defaults'}; {a.repeat} rounds",
                  flush=True)
            times: dict[str, list[float]] = {k: [] for k in tools}
            names, n = list(tools), 0
            for r in range(a.repeat):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    ours, cwd, cmd = tools[name]
                    n += 1
                    bucket = f"timeline-{n}"
                    gcs_client().create_bucket(bucket)
                    cmd = [c.replace("{bucket}", bucket) for c in cmd]
                    os.sync()
                    others = {"moto": moto.pid, "fake-gcs": gcs.pid}
                    before = {k: cpu_s(p) for k, p in others.items() if p}
                    px_before = cpu_s(p_s3.proc.pid) + cpu_s(p_gcs.proc.pid)
                    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
                    started, t0 = time.time(), time.monotonic()
                    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
                    wall = time.monotonic() - t0
                    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cpu = ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime
                    spent = {k: cpu_s(p) - before[k] for k, p in others.items() if p}
                    px = cpu_s(p_s3.proc.pid) + cpu_s(p_gcs.proc.pid) - px_before
                    line = (f"{name:12s} {wall:6.2f} s  CPU: tool {cpu:.2f}, "
                            + ", ".join(f"{k} {v:.2f}" for k, v in spent.items()) + f", proxies {px:.2f} s")
                    if done.returncode:
                        line += f"  FAILED ({done.returncode}): {done.stderr[-300:]}"
                    elif ours:
                        line += timeline(done.stdout, started)
                    print(line, flush=True)
                    times[name].append(wall)
                    for blob in gcs_client().list_blobs(bucket):  # fake-gcs keeps everything in memory
                        if blob.size and blob.size > LARGE:
                            blob.delete()
            print("medians: " + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in times.items()))
        finally:
            p_s3.stop()
            p_gcs.stop()


if __name__ == "__main__":
    main()
