"""A starting profile from what this machine can find: ``gpumigrate init`` and the app's *New profile*.

Discovery looks at this host's GPUs (NVML, through the seam), at AWS when credentials exist (GPU
instances in the named regions, every bucket with CloudWatch's size figures) and at the data
directories the user names.  :func:`starting_profile` turns that into a valid profile with the
sizing recommendation as the target; :func:`profile_text` writes it as TOML with a comment at each
place the user still has to decide (the same list the app's "left to decide" line shows).

Nothing here waits for input: every choice a person would make has a parameter, and a choice left
open stays a comment, never a guess presented as a decision.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import EnvironmentProblem
from engine.events import Emit, Message, discard
from engine.guide import WALK, left_to_decide
from engine.inventory.aws import AwsInstance, AwsInventory, BucketListing
from engine.inventory.local import DirSize, size_dir
from engine.inventory.nvml import GpuHost, NvmlApi, read_host
from engine.inventory.sizing import SizingResult, normalize_gpu_model

STEP = "inventory"


class Discovery(BaseModel):
    """What discovery found, and what it could not look at (with the reason)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    host: GpuHost | None = None
    """This machine's GPUs (None when GPU discovery was turned off)."""
    aws_regions: list[str] = Field(default_factory=list)
    """Regions searched for GPU instances."""
    aws_problem: str | None = None
    """Why AWS was not searched (no credentials, unreachable endpoint) or None."""
    instances: list[AwsInstance] = Field(default_factory=list)
    """GPU instances found."""
    buckets: list[BucketListing] = Field(default_factory=list)
    """Buckets the credentials can see (CloudWatch figures, nothing listed)."""
    data_dirs: list[DirSize] = Field(default_factory=list)
    """The data directories named, sized."""
    sizing: SizingResult | None = None
    """The recommendation for the source found."""
    notes: list[str] = Field(default_factory=list)
    """What a person should know about this discovery."""


class InitChoices(BaseModel):
    """The choices ``gpumigrate init`` takes as flags (all optional: discovery fills in the rest)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    provider: Literal["aws", "azure", "gcp", "local", "other"] | None = None
    source_region: str | None = None
    instance_type: str | None = None
    gpu_model: str | None = None
    gpu_count: int | None = None
    hourly_usd: float | None = None
    """What the source costs an hour (needed when no catalog price applies, e.g. on premises)."""
    target_region: str = "us-central1"
    project: str | None = None
    pricing: Literal["on-demand", "spot", "cud-1y", "cud-3y"] | None = None
    destination: str | None = None
    """gs://bucket[/prefix]: each data directory and picked bucket becomes a [[transfer]] entry under it."""
    buckets: list[str] = Field(default_factory=list)
    """Buckets to copy (they become [inventory] buckets and, with a destination, [[transfer]] entries)."""


def discover(*, data_dirs: list[str] = (), regions: list[str] = (), base_dir: Path | None = None,  # type: ignore[assignment]
             scan_gpus: bool = True, scan_aws: bool = True, nvml_api: NvmlApi | None = None,
             emit: Emit = discard, cancel: threading.Event | None = None) -> Discovery:
    """Look at everything available; a part that cannot be looked at is a note, not a failure."""
    from engine.inventory import aws

    found = Discovery()
    if scan_gpus:
        found.host = read_host(nvml_api)
        if not found.host.available or found.host.reason:  # the second: NVML started but could not count GPUs
            found.notes.append(f"local GPUs: {found.host.reason}")
    for path in data_dirs:
        size = size_dir(path, base_dir, emit=emit, step=STEP, cancel=cancel)
        found.data_dirs.append(size)
        if not size.exists:
            found.notes.append(f"data directory {path}: {size.resolved} does not exist")
    if scan_aws:
        try:
            session = aws.make_session()
            found.aws_regions = list(regions) or [session.region_name or "us-east-1"]
            emit(Message(STEP, text=f"AWS: looking for GPU instances in {', '.join(found.aws_regions)}"))
            inv = aws.scan_instances(session, found.aws_regions, emit=emit, step=STEP, cancel=cancel,
                                     fallback=_catalog_lookup())
            found.instances = inv.instances
            found.notes.extend(f"AWS {where}: {why}" for where, why in inv.errors.items())
            emit(Message(STEP, text="AWS: listing the S3 buckets"))
            found.buckets = aws.discover_buckets(session, emit=emit, step=STEP, home_region=found.aws_regions[0],
                                                 cancel=cancel)
        except EnvironmentProblem as exc:
            found.aws_problem = str(exc)
            found.aws_regions = []
            emit(Message(STEP, text=f"AWS not searched: {exc}", level="warning"))
    return found


