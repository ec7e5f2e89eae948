"""moto and fake-gcs-server on loopback for one benchmark run, with a scratch folder: started
together and always stopped and removed together, however the run ends."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from tests import stand_ins


@contextlib.contextmanager
def moto_and_gcs(prefix: str, gcs_port: int | None = None
                 ) -> Iterator[tuple[Path, stand_ins.StandIn, stand_ins.StandIn]]:
    """``(work, moto, gcs)``; ``gcs_port``: where a proxy in front of fake-gcs will listen (fake-gcs
    gives that address out in its upload locations), or None for fake-gcs's own."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    moto = stand_ins.start_moto()
    gcs = stand_ins.start_fake_gcs(external_url=f"http://127.0.0.1:{gcs_port}" if gcs_port else None)
    try:
        yield work, moto, gcs
    finally:
        moto.stop()
        gcs.stop()
        shutil.rmtree(work, ignore_errors=True)


def seed_mixed_tree(work: Path, moto: stand_ins.StandIn, gcs: stand_ins.StandIn, small: int, big: int,
                    big_mib: int) -> tuple[Path, dict[str, str]]:
    """The WAN benchmarks' tree (``bench_transfer_wan.make_tree``) under ``work/src`` and copied to
    ``s3://bench-src/t``; returns the folder and the environment without cloud settings. This
    process's own clients (set-up, clean-up) talk to the stand-ins directly, not through proxies."""
    from benchmarks.bench_transfer_wan import RCLONE, make_tree
    from benchmarks.timing import tool_env
    from tests.transfer_support import s3_client

    src = work / "src"
    make_tree(src, small, big, big_mib)
    base = tool_env(stand_ins.clear_cloud_env())
    direct = dict(base, **stand_ins.aws_env(moto.url), **stand_ins.gcs_env(gcs.url))
    os.environ.update(direct)
    s3_client().create_bucket(Bucket="bench-src")
    subprocess.run([RCLONE, "--config", "/dev/null", "-q", "copy", str(src), "s3:bench-src/t", "--transfers", "8"],
                   env=dict(direct, **stand_ins.rclone_env(moto.url)), check=True, capture_output=True)
    return src, base


def add_tree_args(ap: argparse.ArgumentParser) -> None:
    """The options the S3/local -> GCS benchmarks share: the tree, -j, and other checkouts to run."""
    ap.add_argument("--jobs", type=int, default=8, help="-j / --transfers and --checkers; 0: each tool's defaults")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--small", type=int, default=600)
    ap.add_argument("--big", type=int, default=2)
    ap.add_argument("--big-mib", type=int, default=200)
    ap.add_argument("--local", action="store_true", help="local -> GCS instead of S3 -> GCS")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=DIR[:ARGS]",
                    help="gpumigrate from another checkout (or this one, '.') with extra arguments")
    ap.add_argument("--no-rclone", action="store_true")
