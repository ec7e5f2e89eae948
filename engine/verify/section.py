"""The ``[verify]`` profile section: which checks run, with which thresholds.

Every check has its own sub-table (``[verify.model_load]``, ``[verify.latency]``
...).  A check that cannot run is reported as *not run* with the reason, never
silently passed; when the profile expects it (see :mod:`engine.verify.expect`)
the verdict is INCOMPLETE unless its sub-table says ``optional = true``.  Commands are argument lists (never a shell
line); two placeholders are expanded: ``{python}`` (the interpreter running
gpumigrate) and ``{profile_dir}`` (the profile's folder, also the working
directory).
"""

from __future__ import annotations

from typing import Literal

import re

from pydantic import Field, field_validator

from engine.model_base import Section

CHECK_NAMES: tuple[str, ...] = (
    "gpu_health", "topology", "data_integrity", "model_load", "latency", "convergence", "throughput",
)
"""Every check, in the order they run."""

SETTINGS_FIELD: dict[str, str] = {
    "gpu_health": "gpu", "topology": "topology", "data_integrity": "data_integrity", "model_load": "model_load",
    "latency": "latency", "convergence": "convergence", "throughput": "throughput",
}
"""Each check's sub-table of ``[verify]`` (``[verify.gpu]`` holds gpu_health's settings)."""

_LINK_NAME = re.compile(r"^[^\s,;\x00-\x1f]{1,16}$")
"""One cell of `nvidia-smi topo -m` ("X", "NV12", "PIX", "NV?") or "*": no spaces, commas or semicolons."""

# Printable ASCII only: no control characters, no newlines, nothing a terminal
# or an argument list could misread.  Commands never go through a shell.
ARG_PATTERN = r"^[\x20-\x7E]{0,1000}$"
PATH_PATTERN = r"^[A-Za-z0-9_./{}~+-][A-Za-z0-9 _./{}~+=,@-]{0,500}$"
URL_PATTERN = r"^https?://[A-Za-z0-9.\[\]:_-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"

Argv = list[str]


class GpuHealthSettings(Section):
    """What healthy GPUs look like on the target (read through NVML)."""

    optional: bool = False
    """Shown as optional: when it cannot run, the verdict can still be PASS (default: expected when configured)."""

    expected_model: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,60}$")
    """The GPU every GPU must be, by the shared name matcher (e.g. "A100" for any A100, "A100 80GB" for that one;
    "L4" is not an L40S); default: target.gpu_model."""
    min_memory_gib: float | None = Field(default=None, gt=0, le=4096)
    """Each GPU must report at least this much memory (GiB)."""
    pcie_gen: int | None = Field(default=None, ge=1, le=7)
    """The PCIe generation every GPU's link must run at (its current link, not its maximum)."""
    pcie_width: int | None = Field(default=None, ge=1, le=32)
    """The PCIe link width every GPU must run at (e.g. 16)."""
    require_persistence: bool = True
    """Persistence mode must be on (it keeps the driver loaded between jobs)."""
    max_retired_pages_pending: int = Field(default=0, ge=0, le=1_000_000)
    """At most this many retired pages may be pending a reboot."""
    max_uncorrectable_ecc: int = Field(default=0, ge=0, le=1_000_000_000)
    """At most this many uncorrectable (volatile) ECC errors."""
    mig_profiles: list[str] | None = Field(default=None)
    """The planned MIG layout: profile names per GPU, e.g. ["3g.40gb", "3g.40gb"]; unset = not checked."""
    dcgm_level: int = Field(default=0, ge=0, le=4)
    """Run `dcgmi diag -r LEVEL -j` (0 = do not run it); its JSON is read (DCGM 3 and 4). Asked for where dcgmi is missing: the check is not run (INCOMPLETE), never a PASS."""
    dcgm_timeout_s: float = Field(default=900, gt=0, le=86_400)
    """How long `dcgmi diag` may take."""
    xid_since_hours: float = Field(default=24, gt=0, le=24 * 365)
    """Hardware XID errors in the kernel log within this many hours fail the check (0 < h)."""
    xid_log: str | None = Field(default=None, pattern=r"^[^\x00-\x1f]{1,4096}$")
    """Read XIDs from this saved kernel log instead of journalctl/dmesg (e.g. one copied off the target)."""


