"""What is installed on this machine: driver, CUDA, kernel module, container toolkit, frameworks.

Every probe tolerates absence (a missing tool is reported, not raised), needs no
root, and runs with a timeout.  Probes read through two injectable seams so the
same code runs against recorded outputs from real machines:

* a :class:`Runner` runs a command by *key* (``"nvidia-smi"``, ``"nvcc"`` ...):
  :class:`SubprocessRunner` for real, :class:`RecordedRunner` for a folder of
  recorded outputs (``cmd/<key>.out``, optional ``.err``/``.rc``/``.timeout``);
* a filesystem ``root`` (``/`` for real) under which ``proc/driver/nvidia/version``,
  ``proc/modules``, ``etc/os-release`` and ``usr/local/cuda-*`` are read.

NVML goes through the inventory engineer's seam ``engine.inventory.nvml.read_host()``;
a recorded folder provides ``nvml.json`` instead.  :class:`RecordingRunner` and
:func:`record` write a machine's outputs in the same layout, so a user can send
what their machine says and the doctor can diagnose it anywhere
(``gpumigrate drivers doctor --from DIR``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

DEFAULT_TIMEOUT_S = 10.0

NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=index,name,driver_version,memory.total,memory.used",
                    "--format=csv,noheader,nounits"]

FRAMEWORK_SCRIPT = r"""
import importlib.metadata as m, json, re
out = []
for name in ("torch", "tensorflow", "jax", "jaxlib"):
    try:
        d = m.distribution(name)
    except m.PackageNotFoundError:
        continue
    cuda = None
    rel = {"torch": "torch/version.py", "tensorflow": "tensorflow/python/platform/build_info.py"}.get(name)
    if rel:
        try:
            text = open(d.locate_file(rel), encoding="utf-8").read()
            pat = r"^cuda\s*(?::[^=]*)?=\s*['\"]([\d.]+)['\"]" if name == "torch" else r"'cuda_version':\s*'([\d.]+)'"
            hit = re.search(pat, text, re.M)
            cuda = hit.group(1) if hit else None
        except OSError:
            pass
    if name == "jaxlib" or name == "jax":
        for req in d.requires or []:
            hit = re.match(r"jax-cuda(\d+)-plugin", req)
            if hit:
                cuda = cuda or hit.group(1)
    out.append({"name": name, "version": d.version, "cuda": cuda, "location": str(d.locate_file(""))})
print(json.dumps(out))
"""

# (key, argv) of every command the doctor runs; keys name the recorded files.
COMMANDS: dict[str, list[str]] = {
    "nvidia-smi": ["nvidia-smi"],
    "nvidia-smi-query": NVIDIA_SMI_QUERY,
    "nvcc": ["nvcc", "--version"],
    "lsmod": ["lsmod"],
    "docker-info": ["docker", "info"],
    "nvidia-ctk": ["nvidia-ctk", "--version"],
    "nvidia-container-runtime": ["nvidia-container-runtime", "--version"],
    "python-frameworks": ["python3", "-c", FRAMEWORK_SCRIPT],
}


@dataclass
class CommandResult:
    """What one command did. ``missing``: not installed; ``timed_out``: killed after the timeout."""

    key: str
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    missing: bool = False
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.missing and not self.timed_out


class Runner(Protocol):
    def run(self, key: str, argv: list[str], timeout: float) -> CommandResult: ...


class SubprocessRunner:
    """Runs real commands: no shell, no stdin, C locale, a timeout on each."""

    def run(self, key: str, argv: list[str], timeout: float) -> CommandResult:
        exe = shutil.which(argv[0])
        if exe is None:
            return CommandResult(key, missing=True)
        env = dict(os.environ, LC_ALL="C", LANG="C")
        try:
            done = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, env=env, errors="replace")
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return CommandResult(key, stdout=out, timed_out=True)
        except OSError as exc:
            return CommandResult(key, rc=None, stderr=str(exc), missing=True)
        return CommandResult(key, rc=done.returncode, stdout=done.stdout, stderr=done.stderr)


class RecordedRunner:
    """Answers from a folder of recorded outputs: ``cmd/<key>.out`` (+ ``.err``, ``.rc``, ``.timeout``)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder) / "cmd"

    def run(self, key: str, argv: list[str], timeout: float) -> CommandResult:
        base = self.folder / key
        if (self.folder / f"{key}.timeout").exists():
            return CommandResult(key, timed_out=True)
        out, err, rc = (Path(f"{base}.out"), Path(f"{base}.err"), Path(f"{base}.rc"))
        if not out.exists() and not err.exists():
            return CommandResult(key, missing=True)
        return CommandResult(key, rc=int(rc.read_text().strip()) if rc.exists() else 0,
                             stdout=out.read_text(encoding="utf-8") if out.exists() else "",
                             stderr=err.read_text(encoding="utf-8") if err.exists() else "")


