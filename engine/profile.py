"""The migration profile: one strict model, TOML in and out, friendly errors.

A profile is the single source of truth of a migration.  Each section's model
lives with the engine module that uses it (``engine.transfer.spec``,
``engine.drivers.section``, ...); this module composes them, loads TOML with
``tomllib`` and writes only what the user chose, so a diff of two profiles shows
choices, not defaults: a new file with ``tomli-w`` (:func:`dump_profile`), an existing
one by applying the choices onto its own text, comments kept (engine.profile_file).

Every load error becomes one :class:`ProfileError` line of the form
``path:line: dotted.field: what is wrong`` so a user can jump to it.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_origin

import tomli_w
from pydantic import Field, ValidationError, field_validator, model_validator

from engine.cost.section import (
    MAX_HOURLY_USD,
    MAX_HOURS_PER_RUN,
    MAX_RUNS_PER_MONTH,
    MAX_SPEEDUP,
    MIN_HOURS_PER_RUN,
    MIN_SPEEDUP,
    CostSection,
)
from engine.drivers.section import DriversSection
from engine.errors import BadInputError
from engine.inventory.section import InventorySection
from engine.model_base import (
    GCP_PROJECT_PATTERN,
    MACHINE_TYPE_PATTERN,
    REGION_PATTERN,
    ZONE_PATTERN,
    Section,
)
from engine.ops.section import OpsSection
from engine.profile_lines import KeyLines as _KeyLines
from engine.secrets import find_secrets, looks_like_secret_value
from engine.cutover.section import CutoverSection
from engine.transfer.spec import TransferSpec
from engine.verify.section import VerifySection

SCHEMA_VERSION = 1

GPU_MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,40}$"


class SourceSection(Section):
    """Where the workload runs today."""

    provider: Literal["aws", "azure", "gcp", "local", "other"]
    """The current provider; "other" and "local" need the hardware entered by hand."""
    region: str | None = Field(default=None, pattern=REGION_PATTERN)
    """The source region (e.g. "us-east-1")."""
    instance_type: str | None = Field(default=None, pattern=MACHINE_TYPE_PATTERN)
    """The source instance type (e.g. "p3.2xlarge")."""
    gpu_model: str | None = Field(default=None, pattern=GPU_MODEL_PATTERN)
    """GPU model (e.g. "V100"); looked up from the instance type when unset."""
    gpu_count: int | None = Field(default=None, ge=0, le=64)
    """GPUs per instance; looked up from the instance type when unset."""
    hourly_usd: float | None = Field(default=None, gt=0, le=MAX_HOURLY_USD)
    """A negotiated hourly price that overrides the catalog (at most $1,000 an instance-hour); with a reserved
    instance or savings plan, its effective hourly rate."""
    pricing: Literal["on-demand", "reserved-1y", "reserved-3y", "savings-plan-1y", "savings-plan-3y"] = "on-demand"
    """How the source is paid for: a commitment is paid for every hour of its term, used or not."""
    commitment_months_left: float | None = Field(default=None, ge=0, le=36)
    """Months left on the source's reserved instance / savings plan (still owed after a move)."""

    @model_validator(mode="after")
    def _commitment_needs_its_rate(self) -> "SourceSection":
        if self.pricing != "on-demand" and self.hourly_usd is None:
            raise ValueError(f"pricing = {self.pricing!r} needs hourly_usd: the effective hourly rate you pay")
        return self


class TargetSection(Section):
    """Where the workload will run on Google Cloud."""

    project: str | None = Field(default=None, pattern=GCP_PROJECT_PATTERN)
    """The Google Cloud project id."""
    region: str = Field(default="us-central1", pattern=REGION_PATTERN)
    """The target region."""
    zone: str | None = Field(default=None, pattern=ZONE_PATTERN)
    """The target zone (must offer the GPU; see `gpumigrate catalog show`)."""
    machine_type: str | None = Field(default=None, pattern=MACHINE_TYPE_PATTERN)
    """The Compute Engine machine type (e.g. "a2-highgpu-1g")."""
    gpu_model: str | None = Field(default=None, pattern=GPU_MODEL_PATTERN)
    """GPU model (e.g. "A100 40GB")."""
    gpu_count: int = Field(default=1, ge=1, le=16)
    """GPUs per instance. Unset: the machine type's own count (8 on a2-highgpu-8g); N1 attaches 1."""
    pricing: Literal["on-demand", "spot", "cud-1y", "cud-3y"] = "on-demand"
    """How the target is paid for."""
    hourly_usd: float | None = Field(default=None, gt=0, le=MAX_HOURLY_USD)
    """A negotiated hourly price that overrides the catalog (at most $1,000 an instance-hour)."""

    @model_validator(mode="after")
    def _zone_in_region(self) -> "TargetSection":
        if self.zone and not self.zone.startswith(self.region + "-"):
            raise ValueError(f"zone {self.zone!r} is not in region {self.region!r}")
        return self


