"""The saving's name and words: `savings_per_run_fraction` was a fraction of the monthly bill under a per-run
name; USD only said where a user reads the figures (issue #14 point 4: "USD only is fine, but say so")."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.catalog.load import embedded_catalog
from engine.cost.model import compute_costs
from engine.profile import load_profile

REPO = Path(__file__).resolve().parents[2]


def test_the_monthly_fraction_has_a_monthly_name_and_the_old_name_stays_for_readers() -> None:
    report = compute_costs(load_profile(REPO / "profiles/aws-p3-to-gcp-a100.toml"), embedded_catalog())
    tgt = report.primary
    assert tgt.savings_monthly_fraction == pytest.approx(1 - tgt.bill_monthly_usd / report.source.bill_monthly_usd)
    doc = report.to_dict()["options"][1]
    assert doc["savings_monthly_fraction"] == pytest.approx(0.088, abs=1e-3)
    assert doc["savings_per_run_fraction"] == doc["savings_monthly_fraction"]  # kept: same monthly figure
    summary = report.summary()
    assert "8.8% less a month, of the source's effective monthly bill)" in summary
    readme = (REPO / "README.md").read_text()
    assert "`savings_monthly_fraction`" in readme and "`savings_per_run_fraction`" in readme


def test_usd_only_is_said_in_help_table_and_readme(capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    for argv in (["cost", "--help"], ["catalog", "--help"], ["catalog", "show", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "USD only" in " ".join(capsys.readouterr().out.split()), argv
    assert main(["cost", str(REPO / "profiles/aws-p3-to-gcp-a100.toml")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "USD only" in out and "% in saving/month is of the source's monthly bill" in out
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "USD only" in readme


def test_commitment_percentages_say_what_they_are_of(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """"$1,810.40/month, 77.8% used; on-demand cheaper below 67.5%": 77.8% of what? Of the hours the commitment
    bills (730 a month), the same share on the CLI, in the notes (replay, JSON) and on the Cost screen."""
    from tui.cli import main

    monkeypatch.setenv("COLUMNS", "250")
    assert main(["cost", str(REPO / "profiles/aws-p3-to-gcp-a100.toml")]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "77.8% of its billed hours used; on-demand cheaper below 67.5% use" in out
    from engine.profile import parse_profile

    low = compute_costs(parse_profile('[source]\nprovider = "aws"\ninstance_type = "p3.2xlarge"\n[target]\n'
                                      'machine_type = "a2-highgpu-1g"\npricing = "cud-1y"\n[workload]\n'
                                      'source_hours_per_run = 8.2\ntarget_hours_per_run = 7.1\nruns_per_month = 10\n'),
                        embedded_catalog())  # 71 of 730 hours: the note below the break-even says the same
    assert any("9.7% of the commitment's billed hours are used; on-demand is cheaper below" in n for n in low.notes)


def test_a_spot_saving_says_it_is_not_guaranteed() -> None:
    """"63.2% less a month" on spot read like the saving of an on-demand machine: nothing said that the price is
    Google's to change, or that the VMs can be preempted at any time (no SLA)."""
    from engine.profile import parse_profile

    text = ('[source]\nprovider = "aws"\nregion = "us-east-1"\ninstance_type = "p3.2xlarge"\n[target]\n'
            'machine_type = "a2-highgpu-1g"\nregion = "us-central1"\npricing = "{pricing}"\n[workload]\n'
            'source_hours_per_run = 8\ntarget_hours_per_run = 4\nruns_per_month = 60\n[cost]\ndata_gb = 0\n')
    spot = compute_costs(parse_profile(text.format(pricing="spot")), embedded_catalog())
    words = "SPOT: not guaranteed (the price can change; VMs can be preempted at any time, no SLA; +10.0% run time"
    assert words in spot.summary() and any(words in line for line in spot.headline())
    assert any(n.startswith(f"a2-highgpu-1g spot: {words}") for n in spot.notes)  # the CLI and screen notes
    ondemand = compute_costs(parse_profile(text.format(pricing="on-demand")), embedded_catalog())
    assert "SPOT" not in ondemand.summary() and not any("SPOT" in line for line in ondemand.headline())
