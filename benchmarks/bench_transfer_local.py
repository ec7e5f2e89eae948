"""local -> local: N small files of 4 KiB plus 4 large files; gpumigrate vs `rclone sync` vs `rsync -a`.

Run: .venv/bin/python benchmarks/bench_transfer_local.py [--small 5000] [--big-mib 256] [--big 4] [--jobs 8]
Each tool copies into an empty folder (cold destination, warm page cache); a no-op re-sync is timed too.
gpumigrate verifies every file (re-reads the written temp file) before renaming it; rclone and rsync do not.
"gpumigrate" is the CLI with --json (one NDJSON line per file); "gm-engine" is run_transfer in-process.
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
RCLONE = str(Path(sys.executable).with_name("rclone"))


def make_tree(root: Path, small: int, big: int, big_mib: int) -> None:
    for i in range(small):
        d = root / "small" / f"{i // 500:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:05d}.bin").write_bytes(os.urandom(4096))
    (root / "big").mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    for i in range(big):
        with open(root / "big" / f"{i}.bin", "wb") as f:
            for j in range(big_mib):
                f.write(block[j % 7:] + block[: j % 7])


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {r.stderr[-800:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--big", type=int, default=4)
    ap.add_argument("--big-mib", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=8)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-local-"))
    env = dict(os.environ, GPUMIGRATE_STATE_DIR=str(work / "state"))
    try:
        src = work / "src"
        make_tree(src, a.small, a.big, a.big_mib)
        subprocess.run(["cat", *map(str, (src / "big").iterdir())], stdout=subprocess.DEVNULL)
        total = a.small * 4096 + a.big * a.big_mib * (1 << 20)
        print(f"tree: {a.small} x 4 KiB + {a.big} x {a.big_mib} MiB = {total / 1e6:.0f} MB; jobs {a.jobs}")
        tools = {
            "gpumigrate": lambda d: [sys.executable, "-m", "tui.cli", "transfer", "-r", str(src), str(d),
                                     "-j", str(a.jobs), "--json"],
            # the same engine in-process, without the CLI's per-event NDJSON output (isolates the engine)
            "gm-engine": lambda d: [sys.executable, "-c",
                                    "import sys; from engine.transfer.api import TransferSpec, run_transfer; "
                                    "s = run_transfer(TransferSpec(src=sys.argv[1], dst=sys.argv[2], jobs=int(sys.argv[3]))); "
                                    "sys.exit(0 if s.ok else 1)", str(src), str(d), str(a.jobs)],
            "rclone": lambda d: [RCLONE, "--config", "/dev/null", "-q", "sync", str(src), str(d),
                                 "--transfers", str(a.jobs), "--checkers", str(a.jobs)],
        }
        if shutil.which("rsync"):
            tools["rsync"] = lambda d: ["rsync", "-a", str(src) + "/", str(d) + "/"]
        else:
            print("rsync: not installed here; skipped")
        results = {}
        for name, cmd in tools.items():
            dst = work / f"dst-{name}"
            first = timed(cmd(dst), env)
            again = timed(cmd(dst), env)
            results[name] = (first, again)
            print(f"  {name:10s} copy {first:7.2f} s ({total / 1e6 / first:7.1f} MB/s)   no-op re-sync {again:6.2f} s")
            shutil.rmtree(dst)
        g = results["gpumigrate"]
        for name, (first, again) in results.items():
            if name not in ("gpumigrate", "gm-engine"):
                e = results["gm-engine"]
                print(f"  ratio gpumigrate/{name}: copy {g[0] / first:.2f}, re-sync {g[1] / again:.2f}; "
                      f"engine alone/{name}: copy {e[0] / first:.2f}, re-sync {e[1] / again:.2f} (<1 = faster)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
