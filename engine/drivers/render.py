"""The artefacts a user runs on Google Cloud: startup script, gcloud, Terraform, Dockerfile, Kubernetes notes.

Everything is rendered from a :class:`engine.drivers.compat.Plan` and the
profile's ``[target]``/``[drivers]`` sections.  Values were validated by the
profile's allow-list patterns at load time; :func:`safe` checks each one again
right before it is written (a plan built in code skips the loader) and shell
values are quoted with :func:`shlex.quote`.  Templates live in ``templates/``;
only their ``@@ASSIGNMENTS@@`` header receives values, so the script body is
fixed text that shellcheck verifies in the tests.
"""

from __future__ import annotations

import difflib
import glob
import re
import shlex
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from engine.drivers import images
from engine.drivers.compat import Plan, gpu_info, tables
from engine.errors import BadInputError
from engine.model_base import GCP_PROJECT_PATTERN, MACHINE_TYPE_PATTERN, REGION_PATTERN, ZONE_PATTERN

EMIT_KINDS = ("startup-script", "gcloud", "terraform", "dockerfile", "k8s")

PATTERNS = {
    "branch": r"^[0-9]{3}$",
    "driver_version": r"^[0-9]{3}(\.[0-9]{1,3}){0,2}$",
    "cuda": r"^[0-9]{1,2}\.[0-9]{1,2}$",
    "flavour": r"^(open|proprietary)$",
    "packages": r"^[a-z0-9][a-z0-9.+-]*( [a-z0-9][a-z0-9.+-]*)*$",
    "repo": r"^[a-z0-9]{2,20}$",
    "os_image": r"^[a-z0-9-]{2,30}$",
    "name": r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$",
    "project": GCP_PROJECT_PATTERN,
    "zone": ZONE_PATTERN,
    "region": REGION_PATTERN,
    "machine_type": MACHINE_TYPE_PATTERN,
    "accelerator": r"^nvidia-[a-z0-9-]{2,40}$",
    "image_project": r"^[a-z][a-z0-9-]{2,62}$",
    "image_family": r"^[a-z0-9][a-z0-9-]{0,62}$",
    "disk_type": r"^(pd-balanced|pd-ssd|hyperdisk-balanced)$",
    "int": r"^[0-9]{1,6}$",
    "flag": r"^[01]$",
    "wheel": r"^cu[0-9]{3}$",
    "pyversion": r"^[0-9]+(\.[0-9]+){0,3}$",
    "cos_version": r"^(default|latest)$",
    "text": r"^[A-Za-z0-9 ._,:()/+>=-]{0,300}$",
}


def safe(value: Any, kind: str) -> str:
    """``value`` as text if it matches the allow-list for ``kind``; refuse anything else."""
    text = str(value)
    if not re.fullmatch(PATTERNS[kind], text):
        raise BadInputError(f"refusing to write {text!r} into a generated file: not a valid {kind}")
    return text


def q(value: Any, kind: str) -> str:
    """Validated, then shell-quoted."""
    return shlex.quote(safe(value, kind))


@dataclass(frozen=True)
class Artefact:
    """One generated file."""

    kind: str
    filename: str
    language: str
    """For syntax highlighting: bash, hcl, dockerfile, markdown."""
    text: str
    executable: bool = False


@dataclass(frozen=True)
class Target:
    """The values the artefacts need, gathered from the profile."""

    project: str | None
    region: str
    zone: str | None
    machine_type: str | None
    gpu_model: str | None
    gpu_count: int
    pricing: str
    instance_name: str = "gpumigrate-gpu"
    boot_disk_gb: int = 200
    boot_disk_type: str = "pd-balanced"
    network: str = "default"
    install_toolkit: bool = False
    container_toolkit: bool = True
    dlvm_image_family: str | None = None
    cos_driver_version: str = "latest"
    zones: tuple[str, ...] = ()
    """With no zone set: the zones of the region that take this GPU shape (empty: the catalog does not say)."""
    excluded_zones: tuple[str, ...] = ()
    """With no zone set: zones of the region that offer the GPU but not this shape (the N1 P100 exception)."""
    excluded_why: str = ""

    @classmethod
    def from_profile(cls, profile: Any, catalog: Any = None) -> "Target":
        """The profile's target; the GPU model and count as :func:`engine.catalog.target_gpus.target_gpus`
        resolves them (a2-highgpu-8g with no count has 8), the same figures cost prices and verify expects."""
        from engine.catalog.load import load_catalog
        from engine.catalog.target_gpus import target_gpus, zones_for

        t, d = profile.target, profile.drivers
        cat = catalog if catalog is not None else load_catalog()
        gpus = target_gpus(t, cat)
        zones, excluded, why = ((), (), "") if t.zone else zones_for(cat, t.machine_type, gpus, t.region)
        return cls(project=t.project, region=t.region, zone=t.zone, machine_type=t.machine_type,
                   gpu_model=gpus.gpu_model, gpu_count=gpus.gpu_count, pricing=t.pricing,
                   zones=zones, excluded_zones=excluded, excluded_why=why,
                   instance_name=d.instance_name, boot_disk_gb=d.boot_disk_gb, boot_disk_type=d.boot_disk_type,
                   network=d.network, install_toolkit=d.install_toolkit, container_toolkit=d.container_toolkit,
                   dlvm_image_family=d.dlvm_image_family, cos_driver_version=d.cos_driver_version)


