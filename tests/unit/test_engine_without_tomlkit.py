"""The engine imports and saves without tomlkit (it only keeps a file's comments when the app has it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib, pkgutil, sys
sys.modules["tomlkit"] = None  # as if it were not installed: 'import tomlkit' raises ImportError
import engine
failed = []
for mod in pkgutil.walk_packages(engine.__path__, "engine."):
    if mod.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(mod.name)
    except ImportError as e:
        if "tomlkit" in str(e):
            failed.append(f"{mod.name}: {e}")
assert not failed, failed
from pathlib import Path
from engine.profile import load_profile, save_profile, dump_profile
path = Path(sys.argv[1])
profile = load_profile(path)
save_profile(profile, path)
assert path.read_text(encoding="utf-8") == dump_profile(profile)
print("ok")
"""


def test_every_engine_module_imports_and_a_save_works_without_tomlkit(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text((REPO / "profiles" / "demo.toml").read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(profile)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
