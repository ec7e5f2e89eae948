"""The command line registers only the sub-command it names (start-up: each command module is
imported to register its arguments), and parses exactly as the whole parser does."""

from __future__ import annotations

import pytest

from tui.cli import build_parser, command_named, merge_top_options, parse_args


@pytest.mark.parametrize("argv, named", [
    (["transfer", "s3://a/b", "gs://c/d", "-r"], "transfer"),
    (["--session", "transfer", "verify", "p.toml"], "verify"),   # an option's value is not the command
    (["-s", "s1", "replay", "p.toml"], "replay"),
    (["--sess", "verify", "transfer", "a", "b"], "transfer"),   # argparse's abbreviation takes a value too
    (["--profile=p.toml", "cost", "p.toml"], "cost"),
    (["-p", "p.toml"], None),                                    # no command: the app
    (["--help"], None),
    (["-h", "transfer"], None),
    (["--version"], None),
    (["trasnfer", "a", "b"], None),                              # a typo: the whole parser says what exists
    ([], None),
])
def test_the_named_command(argv, named) -> None:
    assert command_named(argv) == named


@pytest.mark.parametrize("argv", [
    ["transfer", "s3://a/b", "gs://c/d", "-r", "-j", "4", "--json"],
    ["--session", "s1", "transfer", "./x", "gs://c/d"],
    ["--sess", "verify", "transfer", "./x", "gs://c/d"],
    ["-s", "s1", "replay", "p.toml"],
    ["verify", "p.toml", "--session", "s2"],
    ["cost", "p.toml"],
    ["--profile", "p.toml"],
])
def test_parses_as_the_whole_parser_does(argv) -> None:
    whole = merge_top_options(build_parser().parse_args(argv))
    assert vars(parse_args(argv)) == vars(whole)


@pytest.mark.parametrize("argv", [["trasnfer", "a", "b"], ["transfer", "--no-such-flag"], ["verify"], ["--session"]])
def test_usage_errors_are_the_whole_parsers(argv, capsys) -> None:
    with pytest.raises(SystemExit) as whole:
        build_parser().parse_args(argv)
    expected = capsys.readouterr().err
    with pytest.raises(SystemExit) as ours:
        parse_args(argv)
    assert (ours.value.code, capsys.readouterr().err) == (whole.value.code, expected)
