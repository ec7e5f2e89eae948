"""Before the first request: how much of `gpumigrate transfer`'s time is CPU, and how much waiting.

Each run copies one small file S3 -> GCS (moto, fake-gcs-server, no proxy) into a fresh bucket, so
each opens a new journal, as a first run does. A wrapper (run with the checkout's own Python)
starts the CLI as ``python -m tui.cli`` does, with an audit hook on ``socket.connect`` that notes,
at the first connection to the S3 stand-in, the wall and CPU milliseconds since the wrapper
started. Wall minus CPU is what the process waited for: the disk (SQLite's syncs of a new
journal) and, on a loaded machine, a core. Checkouts (``NAME=DIR``, each with its own .venv)
alternate in every round; medians.

Run: .venv/bin/python -m benchmarks.bench_transfer_startup_wait [--repeat 12] [--fresh-state] after=. before=DIR
     (``--fresh-state``: a new state folder for each run too, as on a first use; DIR without a .venv
     of its own runs with this one's, its own code first on the path)
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.stand_in_run import moto_and_gcs  # noqa: E402
from benchmarks.timing import stand_in_env  # noqa: E402

WRAPPER = """\
import os, runpy, sys, time
w0, c0 = time.perf_counter(), time.process_time()
seen = []
def hook(event, args):
    if event == "socket.connect" and not seen and isinstance(args[1], tuple) and str(args[1][1]) == os.environ["S3_PORT"]:
        seen.append(1)
        with open(os.environ["WAIT_OUT"], "a") as f:
            f.write(f"{os.environ['WAIT_NAME']} {1000 * (time.perf_counter() - w0):.1f} {1000 * (time.process_time() - c0):.1f}\\n")
sys.addaudithook(hook)
sys.argv = ["gpumigrate"] + sys.argv[1:]
runpy.run_module("tui.cli", run_name="__main__", alter_sys=True)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=12)
    ap.add_argument("--fresh-state", action="store_true", help="a new GPUMIGRATE_STATE_DIR for each run")
    ap.add_argument("checkouts", nargs="+", metavar="NAME=DIR")
    a = ap.parse_args()
    tools = [(name, Path(folder).resolve()) for name, folder in (c.split("=", 1) for c in a.checkouts)]
    with moto_and_gcs("startup-wait-") as (work, moto, gcs):
        env = stand_in_env(moto.url, gcs.url, work / "state")
        os.environ.update(env)
        from tests.transfer_support import gcs_client, s3_client

        s3_client().create_bucket(Bucket="bench-src")
        s3_client().put_object(Bucket="bench-src", Key="t/a.txt", Body=b"x" * 1000)
        wrapper, out = work / "wrapper.py", work / "wait.txt"
        wrapper.write_text(WRAPPER)
        n = 0
        for r in range(a.repeat):
            for name, folder in tools[r % len(tools):] + tools[:r % len(tools)]:
                n += 1
                gcs_client().create_bucket(f"wait-{n}")
                py = folder / ".venv/bin/python"
                done = subprocess.run([str(py) if py.exists() else sys.executable, str(wrapper), "transfer",
                                       "s3://bench-src/t", f"gs://wait-{n}/t", "-r", "--json", "-j", "8"],
                                      env=dict(env, S3_PORT=str(moto.port), WAIT_OUT=str(out), WAIT_NAME=name,
                                               PYTHONPATH=str(folder),
                                               GPUMIGRATE_STATE_DIR=tempfile.mkdtemp(dir=work) if a.fresh_state
                                               else str(work / "state")),
                                      cwd=folder, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{name} failed ({done.returncode}): {done.stderr[-800:]}")
        got: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
        for line in out.read_text().splitlines():
            name, wall, cpu = line.split()
            got[name].append((float(wall), float(cpu)))
        print(f"one small file S3 -> GCS, a new journal each run{' and a new state folder' if a.fresh_state else ''}; "
              f"{a.repeat} rounds, medians, ms from the wrapper's start "
              "to the first S3 connection")
        for name, _ in tools:
            v = got[name]
            print(f"  {name:10s} wall {statistics.median(w for w, _ in v):6.0f}  CPU {statistics.median(c for _, c in v):6.0f}"
                  f"  wall - CPU {statistics.median(w - c for w, c in v):6.0f}  (n={len(v)})")


if __name__ == "__main__":
    main()