class RecordingRunner:
    """Wraps a runner and writes what it answers in :class:`RecordedRunner`'s layout."""

    def __init__(self, inner: Runner, folder: str | Path):
        self.inner = inner
        self.folder = Path(folder) / "cmd"
        self.folder.mkdir(parents=True, exist_ok=True)

    def run(self, key: str, argv: list[str], timeout: float) -> CommandResult:
        result = self.inner.run(key, argv, timeout)
        if result.missing:
            return result
        if result.timed_out:
            (self.folder / f"{key}.timeout").write_text("")
            return result
        (self.folder / f"{key}.out").write_text(result.stdout, encoding="utf-8")
        if result.stderr:
            (self.folder / f"{key}.err").write_text(result.stderr, encoding="utf-8")
        (self.folder / f"{key}.rc").write_text(f"{result.rc}\n")
        return result


# --- parsers (pure; tested against recorded outputs) ----------------------------------------


def parse_nvidia_smi(text: str) -> dict[str, Any]:
    """Driver and CUDA version from the ``nvidia-smi`` banner."""
    out: dict[str, Any] = {}
    driver = re.search(r"Driver Version:\s*([\d.]+)", text)
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", text)
    smi = re.search(r"NVIDIA-SMI\s+([\d.]+)", text)
    if driver:
        out["driver_version"] = driver.group(1)
    if cuda:
        out["cuda_version"] = cuda.group(1)
    if smi:
        out["smi_version"] = smi.group(1)
    return out


def parse_nvidia_smi_query(text: str) -> list[dict[str, Any]]:
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 5 or not parts[0].isdigit():
            continue
        gpus.append({"index": int(parts[0]), "name": parts[1], "driver_version": parts[2],
                     "memory_total_mib": _int(parts[3]), "memory_used_mib": _int(parts[4])})
    return gpus


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def parse_nvcc(text: str) -> str | None:
    """``Cuda compilation tools, release 12.2, V12.2.140`` -> ``"12.2.140"`` (or ``"12.2"``)."""
    full = re.search(r"release [\d.]+, V([\d.]+)", text)
    if full:
        return full.group(1)
    short = re.search(r"release ([\d.]+)", text)
    return short.group(1) if short else None


def parse_proc_version(text: str) -> dict[str, Any]:
    """``/proc/driver/nvidia/version``: the loaded kernel module's version and flavour."""
    match = re.search(r"Kernel Module(?: for \S+)?\s+([\d.]+)", text)
    return {"version": match.group(1) if match else None, "open": "Open Kernel Module" in text}


def parse_modules(text: str) -> list[str]:
    """Module names from ``lsmod`` or ``/proc/modules``."""
    names = []
    for line in text.splitlines():
        first = line.split(maxsplit=1)[0] if line.strip() else ""
        if first and first != "Module":
            names.append(first)
    return names


def parse_os_release(text: str) -> dict[str, str]:
    data: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            data[key.strip().lower()] = value.strip().strip('"').strip("'")
    return {k: data[k] for k in ("id", "version_id", "pretty_name", "version_codename") if k in data}


def parse_docker_info(text: str, stderr: str = "", rc: int | None = 0) -> dict[str, Any]:
    runtimes = re.search(r"^\s*Runtimes:\s*(.+)$", text, re.M)
    default = re.search(r"^\s*Default Runtime:\s*(\S+)", text, re.M)
    error = re.search(r"(Cannot connect to the Docker daemon[^\n]*|permission denied[^\n]*)", text + "\n" + stderr)
    server = bool(re.search(r"^\s*Server Version:", text, re.M))
    return {"present": True, "daemon": server and not error, "runtimes": runtimes.group(1).split() if runtimes else [],
            "default_runtime": default.group(1) if default else None,
            "error": error.group(1).strip() if error else ("" if server or rc == 0 else stderr.strip()[:200])}


def parse_tool_version(text: str) -> str | None:
    match = re.search(r"version\s+v?([\d.]+)", text)
    return match.group(1) if match else None


def _cuda_from_nvml(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int):  # nvmlSystemGetCudaDriverVersion: 12020 -> "12.2"
        return f"{value // 1000}.{(value % 1000) // 10}"
    return str(value)


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump()  # type: ignore[no-any-return]
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def default_nvml() -> dict[str, Any]:
    """NVML through the inventory seam; absent seam or library reported, never raised."""
    try:
        from engine.inventory.nvml import read_host  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        return {"available": False, "reason": f"NVML seam not available ({exc.name or exc})"}
    try:
        return _as_dict(read_host())
    except Exception as exc:  # noqa: BLE001 - a probe never takes the doctor down
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}


