"""Listing a big bucket on moto's S3 server: gpumigrate's parallel lister vs its plain lister vs rclone.

Run: .venv/bin/python benchmarks/bench_transfer_list.py [--keys 200000] [--per-dir 1000] [--jobs 8] [--flat]

moto's server is started on 127.0.0.1 and filled once, at the start, with parallel PUTs of empty
objects (``data/DDDDD/obj-NNNNNNNNN.bin``, ``--per-dir`` per directory; ``--flat``: no
directories); the fill time is printed.  Then, in the same run, each lister lists every key and
the counts are checked against each other:

* gpumigrate parallel: ``S3Backend.list()`` as a transfer uses it (``jobs`` ranges at once);
* gpumigrate plain:    the same backend with ``GPUMIGRATE_LIST_JOBS=1`` semantics (one LIST after another);
* ``rclone lsf -R`` and ``rclone size`` with their defaults, and ``rclone lsf -R --fast-list``.

Note on the stand-in: moto answers every LIST by sorting all the keys under the request's
prefix, so a LIST costs more the more keys share its prefix.  Ranges whose bounds share a
prefix are listed with that narrower prefix (exact: every key between two bounds starts with
their common prefix), which moto rewards beyond what real S3 would; on S3 the gain is the
overlap of round trips.  The ratios below are what this stand-in gives.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RCLONE = str(Path(sys.executable).with_name("rclone"))

from tests import stand_ins  # noqa: E402

BUCKET = "bench-list"


def key(i: int, per_dir: int, flat: bool) -> str:
    return f"obj-{i:09d}.bin" if flat else f"data/{i // per_dir:05d}/obj-{i:09d}.bin"


def fill(url: str, n: int, per_dir: int, flat: bool, threads: int = 16) -> float:
    """Empty objects by parallel PUTs on keep-alive connections (moto does not check signatures)."""
    host, port = url.split("//")[1].split(":")
    local = threading.local()

    def put(i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request("PUT", f"/{BUCKET}/{key(i, per_dir, flat)}", body=b"", headers={"Content-Length": "0"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"PUT failed: {r.status}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(put, range(n), chunksize=256):
            pass
    return time.perf_counter() - t0


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=200_000)
    ap.add_argument("--per-dir", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--flat", action="store_true")
    ap.add_argument("--stub-latency-ms", type=float, default=None,
                    help="list from benchmarks/s3_list_stub.py (constant-time pages after this delay) instead of moto")
    a = ap.parse_args()
    layout = layout_of(a)
    command = (f"command: {Path(sys.executable).name} benchmarks/bench_transfer_list.py --keys {a.keys} "
               f"--per-dir {a.per_dir} --jobs {a.jobs}{' --flat' if a.flat else ''}")
    if a.stub_latency_ms is not None:
        stub = subprocess.Popen([sys.executable, "-m", "benchmarks.s3_list_stub", "--keys", str(a.keys),
                                 "--per-dir", str(a.per_dir), "--bucket", BUCKET, "--latency-ms",
                                 str(a.stub_latency_ms)] + (["--flat"] if a.flat else []),
                                cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert stub.stdout is not None and stub.stdin is not None
        url = stub.stdout.readline().strip()
        print(f"S3 list stub (its own process) with {a.keys:,} synthetic keys ({layout}), every LIST answered "
              f"after {a.stub_latency_ms:g} ms; {command} --stub-latency-ms {a.stub_latency_ms:g}")
        try:
            compare(url, a, fill_first=False)
        finally:
            stub.stdin.close()
            stub.wait(10)
        return
    moto = stand_ins.start_moto()
    try:
        print(command)
        compare(moto.url, a, fill_first=True)
    finally:
        moto.stop()


def compare(url: str, a: argparse.Namespace, fill_first: bool) -> None:
    """List every key with each lister against the S3 endpoint at ``url``; print times and ratios."""
    env = stand_ins.clear_cloud_env()
    env.update(stand_ins.aws_env(url))
    env.update(stand_ins.rclone_env(url))
    os.environ.update(env)
    from engine.transfer.backends import open_backend
    from engine.transfer.urls import parse_url
    from tests.transfer_support import s3_client

    if fill_first:
        s3_client().create_bucket(Bucket=BUCKET)
        t_fill = fill(url, a.keys, a.per_dir, a.flat)
        print(f"moto filled with {a.keys:,} keys ({layout_of(a)}) by parallel PUTs in {t_fill:.1f} s "
              f"({a.keys / t_fill:,.0f} PUT/s)")

    def ours(jobs: int):
        def go() -> int:
            b = open_backend(parse_url(f"s3://{BUCKET}"), jobs=a.jobs)
            b.list_jobs = jobs  # type: ignore[attr-defined]
            try:
                return sum(1 for _ in b.list())
            finally:
                b.close()
        return go

    def rclone(*args: str):
        def go() -> int:
            r = subprocess.run([RCLONE, "--config", "/dev/null", "-q", *args], capture_output=True, text=True,
                               env=env)
            if r.returncode:
                raise SystemExit(f"rclone {args} failed: {r.stderr[-600:]}")
            if args[0] == "size":
                for line in r.stdout.splitlines():
                    if line.startswith("Total objects:"):
                        return int(line.split("(")[-1].rstrip(")").strip()) if "(" in line else int(line.split()[2])
            return sum(1 for line in r.stdout.splitlines() if line and not line.endswith("/"))
        return go

    runs = [
        ("gpumigrate parallel lister", ours(a.jobs)),
        ("gpumigrate plain lister", ours(1)),
        ("rclone lsf -R", rclone("lsf", "-R", f"s3:{BUCKET}")),
        ("rclone lsf -R --fast-list", rclone("lsf", "-R", "--fast-list", f"s3:{BUCKET}")),
        ("rclone size", rclone("size", f"s3:{BUCKET}")),
    ]
    times: dict[str, float] = {}
    for label, fn in runs:
        dt, count = timed(fn)
        if count != a.keys:
            raise SystemExit(f"{label} listed {count} keys, expected {a.keys}")
        times[label] = dt
        print(f"  {label:28s} {dt:7.2f} s  {a.keys / dt:>9,.0f} keys/s")
    par = times["gpumigrate parallel lister"]
    for label, dt in times.items():
        if label != "gpumigrate parallel lister":
            print(f"  ratio parallel lister / {label}: {par / dt:.2f} (<1 = faster)")


def layout_of(a: argparse.Namespace) -> str:
    return "flat (no directories)" if a.flat else f"{a.per_dir} keys per directory"


if __name__ == "__main__":
    main()
