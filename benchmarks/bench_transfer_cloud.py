"""local -> fake-gcs-server and moto -> fake-gcs-server: gpumigrate vs rclone, equal parallelism and defaults.

Run: .venv/bin/python benchmarks/bench_transfer_cloud.py [--small 5000] [--big 4] [--big-mib 256] [--jobs 8]
Stand-ins are started on 127.0.0.1 and stopped at the end. rclone remotes are configured by env vars.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RCLONE = str(Path(sys.executable).with_name("rclone"))

from tests import stand_ins  # noqa: E402
from benchmarks.bench_transfer_local import make_tree  # noqa: E402


def run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {r.stderr[-800:]} {r.stdout[-400:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--big", type=int, default=4)
    ap.add_argument("--big-mib", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=8)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cloud-"))
    moto, gcs = stand_ins.start_moto(), stand_ins.start_fake_gcs()
    try:
        src = work / "src"
        make_tree(src, a.small, a.big, a.big_mib)
        total = a.small * 4096 + a.big * a.big_mib * (1 << 20)
        env = stand_ins.clear_cloud_env()
        env.pop("AWS_CA_BUNDLE", None)
        env.update(stand_ins.aws_env(moto.url), **stand_ins.gcs_env(gcs.url), GPUMIGRATE_STATE_DIR=str(work / "state"))
        env.update(RCLONE_CONFIG_GCS_TYPE="google cloud storage", RCLONE_CONFIG_GCS_ENDPOINT=gcs.url + "/storage/v1/",
                   RCLONE_CONFIG_GCS_ANONYMOUS="true", RCLONE_CONFIG_GCS_NO_CHECK_BUCKET="true",
                   RCLONE_CONFIG_GCS_PROJECT_NUMBER="test-project",
                   RCLONE_CONFIG_S3_TYPE="s3", RCLONE_CONFIG_S3_PROVIDER="Other", RCLONE_CONFIG_S3_ENDPOINT=moto.url,
                   RCLONE_CONFIG_S3_ACCESS_KEY_ID="testing", RCLONE_CONFIG_S3_SECRET_ACCESS_KEY="testing",
                   RCLONE_CONFIG_S3_REGION="us-east-1", RCLONE_CONFIG_S3_FORCE_PATH_STYLE="true")
        os.environ.update(env)
        from tests.transfer_support import gcs_client, s3_client

        s3_client().create_bucket(Bucket="bench-src")
        print(f"tree: {a.small} x 4 KiB + {a.big} x {a.big_mib} MiB = {total / 1e6:.0f} MB")
        run([RCLONE, "--config", "/dev/null", "-q", "copy", str(src), "s3:bench-src/t", "--transfers", "8"], env)
        n = 0

        def bucket() -> str:
            nonlocal n
            n += 1
            name = f"bench-dst-{n}"
            gcs_client().create_bucket(name)
            return name

        for label, g_src, r_src in (("local -> fake-gcs", str(src), str(src)),
                                    ("moto  -> fake-gcs", "s3://bench-src/t", "s3:bench-src/t")):
            for mode, gj, rj in (("equal parallelism", a.jobs, a.jobs), ("each tool's defaults", None, None)):
                b1, b2 = bucket(), bucket()
                gcmd = [sys.executable, "-m", "tui.cli", "transfer", "-r", g_src, f"gs://{b1}/t", "--json"]
                rcmd = [RCLONE, "--config", "/dev/null", "-q", "sync", r_src, f"gcs:{b2}/t"]
                if gj:
                    gcmd += ["-j", str(gj)]
                    rcmd += ["--transfers", str(rj), "--checkers", str(rj)]
                tg = run(gcmd, env)
                tr = run(rcmd, env)
                print(f"  {label} ({mode}): gpumigrate {tg:6.2f} s ({total / 1e6 / tg:6.1f} MB/s), "
                      f"rclone {tr:6.2f} s ({total / 1e6 / tr:6.1f} MB/s), ratio {tg / tr:.2f} (<1 = faster)")
    finally:
        moto.stop()
        gcs.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
