"""A session skips a step it completed on the same profile: "the same" includes the folder it was read from."""

from __future__ import annotations

from pathlib import Path

from engine.errors import ExitCode
from engine.events import Message
from engine.profile import load_profile
from engine.runner import run_steps
from engine.session import SessionStore

PROFILE = """schema_version = 1
[source]
provider = "aws"
[[transfer]]
src = "data"
dst = "bucket"
"""


def _checkout(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.bin").write_bytes(b"a" * 10)
    (root / "p.toml").write_text(PROFILE)
    return root / "p.toml"


def test_a_copy_of_the_profile_in_another_folder_runs_its_steps_there(tmp_path: Path) -> None:
    """Two checkouts of one profile: the same words, other folders. The second used to be 'already completed;
    skipped', exit 0, with nothing copied into its own destination."""
    first, second = _checkout(tmp_path / "one"), _checkout(tmp_path / "two")
    with SessionStore.open("moved") as session:
        done = run_steps(load_profile(first), ["transfer"], emit=lambda e: None, profile_path=first, session=session)
        assert done.exit_code == ExitCode.OK and (tmp_path / "one" / "bucket" / "a.bin").exists()
        seen: list = []
        again = run_steps(load_profile(second), ["transfer"], emit=seen.append, profile_path=second, session=session)
        same = run_steps(load_profile(second), ["transfer"], emit=lambda e: None, profile_path=second,
                         session=session)
    assert again.skipped == [] and again.exit_code == ExitCode.OK
    assert (tmp_path / "two" / "bucket" / "a.bin").read_bytes() == b"a" * 10
    warning = next(e.text for e in seen if isinstance(e, Message) and e.level == "warning")
    assert f"completed with the profile in {tmp_path / 'one'}" in warning and str(tmp_path / "two") in warning
    assert same.skipped == ["transfer"]  # the same file again: skipped, as before


def test_a_session_recorded_before_the_folder_counted_still_skips_on_the_same_file(tmp_path: Path) -> None:
    """Sessions written by an earlier version hold the profile's text digest alone: same file, still skipped."""
    from engine.runner import profile_digest

    path = _checkout(tmp_path)
    profile = load_profile(path)
    with SessionStore.open("older") as session:
        session.set_meta("profile_path", str(path))
        session.set_step("transfer", "completed", result={"summary": "done", "data": {}},
                         profile_digest=profile_digest(profile))
        summary = run_steps(profile, ["transfer"], emit=lambda e: None, profile_path=path, session=session)
    assert summary.skipped == ["transfer"]
