"""The spot watcher's generated shell: shellcheck-clean and injection-safe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import BadInputError
from engine.ops import spot_watcher
from engine.ops.section import OpsSection
from engine.profile import parse_profile

SHELLCHECK = Path(sys.executable).with_name("shellcheck")

BASE = """
[source]
provider = "aws"
[target]
project = "demo-gpu-project"
pricing = "spot"
[ops]
"""

CONFIGS = {
    "empty": "",
    "checkpoint only": 'checkpoint_command = ["/opt/train/ckpt.sh", "--dir=/mnt/ckpt"]\n',
    "both": ('checkpoint_command = ["kill", "-USR1", "1234"]\nresume_command = ["systemctl", "start", '
             '"train.service"]\nwatcher_user = "trainer"\nstate_dir = "/srv/state"\npoll_interval_s = 2\n'),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_script_is_shellcheck_clean(name: str, tmp_path: Path) -> None:
    profile = parse_profile(BASE + CONFIGS[name])
    path = tmp_path / "watcher.sh"
    path.write_text(spot_watcher.render_script(profile))
    done = subprocess.run([str(SHELLCHECK), "--severity=style", "--shell=bash", str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0


def test_values_land_quoted_as_argv_words() -> None:
    text = spot_watcher.render_script(parse_profile(BASE + CONFIGS["both"]))
    assert "CHECKPOINT_CMD=(kill -USR1 1234)" in text
    assert "RESUME_CMD=(systemctl start train.service)" in text
    assert "DEFAULT_STATE_DIR=/srv/state" in text
    assert "POLL_INTERVAL_S=2" in text
    assert "@@" not in text
    unit = spot_watcher.render_unit(parse_profile(BASE + CONFIGS["both"]))
    assert "User=trainer" in unit and f"ExecStart={spot_watcher.SCRIPT_PATH}" in unit
    assert "Restart=always" in unit


@pytest.mark.parametrize("field, value", [
    ("checkpoint_command", ["ckpt; reboot"]),
    ("checkpoint_command", ["$(id)"]),
    ("resume_command", ["a'b"]),
    ("state_dir", "/tmp/$(id)"),
    ("watcher_user", "root\nExecStartPre=/bin/sh"),
    ("label", "x\"; reboot; \""),
])
def test_renderer_rechecks_values_that_skipped_validation(field: str, value: object) -> None:
    profile = parse_profile(BASE)
    # model_construct skips validation, as code building a profile by hand could
    profile.ops = OpsSection.model_construct(**{**profile.ops.model_dump(), field: value})
    with pytest.raises(BadInputError, match=field):
        spot_watcher.render_script(profile)
        spot_watcher.render_unit(profile)


def test_watcher_only_for_spot_unless_asked() -> None:
    assert spot_watcher.wanted(parse_profile(BASE))
    on_demand = BASE.replace('pricing = "spot"', 'pricing = "on-demand"')
    assert not spot_watcher.wanted(parse_profile(on_demand))
    assert spot_watcher.wanted(parse_profile(on_demand + 'spot_watcher = "always"\n'))
    assert not spot_watcher.wanted(parse_profile(BASE + 'spot_watcher = "never"\n'))


def test_unit_runs_the_checkpoint_from_execstop_before_shutdown() -> None:
    unit = spot_watcher.render_unit(parse_profile(BASE))
    assert f"ExecStop={spot_watcher.SCRIPT_PATH} --on-stop" in unit
    assert "Before=shutdown.target" in unit and "Conflicts=shutdown.target" in unit
    assert "KillMode=mixed" in unit
    assert "TimeoutStopSec=24" in unit  # default: 2 retry + 2 read + 18 checkpoint + 2 kill grace
    script = spot_watcher.render_script(parse_profile(BASE))
    assert "wait_for_change=true" in script and "trap on_stop TERM" in script


@pytest.mark.parametrize("extra", ["checkpoint_timeout_s = 20\npoll_interval_s = 2\n",
                                   "checkpoint_timeout_s = 25\n", "poll_interval_s = 10\n"])
def test_the_whole_budget_must_stay_under_25_seconds(extra: str) -> None:
    from engine.profile import ProfileError

    with pytest.raises(ProfileError, match="under 25 s|must be <="):
        parse_profile(BASE + extra)
    assert parse_profile(BASE + "checkpoint_timeout_s = 19\npoll_interval_s = 1\n").ops.checkpoint_timeout_s == 19
