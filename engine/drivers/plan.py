"""The driver plan for a target: which driver branch, CUDA toolkit and framework build, and why.

:func:`recommend` reads the shipped tables (:mod:`engine.drivers.tables`) and
the binary-compatibility rules (:mod:`engine.drivers.arch`); every choice is a
:class:`~engine.drivers.findings.Finding` with its reason, red where the
combination breaks (a toolkit that predates the GPU, a build without kernels
for it, a driver below the runtime's minimum or past the GPU's last branch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from engine.drivers.arch import toolkit_max_sm
from engine.drivers.findings import Finding, Status, worst
from engine.drivers.runtime import LTSB_DEFAULT as _LTSB_DEFAULT
from engine.drivers.runtime import driver_runs_cuda
from engine.drivers.tables import (BuildArch, FrameworkRelease, Gpu, Wheel, branch_eol, build_arch,
                                   framework_release, gpu_info, gpu_supports_branch, gpu_supports_cuda,
                                   known_toolkits, max_native_cuda, tables, toolkit_patch)
from engine.drivers.versions import branch_of, fmt_driver as _v, major_minor, mm_str, vtuple, wheel_cuda

@dataclass
class Plan:
    """What to install on the target, and why."""

    gpu: str | None
    gpu_arch: str | None
    sm: int | None
    driver_branch: int
    driver_version: str | None
    """An exact pinned version when the profile names one."""
    driver_flavour: Literal["open", "proprietary"]
    cuda: str
    """The CUDA toolkit major.minor that matches the framework build."""
    cuda_patch: int
    framework: str
    framework_version: str | None
    wheel: str | None
    """PyTorch wheel variant (e.g. "cu126")."""
    os_image: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return worst(self.findings)

    @property
    def torch_index_url(self) -> str | None:
        return f"https://download.pytorch.org/whl/{self.wheel}" if self.framework == "pytorch" and self.wheel else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status
        data["torch_index_url"] = self.torch_index_url
        return data



def _default_branch(gpu: Gpu | None, today: date) -> tuple[int, str]:
    if gpu is not None and gpu.last_branch is not None:
        return gpu.last_branch, (f"{gpu.model} ({gpu.family}) is supported up to driver branch R{gpu.last_branch}; "
                                 "that is the newest it can use")
    candidates = [b for b in tables().branches.values()
                  if b.kind.upper().startswith("LTSB") and (b.eol is None or b.eol > today)]
    if gpu is not None:
        candidates = [b for b in candidates if gpu_supports_branch(gpu, b.branch)]
    if candidates:
        best = max(candidates, key=lambda b: b.branch)
        eol = f", end of life {best.eol:%b %Y}" if best.eol else ""
        return best.branch, f"R{best.branch} is the newest long-term-support data-centre branch{eol}"
    return _LTSB_DEFAULT, f"R{_LTSB_DEFAULT} (long-term-support branch)"


def recommend(gpu_name: str | None, os_image: str = "ubuntu-2204", framework: str = "pytorch",
              framework_version: str | None = None, driver_branch: str | None = None,
              cuda: str | None = None, today: date | None = None) -> Plan:
    """Choose the driver branch, CUDA and wheel variant for a target; every choice carries its reason."""
    today = today or date.today()
    findings: list[Finding] = []
    gpu = gpu_info(gpu_name)
    if gpu is None:
        findings.append(Finding("gpu", "amber", f"GPU {gpu_name!r} is not in the shipped table; assuming a "
                                "current data-centre GPU" if gpu_name else "no target GPU set; assuming a "
                                "current data-centre GPU", "set target.gpu_model", "gpu-unknown"))
    elif gpu.last_branch is not None and gpu.last_branch < 525:
        findings.append(Finding("gpu", "red", f"{gpu.model} ({gpu.family}) ended with driver R{gpu.last_branch} "
                                f"and CUDA {mm_str(gpu.last_cuda)}: no current framework build supports it",
                                "choose a newer GPU (T4, L4, A100, H100) for the target", "gpu-legacy"))
    else:
        note = f"{gpu.model}: {gpu.architecture}, sm_{gpu.sm}"
        if gpu.last_branch is not None:
            findings.append(Finding("gpu", "amber", f"{note}; last driver branch R{gpu.last_branch}, last CUDA "
                                    f"{mm_str(gpu.last_cuda)} (toolkits and wheels after that leave it out)",
                                    "plan a move to a Turing-or-newer GPU", "gpu-end-of-line"))
        else:
            findings.append(Finding("gpu", "green", f"{note}; supported by current drivers and CUDA", code="gpu-ok"))

    # driver branch
    pinned_version = None
    if driver_branch:
        branch = branch_of(driver_branch) or _LTSB_DEFAULT
        if len(vtuple(driver_branch)) > 1:
            pinned_version = driver_branch
        why = f"driver {driver_branch} chosen in the profile"
        if gpu is not None and not gpu_supports_branch(gpu, branch):
            if gpu.last_branch is not None and branch > gpu.last_branch:
                findings.append(Finding("driver", "red", f"{why}, but {gpu.model} ({gpu.family}) is not supported "
                                        f"after R{gpu.last_branch}", f"set drivers.driver_branch = "
                                        f"\"{gpu.last_branch}\"", "driver-drops-gpu"))
            else:
                findings.append(Finding("driver", "red", f"{why}, but {gpu.model} needs R{gpu.min_branch} or newer",
                                        f"set drivers.driver_branch = \"{gpu.min_branch}\"", "driver-too-old-for-gpu"))
        else:
            findings.append(Finding("driver", "green", why, code="driver-pinned"))
    else:
        branch, why = _default_branch(gpu, today)
        findings.append(Finding("driver", "green", why, code="driver-default"))
    eol = branch_eol(branch)
    known = tables().branches
    if eol is None and branch not in known and known and branch < min(known):
        findings.append(Finding("driver", "amber", f"R{branch} is older than every supported data-centre branch (no "
                                "security fixes)", f"use R{_default_branch(gpu, today)[0]}", "driver-eol"))
    if driver_branch and branch not in known and known and branch > min(known) and not _toolkit_branch(branch):
        findings.append(Finding("driver", "amber", f"R{branch} is not in the shipped driver tables (data-centre "
                                f"branches R{', R'.join(str(b) for b in sorted(known))}; toolkit drivers up to "
                                f"R{max(t.min_driver[0] for t in tables().toolkits if t.min_driver)}): whether it "
                                "exists, how long it is supported and which CUDA it runs are not known here, and the "
                                "startup script installs packages named after it", f"use a listed branch "
                                f"(R{_default_branch(gpu, today)[0]})", "driver-unknown"))
    if eol is not None and eol <= today:
        findings.append(Finding("driver", "amber", f"R{branch} reached end of life in {eol:%b %Y}: no more "
                                "security fixes", f"move to a supported branch (R{_default_branch(gpu, today)[0]})",
                                "driver-eol"))
    branch_driver = pinned_version or _branch_floor(branch)
    native = max_native_cuda(branch_driver)
    flavour: Literal["open", "proprietary"] = "open" if (gpu is None or gpu.open_modules) else "proprietary"

    # framework -> wheel -> CUDA
    wheel: str | None = None
    chosen_cuda: tuple[int, int] | None = major_minor(cuda) if cuda else None
    fw_version = framework_version
    no_build = ""
    if framework in ("pytorch", "tensorflow", "jax"):
        rel = framework_release(framework, framework_version)
        if rel is None:
            findings.append(Finding("framework", "amber", f"{framework} {framework_version} is not in the shipped "
                                    "table; CUDA chosen from the driver alone", "pick a listed release",
                                    "framework-unknown"))
        else:
            fw_version = framework_version or rel.version
            wheel, wheel_findings = _choose_wheel(rel, gpu, branch_driver, chosen_cuda)
            findings.extend(wheel_findings)
            if wheel and chosen_cuda is None:
                chosen_cuda = wheel_cuda(wheel)
            elif wheel is None and chosen_cuda is None:
                no_build = f" (chosen from the driver alone: no {framework} {rel.version} build fits)"
    if chosen_cuda is None:
        chosen_cuda = native if native and (gpu is None or gpu_supports_cuda(gpu, native)) else (
            gpu.last_cuda if gpu and gpu.last_cuda else (12, 6))
    if gpu is not None and not gpu_supports_cuda(gpu, chosen_cuda):
        findings.append(Finding("cuda", "red", f"CUDA {mm_str(chosen_cuda)} no longer supports {gpu.model} "
                                f"(sm_{gpu.sm}); its last toolkit is {mm_str(gpu.last_cuda)}",
                                f"use CUDA {mm_str(gpu.last_cuda)}", "cuda-drops-gpu"))
    if gpu is not None:
        findings.extend(_toolkit_predates_gpu(gpu, chosen_cuda, from_framework=cuda is None and wheel is not None))
    listed = known_toolkits()
    verdict = driver_runs_cuda(branch_driver, chosen_cuda)
    if chosen_cuda not in listed:
        # which driver it needs, whether it exists at all: a made-up verdict either way (12.99 was "too old for R580")
        findings.append(Finding("cuda", "amber", f"CUDA {mm_str(chosen_cuda)} is not in the shipped toolkit table "
                                f"(known: {mm_str(listed[0])} to {mm_str(listed[-1])}): whether it exists and which "
                                "driver it needs are not known here; the startup script asks apt for "
                                f"cuda-toolkit-{chosen_cuda[0]}-{chosen_cuda[1]} and the Dockerfile starts from "
                                f"nvidia/cuda:{mm_str(chosen_cuda)}.0, which may not exist",
                                "set drivers.cuda to a listed toolkit (or leave it unset: the framework build "
                                "decides)", "cuda-unknown"))
    elif not verdict.ok:
        findings.append(Finding("cuda", "red", f"R{branch}: {verdict.reason}",
                                "choose a newer driver branch or an older CUDA", "driver-too-old-for-cuda"))
    elif not any(f.component == "cuda" for f in findings):
        findings.append(Finding("cuda", "green", f"CUDA {mm_str(chosen_cuda)}: {verdict.reason}{no_build}",
                                code="cuda-ok"))
    if flavour == "proprietary" and gpu is not None:
        findings.append(Finding("driver", "green", f"{gpu.family} needs the proprietary kernel modules (open modules "
                                "support Turing and newer only)", code="driver-proprietary"))
    return Plan(gpu=gpu.model if gpu else gpu_name, gpu_arch=gpu.architecture if gpu else None,
                sm=gpu.sm if gpu else None, driver_branch=branch, driver_version=pinned_version,
                driver_flavour=flavour, cuda=mm_str(chosen_cuda), cuda_patch=toolkit_patch(chosen_cuda),
                framework=framework, framework_version=fw_version, wheel=wheel, os_image=os_image,
                findings=findings)


def _toolkit_predates_gpu(gpu: Gpu, cuda: tuple[int, int], from_framework: bool = False) -> list[Finding]:
    """CUDA older than the GPU's architecture: red, unless same-major SASS runs through binary compatibility.

    When the CUDA comes from the framework's own build (not chosen in the profile), that build's kernels are
    judged by their arch list (framework findings); the toolkit then only limits code built on the target with
    it (extensions, custom kernels), which is amber.
    """
    if gpu.first_cuda is None or cuda >= gpu.first_cuda:
        return []
    top = toolkit_max_sm(cuda)
    first = mm_str(gpu.first_cuda)
    if top is not None and top // 10 == gpu.sm // 10:
        return [Finding("cuda", "amber", f"CUDA {mm_str(cuda)} predates {gpu.model} ({gpu.family}, sm_{gpu.sm}; first "
                        f"toolkit {first}): it cannot build for sm_{gpu.sm}, but its sm_{top} builds run on it through "
                        f"binary compatibility (a cubin for {top // 10}.{top % 10} runs on {gpu.sm // 10}.{gpu.sm % 10}); "
                        f"nothing is tuned for sm_{gpu.sm} and its new instructions (e.g. FP8 on Ada/Hopper) are unused",
                        f"set drivers.cuda = \"{first}\" or newer to build for sm_{gpu.sm}", "cuda-binary-compat")]
    target = f"sm_{top}" if top else "an older architecture"
    if from_framework:
        return [Finding("cuda", "amber", f"CUDA {mm_str(cuda)} (the framework build's) predates {gpu.model} "
                        f"({gpu.family}, sm_{gpu.sm}): extensions or kernels built on the target with it reach "
                        f"{target} at most and do not run on sm_{gpu.sm} unless they carry PTX",
                        f"use a framework build for CUDA {first} or newer", "cuda-predates-gpu")]
    return [Finding("cuda", "red", f"CUDA {mm_str(cuda)} predates {gpu.model} ({gpu.family}, sm_{gpu.sm}): its newest "
                    f"target is {target}, whose kernels do not run on sm_{gpu.sm} (another major architecture); "
                    f"CUDA {first} is the first toolkit that builds for sm_{gpu.sm}. Kernels built with it fail with "
                    "'no kernel image is available for execution on the device' (CUDA_ERROR_NO_BINARY_FOR_GPU)",
                    f"set drivers.cuda = \"{first}\" or newer (and a framework build for it)", "cuda-predates-gpu")]


def _no_kernels(rel: FrameworkRelease, gpu: Gpu, archs: list[tuple[str, BuildArch]]) -> Finding:
    """Red: no build of this release carries SASS or PTX the GPU can run; the message users see, and the fix."""
    label = f"{rel.framework} {rel.version}"
    shown = "; ".join(f"{variant} carries {arch.arch_list()}" for variant, arch in archs)
    reason = (f"no {label} build has kernels or PTX for {gpu.model} (sm_{gpu.sm}): {shown}. ")
    if rel.framework == "pytorch":
        reason += (f"PyTorch warns 'NVIDIA {gpu.model} with CUDA capability sm_{gpu.sm} is not compatible with the "
                   f"current PyTorch installation. The current PyTorch install supports CUDA capabilities "
                   f"{' '.join('sm_' + str(s) for s in archs[0][1].sass)}.' and the first kernel fails with "
                   "'CUDA error: no kernel image is available for execution on the device'")
    else:
        reason += "the first kernel fails with 'no kernel image is available for execution on the device'"
    fix = _first_release_for(rel.framework, gpu) or _last_release_for(rel.framework, gpu)
    return Finding("framework", "red", reason, fix or "choose another framework release", "framework-no-kernels")


def _first_release_for(framework: str, gpu: Gpu) -> str | None:
    """"use pytorch 2.0 or newer (cu118: the first build with sm_90)" from the tables."""
    releases = sorted((f for f in tables().frameworks if f.framework == framework), key=lambda f: vtuple(f.version))
    for rel in releases:
        for w in rel.wheels:
            arch = build_arch(rel.framework, rel.version, w.variant)
            if arch is not None and arch.runs_on(gpu.sm)[0] == "native":
                return (f"use {framework} {rel.version} or newer with the {w.variant} build (the first with "
                        f"sm_{gpu.sm}); set drivers.framework_version and drivers.cuda to match")
    return None


def _last_release_for(framework: str, gpu: Gpu) -> str | None:
    """When no later release builds for the GPU (a dropped architecture, e.g. Maxwell after TensorFlow 2.16),
    the newest release whose builds still run on it."""
    releases = sorted((f for f in tables().frameworks if f.framework == framework), key=lambda f: vtuple(f.version),
                      reverse=True)
    for rel in releases:
        for w in rel.wheels:
            arch = build_arch(rel.framework, rel.version, w.variant)
            if arch is not None and arch.runs_on(gpu.sm)[0] != "none":
                return (f"use {framework} {rel.version} with the {w.variant} build (the newest whose kernels run on "
                        f"sm_{gpu.sm}), or build from source for sm_{gpu.sm}; set drivers.framework_version to match")
    return None


def _toolkit_branch(branch: int) -> bool:
    """A CUDA toolkit shipped with a driver of this branch (R550, R590 are real though not listed as branches)."""
    return any(t.min_driver and t.min_driver[0] == branch for t in tables().toolkits)


def _branch_floor(branch: int) -> str:
    """A representative version of a branch: the lowest toolkit-GA driver in it, else ``branch.0``."""
    found = [t.min_driver for t in tables().toolkits if t.min_driver and t.min_driver[0] == branch]
    return _v(min(found)) if found else f"{branch}.0"


def _choose_wheel(rel: FrameworkRelease, gpu: Gpu | None, driver: str,
                  want: tuple[int, int] | None) -> tuple[str | None, list[Finding]]:
    findings: list[Finding] = []
    label = f"{rel.framework} {rel.version}"
    candidates = sorted(rel.wheels, key=lambda w: (w.stable, wheel_cuda(w.variant) or (0, 0)), reverse=True)
    usable: list[Wheel] = []
    rejected: list[str] = []
    no_kernels: list[tuple[str, BuildArch]] = []
    how: dict[str, tuple[str, int | None]] = {}
    for w in candidates:
        arch = build_arch(rel.framework, rel.version, w.variant) if gpu is not None else None
        if arch is not None and gpu is not None:
            how[w.variant] = arch.runs_on(gpu.sm)
            if how[w.variant][0] == "none":
                rejected.append(f"{w.variant} leaves out sm_{gpu.sm} ({gpu.family})")
                no_kernels.append((w.variant, arch))
                continue
        if gpu is not None and gpu.sm >= 100 and (wheel_cuda(w.variant) or (0, 0)) < (12, 8):
            rejected.append(f"{w.variant} predates Blackwell (needs cu128+)")
            continue
        need = w.blackwell_min_driver if (gpu is not None and gpu.sm >= 100 and w.blackwell_min_driver) else w.min_driver
        if need and vtuple(driver) < need:
            rejected.append(f"{w.variant} needs driver >= {_v(need)}")
            continue
        usable.append(w)
    if want is not None:
        exact = [w for w in usable if wheel_cuda(w.variant) == want]
        same_major = [w for w in usable if (wheel_cuda(w.variant) or (0, 0))[0] == want[0]]
        if exact:
            usable = exact
        elif same_major:
            wanted = [(v, a) for v, a in no_kernels if wheel_cuda(v) == want]
            if gpu is not None and wanted:  # the build exists but leaves the GPU out (V100 + 2.11 cu128)
                why = (f"{label}'s {wanted[0][0]} build has no kernels for {gpu.model} (sm_{gpu.sm}): it carries "
                       f"{wanted[0][1].arch_list()}, so its first kernel there fails with 'no kernel image is "
                       f"available for execution on the device'; {same_major[0].variant} has them and runs with "
                       f"the CUDA {mm_str(want)} toolkit (same major version)")
            else:
                why = (f"{label} has no CUDA {mm_str(want)} build; {same_major[0].variant} runs with the same "
                       "major version")
            findings.append(Finding("framework", "amber", why, f"install the {same_major[0].variant} build "
                                    f"(--index-url https://download.pytorch.org/whl/{same_major[0].variant})"
                                    if rel.framework == "pytorch" else "", "wheel-nearest"))
            usable = same_major
        elif usable:
            wanted = [(v, a) for v, a in no_kernels if wheel_cuda(v) == want]
            fits = (f"set drivers.cuda = \"{mm_str(wheel_cuda(usable[0].variant))}\" "
                    f"({usable[0].variant} fits)")
            if gpu is not None and wanted:  # one red line: the missing kernels, with the build that fits as the fix
                missing = _no_kernels(rel, gpu, wanted)
                findings.append(Finding(missing.component, missing.status, missing.reason, fits, missing.code))
                return None, findings
            findings.append(Finding("framework", "red", f"no {label} build for CUDA {mm_str(want)} fits"
                                    + (": " + "; ".join(rejected) if rejected else ""), fits, "wheel-none"))
            return None, findings
    native = max_native_cuda(driver) or (0, 0)
    # stable first, then builds the driver runs natively (no minor-version caveats), then the newest
    usable.sort(key=lambda w: (w.stable, (wheel_cuda(w.variant) or (0, 0)) <= native,
                               wheel_cuda(w.variant) or (0, 0)), reverse=True)
    if not usable:
        if gpu is not None and no_kernels and len(no_kernels) == len(candidates):
            findings.append(_no_kernels(rel, gpu, no_kernels))  # says it all: no second, generic red line
            return None, findings
        findings.append(Finding("framework", "red", f"no {label} build fits: " + "; ".join(rejected),
                                "choose another framework release or GPU", "wheel-none"))
        return None, findings
    best = usable[0]
    kind = "stable" if best.stable else "experimental"
    why = f"{label}: {best.variant} ({kind} wheel)"
    if rejected:
        why += "; not " + "; not ".join(rejected)
    findings.append(Finding("framework", "green" if best.stable else "amber", why, code="wheel-ok"))
    mode, sm = how.get(best.variant, ("native", None))
    if gpu is not None and mode == "binary":
        findings.append(Finding("framework", "green", f"{best.variant} has no sm_{gpu.sm} kernels; its sm_{sm} kernels "
                                f"run on {gpu.model} through binary compatibility (same major architecture), as "
                                f"{rel.framework}'s own builds do", code="wheel-binary-compat"))
    elif gpu is not None and mode == "ptx" and rel.framework == "jax":
        findings.append(Finding("framework", "green", f"{best.variant} carries compute_{sm} PTX for {gpu.model}; XLA "
                                "compiles its kernels for the device at run time", code="wheel-ptx-jit"))
    elif gpu is not None and mode == "ptx":
        seen = ""
        if rel.framework == "tensorflow":  # the warning TensorFlow prints (tensorflow#60739, #62320 on H100)
            seen = (f". TensorFlow warns 'TensorFlow was not built with CUDA kernel binaries compatible with compute "
                    f"capability {gpu.sm // 10}.{gpu.sm % 10}. CUDA kernels will be jit-compiled from PTX, which could "
                    "take 30 minutes or longer.'")
        findings.append(Finding("framework", "amber", f"{label} ({best.variant}) has no kernels for sm_{gpu.sm}: the "
                                f"driver JIT-compiles its compute_{sm} PTX on first use (minutes at start-up, cached "
                                "in ~/.nv/ComputeCache; raise CUDA_CACHE_MAXSIZE), and nothing uses "
                                f"sm_{gpu.sm}-only instructions{seen}", _first_release_for(rel.framework, gpu) or "",
                                "framework-ptx-jit"))
    return best.variant, findings



def plan_driver(plan: Plan) -> str:
    """The driver version a plan stands for: the pinned one, else its branch's lowest toolkit-GA driver."""
    return plan.driver_version or _branch_floor(plan.driver_branch)
