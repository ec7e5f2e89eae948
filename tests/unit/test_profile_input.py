"""Profile input a user really produces: a credential typed into a field in the app, a value spanning
lines that looks like a key, a Windows editor's byte-order mark. Each is refused with file:line: field,
and a refused save leaves the file as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.profile import Profile, ProfileError, load_profile, parse_profile, save_profile, write_profile_text
from engine.secrets import find_secrets

BASE = 'schema_version = 1\n\n[source]\nprovider = "aws"\nregion = "us-east-1"\n'
# AWS's documented example secret access key (engine.secrets.looks_like_bare_secret_key recognises its shape)
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexample"


def _profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(BASE, encoding="utf-8")
    return path


@pytest.mark.parametrize("value", ["AKIAIOSFODNN7EXAMPLE", f"export AWS_SESSION_TOKEN={SESSION_TOKEN}",
                                   SESSION_TOKEN])
def test_a_credential_typed_into_a_field_is_never_saved(tmp_path: Path, value: str) -> None:
    path = _profile_file(tmp_path)
    draft = load_profile(path).model_copy(deep=True)
    draft.description = value  # what the app's form does with a typed value (tui.app.apply_profile_change)
    validated = Profile.model_validate(draft.model_dump(exclude_unset=True))
    with pytest.raises(ProfileError) as err:
        save_profile(validated, path)
    assert f"{path}: description:" in str(err.value) and "Nothing was saved." in str(err.value)
    assert value not in str(err.value)
    assert path.read_text(encoding="utf-8") == BASE


def test_the_profile_view_text_with_a_credential_is_never_written(tmp_path: Path) -> None:
    path = _profile_file(tmp_path)
    text = BASE + f'\n[verify.model_load]\ncommand = "AWS_SESSION_TOKEN={SESSION_TOKEN} python load.py"\n'
    with pytest.raises(ProfileError) as err:
        write_profile_text(path, text)
    assert f"{path}:8: verify.model_load.command" in str(err.value)
    assert path.read_text(encoding="utf-8") == BASE


def test_this_environments_own_secret_key_pasted_into_a_profile_is_refused(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", EXAMPLE_SECRET)
    path = tmp_path / "p.toml"
    path.write_text(BASE + f'\n[workload]\nmodel = "key {EXAMPLE_SECRET}"\n', encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert f"{path}:8: workload.model:" in str(err.value) and EXAMPLE_SECRET not in str(err.value)
    assert find_secrets({"model": "ResNet-50"}) == []


def test_a_key_like_line_inside_a_multiline_string_is_not_the_line_reported() -> None:
    text = ('[source]\nprovider = "aws"\nnotes = """\nregion = "us-east-1" was the old one\n"""\n'
            'region = 7\n')
    with pytest.raises(ProfileError) as err:
        parse_profile(text, "p.toml")
    lines = str(err.value).splitlines()
    assert "p.toml:6: source.region: must be a string (got int 7)" in lines
    assert "p.toml:3: source.notes: unknown field" in str(err.value)


def test_a_line_inside_a_multiline_array_is_not_a_key() -> None:
    text = ('[source]\nprovider = "aws"\n[inventory]\naws_regions = [\n  "us-east-1",\n]\n'
            'scan_gpus = "no"\n')
    with pytest.raises(ProfileError) as err:
        parse_profile(text, "p.toml")
    assert str(err.value).startswith("p.toml:7: inventory.scan_gpus: must be true or false")


def test_a_byte_order_mark_is_named() -> None:
    with pytest.raises(ProfileError) as err:
        parse_profile(b"\xef\xbb\xbf" + BASE.encode(), "p.toml")
    assert str(err.value).startswith("p.toml:1: the file starts with a byte-order mark")


def test_a_credential_in_a_commands_argv_is_refused() -> None:
    """A Hugging Face token or an inline WANDB_API_KEY=... in verify's command loaded fine and went on to the
    session store and the logs; a reference to the environment ($HF_TOKEN) is what a profile may hold."""
    text = ('[source]\nprovider = "aws"\n[verify.model_load]\ncommand = ["env", '
            '"HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "WANDB_API_KEY=0123456789abcdef0123", "python"]\n')
    with pytest.raises(ProfileError) as err:
        parse_profile(text, "p.toml")
    lines = str(err.value).splitlines()
    assert lines[0].startswith("p.toml:4: verify.model_load.command[1]: the value looks like a Hugging Face")
    assert lines[1].startswith("p.toml:4: verify.model_load.command[2]: the value looks like a credential set inline")
    ok = text.replace("HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "HF_TOKEN=$HF_TOKEN").replace(
        "WANDB_API_KEY=0123456789abcdef0123", "--max-tokens=4096")
    assert parse_profile(ok, "p.toml").verify.model_load is not None


def test_a_device_a_directory_or_a_huge_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    """`validate /dev/zero` read until memory ran out (MemoryError, a traceback)."""
    from engine.profile import MAX_PROFILE_BYTES

    with pytest.raises(ProfileError, match=r"^/dev/zero: cannot read: not a regular file"):
        load_profile("/dev/zero")
    with pytest.raises(ProfileError, match="cannot read: Is a directory"):
        load_profile(tmp_path)
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as fh:
        fh.write(BASE.encode())
        fh.truncate(MAX_PROFILE_BYTES + 1)
    with pytest.raises(ProfileError, match=r"huge.toml: larger than 8 MiB"):
        load_profile(huge)


def test_a_pipe_is_read() -> None:
    import os

    read, write = os.pipe()  # what `gpumigrate validate <(...)` hands over: /dev/fd/N
    try:
        os.write(write, BASE.encode())
        os.close(write)
        assert load_profile(f"/dev/fd/{read}").source.region == "us-east-1"
    finally:
        os.close(read)


def test_a_credential_in_a_comment_is_refused_too() -> None:
    """A comment is not a value: it loaded fine, and the app's saves keep comments, so it stayed in the file."""
    with pytest.raises(ProfileError) as err:
        parse_profile(BASE + "# old key AKIAIOSFODNN7EXAMPLE, rotated\n", "p.toml")
    assert str(err.value).startswith("p.toml:6: (a comment): the value looks like an AWS access key id")
    assert "AKIAIOSFODNN7EXAMPLE" not in str(err.value)


