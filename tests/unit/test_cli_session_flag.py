"""`gpumigrate --session S COMMAND` records in S, as `COMMAND --session S` does.

The sub-command's own ``--session`` default (None) used to overwrite the value given before the
command: `gpumigrate --session s1 verify P` ran unrecorded, and `--sign-off` then found no session.
"""

from __future__ import annotations

from tui.cli import parse_args


def test_a_session_given_before_the_command_reaches_it() -> None:
    assert parse_args(["--session", "s1", "verify", "p.toml"]).session == "s1"
    assert parse_args(["-s", "s1", "replay", "p.toml"]).session == "s1"


def test_the_commands_own_session_wins_and_none_stays_none() -> None:
    assert parse_args(["--session", "s1", "verify", "p.toml", "--session", "s2"]).session == "s2"
    assert parse_args(["verify", "p.toml"]).session is None
    assert parse_args(["--session", "s1"]).session == "s1"


def test_a_profile_given_before_the_command_reaches_it() -> None:
    """`gpumigrate --profile P inventory` scanned this host only: the sub-command's --profile (None) won."""
    assert parse_args(["--profile", "p.toml", "inventory"]).profile == "p.toml"
    assert parse_args(["-p", "p.toml", "validate"]).profile == "p.toml"
    assert parse_args(["--profile", "p.toml", "inventory", "--profile", "q.toml"]).profile == "q.toml"
    assert parse_args(["--profile", "p.toml"]).profile == "p.toml" and parse_args(["inventory"]).profile is None
