"""The sizing recommendations rank shapes by catalog prices ("$0.71/h on demand ... $5.99 per run (cost model)")
and gave no price date: a price past its age limit read like today's. Each now says its date, and a stale one is
flagged."""

from __future__ import annotations

from dataclasses import replace

from engine.catalog.load import load_catalog
from engine.inventory.scan import candidates_from_catalog
from engine.inventory.sizing import SourceShape, WorkloadSpec, recommend


def _recs(catalog):  # type: ignore[no-untyped-def]
    res = recommend(WorkloadSpec(kind="training", model="ResNet-50 (100 epochs)", precision="fp32", batch_size=112),
                    SourceShape(gpu_model="V100", gpu_count=1), candidates_from_catalog(catalog),
                    region="us-central1", source_hours=8.2)
    assert res.recommendations
    return res.recommendations


def test_each_recommended_price_says_its_date_and_a_stale_one_says_so() -> None:
    catalog = load_catalog()
    for rec in _recs(catalog):
        if rec.hourly_usd is not None:
            assert "/h on demand (price as of " in rec.reason, rec.reason
    catalog.gcp_machines = [replace(m, date="2024-01-01") for m in catalog.gcp_machines]
    for rec in _recs(catalog):
        if rec.hourly_usd is not None:
            assert "/h on demand (price as of 2024-01-01, STALE" in rec.reason, rec.reason
            assert any(w.startswith("the on-demand price is") and "stale after 180" in w for w in rec.warnings)
