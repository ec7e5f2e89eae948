"""The profile models load without warnings on every pydantic the project allows (pyproject:
pydantic>=2.7). Before 2.10 pydantic warned about any field starting with ``model_`` (the
``[verify.model_load]`` check): ``UserWarning: Field "model_load" has conflict with protected
namespace "model_"`` on stderr whenever verify was imported. Checked against a scratch venv
with pydantic 2.7.0; with a newer pydantic this test passes either way."""

from __future__ import annotations

import subprocess
import sys


def test_sections_define_model_fields_without_a_warning() -> None:
    code = ("import warnings; warnings.simplefilter('error')\n"
            "import engine.verify.section\n"
            "from engine.model_base import Section\n"
            "class Probe(Section):\n    model_load: int = 0\n"
            "assert Probe(model_load=1).model_load == 1\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
