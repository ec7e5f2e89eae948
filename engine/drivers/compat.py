"""Driver / CUDA / framework compatibility: shipped facts and the answers built on them.

The facts live in ``engine/drivers/data/*.csv`` (each row keeps its ``source``,
``source_date`` and ``verified`` columns).  This module only parses them and
answers two questions:

* :func:`recommend` - given a GPU, an OS image and a framework version, which
  driver branch, CUDA and wheel variant to use, and why;
* :func:`diagnose` - given what is installed (see :mod:`engine.drivers.detect`),
  what is wrong and what to do.  :func:`explain_error` maps the classic runtime
  errors (``CUDA_ERROR_INVALID_VALUE``, device-side assert, out of memory, ...)
  to causes and fixes.

Every answer is a list of :class:`Finding` with a red/amber/green status and a
reason a person can act on.  No I/O beyond reading the package data; no printing.
"""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Literal

from engine.gpus.names import gpu_spec, match_gpu

Status = Literal["green", "amber", "red"]
STATUS_ORDER = {"green": 0, "amber": 1, "red": 2}

# --- version helpers ------------------------------------------------------------------


def vtuple(text: str | None) -> tuple[int, ...]:
    """``"535.104.05"`` -> ``(535, 104, 5)``; the leading number run of any string."""
    if not text:
        return ()
    match = re.search(r"\d+(?:\.\d+)*", str(text))
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def major_minor(text: str | None) -> tuple[int, int] | None:
    parts = vtuple(text)
    if not parts:
        return None
    return (parts[0], parts[1] if len(parts) > 1 else 0)


def mm_str(mm: tuple[int, int] | None) -> str:
    return f"{mm[0]}.{mm[1]}" if mm else "?"


def branch_of(driver: str | None) -> int | None:
    """The driver branch (``"535.104.05"`` -> 535; ``"R580"`` -> 580)."""
    parts = vtuple(driver)
    return parts[0] if parts else None


def wheel_cuda(wheel: str) -> tuple[int, int] | None:
    """``"cu126"`` -> ``(12, 6)``; ``"cu118"`` -> ``(11, 8)``."""
    match = re.fullmatch(r"cu(\d{2,3})", wheel or "")
    if not match:
        return None
    digits = match.group(1)
    return (int(digits[:-1]), int(digits[-1]))


def wheel_name(cuda: tuple[int, int]) -> str:
    return f"cu{cuda[0]}{cuda[1]}"


# --- the data -------------------------------------------------------------------------


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("engine.drivers").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@dataclass(frozen=True)
class Source:
    """Where a fact came from (shown beside every answer built on it)."""

    source: str
    source_date: str
    verified: str


def _source(row: dict[str, str]) -> Source:
    return Source(row.get("source", ""), row.get("source_date", ""), row.get("verified", ""))


@dataclass(frozen=True)
class Toolkit:
    """One CUDA toolkit release and the minimum Linux driver it needs."""

    cuda: tuple[int, int]
    release: str
    update: int
    min_driver: tuple[int, ...]
    src: Source


@dataclass(frozen=True)
class Branch:
    """A data-centre driver branch."""

    branch: int
    kind: str
    native_cuda: tuple[int, int] | None
    eol: date | None
    src: Source


@dataclass(frozen=True)
class Gpu:
    """A GPU model and its support window."""

    model: str
    aliases: tuple[tuple[str, ...], ...]
    architecture: str
    sm: int
    last_cuda: tuple[int, int] | None
    """None: still supported by the newest toolkit."""
    last_branch: int | None
    """None: still supported by the newest driver."""
    first_cuda: tuple[int, int] | None
    min_branch: int | None
    src: Source

    @property
    def family(self) -> str:
        return self.architecture.split(" (")[0]

    @property
    def open_modules(self) -> bool:
        """NVIDIA's open kernel modules support Turing (sm_75) and newer only."""
        return self.sm >= 75


@dataclass(frozen=True)
class Wheel:
    variant: str
    min_driver: tuple[int, ...]
    blackwell_min_driver: tuple[int, ...] | None
    stable: bool


