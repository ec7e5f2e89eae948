"""The cost of a no-op re-sync now that a destination without mtime metadata is never trusted.

An S3 listing carries no metadata, so every same-size object costs one HEAD to read its stored
mtime back (issue 17; rclone does the same to read its ``mtime`` metadata).  GCS listings carry
``goog-reserved-file-mtime``: no extra request.  Yardstick: ``rclone sync`` of the same tree,
same stand-ins, same parallelism, in the same run.

Run: .venv/bin/python benchmarks/bench_transfer_resync.py [--files 1000] [--jobs 8] [--repeat 3]
Stand-ins are started on 127.0.0.1 and stopped at the end.
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
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each tool runs once per round")
    a = ap.parse_args()
    with moto_and_gcs("bench-resync-") as (work, moto, gcs):
        src = work / "src"
        make_tree(src, a.files, 0, 0)
        env = stand_in_env(moto.url, gcs.url, work / "state")
        os.environ.update(env)
        from tests.transfer_support import gcs_client, s3_client

        print(f"tree: {a.files} x 4 KiB; no-op re-sync, {a.jobs} jobs; machine shared, medians of {a.repeat} rounds")
        for label, ours, theirs, make in (
                ("local -> moto (S3)", "s3://resync-g/t", "s3:resync-r/t",
                 lambda: (s3_client().create_bucket(Bucket="resync-g"), s3_client().create_bucket(Bucket="resync-r"))),
                ("local -> fake-gcs", "gs://resync-g/t", "gcs:resync-r/t",
                 lambda: (gcs_client().create_bucket("resync-g"), gcs_client().create_bucket("resync-r")))):
            make()
            gcmd = [sys.executable, "-m", "tui.cli", "transfer", "-r", str(src), ours, "--json", "-j", str(a.jobs)]
            rcmd = [RCLONE, "--config", "/dev/null", "-q", "sync", str(src), theirs, "--transfers", str(a.jobs),
                    "--checkers", str(a.jobs)]
            timed(gcmd, env)  # the first copy: every later run is a no-op
            timed(rcmd, env)
            times = rounds({"gpumigrate": lambda _r: timed(gcmd, env), "rclone": lambda _r: timed(rcmd, env)},
                           a.repeat)
            g, r = times["gpumigrate"], times["rclone"]
            print(f"  {label}: gpumigrate {spread(g)} ({a.files / statistics.median(g):.0f} objects/s), "
                  f"rclone {spread(r)}, ratio of medians {ratio(g, r):.2f} (<1 = faster)", flush=True)


if __name__ == "__main__":
    main()