class TopologySettings(Section):
    """The GPU interconnect the target must have (as `nvidia-smi topo -m` shows it)."""

    optional: bool = False
    """Shown as optional: when it cannot run, the verdict can still be PASS (default: expected when configured)."""

    match_baseline: bool = True
    """The target must have the same GPU-to-GPU links as the captured source baseline."""
    expected: list[list[str]] | None = None
    """A documented target shape instead: the GPU x GPU matrix of link names ("X", "NV12", "PIX", "SYS" ...)."""

    @field_validator("expected")
    @classmethod
    def _square(cls, value: list[list[str]] | None) -> list[list[str]] | None:
        """One row per GPU and one cell per GPU in each row: any other shape could never match the target,
        so the check would fail at cutover for a typo that validate can name now."""
        if value is None:
            return value
        if not value:
            raise ValueError("needs one row per GPU (got no rows)")
        for i, row in enumerate(value):
            if len(row) != len(value):
                raise ValueError(f"row {i + 1} has {len(row)} cell(s); a {len(value)}-GPU matrix needs "
                                 f"{len(value)} in every row")
            for cell in row:
                if not _LINK_NAME.match(cell):
                    raise ValueError(f"row {i + 1}: {cell!r} is not a link name (e.g. X, NV12, PIX, SYS, *)")
        return value


class ManifestPair(Section):
    """Two manifests (JSON lines written by `gpumigrate transfer --verify-only`) that must agree."""

    source: str = Field(pattern=PATH_PATTERN)
    """The source side's manifest file."""
    target: str = Field(pattern=PATH_PATTERN)
    """The destination side's manifest file."""
    label: str | None = Field(default=None, max_length=200)
    """A name for this pair in reports (default: the target file name)."""


class DataIntegritySettings(Section):
    """Source and destination listings that must agree object for object."""

    optional: bool = False
    """Shown as optional: when it cannot run, the verdict can still be PASS (default: expected when configured)."""

    manifests: list[ManifestPair] = Field(default_factory=list)
    """Manifest pairs to compare (count, bytes, checksums)."""
    transfers: bool = False
    """Also compare each [[transfer]] entry's source with its destination now, by checksum (reads both sides)."""
    max_listed: int = Field(default=50, ge=1, le=100_000)
    """At most this many differences are listed per pair (all are counted)."""


class ModelLoadSettings(Section):
    """A command that loads the model (e.g. a `torch.load`), timed over several runs."""

    optional: bool = False
    """Shown as optional: when it cannot run, the verdict can still be PASS (default: expected when configured)."""

    command: Argv | None = None
    """The command as an argument list, e.g. ["{python}", "load.py", "model.pt"]."""
    runs: int = Field(default=5, ge=1, le=1000)
    """How many timed runs (the median is compared)."""
    warmup: int = Field(default=1, ge=0, le=100)
    """Untimed runs first (page cache, lazy imports)."""
    timing: Literal["wall", "reported"] = "wall"
    """"wall": the command's wall time; "reported": the command prints its own seconds ({"seconds": x} or a number)."""
    timeout_s: float = Field(default=600, gt=0, le=86_400)
    """Per-run timeout; a run past it is an error."""
    max_s: float | None = Field(default=None, gt=0, le=86_400)
    """An absolute ceiling for the median (used with or without a baseline)."""


class LatencySettings(Section):
    """Requests to an HTTP endpoint (or runs of a command), timed one by one."""

    optional: bool = False
    """Shown as optional: when it cannot run, the verdict can still be PASS (default: expected when configured)."""

    url: str | None = Field(default=None, pattern=URL_PATTERN)
    """The HTTP endpoint (http:// or https://)."""
    method: Literal["GET", "POST"] = "GET"
    """The HTTP method."""
    body_file: str | None = Field(default=None, pattern=PATH_PATTERN)
    """A file sent as the request body (POST)."""
    content_type: str = Field(default="application/json", pattern=r"^[A-Za-z0-9.+/=; -]{1,100}$")
    """The body's Content-Type."""
    command: Argv | None = None
    """Instead of a URL: a command run once per request (its wall time, process start included)."""
    requests: int = Field(default=1000, ge=1, le=1_000_000)
    """How many timed requests."""
    warmup: int = Field(default=10, ge=0, le=10_000)
    """Untimed requests first."""
    timeout_s: float = Field(default=30, gt=0, le=3_600)
    """Per-request timeout."""
    max_ratio: float = Field(default=1.10, gt=0, le=1_000)
    """P99 may be at most this times the baseline's P99."""
    max_error_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests allowed to fail (non-2xx, timeout, non-zero exit)."""


class ConvergenceSettings(Section):
    """Loss curves from source and target runs of the same training, compared step by step."""

    optional: bool = False
    """Shown as optional: when it cannot run, the verdict can still be PASS (default: expected when configured)."""

    baseline_file: str | None = Field(default=None, pattern=PATH_PATTERN)
    """The source run's loss curve: CSV (step,loss), JSON lines, a TensorBoard event file, or a run directory (all its event files, restarts applied)."""
    target_file: str | None = Field(default=None, pattern=PATH_PATTERN)
    """The target run's loss curve, same formats."""
    tag: str = Field(default="loss", pattern=r"^[A-Za-z0-9_./ -]{1,200}$")
    """The scalar to read (TensorBoard tag, JSON key or CSV column)."""
    tolerance: float = Field(default=0.05, ge=0, le=1_000)
    """The band around the baseline: relative (0.05 = 5%) or absolute, per ``method``."""
    method: Literal["relative", "absolute"] = "relative"
    """How the band is measured."""
    smoothing: int = Field(default=1, ge=1, le=10_000)
    """Centered moving-average window applied to both curves before comparing (1 = raw)."""
    max_outside: float = Field(default=0.0, ge=0, le=1)
    """Share of compared steps allowed outside the band."""
    final_window: int = Field(default=10, ge=1, le=10_000_000)
    """The final loss is the mean of the last this many compared steps (target must be no worse)."""
    min_coverage: float = Field(default=0.9, gt=0, le=1)
    """The share of the baseline's steps the target's curve must reach to pass (a run stopped at 30% agrees so far
    but has not shown convergence; it can still fail). Lower it to judge a deliberately shortened run."""