@dataclass(frozen=True)
class FrameworkRelease:
    framework: str
    version: str
    wheels: tuple[Wheel, ...]
    """PyTorch: the CUDA wheel variants; TensorFlow: one pseudo-wheel for its tested CUDA."""
    cudnn: str
    notes: str
    src: Source


_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}


def _eol(text: str) -> date | None:
    match = re.search(r"EOL (\w{3})\w* (\d{4})", text)
    if not match:
        return None
    month = _MONTHS.get(match.group(1).lower())
    return date(int(match.group(2)), month, 28) if month else None


@dataclass(frozen=True)
class Tables:
    toolkits: tuple[Toolkit, ...]
    mvc_baseline: dict[int, tuple[int, ...]]
    branches: dict[int, Branch]
    gpus: tuple[Gpu, ...]
    frameworks: tuple[FrameworkRelease, ...]
    wheel_arch: dict[str, tuple[int, int, Source]]
    accelerators: dict[str, dict[str, str]]
    os_images: dict[str, dict[str, str]]
    driver_packages: tuple[dict[str, str], ...]


@lru_cache(maxsize=1)
def tables() -> Tables:
    """Parse the shipped CSVs once."""
    toolkits: list[Toolkit] = []
    branches: dict[int, Branch] = {}
    mvc: dict[int, tuple[int, ...]] = {11: (450, 80, 2), 12: (525, 60, 13), 13: (580, 65, 6)}
    for row in _rows("cuda_driver.csv"):
        key = row["cuda_major_minor"]
        if key.startswith("BRANCH"):
            notes = row["notes"]
            native = re.search(r"native CUDA (\d+\.\d+)", notes)
            number = int(key.split()[-1].lstrip("R"))
            branches[number] = Branch(
                branch=number, kind=row["release"],
                native_cuda=major_minor(native.group(1)) if native else None, eol=_eol(notes), src=_source(row))
            continue
        if key == "RULE":
            continue
        update = re.search(r"Update (\d+)", row["release"])
        toolkits.append(Toolkit(cuda=major_minor(key) or (0, 0), release=row["release"],
                                update=int(update.group(1)) if update else 0,
                                min_driver=vtuple(row["min_linux_driver_toolkit_ga"]), src=_source(row)))
    gpus: list[Gpu] = []
    for row in _rows("gpu_arch.csv"):
        model = row["gpu_model"]
        aliases = tuple(tuple(_norm_tokens(a)) for a in re.sub(r"\(.*?\)", "", model).split("/") if a.strip())
        sm_match = re.search(r"sm_(\d+)", row["sm"])
        if not sm_match:  # "sm_2x" (Fermi): too old to matter beyond a name match
            sm = 20
        else:
            sm = int(sm_match.group(1))
        last_cuda = None if row["last_cuda_toolkit"].startswith("current") else major_minor(row["last_cuda_toolkit"])
        last_branch_text = row["last_driver_branch"]
        last_branch = None if last_branch_text.startswith("current") else branch_of(last_branch_text.lstrip("R"))
        min_branch_m = re.search(r">=R(\d+)", last_branch_text)
        first_cuda = major_minor(row["first_cuda_toolkit"].lstrip("<="))
        gpus.append(Gpu(model=model, aliases=aliases, architecture=row["architecture"], sm=sm,
                        last_cuda=last_cuda, last_branch=last_branch, first_cuda=first_cuda,
                        min_branch=int(min_branch_m.group(1)) if min_branch_m else None, src=_source(row)))
    frameworks: list[FrameworkRelease] = []
    for row in _rows("torch_cuda.csv"):
        if row["framework"] == "pytorch" and re.fullmatch(r"\d+\.\d+", row["version"]):
            mins: dict[str, tuple[tuple[int, ...], tuple[int, ...] | None]] = {}
            for part in row["min_linux_driver_per_wheel (via minor-version compat)"].split(";"):
                m = re.match(r"\s*(cu\d+):>=([\d.]+)(.*)", part)
                if m:
                    bw = re.search(r"needs >=([\d.]+)", m.group(3))
                    mins[m.group(1)] = (vtuple(m.group(2)), vtuple(bw.group(1)) if bw else None)
            wheels = []
            for stable, column in ((True, "cuda_wheels_stable"), (False, "cuda_wheels_experimental")):
                for variant in filter(None, (w.strip() for w in row[column].split(";"))):
                    min_driver, bw = mins.get(variant, (mvc.get((wheel_cuda(variant) or (0, 0))[0], ()), None))
                    wheels.append(Wheel(variant, min_driver, bw, stable))
            frameworks.append(FrameworkRelease("pytorch", row["version"], tuple(wheels), row["cudnn"],
                                               row["notes"], _source(row)))
        elif row["framework"] == "tensorflow" and re.fullmatch(r"\d+\.\d+\.\d+", row["version"]):
            cuda = major_minor(row["cuda_wheels_stable"])
            if cuda:
                variant = wheel_name(cuda)
                wheels = (Wheel(variant, vtuple(row["min_linux_driver_per_wheel (via minor-version compat)"]),
                                None, True),)
                frameworks.append(FrameworkRelease("tensorflow", row["version"], wheels, row["cudnn"],
                                                   row["notes"], _source(row)))
    wheel_arch = {r["wheel"]: (int(r["min_sm"]), int(r["max_sm"]), _source(r)) for r in _rows("wheel_arch.csv")}
    accelerators = {r["gpu_model"]: r for r in _rows("gce_accelerators.csv")}
    os_images = {r["os_image"]: r for r in _rows("os_images.csv")}
    return Tables(tuple(toolkits), mvc, branches, tuple(gpus), tuple(frameworks), wheel_arch, accelerators,
                  os_images, tuple(_rows("driver_packages.csv")))


