"""Property: a non-finite or out-of-range number anywhere in a profile, in any section, is a
``file:line: field`` error (exit 2 from the CLI), never a traceback and never accepted.

The numeric fields are found by walking the profile model itself, so a field added later without
bounds fails here (``test_every_numeric_field_is_bounded``) instead of waiting for a user's typo.
"""

from __future__ import annotations

import typing

import annotated_types as at
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from engine.profile import Profile, ProfileError, _emit_table, parse_profile

# List items that need required fields before a number inside them can be set.
_ITEM_BASES: dict[str, dict[str, typing.Any]] = {
    "transfer": {"src": "/data/in", "dst": "gs://bucket-name/out"},
}


def _models(annotation: typing.Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _is_numeric(annotation: typing.Any) -> bool:
    if annotation in (int, float):
        return True
    return any(_is_numeric(a) for a in typing.get_args(annotation))


def _is_list(annotation: typing.Any) -> bool:
    return typing.get_origin(annotation) is list or any(_is_list(a) for a in typing.get_args(annotation))


def numeric_fields(model: type[BaseModel] = Profile, path: tuple[typing.Any, ...] = ()) -> list[tuple]:
    """(path, FieldInfo, is_list) of every int/float leaf; a list of tables appears as index 0."""
    out: list[tuple] = []
    for name, info in model.model_fields.items():
        subs = _models(info.annotation)
        if subs:
            step = (name, 0) if _is_list(info.annotation) else (name,)
            out.extend(numeric_fields(subs[0], path + step))
        elif _is_numeric(info.annotation) and typing.get_origin(info.annotation) is not dict:
            out.append((path + (name,), info, _is_list(info.annotation)))
    return out


FIELDS = numeric_fields()


def _dotted(path: tuple[typing.Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out


def _bounds(info: typing.Any) -> tuple[float | None, float | None]:
    lo = hi = None
    for meta in info.metadata:
        if isinstance(meta, (at.Ge, at.Gt)):
            lo = getattr(meta, "ge", getattr(meta, "gt", None))
        if isinstance(meta, (at.Le, at.Lt)):
            hi = getattr(meta, "le", getattr(meta, "lt", None))
    return lo, hi


def test_every_numeric_field_is_bounded():
    assert len(FIELDS) > 60  # the walk reaches every section
    unbounded = [_dotted(path) for path, info, is_list in FIELDS
                 if not is_list and None in _bounds(info)]
    assert unbounded == []


def _profile_with(path: tuple[typing.Any, ...], value: typing.Any) -> str:
    data: dict[str, typing.Any] = {"source": {"provider": "aws"}}
    node: typing.Any = data
    for i, part in enumerate(path[:-1]):
        if isinstance(part, int):
            continue
        if isinstance(path[i + 1], int):
            node = node.setdefault(part, [dict(_ITEM_BASES.get(part, {}))])[0]
        else:
            node = node.setdefault(part, {})
    node[path[-1]] = value
    return _emit_table(data, ()).lstrip("\n")


SPECIAL = [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 10**19, -(10**19), 5e-324]


@st.composite
def bad_values(draw: st.DrawFn) -> tuple[tuple[typing.Any, ...], typing.Any]:
    path, info, is_list = draw(st.sampled_from(FIELDS))
    lo, hi = _bounds(info)
    choices: list[typing.Any] = [v for v in SPECIAL if not (lo is not None and hi is not None and lo <= v <= hi)]
    if hi is not None:
        choices.append(hi * 2 + 1)
    if lo is not None:
        choices.append(lo - 1)
    value = draw(st.sampled_from(choices))
    return path, [value] if is_list else value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad_values())
def test_a_bad_number_anywhere_is_a_file_line_field_error(case):
    path, value = case
    text = _profile_with(path, value)
    with pytest.raises(ProfileError) as err:
        parse_profile(text, "p.toml")
    field = _dotted(path)
    rows = text.splitlines()
    line = next(n for n, row in enumerate(rows, start=1) if row.startswith(f"{path[-1]} ="))
    if rows[line - 1].rstrip().endswith("["):  # an array over several lines: its element's own line (86f8e41)
        line += 1
    assert any(problem.startswith((f"p.toml:{line}: {field}:", f"p.toml:{line}: {field}[0]:"))
               for problem in err.value.problems), \
        (field, value, err.value.problems)


@pytest.mark.parametrize("path, value", [
    (("transfer", 0, "max_delete"), 10**19),
    (("verify", "gpu", "dcgm_timeout_s"), float("inf")),
    (("ops", "budget_monthly_usd"), float("nan")),
    (("drivers", "boot_disk_gb"), 10**9),
])
def test_validate_exits_2_with_the_line_and_no_traceback(tmp_path, capsys, path, value):
    from tui.cli import main

    profile = tmp_path / "p.toml"
    profile.write_text(_profile_with(path, value), encoding="utf-8")
    assert main(["validate", str(profile)]) == 2
    err = capsys.readouterr().err
    assert f"{profile}:" in err and _dotted(path) in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["transfer", "/tmp/a", "gs://b-bucket/x", "-j", "inf"],
    ["transfer", "/tmp/a", "gs://b-bucket/x", "--max-delete", "99999999999999999999"],
    ["transfer", "/tmp/a", "gs://b-bucket/x", "--part-size", "-1"],
    ["transfer", "/tmp/a", "gs://b-bucket/x", "--sts-poll-interval", "nan"],
    ["serve", "s1", "--port", "70000"],
    ["drivers", "doctor", "--timeout", "1e308"],
    ["session", "show", "s1", "--events", "-5"],
    ["init", "x.toml", "--hourly-usd", "inf"],
    ["verify", "p.toml", "--approval-timeout", "nan"],
])
def test_numeric_cli_options_are_bounded(capsys, argv):
    from tui.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "must be a finite number" in err or "is not" in err
    assert "Traceback" not in err


def test_bwlimit_is_bounded():
    text = _profile_with(("transfer", 0, "bwlimit"), "9" * 400 + "G")
    with pytest.raises(ProfileError, match=r"transfer\[0\]\.bwlimit: .*1K to 1024G"):
        parse_profile(text, "p.toml")
    assert parse_profile(_profile_with(("transfer", 0, "bwlimit"), "50M"), "p.toml").transfer[0].bwlimit == "50M"


def test_hours_in_a_month_are_a_month_s_hours():
    """cost.hours_per_month = 1e-300 was accepted (only > 0): the commitment was then "568000000...% used"
    (utilisation 5.7e302 in the JSON). A month has 672 to 744 hours; fewer than one is not a month."""
    head = '[source]\nprovider = "aws"\ninstance_type = "p3.2xlarge"\n[cost]\n'
    for bad in ("1e-300", "0.5"):
        with pytest.raises(ProfileError) as err:
            parse_profile(head + f"hours_per_month = {bad}\n", "p.toml")
        assert err.value.problems[0].startswith("p.toml:5: cost.hours_per_month: must be >= 1")
    assert parse_profile(head + "hours_per_month = 672\n").cost.hours_per_month == 672
