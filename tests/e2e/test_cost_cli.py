"""`gpumigrate cost` and `gpumigrate catalog show` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def gm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env=full)


def test_reference_profile_as_a_table_and_as_json() -> None:
    out = gm("cost", "profiles/aws-p3-to-gcp-a100.toml")
    assert out.returncode == 0, out.stderr
    assert "$25.09" in out.stdout and "$17.61" in out.stdout and "negotiated in the profile" in out.stdout
    doc = json.loads(gm("cost", "profiles/aws-p3-to-gcp-a100.toml", "--json").stdout)
    assert doc["currency"] == "USD" and set(doc) >= {"options", "one_off_usd", "break_even_months"}
    src, tgt = doc["options"][0], doc["options"][1]
    assert (src["side"], tgt["side"]) == ("source", "target")
    assert round(src["list_cost_per_run_usd"], 2) == 25.09 and round(tgt["list_cost_per_run_usd"], 2) == 17.61
    assert round(src["cost_per_run_usd"], 2) == 25.09 and round(tgt["cost_per_run_usd"], 2) == 22.63
    assert tgt["price_age_days"] is None and tgt["stale"] is False  # negotiated: no catalog date
    for option in doc["options"]:
        assert isinstance(option["price_source"], str) and option["price_source"]
        assert isinstance(option["price_date"], str) and option["price_date"]


def test_data_volume_flag_prices_egress() -> None:
    doc = json.loads(gm("cost", "profiles/aws-p3-to-gcp-a100.toml", "--json", "--data-gb", "1100").stdout)
    egress = next(i for i in doc["one_off_items"] if i["name"] == "egress")
    assert abs(egress["usd"] - 1000 * 0.09) < 1e-9


def test_a_profile_without_a_price_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[source]\nprovider = "aws"\ninstance_type = "zz.large"\n')
    out = gm("cost", str(bad))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "zz.large" in out.stderr


def test_catalog_show_filters_and_carries_age() -> None:
    doc = json.loads(gm("catalog", "show", "--gpu", "A100 80GB", "--provider", "gcp", "--json").stdout)
    assert doc["rows"] and all(r["gpu_model"] == "A100 80GB" and r["provider"] == "gcp" for r in doc["rows"])
    assert all(r["origin"].startswith("embedded, as of") for r in doc["rows"])
    aws = json.loads(gm("catalog", "show", "--gpu", "V100", "--provider", "aws", "--json").stdout)["rows"]
    p3 = next(r for r in aws if r["type"] == "p3.2xlarge" and r["region"] == "us-east-1")
    table = gm("catalog", "show", "--gpu", "V100")  # the age in days on the row; the origin in --wide
    line = next(ln for ln in table.stdout.splitlines() if ln.startswith("p3.2xlarge") and "us-east-1" in ln)
    assert table.returncode == 0 and f"{p3['price_age_days']}d" in line
    assert "months old" in gm("catalog", "show", "--gpu", "V100", "--wide").stdout


def test_reference_figures_whole_at_80_columns() -> None:
    """80 columns (many terminals, every pipe): the per-option table turns on its side, no figure cut."""
    out = gm("cost", "profiles/aws-p3-to-gcp-a100.toml", env={"COLUMNS": "80"})
    assert out.returncode == 0, out.stderr
    table = out.stdout.split("Where each price comes from")[0]
    assert "$25.09" in table and "$17.61" in table and "$22.63" in table and "$176.96 (8.8%)" in table
    assert "…" not in table and max(len(line) for line in table.splitlines()) <= 80
