"""local -> fake-gcs-server and moto -> fake-gcs-server: gpumigrate vs rclone, equal parallelism and defaults.

Run: .venv/bin/python benchmarks/bench_transfer_cloud.py [--small 5000] [--big 4] [--big-mib 256] [--jobs 8] [--repeat 1]
Stand-ins are started on 127.0.0.1 and stopped at the end. rclone remotes are configured by env vars.
Each copy goes into a fresh bucket; with --repeat N the tools take turns N rounds (benchmarks/timing.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RCLONE = str(Path(sys.executable).with_name("rclone"))

from benchmarks.bench_transfer_local import make_tree  # noqa: E402
from benchmarks.stand_in_run import moto_and_gcs  # noqa: E402
from benchmarks.timing import ratio, rounds, spread, stand_in_env, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--big", type=int, default=4)
    ap.add_argument("--big-mib", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1, help="rounds; each tool runs once per round")
    a = ap.parse_args()
    with moto_and_gcs("bench-cloud-") as (work, moto, gcs):
        src = work / "src"
        make_tree(src, a.small, a.big, a.big_mib)
        total = a.small * 4096 + a.big * a.big_mib * (1 << 20)
        env = stand_in_env(moto.url, gcs.url, work / "state")
        os.environ.update(env)
        from tests.transfer_support import gcs_client, s3_client

        s3_client().create_bucket(Bucket="bench-src")
        print(f"tree: {a.small} x 4 KiB + {a.big} x {a.big_mib} MiB = {total / 1e6:.0f} MB")
        timed([RCLONE, "--config", "/dev/null", "-q", "copy", str(src), "s3:bench-src/t", "--transfers", "8"], env)
        n = 0

        def bucket() -> str:
            nonlocal n
            n += 1
            name = f"bench-dst-{n}"
            gcs_client().create_bucket(name)
            return name

        def copy_into_new_bucket(cmd: list[str], scheme: str) -> float:
            name = bucket()
            took = timed(cmd + [f"{scheme}:{'//' if scheme == 'gs' else ''}{name}/t"], env)
            for blob in gcs_client().list_blobs(name, prefix="t/big/"):  # fake-gcs keeps all in memory
                blob.delete()
            return took

        for label, g_src, r_src in (("local -> fake-gcs", str(src), str(src)),
                                    ("moto  -> fake-gcs", "s3://bench-src/t", "s3:bench-src/t")):
            for mode, jobs in (("equal parallelism", a.jobs), ("each tool's defaults", None)):
                # The destination bucket is appended last: gpumigrate's SRC and DST must stay adjacent
                # (argparse takes no positional after an option that follows the first one).
                gcmd = [sys.executable, "-m", "tui.cli", "transfer", "-r", "--json"]
                rcmd = [RCLONE, "--config", "/dev/null", "-q", "sync", r_src]
                if jobs:
                    gcmd += ["-j", str(jobs)]
                    rcmd += ["--transfers", str(jobs), "--checkers", str(jobs)]
                gcmd.append(g_src)
                times = rounds({"gpumigrate": lambda _r: copy_into_new_bucket(gcmd, "gs"),
                                "rclone": lambda _r: copy_into_new_bucket(rcmd, "gcs")}, a.repeat)
                g, r = times["gpumigrate"], times["rclone"]
                print(f"  {label} ({mode}): gpumigrate {spread(g)} {total / 1e6 / statistics.median(g):6.1f} MB/s, "
                      f"rclone {spread(r)} {total / 1e6 / statistics.median(r):6.1f} MB/s, "
                      f"ratio of medians {ratio(g, r):.2f} (<1 = faster)", flush=True)


if __name__ == "__main__":
    main()
