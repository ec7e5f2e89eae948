"""`gpumigrate ops` as a subprocess: render, write, apply against stand-ins, and the rollback reverse sync."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.ops_support import BudgetsStub, MonitoringStub

DEMO = REPO / "profiles" / "demo.toml"


def gm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui.cli", "ops", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env)


def not_spot(tmp_path: Path) -> Path:
    """The demo with a committed-use target and the watcher left to "auto" (so no watcher)."""
    path = tmp_path / "not-spot.toml"
    path.write_text(DEMO.read_text().replace('spot_watcher = "always"', 'spot_watcher = "auto"')
                    .replace('pricing = "spot"', 'pricing = "cud-1y"', 1))
    return path


def test_json_lists_every_artefact() -> None:
    done = gm(str(DEMO), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    names = {a["filename"] for a in doc["artefacts"]}
    assert names >= {"alert-policies.json", "ops-agent-config.yaml", "prometheus-dcgm-scrape.yml", "gpumigrate-gpu-rules.yml",
                     "grafana-gpu-dashboard.json", "billing-budget.json", "gpumigrate-spot-watcher.sh",
                     "gpumigrate-spot-watcher.service", "rollback-plan.md"}
    assert doc["skipped"] == {} and doc["budget_monthly"]["amount"] > 0


def test_emit_prints_raw_text() -> None:
    done = gm(str(DEMO), "--emit", "alerts")
    assert done.returncode == 0, done.stderr
    policies = json.loads(done.stdout)
    assert {p["userLabels"]["gpumigrate_policy"] for p in policies} >= {"idle-gpu", "gpu-memory-high"}
    rules = gm(str(DEMO), "--emit", "prometheus", "--file", "gpumigrate-gpu-rules.yml")
    assert rules.returncode == 0, rules.stderr
    assert yaml.safe_load(rules.stdout)["groups"] and "==>" not in rules.stdout  # one file, nothing else


def test_spot_watcher_on_a_non_spot_target_is_a_usage_error(tmp_path: Path) -> None:
    done = gm(str(not_spot(tmp_path)), "--emit", "spot-watcher")
    assert done.returncode == 2 and "not spot" in done.stderr and "Traceback" not in done.stderr


def test_out_writes_files_and_the_script_is_executable(tmp_path: Path) -> None:
    profile = tmp_path / "spot.toml"
    profile.write_text(DEMO.read_text().replace('pricing = "cud-1y"', 'pricing = "spot"')
                       .replace('spot_watcher = "always"', 'spot_watcher = "auto"')
                       .replace('"/opt/train/checkpoint.sh", "--dir=/mnt/checkpoints"', '"/opt/ckpt.sh"'))
    (tmp_path / "demo").symlink_to(REPO / "profiles" / "demo")
    out = tmp_path / "out"
    done = gm(str(profile), "--out", str(out))
    assert done.returncode == 0, done.stderr
    script = out / "gpumigrate-spot-watcher.sh"
    assert os.access(script, os.X_OK) and "CHECKPOINT_CMD=(/opt/ckpt.sh)" in script.read_text()
    assert (out / "gpumigrate-spot-watcher.service").exists()
    assert (out / "rollback-plan.md").read_text().startswith("# Rollback plan")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        line.split()[1].rsplit("/", 1)[1] for line in done.stdout.splitlines() if line.startswith("wrote "))


def test_apply_without_credentials_exits_4_naming_what_to_set() -> None:
    done = gm(str(DEMO), "--apply")
    assert done.returncode == 4
    assert "GOOGLE_APPLICATION_CREDENTIALS" in done.stderr and "Traceback" not in done.stderr


def test_apply_against_stand_ins_is_idempotent(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(DEMO.read_text().replace("[ops]\n", '[ops]\nbilling_account = "012345-6789AB-CDEF01"\n'))
    (tmp_path / "demo").symlink_to(REPO / "profiles" / "demo")
    monitoring, budgets = MonitoringStub().start(), BudgetsStub().start()
    try:
        env = dict(os.environ, GPUMIGRATE_MONITORING_ENDPOINT=monitoring.endpoint,
                   GPUMIGRATE_BUDGETS_ENDPOINT=budgets.url)
        first = gm(str(profile), "--apply", "--json", env=env)
        assert first.returncode == 0, first.stderr
        applied = json.loads(first.stdout)["applied"]
        assert len(applied["alerts"]["created"]) == 4 and len(applied["budget"]["created"]) == 1
        second = gm(str(profile), "--apply", env=env)
        assert second.returncode == 0, second.stderr
        assert "alerts: 0 created, 0 updated, 4 unchanged" in second.stdout
        assert "budget: 0 created, 0 updated, 1 unchanged" in second.stdout
        assert len(monitoring.policies) == 4 and len(budgets.budgets) == 1
        assert monitoring.mutations().count("create") == 4 and budgets.mutations() == ["POST"]
    finally:
        monitoring.stop()
        budgets.stop()


def test_rollback_reverse_sync_gs_to_s3(tmp_path: Path, aws, gcs, unique_bucket: str) -> None:
    """Migrate s3 -> gs, write on the target after cutover, then roll back: the new and changed objects flow
    back to S3, nothing on the source is deleted."""
    import boto3
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from engine.profile import parse_profile
    from engine.transfer.api import run_transfer

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=unique_bucket)
    gcs_client = storage.Client(project="test-project", credentials=AnonymousCredentials())
    target = gcs_client.create_bucket(unique_bucket)
    for key, body in {"data/a.bin": b"a" * 1000, "data/sub/b.txt": b"bee"}.items():
        s3.put_object(Bucket=unique_bucket, Key=key, Body=body)
    profile_text = f"""