def write_starting_profile(path: Path, choices: InitChoices, *, data_dirs: list[str] = (),  # type: ignore[assignment]
                           regions: list[str] = (), scan_gpus: bool = True,  # type: ignore[assignment]
                           scan_aws: bool = True, nvml_api: NvmlApi | None = None, force: bool = False,
                           origin: str = "gpumigrate init", emit: Emit = discard,
                           cancel: threading.Event | None = None) -> Discovery:
    """Discover, build the starting profile and write it to ``path``: ``gpumigrate init`` and the app's
    *New profile* both call this, so they find and write the same things.

    Data directories are taken relative to the working directory (as typed) and written relative to
    the profile's folder.  An existing file is refused before discovery starts and, unless ``force``,
    the file is then created exclusively: one that appears while discovery runs is never overwritten
    (:class:`FileExistsError`).  Raises :class:`BadInputError` for a file that exists or a folder that
    does not, and pydantic's ``ValidationError`` when the choices do not make a valid profile.
    """
    import os

    from engine.errors import BadInputError
    from engine.profile_file import create_profile_file, write_atomic

    path = Path(path).expanduser()
    if path.exists() and not force:
        raise BadInputError(f"{path}: already exists; pass --force to overwrite it, or open it with "
                            f"`gpumigrate --profile {path}`")
    if not path.resolve().parent.is_dir():
        raise BadInputError(f"{path}: the folder {path.parent} does not exist")
    base = path.resolve().parent
    dirs = [d if os.path.isabs(d) else os.path.relpath(Path(d).expanduser().resolve(), base) for d in data_dirs]
    found = discover(data_dirs=dirs, regions=list(regions), base_dir=base, scan_gpus=scan_gpus,
                     scan_aws=scan_aws, nvml_api=nvml_api, emit=emit, cancel=cancel)
    text = _checked_text(path, starting_profile(found, choices), found, origin)
    if force:
        write_atomic(path, text)
    else:
        create_profile_file(path, text)
    return found


_UNWRITTEN = "\x00unwritten"
"""The origin the check of a not-yet-written profile runs under; its messages then name the file instead."""


def _checked_text(path: Path, profile: Any, found: Discovery, origin: str) -> str:
    """:func:`profile_text`, whose problems (a choice the catalog contradicts, a value that looks like a
    credential) name the file that was not written, not a line of a text nobody has seen."""
    import re

    from engine.profile import ProfileError

    try:
        return profile_text(profile, found, origin=origin, check_as=_UNWRITTEN)
    except ProfileError as exc:
        head = re.compile(rf"^{re.escape(_UNWRITTEN)}:\d+: ")
        raise ProfileError([head.sub(f"{path}: not written: ", p) for p in exc.problems]) from None


def _catalog_lookup() -> Any:
    from engine.inventory.scan import catalog_fallback, load_catalog_or_none

    return catalog_fallback(load_catalog_or_none())


def _source(found: Discovery, choices: InitChoices) -> dict[str, Any]:
    src: dict[str, Any] = {}
    instance = found.instances[0] if found.instances else None
    host_gpus = found.host.gpus if found.host is not None and found.host.available else []
    src["provider"] = choices.provider or ("aws" if instance or choices.instance_type else
                                           "local" if host_gpus else "other")
    region = choices.source_region or (instance.region if instance else None)
    if region:
        src["region"] = region
    itype = choices.instance_type or (instance.instance_type if instance else None)
    if itype:
        src["instance_type"] = itype
    model, count = choices.gpu_model, choices.gpu_count
    readable = found.host.first_readable() if host_gpus and found.host is not None else None
    if model is None and readable is not None and readable.name:
        gib = round(readable.memory_total_bytes / 2**30) if readable.memory_total_bytes else None
        model = normalize_gpu_model(readable.name, gib) or readable.name
        count = count or len(host_gpus)
    if model is None and instance is not None and instance.gpu is not None and instance.gpu.gpu_model:
        model = instance.gpu.gpu_model
        count = count or instance.gpu.gpu_count or None
    if model:
        src["gpu_model"] = model
    if count:
        src["gpu_count"] = count
    if choices.hourly_usd is not None:
        src["hourly_usd"] = choices.hourly_usd
    return src


def _transfers(found: Discovery, choices: InitChoices) -> list[dict[str, Any]]:
    if not choices.destination:
        return []
    dest = choices.destination.rstrip("/")
    out = []
    for d in found.data_dirs:
        if d.exists:
            out.append({"src": d.path, "dst": f"{dest}/{Path(d.resolved).name}"})
    for bucket in choices.buckets:
        out.append({"src": f"s3://{bucket}", "dst": f"{dest}/{bucket}"})
    return out


def starting_profile(found: Discovery, choices: InitChoices | None = None) -> Any:
    """A valid profile from a discovery: the source found, the recommended target, the data to move."""
    from engine.profile import Profile

    choices = choices or InitChoices()
    data: dict[str, Any] = {"name": choices.name or "migration", "source": _source(found, choices)}
    target: dict[str, Any] = {"region": choices.target_region}
    if choices.project:
        target["project"] = choices.project
    if choices.pricing:
        target["pricing"] = choices.pricing
    data["target"] = target
    inventory: dict[str, Any] = {"scan_gpus": bool(found.host is not None and found.host.available)}
    if found.aws_regions:
        inventory["aws_regions"] = found.aws_regions
    if choices.buckets:
        inventory["buckets"] = [{"bucket": b} for b in choices.buckets]
    if found.data_dirs:
        inventory["local_dirs"] = [d.path for d in found.data_dirs]
    data["inventory"] = inventory
    transfers = _transfers(found, choices)
    if transfers:
        data["transfer"] = transfers
    profile = Profile.model_validate(data)
    found.sizing = _size(profile, found)
    best = found.sizing.best if found.sizing is not None else None
    if best is not None:
        profile.target.machine_type = best.machine_type
        profile.target.gpu_model = best.catalog_gpu_model or best.gpu_model
        profile.target.gpu_count = best.gpu_count
        profile = Profile.model_validate(profile.model_dump(exclude_unset=True))
    return profile