class WorkloadSection(Section):
    """What the GPUs do; drives sizing, cost and verification."""

    kind: Literal["training", "inference"] = "training"
    """Training or inference."""
    model: str | None = Field(default=None, max_length=200)
    """The model: a known name (e.g. "Llama-2-70B", "ResNet-50"; `gpumigrate` sizes it from its real shape) or a label."""
    params_billions: float | None = Field(default=None, gt=0, le=10_000)
    """Model parameters, in billions (all experts of a mixture of experts); the known model's when unset."""
    active_params_billions: float | None = Field(default=None, gt=0, le=10_000)
    """Parameters used per token (mixture of experts)."""
    layers: int | None = Field(default=None, ge=1, le=1000)
    """Transformer layers (encoder + decoder); overrides the known model's."""
    hidden_size: int | None = Field(default=None, ge=1, le=1_000_000)
    """Model width (d_model)."""
    attention_heads: int | None = Field(default=None, ge=1, le=100_000)
    """Query attention heads."""
    kv_heads: int | None = Field(default=None, ge=1, le=100_000)
    """Key/value heads (grouped-query attention has fewer than attention_heads)."""
    head_dim: int | None = Field(default=None, ge=1, le=100_000)
    """Per-head width (hidden_size / attention_heads when unset)."""
    vocab_size: int | None = Field(default=None, ge=1, le=100_000_000)
    """Vocabulary size."""
    precision: Literal["fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4"] = "fp32"
    """Training: compute precision (fp16/bf16 = mixed precision). Inference: the weights' serving precision."""
    batch_size: int | None = Field(default=None, ge=1, le=10_000_000)
    """Per-GPU batch size (training) or concurrent sequences / images (inference)."""
    seq_len: int | None = Field(default=None, ge=1, le=100_000_000)
    """Sequence length (training) or context length, prompt + output (inference)."""
    method: Literal["full", "lora", "qlora"] = "full"
    """Training method: all weights, LoRA adapters, or LoRA on 4-bit weights (QLoRA)."""
    lora_rank: int = Field(default=16, ge=1, le=4096)
    """LoRA rank (adapters on q, k, v, o)."""
    double_quant: bool = True
    """QLoRA: the 4-bit weights' scales quantised too (bitsandbytes bnb_4bit_use_double_quant): 4.127 bits, else 4.5."""
    gradient_checkpointing: bool = False
    """Activations recomputed in the backward pass."""
    flash_attention: bool = True
    """FlashAttention / SDPA (attention scores not stored)."""
    optimizer: Literal["adam", "sgd"] | None = None
    """Adam(W) or SGD with momentum (the known model's usual one when unset)."""
    kv_cache_precision: Literal["fp16", "bf16", "fp8", "int8"] | None = None
    """KV cache precision for inference (fp16 when unset)."""
    image_size: int | None = Field(default=None, ge=8, le=16384)
    """Image side in pixels (CNN, ViT, diffusion)."""
    activation_mib_per_sample: float | None = Field(default=None, gt=0, le=10_000_000)
    """Measured activation MiB per sample (CNNs, diffusion), at image_size."""
    source_hours_per_run: float | None = Field(default=None, ge=MIN_HOURS_PER_RUN, le=MAX_HOURS_PER_RUN)
    """Measured wall-clock hours of one run on the source (from 3.6 seconds to a year)."""
    target_hours_per_run: float | None = Field(default=None, ge=MIN_HOURS_PER_RUN, le=MAX_HOURS_PER_RUN)
    """Measured or expected hours of one run on the target (from 3.6 seconds to a year)."""
    speedup: float | None = Field(default=None, ge=MIN_SPEEDUP, le=MAX_SPEEDUP)
    """Target speed relative to source (used when target hours are unknown; 0.01 to 1,000)."""
    runs_per_month: float = Field(default=1, ge=0, le=MAX_RUNS_PER_MONTH)
    """How many runs a month (0, or from 0.001 to 100,000)."""

    @field_validator("runs_per_month")
    @classmethod
    def _runs_not_vanishing(cls, value: float) -> float:
        if 0 < value < 0.001:
            raise ValueError(f"must be 0 or at least 0.001 (got {value!r})")
        return value


