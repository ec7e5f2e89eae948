"""Container images referenced by Dockerfiles, docker-compose files and Kubernetes manifests.

For each reference: where it is (file, line), what it resolves to (Dockerfile ``ARG`` defaults
substituted; multi-stage ``FROM <stage>`` recognised as a stage, not an image) and which registry it
lives in (ECR, Docker Hub, NGC, GCR, Artifact Registry, ...), so the driver-setup step can rewrite them.
YAML is read with PyYAML (multi-document files included); without it a line scan finds ``image:`` keys.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field

SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".terraform", ".tox"}
MAX_FILE_BYTES = 2 * 1024 * 1024

RegistryKind = Literal["ecr", "ecr-public", "docker-hub", "ngc", "gcr", "artifact-registry", "ghcr", "quay",
                       "acr", "local", "other"]


class ImageRef(BaseModel):
    """One image reference in one file."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    file: str
    """The file, relative to the scanned directory."""
    line: int
    """1-based line of the reference."""
    source: Literal["dockerfile", "compose", "kubernetes"]
    """What kind of file it is in."""
    written: str
    """The reference as written (may contain ${VARS})."""
    image: str
    """The reference with build arguments substituted."""
    registry: str
    """The registry host, e.g. "123456789012.dkr.ecr.us-east-1.amazonaws.com" or "docker.io"."""
    registry_kind: RegistryKind
    """The registry's kind."""
    repository: str
    """The repository path, e.g. "nvidia/cuda"."""
    tag: str | None = None
    """The tag ("latest" when neither tag nor digest is given)."""
    digest: str | None = None
    """"sha256:..." when pinned by digest."""
    region: str | None = None
    """The cloud region of a regional registry (ECR, Artifact Registry)."""
    context: str | None = None
    """The stage name (Dockerfile), service (compose) or kind/name/container (Kubernetes)."""
    unresolved: list[str] = Field(default_factory=list)
    """Variables that had no value, left as written."""


class ImageScan(BaseModel):
    """All references found under one directory."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    root: str
    """The scanned directory."""
    files_scanned: int = 0
    """Files that were read."""
    images: list[ImageRef] = Field(default_factory=list)
    """Every reference, by file and line."""
    problems: list[str] = Field(default_factory=list)
    """Files that could not be parsed."""
    yaml_parser: bool = True
    """False when PyYAML was missing and a line scan was used."""
    found: bool = True
    """False when ``root`` is not a folder here: "0 image references" then says nothing about the images."""

    def registries(self) -> dict[str, int]:
        """Registry host -> number of references."""
        out: dict[str, int] = {}
        for ref in self.images:
            out[ref.registry] = out.get(ref.registry, 0) + 1
        return out


# --- references -------------------------------------------------------------------------------

_ECR = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
_AR = re.compile(r"^([a-z0-9-]+)-docker\.pkg\.dev$")


def registry_kind(host: str) -> tuple[RegistryKind, str | None]:
    """The kind of a registry host, and its region when it has one."""
    if m := _ECR.match(host):
        return "ecr", m.group(2)
    if host == "public.ecr.aws":
        return "ecr-public", None
    if host in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        return "docker-hub", None
    if host == "nvcr.io":
        return "ngc", None
    if host == "gcr.io" or host.endswith(".gcr.io"):
        return "gcr", None
    if m := _AR.match(host):
        return "artifact-registry", m.group(1)
    if host == "ghcr.io":
        return "ghcr", None
    if host == "quay.io":
        return "quay", None
    if host.endswith(".azurecr.io"):
        return "acr", None
    if host.startswith(("localhost", "127.0.0.1")):
        return "local", None
    return "other", None


def parse_reference(ref: str) -> tuple[str, str, str | None, str | None]:
    """(registry, repository, tag, digest) the way Docker reads a reference."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", ref
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if tag is None and digest is None:
        tag = "latest"
    return registry, path, tag, digest


# The reference grammar Docker and every registry client use (distribution/reference: reference.go).
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?/)?{_PATH_PART}(?:/{_PATH_PART})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$")


