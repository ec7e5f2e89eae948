"""Bad numbers are bad input: every cost number has finite, sane bounds; JSON never carries NaN or Infinity."""

from __future__ import annotations

import io
import json
import math

import pytest

from engine.cost.section import MAX_DATA_GB
from engine.errors import GpumigrateError
from engine.profile import ProfileError, parse_profile
from tui.cli import main
from tui.commands.cost import DATA_GB_MAX
from tui.output import non_finite_paths, print_json

HEAD = '[source]\nprovider = "aws"\ninstance_type = "p3.2xlarge"\n'


@pytest.mark.parametrize(("section", "key", "value", "line"), [
    ("workload", "speedup", "1e-320", 5),
    ("workload", "speedup", "1e308", 5),
    ("workload", "source_hours_per_run", "1e308", 5),
    ("workload", "target_hours_per_run", "0.0", 5),
    ("workload", "runs_per_month", "100001.0", 5),
    ("workload", "batch_size", "100000000000", 5),
    ("source", "hourly_usd", "1e308", 4),
    ("target", "hourly_usd", "1000.5", 5),
    ("cost", "data_gb", "1.1e9", 5),
    ("cost", "avg_object_mb", "1e-320", 5),
])
def test_out_of_bounds_numbers_name_file_line_and_field(section: str, key: str, value: str, line: int) -> None:
    text = HEAD + (f"{key} = {value}\n" if section == "source" else f"[{section}]\n{key} = {value}\n")
    with pytest.raises(ProfileError) as err:
        parse_profile(text, "p.toml")
    assert err.value.problems[0].startswith(f"p.toml:{line}: {section}.{key}: must be "), err.value.problems


def test_option_bounds_and_inf_nan_are_refused() -> None:
    text = HEAD + '[[cost.options]]\nmachine_type = "g2-standard-4"\nhourly_usd = 1e308\n'
    with pytest.raises(ProfileError, match=r"p.toml:6: cost.options\[0\].hourly_usd: must be <= 1000"):
        parse_profile(text, "p.toml")
    with pytest.raises(ProfileError, match=r"p.toml:5: workload.speedup: must be a finite number"):
        parse_profile(HEAD + "[workload]\nspeedup = inf\n", "p.toml")


def test_cli_data_gb_must_be_finite_and_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    assert DATA_GB_MAX == MAX_DATA_GB
    for bad in ("inf", "nan", "1e308", "-1", "lots"):
        with pytest.raises(SystemExit) as exit_:
            main(["cost", "profiles/aws-p3-to-gcp-a100.toml", "--data-gb", bad])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "--data-gb" in err and "Traceback" not in err


def test_the_json_writer_refuses_non_finite_numbers() -> None:
    doc = {"options": [{"monthly_usd": 1.0}, {"monthly_usd": math.inf, "notes": [math.nan]}]}
    assert non_finite_paths(doc) == ["options[1].monthly_usd", "options[1].notes[0]"]
    out = io.StringIO()
    with pytest.raises(GpumigrateError, match=r"non-finite number at options\[1\].monthly_usd"):
        print_json(doc, out)
    assert out.getvalue() == ""
    print_json({"a": 1.5}, out)
    assert json.loads(out.getvalue()) == {"a": 1.5}


@pytest.mark.parametrize(("text", "line", "field"), [
    (HEAD + "hourly_usd = 0\n", 4, "source.hourly_usd"),
    (HEAD + '[target]\nmachine_type = "a2-highgpu-1g"\nhourly_usd = 0.0\n', 6, "target.hourly_usd"),
    (HEAD + '[[cost.options]]\nmachine_type = "g2-standard-4"\nhourly_usd = 0\n', 6, "cost.options[0].hourly_usd"),
    (HEAD + "[cost]\nsource_storage_usd_per_gb_month = 0\n", 5, "cost.source_storage_usd_per_gb_month"),
    (HEAD + "[cost]\nsource_ebs_usd_per_gb_month = 0\n", 5, "cost.source_ebs_usd_per_gb_month"),
])
def test_a_price_of_zero_is_refused(text: str, line: int, field: str) -> None:
    """target.hourly_usd = 0 was accepted and printed a 100% saving: a price override must be > 0."""
    with pytest.raises(ProfileError) as err:
        parse_profile(text, "p.toml")
    assert err.value.problems[0].startswith(f"p.toml:{line}: {field}: must be > 0"), err.value.problems


def test_init_hourly_usd_of_zero_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["init", "x.toml", "--hourly-usd", "0"])
    assert exit_.value.code == 2
    assert "--hourly-usd" in capsys.readouterr().err
