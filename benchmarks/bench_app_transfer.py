"""The same local transfer started from the app (Transfer screen, driven by Pilot) and from the CLI.

Run: .venv/bin/python benchmarks/bench_app_transfer.py [--small 10000] [--repeat 3] [--inline]
Each round copies N files of 4 KiB into an empty folder: once with `gpumigrate transfer -r SRC DST`
(a process of its own), once with the engine alone in a process (no UI at all), once from a process
that opens the app on a profile holding the same [[transfer]] entry and runs r (Pilot, 120x40, no
session: the step runs in the app's private worker process, which sends the screen only what it
draws; tui/private_run.py).  With ``--inline`` a fourth side runs the step in a thread of the app's
own process, as the app did before private runs.  Every side is timed from process start to exit
(Python start-up and imports included), rounds rotate who goes first, medians are compared.
The app's child also reports how long the copy ran, when the files bar first knew its total (the
listing done) as a share of the run, and the CPU seconds the UI's process itself used from r to
the step's end, against the run's wall time and against the worker's CPU.
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


def _cpu(who: int) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


async def _drive(profile: Path, inline: bool) -> dict[str, float]:
    """In the child: open the app, press r, wait for the step's end; report the phases."""
    from textual.widgets import ProgressBar

    from tui.app import GpuMigrateApp

    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    app.private_runs = not inline
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.pause()
        ui0, worker0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
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
        await app.workers.wait_for_complete()  # the worker process is reaped: its CPU is counted
        ui, worker = _cpu(resource.RUSAGE_SELF) - ui0, _cpu(resource.RUSAGE_CHILDREN) - worker0
        if not screen.finished.ok:
            raise SystemExit(f"the app's transfer failed: {screen.finished.summary}")
    return {"run_s": run, "total_known_s": total_at if total_at is not None else run, "ui_cpu_s": ui,
            "worker_cpu_s": worker}


def child(profile: str, inline: bool) -> None:
    print(json.dumps(asyncio.run(_drive(Path(profile), inline))))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each side runs once per round")
    ap.add_argument("--inline", action="store_true",
                    help="also time the app running the step in a thread of its own process (the old way)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-inline", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.child_inline)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-app-"))
    env = tool_env(dict(os.environ, GPUMIGRATE_STATE_DIR=str(work / "state"), PYTHONPATH=str(REPO)))
    phases: dict[str, list[dict[str, float]]] = {"app": [], "app-inline": []}
    cpu: dict[str, list[float]] = {"app": [], "app-inline": [], "cli": [], "engine": []}

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

        def app(r: int, inline: bool = False) -> float:
            side = "app-inline" if inline else "app"
            dst = work / f"{side}-{r}"
            profile = work / f"{side}-{r}.toml"
            profile.write_text(f'[source]\nprovider = "local"\n\n[[transfer]]\nsrc = "{src}"\ndst = "{dst}"\n')
            os.sync()
            c0 = child_cpu()
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, __file__, "--child", str(profile)] + (["--child-inline"] if inline
                                                                                          else []),
                                  cwd=REPO, env=env, capture_output=True, text=True)
            took = time.perf_counter() - t0
            cpu[side].append(child_cpu() - c0)
            if proc.returncode != 0:
                raise SystemExit(f"app failed: {proc.stderr[-1200:]}")
            phases[side].append(json.loads(proc.stdout.strip().splitlines()[-1]))
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
        sides = {"app": app, "cli": cli, "engine": engine}
        if a.inline:
            sides["app-inline"] = lambda r: app(r, inline=True)
        times = rounds(sides, a.repeat)
        print(f"engine alone (run_transfer): {spread(times['engine'])}")
        print(f"cli (gpumigrate transfer): {spread(times['cli'])}")
        print(f"app (Transfer screen, r; private worker):  {spread(times['app'])}")
        if a.inline:
            print(f"app-inline (the step in a thread of the app): {spread(times['app-inline'])}")
        med = {k: statistics.median(v) for k, v in cpu.items() if v}
        for side in [s for s in ("app", "app-inline") if phases[s]]:
            ps = phases[side]
            run = statistics.median(p["run_s"] for p in ps)
            known = statistics.median(p["total_known_s"] for p in ps)
            ui = statistics.median(p["ui_cpu_s"] for p in ps)
            ui_share_wall = statistics.median(p["ui_cpu_s"] / p["run_s"] for p in ps)
            print(f"{side}: the copy itself {run:.2f} s (median, from r to the step's end); the files bar knew its "
                  f"total after {known:.2f} s ({100 * known / run:.0f}% of the run)")
            if side == "app":
                worker = statistics.median(p["worker_cpu_s"] for p in ps)
                ui_share_cpu = statistics.median(p["ui_cpu_s"] / (p["ui_cpu_s"] + p["worker_cpu_s"]) for p in ps)
                print(f"  the UI's process from r to the end: {ui:.2f} CPU s = {100 * ui_share_wall:.1f}% of the run's "
                      f"wall time; worker {worker:.2f} CPU s; UI / (UI + worker) CPU = {100 * ui_share_cpu:.1f}% "
                      f"(medians; per round: "
                      + ", ".join(f"{100 * p['ui_cpu_s'] / p['run_s']:.1f}%" for p in ps) + " of wall)")
            else:
                print(f"  the app's process (UI and copy together) from r to the end: {ui:.2f} CPU s")
            print(f"  yardstick: {side}'s copy (r to the step's end, the app already open) / cli process = "
                  f"{run / statistics.median(times['cli']):.2f}")
            print(f"  yardstick: {side} / cli = {ratio(times[side], times['cli']):.2f}, {side} / engine alone = "
                  f"{ratio(times[side], times['engine']):.2f} (medians, process start to exit); CPU {med[side]:.2f} s "
                  f"vs engine alone {med['engine']:.2f}, cli {med['cli']:.2f} (whole processes, start-up included)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
