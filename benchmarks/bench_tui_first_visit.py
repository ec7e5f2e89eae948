"""The app's first visit to each screen, and the longest the UI's event loop stood still meanwhile.

Run: .venv/bin/python benchmarks/bench_tui_first_visit.py [--repeat 3] [--profile profiles/demo.toml] [--top 0]
Each round starts a fresh app (Pilot, 120x40, no session) on a copy of the profile's folder and presses each
screen's key in turn (1..7), timing from the key to the screen settled (every message handled, the layout done:
tests/tui/screen_checks.settled) and sampling the event loop every 5 ms: the longest gap between two samples is
the longest frame the app could not draw (a key pressed then waits at least that long). With --top N, the N
functions of engine/ that took the most time on the UI thread during the visits (cProfile of the main thread).
Figures are medians over the rounds; the machine's load average is printed with them (a shared 2-core VM).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

KEYS = {"inventory": "1", "cost": "2", "transfer": "3", "drivers": "4", "verify": "5", "profile": "6", "runbook": "7"}


async def _round(profile: Path, profiler: object | None) -> dict[str, tuple[float, float]]:
    from tests.tui.screen_checks import settled
    from tui.app import GpuMigrateApp

    app = GpuMigrateApp(profile_path=profile, start_mode="welcome")
    out: dict[str, tuple[float, float]] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        for mode, key in KEYS.items():
            gaps: list[float] = []
            stop = asyncio.Event()

            async def sample() -> None:
                last = time.perf_counter()
                while not stop.is_set():
                    await asyncio.sleep(0.005)
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last = now

            sampler = asyncio.create_task(sample())
            t0 = time.perf_counter()
            if profiler is not None:
                profiler.enable()  # type: ignore[attr-defined]
            await pilot.press(key)
            await settled(pilot)
            if profiler is not None:
                profiler.disable()  # type: ignore[attr-defined]
            took = time.perf_counter() - t0
            stop.set()
            await sampler
            assert app.current_mode == mode, (app.current_mode, mode)
            out[mode] = (took, max(gaps, default=0.0))
        await app.workers.wait_for_complete()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", default="profiles/demo.toml")
    parser.add_argument("--top", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    src = (REPO / args.profile).resolve()
    rows: dict[str, list[tuple[float, float]]] = {m: [] for m in KEYS}
    profiler = None
    if args.top:
        import cProfile

        profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GPUMIGRATE_STATE_DIR"] = str(Path(tmp) / "state")
        folder = Path(tmp) / "p"
        shutil.copytree(src.parent / "demo", folder / "demo") if (src.parent / "demo").is_dir() else folder.mkdir()
        shutil.copy(src, folder / src.name)
        os.chdir(folder)
        for _ in range(args.repeat):
            for mode, figures in asyncio.run(_round(folder / src.name, profiler)).items():
                rows[mode].append(figures)
    print(f"load average {os.getloadavg()[0]:.1f} (shared 2-core VM); {args.repeat} round(s), medians")
    print(f"{'screen':<10} {'first visit s':>14} {'longest stall s':>16}")
    for mode, figures in rows.items():
        print(f"{mode:<10} {statistics.median(f[0] for f in figures):>14.3f} "
              f"{statistics.median(f[1] for f in figures):>16.3f}")
    if profiler is not None:
        import pstats

        stats = pstats.Stats(profiler)
        engine = [(key, value) for key, value in stats.stats.items()  # type: ignore[attr-defined]
                  if "/engine/" in key[0]]
        engine.sort(key=lambda kv: kv[1][3], reverse=True)
        print(f"engine functions on the UI thread, by cumulative time (all rounds):")
        for (file, line, name), (_cc, calls, _tt, cum, _callers) in engine[: args.top]:
            print(f"  {cum:7.3f} s {calls:6d} calls  {Path(file).relative_to(REPO)}:{line} {name}")


if __name__ == "__main__":
    main()
