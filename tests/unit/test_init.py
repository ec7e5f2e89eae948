"""`gpumigrate init` without AWS credentials, with and without GPUs (the fake at the NVML seam)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from engine.guide import left_to_decide
from engine.inventory.discover import InitChoices, discover, profile_text, starting_profile
from engine.profile import load_profile, parse_profile
from tests.nvml_fake import FakeNvml, load_host_data, no_driver_data
from tui.cli import main


def test_without_credentials_or_gpus_it_writes_a_valid_commented_profile(tmp_path: Path, monkeypatch,
                                                                         capsys) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "datasets"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "x.bin").write_bytes(b"x" * 1000)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # it must never wait on (or read) stdin
    out = tmp_path / "prof" / "m.toml"
    out.parent.mkdir()
    assert main(["init", str(out), "--data-dir", "datasets", "--name", "team-a"]) == 0
    assert sys.stdin.read() == ""  # nothing was consumed
    text = out.read_text()
    profile = load_profile(out)
    assert profile.name == "team-a" and profile.inventory.local_dirs == ["../datasets"]
    assert profile.transfer == []  # no destination given: suggested in comments, not invented
    assert '# src = "../datasets"' in text and "# decide: add a [[transfer]] entry" in text
    assert "AWS: not searched (no AWS credentials found)" in text
    assert "1 files, 1.0 KB" in text
    assert profile.target.machine_type  # the sizing recommendation is the target
    for item in left_to_decide(profile, "drivers"):
        assert f"# decide: {item}" in text
    assert "AWS: not searched" in capsys.readouterr().out


def test_it_refuses_to_overwrite_and_bad_flags_exit_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "m.toml"
    out.write_text("keep me\n")
    assert main(["init", str(out), "--no-aws", "--no-gpus"]) == 2
    assert out.read_text() == "keep me\n"
    assert "already exists; pass --force" in capsys.readouterr().err
    assert main(["init", str(out), "--no-aws", "--no-gpus", "--force", "--target-region", "Mars"]) == 2
    err = capsys.readouterr().err
    assert "target.region" in err and "Traceback" not in err
    assert out.read_text() == "keep me\n"
    assert main(["init", str(out), "--no-aws", "--no-gpus", "--force"]) == 0
    parse_profile(out.read_text())


def test_gpus_found_through_nvml_become_the_source(tmp_path: Path) -> None:
    found = discover(nvml_api=FakeNvml.from_fixture("a100_8x_nvlink"), scan_aws=False, base_dir=tmp_path)
    profile = starting_profile(found, InitChoices())
    assert profile.source.provider == "local"
    assert (profile.source.gpu_model, profile.source.gpu_count) == ("A100 40GB", 8)
    assert profile.inventory.scan_gpus is True
    assert found.sizing is not None and found.sizing.source.origin == "nvml"
    assert profile.target.machine_type == found.sizing.best.machine_type
    assert profile.target.gpu_count == found.sizing.best.gpu_count
    text = profile_text(profile, found)
    assert "8x A100" in text or "8 GPU" in text
    parse_profile(text)


def test_no_driver_is_said_and_the_gpu_left_to_decide(tmp_path: Path) -> None:
    found = discover(nvml_api=FakeNvml(no_driver_data()), scan_aws=False, base_dir=tmp_path)
    profile = starting_profile(found, InitChoices())
    assert profile.source.provider == "other" and profile.source.gpu_model is None
    assert profile.inventory.scan_gpus is False
    text = profile_text(profile, found)
    assert "# decide: source.gpu_model" in text and "no NVIDIA driver" in text


def test_a_lost_gpu0_does_not_leave_the_source_gpu_unknown(tmp_path: Path) -> None:
    """Review session 6: GPU0 answering GPU_IS_LOST left source.gpu_model unset though 7 A100s were read."""
    data = load_host_data("a100_8x_nvlink")
    data["gpus"][0]["lost"] = True
    profile = starting_profile(discover(nvml_api=FakeNvml(data), scan_aws=False, base_dir=tmp_path), InitChoices())
    assert (profile.source.gpu_model, profile.source.gpu_count) == ("A100 40GB", 8)


@pytest.mark.parametrize("flags, field", [(["--gpu-count", "0", "--provider", "other"], None),
                                          (["--project", "X"], "target.project")])
def test_flags_are_validated_like_the_profile(tmp_path: Path, flags: list[str], field: str | None,
                                              capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["init", str(tmp_path / "m.toml"), "--no-aws", "--no-gpus", *flags])
    if field is None:
        assert code == 0
    else:
        assert code == 2 and field in capsys.readouterr().err


class _FileAppearsDuringDiscovery(FakeNvml):
    """NVML's start-up is where discovery waits longest on a real host: someone writes the file then."""

    def __init__(self, path: Path) -> None:
        super().__init__(no_driver_data())
        self.path = path

    def init(self) -> None:
        self.path.write_text("# someone else's profile\n")
        super().init()


def test_a_file_that_appears_while_discovery_runs_is_never_overwritten(tmp_path: Path) -> None:
    from engine.inventory.discover import write_starting_profile

    path = tmp_path / "m.toml"
    with pytest.raises(FileExistsError, match="not overwritten"):
        write_starting_profile(path, InitChoices(), nvml_api=_FileAppearsDuringDiscovery(path), scan_aws=False)
    assert path.read_text() == "# someone else's profile\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.toml"]  # no temporary file left behind
    # with force the same race replaces it (what --force asks for), atomically
    write_starting_profile(path, InitChoices(), nvml_api=_FileAppearsDuringDiscovery(path), scan_aws=False, force=True)
    assert load_profile(path).source.provider == "other"


def test_init_and_new_profile_write_the_same_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """One engine function behind both: the same discovery, the same text (the header names who wrote it)."""
    from tui.screens.new_profile import create_profile

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f.bin").write_bytes(b"x" * 10)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    assert main(["init", "cli.toml", "--data-dir", "data", "--dest", "gs://bkt/x"]) == 0
    path, found = create_profile({"file": "app.toml", "data_dirs": "data", "dest": "gs://bkt/x", "regions": ""})
    assert path == tmp_path / "app.toml" and found
    cli = (tmp_path / "cli.toml").read_text().splitlines()
    app = path.read_text().splitlines()
    assert cli[0].replace("gpumigrate init", "gpumigrate (New profile)") == app[0]
    assert cli[1:] == app[1:]
    with pytest.raises(Exception, match="already exists"):
        create_profile({"file": "app.toml", "data_dirs": "", "dest": "", "regions": ""})


def test_a_choice_the_catalog_refuses_names_the_file_not_an_internal_label(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The check of what init would write said '<init>:13: source.gpu_count: ...' (a line of a file nobody has)."""
    target = tmp_path / "m.toml"
    code = main(["init", str(target), "--no-aws", "--no-gpus", "--provider", "aws", "--instance-type", "p3.2xlarge",
                 "--gpu-count", "5"])
    err = capsys.readouterr().err
    assert code == 2 and not target.exists()
    assert "<" not in err, err
    assert f"{target}: not written: source.gpu_count: 5 does not match p3.2xlarge, which has 1 V100 (--gpu-count)" \
        in err, err