# --- the probe ----------------------------------------------------------------------------


def detect(runner: Runner | None = None, root: str | Path = "/", nvml: Callable[[], Any] | None = None,
           timeout: float = DEFAULT_TIMEOUT_S, pythons: list[str] | None = None) -> dict[str, Any]:
    """Probe this machine (or a recorded one) and return a JSON-able description."""
    runner = runner or SubprocessRunner()
    root = Path(root)
    probes: list[dict[str, str]] = []

    def note(name: str, status: str, detail: str = "") -> None:
        probes.append({"name": name, "status": status, "detail": detail})

    def run(key: str, argv: list[str] | None = None) -> CommandResult:
        result = runner.run(key, argv or COMMANDS[key], timeout)
        if result.missing:
            note(key, "absent", f"{(argv or COMMANDS[key])[0]} not found")
        elif result.timed_out:
            note(key, "timeout", f"no answer within {timeout:g}s")
        elif result.rc != 0:
            note(key, "failed", (result.stderr or result.stdout).strip().splitlines()[-1:][0][:200]
                 if (result.stderr or result.stdout).strip() else f"exit {result.rc}")
        else:
            note(key, "ok")
        return result

    def read(rel: str) -> str | None:
        path = root / rel
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            note(rel, "absent", f"/{rel} not readable")
            return None
        note(rel, "ok")
        return text

    state: dict[str, Any] = {"probes": probes}

    # NVML (the inventory seam) first: it is the authority for the driver version
    nvml_raw = _as_dict((nvml or default_nvml)())
    nvml_state = {"available": bool(nvml_raw.get("available")), "reason": nvml_raw.get("reason") or "",
                  "driver_version": nvml_raw.get("driver_version"),
                  "cuda_driver_version": _cuda_from_nvml(nvml_raw.get("cuda_driver_version"))}
    note("nvml", "ok" if nvml_state["available"] else "absent", nvml_state["reason"])
    state["nvml"] = nvml_state
    gpus = []
    for i, g in enumerate(nvml_raw.get("gpus") or []):
        g = _as_dict(g)
        mem_total = g.get("memory_total_mib") or (g.get("memory_total_bytes") or g.get("mem_total") or 0) // 2**20
        mem_used = g.get("memory_used_mib")
        if mem_used is None and g.get("memory_used_bytes") is not None:
            mem_used = g["memory_used_bytes"] // 2**20
        gpus.append({"index": g.get("index", i), "name": g.get("name"),
                     "memory_total_mib": mem_total or None, "memory_used_mib": mem_used})

    # nvidia-smi
    smi = run("nvidia-smi")
    smi_state: dict[str, Any] = {"present": not smi.missing}
    if smi.ok:
        smi_state.update(parse_nvidia_smi(smi.stdout))
        query = run("nvidia-smi-query")
        if query.ok and not gpus:
            gpus = parse_nvidia_smi_query(query.stdout)
    elif not smi.missing:
        text = (smi.stdout + "\n" + smi.stderr).strip()
        smi_state["error"] = "timed out" if smi.timed_out else (text.splitlines()[0] if text else f"exit {smi.rc}")
        lib = re.search(r"NVML library version:\s*([\d.]+)", text)
        if lib:
            smi_state["library_version"] = lib.group(1)
    state["nvidia_smi"] = smi_state
    state["gpus"] = gpus

    # kernel module
    module: dict[str, Any] = {"version": None, "open": False}
    proc = read("proc/driver/nvidia/version")
    if proc is not None:
        module.update(parse_proc_version(proc))
    modules_text = read("proc/modules")
    if modules_text is None:
        lsmod = run("lsmod")
        modules_text = lsmod.stdout if lsmod.ok else ""
    loaded = parse_modules(modules_text)
    module["loaded"] = [m for m in loaded if m.startswith("nvidia") or m == "nouveau"]
    module["nouveau_loaded"] = "nouveau" in loaded
    state["kernel_module"] = module
    state["pci_nvidia"] = pci_nvidia(root)
    state["pci_read"] = (Path(root) / PCI_DEVICES).is_dir()  # an empty list above proves nothing without it

    # CUDA toolkits
    nvcc = run("nvcc")
    state["nvcc"] = {"version": parse_nvcc(nvcc.stdout) if nvcc.ok else None}
    toolkits = []
    for folder in sorted((root / "usr/local").glob("cuda-*")) if (root / "usr/local").is_dir() else []:
        version = None
        try:
            version = json.loads((folder / "version.json").read_text())["cuda"]["version"]
        except (OSError, ValueError, KeyError, TypeError):
            try:
                version = parse_tool_version((folder / "version.txt").read_text().replace("CUDA Version", "version"))
            except OSError:
                version = folder.name.removeprefix("cuda-")
        toolkits.append({"path": "/" + str(folder.relative_to(root)), "version": version})
    state["toolkits"] = toolkits

    # container toolkit and Docker
    ctk = run("nvidia-ctk")
    ncr = run("nvidia-container-runtime")
    state["container_toolkit"] = {"nvidia_ctk": parse_tool_version(ctk.stdout) if ctk.ok else None,
                                  "runtime": parse_tool_version(ncr.stdout) if ncr.ok else None}
    docker = run("docker-info")
    state["docker"] = ({"present": False} if docker.missing else
                       {"present": True, "daemon": None, "runtimes": [], "error": "docker info timed out"}
                       if docker.timed_out else parse_docker_info(docker.stdout, docker.stderr, docker.rc))

    # OS
    os_text = read("etc/os-release")
    state["os"] = parse_os_release(os_text) if os_text else {}

    # frameworks, per interpreter
    frameworks: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for i, python in enumerate(pythons if pythons is not None else _default_pythons()):
        key = "python-frameworks" if i == 0 else f"python-frameworks-{i}"
        result = run(key, [python, "-c", FRAMEWORK_SCRIPT])
        if not result.ok:
            continue
        try:
            found = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            continue
        for pkg in found:
            ident = (pkg.get("name", ""), pkg.get("version", ""), pkg.get("location", ""))
            if ident not in seen:
                seen.add(ident)
                frameworks.append(pkg)
    state["frameworks"] = frameworks
    return state


