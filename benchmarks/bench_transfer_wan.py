"""Over a WAN-like link: local -> GCS and S3 -> GCS through benchmarks/latency_proxy.py (N ms
each way in front of moto and fake-gcs-server), gpumigrate vs `rclone copy` vs `gcloud storage
rsync`, with each tool's defaults and at equal parallelism, at each delay.

Run: .venv/bin/python -m benchmarks.bench_transfer_wan [--delays 10,30] [--repeat 2]
     [--small 600] [--big 2] [--big-mib 200] [--jobs 8] [--routes local,s3]
     .venv/bin/python -m benchmarks.bench_transfer_wan --short   (~300 small + 1 x 40 MiB, S3 -> GCS,
                                                                  no added latency: start-up dominates)
     ... --also base=/path/to/another/checkout   (gpumigrate from there too, in the same rounds: a
                                                   before/after with the yardsticks of the same run)

Small files are 0.1-9 KB (seeded sizes). Every copy goes into a fresh bucket; tools take turns,
several rounds (benchmarks/timing.py), medians compared. Stand-ins and proxies run on 127.0.0.1
and are stopped at the end. gcloud runs only when `gcloud` is on PATH, with parallel composite
uploads switched off: fake-gcs-server answers an object DELETE with `200` and the body `null`
(GCS sends `204` and no body), which gcloud's client cannot decode after a composite upload
(`'NoneType' object has no attribute 'items'`, its temporary components left behind).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import latency_proxy  # noqa: E402
from benchmarks.timing import rounds, spread, timed, tool_env  # noqa: E402
from tests import stand_ins  # noqa: E402

RCLONE = str(Path(sys.executable).with_name("rclone"))
GCLOUD = shutil.which("gcloud")


def make_tree(root: Path, small: int, big: int, big_mib: int, seed: int = 19) -> int:
    """``small`` files of 0.1-9 KB in folders of 100, ``big`` files of ``big_mib`` MiB; total bytes."""
    rng = random.Random(seed)
    total = 0
    for i in range(small):
        d = root / "small" / f"{i // 100:02d}"
        d.mkdir(parents=True, exist_ok=True)
        n = rng.randint(100, 9000)
        (d / f"{i:04d}.bin").write_bytes(rng.randbytes(n))
        total += n
    (root / "big").mkdir(parents=True, exist_ok=True)
    block = rng.randbytes(1 << 20)
    for i in range(big):
        with open(root / "big" / f"{i}.bin", "wb") as f:
            for j in range(big_mib):
                f.write(block[j % 13 + i:] + block[:j % 13 + i])
        total += big_mib << 20
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delays", default="10,30", help="ms added to each direction, comma-separated")
    ap.add_argument("--small", type=int, default=600)
    ap.add_argument("--big", type=int, default=2)
    ap.add_argument("--big-mib", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=8, help="the parallelism of the equal-parallelism runs")
    ap.add_argument("--repeat", type=int, default=2, help="rounds; each tool runs once per round")
    ap.add_argument("--routes", default="local,s3")
    ap.add_argument("--modes", default="defaults,equal")
    ap.add_argument("--short", action="store_true", help="~300 small + 1 x 40 MiB, S3 -> GCS, no added latency")
    ap.add_argument("--no-gcloud", action="store_true")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=DIR",
                    help="gpumigrate from another checkout too, run in DIR (with DIR/.venv/bin/python if there)")
    a = ap.parse_args()
    if a.short:
        a.small, a.big, a.big_mib, a.delays, a.routes = 300, 1, 40, "0", "s3"
    delays = [float(x) for x in a.delays.split(",")]
    routes = a.routes.split(",")
    modes = a.modes.split(",")
    gcloud = None if a.no_gcloud else GCLOUD

    work = Path(tempfile.mkdtemp(prefix="bench-wan-"))
    gcs_port = stand_ins.free_port()  # the GCS proxy listens here at every delay: fake-gcs hands it out
    moto = stand_ins.start_moto()
    gcs = stand_ins.start_fake_gcs(external_url=f"http://127.0.0.1:{gcs_port}")
    proxies: list[latency_proxy.Proxy] = []
    try:
        src = work / "src"
        total = make_tree(src, a.small, a.big, a.big_mib)
        base = tool_env(stand_ins.clear_cloud_env())
        direct = dict(base, **stand_ins.aws_env(moto.url), **stand_ins.gcs_env(gcs.url))
        os.environ.update(direct)  # this process's own clients (set-up, clean-up) skip the proxies
        from tests.transfer_support import gcs_client, s3_client

        s3_client().create_bucket(Bucket="bench-src")
        timed([RCLONE, "--config", "/dev/null", "-q", "copy", str(src), "s3:bench-src/t", "--transfers", "8"],
              dict(direct, **stand_ins.rclone_env(moto.url)))
        print(f"tree: {a.small} files of 0.1-9 KB + {a.big} x {a.big_mib} MiB = {total / 1e6:.1f} MB; "
              f"{a.repeat} rounds; medians (best, runs); ratio = gpumigrate's median / the other's", flush=True)
        if gcloud:
            gc_cfg = work / "gcloud"
            gc_cfg.mkdir()
        n = 0

        def fresh_bucket() -> str:
            nonlocal n
            n += 1
            name = f"bench-dst-{n}"
            gcs_client().create_bucket(name)
            return name

        def run_into_new_bucket(cmd: list[str], dst: str, env: dict[str, str], cwd: Path | None = None) -> float:
            name = fresh_bucket()
            took = timed([c.format(bucket=name) if c == dst else c for c in cmd], env, cwd)
            for blob in gcs_client().list_blobs(name):  # fake-gcs keeps everything in memory
                if blob.size and blob.size > 1 << 20:
                    blob.delete()
            return took

        for delay in delays:
            for p in proxies:
                p.stop()
            p_s3 = latency_proxy.start(moto.port, delay)
            p_gcs = latency_proxy.start(gcs.port, delay, listen_port=gcs_port)
            proxies[:] = [p_s3, p_gcs]
            env = dict(base, **stand_ins.aws_env(p_s3.url), **stand_ins.gcs_env(p_gcs.url),
                       GPUMIGRATE_STATE_DIR=str(work / "state"))
            env.update(stand_ins.rclone_env(p_s3.url, p_gcs.url))
            if gcloud:
                env.update(CLOUDSDK_CONFIG=str(gc_cfg), CLOUDSDK_CORE_PROJECT="test-project",
                           CLOUDSDK_AUTH_DISABLE_CREDENTIALS="true",
                           CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE=p_gcs.url + "/storage/v1/",
                           CLOUDSDK_STORAGE_S3_ENDPOINT_URL=p_s3.url,
                           CLOUDSDK_STORAGE_PARALLEL_COMPOSITE_UPLOAD_ENABLED="False",
                           CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true", CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true")
                timed([gcloud, "storage", "ls", f"gs://{fresh_bucket()}"], env)  # first-run set-up, not timed
            print(f"\n{delay:g} ms each way (round trip + {2 * delay:g} ms)", flush=True)
            for route in routes:
                g_src, r_src = (str(src), str(src)) if route == "local" else ("s3://bench-src/t", "s3:bench-src/t")
                label = "local -> GCS" if route == "local" else "S3 -> GCS"
                for mode in modes:
                    jobs = a.jobs if mode == "equal" else None
                    gcmd = [sys.executable, "-m", "tui.cli", "transfer", g_src, "gs://{bucket}/t", "-r", "--json"]
                    rcmd = [RCLONE, "--config", "/dev/null", "-q", "copy", r_src, "gcs:{bucket}/t"]
                    genv = dict(env)
                    if jobs:
                        gcmd += ["-j", str(jobs)]
                        rcmd += ["--transfers", str(jobs), "--checkers", str(jobs)]
                        genv.update(CLOUDSDK_STORAGE_PROCESS_COUNT="1", CLOUDSDK_STORAGE_THREAD_COUNT=str(jobs))
                    tools = {"gpumigrate": lambda _r, c=gcmd: run_into_new_bucket(c, "gs://{bucket}/t", env)}
                    for other in a.also:
                        name, _, where = other.partition("=")
                        root = Path(where).resolve()
                        python = root / ".venv" / "bin" / "python"
                        ocmd = [str(python) if python.exists() else sys.executable, *gcmd[1:]]
                        tools[name] = lambda _r, c=ocmd, d=root: run_into_new_bucket(c, "gs://{bucket}/t", env, d)
                    tools["rclone"] = lambda _r, c=rcmd: run_into_new_bucket(c, "gcs:{bucket}/t", env)
                    if gcloud:
                        ccmd = [gcloud, "storage", "rsync", "-r", g_src, "gs://{bucket}/t"]
                        tools["gcloud"] = lambda _r, c=ccmd, e=genv: run_into_new_bucket(c, "gs://{bucket}/t", e)
                    times = rounds(tools, a.repeat)
                    g = statistics.median(times["gpumigrate"])
                    line = "  ".join(f"{name} {spread(t)}" for name, t in times.items())
                    ratios = ", ".join(f"/{name} {g / statistics.median(t):.2f}" for name, t in times.items()
                                       if name != "gpumigrate")
                    mode_label = "defaults" if not jobs else f"-j {jobs} each"
                    print(f"  {label:13} {mode_label:10} {line}  ratio {ratios}", flush=True)
                    for other in a.also:  # the other checkout against the same yardsticks
                        name = other.partition("=")[0]
                        o = statistics.median(times[name])
                        print(f"  {'':13} {'':10} {name}: ratio " + ", ".join(
                            f"/{k} {o / statistics.median(t):.2f}" for k, t in times.items()
                            if k not in ("gpumigrate", name)), flush=True)
    finally:
        for p in proxies:
            p.stop()
        moto.stop()
        gcs.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