def _template(name: str) -> str:
    return resources.files("engine.drivers").joinpath("templates", name).read_text(encoding="utf-8")


def _accelerator(target: Target) -> tuple[str | None, bool]:
    """(GCE accelerator type, bundled with the machine type?) for the target GPU."""
    gpu = gpu_info(target.gpu_model)
    row = tables().accelerators.get(gpu.model) if gpu else None
    if row is None:
        return None, False
    bundled = row["bundled"] == "yes"
    if target.machine_type and target.machine_type.startswith("n1-"):
        bundled = False
    if target.machine_type and target.machine_type.startswith("a3-megagpu") and gpu and gpu.model == "H100":
        return "nvidia-h100-mega-80gb", bundled  # the table row's note: A3 Mega's H100 has its own type
    return row["accelerator_type"], bundled


def _image(plan: Plan, target: Target) -> tuple[str, str]:
    row = tables().os_images.get(plan.os_image) or tables().os_images["ubuntu-2204"]
    family = target.dlvm_image_family if plan.os_image == "dlvm" and target.dlvm_image_family else row["image_family"]
    return safe(row["image_project"], "image_project"), safe(family, "image_family")


def driver_packages(plan: Plan) -> str:
    """The distribution packages that install the plan's driver branch and flavour."""
    os_image = plan.os_image if plan.os_image in ("ubuntu-2204", "ubuntu-2404", "debian-12") else "ubuntu-2204"
    for row in tables().driver_packages:
        if row["os_image"] == os_image and row["flavour"] == plan.driver_flavour:
            return safe(row["install"].replace("{branch}", str(plan.driver_branch)), "packages")
    raise BadInputError(f"no driver packages known for {os_image} / {plan.driver_flavour}")


def _summary(plan: Plan, target: Target) -> str:
    gpu = f"{target.gpu_count} x {plan.gpu}" if plan.gpu else "GPU"
    text = (f"Generated by gpumigrate for {gpu} on {plan.os_image}: driver R{plan.driver_branch} "
            f"({plan.driver_flavour}), CUDA {plan.cuda}"
            + ((f", {plan.framework} {plan.framework_version} {plan.wheel}" if plan.wheel else
                f", {plan.framework} {plan.framework_version or ''}".rstrip() + " (no build chosen: not installed)")
               if plan.framework in ("pytorch", "tensorflow") else ""))
    return safe(re.sub(r"[^A-Za-z0-9 ._,:()/+>=-]", "", text), "text")


def render_startup_script(plan: Plan, target: Target) -> Artefact:
    if plan.os_image == "cos":
        assignments = {"COS_DRIVER_VERSION": q(target.cos_driver_version, "cos_version")}
        template = "startup-script-cos.sh.tmpl"
    elif plan.os_image == "dlvm":
        assignments = {"WAIT_MINUTES": q(20, "int")}
        template = "startup-script-dlvm.sh.tmpl"
    else:
        repo = tables().os_images[plan.os_image]["nvidia_repo"]
        assignments = {
            "DRIVER_BRANCH": q(plan.driver_branch, "branch"),
            "DRIVER_VERSION": q(plan.driver_version or "", "text") if not plan.driver_version
            else q(plan.driver_version, "driver_version"),
            "DRIVER_FLAVOUR": q(plan.driver_flavour, "flavour"),
            "DRIVER_PACKAGES": q(driver_packages(plan), "packages"),
            "CUDA_VERSION": q(plan.cuda, "cuda"),
            "INSTALL_TOOLKIT": q(int(target.install_toolkit), "flag"),
            "CONTAINER_TOOLKIT": q(int(target.container_toolkit), "flag"),
            "NVIDIA_REPO": q(repo, "repo"),
        }
        template = "startup-script.sh.tmpl"
    header = "\n".join(f"{k}={v}" for k, v in assignments.items())
    text = _template(template).replace("@@ASSIGNMENTS@@", header).replace("@@SUMMARY@@", _summary(plan, target))
    return Artefact("startup-script", "startup-script.sh", "bash", text, executable=True)


