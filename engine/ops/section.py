"""The ``[ops]`` profile section: day-two monitoring, budget, spot handling, rollback.

Every string here can reach a generated shell script, a YAML/JSON file or an
API path, so each one is constrained by an allow-list pattern at load time
(and the renderers check again before they quote anything).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.model_base import Section

# argv words for commands the spot watcher runs: no spaces, quotes, `$`, `;`,
# backticks, redirections or globs; each word is shell-quoted as well.
ARGV_WORD_PATTERN = r"^[A-Za-z0-9_./:=@%+,-]{1,256}$"
NOTIFICATION_CHANNEL_PATTERN = r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/notificationChannels/[0-9]{1,24}$"
BILLING_ACCOUNT_PATTERN = r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$"
PUBSUB_TOPIC_PATTERN = r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~%+-]{2,254}$"
LABEL_VALUE_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
PROCESS_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"
UNIX_USER_PATTERN = r"^[a-z_][a-z0-9_-]{0,31}$"
ABS_PATH_PATTERN = r"^/[A-Za-z0-9._/-]{0,255}$"
HOST_PORT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}:[0-9]{1,5}$"
HOSTNAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$"
DNS_TARGET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$"
ZONE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
INSTANCE_NAME_PATTERN = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
SOURCE_INSTANCE_PATTERN = r"^i-[0-9a-f]{8,17}$"


MAX_CONDITION_MINUTES = 1410
"""23.5 hours: the longest duration Cloud Monitoring accepts on an alert condition."""


def migration_label(profile: object) -> str:
    """The label value that owns this migration's policies and budget.

    ``[ops].label`` when set; otherwise ``gpumigrate-`` and a hash of the profile's name and target
    project, so a second migration on the same billing account or project never matches (and so
    never re-points or deletes) the first one's resources.
    """
    import hashlib

    ops = getattr(profile, "ops")
    if ops.label:
        return ops.label
    target = getattr(profile, "target", None)
    key = f"{getattr(profile, 'name', None) or ''}\x00{getattr(target, 'project', None) or ''}"
    return "gpumigrate-" + hashlib.sha256(key.encode()).hexdigest()[:12]


ArgvWord = Annotated[str, Field(pattern=ARGV_WORD_PATTERN)]
NotificationChannel = Annotated[str, Field(pattern=NOTIFICATION_CHANNEL_PATTERN)]
HostPort = Annotated[str, Field(pattern=HOST_PORT_PATTERN)]


class OpsSection(Section):
    """What to watch on the target after cutover, when to alert, and how to go back."""

    gpu_memory_alert_pct: float = Field(default=90, gt=0, le=100)
    """Alert when GPU memory use stays above this percentage."""
    idle_gpu_util_pct: float = Field(default=5, ge=0, le=100)
    """Alert when GPU utilisation stays below this (idle spend)."""
    idle_hours: float = Field(default=6, gt=0, le=23.5)
    """...for this many hours, in whole minutes (Cloud Monitoring allows at most 23.5 h)."""
    budget_thresholds_pct: list[Annotated[float, Field(ge=0.1, le=1000)]] = Field(
        default_factory=lambda: [50.0, 80.0, 100.0], min_length=1, max_length=10)
    """Budget alert thresholds, as percentages of the monthly run-rate (each 0.1 to 1000; the range is on
    the element, so a bad one is reported at its own line and index)."""
    apply: bool = False
    """Create the alert policies and budget through the APIs in the `ops` step (else only render)."""

    # --- alerts -----------------------------------------------------------
    memory_alert_minutes: int = Field(default=15, ge=1, le=MAX_CONDITION_MINUTES)
    """Whole minutes GPU memory must stay above the threshold before the alert fires (at most 1410 = 23.5 h)."""
    absent_minutes: int = Field(default=10, ge=2, le=MAX_CONDITION_MINUTES)
    """The instance (or training job) is reported gone after this many whole minutes without data (2 to 1410)."""
    job_process: str | None = Field(default=None, pattern=PROCESS_NAME_PATTERN)
    """Executable name of the training job (the agent's `command` label, e.g. "python3"); adds a "job gone" alert."""
    gpu_error_alerts: bool = True
    """Alert on double-bit ECC errors (Ops Agent DCGM receiver) and on XID/NVLink errors (Prometheus rules)."""
    notification_channels: list[NotificationChannel] = Field(default_factory=list, max_length=5)
    """Cloud Monitoring notification channels (projects/P/notificationChannels/N) for alerts and the budget."""
    label: str | None = Field(default=None, pattern=LABEL_VALUE_PATTERN)
    """Names this migration's policies and budget (user label value); none = derived from the profile's name,
    so two migrations never share one (see engine.ops.section.migration_label)."""

    # --- budget -----------------------------------------------------------
    billing_account: str | None = Field(default=None, pattern=BILLING_ACCOUNT_PATTERN)
    """The Cloud Billing account id (six-six-six hex digits, e.g. 01A2B3-C4D5E6-F7A8B9) that holds the budget."""
    budget_monthly: float | None = Field(default=None, gt=0, le=1e9)
    """The budget's amount a month, in budget_currency; overrides the cost model's monthly run-rate (US dollars,
    never converted: a budget in another currency needs it)."""
    budget_monthly_usd: float | None = Field(default=None, gt=0, le=1e9)
    """The old name of budget_monthly, still read: its amount is in budget_currency, whatever its name says.
    Rename it budget_monthly."""
    budget_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    """Currency of the budget amount (must be the billing account's currency)."""
    budget_pubsub_topic: str | None = Field(default=None, pattern=PUBSUB_TOPIC_PATTERN)
    """Optional Pub/Sub topic (projects/P/topics/T) that receives budget notifications (for Slack, PagerDuty...)."""
    budget_email_channels: list[NotificationChannel] = Field(default_factory=list, max_length=5)
    """Cloud Monitoring EMAIL notification channels for the budget (the Budgets API accepts only email
    channels, at most 5; the alert policies' channels may be of any type)."""
    project_number: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    """The target project's number. The Budgets API stores projects/NUMBER, so a re-apply compares numbers:
    this one, else the number Cloud Resource Manager gives for [target].project; only when neither is
    known does a stored number count as the target project (and the apply says so)."""
    budget_label_filter: dict[str, str] = Field(default_factory=dict, max_length=1)
    """Count only spend on resources with this one label (key = "value"); the Budgets API allows one."""

    # --- prometheus / grafana --------------------------------------------
    dcgm_targets: list[HostPort] = Field(default_factory=lambda: ["localhost:9400"], min_length=1, max_length=256)
    """host:port of each DCGM exporter to scrape on self-managed hosts."""
    scrape_interval_s: int = Field(default=15, ge=1, le=3600)
    """Prometheus scrape interval for the DCGM exporter."""

    # --- spot watcher ------------------------------------------------------
    spot_watcher: Literal["auto", "always", "never"] = "auto"
    """Generate the preemption watcher: "auto" only when [target].pricing is "spot"."""
    checkpoint_command: list[ArgvWord] = Field(default_factory=list, max_length=32)
    """argv of the command that checkpoints the job when a preemption notice arrives."""
    resume_command: list[ArgvWord] = Field(default_factory=list, max_length=32)
    """argv of the command that resumes the job after a preempted VM starts again (or the notice clears)."""
    checkpoint_timeout_s: int = Field(default=18, ge=1, le=20)
    """Seconds the checkpoint may take; with the retry wait and 4 s of reads and kill grace the total
    must stay under 25 s (Compute Engine gives a spot VM about 30 s)."""
    poll_interval_s: int = Field(default=2, ge=1, le=10)
    """Seconds before the watcher retries a failed read of the notice (it otherwise waits on the metadata
    server with ?wait_for_change=true and sees the notice at once)."""
    watcher_user: str = Field(default="root", pattern=UNIX_USER_PATTERN)
    """Unix user the watcher (and so the checkpoint command) runs as."""
    state_dir: str = Field(default="/var/lib/gpumigrate", pattern=ABS_PATH_PATTERN)
    """Where the watcher keeps its preemption marker."""

    # --- rollback ------------------------------------------------------------
    target_instance: str | None = Field(default=None, pattern=INSTANCE_NAME_PATTERN)
    """Name of the target Compute Engine instance (for the rollback commands)."""
    source_instance_id: str | None = Field(default=None, pattern=SOURCE_INSTANCE_PATTERN)
    """The source EC2 instance id (kept running until sign-off)."""
    endpoint_dns: Literal["cloud-dns", "route53", "none"] = "none"
    """Where the service's DNS record lives, for switching the endpoint back."""
    dns_zone: str | None = Field(default=None, pattern=ZONE_NAME_PATTERN)
    """The Cloud DNS managed zone name, or the Route 53 hosted zone id."""
    dns_record: str | None = Field(default=None, pattern=HOSTNAME_PATTERN)
    """The record users reach the workload by (e.g. "train.example.com.")."""
    source_endpoint: str | None = Field(default=None, pattern=DNS_TARGET_PATTERN)
    """What the record pointed at before cutover (an IP address or a host name)."""
    dns_ttl_s: int = Field(default=60, ge=1, le=86400)
    """TTL of the switched-back record."""

    @field_validator("idle_hours")
    @classmethod
    def _whole_minutes(cls, value: float) -> float:
        minutes = value * 60
        if abs(minutes - round(minutes)) > 1e-6:
            raise ValueError(f"{value!r} h is not a whole number of minutes (Cloud Monitoring counts condition "
                             "durations in whole minutes)")
        return value

    @model_validator(mode="after")
    def _watcher_budget(self) -> "OpsSection":
        from engine.ops.spot_watcher import BUDGET_S, KILL_AFTER_S, NOTICE_READ_S, stop_budget_s

        total = stop_budget_s(self)  # the same sum the unit's stop timeout is rendered from
        if total >= BUDGET_S:
            raise ValueError(
                f"checkpoint_timeout_s: poll_interval_s {self.poll_interval_s} + notice read {NOTICE_READ_S} + "
                f"checkpoint_timeout_s {self.checkpoint_timeout_s} + kill grace {KILL_AFTER_S} = {total} s; it "
                f"must stay under {BUDGET_S} s (a spot VM is powered off about 30 s after the notice)")
        return self

    @field_validator("budget_monthly_usd")
    @classmethod
    def _one_budget_amount(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("budget_monthly") is not None:
            raise ValueError("the old name of ops.budget_monthly, which is set too: set only budget_monthly (the "
                             "amount in budget_currency)")
        return value

    @field_validator("budget_thresholds_pct")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if len(set(value)) != len(value):
            raise ValueError("thresholds must be distinct")
        return sorted(value)
