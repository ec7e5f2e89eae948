"""Run the generated spot watcher against a metadata-server stand-in on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from engine.ops.spot_watcher import render_script
from engine.profile import parse_profile
from tests.ops_support import MetadataStub

BASE = """
[source]
provider = "aws"
[target]
project = "demo-gpu-project"
pricing = "spot"
[ops]
poll_interval_s = 1
checkpoint_timeout_s = {timeout}
checkpoint_command = {checkpoint}
resume_command = {resume}
"""


def toml_list(words: list[str]) -> str:
    return "[" + ", ".join(f'"{w}"' for w in words) + "]"


@pytest.fixture()
def metadata(request: pytest.FixtureRequest) -> Iterator[MetadataStub]:
    stub = MetadataStub(request.param).start()
    yield stub
    stub.stop()


def run_watcher(tmp_path: Path, stub: MetadataStub, checkpoint: list[str], resume: list[str], polls: int,
                timeout: int = 10) -> subprocess.CompletedProcess[str]:
    profile = parse_profile(BASE.format(timeout=timeout, checkpoint=toml_list(checkpoint), resume=toml_list(resume)))
    script = tmp_path / "watcher.sh"
    script.write_text(render_script(profile))
    env = dict(os.environ, GPUMIGRATE_METADATA_URL=stub.url, GPUMIGRATE_WATCHER_STATE_DIR=str(tmp_path / "state"),
               GPUMIGRATE_MAX_POLLS=str(polls))
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("metadata", [["FALSE", "TRUE", "TRUE", "FALSE"]], indirect=True)
def test_checkpoint_once_on_notice_then_resume_when_it_clears(tmp_path: Path, metadata: MetadataStub) -> None:
    log = tmp_path / "calls.log"
    helper = tmp_path / "record.sh"
    helper.write_text(f'#!/bin/sh\necho "$1" >> {log}\n')
    helper.chmod(0o755)
    done = run_watcher(tmp_path, metadata, [str(helper), "checkpoint"], [str(helper), "resume"], polls=4)
    assert done.returncode == 0, done.stderr
    assert log.read_text().split() == ["checkpoint", "resume"]  # once each, in order
    assert "preemption notice: running checkpoint" in done.stderr
    assert not (tmp_path / "state" / "preempted").exists()
    assert len(metadata.requests) == 4
    assert all(r["flavor"] == "Google" and r["path"] == "/computeMetadata/v1/instance/preempted"
               for r in metadata.requests)


@pytest.mark.parametrize("metadata", [["FALSE"]], indirect=True)
def test_restart_after_preemption_resumes_from_the_marker(tmp_path: Path, metadata: MetadataStub) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "preempted").write_text("2026-01-01T00:00:00Z\n")
    flag = tmp_path / "resumed"
    done = run_watcher(tmp_path, metadata, [], ["touch", str(flag)], polls=1)
    assert done.returncode == 0, done.stderr
    assert flag.exists() and not (state / "preempted").exists()
    assert "resuming after preemption of 2026-01-01T00:00:00Z" in done.stderr


@pytest.mark.parametrize("metadata", [["FALSE"]], indirect=True)
def test_failed_resume_exits_nonzero_so_systemd_retries(tmp_path: Path, metadata: MetadataStub) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "preempted").write_text("t\n")
    done = run_watcher(tmp_path, metadata, [], ["false"], polls=1)
    assert done.returncode != 0
    assert (state / "preempted").exists()  # kept for the next start


@pytest.mark.parametrize("metadata", [["TRUE"]], indirect=True)
def test_slow_checkpoint_is_cut_off_and_the_watcher_carries_on(tmp_path: Path, metadata: MetadataStub) -> None:
    done = run_watcher(tmp_path, metadata, ["sleep", "30"], [], polls=2, timeout=1)
    assert done.returncode == 0, done.stderr
    assert "checkpoint timed out after 1s" in done.stderr
    assert done.stderr.count("running checkpoint") == 1  # not repeated while the notice stays


def test_unreachable_metadata_server_is_retried(tmp_path: Path) -> None:
    from tests.stand_ins import free_port

    stub = MetadataStub(["FALSE"])
    stub.url = f"http://127.0.0.1:{free_port()}/computeMetadata/v1"  # nothing listens there
    done = run_watcher(tmp_path, stub, ["true"], [], polls=2)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("cannot read") == 2