def _shape(target: Target) -> str:
    """"4 x P100 on n1-standard-96", for the zone hints (only characters safe in a script or HCL string)."""
    shape = (f"{target.gpu_count} x {target.gpu_model}" if target.gpu_model else "the GPU") + (
        f" on {target.machine_type}" if target.machine_type else "")
    return re.sub(r"[^A-Za-z0-9 ._-]", "", shape)


def _zone_lines(target: Target) -> list[str]:
    """``ZONE`` from the environment, naming the zones of the region that take this GPU shape (from the
    catalog), and refusing the zones that offer the GPU but not this shape (the N1 P100 exception): the
    generic "a zone that offers the GPU" let a user pick us-east1-c for 4 x P100 on n1-standard-96."""
    region = safe(target.region, "region")
    shape = _shape(target)
    if target.zones:
        zones = " ".join(safe(z, "zone") for z in target.zones)
        lines = [f"# Zones of {region} that take {shape} (gpumigrate catalog): {zones}",
                 f'ZONE="${{ZONE:?set ZONE to a zone of {region} that takes {shape}, one of: {zones}}}"']
    else:
        lines = [f'ZONE="${{ZONE:?set ZONE to a zone of {region} that offers {shape}}}"']
    if target.excluded_zones:
        why = re.sub(r"[^A-Za-z0-9 ._,:()/+>=-]", "", target.excluded_why)
        pattern = "|".join(safe(z, "zone") for z in target.excluded_zones)
        lines += [f'case "$ZONE" in',
                  f'  {pattern}) echo "$ZONE does not take {safe(f"{shape}: {why}", "text")}" >&2; exit 2 ;;',
                  "esac"]
    return lines


def render_gcloud(plan: Plan, target: Target) -> Artefact:
    """A small bash script around ``gcloud compute instances create`` (so it is shellcheck-able)."""
    image_project, image_family = _image(plan, target)
    accelerator, bundled = _accelerator(target)
    lines = ["#!/bin/bash", f"# {_summary(plan, target)}",
             "# Creates the target instance with the same settings as main.tf. Run from the folder holding",
             "# startup-script.sh. Requires: gcloud auth login; the GPU quota in the zone.", "set -euo pipefail", ""]
    if target.project:
        lines.append(f"PROJECT={q(target.project, 'project')}")
    else:
        lines.append('PROJECT="${PROJECT:?set PROJECT to your Google Cloud project id}"')
    if target.zone:
        lines.append(f"ZONE={q(target.zone, 'zone')}")
    else:
        lines += _zone_lines(target)
    machine = target.machine_type or "n1-standard-8"
    args = [
        f"--project=\"$PROJECT\"", f"--zone=\"$ZONE\"", f"--machine-type={q(machine, 'machine_type')}",
    ]
    if accelerator and not bundled:
        acc_value = "type=" + safe(accelerator, "accelerator") + f",count={target.gpu_count}"
        args.append(f"--accelerator={q(acc_value, 'text')}")
    args += [f"--image-project={q(image_project, 'image_project')}", f"--image-family={q(image_family, 'image_family')}",
             f"--boot-disk-size={q(target.boot_disk_gb, 'int')}GB",
             f"--boot-disk-type={q(target.boot_disk_type, 'disk_type')}",
             f"--network={q(target.network, 'name')}",
             "--maintenance-policy=TERMINATE"]
    if target.pricing == "spot":
        args += ["--provisioning-model=SPOT", "--instance-termination-action=STOP"]
    else:
        args.append("--restart-on-failure")
    if plan.os_image == "dlvm":
        args.append("--metadata=install-nvidia-driver=True")
    args.append("--metadata-from-file=startup-script=startup-script.sh")
    lines.append("")
    lines.append(f"gcloud compute instances create {q(target.instance_name, 'name')} \\")
    lines += [f"  {a} \\" for a in args[:-1]] + [f"  {args[-1]}"]
    if target.pricing in ("cud-1y", "cud-3y"):
        plan_name = "12-month" if target.pricing == "cud-1y" else "36-month"
        lines += ["", f"# Committed use ({plan_name}): discounts apply automatically to matching usage in the region once a",
                  "# commitment exists. Size it from the machine type (gcloud compute machine-types describe), e.g.:",
                  f"#   gcloud compute commitments create {safe(target.instance_name, 'name')}-cud "
                  f"--region={safe(target.region, 'region')} --plan={plan_name} \\",
                  "#     --resources=vcpu=VCPUS,memory=MEMORY_GB"
                  + (f" --resources-accelerator=type={safe(accelerator, 'accelerator')},count={target.gpu_count}"
                     if accelerator else ""),
                  "# A commitment cannot be cancelled: buy it after the migration is verified."]
    lines += ["", "echo \"follow the startup script: gcloud compute instances get-serial-port-output "
              f"{safe(target.instance_name, 'name')} --zone=$ZONE --project=$PROJECT\""]
    return Artefact("gcloud", "create-instance.sh", "bash", "\n".join(lines) + "\n", executable=True)


