"""Every priced line of a move's one-off cites a dated source: the GCS writes line, in every move's one-off,
read "embedded, as of undated; verified=partial: Benji19967/google-cloud-utils README; memory"."""

from __future__ import annotations

from engine.cost.model import compute_costs
from engine.profile import load_profile
from tests.conftest import REPO


def test_each_priced_one_off_line_cites_a_dated_source_not_memory() -> None:
    profile = load_profile(REPO / "profiles" / "aws-p3-to-gcp-a100.toml")
    profile = profile.model_copy(update={"cost": profile.cost.model_copy(update={"data_gb": 5000})})
    report = compute_costs(profile, with_sensitivity=False)
    priced = [i for i in report.one_off_items if i.usd > 0]
    assert {i.name for i in priced} >= {"egress", "GCS writes (Class A)"}
    for item in priced:
        assert item.price_date and item.price_date != "undated", item
        assert "memory" not in item.price_source and "undated" not in item.price_source, item
    writes = next(i for i in priced if i.name == "GCS writes (Class A)")
    assert "cloud.google.com/storage/pricing" in writes.price_source and writes.price_date == "2026-09-20"


def test_every_shipped_row_has_its_columns_and_a_source() -> None:
    import csv

    for path in sorted((REPO / "engine" / "catalog" / "data").glob("*.csv")):
        for number, row in enumerate(csv.DictReader(path.read_text(encoding="utf-8").splitlines()), start=2):
            assert None not in row and None not in row.values(), (path.name, number, row)  # a stray comma
            assert (row.get("source") or "").strip() not in ("", "-"), (path.name, number)
