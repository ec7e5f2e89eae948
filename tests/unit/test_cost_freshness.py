"""Freshness you can see: every price carries its date; a spot price over 30 days old and any price over 180
days old is flagged (JSON price_age_days / stale, a note); a refreshed price is as old as its refresh."""

from __future__ import annotations

from datetime import date, datetime, timezone

from engine.catalog.load import cache_dir, embedded_catalog, load_catalog, write_cache
from engine.cost.model import compute_costs
from engine.profile import parse_profile


def profile(pricing: str, region: str = "us-east-1", cost: str = "") -> object:
    return parse_profile(f"""
[source]
provider = "aws"
region = "{region}"
instance_type = "p3.2xlarge"
[target]
machine_type = "a2-highgpu-1g"
pricing = "{pricing}"
[workload]
source_hours_per_run = 8
runs_per_month = 10
[cost]
{cost}
""")


def test_spot_is_stale_after_30_days_other_prices_after_180() -> None:
    cat = embedded_catalog()  # GCP prices read 2026-07-30; p3.2xlarge as of 2025-06
    fresh = compute_costs(profile("spot"), cat, today=date(2026, 8, 15), with_sensitivity=False)
    assert (fresh.primary.price_age_days, fresh.primary.stale) == (16, False)
    old = compute_costs(profile("spot"), cat, today=date(2026, 9, 15), with_sensitivity=False)
    assert (old.primary.price_age_days, old.primary.stale) == (47, True)
    assert any("the spot price is 47 days old (stale after 30)" in n for n in old.notes)
    ondemand = compute_costs(profile("on-demand"), cat, today=date(2026, 9, 15), with_sensitivity=False)
    assert ondemand.primary.stale is False and ondemand.source.stale is True  # 2025-06: over 180 days
    doc = old.to_dict()
    assert doc["options"][1]["price_age_days"] == 47 and doc["options"][1]["stale"] is True


def test_one_off_prices_carry_their_age_too() -> None:
    text = "data_gb = 500\nsource_storage_usd_per_gb_month = 0.025"
    report = compute_costs(profile("on-demand", "ap-southeast-2", text), embedded_catalog(), today=date(2026, 11, 29),
                           with_sensitivity=False, allow_price_fallback=True)  # p3.2xlarge: us-east-1 rate
    egress = next(i for i in report.one_off_items if i.name == "egress")
    assert egress.price_date == "2024-09-25" and egress.stale is True and egress.price_age_days == 795
    assert any(n.startswith("egress: the price is") and "stale after 180" in n for n in report.notes)


def test_a_refresh_makes_a_price_as_old_as_the_refresh() -> None:
    now = datetime.now(timezone.utc)
    row = embedded_catalog().gcp_machine("a2-highgpu-1g", "us-central1")
    write_cache(cache_dir() / "gcp.json", {"refreshed_at": now.isoformat(), "source": "test refresh",
                                           "machines": [{"machine_type": row.machine_type, "gpu_model": row.gpu_model,
                                                         "gpu_count": 1, "gpu_memory_gb": 40.0, "vcpus": 12.0,
                                                         "memory_gb": 85.0, "region": "us-central1",
                                                         "ondemand_usd_per_hr": 3.6, "spot_usd_per_hr": 1.9}]})
    try:
        report = compute_costs(profile("spot"), load_catalog(), today=now.date(), with_sensitivity=False)
        assert report.primary.hourly_usd == 1.9 and (report.primary.price_age_days, report.primary.stale) == (0, False)
    finally:
        (cache_dir() / "gcp.json").unlink()


def test_an_n1_gpu_commitment_is_aged_by_its_2022_source_and_flagged_where_it_disagrees() -> None:
    """N1 + T4 commitments come from Google's 2022 price list: the option is as old as that list (not the 2025
    on-demand GPU price), and where 2022's on-demand GPU price differs from today's the output says so."""
    def n1(region: str) -> object:
        return parse_profile(f"""
[source]
provider = "aws"
instance_type = "p3.2xlarge"
[target]
machine_type = "n1-standard-8"
gpu_model = "T4"
region = "{region}"
pricing = "cud-1y"
[workload]
source_hours_per_run = 8
runs_per_month = 10
""")

    today = date(2026, 11, 29)
    us = compute_costs(n1("us-central1"), embedded_catalog(), today=today, with_sensitivity=False)
    assert abs(us.primary.hourly_usd - (174.7547 / 730 + 0.22)) < 1e-6  # n1-standard-8 1-year + T4 1-year
    assert us.primary.price_age_days == (today - date(2022, 3, 14)).days and us.primary.stale is True
    assert not any("COMMITMENT CHECK" in n for n in us.notes)
    eu = compute_costs(n1("europe-west4"), embedded_catalog(), today=today, with_sensitivity=False)
    assert any("COMMITMENT CHECK" in n and "$0.3675/h" in n for n in eu.notes)


