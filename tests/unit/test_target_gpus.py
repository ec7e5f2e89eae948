"""One answer to "how many GPUs does the target have": cost, the create scripts, verify and the app agree.

A bundled machine type (a2-highgpu-8g) with ``target.gpu_count`` unset has 8 GPUs: cost priced 8 while
verify expected 1 (a correct 8-GPU target failed its GPU check), and the GKE notes asked for 1 T4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.catalog.load import embedded_catalog
from engine.catalog.target_gpus import target_gpus
from engine.cost.model import compute_costs
from engine.cost.section import choose_option
from engine.drivers import render
from engine.profile import parse_profile
from engine.runner import StepContext
from engine.verify import step as verify_step
from tests.nvml_fake import FakeNvml, load_host_data

HEAD = ('[source]\nprovider = "aws"\ninstance_type = "p4d.24xlarge"\n[workload]\nsource_hours_per_run = 10\n'
        'target_hours_per_run = 8\n[drivers]\nos_image = "ubuntu-2204"\n')


def _profile(target: str, extra: str = "") -> Any:
    return parse_profile(HEAD + "[target]\n" + target + extra, "p.toml")


@pytest.mark.parametrize("target, model, count", [
    ('machine_type = "a2-highgpu-8g"\n', "A100 40GB", 8),
    ('machine_type = "g2-standard-48"\n', "L4", 4),
    ('region = "us-east4"\nmachine_type = "a3-megagpu-8g"\n', "H100 80GB Mega", 8),
    ('machine_type = "a2-highgpu-8g"\ngpu_count = 8\n', "A100 40GB", 8),
    ('machine_type = "n1-standard-8"\ngpu_model = "T4"\n', "T4", 1),  # N1: unset = 1, the default attached
    ('machine_type = "n1-standard-16"\ngpu_model = "T4"\ngpu_count = 4\n', "T4", 4),
])
def test_cost_drivers_and_verify_read_the_same_count(target: str, model: str, count: int) -> None:
    catalog = embedded_catalog()
    profile = _profile(target)
    gpus = target_gpus(profile.target, catalog)
    assert (gpus.gpu_model, gpus.gpu_count) == (model, count)
    priced = compute_costs(profile, catalog).targets[0]
    assert int(priced.gpu_count) == count
    drv = render.Target.from_profile(profile, catalog)
    assert (drv.gpu_model, drv.gpu_count) == (model, count)
    k8s, _ = render.render_k8s(render.plan_for_profile(profile, catalog=catalog), drv, [], [])
    assert f"count={count}," in k8s.text and f"nvidia.com/gpu: {count}" in k8s.text
    assert "nvidia-tesla-t4" not in k8s.text or model == "T4"


def test_a_bundled_machine_without_a_count_is_verified_against_its_own_gpus(tmp_path: Path) -> None:
    profile = _profile('machine_type = "a2-highgpu-8g"\n')
    messages: list[Any] = []
    dry = verify_step.run(StepContext(profile=profile, step="verify", emit=messages.append, dry_run=True))
    assert "topology" in dry.data["expected"]  # 8 GPUs: their interconnect is checked too
    host = load_host_data("a100_8x_nvlink")  # its R535 cannot run the plan's CUDA 13.0: the planned R580 here
    host["system"].update(driver_version="580.95.05", cuda_driver_version=13000)
    ctx = StepContext(profile=profile, step="verify", emit=lambda e: None, profile_path=tmp_path / "p.toml",
                      options={"nvml_api": FakeNvml(host), "only": ["gpu_health"]})
    result = verify_step.run(ctx)
    [health] = [r for r in result.data["report"]["checks"] if r["name"] == "gpu_health"]
    assert health["status"] == "pass", health
    assert "the target must show 8 GPU(s)" in health["expected"]


def test_the_gcloud_commitment_line_and_summary_name_the_bundled_count() -> None:
    profile = _profile('machine_type = "a2-highgpu-8g"\npricing = "cud-1y"\n')
    target = render.Target.from_profile(profile, embedded_catalog())
    text = render.render_gcloud(render.plan_for_profile(profile, catalog=embedded_catalog()), target).text
    assert "count=8" in text and "--accelerator=" not in text  # bundled: no --accelerator flag
    assert "8 x A100" in text.splitlines()[1]


def test_choosing_an_option_keeps_the_previous_bundled_target_valid() -> None:
    catalog = embedded_catalog()
    profile = _profile('machine_type = "a2-highgpu-8g"\n',
                       '[[cost.options]]\nmachine_type = "a2-highgpu-1g"\n')
    choose_option(profile, 0, catalog)
    previous = profile.cost.options[0]
    assert previous.machine_type == "a2-highgpu-8g"
    assert target_gpus(previous, catalog, "cost.options[0]").gpu_count == 8
    from engine.catalog.check import profile_problems
    assert profile_problems(profile, catalog) == []


def test_gke_notes_name_a3_megas_own_accelerator_type() -> None:
    profile = _profile('region = "us-east4"\nmachine_type = "a3-megagpu-8g"\n')
    drv = render.Target.from_profile(profile, embedded_catalog())
    k8s, _ = render.render_k8s(render.plan_for_profile(profile, catalog=embedded_catalog()), drv, [], [])
    assert "--accelerator=type=nvidia-h100-mega-80gb,count=8," in k8s.text