class Profile(Section):
    """A whole migration: the source, the target, and how to get from one to the other."""

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)
    """The profile format version (bumped when a field changes meaning)."""
    name: str | None = Field(default=None, max_length=200)
    """A label for this migration."""
    description: str | None = Field(default=None, max_length=4000)
    """Free text: why, who, when."""
    source: SourceSection
    """Where the workload runs today."""
    target: TargetSection = Field(default_factory=TargetSection)
    """Where it will run on Google Cloud."""
    workload: WorkloadSection = Field(default_factory=WorkloadSection)
    """What the GPUs do."""
    inventory: InventorySection = Field(default_factory=InventorySection)
    """What the inventory step scans."""
    cost: CostSection = Field(default_factory=CostSection)
    """Cost-model assumptions."""
    transfer: list[TransferSpec] = Field(default_factory=list)
    """Data to copy, one entry per source/destination pair."""
    drivers: DriversSection = Field(default_factory=DriversSection)
    """Driver/CUDA/framework plan for the target."""
    verify: VerifySection = Field(default_factory=VerifySection)
    """Verification checks and thresholds."""
    cutover: CutoverSection = Field(default_factory=CutoverSection)
    """The cutover runbook and which actions need two-person approval."""
    ops: OpsSection = Field(default_factory=OpsSection)
    """Day-two monitoring, budget, spot watcher and rollback."""


class ProfileError(BadInputError):
    """A profile could not be loaded; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


# --- loading ---------------------------------------------------------------


def load_profile(path: str | Path) -> Profile:
    """Read and validate a TOML profile, or raise :class:`ProfileError`."""
    path = Path(path)
    return parse_profile(read_profile_bytes(path), str(path))


MAX_PROFILE_BYTES = 8 * 1024 * 1024
"""A profile is a few kilobytes; this leaves room for thousands of [[transfer]] entries."""


def read_profile_bytes(path: Path, pipes: bool = True) -> bytes:
    """The file's bytes, or :class:`ProfileError`: a device given as the profile (``/dev/zero``) or a file of
    many megabytes is refused, where reading it whole ran out of memory (a traceback); a pipe
    (``gpumigrate validate <(...)``) is read, to at most the same size, unless ``pipes`` is False: the app
    opens a profile to edit and save it, and a named pipe nobody writes froze it for good (open() waits on
    the UI thread, then the Profile view read the pipe again for its text)."""
    import stat

    try:
        mode = path.stat().st_mode
        if stat.S_ISFIFO(mode) and not pipes:
            raise ProfileError([f"{path}: cannot read: a named pipe, not a file; the app opens a profile file "
                                "(`gpumigrate validate` reads a pipe)"])
        if stat.S_ISDIR(mode) or not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            what = "Is a directory" if stat.S_ISDIR(mode) else "not a regular file (a device or a socket)"
            raise ProfileError([f"{path}: cannot read: {what}; a profile is a TOML file"])
        with path.open("rb") as fh:
            raw = fh.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and path.is_symlink():  # "No such file" of a file `ls` lists
            raise ProfileError([f"{path}: cannot read: it is a link to {os.readlink(path)}, which is not there"]) \
                from None
        raise ProfileError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileError([f"{path}: larger than {MAX_PROFILE_BYTES // 2**20} MiB; a profile is a TOML file of a "
                            "few kilobytes (is this the right file?)"])
    return raw


def parse_profile(raw: bytes | str, origin: str = "<profile>") -> Profile:
    """Validate TOML text; ``origin`` names it in error messages."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise ProfileError([f"{origin}:{line}: not valid UTF-8 text (TOML files are UTF-8)"]) from None
    else:
        text = raw
    if text.startswith("\ufeff"):  # Notepad's "UTF-8 with BOM": tomllib's 'Invalid statement (column 1)' says nothing
        raise ProfileError([f"{origin}:1: the file starts with a byte-order mark (U+FEFF), which TOML does not allow; "
                            "save it as UTF-8 without BOM"])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError([_syntax_message(origin, exc, text)]) from None
    if not data:  # "source: required field is missing" said nothing of an empty file (a failed save, the wrong one)
        what = "the file is empty" if not text.strip() else "the file holds no settings, only comments"
        raise ProfileError([f"{origin}:1: {what}; a profile needs at least [source] with its provider "
                            "(`gpumigrate init FILE` writes a starting one)"])
    lines = _KeyLines(text)
    _refuse_secrets(data, origin, lines, text=text)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError([_located(err, origin, lines) for err in exc.errors()]) from None
    _check_against_catalog(profile, origin, lines)
    return profile


