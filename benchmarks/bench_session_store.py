"""What a cutover session costs: the same transfer with and without a session, and a 10M dry run through one.

Run: .venv/bin/python benchmarks/bench_session_store.py [--files 30000] [--repeat 3] [--n 10000000]

Part 1 (issue 13's yardstick): 30,000 small files copied local to local, by
``gpumigrate replay P --session S --steps transfer`` (a detached worker writing the
session, this terminal following it) against ``gpumigrate transfer -r SRC DST`` (no
session), each round into a fresh destination and a fresh session, the tools taking
turns (benchmarks/timing.py).  Reported: medians, the ratio (target <= 1.1x) and the
session's own files (the .sqlite and its WAL; target < 1 MB).  The transfer journal
beside the session is a separate file and is reported separately.

Part 2: the README's dry run over two synthetic 10,000,000-entry listings, its events
recorded through a session store (aggregated: progress rows every 250 ms, counts at
the end) against the same run with its events discarded.  Target: session < 100 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.timing import ratio, rounds, spread, timed, tool_env  # noqa: E402


def _tree(root: Path, files: int) -> None:
    for i in range(files):
        folder = root / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:06d}.txt").write_bytes(f"small file {i}\n".encode() * 8)


def _session_bytes(state: Path, name: str) -> tuple[int, int]:
    sessions = state / "sessions"
    own = sum(p.stat().st_size for p in sessions.glob(f"{name}.sqlite*") if p.is_file())
    journals = sum(p.stat().st_size for p in (sessions / f"{name}.sqlite.journals").glob("*") if p.is_file()) \
        if (sessions / f"{name}.sqlite.journals").is_dir() else 0
    return own, journals


def part_one(files: int, repeat: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="gm-bench-session-"))
    try:
        src = work / "src"
        _tree(src, files)
        profile = work / "p.toml"
        state = work / "state"
        env = tool_env({**os.environ, "GPUMIGRATE_STATE_DIR": str(state)})
        sizes: list[tuple[int, int]] = []

        def with_session(r: int) -> float:
            dst = work / f"dst-s{r}"
            profile.write_text(f'schema_version = 1\n[source]\nprovider = "local"\n[[transfer]]\nsrc = "{src}"\n'
                               f'dst = "{dst}"\n')
            took = timed([sys.executable, "-m", "tui.cli", "replay", str(profile), "--steps", "transfer",
                          "--session", f"bench{r}"], env)
            sizes.append(_session_bytes(state, f"bench{r}"))
            shutil.rmtree(dst)
            return took

        def bare(r: int) -> float:
            dst = work / f"dst-b{r}"
            took = timed([sys.executable, "-m", "tui.cli", "transfer", "-r", str(src), str(dst)], env)
            shutil.rmtree(dst)
            return took

        print(f"part 1: {files:,} small files, local to local, {repeat} rounds (shared 2-core VM: medians)")
        times = rounds({"replay --session": with_session, "transfer": bare}, repeat)
        for name, values in times.items():
            print(f"  {name:18s} {spread(values)}")
        r = ratio(times["replay --session"], times["transfer"])
        own = statistics.median(s[0] for s in sizes)
        journals = statistics.median(s[1] for s in sizes)
        print(f"  ratio replay --session / transfer: {r:.2f}x (target <= 1.1x: {'met' if r <= 1.1 else 'MISSED'})")
        print(f"  session files (.sqlite + WAL + shm), median: {own / 1e6:.2f} MB (target < 1 MB: "
              f"{'met' if own < 1e6 else 'MISSED'}); the transfer journal beside it: {journals / 1e6:.2f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def part_two(n: int) -> None:
    from benchmarks.bench_transfer_scale import phase_dry_run

    work = Path(tempfile.mkdtemp(prefix="gm-bench-session-10m-"))
    os.environ["GPUMIGRATE_STATE_DIR"] = str(work)
    try:
        from engine.events import discard
        from engine.session import SessionStore

        print(f"part 2: dry run over two synthetic {n:,}-entry listings, events through a session vs discarded")
        t0 = time.perf_counter()
        phase_dry_run(n, 8, False, emit=discard)
        bare = time.perf_counter() - t0
        with SessionStore.open("ten-million") as store:
            t0 = time.perf_counter()
            phase_dry_run(n, 8, False, emit=store.record)
            store.flush_events()
            through = time.perf_counter() - t0
            rows = store.last_seq()
        own, _ = _session_bytes(work, "ten-million")
        print(f"  discarded: {bare:.1f} s; through the session: {through:.1f} s (ratio {through / bare:.2f}x); "
              f"{rows:,} rows, session files {own / 1e6:.2f} MB (target < 100 MB: "
              f"{'met' if own < 100e6 else 'MISSED'})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n", type=int, default=10_000_000, help="entries per synthetic listing in part 2 (0 skips)")
    ap.add_argument("--skip-part-one", action="store_true")
    a = ap.parse_args()
    if not a.skip_part_one:
        part_one(a.files, a.repeat)
    if a.n:
        part_two(a.n)


if __name__ == "__main__":
    main()
