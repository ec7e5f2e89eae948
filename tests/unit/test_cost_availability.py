"""Every region, with availability: a zone or region that does not offer the GPU, a GPU the machine does not
carry, a GPU count it does not have are validate-time errors (file:line: field); a region without a price is
an error unless --allow-price-fallback; the public price-per-run function the sizing work ranks shapes with."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from engine.catalog.load import embedded_catalog
from engine.cost.model import compute_costs, price_per_run
from engine.errors import BadInputError
from engine.profile import ProfileError, parse_profile
from tui.cli import main

HEAD = '[source]\nprovider = "aws"\ninstance_type = "p3.2xlarge"\n[target]\n'


def problems(target: str) -> list[str]:
    with pytest.raises(ProfileError) as err:
        parse_profile(HEAD + target, "p.toml")
    return err.value.problems


def test_a100_in_a_region_without_a2_names_where_it_is_offered() -> None:
    [line] = problems('region = "europe-west1"\nmachine_type = "a2-highgpu-1g"\n')
    assert line.startswith("p.toml:5: target.region: A100 40GB is not offered in europe-west1 (offered in ")
    assert "europe-west4" in line and "us-central1" in line and "skypilot-catalog" in line


def test_a_zone_that_does_not_offer_the_gpu_names_the_zones_that_do() -> None:
    [line] = problems('region = "us-central1"\nzone = "us-central1-d"\nmachine_type = "a2-highgpu-1g"\n')
    assert line.startswith("p.toml:6: target.zone: A100 40GB is not offered in us-central1-d; zones of "
                           "us-central1 that offer it: us-central1-a, us-central1-b, us-central1-c, us-central1-f")


def test_gpu_count_must_match_the_machine_type() -> None:
    [line] = problems('machine_type = "a2-highgpu-1g"\ngpu_count = 8\n')
    assert line.startswith("p.toml:6: target.gpu_count: 8 does not match a2-highgpu-1g, which has 1 A100 40GB")
    assert "a2-highgpu-8g" in line
    parse_profile(HEAD + 'machine_type = "a2-highgpu-8g"\ngpu_count = 8\n')  # matching: fine


def test_a_gpu_the_machine_does_not_carry_names_both() -> None:
    [line] = problems('machine_type = "a2-highgpu-1g"\ngpu_model = "H100 80GB"\n')
    assert line.startswith("p.toml:6: target.gpu_model: 'H100 80GB' does not match target.machine_type "
                           "'a2-highgpu-1g', which carries A100 40GB; H100 80GB comes with ")
    assert "a3-highgpu-1g" in line and "not in the Google Cloud catalog" not in line


def test_cost_options_are_checked_with_their_index() -> None:
    text = HEAD + 'machine_type = "g2-standard-4"\n[[cost.options]]\nmachine_type = "a2-ultragpu-1g"\n' \
                  'region = "europe-west1"\n'
    with pytest.raises(ProfileError) as err:
        parse_profile(text, "p.toml")
    assert err.value.problems[0].startswith("p.toml:8: cost.options[0].region: A100 80GB is not offered in "
                                            "europe-west1")


def test_prices_differ_by_region() -> None:
    us = compute_costs(parse_profile(HEAD + 'machine_type = "a2-highgpu-1g"\n'), embedded_catalog())
    tokyo = compute_costs(parse_profile(HEAD + 'region = "asia-northeast1"\nmachine_type = "a2-highgpu-1g"\n'),
                          embedded_catalog())
    assert us.primary.region == "us-central1" and us.primary.hourly_usd == pytest.approx(3.673385)
    assert tokyo.primary.region == "asia-northeast1" and tokyo.primary.hourly_usd == pytest.approx(4.049590926)


def test_a_region_without_a_price_is_an_error_or_a_loud_fallback(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path) -> None:  # type: ignore[no-untyped-def]
    # H100 is offered in us-central1, but a3-megagpu-8g is priced in 9 other regions only
    text = HEAD + 'machine_type = "a3-megagpu-8g"\n'
    with pytest.raises(BadInputError, match=r"target.region: the catalog has no us-central1 price for "
                                            r"a3-megagpu-8g \(priced in asia-northeast1, .*us-east4"):
        compute_costs(parse_profile(text), embedded_catalog())
    report = compute_costs(parse_profile(text), embedded_catalog(), allow_price_fallback=True)
    # a same-continent stand-in: it was asia-northeast1, the first priced region in the alphabet
    assert report.primary.region == "us-east4"
    assert any(n.startswith("PRICE FALLBACK: a3-megagpu-8g has no us-central1 price in the catalog; priced at us-east4's "
                            "rate, the first priced region on us-central1's continent (price fallback allowed)")
               for n in report.notes)
    path = tmp_path / "p.toml"
    path.write_text(text)
    assert main(["cost", str(path), "--json"]) == 2
    assert "target.region: the catalog has no us-central1 price" in capsys.readouterr().err
    assert main(["cost", str(path), "--json", "--allow-price-fallback"]) == 0
    assert "PRICE FALLBACK" in capsys.readouterr().out


@pytest.mark.parametrize("machine,gpu", [("a4-highgpu-8g", "B200 180GB"), ("a3-edgegpu-8g", "H100 80GB")])
def test_single_region_shapes_say_so_in_the_data_and_the_output(machine: str, gpu: str) -> None:
    """A4 / A3 Edge: no consistent per-region price is published, so they are priced in us-central1 only (with
    hourly_usd), and the catalog row and the errors say so (never a silent copy of us-central1 elsewhere)."""
    rows = [m for m in embedded_catalog().machines_of(machine) if m.gpu_model == gpu]
    assert [m.region for m in rows] == ["us-central1"] and "SINGLE-REGION" in rows[0].notes
    text = HEAD + f'machine_type = "{machine}"\ngpu_model = "{gpu}"\ngpu_count = 8\nhourly_usd = 90.0\n'
    elsewhere = text.replace("hourly_usd = 90.0\n", "").replace("[target]\n", '[target]\nregion = "europe-west4"\n')
    with pytest.raises(BadInputError, match=r"priced in us-central1 only: single-region data"):
        compute_costs(parse_profile(elsewhere), embedded_catalog())


def test_a3_ultra_is_priced_in_the_regions_its_dated_snapshot_prices() -> None:
    """A3 Ultra (H200): the five regions the 2026-10-13 Billing Catalog snapshot prices; europe-west4 offers it but
    its recorded row has no on-demand price, so pricing there is an error naming the priced regions."""
    text = HEAD + 'region = "us-east4"\nmachine_type = "a3-ultragpu-8g"\n'
    report = compute_costs(parse_profile(text), embedded_catalog())
    assert report.primary.region == "us-east4" and report.primary.hourly_usd == pytest.approx(83.492)
    assert not any("SINGLE-REGION" in n or "PRICE CHECK" in n for n in report.notes)
    india = compute_costs(parse_profile(text.replace("us-east4", "asia-south1")), embedded_catalog())
    assert india.primary.hourly_usd == pytest.approx(8 * 12.5245)
    with pytest.raises(BadInputError, match=r"no europe-west4 price for a3-ultragpu-8g \(priced in asia-south1, "
                                            r"europe-west1, us-central1, us-east4, us-west1\)"):
        compute_costs(parse_profile(text.replace("us-east4", "europe-west4")), embedded_catalog())


def test_h200_b200_and_a3_edge_zones_are_checked_at_validate_time() -> None:
    [line] = problems('region = "europe-west2"\nmachine_type = "a3-ultragpu-8g"\n')
    assert line.startswith("p.toml:5: target.region: H200 141GB is not offered in europe-west2 (offered in asia-south1,")
    [line] = problems('region = "us-central1"\nzone = "us-central1-a"\nmachine_type = "a4-highgpu-8g"\n'
                      'hourly_usd = 90.0\n')
    assert "B200 180GB is not offered in us-central1-a; zones of us-central1 that offer it: us-central1-b" in line
    # A3 Edge runs in europe-west2 (its own host rows), A3 High does not: same GPU, each series' own zones
    parse_profile(HEAD + 'region = "europe-west2"\nmachine_type = "a3-edgegpu-8g"\nhourly_usd = 90.0\n')
    [line] = problems('region = "europe-west2"\nmachine_type = "a3-highgpu-8g"\n')
    assert "H100 80GB is not offered in europe-west2" in line and "europe-west2" not in line.split("offered in ", 2)[2]


def test_a_source_region_without_a_price_is_an_error_unless_negotiated() -> None:
    text = '[source]\nprovider = "aws"\nregion = "sa-east-1"\ninstance_type = "p3.2xlarge"\n' \
           '[target]\nmachine_type = "g2-standard-4"\n'
    with pytest.raises(BadInputError, match="source.region: the catalog has no sa-east-1 price for p3.2xlarge"):
        compute_costs(parse_profile(text), embedded_catalog())
    negotiated = text.replace('"p3.2xlarge"\n', '"p3.2xlarge"\nhourly_usd = 3.3\n', 1)
    assert compute_costs(parse_profile(negotiated), embedded_catalog()).source.hourly_usd == 3.3
    ireland = compute_costs(parse_profile(text.replace("sa-east-1", "eu-west-1")), embedded_catalog()).source
    assert ireland.region == "eu-west-1" and ireland.hourly_usd == pytest.approx(3.305)  # not us-east-1's $3.06


def test_price_per_run_for_ranking_shapes() -> None:
    cat = embedded_catalog()
    run = price_per_run(cat, "a2-highgpu-1g", 1, "europe-west4", 10.0, today=date(2026, 8, 1))
    assert run.hourly_usd == pytest.approx(3.747972) and run.cost_per_run_usd == pytest.approx(37.47972)
    assert run.gpu_model == "A100 40GB" and run.region == "europe-west4" and run.price_date == "2026-07-30"
    spot = price_per_run(cat, "g2-standard-4", None, "us-central1", 2.0, pricing="spot")
    assert spot.cost_per_run_usd == pytest.approx(0.397336 * 2.0 * 1.1)
    with pytest.raises(BadInputError, match="target.gpu_count: 8 does not match a2-highgpu-1g"):
        price_per_run(cat, "a2-highgpu-1g", 8, "us-central1", 1.0)
    with pytest.raises(BadInputError, match="A100 40GB is not offered in europe-west1"):
        price_per_run(cat, "a2-highgpu-1g", 1, "europe-west1", 1.0)


def test_a_deep_spot_discount_is_priced_and_a_spot_check_note_is_said_where_it_is_used() -> None:
    """pricing.yml gives a3-highgpu-8g spot $10.21/h in europe-north1 against $97.44 on-demand (89.5% off): within
    Google's up-to-91% spot discount and written by pricing.yml's generator only when the GPU's spot SKU is found there,
    so it is priced without doubt. A row whose spot is deeper than Google allows carries a SPOT CHECK, and the cost
    says it where that spot price is used (on-demand there says nothing of it)."""
    text = HEAD.replace('instance_type', 'region = "us-east-1"\ninstance_type') + \
        'region = "europe-north1"\nmachine_type = "a3-highgpu-8g"\ngpu_count = 8\npricing = "spot"\n'
    report = compute_costs(parse_profile(text), embedded_catalog())
    assert report.primary.hourly_usd == pytest.approx(10.205476603)
    assert not [n for n in report.notes if "SPOT CHECK" in n]
    cat = embedded_catalog()  # a fresh catalog: its row lists are copies
    row = next(m for m in cat.machines_of("a3-highgpu-8g") if m.region == "europe-north1")
    flagged = dataclasses.replace(row, notes="SPOT CHECK: the spot price here is 4.2% of on-demand, a deeper "
                                  "discount than the 91% Google's Spot VMs pricing allows")
    cat.gcp_machines = [flagged if m is row else m for m in cat.gcp_machines]
    [check] = [n for n in compute_costs(parse_profile(text), cat).notes if "SPOT CHECK" in n]
    assert check.startswith("a3-highgpu-8g: SPOT CHECK: the spot price here is 4.2% of on-demand")
    assert not [n for n in compute_costs(parse_profile(text.replace('"spot"', '"on-demand"')), cat).notes
                if "SPOT CHECK" in n]


def test_the_source_gpu_and_count_must_match_its_instance_type() -> None:
    """`source.gpu_count = 8` on a p3.2xlarge (one V100) was priced and sized as 8 V100s, and `source.gpu_model
    = "A100 40GB"` as an A100 (the speed ratio then compares the wrong GPU); the target was checked, the
    source was not."""
    def source_problems(extra: str) -> list[str]:
        text = ('[source]\nprovider = "aws"\nregion = "us-east-1"\ninstance_type = "p3.2xlarge"\n' + extra +
                '[target]\nmachine_type = "a2-highgpu-1g"\n')
        with pytest.raises(ProfileError) as err:
            parse_profile(text, "p.toml")
        return err.value.problems

    [line] = source_problems("gpu_count = 8\n")
    assert line == "p.toml:5: source.gpu_count: 8 does not match p3.2xlarge, which has 1 V100"
    [line] = source_problems('gpu_model = "A100 40GB"\n')
    assert line.startswith("p.toml:5: source.gpu_model: 'A100 40GB' does not match source.instance_type "
                           "'p3.2xlarge', which carries V100")
    parse_profile('[source]\nprovider = "aws"\ninstance_type = "p3.2xlarge"\ngpu_model = "V100"\ngpu_count = 1\n'
                  '[target]\nmachine_type = "a2-highgpu-1g"\n')  # matching values pass
    parse_profile('[source]\nprovider = "aws"\ninstance_type = "g6f.large"\ngpu_count = 1\n'
                  '[target]\nmachine_type = "a2-highgpu-1g"\n')  # a fractional GPU shape is not compared


def test_an_unset_n1_count_is_the_profiles_default_for_options_too() -> None:
    """The default the check prices an unset N1 count with is the profile's own default (the count the create
    script attaches); a cost option gets the same rule, and its zone note says 'place it' (options have no zone)."""
    from engine.catalog.check import DEFAULT_GPU_COUNT, choice_notes
    from engine.cost.section import TargetOption
    from engine.profile import TargetSection

    assert DEFAULT_GPU_COUNT == TargetSection().gpu_count == TargetOption().gpu_count
    [line] = problems('machine_type = "a2-highgpu-1g"\n[[cost.options]]\nmachine_type = "n1-standard-96"\n'
                      'gpu_model = "V100"\n')
    assert "cost.options[0].gpu_count: not set, so 1 (the default" in line and "= 8" in line, line
    catalog = embedded_catalog()
    notes = choice_notes(catalog, prefix="cost.options[0]", machine_type="n1-standard-96", gpu_model="P100",
                         gpu_count=4, region="us-east1", zone=None)
    assert notes == ["cost.options[0].region: 4 x P100 on n1-standard-96 is not offered in us-east1-c (4 x P100 takes "
                     "at most 64 vCPUs and 208 GB in europe-west1-b, europe-west1-d, us-east1-c "
                     "(https://cloud.google.com/compute/docs/gpus (N1 general-purpose: GPUs, vCPUs, memory))); zones "
                     "of us-east1 that take it: us-east1-b; place it in one of them"]
    assert choice_notes(catalog, prefix="target", machine_type="n1-standard-32", gpu_model="P100", gpu_count=4,
                        region="us-east1", zone=None) == []  # 32 vCPUs / 120 GB fit the smaller limit
    assert choice_notes(catalog, prefix="target", machine_type="a2-highgpu-8g", gpu_model=None, gpu_count=None,
                        region="us-central1", zone=None) == []  # the machine type implies its count


def test_choosing_an_n1_option_without_a_count_makes_the_target_the_count_it_was_priced_with() -> None:
    """The Cost screen's 'use this option' swaps an option into [target]: an N1 option without gpu_count was priced
    with the default 1 T4, so the target gets 1 (it took the catalog's usual n1-standard-32 shape, 4 T4, before)."""
    from engine.cost.section import choose_option

    profile = parse_profile(HEAD + 'machine_type = "a2-highgpu-1g"\n[[cost.options]]\nmachine_type = "n1-standard-32"\n'
                            'gpu_model = "T4"\n')
    choose_option(profile, 0, embedded_catalog())
    assert (profile.target.machine_type, profile.target.gpu_model, profile.target.gpu_count) == \
        ("n1-standard-32", "T4", 1)


def test_an_aws_source_without_a_regional_price_names_every_priced_region_and_falls_back_nearby() -> None:
    """p4d.24xlarge in eu-west-3 said "(priced in us-east-1)": the catalog prices it in 14 regions, and the
    fallback took us-east-1's rate for a Paris instance where Frankfurt's and Ireland's were there."""
    text = ('[source]\nprovider = "aws"\nregion = "eu-west-3"\ninstance_type = "p4d.24xlarge"\n[target]\n'
            'machine_type = "a2-highgpu-8g"\n[workload]\nsource_hours_per_run = 8\nruns_per_month = 10\n')
    cat = embedded_catalog()
    regions = sorted({a.region for a in cat.aws_instances if a.instance_type == "p4d.24xlarge"
                      and a.ondemand_usd_per_hr})
    assert len(regions) > 5 and "eu-west-1" in regions
    with pytest.raises(BadInputError) as err:
        compute_costs(parse_profile(text), cat)
    assert f"(priced in {', '.join(regions)})" in str(err.value)
    report = compute_costs(parse_profile(text), cat, allow_price_fallback=True)
    assert report.source.region == "eu-west-1"  # nearest by name: eu-west-*
    assert any(n.startswith(f"PRICE FALLBACK: p4d.24xlarge has no eu-west-3 price in the catalog; priced at "
                            f"{report.source.region}'s rate, the priced region nearest by name on its continent")
               for n in report.notes)