_NO_SECRETS = ("a profile never holds a secret. Credentials come from the environment: AWS through its standard "
               "chain (AWS_PROFILE, ~/.aws/credentials, instance roles), Google Cloud through Application Default "
               "Credentials (gcloud auth application-default login, GOOGLE_APPLICATION_CREDENTIALS).")


def _refuse_secrets(data: dict[str, Any], origin: str, lines: "_KeyLines | None", saving: bool = False,
                    text: str | None = None) -> None:
    """Raise :class:`ProfileError` for every field that holds or names a credential (engine.secrets).

    Loading and saving both ask: an edit made in the app (a form field, a pasted command line) never writes
    a credential into the file, where loading would refuse it, and the file is left as it was."""
    secrets = find_secrets(data)
    tail = " Nothing was saved." if saving else ""
    if secrets:
        where = (lambda path: f"{origin}:{lines.line_of(path)}") if lines is not None else (lambda path: origin)
        raise ProfileError([f"{where(path)}: {_dotted(path)}: {why}; {_NO_SECRETS}{tail}" for path, why in secrets])
    if text is not None and looks_like_secret_value(text):  # values clean: it sits in a comment (or a key's name)
        found = [(n, why) for n, line in enumerate(text.split("\n"), start=1)
                 if (why := looks_like_secret_value(line))]
        if found:
            raise ProfileError([f"{origin}:{n}: (a comment): {why}; {_NO_SECRETS} Remove it from the file; it is "
                                f"kept wherever the file is (a repository, a backup).{tail}" for n, why in found])


_NAMED_FIELD = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\b:?\s*")


def _located(err: Any, origin: str, lines: "_KeyLines") -> str:
    """``origin:line: field: why`` for one pydantic error.  A section's own check names the field it is about
    first ("verify.throughput.pattern is not a regular expression"): that field's line and name are used,
    not the section header's."""
    loc, why = tuple(err["loc"]), _friendly(err)
    named = _NAMED_FIELD.match(why) if err["type"] == "value_error" else None
    if named and named.group(1).startswith(_dotted(loc) + "."):
        field = named.group(1)
        if lines.line_of(_loc(field)) != lines.line_of(loc):  # the field is written in the file: point at it
            return f"{origin}:{lines.line_of(_loc(field))}: {field}: {why[named.end():]}"
    first = re.match(r"^([a-z_]+)\b", why) if err["type"] == "value_error" and loc else None
    if first and loc + (first.group(1),) in lines.lines:  # "zone 'x' is not in region ...": the zone's line
        return f"{origin}:{lines.lines[loc + (first.group(1),)]}: {_dotted(loc)}.{first.group(1)}: {why}"
    return f"{origin}:{lines.line_of(loc, missing=err['type'] == 'missing')}: {_dotted(loc) or '(top level)'}: {why}"


def field_problem(err: Any, at: tuple[Any, ...] = ()) -> tuple[str, str]:
    """``(field, why)`` for one pydantic error, in the words a load error uses, for a change made in the app
    (no file line yet): ``("target.zone", "zone 'x' is not in region 'y'")``, never pydantic's own text
    ("Value error, ...", "[type=..., input_value=...]").  ``at``: where the validated table sits in the
    profile.  A section's own check that names one of its fields is given that field, as at load."""
    loc, why = (*at, *err["loc"]), _friendly(err)
    if err["type"] == "value_error" and loc:
        named = _NAMED_FIELD.match(why)
        if named and named.group(1).startswith(_dotted(loc) + "."):
            return named.group(1), why[named.end():]
        first = re.match(r"^([a-z_]+)\b", why)
        given = err.get("input")
        if first and isinstance(given, dict) and first.group(1) in given:  # "zone 'x' is not in region ...": zone
            return f"{_dotted(loc)}.{first.group(1)}", why
    return _dotted(loc) or "(top level)", why


