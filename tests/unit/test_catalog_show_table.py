"""`gpumigrate catalog show` as a table on an 80-column SSH jump host: 10 columns folded to ~5 characters
("p4d.2 / 4xlar / ge", "$30.1 / 0") over 38,000 lines, 2,130 of the 3,192 Google Cloud rows N1 flexible shapes.
Now the prices a user compares (on-demand, spot, 1y, 3y, age with flags) fit the width, whole; the rest is in
--wide / --json; hidden rows are counted with the flag that shows them."""

from __future__ import annotations

import json

import pytest

from engine.catalog.load import load_catalog
from engine.cost.model import usd
from tui.cli import main


def show(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["catalog", "show", *argv]) == 0
    return capsys.readouterr().out


def test_the_table_fits_80_columns_with_every_price_whole(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = show(capsys, "--provider", "gcp", "--gpu", "A100 40GB")
    assert max(len(line) for line in out.splitlines()) <= 80
    row = load_catalog().gcp_machine("a2-highgpu-1g", "us-central1")
    assert row is not None
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("a2-highgpu-1g"))  # grouped under a heading
    line = next(ln for ln in lines[start:] if ln.split()[0] == "us-central1")
    for price in (row.ondemand_usd_per_hr, row.spot_usd_per_hr, row.cud_1y_usd_per_hr, row.cud_3y_usd_per_hr):
        assert usd(price) in line, (price, line)
    assert "STALE" in line  # its spot price is 122 days old (spot: stale after 30)
    assert "a2-highgpu-1g" in out and "USD only" in " ".join(out.split())
    # every row of the filter is there (none folded away), and the count says so
    doc = json.loads(show(capsys, "--provider", "gcp", "--gpu", "A100 40GB", "--json"))
    offered = [r for r in doc["rows"] if r["offered"] != "no"]
    assert f"{len(offered)} of {len(doc['rows'])} rows shown" in " ".join(out.split())


def test_n1_flexible_shapes_and_unoffered_rows_are_hidden_counted_and_shown_on_request(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    catalog = load_catalog()
    flexible = [m for m in catalog.gcp_machines if m.shape == "n1-flexible" and m.gpu_model == "T4"
                and m.region == "europe-west4"]
    assert flexible
    out = show(capsys, "--provider", "gcp", "--gpu", "T4", "--region", "europe-west4")
    words = " ".join(out.split())
    assert f"{len(flexible)} N1 flexible shapes hidden (--n1-flexible shows them)" in words
    assert flexible[0].machine_type not in out or any(
        m.machine_type == flexible[0].machine_type and not m.shape for m in catalog.gcp_machines)
    shown = show(capsys, "--provider", "gcp", "--gpu", "T4", "--region", "europe-west4", "--n1-flexible")
    assert all(m.machine_type in shown for m in flexible) and "hidden" not in shown.split("\n\n")[0]
    doc = json.loads(show(capsys, "--provider", "gcp", "--gpu", "T4", "--region", "europe-west4", "--json"))
    assert sum(r["shape"] == "n1-flexible" for r in doc["rows"]) == len(flexible)  # --json lists every row


def test_machine_filter_and_wide_columns(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = show(capsys, "--machine", "A2-ULTRA")
    assert "a2-ultragpu-1g" in out and "a2-ultragpu-8g" in out
    assert "a2-highgpu" not in out and "p4d" not in out and "AWS (" not in out
    assert "filters: --machine 'A2-ULTRA'" in " ".join(out.split())
    doc = json.loads(show(capsys, "--machine", "a2-ultragpu-8g", "--json"))
    assert doc["rows"] and {r["type"] for r in doc["rows"]} == {"a2-ultragpu-8g"}
    monkeypatch.setenv("COLUMNS", "200")
    wide = show(capsys, "--machine", "a2-ultragpu-8g", "--region", "us-central1", "--wide")
    assert "origin and age" in wide and "offered" in wide
    none = show(capsys, "--machine", "no-such-machine")
    assert "no rows match" in none


def test_the_counts_add_up_and_machine_sizes_sort_as_numbers(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    monkeypatch.setenv("COLUMNS", "80")
    out = " ".join(show(capsys, "--provider", "gcp").split())
    shown, total, flexible, unoffered = (int(n.replace(",", "")) for n in re.search(
        r"([\d,]+) of ([\d,]+) rows shown; ([\d,]+) N1 flexible shapes hidden .*?; ([\d,]+) priced where the GPU is "
        r"not offered hidden", out).groups())  # type: ignore[union-attr]
    assert shown + flexible + unoffered == total == len(load_catalog().gcp_machines)
    table = show(capsys, "--gpu", "L4", "--region", "europe-west4", "--provider", "gcp")
    order = [ln.split()[0] for ln in table.splitlines() if ln.startswith("g2-standard-")]
    assert order.index("g2-standard-4") < order.index("g2-standard-12")


def test_region_is_matched_as_typed_and_an_unknown_one_names_near_matches(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`--region US-Central1` matched nothing and a typo ("us-centrl1") or a zone ("us-central1-a") answered
    "no rows match" with exit 0, as if nothing were priced there."""
    monkeypatch.setenv("COLUMNS", "80")
    typed = show(capsys, "--region", " US-Central1", "--gpu", "T4")
    assert typed == show(capsys, "--region", "us-central1", "--gpu", "T4") and "n1-standard-8" in typed
    assert max(len(line) for line in typed.splitlines()) <= 80
    for wrong, hint in (("us-centrl1", "did you mean us-central1"),
                        ("us-central1-a", "looks like a zone; its region is us-central1"),
                        ("xx-nowhere9", "regions; `gpumigrate catalog show --json` lists every row")):
        assert main(["catalog", "show", "--region", wrong]) == 2
        out = capsys.readouterr()
        assert out.out == "" and f"no region {wrong!r} in the catalog" in out.err and hint in out.err, out.err
    assert main(["catalog", "show", "--gpu", "H10"]) == 2  # a GPU typo too: not "no rows match", exit 0
    assert "no GPU 'H10' in the catalog; did you mean H100" in capsys.readouterr().err
    assert "n1-standard-8" in show(capsys, "--gpu", "nvidia-tesla-t4", "--region", "us-central1")  # other names
    from tui.cli import parse_args  # the Price List knows "me-central-1" only: asked "ME-Central-1" it had nothing

    assert parse_args(["catalog", "refresh", "--aws-region", " ME-Central-1"]).aws_region == "me-central-1"
