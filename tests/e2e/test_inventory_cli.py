"""`gpumigrate inventory` as a subprocess: the demo offline, AWS against moto, missing credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3

from tests import stand_ins
from tests.conftest import REPO


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=120)


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_demo_profile_offline_json() -> None:
    out = cli("inventory", "--profile", "profiles/demo.toml", "--json")
    assert out.returncode == 0, out.stderr
    doc = last_json(out.stdout)
    assert doc["event"] == "inventory" and doc["exit_code"] == 0
    inv = doc["inventory"]
    if not inv["host"]["available"]:  # this machine: no NVIDIA driver; the run goes on
        assert inv["host"]["reason"].startswith("no NVIDIA driver found")
    assert inv["local_dirs"][0]["files"] > 0
    kinds = {i["registry_kind"] for i in inv["images"]["images"]}
    assert {"docker-hub", "ecr"} <= kinds
    recs = inv["sizing"]["recommendations"]
    # ResNet-50 AMP at batch 256 fits a 16 GB GPU: the cheapest per run is an L4; the profile's A100 is shown too
    assert recs[0]["machine_type"] == "g2-standard-4" and recs[0]["cost_per_run_usd"] is not None
    assert "a2-highgpu-1g" in [r["machine_type"] for r in recs]
    events = [json.loads(line) for line in out.stdout.strip().splitlines()[:-1]]
    assert any(e["event"] == "item_done" and e["item"] == "dir:demo/data" for e in events)


def test_demo_profile_human_report() -> None:
    out = cli("inventory", "--profile", "profiles/demo.toml")
    assert out.returncode == 0, out.stderr
    assert "Sizing" in out.stdout and "a2-highgpu-1g" in out.stdout and "B/parameter" in out.stdout
    assert "per run" in out.stdout


def test_aws_regions_against_moto(aws: stand_ins.StandIn) -> None:
    for region, itype in (("us-east-1", "p3.2xlarge"), ("us-west-2", "p4d.24xlarge")):
        boto3.client("ec2", region_name=region).run_instances(ImageId="ami-12c6146b", InstanceType=itype,
                                                              MinCount=1, MaxCount=1)
    out = cli("inventory", "--aws-region", "us-east-1", "--aws-region", "us-west-2", "--json")
    assert out.returncode == 0, out.stderr
    inv = last_json(out.stdout)["inventory"]
    assert sorted(i["instance_type"] for i in inv["aws"]["instances"]) == ["p3.2xlarge", "p4d.24xlarge"]
    assert inv["aws"]["instance_types"]["p3.2xlarge"]["source"] == "catalog"


def test_missing_credentials_exit_4_one_line() -> None:
    env = stand_ins.clear_cloud_env()
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                "AWS_EC2_METADATA_DISABLED": "true"})
    out = cli("inventory", "--aws-region", "us-east-1", env=env)
    assert out.returncode == 4
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and "no AWS credentials found" in lines[0] and "AWS_PROFILE" in lines[0]


def test_bad_region_exit_2() -> None:
    out = cli("inventory", "--aws-region", "nowhere")
    assert out.returncode == 2 and "not a region name: nowhere" in out.stderr


def test_replay_inventory_step_on_demo() -> None:
    out = cli("replay", "profiles/demo.toml", "--steps", "inventory", "--json")
    assert out.returncode == 0, out.stderr
    summary = last_json(out.stdout)
    assert summary["steps"]["inventory"]["ok"]
    finished = [json.loads(line) for line in out.stdout.splitlines() if '"step_finished"' in line]
    assert finished and finished[0]["result"]["sizing"]["recommendations"]


def test_llama_70b_from_a_p4de_as_a_user_runs_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Issue 15's first case: 70B fp16 inference, batch 8, 4k context, today on an AWS p4de (8 × A100 80GB).
    profile = tmp_path / "p4de.toml"
    profile.write_text('schema_version = 1\n[source]\nprovider = "aws"\nregion = "us-east-1"\n'
                       'instance_type = "p4de.24xlarge"\n[target]\nregion = "us-central1"\n'
                       '[workload]\nkind = "inference"\nmodel = "meta-llama/Llama-2-70b-hf"\nprecision = "fp16"\n'
                       'batch_size = 8\nseq_len = 4096\n[inventory]\nscan_gpus = false\n')
    out = cli("inventory", "--profile", str(profile), "--json")
    assert out.returncode == 0, out.stderr
    sizing = last_json(out.stdout)["inventory"]["sizing"]
    assert sizing["source"]["gpu_model"] == "A100 80GB" and sizing["source"]["gpu_count"] == 8
    assert any("KV heads 8" in line for line in sizing["estimate"]["lines"])
    recs = sizing["recommendations"]
    assert recs and all("tensor parallel" in r["layout"] and 2 <= r["gpu_count"] <= 8 for r in recs)
    assert any(r["machine_type"] == "a2-ultragpu-8g" and r["like_for_like"] for r in recs)
    assert not any("CHECK THE INPUTS" in w for w in sizing["warnings"])
