"""Path regexes -> Storage Transfer Service prefixes: what is accepted, what is refused and why."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from engine.errors import BadInputError
from engine.transfer.sts_translate import PrefixRefused, regex_to_prefixes, translate_filters

ACCEPTED = [
    ("^data/raw/", ["data/raw/"]),
    ("^logs/.*", ["logs/"]),
    ("^logs/.*$", ["logs/"]),
    ("^logs/.*?", ["logs/"]),
    (r"\Atmp/", ["tmp/"]),
    ("^(tmp|cache)/", ["cache/", "tmp/"]),
    ("^(?:tmp|cache)/.*", ["cache/", "tmp/"]),
    ("^(?P<d>a|b)/x", ["a/x", "b/x"]),
    ("^a/|^b/", ["a/", "b/"]),
    (r"^v1\.0/", ["v1.0/"]),
    (r"^with\ space/", ["with space/"]),
    ("^(x|y)(1|2)/", ["x1/", "x2/", "y1/", "y2/"]),
    ("^ünïcode/", ["ünïcode/"]),
    ("^part", ["part"]),  # a partial name is a prefix too: matches part1/, party.txt
]

REFUSED = [
    ("data/", "not anchored"),
    ("\\.tmp$", "not anchored"),
    ("^data.v1/", "'.' matches any character"),
    ("^data/raw/$", "one exact path"),
    ("^a/*", "quantifier"),
    ("^a+/", "quantifier"),
    ("^(a|b)?/", "quantifier"),
    ("^[ab]/", "character class"),
    (r"^\d+/", "character class"),
    ("(?i)^logs/", "inline flags"),
    ("^(?!keep/)", "inline flags and look-arounds"),
    ("^", "matches every path"),
    ("^.*", "matches every path"),
    ("^a/.*/b", "wildcard in the middle"),
    ("^(a|b.*)", "literal alternatives"),
    ("^a/|b/", "not anchored"),
    ("^(a", "not a valid regular expression"),
    ("^/abs", "must not start with '/'"),
    ("^" + "(a|b)" * 10, "more than 1000"),
]


@pytest.mark.parametrize(("pattern", "prefixes"), ACCEPTED)
def test_prefix_shaped_regexes_translate(pattern: str, prefixes: list[str]) -> None:
    assert regex_to_prefixes(pattern) == prefixes


@pytest.mark.parametrize(("pattern", "why"), REFUSED)
def test_other_regexes_are_refused_with_the_reason(pattern: str, why: str) -> None:
    with pytest.raises(PrefixRefused) as info:
        regex_to_prefixes(pattern)
    assert why in info.value.reason
    assert isinstance(info.value, BadInputError)  # exit code 2, one line
    assert pattern in str(info.value) and "engine = \"local\"" in str(info.value)


_SEG = hs.text(alphabet="ab/._- é", min_size=1, max_size=4).filter(lambda s: not s.startswith("/"))


@settings(max_examples=200, deadline=None)
@given(
    literals=hs.lists(_SEG, min_size=1, max_size=3),
    tail=hs.sampled_from(["", ".*", ".*$"]),
    paths=hs.lists(hs.text(alphabet="ab/._- é", max_size=8), max_size=20),
)
def test_translation_selects_exactly_what_the_regex_selects(literals: list[str], tail: str, paths: list[str]) -> None:
    pattern = "^(" + "|".join(re.escape(x) for x in literals) + ")" + tail
    prefixes = regex_to_prefixes(pattern)
    probes = paths + [x + p for x in literals for p in paths[:3]] + literals
    for path in probes:
        assert (re.search(pattern, path) is not None) == any(path.startswith(p) for p in prefixes), (pattern, path)


def test_filters_collapse_covered_prefixes() -> None:
    f = translate_filters(["^logs/", "^logs/2024/", "^tmp"], [])
    assert f.exclude_prefixes == ["logs/", "tmp"]
    assert f.include_prefixes == []
    assert f.translated["^logs/2024/"] == ["logs/2024/"]


def test_excludes_outside_every_include_are_dropped_and_said() -> None:
    f = translate_filters(["^data/tmp/", "^other/"], ["^data/"])
    assert f.include_prefixes == ["data/"]
    assert f.exclude_prefixes == ["data/tmp/"]
    assert any("'other/'" in n and "dropped" in n for n in f.notes)


def test_an_include_covered_by_an_exclude_is_dropped() -> None:
    f = translate_filters(["^a/"], ["^a/b/", "^c/"])
    assert f.include_prefixes == ["c/"]
    assert f.exclude_prefixes == []
    assert any("'a/b/'" in n for n in f.notes)


def test_filters_that_exclude_everything_are_refused() -> None:
    with pytest.raises(PrefixRefused, match="exclude every path"):
        translate_filters(["^data/"], ["^data/raw/"])
