"""Saving keeps the file's comments and key order (engine/profile_file.py), and new files are created
exclusively: the app's saves apply choices onto the user's TOML instead of writing it afresh."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from engine.inventory.discover import InitChoices, discover, profile_text, starting_profile
from engine.profile import Profile, load_profile, parse_profile, profile_file_text, save_profile
from engine.profile_file import create_profile_file, render_onto

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted((ROOT / "profiles").glob("*.toml"))


def _init_text(tmp_path: Path) -> str:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "a.bin").write_bytes(b"x" * 10)
    found = discover(data_dirs=[str(data)], scan_gpus=False, scan_aws=False)
    return profile_text(starting_profile(found, InitChoices()), found)


def _comments(text: str) -> list[str]:
    """Every comment as written: whole comment lines and the comment part of a key line."""
    out = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            out.append(line)
        elif " #" in line and "=" in line and '"' not in line.split("#", 1)[0][-1:]:
            out.append(line[line.index(" #"):])
    return out


def _edit(profile: Profile) -> Profile:
    """What the forms do: change a value, set new ones, add a [[transfer]] entry and a cost option."""
    data = profile.model_dump(exclude_unset=True)
    data.setdefault("target", {})["project"] = "my-project-12"
    data.setdefault("workload", {})["runs_per_month"] = 7
    data.setdefault("drivers", {})["os_image"] = "ubuntu-2204"
    data.setdefault("transfer", []).append({"src": "more-data", "dst": "gs://bucket-b/more"})
    data.setdefault("cost", {}).setdefault("options", []).append(
        {"name": "L4 spot", "machine_type": "g2-standard-4", "gpu_model": "L4", "gpu_count": 1, "pricing": "spot"})
    data.setdefault("verify", {}).setdefault("data_integrity", {}).setdefault("manifests", []).append(
        {"source": "a.manifest", "target": "b.manifest"})
    return Profile.model_validate(data)


def _cases(tmp_path: Path) -> list[tuple[str, str]]:
    return [(p.name, p.read_text(encoding="utf-8")) for p in PROFILES] + [("init output", _init_text(tmp_path))]


def test_every_shipped_profile_and_an_init_file_round_trip_byte_for_byte(tmp_path: Path) -> None:
    assert len(PROFILES) >= 2
    for name, text in _cases(tmp_path):
        assert render_onto(text, parse_profile(text, name)) == text, name


def test_an_edit_keeps_every_untouched_comment_in_order_and_the_key_order(tmp_path: Path) -> None:
    for name, text in _cases(tmp_path):
        before = parse_profile(text, name)
        after = _edit(before)
        out = render_onto(text, after)
        assert parse_profile(out, name) == after, name
        kept = _comments(out)
        expected = [c for c in _comments(text) if not c.startswith(("# decide: target.project",
                                                                   "# decide: drivers.os_image",
                                                                   "# decide: add a [[transfer]]"))]
        assert kept[: len(expected)] == expected, name  # byte-identical, same order; new ones only after
        old_lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        out_lines = out.splitlines()
        kept_lines = [line for line in old_lines if line in out_lines]
        assert len(kept_lines) >= len(old_lines) - 3, name  # only project, runs_per_month, os_image change
        position = 0
        for line in kept_lines:  # the old lines, in their old order
            position = out_lines.index(line, position) + 1


def test_a_changed_value_keeps_its_inline_comment_and_new_keys_go_after_the_last_key() -> None:
    text = ('schema_version = 1\n\n[source]\nprovider = "aws"  # the team\'s account\n'
            'instance_type = "p3.2xlarge"\n\n# the comment above [target]\n[target]\nregion = "us-central1"\n')
    profile = parse_profile(text)
    data = profile.model_dump(exclude_unset=True)
    data["source"]["instance_type"] = "p3.8xlarge"
    data["source"]["region"] = "us-east-1"
    out = render_onto(text, Profile.model_validate(data))
    assert out == ('schema_version = 1\n\n[source]\nprovider = "aws"  # the team\'s account\n'
                   'instance_type = "p3.8xlarge"\nregion = "us-east-1"\n\n# the comment above [target]\n'
                   '[target]\nregion = "us-central1"\n')


def test_removing_an_entry_takes_its_own_comments_and_leaves_the_next_headers_comment() -> None:
    text = ('schema_version = 1\n[source]\nprovider = "local"\ngpu_model = "V100"\n\n'
            '# first: the images\n[[transfer]]\nsrc = "a"\ndst = "gs://bkt/a"  # nightly\n\n'
            '# second: the checkpoints\n[[transfer]]\nsrc = "b"\ndst = "gs://bkt/b"\n\n'
            '# third: the logs\n[[transfer]]\nsrc = "c"\ndst = "gs://bkt/c"\n\n'
            '# the drivers come last\n[drivers]\nos_image = "ubuntu-2204"\n')
    profile = parse_profile(text)
    for gone, keep, dropped in ((1, ["# first", "# nightly", "# third", "# the drivers"], "# second"),
                                (0, ["# first", "# second", "# third", "# the drivers"], "# nightly"),
                                (2, ["# first", "# second", "# the drivers"], "# third")):
        data = profile.model_dump(exclude_unset=True)
        data["transfer"].pop(gone)
        out = render_onto(text, Profile.model_validate(data))
        assert parse_profile(out).transfer == [t for i, t in enumerate(profile.transfer) if i != gone]
        for comment in keep:
            assert comment in out, (gone, comment, out)
        assert dropped not in out  # the removed entry's own comment
        # each kept comment still stands above the header it described (the first entry's comment
        # may also be about the whole list, so it stays when that entry goes)
        lines = out.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("# "):
                assert next(n for n in lines[i:] if not n.startswith("#")).startswith("["), (gone, out)
    data = profile.model_dump(exclude_unset=True)
    data.pop("drivers")
    out = render_onto(text, Profile.model_validate(data))
    assert "# the drivers come last" in out and "[drivers]" not in out


def test_a_made_decision_drops_its_decide_line_and_an_emptied_placeholder(tmp_path: Path) -> None:
    text = _init_text(tmp_path) + "# decide: ask finance about the commitment\n"
    profile = parse_profile(text)
    assert "# decide: target.project" in text and "# [workload]" in text
    data = profile.model_dump(exclude_unset=True)
    data["target"]["project"] = "my-project-12"
    data.setdefault("workload", {}).update(source_hours_per_run=2, speedup=1.5)
    out = render_onto(text, Profile.model_validate(data))
    assert "# decide: target.project" not in out
    assert "# decide: target.pricing" in out  # still open
    assert "# [workload]" not in out and "# decide: workload." not in out  # the whole placeholder block
    assert "# decide: ask finance about the commitment" in out  # a person's own line stays
    assert "\n\n\n" not in out
    # the rest is untouched
    assert [line for line in text.splitlines() if line.startswith("#") and "target.project" not in line
            and "workload" not in line] == [line for line in out.splitlines() if line.startswith("#")]


def test_save_profile_writes_onto_the_file_and_the_diff_text_is_what_it_writes(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILES[0].read_text(encoding="utf-8"), encoding="utf-8")
    profile = _edit(load_profile(path))
    expected = profile_file_text(profile, path)
    save_profile(profile, path)
    assert path.read_text(encoding="utf-8") == expected
    assert load_profile(path) == profile
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_file_that_is_not_toml_is_replaced_by_the_plain_dump(tmp_path: Path) -> None:
    profile = parse_profile('[source]\nprovider = "local"\ngpu_model = "V100"\n')
    assert render_onto("this is = = not toml", profile).startswith("schema_version = 1")


def test_create_profile_file_never_overwrites_even_a_file_that_appears_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    create_profile_file(path, "a = 1\n")
    assert path.read_text() == "a = 1\n"
    with pytest.raises(FileExistsError, match="not overwritten"):
        create_profile_file(path, "a = 2\n")
    assert path.read_text() == "a = 1\n"
    # many writers racing for one name: exactly one wins, the file is whole, nothing else is left
    racing = tmp_path / "race.toml"
    results: list[str] = []
    barrier = threading.Barrier(8)

    def write(n: int) -> None:
        barrier.wait()
        try:
            create_profile_file(racing, f"writer = {n}\n" * 2000)
            results.append("won")
        except FileExistsError:
            results.append("lost")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("won") == 1 and results.count("lost") == 7
    lines = set(racing.read_text().splitlines())
    assert len(lines) == 1
    assert sorted(os.listdir(tmp_path)) == ["new.toml", "race.toml"]
