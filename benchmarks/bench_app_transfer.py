"""The same local transfer started from the app (Transfer screen, driven by Pilot) and from the CLI.

Run: .venv/bin/python benchmarks/bench_app_transfer.py [--small 10000] [--repeat 3]
Each round copies N files of 4 KiB into an empty folder twice: once with `gpumigrate transfer -r SRC DST`
(a process of its own), once with the engine alone in a process (no UI at all), once from a process that opens the app on a profile holding the same
[[transfer]] entry and presses r (Pilot, 120x40, no session: the step runs in a thread of the app's
process, its events coalesced and drawn four times a second).  Both are timed from process start to
exit (Python start-up and imports included), rounds alternate who goes first, medians are compared.
The app's child also reports how long the copy ran and when the files bar first knew its total
(the listing done), as a share of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from benchmarks.timing import ratio, rounds, spread, tool_env  # noqa: E402


def make_tree(root: Path, small: int) -> None:
    for i in range(small):
        d = root / f"{i // 500:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:05d}.bin").write_bytes(os.urandom(4096))


async def _drive(profile: Path) -> dict[str, float]:
    """In the child: open the app, press r, wait for the step's end; report the phases."""
    from textual.widgets import ProgressBar

    from tui.app import GpuMigrateApp

    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.pause()
        t0 = time.perf_counter()
        # What r runs.  Not pilot.press("r"): Pilot waits after a key until the process's CPU goes
        # idle, which an in-process copy never lets happen, so the press returned only when the
        # copy ended and "when the total was known" read as the end of the run.
        screen.action_run()
        total_at = None
        while screen.finished is None:
            if total_at is None and screen.query_one("#transfer-files-bar", ProgressBar).total is not None:
                total_at = time.perf_counter() - t0
            await asyncio.sleep(0.05)
        run = time.perf_counter() - t0
        if not screen.finished.ok:
            raise SystemExit(f"the app's transfer failed: {screen.finished.summary}")
    return {"run_s": run, "total_known_s": total_at if total_at is not None else run}


def child(profile: str) -> None:
    print(json.dumps(asyncio.run(_drive(Path(profile)))))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each side runs once per round")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-app-"))
    env = tool_env(dict(os.environ, GPUMIGRATE_STATE_DIR=str(work / "state"), PYTHONPATH=str(REPO)))
    phases: list[dict[str, float]] = []
    cpu: dict[str, list[float]] = {"app": [], "cli": [], "engine": []}

    def child_cpu() -> float:
        """CPU seconds (user + system) of the children waited for so far: a figure that the
        other work on a shared machine disturbs far less than wall time."""
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime
    try:
        src = work / "src"
        make_tree(src, a.small)
        print(f"tree: {a.small} x 4 KiB; {a.repeat} rounds; machine shared with other work (figures are noisy)")

        def cli(r: int) -> float:
            dst = work / f"cli-{r}"
            os.sync()
            c0 = child_cpu()
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "tui.cli", "transfer", "-r", str(src), str(dst)],
                                  cwd=REPO, env=env, capture_output=True, text=True)
            took = time.perf_counter() - t0
            cpu["cli"].append(child_cpu() - c0)
            if proc.returncode != 0:
                raise SystemExit(f"cli failed: {proc.stderr[-600:]}")
            shutil.rmtree(dst)
            return took

        def app(r: int) -> float:
            dst = work / f"app-{r}"
            profile = work / f"app-{r}.toml"
            profile.write_text(f'[source]\nprovider = "local"\n\n[[transfer]]\nsrc = "{src}"\ndst = "{dst}"\n')
            os.sync()
            c0 = child_cpu()
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, __file__, "--child", str(profile)], cwd=REPO, env=env,
                                  capture_output=True, text=True)
            took = time.perf_counter() - t0
            cpu["app"].append(child_cpu() - c0)
            if proc.returncode != 0:
                raise SystemExit(f"app failed: {proc.stderr[-1200:]}")
            phases.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            shutil.rmtree(dst)
            return took

        def engine(r: int) -> float:
            """The engine alone in a process (no UI, no per-file output): what the UI's share is measured against."""
            dst = work / f"engine-{r}"
            os.sync()
            c0 = child_cpu()
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", "import sys; from engine.transfer.api import TransferSpec, "
                                   "run_transfer; s = run_transfer(TransferSpec(src=sys.argv[1], dst=sys.argv[2])); "
                                   "sys.exit(0 if s.ok else 1)", str(src), str(dst)],
                                  cwd=REPO, env=env, capture_output=True, text=True)
            took = time.perf_counter() - t0
            cpu["engine"].append(child_cpu() - c0)
            if proc.returncode != 0:
                raise SystemExit(f"engine failed: {proc.stderr[-600:]}")
            shutil.rmtree(dst)
            return took

        cli(-1)  # warm the page cache and the bytecode cache
        times = rounds({"app": app, "cli": cli, "engine": engine}, a.repeat)
        print(f"engine alone (run_transfer): {spread(times['engine'])}")
        print(f"cli (gpumigrate transfer): {spread(times['cli'])}")
        print(f"app (Transfer screen, r):  {spread(times['app'])}")
        run = statistics.median(p["run_s"] for p in phases)
        known = statistics.median(p["total_known_s"] for p in phases)
        print(f"app: the copy itself {run:.2f} s (median, from r to the step's end); the files bar knew its total "
              f"after {known:.2f} s ({100 * known / run:.0f}% of the run)")
        print(f"yardstick: app / cli = {ratio(times['app'], times['cli']):.2f}, app / engine alone = "
              f"{ratio(times['app'], times['engine']):.2f} (medians, process start to exit)")
        med = {k: statistics.median(v) for k, v in cpu.items() if v}
        print(f"CPU seconds (user+system, median): engine alone {med['engine']:.2f}, cli {med['cli']:.2f}, "
              f"app {med['app']:.2f}; the UI's share of the app's CPU: "
              f"{100 * (med['app'] - med['engine']) / med['app']:.0f}% (app start-up included)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