def _hcl(value: Any, kind: str) -> str:
    return '"' + safe(value, kind) + '"'


def _tf_zone_hints(target: Target) -> list[str]:
    """With no zone: the zones that take the shape (as the gcloud script names them), and a validation that
    refuses the zones of the N1 P100 exception, so `terraform plan` stops before Google refuses the instance."""
    shape = _shape(target)
    lines = []
    if target.zones:
        text = f"A zone of {target.region} that takes {shape}: " + ", ".join(target.zones)
        lines.append(f"  description = {_hcl(text, 'text')}")
    if target.excluded_zones:
        why = re.sub(r"[^A-Za-z0-9 ._,:()/+>=-]", "", target.excluded_why).rstrip(".")
        zones = ", ".join(_hcl(z, "zone") for z in target.excluded_zones)
        message = f"This zone does not take {shape}: {why}."
        lines += ["  validation {", f"    condition     = !contains([{zones}], var.zone)",
                  f"    error_message = {_hcl(message, 'text')}", "  }"]
    return lines


def render_terraform(plan: Plan, target: Target) -> Artefact:
    image_project, image_family = _image(plan, target)
    accelerator, bundled = _accelerator(target)
    out = [f"# {_summary(plan, target)}", "# Same settings as create-instance.sh. terraform init && terraform apply", ""]
    out += ['terraform {', '  required_providers {', '    google = {', '      source = "hashicorp/google"',
            '    }', '  }', '}', '']
    out += ['variable "project" {', '  type    = string' if target.project else '  type = string'] + (
        [f"  default = {_hcl(target.project, 'project')}"] if target.project else []) + ['}', '']
    out += ['variable "zone" {', '  type    = string' if target.zone else '  type = string'] + (
        [f"  default = {_hcl(target.zone, 'zone')}"] if target.zone else _tf_zone_hints(target)) + ['}', '']
    out += [f'resource "google_compute_instance" {_hcl(target.instance_name.replace("-", "_"), "text")} {{',
            f"  name         = {_hcl(target.instance_name, 'name')}",
            "  project      = var.project",
            "  zone         = var.zone",
            f"  machine_type = {_hcl(target.machine_type or 'n1-standard-8', 'machine_type')}",
            "",
            "  boot_disk {",
            "    initialize_params {",
            f"      image = {_hcl(f'{image_project}/{image_family}', 'text')}",
            f"      size  = {safe(target.boot_disk_gb, 'int')}",
            f"      type  = {_hcl(target.boot_disk_type, 'disk_type')}",
            "    }",
            "  }",
            ""]
    if accelerator and not bundled:
        out += ["  guest_accelerator {", f"    type  = {_hcl(accelerator, 'accelerator')}",
                f"    count = {safe(target.gpu_count, 'int')}", "  }", ""]
    elif accelerator:
        out += [f"  # {safe(target.machine_type or '', 'machine_type') if target.machine_type else 'this machine type'}"
                f" comes with its {safe(accelerator, 'accelerator')} GPUs attached: no guest_accelerator block", ""]
    scheduling = [("on_host_maintenance", '"TERMINATE"')]
    if target.pricing == "spot":
        scheduling += [("provisioning_model", '"SPOT"'), ("preemptible", "true"), ("automatic_restart", "false"),
                       ("instance_termination_action", '"STOP"')]
    else:
        scheduling += [("provisioning_model", '"STANDARD"'), ("automatic_restart", "true")]
    width = max(len(k) for k, _ in scheduling)
    out += ["  scheduling {"] + [f"    {k:<{width}} = {v}" for k, v in scheduling] + ["  }", ""]
    out += ["  network_interface {", f"    network = {_hcl(target.network, 'name')}", "    access_config {}", "  }", ""]
    metadata = ['    startup-script = file("${path.module}/startup-script.sh")']
    if plan.os_image == "dlvm":
        metadata.append('    install-nvidia-driver = "True"')
    out += ["  metadata = {"] + metadata + ["  }", "}"]
    if target.pricing in ("cud-1y", "cud-3y"):
        plan_name = "TWELVE_MONTH" if target.pricing == "cud-1y" else "THIRTY_SIX_MONTH"
        out += ["", f"# Committed use: a google_compute_region_commitment (plan = \"{plan_name}\") with resources sized",
                "# from the machine type (VCPU, MEMORY and ACCELERATOR) gives the discount; it cannot be cancelled,",
                "# so create it after the migration is verified."]
    return Artefact("terraform", "main.tf", "hcl", "\n".join(out) + "\n")


