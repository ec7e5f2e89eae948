"""The S3 storage class the source data is kept in (cost.source_storage_class) is priced at rest from the catalog's
recorded per-class prices; a class or region without a price is an error, or a loud fallback."""

from __future__ import annotations

from datetime import date

import pytest

from engine.catalog.load import embedded_catalog
from engine.cost.model import compute_costs
from engine.errors import BadInputError
from engine.profile import ProfileError, parse_profile
from tests.cost_support import TARGET_A2, aws_source

CAT = embedded_catalog()


def profile(region: str, cls: str, extra: str = "") -> object:
    return parse_profile("\n" + aws_source(region) + TARGET_A2
                         + f'[cost]\ndata_gb = 10000\nsource_storage_class = "{cls}"\n{extra}\n')


@pytest.mark.parametrize(("cls", "rate"), [("STANDARD", 0.023), ("STANDARD_IA", 0.0125), ("ONEZONE_IA", 0.01),
                                           ("GLACIER", 0.0036), ("DEEP_ARCHIVE", 0.00099),
                                           ("INTELLIGENT_TIERING", 0.023)])
def test_each_class_at_its_recorded_rate(cls: str, rate: float) -> None:
    report = compute_costs(profile("us-east-1", cls), CAT, with_sensitivity=False)
    assert report.source.storage_monthly_usd == pytest.approx(10000 * rate)
    label = "S3 Standard" if cls == "STANDARD" else f"S3 {cls}"
    assert f"10,000.0 GB in {label} (us-east-1" in report.source.storage_detail
    if cls in ("GLACIER", "DEEP_ARCHIVE"):
        assert any(f"S3 {cls} objects must be restored" in n for n in report.notes)


def test_a_region_or_class_without_a_price_is_an_error_or_a_loud_fallback() -> None:
    # Mexico (Central) opened after the recorded S3 feed (2024-09): no S3 price (nor egress: waived here)
    mexico = profile("mx-central-1", "STANDARD_IA", 'route = "exit-waiver"')
    with pytest.raises(BadInputError, match="no S3 STANDARD_IA storage price for mx-central-1 .*catalog refresh"):
        compute_costs(mexico, CAT, with_sensitivity=False)
    loud = compute_costs(mexico, CAT, with_sensitivity=False, allow_price_fallback=True)
    assert any(n.startswith("PRICE FALLBACK: no S3 STANDARD_IA storage price for mx-central-1") for n in loud.notes)
    assert loud.source.storage_monthly_usd == pytest.approx(10000 * 0.0125)  # us-east-1's rate, said loudly
    # the profile's own switch does what the flag does (replay has no flag to pass), and the one-line summary
    # and the JSON carry the fallback
    own = compute_costs(profile("mx-central-1", "STANDARD_IA", 'route = "exit-waiver"\nallow_price_fallback = true'),
                        CAT, with_sensitivity=False)
    assert own.to_dict()["price_fallbacks"] == loud.price_fallbacks != []
    assert "PRICE FALLBACK: 1 price taken from another region, NOT this region's" in own.summary()
    assert "PRICE FALLBACK" not in compute_costs(profile("us-east-1", "STANDARD"), CAT,
                                                 with_sensitivity=False).summary()
    with pytest.raises(ProfileError, match="source_storage_class"):
        profile("us-east-1", "REDUCED_REDUNDANCY")


@pytest.mark.parametrize(("region", "cls", "monthly"), [
    ("eu-central-1", "STANDARD", 10000 * 0.0245), ("ap-southeast-3", "DEEP_ARCHIVE", 10000 * 0.002),
    ("eu-central-2", "INTELLIGENT_TIERING", 10000 * 0.02695)])
def test_other_regions_at_their_recorded_rate(region: str, cls: str, monthly: float) -> None:
    report = compute_costs(profile(region, cls, 'route = "exit-waiver"'), CAT, with_sensitivity=False)
    assert report.source.storage_monthly_usd == pytest.approx(monthly)
    assert f"({region}, tiered)" in report.source.storage_detail


def test_s3_standard_tiers_above_50_tb_in_us_east_1() -> None:
    report = compute_costs(parse_profile("\n" + aws_source() + TARGET_A2 + "[cost]\ndata_gb = 600000\n"), CAT,
                           with_sensitivity=False)
    # 50 TB at $0.023, 450 TB at $0.022, the remaining 88,000 GB at $0.021 (the feed recorded 2024-09-25)
    assert report.source.storage_monthly_usd == pytest.approx(51200 * 0.023 + 460800 * 0.022 + 88000 * 0.021)


def test_a_stale_s3_price_says_so() -> None:
    eu = profile("eu-central-1", "STANDARD", 'route = "exit-waiver"')
    old = compute_costs(eu, CAT, with_sensitivity=False, today=date(2026, 11, 29))
    assert any(n.startswith("source data at rest (S3 Standard): the price is 795 days old (stale after 180)")
               and "aws-region eu-central-1` reads today's" in n for n in old.notes)  # recorded 2024-09-25
    fresh = compute_costs(eu, CAT, with_sensitivity=False, today=date(2024, 10, 1))
    assert not any(n.startswith("source data at rest") for n in fresh.notes)


def test_a_missing_class_price_points_at_the_refresh_that_reads_it() -> None:
    """`catalog refresh --aws` reads every class the profile accepts (GLACIER and DEEP_ARCHIVE too, from their
    recorded Price List shapes): the error for a region without the price names it, and replay's flag."""
    import pytest as _pytest

    from engine.catalog.load import load_catalog
    from engine.cost.model import compute_costs
    from engine.errors import BadInputError
    from engine.profile import parse_profile

    for cls in ("GLACIER", "DEEP_ARCHIVE", "STANDARD_IA"):
        says = "--aws-region mx-central-1`, or"
        text = ('[source]\nprovider = "aws"\nregion = "mx-central-1"\nhourly_usd = 3\n[target]\nmachine_type = '
                f'"a2-highgpu-1g"\n[cost]\ndata_gb = 100\nsource_storage_class = "{cls}"\nroute = "exit-waiver"\n')
        with _pytest.raises(BadInputError) as err:
            compute_costs(parse_profile(text), load_catalog(), with_sensitivity=False)
        assert says in str(err.value) and "`gpumigrate replay --allow-price-fallback`" in str(err.value), str(err.value)
