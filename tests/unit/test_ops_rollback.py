"""The rollback plan: every step covered, exact commands, reverse transfers that never delete."""

from __future__ import annotations

import shlex

from engine.ops.rollback import render_markdown, reverse_specs, rollback_items, runbook_items
from engine.profile import parse_profile

TOML = """
name = "bert move"
[source]
provider = "aws"
region = "us-east-1"
[target]
project = "demo-gpu-project"
region = "us-central1"
zone = "us-central1-a"
[[transfer]]
src = "s3://src-bucket/data"
dst = "gs://dst-bucket/data"
delete = true
checksum = true
exclude = ["\\\\.tmp$"]
[[transfer]]
src = "s3://src-bucket/ckpt"
dst = "gs://dst-bucket/ckpt"
engine = "sts"
[ops]
target_instance = "bert-a100"
source_instance_id = "i-0123456789abcdef0"
endpoint_dns = "cloud-dns"
dns_zone = "prod-zone"
dns_record = "train.example.com"
source_endpoint = "203.0.113.7"
billing_account = "012345-6789AB-CDEF01"
checkpoint_command = ["/opt/ckpt.sh"]
"""


def test_reverse_specs_flip_and_never_delete() -> None:
    specs = reverse_specs(parse_profile(TOML))
    assert [(s.src, s.dst) for s in specs] == [("gs://dst-bucket/data", "s3://src-bucket/data"),
                                               ("gs://dst-bucket/ckpt", "s3://src-bucket/ckpt")]
    assert all(not s.delete and s.engine == "local" for s in specs)
    assert specs[0].checksum and specs[0].exclude == ["\\.tmp$"]


def test_every_step_is_covered_with_exact_commands() -> None:
    items = rollback_items(parse_profile(TOML))
    assert {i.step for i in items} == {"inventory", "cost", "transfer", "drivers", "verify", "cutover", "ops"}
    assert items[0].gate and "sign-off" in items[0].title
    commands = [c for i in items for c in i.commands if not c.startswith("#")]
    assert ("aws ec2 modify-instance-attribute --instance-id i-0123456789abcdef0 --disable-api-termination "
            "--region=us-east-1") in commands
    assert ("gcloud dns record-sets update train.example.com. --zone=prod-zone --type=A --ttl=60 "
            "--rrdatas=203.0.113.7 --project=demo-gpu-project") in commands
    assert "gcloud compute instances stop bert-a100 --zone=us-central1-a --project=demo-gpu-project" in commands
    assert "gpumigrate ops PROFILE.toml --reverse-sync" in commands
    # the checkpoint runs on the target, over ssh, not on the operator's machine
    assert ("gcloud compute ssh bert-a100 --zone=us-central1-a --project=demo-gpu-project "
            "--command=/opt/ckpt.sh") in commands
    assert "/opt/ckpt.sh" not in commands
    for command in commands:  # every command is valid shell words
        assert shlex.split(command)
    # the order: stop the job (checkpoint, stop the target), data back, source back, THEN the endpoint
    flat = [(i.title, c) for i in items for c in i.commands]
    at = {c: n for n, (_t, c) in enumerate(flat)}
    assert at["gcloud compute instances stop bert-a100 --zone=us-central1-a --project=demo-gpu-project"] \
        < at["gpumigrate ops PROFILE.toml --reverse-sync"] \
        < at["aws ec2 wait instance-status-ok --instance-ids i-0123456789abcdef0 --region=us-east-1"] \
        < min(n for n, (t, _c) in enumerate(flat) if t.startswith("Switch the endpoint"))


def test_route53_and_cname() -> None:
    toml = TOML.replace('endpoint_dns = "cloud-dns"', 'endpoint_dns = "route53"') \
        .replace('dns_zone = "prod-zone"', 'dns_zone = "Z123ABC"') \
        .replace('source_endpoint = "203.0.113.7"', 'source_endpoint = "old-lb.example.com"')
    items = rollback_items(parse_profile(toml))
    switch = next(i for i in items if i.title.startswith("Switch"))
    words = shlex.split(switch.commands[0])
    assert words[:3] == ["aws", "route53", "change-resource-record-sets"]
    import json

    batch = json.loads(words[words.index("--change-batch") + 1])
    change = batch["Changes"][0]["ResourceRecordSet"]
    assert change == {"Name": "train.example.com.", "Type": "CNAME", "TTL": 60,
                      "ResourceRecords": [{"Value": "old-lb.example.com."}]}


def test_markdown_and_runbook_items() -> None:
    profile = parse_profile(TOML)
    text = render_markdown(profile)
    assert text.startswith("# Rollback plan: bert move")
    assert "`gs://dst-bucket/data` | `s3://src-bucket/data`" in text
    assert text.count("```bash") == sum(1 for i in rollback_items(profile) if i.commands)
    entries = runbook_items(profile)
    assert entries[0]["gate"] and entries[0]["title"].startswith("Rollback 1:")
    from engine.cutover.section import RunbookItem

    for entry in entries:  # the shape of [cutover].runbook entries
        RunbookItem.model_validate(entry)


def test_without_endpoint_settings_the_plan_says_what_to_set() -> None:
    minimal = parse_profile('[source]\nprovider = "local"\n')
    switch = next(i for i in rollback_items(minimal) if i.title.startswith("Switch"))
    assert not switch.commands and "[ops].dns_record" in switch.note


def test_cleanup_matches_only_this_migrations_policies_and_budget() -> None:
    from engine.ops.budget import display_name
    from engine.ops.section import migration_label

    profile = parse_profile(TOML)
    cleanup = next(i for i in rollback_items(profile) if i.step == "ops")
    policies, budget = (shlex.split(c) for c in cleanup.commands)
    assert f"--filter=user_labels.gpumigrate={migration_label(profile)}" in policies
    assert migration_label(profile) != "gpumigrate"  # not a default every migration shares
    assert f'--filter=displayName="{display_name(profile)}"' in budget  # exact name, not a substring
