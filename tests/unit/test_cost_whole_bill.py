"""The whole bill: per-region AWS egress, Google Cloud inter-region egress by continent pair, the managed private
network instead of egress (never both), storage at rest on both sides and the boot disk, and a source-side
reserved instance / savings plan with the months still owed.  All in US dollars."""

from __future__ import annotations

import pytest

from engine.catalog.load import embedded_catalog
from engine.cost.model import compute_costs
from engine.errors import BadInputError
from engine.profile import ProfileError, parse_profile
from tests.cost_support import TARGET_A2, WORKLOAD_8_7_10, aws_source

CAT = embedded_catalog()
ROLE = "arn:aws:iam::123456789012:role/r"


def aws(region: str = "us-east-1", cost: str = "", source: str = "", extra: str = "") -> object:
    return parse_profile("\n" + aws_source(region) + f"{source}\n" + TARGET_A2 + WORKLOAD_8_7_10
                         + f"[cost]\n{cost}\n{extra}")


def item(report, name: str):  # type: ignore[no-untyped-def]
    return next(i for i in report.one_off_items if i.name == name)


def test_managed_private_network_transfer_is_not_also_charged_aws_egress() -> None:
    entry = f"""
[[transfer]]
src = "s3://bucket/data"
dst = "gs://bucket/data"
engine = "sts"
[transfer.sts]
aws_role_arn = "{ROLE}"
managed_private_network = true
"""
    report = compute_costs(aws(cost="data_gb = 20480", extra=entry), CAT, with_sensitivity=False)
    assert item(report, "egress").usd == 0  # was $1,742 of AWS egress on top of the STS fee
    assert item(report, "Storage Transfer Service").usd == pytest.approx(20480 * 0.03)
    assert any("managed private network" in n and "not as AWS egress" in n for n in report.notes)


def test_aws_egress_uses_the_source_regions_tiers() -> None:
    east = item(compute_costs(aws(cost="data_gb = 1100"), CAT, with_sensitivity=False), "egress")
    sydney_profile = aws("ap-southeast-2", cost="data_gb = 1100\nsource_storage_usd_per_gb_month = 0.025")
    sydney = item(compute_costs(sydney_profile, CAT, with_sensitivity=False), "egress")
    assert east.usd == pytest.approx(1000 * 0.09) and "us-east-1" in east.detail
    assert sydney.usd == pytest.approx(1000 * 0.114) and "ap-southeast-2" in sydney.detail
    assert sydney.price_date == "2024-09-25"  # Infracost's recorded Price List output (was a 2020 blog table)
    sao = item(compute_costs(aws("sa-east-1", cost="data_gb = 1100\nsource_storage_usd_per_gb_month = 0.04"), CAT,
                             with_sensitivity=False), "egress")
    assert sao.usd == pytest.approx(1000 * 0.15) and "sa-east-1" in sao.detail  # was an error: no tiers


def test_an_aws_region_without_egress_tiers_is_an_error_or_a_loud_fallback() -> None:
    profile = aws("me-central-1", cost="data_gb = 500\nsource_storage_usd_per_gb_month = 0.04")
    with pytest.raises(BadInputError,
                       match="source.region: the catalog has no AWS internet egress tiers for me-central-1"):
        compute_costs(profile, CAT, with_sensitivity=False)
    report = compute_costs(profile, CAT, with_sensitivity=False, allow_price_fallback=True)
    assert any(n.startswith("PRICE FALLBACK: no AWS egress tiers for me-central-1") for n in report.notes)
    # a nearby region's tiers, not us-east-1's for every region
    assert any(n.startswith("PRICE FALLBACK: no AWS egress tiers for me-central-1 in the catalog; priced with "
                            "me-south-1's, the priced region nearest by name on its continent") for n in report.notes)


