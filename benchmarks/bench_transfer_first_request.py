"""Start-up of `gpumigrate transfer s3://... gs://...` against `rclone copy`: seconds from the
exec to each tool's first connection to the S3 stand-in and to the GCS stand-in, and to the end;
the CPU each used.

Run: .venv/bin/python -m benchmarks.bench_transfer_first_request [--repeat 6] [--small 300]
     [--big 1] [--big-mib 40] [--also base=/path/to/another/checkout]

The tree is the short run's (benchmarks/bench_transfer_wan.py --short) by default. Each tool
runs through a fresh pair of 0 ms latency proxies (benchmarks/latency_proxy.py --log), whose
log gives the moment each connection was accepted; nothing inside the tools is hooked, so both
are measured alike. ``--also NAME=DIR`` adds gpumigrate from another checkout (its own .venv),
interleaved with this one in every round: before/after figures from one run on a shared machine.
Rounds rotate who goes first (benchmarks/timing.py); medians are reported, with the best in
brackets, and each tool's CPU seconds (user + system, from wait4): on a loaded machine the CPU a
tool needs moves much less than its wall time.
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
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import latency_proxy  # noqa: E402
from benchmarks.bench_transfer_wan import RCLONE, make_tree  # noqa: E402
from benchmarks.stand_in_run import moto_and_gcs  # noqa: E402
from benchmarks.timing import rounds, tool_env  # noqa: E402
from tests import stand_ins  # noqa: E402


def first_opened(log: Path) -> float | None:
    """The earliest connection the proxy accepted (epoch seconds), from its log."""
    if not log.exists():
        return None
    times = [json.loads(line)["opened"] for line in log.read_text().splitlines() if line.strip()]
    return min(times) if times else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=6)
    ap.add_argument("--small", type=int, default=300)
    ap.add_argument("--big", type=int, default=1)
    ap.add_argument("--big-mib", type=int, default=40)
    ap.add_argument("--also", action="append", default=[], metavar="NAME=DIR",
                    help="gpumigrate from another checkout too (DIR/.venv/bin/python, run in DIR)")
    a = ap.parse_args()
    gcs_port = stand_ins.free_port()  # the GCS proxy listens here each run: fake-gcs hands it out
    with moto_and_gcs("bench-first-", gcs_port) as (work, moto, gcs):
        src = work / "src"
        make_tree(src, a.small, a.big, a.big_mib)
        base = tool_env(stand_ins.clear_cloud_env())
        direct = dict(base, **stand_ins.aws_env(moto.url), **stand_ins.gcs_env(gcs.url))
        os.environ.update(direct)
        from tests.transfer_support import gcs_client, s3_client

        s3_client().create_bucket(Bucket="bench-src")
        subprocess.run([RCLONE, "--config", "/dev/null", "-q", "copy", str(src), "s3:bench-src/t", "--transfers", "8"],
                       env=dict(direct, **stand_ins.rclone_env(moto.url)), check=True)
        n = [0]
        samples: dict[str, list[tuple[float, float, float]]] = {}

        def one(name: str, cmd: list[str], cwd: Path) -> float:
            n[0] += 1
            bucket = f"bench-first-{n[0]}"
            gcs_client().create_bucket(bucket)
            logs = work / f"s3-{n[0]}.log", work / f"gcs-{n[0]}.log"
            p_s3 = latency_proxy.start(moto.port, 0, log=str(logs[0]))
            p_gcs = latency_proxy.start(gcs.port, 0, listen_port=gcs_port, log=str(logs[1]))
            env = dict(base, **stand_ins.aws_env(p_s3.url), **stand_ins.gcs_env(p_gcs.url),
                       **stand_ins.rclone_env(p_s3.url, p_gcs.url), GPUMIGRATE_STATE_DIR=str(work / f"state-{name}"))
            cmd = [c.replace("{bucket}", bucket) for c in cmd]
            try:
                os.sync()
                t0 = time.time()
                with tempfile.TemporaryFile("w+") as err:
                    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
                    _pid, status, usage = os.wait4(proc.pid, 0)
                    took = time.time() - t0
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    err.seek(0)
                    stderr = err.read()
                deadline = time.time() + 5  # a connection is logged when the proxy sees it close
                while time.time() < deadline and not all(first_opened(log) for log in logs):
                    time.sleep(0.05)
            finally:
                p_s3.stop()
                p_gcs.stop()
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed ({proc.returncode}): {stderr[-800:]}")
            first_s3, first_gcs = first_opened(logs[0]), first_opened(logs[1])
            assert first_s3 is not None and first_gcs is not None, f"{name}: no connection logged"
            samples.setdefault(name, []).append((first_s3 - t0, first_gcs - t0, took, usage.ru_utime + usage.ru_stime))
            for blob in gcs_client().list_blobs(bucket):  # fake-gcs keeps everything in memory
                if blob.size and blob.size > 1 << 20:
                    blob.delete()
            return took

        g_args = ["-m", "tui.cli", "transfer", "s3://bench-src/t", "gs://{bucket}/t", "-r", "--json"]
        tools = {"gpumigrate": lambda _r: one("gpumigrate", [sys.executable, *g_args], REPO),
                 "rclone": lambda _r: one("rclone", [RCLONE, "--config", "/dev/null", "-q", "copy", "s3:bench-src/t",
                                                     "gcs:{bucket}/t"], REPO)}
        for spec in a.also:
            name, _, where = spec.partition("=")
            other = Path(where).resolve()
            tools[name] = (lambda _r, nm=name, o=other: one(nm, [str(o / ".venv" / "bin" / "python"), *g_args], o))
        rounds(tools, a.repeat)
        print(f"tree: {a.small} files of 0.1-9 KB + {a.big} x {a.big_mib} MiB, S3 -> GCS, 0 ms proxies; "
              f"{a.repeat} rounds, medians (best); seconds from exec", flush=True)
        for name, rows in samples.items():
            cols = list(zip(*rows))
            cells = "  ".join(f"{label} {statistics.median(c):.3f} ({min(c):.3f})"
                              for label, c in zip(("first S3 conn.", "first GCS conn.", "end", "CPU"), cols))
            print(f"  {name:14} {cells}", flush=True)
        ends = {name: statistics.median(r[2] for r in rows) for name, rows in samples.items()}
        print("  end vs rclone: " + ", ".join(f"{name} {t / ends['rclone']:.2f}" for name, t in ends.items()
                                             if name != "rclone"), flush=True)


if __name__ == "__main__":
    main()