PCI_DEVICES = "sys/bus/pci/devices"
NVIDIA_VENDOR = "0x10de"


def pci_nvidia(root: Path) -> list[dict[str, str]]:
    """NVIDIA display/3D controllers on the PCI bus, read from sysfs: they are listed with no driver loaded.

    The doctor's only way to tell "no GPU in this machine" from "a GPU whose driver is missing" (NVML and
    nvidia-smi both need the driver).  Class 0x03xxxx is a display controller (0x0302 = 3D, the data-centre GPUs).
    """
    folder = root / PCI_DEVICES
    found: list[dict[str, str]] = []
    try:
        devices = sorted(folder.iterdir())
    except OSError:
        return found
    for dev in devices:
        try:
            vendor = (dev / "vendor").read_text().strip().lower()
            klass = (dev / "class").read_text().strip().lower()
        except OSError:
            continue
        if vendor == NVIDIA_VENDOR and klass.startswith("0x03"):
            try:
                device = (dev / "device").read_text().strip().lower()
            except OSError:
                device = "?"
            found.append({"address": dev.name, "device": device, "class": klass})
    return found


def _default_pythons() -> list[str]:
    out = []
    on_path = shutil.which("python3")
    if on_path:
        out.append(on_path)
    if sys.executable and sys.executable not in out:
        out.append(sys.executable)
    return out


def detect_recorded(folder: str | Path, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Probe a recorded machine: ``cmd/``, ``root/`` and ``nvml.json`` in ``folder``."""
    folder = Path(folder)
    nvml_file = folder / "nvml.json"

    def nvml() -> dict[str, Any]:
        if nvml_file.exists():
            return json.loads(nvml_file.read_text())  # type: ignore[no-any-return]
        return {"available": False, "reason": "NVML not recorded"}

    return detect(RecordedRunner(folder), root=folder / "root", nvml=nvml, timeout=timeout, pythons=["python3"])


RECORDED_FILES = ("proc/driver/nvidia/version", "proc/modules", "etc/os-release")


def _record_pci(folder: Path) -> None:
    """Copy vendor/class/device of every PCI device (small text files) for :func:`pci_nvidia`."""
    src = Path("/") / PCI_DEVICES
    try:
        devices = list(src.iterdir())
    except OSError:
        return
    for dev in devices:
        for name in ("vendor", "class", "device"):
            try:
                text = (dev / name).read_text()
            except OSError:
                continue
            dest = folder / "root" / PCI_DEVICES / dev.name / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)


def record(folder: str | Path, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Probe this machine and save every answer under ``folder`` for :func:`detect_recorded`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nvml_raw = default_nvml()
    (folder / "nvml.json").write_text(json.dumps(nvml_raw, default=str, indent=2))
    for rel in RECORDED_FILES:
        src = Path("/") / rel
        try:
            text = src.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        dest = folder / "root" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
    _record_pci(folder)
    return detect(RecordingRunner(SubprocessRunner(), folder), nvml=lambda: nvml_raw, timeout=timeout,
                  pythons=_default_pythons()[:1])