def reference_problem(ref: str) -> str | None:
    """Why ``ref`` is not an image reference Docker would pull (None: it is one).  Such a line was listed as a
    Docker Hub image ("ubuntu:22.04:extra" as library/ubuntu:22.04, tag "extra"), which no registry has."""
    match = _REFERENCE.match(ref)
    if match is None:
        if any(c.isspace() for c in ref):
            return "it contains a space"
        if ref != ref.lower() and _REFERENCE.match(ref.lower()):
            return "repository names are lowercase"
        if "@" in ref:
            return "a digest is ALGORITHM:HEX, a sha256 one 64 hex digits"
        return "not [REGISTRY/]REPOSITORY[:TAG][@DIGEST]"
    if len(match["name"]) > 255:
        return "the name is longer than 255 characters"
    digest = match["digest"]
    if digest and digest.startswith("sha256:") and len(digest) != len("sha256:") + 64:
        return "a sha256 digest has 64 hex digits"
    return None


def _make_ref(file: str, line: int, source: str, written: str, image: str, context: str | None,
              unresolved: list[str]) -> ImageRef:
    registry, repo, tag, digest = parse_reference(image)
    kind, region = registry_kind(registry)
    return ImageRef(file=file, line=line, source=source, written=written, image=image,  # type: ignore[arg-type]
                    registry=registry, registry_kind=kind, repository=repo, tag=tag, digest=digest,
                    region=region, context=context, unresolved=unresolved)


# --- Dockerfiles --------------------------------------------------------------------------------

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def substitute(text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """Docker-style ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:+alt}``; unknown ones stay."""
    missing: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3)
        value = values.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return word or ""
            return value
        if op in (":+", "+"):
            return (word or "") if value not in (None, "") or (op == "+" and value is not None) else ""
        if value is None:
            missing.append(name)
            return m.group(0)
        return value

    return _VAR.sub(repl, text), missing


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join backslash continuations; skip comments and blank lines; yield (first line number, text)."""
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if not buf:
            start = number
        if stripped.endswith("\\"):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        yield start, " ".join(b.strip() for b in buf if b.strip())
        buf = []
    if buf:
        yield start, " ".join(buf)


def _parse_args(rest: str) -> list[tuple[str, str | None]]:
    out = []
    for part in re.findall(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+""", rest):
        name, eq, value = part.partition("=")
        out.append((name, value.strip("\"'") if eq else None))
    return out


def parse_dockerfile(text: str, file: str, build_args: dict[str, str] | None = None) -> list[ImageRef]:
    """Every base image (FROM) and external ``COPY --from`` image of a Dockerfile."""
    build_args = build_args or {}
    global_args: dict[str, str] = {}
    stages: list[str] = []
    refs: list[ImageRef] = []
    in_stage = False
    stage_args: dict[str, str] = {}
    for line, text_line in _logical_lines(text):
        instr, _, rest = text_line.partition(" ")
        instr = instr.upper()
        rest = rest.strip()
        if instr == "ARG":
            for name, default in _parse_args(rest):
                value = build_args.get(name, default)
                target = stage_args if in_stage else global_args
                if value is not None:
                    value, _missing = substitute(value, {**global_args, **stage_args})
                    target[name] = value
                elif not in_stage and name in build_args:
                    global_args[name] = build_args[name]
                elif in_stage and name in global_args:  # re-declared inside a stage: inherits the global value
                    stage_args[name] = global_args[name]
        elif instr == "FROM":
            in_stage = True
            stage_args = {}
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                continue
            written = words[0]
            stage = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            image, missing = substitute(written, global_args)
            if image.lower() in (s.lower() for s in stages) or image == "scratch":
                if stage:
                    stages.append(stage)
                continue  # builds on an earlier stage, not an image
            refs.append(_make_ref(file, line, "dockerfile", written, image, stage, missing))
            if stage:
                stages.append(stage)
        elif instr in ("COPY", "ADD", "RUN"):
            for m in re.finditer(r"--from=(\S+)", rest):
                written = m.group(1)
                image, missing = substitute(written, {**global_args, **stage_args})
                if image.isdigit() or image.lower() in (s.lower() for s in stages):
                    continue
                refs.append(_make_ref(file, line, "dockerfile", written, image, f"{instr} --from", missing))
    return refs


# --- YAML --------------------------------------------------------------------------------------


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        return None
    return yaml