def field_problems(exc: ValidationError, at: tuple[Any, ...] = ()) -> list[str]:
    """Every error of ``exc`` as one ``field: why`` line (:func:`field_problem`)."""
    return [f"{field}: {why}" for field, why in (field_problem(err, at) for err in exc.errors())]


def _check_against_catalog(profile: Profile, origin: str, lines: "_KeyLines") -> None:
    """What the price and availability catalog contradicts: a GPU the machine type does not carry, a GPU
    count it does not have, a zone or region that does not offer the GPU (engine.catalog.check)."""
    from engine.catalog.check import profile_problems
    from engine.catalog.load import load_catalog

    problems = profile_problems(profile, load_catalog())
    if problems:
        raise ProfileError([f"{origin}:{lines.line_of(_loc(p.field))}: {p.field}: {p.message}" for p in problems])


def located_error(path: str | Path, problems: list[tuple[str, str]]) -> ProfileError:
    """``(field, why)`` problems found after loading (the cost model's price checks) as a ProfileError whose
    lines read ``file:line: field: why``, like a load error; the line is the field's, else its section's."""
    try:
        lines = _KeyLines(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return ProfileError([f"{path}: {name}: {why}" for name, why in problems])
    return ProfileError([f"{path}:{lines.line_of(_loc(name))}: {name}: {why}" for name, why in problems])


def _loc(dotted: str) -> tuple[Any, ...]:
    """``cost.options[1].gpu_count`` -> ("cost", "options", 1, "gpu_count")."""
    out: list[Any] = []
    for part in dotted.split("."):
        name, _, rest = part.partition("[")
        out.append(name)
        if rest:
            out.append(int(rest.rstrip("]")))
    return tuple(out)


def _syntax_message(origin: str, exc: tomllib.TOMLDecodeError, text: str) -> str:
    msg = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", msg)
    if match:
        reason = msg[: match.start()].strip()
        line = int(match.group(1))
        if re.match(r"Cannot (overwrite a value|declare .* twice|mutate immutable namespace)", reason):
            from engine.profile_redefined import explain_redefinition

            said = explain_redefinition(text, line)  # tomllib names no field: which one, and where it was first
            if said:
                return f"{origin}:{line}: {said}"
        if "\x00" in text.split("\n")[line - 1] if line <= len(text.split("\n")) else False:
            return f"{origin}:{line}: a NUL byte (\\x00): a profile is a text file (is this the right file?)"
        return f"{origin}:{line}: TOML syntax error: {reason} (column {match.group(2)})"
    reason = msg.replace("(at end of document)", "").strip()
    return f"{origin}:{len(text.splitlines()) or 1}: TOML syntax error: {reason} (at the end of the file)"


def _dotted(loc: tuple[Any, ...] | list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _friendly(err: dict[str, Any]) -> str:
    """Turn a pydantic error into the short phrase a user needs."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; `gpumigrate validate --fields` lists the known ones)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "?")
        return f"must be {op} {bound} (got {got!r})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '?')} (got {got!r})"
    if kind == "string_pattern_mismatch":
        return f"{got!r} is not allowed here (must match {ctx.get('pattern')})"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer (got {type(got).__name__} {got!r})"
    if kind == "finite_number":
        return f"must be a finite number (got {got!r})"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number (got {type(got).__name__} {got!r})"
    if kind in ("string_type",):
        return f"must be a string (got {type(got).__name__} {got!r})"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false (got {type(got).__name__} {got!r})"
    if kind in ("list_type",):
        return f"must be a list (got {type(got).__name__})"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a table (got {type(got).__name__})"
    if kind in ("string_too_short", "too_short"):
        return "must not be empty"
    if kind in ("string_too_long", "too_long"):
        return f"is too long (at most {ctx.get('max_length', '?')})"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"][0].lower() + err["msg"][1:]


# --- saving ----------------------------------------------------------------


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """The user's choices only (what was set, even when it equals the default), in field order."""
    data = profile.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    data = {"schema_version": profile.schema_version, **data}
    return _prune_empty(data)


def _prune_empty(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _prune_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not (isinstance(v, dict) and not v)}
    if isinstance(value, list):
        return [_prune_empty(v) for v in value]
    return value


def dump_profile(profile: Profile) -> str:
    """The profile as TOML text: ``[section]`` and ``[[transfer]]`` blocks, never inline tables."""
    return _emit_table(profile_to_dict(profile), ()).lstrip("\n")


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(part: str) -> str:
    return part if _BARE_KEY.match(part) else tomli_w.dumps({"k": part}).split("=", 1)[1].strip()


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit_table(data: dict[str, Any], path: tuple[str, ...]) -> str:
    """Scalars first, then sub-tables, then arrays of tables, each under a full header."""
    out = "".join(tomli_w.dumps({k: v}) for k, v in data.items()
                  if not isinstance(v, dict) and not _is_table_list(v))
    for k, v in data.items():
        if isinstance(v, dict):
            header = ".".join(_key(p) for p in path + (k,))
            out += f"\n[{header}]\n" + _emit_table(v, path + (k,)).lstrip("\n")
    for k, v in data.items():
        if _is_table_list(v):
            header = ".".join(_key(p) for p in path + (k,))
            for item in v:
                out += f"\n[[{header}]]\n" + _emit_table(item, path + (k,)).lstrip("\n")
    return out


def save_profile(profile: Profile, path: str | Path, **expect: Any) -> str:
    """Write ``profile`` to ``path`` atomically, keeping the file's comments and key order; returns the
    digest of what was written.

    The choices are applied onto the TOML already there (engine.profile_file): the app saves choices,
    and a person's notes and ``gpumigrate init``'s open ``# decide:`` lines stay.  ``expect=DIGEST``
    (the file as the caller read it, :func:`load_profile_with_digest`): a file changed since is not
    written (:class:`~engine.profile_file.ProfileChangedOnDisk`), so an edit made in another editor is
    never silently overwritten.
    """
    from engine.profile_file import save_onto

    _refuse_secrets(profile_to_dict(profile), str(path), None, saving=True)
    return save_onto(Path(path), profile, **expect)


def load_profile_with_digest(path: str | Path, pipes: bool = True) -> tuple[Profile, str]:
    """:func:`load_profile`, and the digest of the bytes it parsed (for a later ``save_profile(expect=)``);
    ``pipes``: see :func:`read_profile_bytes`."""
    import hashlib

    path = Path(path)
    raw = read_profile_bytes(path, pipes=pipes)
    return parse_profile(raw, str(path)), hashlib.sha256(raw).hexdigest()


def profile_file_text(profile: Profile, path: str | Path | None) -> str:
    """What :func:`save_profile` would write to ``path`` now (for the diff shown before saving)."""
    from engine.profile_file import render_onto

    try:
        old = Path(path).read_text(encoding="utf-8") if path else None
    except (OSError, UnicodeDecodeError):
        old = None
    return render_onto(old, profile)


def write_profile_text(path: Path, text: str, **expect: Any) -> str:
    """Replace a profile's text atomically (temporary file beside it, then rename); returns its digest.
    ``expect=DIGEST``: as for :func:`save_profile`, a file changed since it was read is not written."""
    from engine.profile_file import check_unchanged, text_digest, write_atomic

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        data = {"(text)": text}  # not TOML (callers parse first): still never written with a credential in it
    _refuse_secrets(data, str(path), _KeyLines(text), saving=True, text=text)
    check_unchanged(Path(path), **expect)
    write_atomic(Path(path), text)
    return text_digest(text)


def field_help(model: type[Section] = Profile, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted name, type, description) of every field, for `validate --fields` and the TUI."""
    from pydantic import BaseModel

    rows: list[tuple[str, str, str]] = []
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{name}"
        annotation = info.annotation
        inner = getattr(annotation, "__args__", None)
        sub = None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sub = annotation
        elif inner:
            sub = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is not None:  # `Model | None` is still one table; only a list of them is written [[...]]
            many = get_origin(annotation) in (list, tuple) or any(
                get_origin(a) in (list, tuple) for a in inner or ())
            rows.append((dotted, "list of tables" if many else "table", info.description or ""))
            rows.extend(field_help(sub, dotted + ("[]." if many else ".")))
        else:
            rows.append((dotted, _type_name(annotation), info.description or ""))
    return rows


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("NoneType", "none")
