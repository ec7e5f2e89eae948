"""Prometheus scrape config and rules (structural validation; promtool when installed) and the Grafana JSON."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from engine.ops import grafana, prometheus
from engine.profile import parse_profile

TOML = """
[source]
provider = "aws"
[target]
project = "demo-gpu-project"
[ops]
gpu_memory_alert_pct = 92.5
idle_gpu_util_pct = 3
idle_hours = 8
memory_alert_minutes = 30
absent_minutes = 7
dcgm_targets = ["gpu-1.internal:9400", "10.0.0.5:9400"]
scrape_interval_s = 30
label = "bert"
"""


@pytest.fixture()
def profile():
    return parse_profile(TOML)


def rules_by_name(doc):
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"]}


def test_rules_parse_and_every_rule_is_well_formed(profile) -> None:
    text = prometheus.render_rules(profile)
    doc = yaml.safe_load(text)
    assert prometheus.validate_rules(doc) == []
    rules = rules_by_name(doc)
    assert set(rules) == {"GpuIdle", "GpuMemoryHigh", "GpuExporterDown", "GpuXidError", "GpuEccDoubleBitErrors",
                          "GpuNvlinkErrors"}
    duration = re.compile(r"^([0-9]+[dhms])+$")
    for name, rule in rules.items():
        assert isinstance(rule["expr"], str) and rule["expr"].strip(), name
        assert duration.match(rule["for"]), (name, rule["for"])
        assert rule["labels"]["severity"] in ("warning", "error", "critical")
        assert rule["labels"]["migration"] == "bert"
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_rule_thresholds_match_the_profile(profile) -> None:
    rules = rules_by_name(prometheus.alert_rules(profile))
    assert rules["GpuIdle"]["expr"].endswith("< 3") and rules["GpuIdle"]["for"] == "8h"
    assert rules["GpuMemoryHigh"]["expr"].endswith("> 92.5") and rules["GpuMemoryHigh"]["for"] == "30m"
    assert prometheus.FB_USED in rules["GpuMemoryHigh"]["expr"] and prometheus.FB_FREE in rules["GpuMemoryHigh"]["expr"]
    assert rules["GpuExporterDown"]["for"] == "7m"
    other = rules_by_name(prometheus.alert_rules(parse_profile(TOML.replace("idle_gpu_util_pct = 3",
                                                                           "idle_gpu_util_pct = 11"))))
    assert other["GpuIdle"]["expr"].endswith("< 11")


def test_scrape_config(profile) -> None:
    doc = yaml.safe_load(prometheus.render_scrape_config(profile))
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    assert jobs["dcgm-exporter"]["static_configs"][0]["targets"] == ["gpu-1.internal:9400", "10.0.0.5:9400"]
    assert jobs["dcgm-exporter"]["scrape_interval"] == "30s"
    assert "dcgm-exporter-gke" not in jobs  # its own file, so promtool without k8s discovery checks this one
    assert doc["rule_files"] == ["gpumigrate-gpu-rules.yml"]
    gke = yaml.safe_load(prometheus.render_scrape_config_gke(profile))
    (job,) = gke["scrape_configs"]
    assert job["job_name"] == "dcgm-exporter-gke" and job["kubernetes_sd_configs"] == [{"role": "pod"}]
    assert gke["rule_files"] == ["gpumigrate-gpu-rules.yml"]


def test_xid_rule_fires_on_a_change_not_on_the_latched_last_value(profile) -> None:
    expr = rules_by_name(prometheus.alert_rules(profile))["GpuXidError"]["expr"]
    assert expr.startswith(f"changes({prometheus.XID}") and "[10m]) > 0" in expr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (`make promtool`)")
def test_xid_rule_under_promtool_test_rules(profile, tmp_path: Path) -> None:
    """One XID (31) at minute 2, then the gauge keeps holding 31: the alert fires, then clears."""
    (tmp_path / "rules.yml").write_text(prometheus.render_rules(profile))
    rule = rules_by_name(prometheus.alert_rules(profile))["GpuXidError"]
    annotations = {"summary": "A new XID error on GPU 0 of h", "description": rule["annotations"]["description"]}
    series = 'DCGM_FI_DEV_XID_ERRORS{job="dcgm-exporter", gpu="0", Hostname="h"}'
    (tmp_path / "test.yml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": [{"series": series, "values": "0 0 31x40"}],
                   "alert_rule_test": [
                       {"eval_time": "1m", "alertname": "GpuXidError", "exp_alerts": []},
                       {"eval_time": "5m", "alertname": "GpuXidError", "exp_alerts": [{"exp_labels": {
                           "severity": "critical", "migration": "bert", "job": "dcgm-exporter", "gpu": "0",
                           "Hostname": "h"}, "exp_annotations": annotations}]},
                       {"eval_time": "30m", "alertname": "GpuXidError", "exp_alerts": []},
                   ]}]}))
    done = subprocess.run(["promtool", "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("mutate, problem", [
    (lambda d: d["groups"][0]["rules"][0].update({"for": "6 hours"}), "duration"),
    (lambda d: d["groups"][0]["rules"][0].update({"expr": "avg(DCGM_FI_DEV_GPU_UTIL[5m]"}), "unbalanced"),
    (lambda d: d["groups"][0]["rules"][0].pop("expr"), "needs an expr"),
    (lambda d: d["groups"][0]["rules"][0]["labels"].pop("severity"), "severity"),
    (lambda d: d["groups"][0]["rules"][0].update({"alert": "bad name"}), "alert/record"),
    (lambda d: d["groups"][0]["rules"][0]["annotations"].update({"summary": 3}), "annotations"),
    (lambda d: d["groups"].append(dict(d["groups"][0])), "duplicate group"),
    (lambda d: d["groups"][0]["rules"][0].update({"expr": "vector(1) > 0"}), "no known DCGM metric"),
])
def test_validation_catches_broken_rules(profile, mutate, problem) -> None:
    doc = yaml.safe_load(prometheus.render_rules(profile))
    mutate(doc)
    problems = prometheus.validate_rules(doc)
    assert any(problem in p for p in problems), problems


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (no PyPI package ships it)")
def test_promtool_accepts_the_rules(profile, tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(prometheus.render_rules(profile))
    subprocess.run(["promtool", "check", "rules", str(path)], check=True, capture_output=True)


def test_prom_duration() -> None:
    assert prometheus.prom_duration(6 * 3600) == "6h"
    assert prometheus.prom_duration(5400) == "1h30m"
    assert prometheus.prom_duration(0) == "0s"


def test_grafana_dashboard(profile) -> None:
    doc = json.loads(grafana.render_dashboard(profile))
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    titles = {p["title"]: p for p in doc["panels"]}
    util = next(p for t, p in titles.items() if t.startswith("GPU utilisation"))
    mem = next(p for t, p in titles.items() if t.startswith("GPU memory used"))
    assert [s["value"] for s in util["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 3.0]
    assert [s["value"] for s in mem["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 92.5]
    for panel in doc["panels"]:
        assert panel["targets"][0]["expr"].count("(") == panel["targets"][0]["expr"].count(")")
        assert panel["datasource"]["uid"] == "${datasource}"
    assert {v["name"] for v in doc["templating"]["list"]} == {"datasource", "host"}
    assert doc["uid"] == "gpumigrate-bert"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (no PyPI package ships it)")
def test_promtool_accepts_the_scrape_config(profile, tmp_path: Path) -> None:
    (tmp_path / "gpumigrate-gpu-rules.yml").write_text(prometheus.render_rules(profile))
    doc = prometheus.scrape_config(profile)
    # Debian's promtool is built without Kubernetes service discovery, so the GKE job is checked
    # structurally above and only the host job goes through promtool.
    doc["scrape_configs"] = [j for j in doc["scrape_configs"] if "kubernetes_sd_configs" not in j]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(doc))
    subprocess.run(["promtool", "check", "config", "prometheus.yml"], cwd=tmp_path, check=True, capture_output=True)