# --- lookups --------------------------------------------------------------------------

_NOISE = {"NVIDIA", "TESLA", "GEFORCE", "QUADRO", "PCIE", "SXM", "SXM2", "SXM4", "SXM5", "HBM2", "HBM2E",
          "HBM3", "HBM3E", "NVL", "GPU", "DATA", "CENTER"}


def _norm_tokens(name: str) -> list[str]:
    text = re.sub(r"[-_,()]", " ", name.upper())
    return [t for t in text.split() if t and t not in _NOISE]


def gpu_info(name: str | None) -> Gpu | None:
    """Find a GPU row from a marketing or NVML name ("Tesla V100-SXM2-16GB", "A100 80GB", "nvidia-l4").

    The name is matched by the shared matcher (:mod:`engine.gpus.names`), then mapped to this module's
    row; a GPU without a row here (RTX A6000, RTX 6000 Ada ...) is unknown rather than a wrong guess.
    """
    if not name:
        return None
    by_model = {gpu.model: gpu for gpu in tables().gpus}
    if name.strip() in by_model:
        return by_model[name.strip()]
    spec = gpu_spec(match_gpu(name))
    if spec is None or spec.drivers_row is None:
        return None
    return by_model.get(spec.drivers_row)


def toolkit_min_driver(cuda: tuple[int, int]) -> tuple[int, ...] | None:
    """The GA minimum Linux driver of a toolkit major.minor (the lowest over its update releases)."""
    found = [t.min_driver for t in tables().toolkits if t.cuda == cuda]
    return min(found) if found else None


def toolkit_patch(cuda: tuple[int, int]) -> int:
    """The newest update release of a toolkit minor (``12.6 Update 3`` -> 3)."""
    found = [t.update for t in tables().toolkits if t.cuda == cuda]
    return max(found) if found else 0


def known_toolkits() -> list[tuple[int, int]]:
    return sorted({t.cuda for t in tables().toolkits})


def max_native_cuda(driver: str | tuple[int, ...]) -> tuple[int, int] | None:
    """The newest CUDA a driver supports natively: what `nvidia-smi` prints as "CUDA Version"."""
    version = vtuple(driver) if isinstance(driver, str) else driver
    if not version:
        return None
    ok = [t.cuda for t in tables().toolkits if t.min_driver <= version]
    return max(ok) if ok else None