def test_google_cloud_inter_region_egress_by_continent_pair() -> None:
    def gcp(src: str, dst_region: str, machine: str = "a2-highgpu-1g"):  # type: ignore[no-untyped-def]
        return parse_profile(f"""
[source]
provider = "gcp"
region = "{src}"
instance_type = "a2-highgpu-1g"
[target]
region = "{dst_region}"
machine_type = "{machine}"
[cost]
data_gb = 1000
""")
    eu_us = item(compute_costs(gcp("europe-west4", "us-central1"), CAT, with_sensitivity=False), "egress")
    us_us = item(compute_costs(gcp("us-east4", "us-central1"), CAT, with_sensitivity=False), "egress")
    assert eu_us.usd == pytest.approx(1000 * 0.05) and "EU-NA" in eu_us.detail  # not the flat $0.02
    assert us_us.usd == pytest.approx(1000 * 0.02)
    # pairs the newer summary lacks come from Google's own 2022 list, dated so (stale) and saying what changed since
    oceania = item(compute_costs(gcp("us-central1", "australia-southeast1", "a3-highgpu-1g"), CAT,
                                 with_sensitivity=False), "egress")
    assert oceania.usd == pytest.approx(1000 * 0.15) and "NA-OCEANIA" in oceania.detail
    assert oceania.price_date == "2022-03-14" and oceania.stale is True
    oceania_notes = compute_costs(gcp("us-central1", "australia-southeast1", "a3-highgpu-1g"), CAT,
                                  with_sensitivity=False).notes
    assert any(n.startswith("egress NA-OCEANIA: Google's 2022 list") and "0086-8707-C3B1" in n for n in oceania_notes)
    sa = item(compute_costs(gcp("southamerica-east1", "europe-west4", "a2-ultragpu-1g"), CAT,
                            with_sensitivity=False), "egress")
    assert sa.usd == pytest.approx(1000 * 0.08) and "EU-SA" in sa.detail
    asia = item(compute_costs(gcp("asia-northeast1", "asia-southeast1"), CAT, with_sensitivity=False), "egress")
    assert asia.usd == pytest.approx(1000 * 0.08) and asia.price_date == "2024-07-01"  # 2024 SKU price
    # no public source prices the Middle East or Africa pairs: still an error, not a guess
    with pytest.raises(BadInputError, match="no Google Cloud inter-region price for ME-NA \\(no public price list "
                                            "recorded here prices Middle East or Africa pairs"):
        compute_costs(gcp("us-central1", "me-west1"), CAT, with_sensitivity=False)


def test_storage_at_rest_on_both_sides_and_the_boot_disk() -> None:
    report = compute_costs(aws(cost='data_gb = 1000\ntarget_storage_class = "NEARLINE"\nparallel_run_days = 0'),
                           CAT, with_sensitivity=False)
    src, tgt = report.source, report.primary
    assert src.storage_monthly_usd == pytest.approx(1000 * 0.023) and "S3 Standard" in src.storage_detail
    assert tgt.storage_monthly_usd == pytest.approx(1000 * 0.01 + 200 * 0.1)
    assert "GCS NEARLINE" in tgt.storage_detail and "200 GiB pd-balanced boot disk" in tgt.storage_detail
    assert tgt.savings_monthly_usd == pytest.approx(src.bill_monthly_usd - tgt.bill_monthly_usd)
    assert any("EBS volumes are not priced" in n for n in report.notes)
    with_parallel = compute_costs(aws(cost="data_gb = 1000\nparallel_run_days = 30.4375"), CAT,
                                  with_sensitivity=False)
    assert with_parallel.primary.parallel_run_usd == pytest.approx(with_parallel.primary.bill_monthly_usd)
    ssd = compute_costs(aws(region="us-east-1", extra='[drivers]\nboot_disk_gb = 100\nboot_disk_type = "pd-ssd"\n'),
                        CAT, with_sensitivity=False)
    assert ssd.primary.storage_monthly_usd == pytest.approx(100 * 0.17)


def test_source_reserved_instance_is_paid_whether_used_or_not_and_the_months_left_are_a_cost_of_moving() -> None:
    report = compute_costs(aws(source='pricing = "reserved-1y"\ncommitment_months_left = 7'), CAT,
                           with_sensitivity=False)
    src = report.source
    assert src.pricing == "reserved-1y" and src.monthly_usd == pytest.approx(3.06 * 730)
    assert src.cost_per_run_usd == pytest.approx(3.06 * 730 / 10) and src.list_cost_per_run_usd == pytest.approx(3.06 * 8)
    owed = item(report, "source commitment still owed")
    assert owed.usd == pytest.approx(7 * 3.06 * 730) and "7 months left of reserved-1y" in owed.detail
    assert report.one_off_usd >= owed.usd
    with pytest.raises(ProfileError, match="source.pricing: pricing = 'savings-plan-3y' needs hourly_usd"):
        parse_profile('[source]\nprovider = "aws"\npricing = "savings-plan-3y"\n')


def test_usd_only_is_said() -> None:
    doc = compute_costs(aws(), CAT, with_sensitivity=False).to_dict()
    assert doc["currency"] == "USD" and "no currency conversion" in doc["currency_note"]


def test_a_cold_gcs_class_says_what_its_price_at_rest_leaves_out() -> None:
    """target_storage_class = NEARLINE/COLDLINE/ARCHIVE was priced at rest only, silently: reading the data for
    every run pays a retrieval fee per GB and each object is billed for a minimum duration (Google Cloud Storage
    classes: 30, 90 and 365 days). The S3 side already said so for its cold classes."""
    for cls, days in (("NEARLINE", 30), ("COLDLINE", 90), ("ARCHIVE", 365)):
        report = compute_costs(aws(cost=f'data_gb = 1000\ntarget_storage_class = "{cls}"'), CAT)
        assert any(n.startswith(f"GCS {cls}: reading the data pays a retrieval fee per GB") and f"{days} days" in n
                   for n in report.notes), report.notes
    standard = compute_costs(aws(cost='data_gb = 1000'), CAT)
    assert not any("retrieval fee" in n for n in standard.notes)
