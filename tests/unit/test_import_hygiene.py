"""The engine never imports the UI; the CLI starts without Textual."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

_WALK = """
import importlib, pkgutil, sys, engine
for m in pkgutil.walk_packages(engine.__path__, "engine."):
    importlib.import_module(m.name)
bad = sorted({k.split(".")[0] for k in sys.modules if k.split(".")[0] in ("textual", "rich", "tui", "textual_plotext")})
print(",".join(bad))
"""


def test_importing_every_engine_module_leaves_ui_out() -> None:
    out = subprocess.run([sys.executable, "-c", _WALK], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"engine pulled in: {out.stdout.strip()}"


def test_cli_help_and_validate_do_not_import_textual() -> None:
    code = ("import sys, tui.cli\n"
            "try:\n    tui.cli.main(['validate', 'profiles/demo.toml'])\nexcept SystemExit:\n    pass\n"
            "try:\n    tui.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TEXTUAL' if 'textual' in sys.modules else 'CLEAN')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "CLEAN", out.stdout + out.stderr