@dataclass(frozen=True)
class DriverVerdict:
    ok: bool
    mode: Literal["native", "minor-version", "forward-compat", "too-old"]
    reason: str


def driver_runs_cuda(driver: str, cuda: tuple[int, int]) -> DriverVerdict:
    """Can an application built with CUDA ``cuda`` run on ``driver``?"""
    version = vtuple(driver)
    need = toolkit_min_driver(cuda)
    native = max_native_cuda(version)
    if need is not None and version >= need:
        return DriverVerdict(True, "native", f"driver {driver} supports CUDA {mm_str(cuda)} natively "
                                             f"(needs >= {_v(need)})")
    baseline = tables().mvc_baseline.get(cuda[0])
    if baseline and version >= baseline and native and native[0] == cuda[0]:
        return DriverVerdict(True, "minor-version",
                             f"driver {driver} (CUDA {mm_str(native)}) runs CUDA {mm_str(cuda)} builds through "
                             f"minor-version compatibility (CUDA {cuda[0]}.x needs >= {_v(baseline)}); "
                             "PTX JIT of newer PTX and a few new APIs are not available")
    need_text = _v(need) if need else (_v(baseline) if baseline else "a newer driver")
    return DriverVerdict(False, "too-old",
                         f"driver {driver} supports CUDA up to {mm_str(native)}; CUDA {mm_str(cuda)} needs "
                         f">= {need_text}" + (f" (or >= {_v(baseline)} through minor-version compatibility)"
                                                if baseline and need and baseline < need else "")
                         + "; the cuda-compat forward-compatibility package can bridge this on data-centre "
                           "GPUs only")


def _v(version: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in version[:1]) + "".join(f".{p:02d}" if i == 2 else f".{p}"
                                                           for i, p in enumerate(version[1:], start=1))


def gpu_supports_cuda(gpu: Gpu, cuda: tuple[int, int]) -> bool:
    return gpu.last_cuda is None or cuda <= gpu.last_cuda


def gpu_supports_branch(gpu: Gpu, branch: int) -> bool:
    if gpu.last_branch is not None and branch > gpu.last_branch:
        return False
    return not (gpu.min_branch is not None and branch < gpu.min_branch)


def wheel_supports_gpu(variant: str, gpu: Gpu) -> bool:
    arch = tables().wheel_arch.get(variant)
    if arch is None:
        return True
    return arch[0] <= gpu.sm <= arch[1] or (gpu.sm > arch[1] and gpu.sm < 100 and arch[1] >= 90)


def framework_release(framework: str, version: str | None) -> FrameworkRelease | None:
    """The shipped release matching ``version`` ("2.4" or "2.4.1"); the newest when version is None."""
    releases = [f for f in tables().frameworks if f.framework == framework]
    if not releases:
        return None
    if version is None:
        return max(releases, key=lambda f: vtuple(f.version))
    want = vtuple(version)
    for rel in sorted(releases, key=lambda f: vtuple(f.version), reverse=True):
        have = vtuple(rel.version)
        if want[: len(have)] == have or have[: len(want)] == want:
            return rel
    return None


def branch_eol(branch: int) -> date | None:
    info = tables().branches.get(branch)
    return info.eol if info else None


# --- findings -------------------------------------------------------------------------