def test_a_bad_region_in_a_list_names_its_entry_and_line() -> None:
    """It said 'p.toml:3: inventory: not a region name' (the section's header line, no field)."""
    with pytest.raises(ProfileError) as err:
        parse_profile('[source]\nprovider = "aws"\n[inventory]\naws_regions = ["us-east-1", "US_EAST"]\n', "p.toml")
    assert str(err.value) == "p.toml:4: inventory.aws_regions[1]: not a region name: 'US_EAST' (e.g. us-east-1)"


def test_a_sections_own_check_points_at_the_field_it_names() -> None:
    """'p.toml:4: verify: verify.throughput.pattern is not a regular expression' pointed at [verify]."""
    text = '[source]\nprovider = "aws"\n\n[verify]\n\n[verify.throughput]\npattern = "(("\n'
    with pytest.raises(ProfileError) as err:
        parse_profile(text, "p.toml")
    assert str(err.value).startswith("p.toml:7: verify.throughput.pattern: is not a regular expression")


def test_a_sections_check_about_one_of_its_fields_points_at_that_field() -> None:
    text = ('[source]\nprovider = "aws"\nregion = "us-east-1"\npricing = "reserved-1y"\n\n'
            '[target]\nregion = "us-central1"\nzone = "europe-west4-a"\n')
    with pytest.raises(ProfileError) as err:
        parse_profile(text, "p.toml")
    assert str(err.value).splitlines() == [
        "p.toml:4: source.pricing: pricing = 'reserved-1y' needs hourly_usd: the effective hourly rate you pay",
        "p.toml:8: target.zone: zone 'europe-west4-a' is not in region 'us-central1'"]


MULTI_LINE = BASE + '''
[inventory]
aws_regions = [
    "us-east-1",  # a comment, ] and [ in it
    "eu-west-1",
    "US_EAST",
]

[cutover]
runbook = [
    { title = "drain the queue" },
    { title = "stop writers", gate = true },
    { title = "", rollback = """
restart the writers
""" },
    { title = "switch DNS", gate = "yes" },
]

[verify.topology]
expected = [
    ["X", "NV12"],
    ["NV12", 7],
]
'''


def test_a_bad_element_of_a_multi_line_array_is_reported_at_its_own_line() -> None:
    """Each was reported at its key's line ('p.toml:8: inventory.aws_regions[2]: ...')."""
    with pytest.raises(ProfileError) as err:
        parse_profile(MULTI_LINE, "p.toml")
    lines = str(err.value).splitlines()
    assert "p.toml:11: inventory.aws_regions[2]: not a region name: 'US_EAST' (e.g. us-east-1)" in lines, lines
    assert any(line.startswith("p.toml:18: cutover.runbook[2].title: must not be empty") for line in lines), lines
    assert any(line.startswith("p.toml:21: cutover.runbook[3].gate: must be true or false") for line in lines), lines
    assert any(line.startswith("p.toml:27: verify.topology.expected[1][1]: must be a string") for line in lines), lines


# Secret access keys drawn as AWS draws them (30 random bytes, base64): one with "/" and "+", one without.
RANDOM_SECRETS = ["Xb3hQ/0Ki7rNAvW2mJ+TqpLz9ce4UdY1oRsFgHtE", "q7GkTz2WvNc9JpXr4LbYs0HmDfA1eKuQ3oViRtCx"]


