"""`gpumigrate replay --allow-price-fallback` means cost.allow_price_fallback = true for this run (the profile is
not edited), in this process and through `--session`'s detached worker: a source region without a price is priced
at another region's rate with the loud PRICE FALLBACK note, where without the flag the cost step stops (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.cost_support import NO_REGION_PRICE

PROFILE = NO_REGION_PRICE


def replay(profile: Path, *extra: str) -> tuple[int, list[dict]]:
    out = subprocess.run([sys.executable, "-m", "tui.cli", "replay", str(profile), "--steps", "cost", "--json",
                          *extra], cwd=REPO, capture_output=True, text=True, env=dict(os.environ), timeout=120)
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_the_flag_allows_the_fallback_for_this_run_in_process_and_in_the_session_worker(tmp_path: Path) -> None:
    profile = tmp_path / "cape-town.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    code, events = replay(profile)
    assert code == 2
    assert f"{profile}:3: source.region: the catalog has no af-south-1 price" in events[-1]["steps"]["cost"]["summary"]
    for extra in ((), ("--session", "cape-town")):
        code, events = replay(profile, "--allow-price-fallback", *extra)
        assert code == 0, (extra, events[-1])
        summary = events[-1]["steps"]["cost"]["summary"]
        assert "PRICE FALLBACK: 1 price taken from another region, NOT this region's" in summary, (extra, summary)
        warned = [e["text"] for e in events if e.get("event") == "message" and e.get("level") == "warning"]
        assert any(w.startswith("PRICE FALLBACK: p3.2xlarge has no af-south-1 price") for w in warned), extra
    assert profile.read_text(encoding="utf-8") == PROFILE  # the profile is not edited