class ThroughputSettings(Section):
    """A short training run that prints its speed."""

    optional: bool = False
    """Shown as optional: when it cannot run, the verdict can still be PASS (default: expected when configured)."""

    command: Argv | None = None
    """The command; it prints JSON with ``samples_per_s`` or ``step_time_s``, or a line matched by ``pattern``."""
    metric: Literal["samples_per_s", "step_time_s"] = "samples_per_s"
    """Which figure: samples per second (higher is better) or seconds per step (lower is better)."""
    pattern: str | None = Field(default=None, max_length=300)
    """A regular expression with one group capturing the number (instead of JSON output)."""
    runs: int = Field(default=3, ge=1, le=100)
    """Runs; the median is compared (fewer than 3 cannot pass: one run is one noisy sample)."""
    min_ratio: float = Field(default=0.95, gt=0, le=1_000)
    """The target must reach at least this share of the baseline's speed."""
    timeout_s: float = Field(default=1800, gt=0, le=86_400)
    """Per-run timeout."""


class VerifySection(Section):
    """Checks that prove the target is at least as good as the source."""

    expected_gpus: int | None = Field(default=None, ge=0, le=64)
    """How many GPUs the target must show (default: target.gpu_count, or when unset the machine type's own count)."""
    load_time_ratio: float = Field(default=1.10, gt=0, le=1_000)
    """Model-load check passes when target median < baseline median x this."""
    p99_ms: float | None = Field(default=None, gt=0, le=3_600_000)
    """An absolute inference P99 limit in milliseconds, judged with or without a baseline (unset: the P99 is judged
    against the baseline's only; with neither, latency is not compared)."""
    checks: list[Literal["gpu_health", "topology", "data_integrity", "model_load", "latency",
                         "convergence", "throughput"]] | None = None
    """Which checks run (default: all; a check without inputs is reported as not run). A check named here is expected: if it cannot run, the verdict is INCOMPLETE."""
    baseline: str | None = Field(default=None, pattern=PATH_PATTERN)
    """The baseline captured on the source (`gpumigrate verify --capture-baseline FILE` there)."""
    report_dir: str | None = Field(default=None, pattern=PATH_PATTERN)
    """Where the step writes report.md, report.html, junit.xml and report.json (unset: not written)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables for check commands (which otherwise get a clean environment)."""
    gpu: GpuHealthSettings = Field(default_factory=GpuHealthSettings)
    """GPU health (NVML, dcgmi)."""
    topology: TopologySettings = Field(default_factory=TopologySettings)
    """GPU interconnect."""
    data_integrity: DataIntegritySettings = Field(default_factory=DataIntegritySettings)
    """Transfer manifests."""
    model_load: ModelLoadSettings = Field(default_factory=ModelLoadSettings)
    """Model load time."""
    latency: LatencySettings = Field(default_factory=LatencySettings)
    """Inference latency."""
    convergence: ConvergenceSettings = Field(default_factory=ConvergenceSettings)
    """Training convergence."""
    throughput: ThroughputSettings = Field(default_factory=ThroughputSettings)
    """Training throughput."""

    def model_post_init(self, _ctx: object) -> None:
        import re

        for name, argv in (("model_load", self.model_load.command), ("latency", self.latency.command),
                           ("throughput", self.throughput.command)):
            if argv is not None:
                if not argv:
                    raise ValueError(f"verify.{name}.command must not be empty")
                for arg in argv:
                    if not re.match(ARG_PATTERN, arg):
                        raise ValueError(f"verify.{name}.command: argument {arg!r} has characters not allowed")
        for key, value in self.env.items():
            if not re.match(r"^[A-Z_][A-Z0-9_]{0,63}$", key) or not re.match(ARG_PATTERN, value):
                raise ValueError(f"verify.env: {key!r} is not an allowed variable name or value")
        if self.latency.url and self.latency.command:
            raise ValueError("verify.latency: set url or command, not both")
        if self.throughput.pattern is not None:
            try:
                if re.compile(self.throughput.pattern).groups != 1:
                    raise ValueError("verify.throughput.pattern must have exactly one group")
            except re.error as exc:
                raise ValueError(f"verify.throughput.pattern is not a regular expression: {exc}") from None