@dataclass
class Finding:
    """One component's verdict: red (broken), amber (works with a caveat), green (fine)."""

    component: str
    status: Status
    reason: str
    fix: str = ""
    code: str = ""
    """A stable identifier for tests and tools (e.g. "wheel-arch-unsupported")."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def worst(findings: Iterable[Finding]) -> Status:
    status: Status = "green"
    for f in findings:
        if STATUS_ORDER[f.status] > STATUS_ORDER[status]:
            status = f.status
    return status


# --- recommendation -------------------------------------------------------------------


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


_LTSB_DEFAULT = 580


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
    if framework in ("pytorch", "tensorflow"):
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
    if chosen_cuda is None:
        chosen_cuda = native if native and (gpu is None or gpu_supports_cuda(gpu, native)) else (
            gpu.last_cuda if gpu and gpu.last_cuda else (12, 6))
    if gpu is not None and not gpu_supports_cuda(gpu, chosen_cuda):
        findings.append(Finding("cuda", "red", f"CUDA {mm_str(chosen_cuda)} no longer supports {gpu.model} "
                                f"(sm_{gpu.sm}); its last toolkit is {mm_str(gpu.last_cuda)}",
                                f"use CUDA {mm_str(gpu.last_cuda)}", "cuda-drops-gpu"))
    verdict = driver_runs_cuda(branch_driver, chosen_cuda)
    if not verdict.ok:
        findings.append(Finding("cuda", "red", f"R{branch}: {verdict.reason}",
                                "choose a newer driver branch or an older CUDA", "driver-too-old-for-cuda"))
    elif not any(f.component == "cuda" for f in findings):
        findings.append(Finding("cuda", "green", f"CUDA {mm_str(chosen_cuda)}: {verdict.reason}", code="cuda-ok"))
    if flavour == "proprietary" and gpu is not None:
        findings.append(Finding("driver", "green", f"{gpu.family} needs the proprietary kernel modules (open modules "
                                "support Turing and newer only)", code="driver-proprietary"))
    return Plan(gpu=gpu.model if gpu else gpu_name, gpu_arch=gpu.architecture if gpu else None,
                sm=gpu.sm if gpu else None, driver_branch=branch, driver_version=pinned_version,
                driver_flavour=flavour, cuda=mm_str(chosen_cuda), cuda_patch=toolkit_patch(chosen_cuda),
                framework=framework, framework_version=fw_version, wheel=wheel, os_image=os_image,
                findings=findings)


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
    for w in candidates:
        if gpu is not None and rel.framework == "pytorch" and not wheel_supports_gpu(w.variant, gpu):
            rejected.append(f"{w.variant} leaves out sm_{gpu.sm} ({gpu.family})")
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
            findings.append(Finding("framework", "amber", f"{label} has no CUDA {mm_str(want)} build; "
                                    f"{same_major[0].variant} runs with the same major version",
                                    code="wheel-nearest"))
            usable = same_major
        elif usable:
            findings.append(Finding("framework", "red", f"no {label} build for CUDA {mm_str(want)} fits"
                                    + (": " + "; ".join(rejected) if rejected else ""),
                                    f"set drivers.cuda = \"{mm_str(wheel_cuda(usable[0].variant))}\" "
                                    f"({usable[0].variant} fits)", "wheel-none"))
            return None, findings
    native = max_native_cuda(driver) or (0, 0)
    # stable first, then builds the driver runs natively (no minor-version caveats), then the newest
    usable.sort(key=lambda w: (w.stable, (wheel_cuda(w.variant) or (0, 0)) <= native,
                               wheel_cuda(w.variant) or (0, 0)), reverse=True)
    if not usable:
        findings.append(Finding("framework", "red", f"no {label} build fits: " + "; ".join(rejected),
                                "choose another framework release or GPU", "wheel-none"))
        return None, findings
    best = usable[0]
    kind = "stable" if best.stable else "experimental"
    why = f"{label}: {best.variant} ({kind} wheel)"
    if rejected:
        why += "; not " + "; not ".join(rejected)
    findings.append(Finding("framework", "green" if best.stable else "amber", why, code="wheel-ok"))
    return best.variant, findings


# --- diagnosis of what is installed -----------------------------------------------------


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


def _min_branch_for(cuda: tuple[int, int]) -> int:
    need = toolkit_min_driver(cuda)
    return need[0] if need else _LTSB_DEFAULT


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
    elif not out:
        out.append(Finding("framework", "green", f"{label} (CUDA {built})", code="framework-ok"))
    return out


# --- runtime errors -----------------------------------------------------------------------

_ERRORS: tuple[tuple[str, str, str, str], ...] = (
    (r"no kernel image is available|CUDA_ERROR_NO_BINARY_FOR_GPU|sm_\d+ is not compatible",
     "no-kernel-image", "the framework build has no kernels for this GPU's architecture",
     "install a build that includes the GPU (for Volta/Pascal: the cu126 PyTorch wheels)"),
    (r"driver version is insufficient|NVIDIA driver on your system is too old|CUDA_ERROR_INSUFFICIENT_DRIVER",
     "driver-insufficient", "the program was built for a newer CUDA than the driver supports",
     "upgrade the driver, or install a build for the CUDA that nvidia-smi shows"),
    (r"Driver/library version mismatch", "driver-library-mismatch",
     "the kernel module and the user-space driver differ (upgrade without reboot)", "reboot"),
    (r"CUDA_ERROR_INVALID_VALUE|invalid argument",
     "invalid-value", "an API call got an argument the GPU or driver cannot accept: a launch configuration above "
     "the device limits (threads per block, shared memory), a device index that does not exist "
     "(CUDA_VISIBLE_DEVICES), or a binary built for another architecture", "check CUDA_VISIBLE_DEVICES and the "
     "launch limits; run with CUDA_LAUNCH_BLOCKING=1 to find the failing call; rebuild for this GPU's sm"),
    (r"device-side assert triggered|CUDA_ERROR_ASSERT",
     "device-side-assert", "a kernel hit an assertion, most often an index out of range (a class label >= "
     "num_classes in a loss, an embedding index >= vocabulary size); the CUDA context is unusable afterwards",
     "rerun with CUDA_LAUNCH_BLOCKING=1 (or on CPU) to get the failing line; check label and index ranges"),
    (r"out of memory|CUDA_ERROR_OUT_OF_MEMORY|OutOfMemoryError",
     "out-of-memory", "the GPU ran out of memory", "lower the batch size, use mixed precision (bf16/fp16) or "
     "gradient checkpointing, check nvidia-smi for other processes; with PyTorch set "
     "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True against fragmentation"),
    (r"CUDA_ERROR_NO_DEVICE|no CUDA-capable device", "no-device", "the process sees no GPU",
     "check CUDA_VISIBLE_DEVICES, the container's --gpus flag and that nvidia-smi works"),
    (r"CUDA_ERROR_UNSUPPORTED_PTX_VERSION|unsupported toolchain", "ptx-too-new",
     "PTX was generated by a newer toolkit than the driver can JIT (minor-version compatibility does not cover "
     "PTX JIT)", "upgrade the driver or build SASS for this GPU (-gencode arch=compute_XX,code=sm_XX)"),
)


def explain_error(text: str, state: dict[str, Any] | None = None) -> list[Finding]:
    """Causes and fixes for a runtime error message, sharpened by the detected state when given."""
    out: list[Finding] = []
    for pattern, code, cause, fix in _ERRORS:
        if not re.search(pattern, text, flags=re.I):
            continue
        reason = cause
        if state is not None and code in ("invalid-value", "no-kernel-image"):
            gpus = state.get("gpus") or []
            gpu = gpu_info(gpus[0].get("name")) if gpus else None
            for pkg in state.get("frameworks") or []:
                built = major_minor(pkg.get("cuda"))
                if gpu is not None and built and not wheel_supports_gpu(wheel_name(built), gpu):
                    reason += (f"; here: {pkg.get('name')} {pkg.get('version')} is built for CUDA {mm_str(built)}, "
                               f"which leaves out {gpu.model} (sm_{gpu.sm})")
                    fix = "install the cu126 build (pip install torch --index-url https://download.pytorch.org/whl/cu126)"
        if code == "out-of-memory" and state is not None:
            gpus = state.get("gpus") or []
            if gpus and gpus[0].get("memory_total_mib"):
                used = gpus[0].get("memory_used_mib")
                reason += f"; GPU 0 has {gpus[0]['memory_total_mib']} MiB" + (
                    f", {used} MiB in use now" if used is not None else "")
        out.append(Finding("runtime", "red", f"{text.strip()[:120]}: {reason}", fix, code))
    if not out and text.strip():
        out.append(Finding("runtime", "amber", f"{text.strip()[:120]}: not a known CUDA error pattern",
                           "run with CUDA_LAUNCH_BLOCKING=1 for the failing call", "unknown-error"))
    return out
