"""[ops] section: allow-lists reject anything that could reach a shell or an API path unchecked."""

from __future__ import annotations

import pytest

from engine.profile import ProfileError, parse_profile

BASE = """
[source]
provider = "aws"
[target]
project = "demo-gpu-project"
pricing = "spot"
"""


def test_defaults_and_sorted_thresholds() -> None:
    profile = parse_profile(BASE + '[ops]\nbudget_thresholds_pct = [100, 50, 80]\n')
    assert profile.ops.budget_thresholds_pct == [50, 80, 100]
    assert profile.ops.gpu_memory_alert_pct == 90
    assert profile.ops.dcgm_targets == ["localhost:9400"]


@pytest.mark.parametrize("line", [
    'checkpoint_command = ["ckpt.sh; rm -rf /"]',
    'checkpoint_command = ["$(reboot)"]',
    'resume_command = ["a`id`"]',
    'resume_command = ["two words"]',
    'state_dir = "relative/dir"',
    'state_dir = "/var/lib/x y"',
    'watcher_user = "root;id"',
    'notification_channels = ["projects/demo-gpu-project/notificationChannels/1\\"x"]',
    'dcgm_targets = ["host:9400\\nmalicious: 1"]',
    'job_process = "py\\" OR true"',
    'label = "Upper"',
    'billing_account = "0123-bad"',
    'dns_record = "a b.example.com"',
    'budget_thresholds_pct = [50, 50]',
    'idle_hours = 48',
])
def test_unsafe_values_are_refused_at_load(line: str) -> None:
    with pytest.raises(ProfileError) as exc:
        parse_profile(BASE + "[ops]\n" + line + "\n", "p.toml")
    assert "p.toml:" in str(exc.value) and "ops." in str(exc.value)


def test_safe_values_load() -> None:
    profile = parse_profile(BASE + """[ops]
checkpoint_command = ["/opt/train/ckpt.sh", "--dir=/mnt/ckpt", "--tag=spot@1"]
resume_command = ["systemctl", "start", "train.service"]
notification_channels = ["projects/demo-gpu-project/notificationChannels/123456"]
billing_account = "012345-6789AB-CDEF01"
dns_record = "train.example.com."
source_endpoint = "203.0.113.7"
""")
    assert profile.ops.checkpoint_command[1] == "--dir=/mnt/ckpt"
    assert profile.ops.billing_account == "012345-6789AB-CDEF01"
