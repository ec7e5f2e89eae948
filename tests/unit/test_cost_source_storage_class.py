"""The S3 storage class the source data is kept in (cost.source_storage_class) is priced at rest from the catalog's
recorded per-class prices; a class or region without a price is an error, or a loud fallback."""

from __future__ import annotations

import pytest

from engine.catalog.load import embedded_catalog
from engine.cost.model import compute_costs
from engine.errors import BadInputError
from engine.profile import ProfileError, parse_profile

CAT = embedded_catalog()


def profile(region: str, cls: str) -> object:
    return parse_profile(f"""
[source]
provider = "aws"
region = "{region}"
instance_type = "p3.2xlarge"
hourly_usd = 3.06
[target]
machine_type = "a2-highgpu-1g"
[cost]
data_gb = 10000
source_storage_class = "{cls}"
""")


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
    with pytest.raises(BadInputError, match="no S3 STANDARD_IA storage price for eu-west-1 .*catalog refresh"):
        compute_costs(profile("eu-west-1", "STANDARD_IA"), CAT, with_sensitivity=False)
    loud = compute_costs(profile("eu-west-1", "STANDARD_IA"), CAT, with_sensitivity=False, allow_price_fallback=True)
    assert any(n.startswith("PRICE FALLBACK: no S3 STANDARD_IA storage price for eu-west-1") for n in loud.notes)
    with pytest.raises(ProfileError, match="source_storage_class"):
        profile("us-east-1", "REDUCED_REDUNDANCY")