def _size(profile: Any, found: Discovery) -> SizingResult | None:
    from engine.inventory.scan import Inventory, load_catalog_or_none, size_workload

    catalog = load_catalog_or_none()
    if catalog is None:
        found.notes.append("no catalog available: no target recommendation")
        return None
    types = {i.instance_type: i.gpu for i in found.instances if i.gpu is not None}
    inv = Inventory(host=found.host, aws=AwsInventory(instances=found.instances, instance_types=types))
    return size_workload(profile, inv, catalog)


# --- the file, with comments where a person decides -----------------------------------------


def _section_of(item: str) -> str:
    head = item.split(" ", 1)[0].split(".", 1)[0]
    return "transfer" if head.startswith(("add", "[[transfer")) else head


def profile_text(profile: Any, found: Discovery, origin: str = "gpumigrate init", check_as: str = "(new profile)") -> str:
    """The profile as TOML, a header saying what was found, and ``# decide:`` comments per section.
    ``check_as``: the name the text's own check gives it in a problem."""
    from engine.profile import dump_profile, parse_profile

    body = dump_profile(profile)
    header = [f"# Written by {origin} on {dt.date.today().isoformat()} from what this machine could find:"]
    header += [f"#   {line}" for line in describe(found)]
    header += ["# Lines starting with '# decide:' are choices gpumigrate cannot make for you (a save from the app",
               "# removes each one once it is made; your own comments stay). `gpumigrate validate` checks the file,",
               "# `gpumigrate` opens it in the app.", ""]
    decide: dict[str, list[str]] = {}
    for step in WALK:
        for item in left_to_decide(profile, step):
            decide.setdefault(_section_of(item), []).append(f"# decide: {item}")
    lines = body.splitlines()
    out: list[str] = []
    placed: set[str] = set()
    for line in lines:
        out.append(line)
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            section = stripped.strip("[]").split(".", 1)[0]
            if section in decide and section not in placed:
                out.extend(decide[section])
                placed.add(section)
    for section, comments in decide.items():
        if section in placed:
            continue
        out.append("")
        if section == "transfer":
            out.extend(comments)
            out.extend(_transfer_suggestions(found))
        else:
            out.append(f"# [{section}]")
            out.extend(comments)
    text = "\n".join(header + out).rstrip("\n") + "\n"
    parse_profile(text, check_as)  # what we write must load; a bug here must not leave a bad file
    return text


def _transfer_suggestions(found: Discovery) -> list[str]:
    lines = []
    for d in found.data_dirs:
        if d.exists:
            lines += ["# [[transfer]]", f"# src = {_toml_str(d.path)}", f"# dst = \"gs://BUCKET/{Path(d.resolved).name}\""]
    for b in found.buckets[:10]:
        lines += ["# [[transfer]]", f"# src = \"s3://{b.name}\"", f"# dst = \"gs://BUCKET/{b.name}\""]
    return lines


def _toml_str(value: str) -> str:
    import tomli_w

    return tomli_w.dumps({"k": value}).split("=", 1)[1].strip()


def _size_text(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def describe(found: Discovery) -> list[str]:
    """One line per thing found (or not), for the file header and the app."""
    out = []
    if found.host is not None:
        out.append(found.host.summary() if found.host.available else f"GPUs: {found.host.reason}")
    if found.aws_problem:
        out.append(f"AWS: not searched ({found.aws_problem.split(';')[0]})")
    elif found.aws_regions:
        out.append(f"AWS: {len(found.instances)} GPU instance(s) in {', '.join(found.aws_regions)}; "
                   f"{len(found.buckets)} bucket(s)")
        for b in found.buckets[:10]:
            figures = (f"{b.objects:,} objects, {_size_text(b.bytes)} (CloudWatch {b.metrics_at})" if b.sized
                       else b.error or "no CloudWatch figures yet")
            out.append(f"  s3://{b.name} ({b.region or '?'}, created {(b.created or '?')[:10]}): {figures}")
    for d in found.data_dirs:
        out.append(f"{d.path}: {d.files:,} files, {_size_text(d.bytes)}" if d.exists else f"{d.path}: missing")
    if found.sizing is not None and found.sizing.best is not None:
        best = found.sizing.best
        out.append(f"recommended target: {best.machine_type} ({best.gpu_count}x {best.gpu_model})")
    out.extend(n for n in found.notes if not n.startswith("local GPUs"))
    return out
