"""local -> local: N small files of 4 KiB plus 4 large files; gpumigrate vs `rclone sync` vs `rsync -a`.

Run: .venv/bin/python benchmarks/bench_transfer_local.py [--small 5000] [--big-mib 256] [--big 4] [--jobs 8] [--repeat 3]
Each tool copies into an empty folder (cold destination, warm page cache); a no-op re-sync is timed too.
Tools take turns, several rounds, after a sync each (benchmarks/timing.py); medians are compared.
gpumigrate verifies every file (re-reads the written temp file) before renaming it; rclone and rsync do not.
"gpumigrate" is the CLI with --json (one NDJSON line per file); "gm-engine" is run_transfer in-process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from benchmarks.timing import ratio, rounds, spread, timed, tool_env  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--big", type=int, default=4)
    ap.add_argument("--big-mib", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each tool runs once per round")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-local-"))
    env = tool_env(dict(os.environ, GPUMIGRATE_STATE_DIR=str(work / "state")))
    try:
        src = work / "src"
        make_tree(src, a.small, a.big, a.big_mib)
        subprocess.run(["cat", *map(str, (src / "big").iterdir())], stdout=subprocess.DEVNULL)
        total = a.small * 4096 + a.big * a.big_mib * (1 << 20)
        print(f"tree: {a.small} x 4 KiB + {a.big} x {a.big_mib} MiB = {total / 1e6:.0f} MB; jobs {a.jobs}; "
              f"{a.repeat} rounds")
        commands = {
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
            commands["rsync"] = lambda d: ["rsync", "-a", str(src) + "/", str(d) + "/"]
        else:
            print("rsync: not installed here (make bench installs it where it may); skipped")
        timed(commands["gpumigrate"](work / "warm-up"), env)  # Python caches bytecode, as installed tools have
        shutil.rmtree(work / "warm-up")
        resync: dict[str, list[float]] = {name: [] for name in commands}

        def tool(name: str):  # type: ignore[no-untyped-def]
            def one(r: int) -> float:
                dst = work / f"dst-{name}-{r}"
                first = timed(commands[name](dst), env)
                resync[name].append(timed(commands[name](dst), env))
                shutil.rmtree(dst)
                return first
            return one

        copies = rounds({name: tool(name) for name in commands}, a.repeat)
        for name in commands:
            print(f"  {name:10s} copy {spread(copies[name])} {total / 1e6 / statistics.median(copies[name]):7.1f} MB/s"
                  f"   no-op re-sync {spread(resync[name])}")
        for name in commands:
            if name in ("gpumigrate", "gm-engine"):
                continue
            print(f"  ratio of medians gpumigrate/{name}: copy {ratio(copies['gpumigrate'], copies[name]):.2f}, "
                  f"re-sync {ratio(resync['gpumigrate'], resync[name]):.2f}; engine alone/{name}: "
                  f"copy {ratio(copies['gm-engine'], copies[name]):.2f}, "
                  f"re-sync {ratio(resync['gm-engine'], resync[name]):.2f} (<1 = faster)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
