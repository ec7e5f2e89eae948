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


def test_a_profile_given_before_a_command_that_needs_one_fills_it() -> None:
    """Review s7: `gpumigrate --profile P cost` (verify, replay, ops) exited 2 'the following arguments are required:
    profile' although --profile before the command reaches it (inventory, validate); its own positional still wins
    and without any profile it is still required."""
    import pytest

    for command in ("cost", "verify", "replay", "ops", "drivers"):
        assert parse_args(["--profile", "p.toml", command]).profile == "p.toml", command
        assert parse_args(["-p", "p.toml", command, "q.toml"]).profile == "q.toml", command
        assert parse_args(["--profile=p.toml", command]).profile == "p.toml", command
    assert parse_args(["--session", "s1", "-p", "p.toml", "replay", "--dry-run"]).profile == "p.toml"
    with pytest.raises(SystemExit) as exc:
        parse_args(["cost"])
    assert exc.value.code == 2


def test_drivers_doctor_given_after_a_top_profile_is_still_the_doctor() -> None:
    """`gpumigrate --profile P drivers` exited 2 (its positional was named ``target``); `drivers doctor` after a
    --profile still means the doctor: the command's own positional wins."""
    assert parse_args(["--profile", "p.toml", "drivers", "doctor"]).profile == "doctor"
    assert parse_args(["drivers", "q.toml"]).profile == "q.toml"