BASE_PYTHON = {"ubuntu16.04": (3, 5), "ubuntu18.04": (3, 6), "ubuntu20.04": (3, 8), "ubuntu22.04": (3, 10),
               "ubuntu24.04": (3, 12)}
"""The python3 each nvidia/cuda base installs from its Ubuntu archive (xenial 3.5, bionic 3.6, focal 3.8,
jammy 3.10, noble 3.12)."""


def _wanted_base(plan: Plan) -> str:
    return "ubuntu24.04" if plan.os_image == "ubuntu-2404" else "ubuntu22.04"


def base_image(plan: Plan) -> images.BaseImage:
    """The published nvidia/cuda tag for the plan's CUDA (engine.drivers.images), with its finding if any."""
    return images.base_image(plan.cuda, _wanted_base(plan))


def container_image(plan: Plan) -> dict[str, Any]:
    """The nvidia/cuda image the Dockerfile starts from, for ``drivers --json`` and the replay step's data.

    The plan's ``cuda_patch`` is the toolkit update the startup script's apt packages install (13.0 -> 2); the image
    is the newest update NVIDIA still publishes (13.0.3): a tool that built the tag from ``cuda_patch`` named a tag
    Docker Hub no longer has.  ``listed`` is False where NVIDIA's list has no such image (red or amber finding)."""
    image = base_image(plan)
    code = image.finding.code if image.finding is not None else None
    return {"image": f"nvidia/cuda:{image.tag}", "tag": image.tag, "ubuntu": image.ubuntu,
            "listed": code in (None, "container-ubuntu-fallback"), "finding": code}


def container_words(plan: Plan) -> str:
    """One line for the text plan: the image, and whether NVIDIA's list has it."""
    image = container_image(plan)
    if not image["listed"]:
        return f"{image['image']} (NOT in NVIDIA's supported-tags list: see the container finding)"
    if image["finding"] is not None:
        return f"{image['image']} (NVIDIA's supported-tags list; {image['ubuntu']}, not the host's {_wanted_base(plan)})"
    return f"{image['image']} (NVIDIA's supported-tags list)"


def _base(plan: Plan) -> str:
    """The Ubuntu of the image the Dockerfile really starts from (a fallback where NVIDIA publishes none for the
    host's)."""
    return base_image(plan).ubuntu


def container_python_gap(plan: Plan) -> str:
    """"" unless the planned framework release has no wheels for the Dockerfile base's Python (per the table)."""
    from engine.drivers.tables import framework_release

    rel = framework_release(plan.framework, plan.framework_version) if plan.wheel else None
    match = re.fullmatch(r"(\d+)\.(\d+)-(\d+)\.(\d+)", rel.python) if rel is not None else None
    if rel is None or match is None:
        return ""
    low, high = (int(match[1]), int(match[2])), (int(match[3]), int(match[4]))
    base = _base(plan)
    have = BASE_PYTHON[base]
    if low <= have <= high:
        return ""
    return (f"{rel.framework} {rel.version} supports Python {rel.python} (the shipped table); the Dockerfile's "
            f"nvidia/cuda {base} base installs Python {have[0]}.{have[1]}, where pip finds no {rel.framework} "
            f"{rel.version} build")


