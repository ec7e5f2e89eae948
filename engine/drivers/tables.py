"""The shipped facts (``data/*.csv``, each row with its source) parsed once, and lookups on them.

Every row keeps its ``source``, ``source_date`` and ``verified`` columns; the
answers built on a row (see :mod:`engine.drivers.plan`) carry them along.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources

from engine.drivers.versions import branch_of, major_minor, vtuple, wheel_cuda, wheel_name
from engine.gpus.names import gpu_spec, match_gpu

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
    python: str = ""
    """The CPython versions its wheels are built for, "3.11-3.13" ("" = not in the table)."""


_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}


def _eol(text: str) -> date | None:
    match = re.search(r"EOL (\w{3})\w* (\d{4})", text)
    if not match:
        return None
    month = _MONTHS.get(match.group(1).lower())
    return date(int(match.group(2)), month, 28) if month else None


def _sms(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(";") if p.strip())


@dataclass(frozen=True)
class BuildArch:
    """The GPU code one framework build carries: SASS (cubins) per sm, and PTX."""

    framework: str
    releases: str
    """"1.10-1.12", "2.0-" (and later), "0.7-"."""
    variant: str
    """The wheel variant ("cu117"), or "*" for every build of those releases."""
    sass: tuple[int, ...]
    ptx: tuple[int, ...]
    notes: str
    src: Source

    def covers(self, version: str | None) -> bool:
        if version is None:
            return True
        lo, _, hi = self.releases.partition("-")
        want = vtuple(version)[:2]
        if want < vtuple(lo)[:2]:
            return False
        if "-" not in self.releases:
            return want == vtuple(lo)[:2]
        return not hi or want <= vtuple(hi)[:2]

    def runs_on(self, sm: int) -> tuple[str, int | None]:
        """How the build's kernels reach a GPU of compute capability ``sm`` (CUDA binary compatibility).

        ("native", sm) SASS for it; ("binary", s) SASS for sm_s of the same major and a lower minor (a cubin
        for X.y runs on X.z with z >= y); ("ptx", p) only PTX for compute_p <= sm, compiled by the driver's JIT;
        ("none", None) nothing runs: 'no kernel image is available for execution on the device'.
        """
        if sm in self.sass:
            return "native", sm
        same_major = [s for s in self.sass if s // 10 == sm // 10 and s < sm]
        if same_major:
            return "binary", max(same_major)
        jit = [p for p in self.ptx if p <= sm]
        if jit:
            return "ptx", max(jit)
        return "none", None

    def arch_list(self) -> str:
        """As torch.cuda.get_arch_list() shows it: "sm_37 sm_50 ... compute_86"."""
        return " ".join([f"sm_{s}" for s in self.sass] + [f"compute_{p}" for p in self.ptx])


@lru_cache(maxsize=4096)
def build_arch(framework: str, version: str | None, variant: str) -> BuildArch | None:
    """The arch row for a build (the variant's own row first, then the framework's "*" row)."""
    rows = [r for r in tables().build_arch if r.framework == framework and r.covers(version)]
    exact = [r for r in rows if r.variant == variant]
    if exact:
        return exact[0]
    return next((r for r in rows if r.variant == "*"), None)


@dataclass(frozen=True)
class Tables:
    toolkits: tuple[Toolkit, ...]
    mvc_baseline: dict[int, tuple[int, ...]]
    branches: dict[int, Branch]
    gpus: tuple[Gpu, ...]
    frameworks: tuple[FrameworkRelease, ...]
    build_arch: tuple["BuildArch", ...]
    """Which SASS and PTX each framework build carries (data/build_arch.csv)."""
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
        if row["framework"] in ("pytorch", "jax") and re.fullmatch(r"\d+\.\d+", row["version"]):
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
            frameworks.append(FrameworkRelease(row["framework"], row["version"], tuple(wheels), row["cudnn"],
                                               row["notes"], _source(row), row.get("python") or ""))
        elif row["framework"] == "tensorflow" and re.fullmatch(r"\d+\.\d+\.\d+", row["version"]):
            cuda = major_minor(row["cuda_wheels_stable"])
            if cuda:
                variant = wheel_name(cuda)
                wheels = (Wheel(variant, vtuple(row["min_linux_driver_per_wheel (via minor-version compat)"]),
                                None, True),)
                frameworks.append(FrameworkRelease("tensorflow", row["version"], wheels, row["cudnn"],
                                                   row["notes"], _source(row)))
    build_arch = tuple(BuildArch(r["framework"], r["releases"], r["variant"], _sms(r["sass"]), _sms(r["ptx"]),
                                 r["notes"], _source(r)) for r in _rows("build_arch.csv"))
    accelerators = {r["gpu_model"]: r for r in _rows("gce_accelerators.csv")}
    os_images = {r["os_image"]: r for r in _rows("os_images.csv")}
    return Tables(tuple(toolkits), mvc, branches, tuple(gpus), tuple(frameworks), build_arch, accelerators,
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
    row; a GPU without a row here (a consumer RTX board) is unknown rather than a wrong guess.
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


def gpu_supports_cuda(gpu: Gpu, cuda: tuple[int, int]) -> bool:
    return gpu.last_cuda is None or cuda <= gpu.last_cuda


def gpu_supports_branch(gpu: Gpu, branch: int) -> bool:
    if gpu.last_branch is not None and branch > gpu.last_branch:
        return False
    return not (gpu.min_branch is not None and branch < gpu.min_branch)


def wheel_supports_gpu(variant: str, gpu: Gpu, framework: str = "pytorch", version: str | None = None) -> bool:
    """Does the build run on ``gpu`` at all (native SASS, same-major SASS, or PTX)? Unknown builds: yes."""
    arch = build_arch(framework, version, variant)
    return arch is None or arch.runs_on(gpu.sm)[0] != "none"


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

