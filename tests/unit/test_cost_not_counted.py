"""A saving and a break-even printed without what they leave out: a GLACIER source must be restored before it is
copied, a colder class bills a minimum storage duration when deleted sooner, and a Coldline target pays a retrieval
fee every time a run reads its data. The notes said "not priced", but the one line replay prints, the Cost screen's
headline and the CLI's table gave "8.3% less a month; break-even 2.1 months" with nothing beside them."""

from __future__ import annotations

import json

from engine.cost.model import compute_costs
from engine.profile import parse_profile
from tests.cost_support import TARGET_A2, WORKLOAD_8_7_10, aws_source


def _report(cost: str):  # type: ignore[no-untyped-def]
    return compute_costs(parse_profile("\n".join((aws_source(), TARGET_A2, WORKLOAD_8_7_10,
                                                  f"[cost]\ndata_gb = 1000\n{cost}\n"))), with_sensitivity=False)


def test_what_the_saving_and_break_even_leave_out_is_said_where_they_are() -> None:
    report = _report('source_storage_class = "GLACIER"\ntarget_storage_class = "COLDLINE"')
    assert report.not_counted == [
        "S3 GLACIER restore before the copy (retrieval per GB and per request: one-off)",
        "S3 GLACIER early deletion (objects deleted before 90 days are billed for the rest: one-off)",
        "GCS COLDLINE retrieval on every read (per GB, each run that reads the data: monthly)",
        "GCS COLDLINE early deletion (objects deleted before 90 days are billed for the rest)",
    ]
    text = report.summary()
    assert "; NOT counted: S3 GLACIER restore before the copy" in text and "GCS COLDLINE retrieval on every read" \
        in text
    assert any("NOT counted: S3 GLACIER restore before the copy, S3 GLACIER early deletion, GCS COLDLINE retrieval "
               "on every read, GCS COLDLINE early deletion" in line for line in report.headline())
    assert report.to_dict()["not_counted"] == report.not_counted
    plain = _report("")
    assert plain.not_counted == [] and "NOT counted" not in plain.summary()
    assert _report('source_storage_class = "STANDARD_IA"').not_counted == [
        "S3 STANDARD_IA retrieval of every GB the copy reads (per GB: one-off)",
        "S3 STANDARD_IA early deletion (objects deleted before 30 days are billed for the rest: one-off)"]


def test_the_cli_table_says_it_too(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from tui.cli import main

    path = tmp_path / "p.toml"
    path.write_text("\n".join((aws_source(), TARGET_A2, WORKLOAD_8_7_10,
                               '[cost]\ndata_gb = 1000\nsource_storage_class = "DEEP_ARCHIVE"\n')), encoding="utf-8")
    assert main(["cost", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "NOT counted: S3 DEEP_ARCHIVE restore before the copy" in out
    assert "S3 DEEP_ARCHIVE early deletion (objects deleted before 180 days" in out
    assert main(["cost", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["not_counted"][0].startswith("S3 DEEP_ARCHIVE restore")


def test_the_one_line_summary_says_where_each_price_comes_from_and_its_date() -> None:
    """Replay's one line (kept by the session and the step bar) gave "8.8% less a month" with no price date or source
    unless a price was STALE: a fresh-looking figure on a 10-month-old embedded price, or on a price the profile
    negotiated, read the same."""
    from engine.profile import load_profile
    from tests.conftest import REPO

    negotiated = compute_costs(load_profile(REPO / "profiles" / "aws-p3-to-gcp-a100.toml"), with_sensitivity=False)
    assert "; prices: p3.2xlarge (negotiated in the profile) and a2-highgpu-1g cud-1y (negotiated in the profile)" \
        in negotiated.summary()
    catalog = _report("")
    src, tgt = catalog.source, catalog.primary
    assert (f"; prices: p3.2xlarge (negotiated in the profile) and {tgt.name} (embedded, as of {tgt.price_date})"
            in catalog.summary()), catalog.summary()
    assert src.price_age_days is None


def test_a_commitments_terms_are_beside_its_saving() -> None:
    """A spot saving says it is not guaranteed; a committed-use saving said nothing of its terms in the one line and
    the Cost screen's headline: a 1-year commitment is billed for every hour whether used or not and cannot be
    cancelled."""
    from engine.profile import load_profile
    from tests.conftest import REPO

    report = compute_costs(load_profile(REPO / "profiles" / "aws-p3-to-gcp-a100.toml"), with_sensitivity=False)
    terms = ("COMMITTED 1 year: $1,810.40 a month for every hour (730 h), used or not (77.8% used), for 12 months; "
             "it cannot be cancelled")
    assert terms in report.summary()
    assert any(terms in line for line in report.headline())
    assert "COMMITTED" not in _report("").summary()


def test_an_infrequent_access_source_says_the_copy_pays_its_retrieval() -> None:
    """S3 Standard-IA and One Zone-IA bill every GB read (the copy reads it all once); the one-off has no such line,
    and not_counted said only their early deletion (review s8 of 5f7529c)."""
    for cls in ("STANDARD_IA", "ONEZONE_IA"):
        said = _report(f'source_storage_class = "{cls}"').not_counted
        assert f"S3 {cls} retrieval of every GB the copy reads (per GB: one-off)" in said, said
    assert not any("retrieval" in n for n in _report('source_storage_class = "INTELLIGENT_TIERING"').not_counted)


def test_the_cli_table_gives_a_commitments_terms_beside_its_saving(capsys) -> None:  # type: ignore[no-untyped-def]
    """The README promises the CLI table the same basis as the one line and the Cost screen's headline: its
    saving/month for a cud-1y target showed only "commitment $1,810.40/month, 77.8% ... used" in the notes column,
    never the term or that it cannot be cancelled (review s8readme of 00124f1)."""
    from tests.conftest import REPO
    from tui.cli import main

    assert main(["cost", str(REPO / "profiles" / "aws-p3-to-gcp-a100.toml")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("a2-highgpu-1g cud-1y: COMMITTED 1 year: $1,810.40 a month for every hour (730 h), used or not (77.8% "
            "used), for 12 months; it cannot be cancelled") in out, out
