"""Where a copy's CPU goes: the tool's own, and what its requests cost moto and fake-gcs-server.

Wall time on the shared 2-core VM moves by 30-60 % between runs of the same command; CPU seconds
move far less, so this benchmark counts them. Four trees, each copied S3 -> GCS (or local -> GCS
with ``--local``) into a fresh bucket by gpumigrate (this checkout, or others with ``--also``) and
``rclone copy``, taking turns in every round, straight to the stand-ins (no latency proxy: the
delay changes the wall time, not the work):

* ``one``: a single file of 0.1-9 KB, i.e. the tool's start-up and exit;
* ``small``: ``--small`` files of 0.1-9 KB;
* ``big``: ``--big`` x ``--big-mib`` MiB;
* ``short``: 300 small files + 1 x 40 MiB (the short run of bench_transfer_wan).

Per run: the tool's CPU (``wait4``: user + system of the process and its children), moto's and
fake-gcs-server's (``/proc/PID/stat``), wall. The report gives medians, then per tool the start-up
CPU (``one``), the CPU per small object (``small`` minus ``one``, divided by the count) and per
MiB of large objects, for the tool and for each stand-in.

Run: .venv/bin/python -m benchmarks.transfer_cpu [--repeat 3] [--jobs 8] [--local]
     [--small 600] [--big 2 --big-mib 200] [--also NAME=DIR[:EXTRA ARGS]] [--no-rclone]
"""

from __future__ import annotations

import argparse
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

from benchmarks.bench_transfer_wan import RCLONE, make_tree  # noqa: E402
from benchmarks.stand_in_run import add_tree_args, moto_and_gcs  # noqa: E402
from benchmarks.timing import stand_in_env  # noqa: E402
from benchmarks.wan_requests import cpu_s  # noqa: E402
from tests import stand_ins  # noqa: E402

LARGE = 1 << 20
FIELDS = ("wall", "tool", "moto", "gcs")


def seed(work: Path, moto_url: str, cases: dict[str, tuple[int, int, int]]) -> None:
    """Each case's tree under ``work/<case>`` and in ``s3://bench-src/<case>``."""
    from tests.transfer_support import s3_client

    s3_client().create_bucket(Bucket="bench-src")
    for case, (small, big, big_mib) in cases.items():
        make_tree(work / case, small, big, big_mib)
        subprocess.run([RCLONE, "--config", "/dev/null", "-q", "copy", str(work / case), f"s3:bench-src/{case}",
                        "--transfers", "8"], env=dict(os.environ, **stand_ins.rclone_env(moto_url)),
                       check=True, capture_output=True)


def run_once(cmd: list[str], env: dict[str, str], cwd: Path, pids: dict[str, int]) -> dict[str, float]:
    """Wall and CPU seconds of one run; exits with the tool's output when it fails."""
    before = {k: cpu_s(p) for k, p in pids.items()}
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.sync()
    t0 = time.monotonic()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({done.returncode}): {done.stderr[-800:]}")
    out = {"wall": wall, "tool": ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime}
    out.update({k: cpu_s(p) - before[k] for k, p in pids.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    add_tree_args(ap)
    a = ap.parse_args()
    cases = {"one": (1, 0, 1), "small": (a.small, 0, 1), "big": (0, a.big, a.big_mib), "short": (300, 1, 40)}

    with moto_and_gcs("transfer-cpu-") as (work, moto, gcs):
        env = stand_in_env(moto.url, gcs.url, work / "state")
        os.environ.update(env)
        seed(work, moto.url, cases)
        from tests.transfer_support import gcs_client

        jobs = ["-j", str(a.jobs)] if a.jobs else []
        tools: dict[str, tuple[Path, list[str]]] = {}
        for name, spec in [("gpumigrate", f"{REPO}:")] + [tuple(x.split("=", 1)) for x in a.also]:
            folder, _, extra = spec.partition(":")
            d = Path(folder).resolve()
            py = d / ".venv/bin/python"
            tools[name] = (d, [str(py) if py.exists() else sys.executable, "-m", "tui.cli", "transfer",
                               str(work / "{case}") if a.local else "s3://bench-src/{case}", "gs://{bucket}/t",
                               "-r", "--json", *jobs, *shlex.split(extra)])
        if not a.no_rclone:
            tools["rclone"] = (REPO, [RCLONE, "--config", "/dev/null", "-q", "copy",
                                      str(work / "{case}") if a.local else "s3:bench-src/{case}", "gcs:{bucket}/t",
                                      *(["--transfers", str(a.jobs), "--checkers", str(a.jobs)] if a.jobs else [])])
        print(f"{'local' if a.local else 'S3'} -> GCS, no added delay, {'-j ' + str(a.jobs) if a.jobs else 'defaults'}; "
              f"trees: one file, {a.small} small, {a.big} x {a.big_mib} MiB, short (300 small + 1 x 40 MiB); "
              f"{a.repeat} rounds; CPU seconds", flush=True)
        runs: dict[tuple[str, str], list[dict[str, float]]] = {}
        names, n = list(tools), 0
        for r in range(a.repeat):
            for case in cases:
                for name in names[r % len(names):] + names[:r % len(names)]:
                    cwd, cmd = tools[name]
                    n += 1
                    bucket = f"cpu-{n}"
                    gcs_client().create_bucket(bucket)
                    got = run_once([c.replace("{bucket}", bucket).replace("{case}", case) for c in cmd], env, cwd,
                                   {"moto": moto.pid, "gcs": gcs.pid})
                    runs.setdefault((name, case), []).append(got)
                    print(f"round {r + 1} {case:6s} {name:12s} " + "  ".join(f"{k} {got[k]:.2f}" for k in FIELDS),
                          flush=True)
                    for blob in gcs_client().list_blobs(bucket):  # fake-gcs keeps everything in memory
                        if blob.size and blob.size > LARGE:
                            blob.delete()

        med = {key: {k: statistics.median(x[k] for x in v) for k in FIELDS} for key, v in runs.items()}
        print("\nmedians (s): case | tool | wall | CPU tool | moto | fake-gcs")
        for case in cases:
            for name in names:
                m = med[(name, case)]
                print(f"| {case} | {name} | " + " | ".join(f"{m[k]:.2f}" for k in FIELDS) + " |")
        mib = max(1, a.big * a.big_mib)
        print(f"\nderived: start-up = 'one'; per small object = (small - one) / {a.small}; "
              f"per MiB = (big - one) / {mib}")
        print("| tool | start-up CPU | per small object: tool / moto / fake-gcs | per MiB: tool / moto / fake-gcs |")
        for name in names:
            one, small, big = med[(name, "one")], med[(name, "small")], med[(name, "big")]
            per_obj = " / ".join(f"{(small[k] - one[k]) / max(1, a.small) * 1e3:.2f}" for k in ("tool", "moto", "gcs"))
            per_mib = " / ".join(f"{(big[k] - one[k]) / mib * 1e3:.2f}" for k in ("tool", "moto", "gcs"))
            print(f"| {name} | {one['tool']:.2f} s | {per_obj} ms | {per_mib} ms |")
        if "rclone" in names:
            for name in names[:-1]:
                print(f"{name} / rclone, all three processes' CPU: " + ", ".join(
                    f"{case} {sum(med[(name, case)][k] for k in FIELDS[1:]) / sum(med[('rclone', case)][k] for k in FIELDS[1:]):.2f}"
                    for case in cases))


if __name__ == "__main__":
    main()
