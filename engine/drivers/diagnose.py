"""What is wrong with an installed stack (the dict :func:`engine.drivers.detect.detect` returns)."""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.drivers.findings import Finding
from engine.drivers.plan import Plan
from engine.drivers.runtime import driver_runs_cuda, min_branch_for as _min_branch_for
from engine.drivers.runtime_errors import explain_error
from engine.drivers.tables import (Gpu, branch_eol, gpu_info, gpu_supports_branch, gpu_supports_cuda,
                                   max_native_cuda, tables, wheel_supports_gpu)
from engine.drivers.versions import branch_of, major_minor, mm_str, wheel_name

def diagnose(state: dict[str, Any], plan: Plan | None = None, today: date | None = None) -> list[Finding]:
    """What is wrong with an installed stack (the dict :func:`engine.drivers.detect.detect` returns)."""
    today = today or date.today()
    out: list[Finding] = []
    gpus = state.get("gpus") or []
    gpu_name = gpus[0].get("name") if gpus else None
    gpu = gpu_info(gpu_name)
    smi = state.get("nvidia_smi") or {}
    module = state.get("kernel_module") or {}
    nvml = state.get("nvml") or {}
    driver = nvml.get("driver_version") or smi.get("driver_version")
    kernel_version = module.get("version")

    # GPU and kernel module
    if not gpus:
        reason = "no NVIDIA GPU found"
        why = smi.get("error") or nvml.get("reason") or ""
        if module.get("nouveau_loaded"):
            out.append(Finding("kernel_module", "red", "the nouveau driver is loaded; it blocks the NVIDIA driver",
                               "blacklist nouveau (echo 'blacklist nouveau' > /etc/modprobe.d/blacklist-nouveau.conf;"
                               " update-initramfs -u) and reboot", "nouveau-loaded"))
        if "mismatch" in why.lower():
            pass  # reported below with both versions
        elif smi.get("error") == "timed out":
            out.append(Finding("gpu", "red", "nvidia-smi did not answer in time: the GPU or driver is hung (often a GPU "
                               "that fell off the bus, Xid 79; see `dmesg | grep -i xid` as root)",
                               "stop the VM and start it again (a reset of the host GPU); if it repeats, report the "
                               "Xid to support", "smi-timeout"))
        elif kernel_version is None and (smi.get("present") or driver):
            out.append(Finding("kernel_module", "red", f"the NVIDIA kernel module is not loaded ({why or 'no /proc/driver/nvidia/version'})",
                               "sudo modprobe nvidia; if that fails, reinstall the driver for this kernel "
                               "(DKMS build) and reboot", "module-not-loaded"))
        elif state.get("pci_nvidia"):
            cards = state["pci_nvidia"]
            where = ", ".join(f"{c['address']} (device {c['device']})" for c in cards[:4])
            out.append(Finding("gpu", "red", f"{len(cards)} NVIDIA GPU(s) on the PCI bus ({where}) but no NVIDIA "
                               f"driver answers{': ' + why if why else ''}",
                               "install the driver (run the generated startup script, or `gpumigrate drivers "
                               "PROFILE --emit startup-script`) and reboot", "driver-missing"))
        elif state.get("pci_read") is False:  # a container without /sys, a recording from before the PCI probe
            out.append(Finding("gpu", "amber", "no NVIDIA driver answers and the PCI bus was not read here "
                               f"(no sys/bus/pci/devices): whether this machine has an NVIDIA GPU is not known"
                               f"{': ' + why if why else ''}", "run the doctor on the GPU machine itself (with "
                               "/sys readable)", "gpu-not-seen"))
        else:
            out.append(Finding("gpu", "amber", f"{reason}{': ' + why if why else ''}",
                               "run the doctor on the GPU machine", "no-gpu"))
    elif gpu is None:
        out.append(Finding("gpu", "amber", f"GPU {gpu_name!r} is not in the shipped table", code="gpu-unknown"))
    else:
        out.append(Finding("gpu", "green", f"{len(gpus)} x {gpu.model} ({gpu.architecture}, sm_{gpu.sm})",
                           code="gpu-ok"))

    # driver/library mismatch: kernel module vs user-space libraries
    user_version = driver or smi.get("library_version")
    error = (smi.get("error") or "") + " " + (nvml.get("reason") or "")
    if "mismatch" in error.lower() or (kernel_version and user_version and kernel_version != user_version):
        out.append(Finding("kernel_module", "red",
                           f"driver/library version mismatch: kernel module {kernel_version or '?'} is loaded but the "
                           f"user-space driver is {user_version or 'a different version'} (the driver was upgraded "
                           "without a reboot)", "reboot, or unload and reload the modules: sudo rmmod nvidia_uvm "
                           "nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia", "driver-library-mismatch"))
    elif kernel_version:
        out.append(Finding("kernel_module", "green", f"nvidia kernel module {kernel_version} loaded"
                           + (" (open)" if module.get("open") else ""), code="module-ok"))

    # driver vs GPU, EOL
    if driver:
        branch = branch_of(driver) or 0
        native = max_native_cuda(driver)
        if gpu is not None and not gpu_supports_branch(gpu, branch):
            if gpu.last_branch is not None and branch > gpu.last_branch:
                out.append(Finding("driver", "red", f"driver {driver} does not support {gpu.model} ({gpu.family} "
                                   f"ends with R{gpu.last_branch})", f"install the R{gpu.last_branch} branch",
                                   "driver-drops-gpu"))
            else:
                out.append(Finding("driver", "red", f"driver {driver} is too old for {gpu.model} (needs "
                                   f"R{gpu.min_branch}+)", f"install R{gpu.min_branch} or newer",
                                   "driver-too-old-for-gpu"))
        elif gpu is not None and gpu.first_cuda and native and native < gpu.first_cuda:
            out.append(Finding("driver", "red", f"driver {driver} (CUDA {mm_str(native)}) predates {gpu.model}, "
                               f"which needs CUDA {mm_str(gpu.first_cuda)}+", "install R580",
                               "driver-too-old-for-gpu"))
        else:
            eol = branch_eol(branch)
            known = tables().branches
            if eol is None and branch not in known and known and branch < min(known):
                out.append(Finding("driver", "amber", f"driver {driver}: branch R{branch} is older than every "
                                   "supported data-centre branch (no security fixes)",
                                   "move to R580 (long-term support to Jun 2028)", "driver-eol"))
            elif eol is not None and eol <= today:
                out.append(Finding("driver", "amber", f"driver {driver}: branch R{branch} reached end of life "
                                   f"{eol:%b %Y}", "move to a supported branch (R580 is LTS to Jun 2028)",
                                   "driver-eol"))
            else:
                out.append(Finding("driver", "green", f"driver {driver} (supports CUDA up to {mm_str(native)})",
                                   code="driver-ok"))
        if plan is not None and branch != plan.driver_branch:
            out.append(Finding("driver", "amber", f"installed branch R{branch} differs from the plan's "
                               f"R{plan.driver_branch}", "run the generated startup script", "driver-not-plan"))

    # nvcc vs nvidia-smi
    nvcc = (state.get("nvcc") or {}).get("version")
    smi_cuda = smi.get("cuda_version") or nvml.get("cuda_driver_version")
    if nvcc:
        nvcc_mm = major_minor(nvcc)
        smi_mm = major_minor(smi_cuda) if smi_cuda else (max_native_cuda(driver) if driver else None)
        if nvcc_mm and gpu is not None and not gpu_supports_cuda(gpu, nvcc_mm):
            out.append(Finding("toolkit", "red", f"nvcc {nvcc} cannot build for {gpu.model} (sm_{gpu.sm}); its "
                               f"last toolkit is CUDA {mm_str(gpu.last_cuda)}",
                               f"install CUDA {mm_str(gpu.last_cuda)} (cuda-toolkit-{gpu.last_cuda[0]}-"  # type: ignore[index]
                               f"{gpu.last_cuda[1]})", "toolkit-drops-gpu"))  # type: ignore[index]
        elif nvcc_mm and smi_mm and driver and nvcc_mm != smi_mm:
            verdict = driver_runs_cuda(driver, nvcc_mm)
            if not verdict.ok:
                out.append(Finding("toolkit", "red", f"nvcc --version says CUDA {mm_str(nvcc_mm)} but nvidia-smi "
                                   f"says CUDA {mm_str(smi_mm)}: {verdict.reason}. Programs built with this nvcc fail "
                                   "with 'CUDA driver version is insufficient for CUDA runtime version'",
                                   f"upgrade the driver (R{_min_branch_for(nvcc_mm)}+) or install CUDA "
                                   f"{mm_str(smi_mm)}", "nvcc-newer-than-driver"))
            elif nvcc_mm > smi_mm:
                out.append(Finding("toolkit", "amber", f"nvcc --version says CUDA {mm_str(nvcc_mm)} and nvidia-smi "
                                   f"CUDA {mm_str(smi_mm)}: nvidia-smi shows the newest CUDA the driver supports, nvcc "
                                   f"the toolkit you build with. {verdict.reason}",
                                   "fine for most code; upgrade the driver if you need PTX JIT or new APIs",
                                   "nvcc-smi-minor"))
            else:
                out.append(Finding("toolkit", "green", f"nvcc {mm_str(nvcc_mm)} is older than the driver's CUDA "
                                   f"{mm_str(smi_mm)} (that is fine: drivers run older toolkits' builds; the two "
                                   "numbers answer different questions)", code="nvcc-older"))
        else:
            out.append(Finding("toolkit", "green", f"nvcc {nvcc}", code="toolkit-ok"))

    # frameworks
    for pkg in state.get("frameworks") or []:
        out.extend(_diagnose_framework(pkg, gpu, driver))

    # container toolkit
    ctk = state.get("container_toolkit") or {}
    docker = state.get("docker") or {}
    if docker.get("present"):
        runtimes = docker.get("runtimes") or []
        if not ctk.get("nvidia_ctk") and not ctk.get("runtime"):
            out.append(Finding("container", "amber", "Docker is installed but the NVIDIA container toolkit is not: "
                               "containers cannot see the GPU", "install nvidia-container-toolkit; "
                               "sudo nvidia-ctk runtime configure --runtime=docker; sudo systemctl restart docker",
                               "ctk-missing"))
        elif docker.get("daemon") is False:
            out.append(Finding("container", "amber", f"Docker daemon not reachable ({docker.get('error', '')})",
                               "start Docker (sudo systemctl start docker) or add your user to the docker group",
                               "docker-daemon-down"))
        elif "nvidia" not in runtimes:
            out.append(Finding("container", "amber", "the NVIDIA container toolkit is installed but Docker has no "
                               "'nvidia' runtime", "sudo nvidia-ctk runtime configure --runtime=docker && sudo "
                               "systemctl restart docker (then docker run --gpus all ...)", "docker-no-nvidia"))
        else:
            default = docker.get("default_runtime") or "runc"
            out.append(Finding("container", "green", f"Docker runtimes: {', '.join(runtimes)} (default {default}); "
                               "use --gpus all" if default != "nvidia" else "Docker default runtime is nvidia",
                               code="container-ok"))
    # OS
    os_rel = state.get("os") or {}
    if os_rel.get("id"):
        label = f"{os_rel.get('id')} {os_rel.get('version_id', '')}".strip()
        supported = (os_rel.get("id"), os_rel.get("version_id")) in {("ubuntu", "22.04"), ("ubuntu", "24.04"),
                                                                      ("debian", "12")}
        out.append(Finding("os", "green" if supported else "amber", f"{label}" + (
            "" if supported else ": not one the startup script targets (Ubuntu 22.04/24.04, Debian 12)"),
            code="os-ok" if supported else "os-other"))
    for text in state.get("errors_to_explain") or []:
        out.extend(explain_error(text, state))
    return out