[source]
provider = "aws"
[target]
project = "demo-gpu-project"
[[transfer]]
src = "s3://{unique_bucket}/data"
dst = "gs://{unique_bucket}/data"
delete = true
"""
    forward = run_transfer(parse_profile(profile_text).transfer[0], journal=False)
    assert forward.ok and forward.copied == 2

    # after cutover: the target writes a new checkpoint and changes a file; the source gets a local-only file
    target.blob("data/ckpt/step-100.pt").upload_from_string(b"checkpoint" * 50)
    target.blob("data/sub/b.txt").upload_from_string(b"bee, retrained")
    s3.put_object(Bucket=unique_bucket, Key="data/only-on-source.log", Body=b"keep me")

    path = tmp_path / "rollback.toml"
    path.write_text(profile_text)
    dry = gm(str(path), "--reverse-sync", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    (dry_result,) = json.loads(dry.stdout.strip().splitlines()[-1])["reverse_sync"]
    assert dry_result["summary"]["copied"] == 2 and dry_result["summary"]["deleted"] == 0
    assert "data/ckpt/step-100.pt" not in {o["Key"] for o in s3.list_objects_v2(Bucket=unique_bucket)["Contents"]}

    done = gm(str(path), "--reverse-sync")
    assert done.returncode == 0, done.stderr
    assert f"reverse sync gs://{unique_bucket}/data -> s3://{unique_bucket}/data: ok" in done.stdout
    objects = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=unique_bucket)["Contents"]}
    assert objects == {"data/a.bin": 1000, "data/sub/b.txt": len(b"bee, retrained"),
                       "data/ckpt/step-100.pt": 500, "data/only-on-source.log": 7}
    body = s3.get_object(Bucket=unique_bucket, Key="data/sub/b.txt")["Body"].read()
    assert body == b"bee, retrained"

    again = gm(str(path), "--reverse-sync", "--json")
    (again_result,) = json.loads(again.stdout.strip().splitlines()[-1])["reverse_sync"]
    assert again_result["summary"]["copied"] == 0  # nothing new on the target: nothing to copy


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (`make promtool`)")
def test_out_dir_prometheus_files_pass_promtool_as_written(tmp_path: Path) -> None:
    """Issue #16: `--out DIR` writes the rules and each prometheus.yml as separate files that promtool
    accepts unchanged (the rules file is found beside the config)."""
    out = tmp_path / "out"
    done = gm(str(DEMO), "--emit", "prometheus", "--out", str(out))
    assert done.returncode == 0, done.stderr
    rules = subprocess.run(["promtool", "check", "rules", "gpumigrate-gpu-rules.yml"], cwd=out,
                           capture_output=True, text=True)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = subprocess.run(["promtool", "check", "config", "prometheus-dcgm-scrape.yml"], cwd=out,
                            capture_output=True, text=True)
    assert config.returncode == 0, config.stdout + config.stderr
    assert "SUCCESS: 1 rule files found" in config.stdout + config.stderr
    gke = subprocess.run(["promtool", "check", "config", "prometheus-dcgm-scrape-gke.yml"], cwd=out,
                         capture_output=True, text=True)
    # Debian's promtool is built without Kubernetes discovery; any other complaint is a real failure.
    assert gke.returncode == 0 or "field kubernetes_sd_configs not found" in gke.stdout + gke.stderr, gke.stdout
    # every counter a rule reads is turned on in the generated dcgm-exporter counters file
    from engine.ops.prometheus import KNOWN_METRICS, enabled_counters

    enabled = enabled_counters((out / "dcgm-exporter-counters.csv").read_text())
    exprs = " ".join(r["expr"] for g in yaml.safe_load((out / "gpumigrate-gpu-rules.yml").read_text())["groups"]
                     for r in g["rules"])
    used = {m for m in KNOWN_METRICS if m != "up" and m in exprs}
    assert used and used <= enabled
    assert "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL" in enabled  # off in dcgm-exporter's defaults
