"""Saving compares before writing: a profile changed on disk since it was read is never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.profile import load_profile_with_digest, save_profile, write_profile_text
from engine.profile_file import ProfileChangedOnDisk, file_digest
from tests.conftest import REPO


def test_a_save_over_an_outside_edit_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_bytes((REPO / "profiles" / "demo.toml").read_bytes())
    profile, digest = load_profile_with_digest(path)
    assert digest == file_digest(path)
    outside = path.read_text(encoding="utf-8") + "\n# edited in vi while the app was open\n"
    path.write_text(outside, encoding="utf-8")
    with pytest.raises(ProfileChangedOnDisk, match="changed on disk"):
        save_profile(profile, path, expect=digest)
    with pytest.raises(ProfileChangedOnDisk):
        write_profile_text(path, "name = 'x'\n", expect=digest)
    assert path.read_text(encoding="utf-8") == outside
    written = save_profile(profile, path, expect=file_digest(path))  # read again: saves
    assert file_digest(path) == written
    save_profile(profile, path)  # no expectation: as before


def test_a_file_removed_since_reading_is_a_change(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_bytes((REPO / "profiles" / "demo.toml").read_bytes())
    profile, digest = load_profile_with_digest(path)
    path.unlink()
    with pytest.raises(ProfileChangedOnDisk, match="removed"):
        save_profile(profile, path, expect=digest)
    assert not path.exists()