def test_an_undated_catalog_price_is_not_called_fresh() -> None:
    """The GCS write price (Class A) was "undated; ... memory" in the catalog: the JSON said stale: false,
    a fresh price, where the tool cannot know its age. Undated is flagged and said, not hidden. (The shipped row
    is dated since s8; an undated row is made here.)"""
    from dataclasses import replace

    catalog = embedded_catalog()
    catalog.network = [replace(n, date="undated") if n.key == "gcs.class_a_1k" else n for n in catalog.network]
    report = compute_costs(profile("on-demand", cost="data_gb = 1000\nobject_count = 100000"), catalog,
                           today=date(2026, 11, 29))
    [writes] = [i for i in report.one_off_items if i.name == "GCS writes (Class A)"]
    assert writes.price_date == "undated" and writes.usd > 0
    assert writes.price_age_days is None and writes.stale is True
    assert any(n.startswith("GCS writes (Class A): the price has no date") for n in report.notes)
    negotiated = compute_costs(parse_profile('[source]\nprovider = "aws"\nregion = "us-east-1"\ninstance_type = '
                                             '"p3.2xlarge"\nhourly_usd = 3.0\n[target]\nmachine_type = '
                                             '"a2-highgpu-1g"\nhourly_usd = 2.0\n[workload]\nsource_hours_per_run = 8'
                                             '\nruns_per_month = 10\n'), embedded_catalog())
    assert negotiated.primary.stale is False and negotiated.options[0].stale is False  # a price you set is yours


def test_catalog_show_flags_stale_and_suspect_prices(capsys: object) -> None:
    """`catalog show` printed a 122-day-old spot price as "(4 months old)" with nothing to say it is
    stale (spot: after 30 days); JSON rows carry the ages and flags as the cost JSON does."""
    import json

    from tui.cli import main

    assert main(["catalog", "show", "--gpu", "H100 80GB", "--provider", "gcp", "--json"]) == 0
    rows = {(r["type"], r["region"]): r for r in json.loads(capsys.readouterr().out)["rows"]}  # type: ignore[attr-defined]
    us = rows[("a3-highgpu-8g", "us-central1")]
    assert us["spot_age_days"] is not None and us["spot_age_days"] > 30 and us["spot_stale"] is True
    assert us["price_age_days"] == us["spot_age_days"] and us["stale"] is (us["price_age_days"] > 180)
    # europe-north1's 89.5%-off spot is within Google's up-to-91% discount: not suspect (a deeper one would be CHECK)
    assert us["spot_check"] is False and rows[("a3-highgpu-8g", "europe-north1")]["spot_check"] is False
    assert main(["catalog", "show", "--gpu", "H100 80GB", "--provider", "gcp", "--region", "europe-north1"]) == 0
    table = capsys.readouterr().out  # type: ignore[attr-defined]
    rows_text = table.split("\nage: days since")[0]  # the legend below the table explains CHECK
    assert "STALE" in rows_text and " CHECK" not in rows_text and "spot older than 30 days" in " ".join(table.split())


def test_catalog_show_dates_commitment_prices_and_names_their_checks(capsys: object) -> None:
    """`catalog show --json` gave N1 commitment prices (Google's 2022-03-14 list, 1,700+ days old) no date of
    their own: the row's age (the 2025 on-demand figure) was the only one, and COMMITMENT CHECK was not a flag."""
    import json

    from tui.cli import main

    assert main(["catalog", "show", "--gpu", "T4", "--provider", "gcp", "--region", "europe-west4", "--json"]) == 0
    rows = {(r["type"], r["gpu_count"]): r for r in json.loads(capsys.readouterr().out)["rows"]}  # type: ignore[attr-defined]
    n1 = rows[("n1-highcpu-16", 1)]
    assert n1["cud_date"] == "2022-03-14" and n1["cud_age_days"] > 1600 and n1["cud_stale"] is True
    assert "COMMITMENT CHECK" in n1["checks"] and n1["spot_check"] is False
    assert main(["catalog", "show", "--gpu", "L4", "--provider", "gcp", "--region", "us-central1", "--json"]) == 0
    g2 = json.loads(capsys.readouterr().out)["rows"][0]  # type: ignore[attr-defined]
    assert g2["cud_date"] == "2026-07-30" and g2["checks"] == []
    assert main(["catalog", "show", "--gpu", "L4", "--provider", "gcp", "--region", "us-central1"]) == 0
    legend = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "91%" in legend and "far below the machine's other regions" not in legend


