"""Profiles: strict loading with file:line: field messages, clean saving, round trips."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.profile import (
    Profile,
    ProfileError,
    SourceSection,
    TargetSection,
    WorkloadSection,
    dump_profile,
    load_profile,
    parse_profile,
    profile_to_dict,
    save_profile,
)
from engine.transfer.spec import TransferSpec
from tests.conftest import FIXTURES, REPO

BAD = sorted((FIXTURES / "profiles" / "bad").glob("*.toml"))


def _expectation(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    match = re.match(r"# expect: (.+)", first)
    assert match, f"{path.name} must start with '# expect: ...'"
    return match.group(1).strip()


def test_there_is_a_fixture_per_malformed_case() -> None:
    assert len(BAD) >= 15


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_malformed_profile_names_file_line_and_field(path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(str(path) + ":"), message
    assert _expectation(path) in message, message
    assert "Traceback" not in message


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = tmp_path / "many.toml"
    path.write_text('[source]\nprovider = "aws"\n[target]\ngpu_count = 0\npricing = "x"\nnope = 1\n')
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert len(info.value.problems) == 3
    assert [p.split(":")[1] for p in info.value.problems] == ["4", "5", "6"]


def test_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.toml")


@pytest.mark.parametrize("name", ["demo.toml", "aws-p3-to-gcp-a100.toml"])
def test_shipped_profiles_load(name: str) -> None:
    profile = load_profile(REPO / "profiles" / name)
    assert profile.source.provider == "aws"


def test_reference_profile_states_the_published_case() -> None:
    p = load_profile(REPO / "profiles" / "aws-p3-to-gcp-a100.toml")
    assert (p.source.instance_type, p.source.hourly_usd, p.workload.source_hours_per_run) == ("p3.2xlarge", 3.06, 8.2)
    assert (p.target.pricing, p.target.hourly_usd, p.workload.target_hours_per_run) == ("cud-1y", 2.48, 7.1)


def test_save_writes_only_choices_in_a_stable_order(tmp_path: Path) -> None:
    profile = Profile(source=SourceSection(provider="aws", instance_type="p3.2xlarge"),
                      target=TargetSection(gpu_count=2),
                      transfer=[TransferSpec(src="s3://a/b", dst="gs://c/d", delete=True)])
    text = dump_profile(profile)
    assert text.splitlines()[0] == "schema_version = 1"
    assert "pricing" not in text and "jobs" not in text  # defaults are not written
    assert text.index("[source]") < text.index("[target]") < text.index("[[transfer]]")
    path = tmp_path / "p.toml"
    save_profile(profile, path)
    assert load_profile(path) == profile
    assert dump_profile(load_profile(path)) == text  # stable: saving twice gives the same bytes


def test_a_choice_equal_to_nothing_leaves_no_empty_table() -> None:
    data = profile_to_dict(Profile(source=SourceSection(provider="local")))
    assert data == {"schema_version": 1, "source": {"provider": "local"}}


# --- property tests ----------------------------------------------------------

_regions = st.sampled_from(["us-central1", "europe-west4", "asia-northeast1", "us-east4"])
_money = st.floats(min_value=0.0001, max_value=1_000, allow_nan=False, allow_infinity=False)  # > 0 .. MAX_HOURLY_USD
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    region = draw(_regions)
    provider = draw(st.sampled_from(["aws", "azure", "gcp", "local", "other"]))
    instance_type = draw(st.none() | st.sampled_from(["p3.2xlarge", "p4d.24xlarge", "g5.xlarge"]))
    # an AWS instance type's GPU count is the catalog's (a contradicting one is a validate-time error)
    counts = st.just({"p3.2xlarge": 1, "p4d.24xlarge": 8, "g5.xlarge": 1}[instance_type]) \
        if provider == "aws" and instance_type else st.integers(0, 64)
    source = SourceSection(
        provider=provider,
        instance_type=instance_type,
        gpu_count=draw(st.none() | counts),
        hourly_usd=draw(st.none() | _money),
    )
    target = TargetSection(
        region=region,
        zone=draw(st.none() | st.sampled_from([f"{region}-a", f"{region}-b"])),
        gpu_count=draw(st.integers(1, 16)),
        pricing=draw(st.sampled_from(["on-demand", "spot", "cud-1y", "cud-3y"])),
        hourly_usd=draw(st.none() | _money),
    )
    workload = WorkloadSection(
        kind=draw(st.sampled_from(["training", "inference"])),
        model=draw(st.none() | _text),
        source_hours_per_run=draw(st.none() | st.floats(min_value=0.01, max_value=8_784)),
        runs_per_month=draw(st.just(0.0) | st.floats(min_value=0.001, max_value=1e3)),
    )
    transfers = draw(st.lists(st.builds(
        TransferSpec,
        src=st.sampled_from(["s3://bucket/data", "/data/x", "gs://b/p", "file:///tmp/ü x"]),
        dst=st.sampled_from(["gs://dst/p", "/tmp/out"]),
        delete=st.booleans(), checksum=st.booleans(), jobs=st.integers(1, 256),
        exclude=st.lists(st.sampled_from([r"\.tmp$", r"^logs/", r".*\.ckpt"]), max_size=3),
    ), max_size=3))
    return Profile(name=draw(st.none() | _text), source=source, target=target, workload=workload,
                   transfer=transfers)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles())
def test_load_of_save_is_identity(profile: Profile) -> None:
    assert parse_profile(dump_profile(profile), "<prop>") == profile


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_only_ever_give_a_profile_error(raw: bytes) -> None:
    try:
        parse_profile(raw, "fuzz.toml")
    except ProfileError as exc:
        assert str(exc).startswith("fuzz.toml:")


_toml_values = st.recursive(
    st.none().map(lambda _: "x") | st.booleans() | st.integers(-10**6, 10**6) | _text
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["provider", "region", "gpu_count", "pricing", "src", "dst", "jobs", "zzz"]), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["source", "target", "workload", "transfer", "drivers", "verify",
                                        "schema_version", "name", "bogus"]), _toml_values, max_size=6))
def test_random_toml_documents_only_ever_give_a_profile_error(doc: dict) -> None:
    import tomli_w

    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        return
    try:
        parse_profile(text, "fuzz.toml")
    except ProfileError as exc:
        assert str(exc).startswith("fuzz.toml:")


def test_an_explicit_choice_equal_to_the_default_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[source]\nprovider = "aws"\n[target]\npricing = "on-demand"\n')
    text = dump_profile(load_profile(path))
    assert 'pricing = "on-demand"' in text and "gpu_count" not in text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles(), profiles())
def test_saving_onto_another_profiles_commented_file_gives_exactly_the_new_choices(old: Profile, new: Profile) -> None:
    """engine/profile_file.py applies choices onto the file: whatever the file held, the result loads
    as the new profile, the comments outside what was removed stay, and an unchanged profile is the same bytes."""
    from engine.profile_file import render_onto

    lines = dump_profile(old).split("\n")[:-1]
    text = "# kept at the top\n" + "".join(f"# before {line}\n{line}\n" if line.startswith("[") else f"{line}\n"
                                          for line in lines)
    assert render_onto(text, parse_profile(text)) == text
    out = render_onto(text, new)
    assert parse_profile(out, "<prop>") == new
    assert out.startswith("# kept at the top\n")
    assert "# before [source]\n[source]" in out
