"""How long `gpumigrate --help` and `gpumigrate validate` take to start, vs bare `python -c pass`.

Run: .venv/bin/python -m benchmarks.bench_cli_startup [--runs 20]
The yardstick is the interpreter's own start-up, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _time(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    base = _time([sys.executable, "-c", "pass"], a.runs)
    helpt = _time([sys.executable, "-m", "tui.cli", "--help"], a.runs)
    valid = _time([sys.executable, "-m", "tui.cli", "validate", "profiles/demo.toml"], a.runs)
    print(f"python -c pass                 median {base * 1000:7.1f} ms")
    print(f"gpumigrate --help              median {helpt * 1000:7.1f} ms  ({helpt / base:.1f}x bare python)")
    print(f"gpumigrate validate demo.toml  median {valid * 1000:7.1f} ms  ({valid / base:.1f}x bare python)")


if __name__ == "__main__":
    main()