@pytest.mark.parametrize("where, text", [
    ("description", 'description = "{key}"'),
    ("name", 'name = "old box, key {key}"'),
    ("verify.model_load.command[3]", '[verify.model_load]\ncommand = ["serve", "--x", "--aws-secret-access-key", "{key}"]'),
    ("ops.checkpoint_command[1]", '[ops]\ncheckpoint_command = ["ckpt", "--secret-key={key}"]'),
])
@pytest.mark.parametrize("key", [EXAMPLE_SECRET, *RANDOM_SECRETS])
def test_a_bare_secret_access_key_from_another_account_is_refused(where: str, text: str, key: str) -> None:
    """No pattern matched 40 characters of base64 (an AWS secret access key) unless this very process had it
    in its environment: pasted from another account, it was saved into the profile."""
    body = text.replace("{key}", key)
    toml = BASE + "\n" + body + "\n" if body.startswith("[") else BASE.replace("\n\n[source]", f"\n{body}\n\n[source]")
    with pytest.raises(ProfileError) as err:
        parse_profile(toml, "p.toml")
    said = ("looks like an AWS secret access key", "follows --aws-secret-access-key", "sets --secret-key")
    # (in a command, an argument with "/" reads as a path: the flag before it, or its own name, gives it away)
    assert any(f": {where}: the value {s}" in str(err.value) for s in said), str(err.value)
    if "command" not in where:
        assert f": {where}: the value looks like an AWS secret access key" in str(err.value), str(err.value)
    assert key not in str(err.value)


def test_a_bare_key_as_a_command_argument_is_refused_unless_it_reads_as_a_path() -> None:
    """In a command, a 40-character argument with "/" is taken for a path (a flag naming a secret before it
    is refused whatever follows, above); without "/" it is refused."""
    with pytest.raises(ProfileError) as err:
        parse_profile(BASE + f'\n[verify.model_load]\ncommand = ["serve", "--key-id", "{RANDOM_SECRETS[1]}"]\n',
                      "p.toml")
    assert "verify.model_load.command[2]: the value looks like an AWS secret access key" in str(err.value)
    with pytest.raises(ProfileError):  # the same in a save from the app
        save_profile(Profile.model_validate({"source": {"provider": "aws"}, "description": RANDOM_SECRETS[0]}),
                     Path("/nonexistent/p.toml"))


@pytest.mark.parametrize("field, value", [
    ("name", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"),  # a git commit id (hex, one case)
    ("name", "ThisIsMyVeryLongDescriptiveName20241130X"),  # a long label: words, not random
    ("name", "MyGPUTrainingJobForTheResearchTeam2024Q4"),
    ("description", "image digest sha256 base64 n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="),  # 44 with '='
    ("description", "run wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYS too long to be one"),  # 41 characters
    ("description", "$AWS_SECRET_ACCESS_KEY comes from the environment"),
])
def test_ids_hashes_and_labels_of_40_characters_are_not_taken_for_a_secret_key(field: str, value: str) -> None:
    parse_profile(BASE.replace("\n\n[source]", f'\n{field} = "{value}"\n\n[source]'), "p.toml")


def test_paths_of_40_characters_are_not_taken_for_a_secret_key() -> None:
    path = "data/Run2024/ImageNetTrainSplitV2/shard7"
    parse_profile(BASE + f'\n[inventory]\nlocal_dirs = ["{path}"]\n[verify.model_load]\n'
                  f'command = ["python", "{path}", "--token-file", "/run/secrets/tok"]\n', "p.toml")


@pytest.mark.parametrize("pattern", ["[[:alpha:]]x", "[a&&b]", "[ab--]"])
def test_a_pattern_python_reads_otherwise_than_it_looks_is_refused_without_a_warning_line(
        pattern: str, recwarn: pytest.WarningsRecorder) -> None:
    """`validate` printed 'engine/transfer/spec.py:121: FutureWarning: Possible nested set at position 1' (the
    tool's own source path) and said ok: '[[:alpha:]]' is no POSIX class in Python but a set of '[', ':', ..."""
    toml = BASE + f'\n[[transfer]]\nsrc = "a"\ndst = "gs://bkt/x"\nexclude = [\'{pattern}\']\n'
    with pytest.raises(ProfileError) as err:
        parse_profile(toml, "p.toml")
    assert f"p.toml:10: transfer[0].exclude: {pattern!r} " in str(err.value), str(err.value)
    assert "escape" in str(err.value)
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning)]


def test_a_link_to_nowhere_says_where_it_points(tmp_path: Path) -> None:
    """It said "No such file or directory" of a file `ls` lists."""
    (tmp_path / "p.toml").symlink_to(tmp_path / "moved" / "p.toml")
    with pytest.raises(ProfileError, match=r"p.toml: cannot read: it is a link to .*/moved/p.toml, which is not there"):
        load_profile(tmp_path / "p.toml")