def _line_of(text: str, value: str, after: int = 0) -> int:
    lines = text.splitlines()
    for number in range(after, len(lines)):
        if "image" in lines[number] and value in lines[number]:
            return number + 1
    for number, line in enumerate(lines, start=1):
        if value in line:
            return number
    return 1


def _k8s_containers(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers", "ephemeralContainers") and isinstance(value, list):
                for c in value:
                    if isinstance(c, dict) and isinstance(c.get("image"), str):
                        yield c["image"], f"{path}/{c.get('name', '?')}"
            else:
                yield from _k8s_containers(value, path)
    elif isinstance(node, list):
        for item in node:
            yield from _k8s_containers(item, path)


def parse_yaml_file(text: str, file: str, env: dict[str, str] | None = None) -> tuple[list[ImageRef], str | None]:
    """Images in a compose file or (multi-document) Kubernetes manifest; (refs, problem)."""
    yaml = _yaml()
    env = env or {}
    if yaml is None:
        return _scan_image_lines(text, file), None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        return [], f"{file}: not valid YAML ({str(exc).splitlines()[0]})"
    refs: list[ImageRef] = []
    last_line = 0
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if isinstance(doc.get("services"), dict) and "kind" not in doc:  # docker-compose
            for service, spec in doc["services"].items():
                if isinstance(spec, dict) and isinstance(spec.get("image"), str):
                    image, missing = substitute(spec["image"], env)
                    last_line = _line_of(text, spec["image"], last_line)
                    refs.append(_make_ref(file, last_line, "compose", spec["image"], image, str(service), missing))
        elif "kind" in doc or "apiVersion" in doc:  # Kubernetes
            name = (doc.get("metadata") or {}).get("name", "?") if isinstance(doc.get("metadata"), dict) else "?"
            for written, where in _k8s_containers(doc.get("spec"), f"{doc.get('kind', '?')}/{name}"):
                last_line = _line_of(text, written, last_line)
                refs.append(_make_ref(file, last_line, "kubernetes", written, written, where, []))
    return refs, None


_IMAGE_LINE = re.compile(r"""^\s*(?:-\s*)?image:\s*["']?([^"'\s#]+)""")


def _scan_image_lines(text: str, file: str) -> list[ImageRef]:
    source = "compose" if "services:" in text else "kubernetes"
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if m := _IMAGE_LINE.match(line):
            out.append(_make_ref(file, number, source, m.group(1), m.group(1), None, []))
    return out


# --- the scan -----------------------------------------------------------------------------------


def classify(name: str) -> Literal["dockerfile", "yaml"] | None:
    lower = name.lower()
    if lower in ("dockerfile", "containerfile") or lower.startswith(("dockerfile.", "containerfile.")) \
            or lower.endswith((".dockerfile", ".containerfile")):
        return "dockerfile"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    return None


def scan_images(directory: str | Path, *, build_args: dict[str, str] | None = None) -> ImageScan:
    """Walk ``directory`` for Dockerfiles, compose files and Kubernetes manifests."""
    root = Path(directory)
    scan = ImageScan(root=str(root), yaml_parser=_yaml() is not None)
    if not root.is_dir():
        scan.problems.append(f"{root}: not a directory")
        scan.found = False
        return scan
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            kind = classify(name)
            if kind is None:
                continue
            path = Path(current) / name
            rel = path.relative_to(root).as_posix()
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    scan.problems.append(f"{rel}: larger than {MAX_FILE_BYTES} bytes; skipped")
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                scan.problems.append(f"{rel}: {exc.strerror or exc}")
                continue
            scan.files_scanned += 1
            if kind == "dockerfile":
                refs = parse_dockerfile(text, rel, build_args)
            else:
                refs, problem = parse_yaml_file(text, rel)
                if problem:
                    scan.problems.append(problem)
            for ref in refs:
                why = None if ref.unresolved else reference_problem(ref.image)
                if why is None:
                    scan.images.append(ref)
                else:  # said, not listed as an image some registry holds
                    scan.problems.append(f"{ref.file}:{ref.line}: {ref.written!r} is not a valid image reference "
                                         f"({why}); not listed")
    return scan