def render_dockerfile(plan: Plan, target: Target) -> Artefact:
    image = base_image(plan)
    ubuntu = image.ubuntu
    safe(plan.cuda, "cuda")  # a CUDA that is no version is refused before it reaches the FROM line
    unbuilt = plan.framework in ("pytorch", "tensorflow", "jax") and not plan.wheel
    python_gap = container_python_gap(plan)
    lines = [f"# {_summary(plan, target)}",
             f"# Base: NVIDIA's CUDA {plan.cuda} runtime image, "
             + ("chosen from the driver alone (no framework build in the shipped tables fits)." if unbuilt else
                "matching the framework build.") + " The host needs driver",
             f"# R{plan.driver_branch}+ and the NVIDIA container toolkit (docker run --gpus all ...).",
             "# Alternative: an NGC framework image (nvcr.io/nvidia/pytorch:YY.MM-py3); pick the release whose",
             f"# notes list CUDA {plan.cuda}.",
             *_image_note(image),
             f"FROM nvidia/cuda:{image.tag}", "",
             "RUN apt-get update \\", "    && apt-get install -y --no-install-recommends python3 python3-venv \\",
             "    && rm -rf /var/lib/apt/lists/*",
             "RUN python3 -m venv /opt/venv", "ENV PATH=/opt/venv/bin:$PATH"]
    if python_gap:  # the plan carries the whole sentence (container-python); the file says what to do
        short = python_gap.split(" (the shipped table)")[0]
        have = BASE_PYTHON[ubuntu]
        lines.append(f"# {safe(short, 'text')} (the shipped table), this base has Python {have[0]}.{have[1]}: "
                     "pip finds no build for it. Install a supported Python first"
                     + ("" if ubuntu == "ubuntu24.04" else ", or choose a CUDA with an ubuntu24.04 image"
                        if _wanted_base(plan) == "ubuntu24.04" else ", or use the ubuntu24.04 base"))
    if unbuilt:  # installing an unknown release (or one no build of fits) would be a guess in a build file
        lines.append(f"# {safe(plan.framework, 'text')} {safe(plan.framework_version or '', 'pyversion')}: no build "
                     "in the shipped tables fits this target (see `gpumigrate drivers PROFILE`); not installed here")
    elif plan.framework == "pytorch" and plan.wheel:
        version = safe(plan.framework_version or "", "pyversion")
        pin = f"torch=={version}.*" if version.count(".") == 1 else f"torch=={version}"
        lines.append(f"RUN pip install --no-cache-dir \"{pin}\" --index-url "
                     f"https://download.pytorch.org/whl/{safe(plan.wheel, 'wheel')}")
    elif plan.framework == "tensorflow":
        version = safe(plan.framework_version or "", "pyversion")
        lines.append(f"RUN pip install --no-cache-dir \"tensorflow[and-cuda]=={version}\"")
    elif plan.framework == "jax":  # pinned: unpinned, pip installed whatever jax was newest that day
        version = safe(plan.framework_version or "", "pyversion")
        pin = f"=={version}.*" if version.count(".") == 1 else (f"=={version}" if version else "")
        lines.append(f"RUN pip install --no-cache-dir \"jax[cuda{plan.cuda.split('.')[0]}]{pin}\"")
    lines += ["", "# Quick check inside the container:",
              "#   docker run --rm --gpus all IMAGE python -c \"import torch; print(torch.cuda.get_device_name(0))\""
              if plan.framework == "pytorch" and not unbuilt else "#   docker run --rm --gpus all IMAGE nvidia-smi"]
    return Artefact("dockerfile", "Dockerfile", "dockerfile", "\n".join(lines) + "\n")


def _image_note(image: images.BaseImage) -> list[str]:
    """The plan's container finding, said above the FROM line it is about (never a silent fallback)."""
    if image.finding is None:
        return []
    head = {"container-unpublished": "# NOT PUBLISHED: ", "container-unknown": "# NOT KNOWN TO BE PUBLISHED: "}.get(image.finding.code, "# ")
    words = (head + image.finding.reason + ". Fix: " + image.finding.fix).split()
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > 110:
            lines.append(line)
            line = "#  " + word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line]


_IMAGE_LINE = re.compile(r"""^(?P<lead>\s*-?\s*image:\s*)(?P<quote>["']?)(?P<ref>[^"'\s#]+)(?P=quote)(?P<tail>.*)$""")


