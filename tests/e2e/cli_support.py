"""Run the real `gpumigrate` CLI as a subprocess, the way a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def gpumigrate(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "120")
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=cwd or REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


def gpumigrate_output_closed(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The CLI with a stdout nobody reads (`| head -1` once head has exited): its first write meets EPIPE.

    The pipe's read end is closed before the process starts, so the outcome does not depend on timing."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "120")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=cwd or REPO, env=full_env,
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=timeout)
    finally:
        os.close(write_end)
