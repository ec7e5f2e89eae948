"""Requests per object over the WAN-like link: S3 -> GCS (or local -> GCS) with gpumigrate and
with `rclone copy`, each through its own pair of latency proxies that log every connection's
requests (benchmarks/latency_proxy.py --log). Prints, per tool and side, the connections opened,
the requests by kind and the requests per copied object: where a tool's round trips go.

Run: .venv/bin/python -m benchmarks.wan_requests [--small 300] [--big 1] [--big-mib 40]
     [--delay 10] [--jobs 8] [--route s3] [--tools gpumigrate,rclone] [--extra "--part-threshold 1024"]
     [--wrap "py-spy record -o prof.txt -f raw --"]

Each tool also gets the CPU seconds it used and those moto, fake-gcs-server and the proxies used
meanwhile: on a loaded 2-core machine the stand-ins' CPU is part of what a tool's run costs.
"""

from __future__ import annotations

import argparse
import os
import collections
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import latency_proxy  # noqa: E402
from benchmarks.bench_transfer_wan import RCLONE  # noqa: E402
from benchmarks.stand_in_run import moto_and_gcs, seed_mixed_tree  # noqa: E402
from benchmarks.timing import timed  # noqa: E402
from tests import stand_ins  # noqa: E402


def cpu_s(pid: int | None) -> float:
    """User + system CPU seconds a process (a stand-in, a proxy) has used so far."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(log: Path) -> tuple[int, collections.Counter[str]]:
    """(connections, requests by kind) from a proxy's log."""
    conns, kinds = 0, collections.Counter[str]()
    if log.exists():
        for line in log.read_text().splitlines():
            conns += 1
            kinds.update(json.loads(line)["requests"])
    return conns, kinds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=300)
    ap.add_argument("--big", type=int, default=1)
    ap.add_argument("--big-mib", type=int, default=40)
    ap.add_argument("--delay", type=float, default=10)
    ap.add_argument("--jobs", type=int, default=8, help="0: each tool's defaults")
    ap.add_argument("--route", default="s3", choices=["s3", "local"])
    ap.add_argument("--wrap", default="", help="a command line put before gpumigrate's (a profiler, say)")
    ap.add_argument("--extra", default="", help="options added to gpumigrate's command (--part-threshold 1024, say)")
    ap.add_argument("--tools", default="gpumigrate,rclone")
    a = ap.parse_args()
    gcs_port = stand_ins.free_port()
    with moto_and_gcs("wan-req-", gcs_port) as (work, moto, gcs):
        src, base = seed_mixed_tree(work, moto, gcs, a.small, a.big, a.big_mib)
        n_obj = a.small + a.big
        from tests.transfer_support import gcs_client
        g_src, r_src = ("s3://bench-src/t", "s3:bench-src/t") if a.route == "s3" else (str(src), str(src))
        print(f"{n_obj} objects ({a.small} small, {a.big} x {a.big_mib} MiB), {a.route} -> GCS, "
              f"{a.delay:g} ms each way, {'-j ' + str(a.jobs) if a.jobs else 'defaults'}")
        for n, tool in enumerate(a.tools.split(",")):
            logs = {"s3": work / f"{tool}-s3.log", "gcs": work / f"{tool}-gcs.log"}
            p_s3 = latency_proxy.start(moto.port, a.delay, log=str(logs["s3"]))
            p_gcs = latency_proxy.start(gcs.port, a.delay, listen_port=gcs_port, log=str(logs["gcs"]))
            bucket = f"req-{n}"
            gcs_client().create_bucket(bucket)
            env = dict(base, **stand_ins.aws_env(p_s3.url), **stand_ins.gcs_env(p_gcs.url),
                       GPUMIGRATE_STATE_DIR=str(work / "state"), **stand_ins.rclone_env(p_s3.url, p_gcs.url))
            if tool == "gpumigrate":
                cmd = [sys.executable, "-m", "tui.cli", "transfer", g_src, f"gs://{bucket}/t", "-r", "--json"]
                cmd += ["-j", str(a.jobs)] if a.jobs else []
                cmd = a.wrap.split() + cmd + a.extra.split()
            else:
                cmd = [RCLONE, "--config", "/dev/null", "-q", "copy", r_src, f"gcs:{bucket}/t"]
                cmd += ["--transfers", str(a.jobs), "--checkers", str(a.jobs)] if a.jobs else []
            servers = {"moto": moto.pid, "fake-gcs": gcs.pid, "proxies": None}
            before = {k: cpu_s(v) for k, v in servers.items()}
            before["proxies"] = cpu_s(p_s3.proc.pid) + cpu_s(p_gcs.proc.pid)
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            took = timed(cmd, env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime
            time.sleep(0.5)
            spent = {k: cpu_s(v) - before[k] for k, v in servers.items() if v}
            spent["proxies"] = cpu_s(p_s3.proc.pid) + cpu_s(p_gcs.proc.pid) - before["proxies"]
            p_s3.stop()
            p_gcs.stop()
            time.sleep(0.2)
            print(f"\n{tool}: {took:.2f} s, CPU {cpu:.2f} s (user + system); "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in spent.items()))
            for side in ("s3", "gcs") if a.route == "s3" else ("gcs",):
                conns, kinds = summarize(logs[side])
                total = sum(kinds.values())
                print(f"  {side}: {conns} connections, {total} requests, {total / n_obj:.2f} per object")
                for kind, count in kinds.most_common():
                    print(f"    {count:6d}  {kind}")


if __name__ == "__main__":
    main()