def rewrite_images(text: str, rewrites: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """Rewrite ``image:`` references by registry prefix; returns the new text and (old, new) pairs."""
    changed: list[tuple[str, str]] = []
    out_lines = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        match = _IMAGE_LINE.match(body)
        if match:
            ref = match.group("ref")
            for old, new in rewrites:
                if ref == old or ref.startswith(old.rstrip("/") + "/"):
                    new_ref = new.rstrip("/") + ref[len(old.rstrip("/")):]
                    changed.append((ref, new_ref))
                    body = f"{match.group('lead')}{match.group('quote')}{new_ref}{match.group('quote')}{match.group('tail')}"
                    break
        out_lines.append(body + ending)
    return "".join(out_lines), changed


def render_k8s(plan: Plan, target: Target, manifests: list[Path], rewrites: list[tuple[str, str]],
               base_dir: Path | None = None) -> tuple[Artefact, dict[str, str]]:
    """Notes for Kubernetes users plus the image rewrite of each manifest (diff in the notes, files returned)."""
    accelerator, _ = _accelerator(target)
    label = accelerator or "ACCELERATOR_TYPE"  # unknown GPU: a placeholder the user must replace, not a guess
    lines = [f"# Kubernetes on Google Cloud for {plan.gpu or 'the target GPU'}", "",
             "## GPU nodes", "",
             f"- GKE node pool: `gcloud container node-pools create gpu-pool --cluster=CLUSTER "
             f"--machine-type={target.machine_type or 'n1-standard-8'} "
             f"--accelerator=type={label},count={target.gpu_count},gpu-driver-version=latest`"
             " (GKE installs the driver; no startup script needed).",
             f"- Pods select the nodes with `nodeSelector: {{cloud.google.com/gke-accelerator: {label}}}` and ask for "
             f"GPUs with `resources.limits: {{nvidia.com/gpu: {target.gpu_count}}}`.",
             "- GKE runs the NVIDIA device plugin itself. Elsewhere (or to manage drivers yourself) install the "
             "NVIDIA GPU Operator: `helm install gpu-operator nvidia/gpu-operator -n gpu-operator "
             "--create-namespace` (add `--set driver.enabled=false` where the driver is preinstalled, as on GKE).",
             f"- Images must be built for CUDA {plan.cuda} or older; the nodes' driver (R{plan.driver_branch}) "
             "decides what runs."]
    if accelerator is None:
        lines.append("- The target GPU is not known (set target.gpu_model or a GPU machine type): replace "
                     "ACCELERATOR_TYPE with its accelerator type (`gcloud compute accelerator-types list`).")
    lines += ["", "## Image references", ""]
    files: dict[str, str] = {}
    if not manifests:
        lines.append("No manifests listed (set drivers.k8s_manifests to rewrite image references).")
    elif not rewrites:
        lines.append("No registry rewrites set (drivers.registry_rewrites); manifests left as they are.")
    for path in manifests:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            lines.append(f"- {path}: cannot read ({exc.strerror})")
            continue
        new_text, changed = rewrite_images(text, rewrites)
        rel = str(path.relative_to(base_dir)) if base_dir and path.is_relative_to(base_dir) else path.name
        if not changed:
            lines.append(f"- {rel}: no image references to rewrite")
            continue
        files[rel] = new_text
        lines += [f"- {rel}: {len(changed)} image reference(s)", "", "```diff"]
        lines += [d.rstrip("\n") for d in difflib.unified_diff(text.splitlines(True), new_text.splitlines(True),
                                                                 f"a/{rel}", f"b/{rel}")]
        lines += ["```", ""]
    return Artefact("k8s", "k8s.md", "markdown", "\n".join(lines) + "\n"), files


def find_manifests(globs_: list[str], base_dir: Path) -> list[Path]:
    found: list[Path] = []
    for pattern in globs_:
        for name in sorted(glob.glob(str(base_dir / pattern), recursive=True)):
            path = Path(name)
            if path.is_file() and path not in found:
                found.append(path)
    return found


def render_all(profile: Any, plan: Plan, base_dir: Path | None = None,
               kinds: tuple[str, ...] = EMIT_KINDS, catalog: Any = None) -> tuple[list[Artefact], dict[str, str]]:
    """Every requested artefact, plus rewritten manifests (relative path -> text)."""
    target = Target.from_profile(profile, catalog)
    out: list[Artefact] = []
    files: dict[str, str] = {}
    for kind in kinds:
        if kind == "startup-script":
            out.append(render_startup_script(plan, target))
        elif kind == "gcloud":
            out.append(render_gcloud(plan, target))
        elif kind == "terraform":
            out.append(render_terraform(plan, target))
        elif kind == "dockerfile":
            out.append(render_dockerfile(plan, target))
        elif kind == "k8s":
            base = base_dir or Path.cwd()
            rewrites = [(r.old, r.new) for r in profile.drivers.registry_rewrites]
            artefact, files = render_k8s(plan, target, find_manifests(profile.drivers.k8s_manifests, base),
                                         rewrites, base)
            out.append(artefact)
        else:
            raise BadInputError(f"unknown artefact {kind!r} (known: {', '.join(EMIT_KINDS)})")
    return out, files


def plan_for_profile(profile: Any, today: Any = None, catalog: Any = None) -> Plan:
    """The compatibility plan for a profile's target GPU (the machine type's when ``target.gpu_model`` is unset:
    a2-highgpu-8g carries an A100 whether or not the profile says so)."""
    from engine.catalog.load import load_catalog
    from engine.catalog.target_gpus import target_gpus
    from engine.drivers.compat import recommend

    d = profile.drivers
    gpu_model = target_gpus(profile.target, catalog if catalog is not None else load_catalog()).gpu_model
    if d.os_image == "dlvm":
        return _with_image_finding(_dlvm_plan(d, gpu_model, today))
    plan = recommend(gpu_model, os_image=d.os_image, framework=d.framework, framework_version=d.framework_version,
                     driver_branch=d.driver_branch, cuda=d.cuda, today=today)
    from engine.drivers.findings import Finding

    _with_image_finding(plan)
    gap = container_python_gap(plan)
    if gap:
        # never advise the base the Dockerfile already has, nor an os_image the profile already names
        where = ("" if _base(plan) == "ubuntu24.04" else
                 "a CUDA NVIDIA publishes for ubuntu24.04 (that base has Python 3.12), " if _wanted_base(plan) ==
                 "ubuntu24.04" else "drivers.os_image = \"ubuntu-2404\" (its Dockerfile base has Python 3.12), ")
        plan.findings.append(Finding("framework", "amber", gap, f"use {where}a framework release for the base's "
                                     "Python, or install another Python in the Dockerfile", "container-python"))
    floor = _package_floor(plan)
    if floor is not None and plan.driver_branch < floor:
        plan.findings.append(Finding("driver", "red", f"the package table lists {plan.driver_flavour} driver packages "
                                     f"for {plan.os_image} from R{floor} only: the startup script's "
                                     f"nvidia-*-{plan.driver_branch}-* packages are not in its archive", f"use R{floor} or newer, or another OS image",
                                     "packages-missing"))
    if d.os_image == "cos":  # cos-extensions installs the milestone's driver: the plan's branch is an assumption

        plan.findings.append(Finding("driver", "amber", f"on Container-Optimized OS the driver is the COS "
                                     f"milestone's {d.cos_driver_version!r} one (`cos-extensions list`), which may "
                                     f"not be the plan's R{plan.driver_branch}: its CUDA and framework choices "
                                     "assume R" + str(plan.driver_branch), "check `cos-extensions list` on the "
                                     "image, or use an Ubuntu/Debian image where the branch is installed as planned",
                                     "image-driver-unknown"))
    return plan


def _with_image_finding(plan: Plan) -> Plan:
    """Adds the Dockerfile base's amber/red finding (a fallback Ubuntu, a tag NVIDIA does not publish)."""
    finding = base_image(plan).finding
    if finding is not None:
        plan.findings.append(finding)
    return plan


_DLVM_DRIVER = re.compile(r"-nvidia-(\d{3})(?:-|$)")


def _package_floor(plan: Plan) -> int | None:
    """The oldest branch the OS image's archive packages for the plan's flavour (driver_packages.csv branch_min)."""
    for row in tables().driver_packages:
        if row["os_image"] == plan.os_image and row["flavour"] == plan.driver_flavour and row.get("branch_min"):
            return int(row["branch_min"])
    return None


def _dlvm_plan(d: Any, gpu_model: str | None, today: Any) -> Plan:
    """A Deep Learning VM brings its own driver, named in its family ("...-nvidia-570"): the plan judges that
    branch, not the one it would have picked (it showed a green R580 while the image installed R570, past its
    end of life)."""
    from engine.drivers.compat import recommend
    from engine.drivers.findings import Finding
    from engine.drivers.versions import branch_of

    family = d.dlvm_image_family or tables().os_images["dlvm"]["image_family"]
    hit = _DLVM_DRIVER.search(family)
    image_branch = int(hit.group(1)) if hit else None
    pinned = branch_of(d.driver_branch) if d.driver_branch else None
    use = d.driver_branch if d.driver_branch or image_branch is None else str(image_branch)
    plan = recommend(gpu_model, os_image="dlvm", framework=d.framework, framework_version=d.framework_version,
                     driver_branch=use, cuda=d.cuda, today=today)
    if image_branch is None:
        plan.findings.append(Finding("driver", "amber", f"the DLVM image family {family!r} does not name its driver "
                                     f"branch: the image installs its own, which may not be the plan's "
                                     f"R{plan.driver_branch}", "use a family ending -nvidia-NNN (list them with "
                                     "`gcloud compute images list --project deeplearning-platform-release`)",
                                     "image-driver-unknown"))
    elif pinned is not None and pinned != image_branch:
        plan.findings.append(Finding("driver", "red", f"the DLVM image family {family!r} installs driver "
                                     f"R{image_branch}, not drivers.driver_branch R{pinned}",
                                     f"set drivers.driver_branch = \"{image_branch}\", or a "
                                     f"drivers.dlvm_image_family ending -nvidia-{pinned}", "image-driver-mismatch"))
    elif pinned is None:
        for f in plan.findings:
            if f.code == "driver-pinned":
                f.reason = f"R{image_branch}: the driver the DLVM image family {family!r} installs"
    return plan


def _write_plain(path: Path, text: str, executable: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if executable:
        path.chmod(0o755)
    return path


def write_artefacts(artefacts: list[Artefact], files: dict[str, str], out_dir: Path,
                    write: Callable[..., Path] = _write_plain) -> list[Path]:
    """Write artefacts (and rewritten manifests under ``k8s/``) into ``out_dir``; returns the paths.

    ``write(path, text, executable=)``: a folder the person chose gets plain files; a session's folder gets
    :func:`engine.session.paths.write_session_file` (shared with the session, never through a link)."""
    written = []
    for artefact in artefacts:
        written.append(write(out_dir / artefact.filename, artefact.text, executable=artefact.executable))
    for rel, text in files.items():
        if ".." in Path(rel).parts:
            raise BadInputError(f"refusing to write outside {out_dir}: {rel}")
        written.append(write(out_dir / "k8s" / rel, text))
    return written
