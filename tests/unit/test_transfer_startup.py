"""`gpumigrate transfer` starts without garbage collection and without pydantic's plugin search,
and collects again (start-up frozen) before it copies anything; callers of ``main`` in a process
that goes on keep their collector as it was (tui/startup.py)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from engine.transfer.api import TransferSpec, run_transfer
from tests.conftest import REPO

_PROBE = """
import gc, json, os, sys
dst, report = sys.argv[2], sys.argv[3]
seen = {}

def hook(event, args):
    if event == "import" and args[0] == "engine.transfer.api" and "api" not in seen:
        seen["api"] = [gc.isenabled(), os.environ.get("PYDANTIC_DISABLE_PLUGINS")]
    elif event == "open" and "write" not in seen and str(args[0]).startswith(dst):
        mode, flags = args[1], args[2]
        if (mode and ("w" in mode or "a" in mode or "x" in mode)) or (flags & (os.O_WRONLY | os.O_RDWR)):
            seen["write"] = [gc.isenabled(), gc.get_freeze_count() > 0]
            with open(report, "w") as out:  # entry() ends with os._exit: no atexit
                json.dump(seen, out)

sys.addaudithook(hook)
sys.argv = ["gpumigrate", "transfer", sys.argv[1], dst, "-r", "-j", "1"]
from tui.cli import entry
entry()
"""


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "a").mkdir(parents=True)
    for i in range(3):
        (src / "a" / f"{i}.txt").write_text(f"file {i}\n")
    dst.mkdir()
    return src, dst


def test_the_console_script_collects_again_before_the_first_write(tmp_path: Path) -> None:
    src, dst = _tree(tmp_path)
    report = tmp_path / "seen.json"
    env = dict(os.environ, GPUMIGRATE_STATE_DIR=str(tmp_path / "state"))
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    out = subprocess.run([sys.executable, "-c", _PROBE, str(src), str(dst), str(report)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    seen = json.loads(report.read_text())
    assert seen["api"] == [False, "__all__"], "start-up: no collection, no plugin search"
    assert seen["write"] == [True, True], "copying: collection back on, start-up objects frozen"
    assert sorted(p.name for p in (dst / "a").iterdir()) == ["0.txt", "1.txt", "2.txt"]


def test_an_explicit_pydantic_plugin_setting_is_kept(tmp_path: Path) -> None:
    src, dst = _tree(tmp_path)
    report = tmp_path / "seen.json"
    env = dict(os.environ, GPUMIGRATE_STATE_DIR=str(tmp_path / "state"), PYDANTIC_DISABLE_PLUGINS="some-plugin")
    out = subprocess.run([sys.executable, "-c", _PROBE, str(src), str(dst), str(report)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(report.read_text())["api"] == [False, "some-plugin"]


def test_main_in_a_process_that_goes_on_leaves_the_collector_alone(tmp_path: Path, monkeypatch) -> None:
    from tui.cli import main

    src, dst = _tree(tmp_path)
    monkeypatch.setenv("GPUMIGRATE_STATE_DIR", str(tmp_path / "state"))
    frozen = gc.get_freeze_count()
    assert main(["transfer", str(src), str(dst), "-r"]) == 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_opened_is_called_once_after_both_ends_open_and_before_anything_is_written(tmp_path: Path) -> None:
    src, dst = _tree(tmp_path)
    calls: list[list[str]] = []
    summary = run_transfer(TransferSpec(src=str(src), dst=str(dst)), journal=False,
                           opened=lambda: calls.append(sorted(p.name for p in dst.rglob("*"))))
    assert summary.ok and summary.copied == 3
    assert calls == [[]]


def test_the_progress_display_imports_rich_with_the_first_event() -> None:
    code = ("import sys\n"
            "from engine.events import Message\n"
            "from tui.output import make_sink\n"
            "sink = make_sink(False)\n"
            "print('rich' in sys.modules)\n"
            "sink(Message('transfer', text='hello', level='info'))\n"
            "print('rich' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "hello", "True"]