def test_a_refresh_that_reads_no_spot_or_commitment_price_keeps_the_embedded_ones_with_their_age() -> None:
    """A refresh whose answer had on-demand SKUs only (the recorded opencost page) replaced the embedded rows
    whole: a spot profile then failed ("no spot price") and a cud-1y one said "no cud-1y price is published",
    which Google does publish. The figures the refresh did not read stay, with their own date and source."""
    now = datetime.now(timezone.utc)
    emb = embedded_catalog().gcp_machine("a2-highgpu-1g", "us-central1")
    write_cache(cache_dir() / "gcp.json", {"refreshed_at": now.isoformat(), "source": "test refresh",
                                           "machines": [{"machine_type": emb.machine_type, "gpu_model": emb.gpu_model,
                                                         "gpu_count": 1, "gpu_memory_gb": 40.0, "vcpus": 12.0,
                                                         "memory_gb": 85.0, "region": "us-central1",
                                                         "ondemand_usd_per_hr": 3.6, "spot_usd_per_hr": None}]})
    try:
        cat = load_catalog()
        ondemand = compute_costs(profile("on-demand"), cat, today=now.date(), with_sensitivity=False)
        assert ondemand.primary.hourly_usd == 3.6 and ondemand.primary.price_age_days == 0
        spot = compute_costs(profile("spot"), cat, today=now.date(), with_sensitivity=False)
        assert spot.primary.hourly_usd == emb.spot_usd_per_hr
        assert spot.primary.price_date == emb.spot_date and spot.primary.price_age_days > 30
        assert spot.primary.price_source.startswith("embedded") and "Cyclenerd" in spot.primary.price_source
        cud = compute_costs(profile("cud-1y"), cat, today=now.date(), with_sensitivity=False)
        assert cud.primary.hourly_usd == emb.cud_1y_usd_per_hr and cud.primary.price_source.startswith("embedded")
    finally:
        (cache_dir() / "gcp.json").unlink()


def test_the_parallel_run_line_is_as_old_as_the_target_price_it_uses() -> None:
    """The JSON's "parallel run" one-off line is the primary target's rate for the parallel-run days: on a
    122-day-old spot price it said price_date "" and stale false."""
    doc = compute_costs(profile("spot"), embedded_catalog(), today=date(2026, 11, 29), with_sensitivity=False).to_dict()
    [line] = [i for i in doc["one_off_items"] if i["name"] == "parallel run"]
    assert line["usd"] > 0
    assert (line["price_date"], line["price_age_days"], line["stale"]) == ("2026-07-30", 122, True)
    assert line["price_source"] == doc["options"][1]["price_source"]


def test_fallback_and_check_are_flags_beside_the_price_age() -> None:
    """A price from another region or from disagreeing sources was only a note below the tables: the row
    itself (CLI "price age", the Cost screen's column, the JSON) read like any other price."""
    n1 = parse_profile('[source]\nprovider = "aws"\ninstance_type = "p3.2xlarge"\n[target]\nregion = "europe-west4"\n'
                       'machine_type = "n1-highcpu-16"\ngpu_model = "T4"\ngpu_count = 1\npricing = "cud-1y"\n'
                       '[workload]\nsource_hours_per_run = 8\nruns_per_month = 10\n')
    report = compute_costs(n1, embedded_catalog(), today=date(2026, 11, 29), with_sensitivity=False)
    assert report.primary.price_flags == ["STALE", "CHECK"]  # the 2022 commitment list vs today's GPU price
    assert report.primary.age_label() == "1721 d STALE CHECK"
    mega = parse_profile('[source]\nprovider = "aws"\ninstance_type = "p4d.24xlarge"\n[target]\nregion = "us-central1"\n'
                         'machine_type = "a3-megagpu-8g"\n[workload]\nsource_hours_per_run = 8\nruns_per_month = 10\n'
                         '[cost]\nallow_price_fallback = true\n')
    doc = compute_costs(mega, embedded_catalog(), today=date(2026, 11, 29), with_sensitivity=False).to_dict()
    assert doc["options"][1]["price_flags"] == ["FALLBACK"] and doc["options"][0]["price_flags"] == ["STALE"]


def test_the_one_line_summary_says_when_its_prices_are_stale() -> None:
    """replay prints (and the session and the app's step bar keep) the one line: "8.3% less a month" on a 697-day-old
    price read as current there, though the notes above it said stale. It names the stale prices now."""
    old = compute_costs(profile("spot"), embedded_catalog(), today=date(2026, 9, 15), with_sensitivity=False)
    line = old.summary()
    assert "STALE prices: p3.2xlarge, a2-highgpu-1g spot" in line and "catalog refresh" in line
    fresh = compute_costs(profile("spot"), embedded_catalog(), today=date(2026, 8, 15), with_sensitivity=False)
    assert "STALE prices: p3.2xlarge (over" in fresh.summary()  # the 2025-06 source price only
    quoted = compute_costs(profile("on-demand", cost="data_gb = 0"), embedded_catalog(), today=date(2025, 7, 1),
                           with_sensitivity=False)
    assert "STALE" not in quoted.summary()


def test_the_prices_footer_dates_the_embedded_catalog() -> None:
    """"prices: GCP embedded; AWS embedded" was the whole footer (cost, replay, the Cost screen, catalog show): a
    catalog installed a year after its newest price read like any other. It gives the prices' dates now."""
    cat = embedded_catalog()
    newest_gcp = max(r.date for r in cat.gcp_machines if r.date)
    newest_aws = max(r.date for r in cat.aws_instances if r.date)
    assert cat.age_note() == f"GCP embedded 2025..{newest_gcp}; AWS embedded 2025-06..{newest_aws}"