def _diagnose_framework(pkg: dict[str, Any], gpu: Gpu | None, driver: str | None) -> list[Finding]:
    name, version, built = pkg.get("name"), pkg.get("version"), pkg.get("cuda")
    label = f"{name} {version}"
    if not built:
        if gpu is not None:
            return [Finding("framework", "red", f"{label} is a CPU-only build", "reinstall with the CUDA wheel "
                            "(pip install torch --index-url https://download.pytorch.org/whl/cu126)",
                            "framework-cpu-only")]
        return [Finding("framework", "green", f"{label} (CPU-only build; no GPU here)", code="framework-cpu")]
    cuda = major_minor(built)
    out: list[Finding] = []
    variant = wheel_name(cuda) if cuda else "?"
    if gpu is not None and name == "torch" and not wheel_supports_gpu(variant, gpu):
        out.append(Finding("framework", "red", f"{label} was built for CUDA {built} ({variant}), which leaves out "
                           f"{gpu.model} (sm_{gpu.sm}): kernels fail with 'no kernel image is available for "
                           "execution on the device'", "pip install torch --index-url "
                           "https://download.pytorch.org/whl/cu126 (the cu126 wheels still include "
                           f"sm_{gpu.sm})", "wheel-arch-unsupported"))
    if driver and cuda:
        verdict = driver_runs_cuda(driver, cuda)
        if not verdict.ok:
            out.append(Finding("framework", "red", f"{label} was built for CUDA {built}, newer than the driver "
                               f"supports: {verdict.reason}. torch reports 'The NVIDIA driver on your system is too "
                               "old'", f"upgrade the driver to R{_min_branch_for(cuda)}+ or install a wheel for CUDA "
                               f"{mm_str(max_native_cuda(driver))} or older", "wheel-newer-than-driver"))
        elif not out:
            out.append(Finding("framework", "green", f"{label} (CUDA {built}): {verdict.reason}",
                               code="framework-ok"))
    elif not out and not driver:
        # nothing to compare the build with (no driver answered: a mismatch, a missing module): green said "fine"
        out.append(Finding("framework", "amber", f"{label} was built for CUDA {built}: not checked against a driver "
                           "(no NVIDIA driver version could be read here)", "fix the driver first (the findings "
                           "above), then run the doctor again", "framework-unchecked"))
    elif not out:
        out.append(Finding("framework", "green", f"{label} (CUDA {built})", code="framework-ok"))
    return out

