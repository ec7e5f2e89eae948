"""Settings only Storage Transfer Service needs: ``StsOptions`` (``[transfer.sts]`` in a profile entry).

Kept apart from :mod:`engine.transfer.sts` so ``TransferSpec`` can hold an
``sts: StsOptions | None`` field without importing the STS machinery.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.model_base import Section

TIB = 1024**4

ROLE_ARN_PATTERN = r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
SECRET_RESOURCE_PATTERN = r"^projects/[A-Za-z0-9-]{1,63}/secrets/[A-Za-z0-9_-]{1,255}$"
AGENT_POOL_PATTERN = r"^(transfer_service_default|[a-z]([a-z0-9-]{0,61}[a-z0-9])?)$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class StsThresholds(Section):
    """When ``engine = "auto"`` hands a transfer to Storage Transfer Service."""

    bytes: int = Field(default=TIB, ge=0, le=10**18)
    """Planned bytes at or above which STS is chosen (default 1 TiB)."""
    objects: int = Field(default=10_000_000, ge=0, le=10**12)
    """Planned object count at or above which STS is chosen (default 10 million)."""


class StsSchedule(Section):
    """Incremental re-runs during the cutover window (STS ``schedule``); times are UTC."""

    start_date: str = Field(pattern=DATE_PATTERN)
    """First day the job may run (YYYY-MM-DD, UTC)."""
    end_date: str | None = Field(default=None, pattern=DATE_PATTERN)
    """Last day the job may run (YYYY-MM-DD, UTC); none = keeps repeating."""
    start_time_utc: str | None = Field(default=None, pattern=TIME_PATTERN)
    """Time of day of the first run (HH:MM, UTC); none = as soon as the job is created."""
    repeat_every_hours: float = Field(default=24, ge=1, le=24 * 365)
    """Hours between the starts of two runs (STS minimum: 1 hour)."""


class StsOptions(Section):
    """Settings only Storage Transfer Service needs (``[transfer.sts]`` in a profile entry).

    Credentials are named, never held: an IAM role STS assumes, or the resource
    name of a Secret Manager secret the user created with the AWS key in it.
    """

    aws_role_arn: str | None = Field(default=None, pattern=ROLE_ARN_PATTERN)
    """IAM role STS assumes to read the S3 bucket (arn:aws:iam::ACCOUNT:role/NAME)."""
    aws_credentials_secret_resource: str | None = Field(default=None, pattern=SECRET_RESOURCE_PATTERN)
    """Secret Manager secret holding the AWS access key as JSON (projects/PROJECT_NUMBER/secrets/NAME)."""
    managed_private_network: bool = False
    """Read S3 over Google's managed private network (STS fee per GiB, no AWS egress bill)."""
    network_scope: Literal["NA", "EU", "APAC"] = "NA"
    """Where the managed-private-network transfer happens (sets its price)."""
    agent_pool: str | None = Field(default=None, pattern=AGENT_POOL_PATTERN)
    """Agent pool id for a local/POSIX source (agents run on the machines that see the files)."""
    agent_count: int = Field(default=3, ge=1, le=100)
    """How many agents the shown install command starts."""
    include: list[str] = Field(default_factory=list)
    """Regexes (like exclude) of relative paths to include; each must be a pure prefix for STS."""
    overwrite_when: Literal["different", "always", "never"] = "different"
    """Overwrite a destination object when its ETag/checksum differs (default), always, or never."""
    preserve_mtime: bool = True
    """Keep the source's modification time in the destination's customTime (cloud sources)."""
    schedule: StsSchedule | None = None
    """Repeat the job on a schedule during the cutover window; none = run once, now."""
    thresholds: StsThresholds = Field(default_factory=StsThresholds)
    """When ``engine = "auto"`` picks STS."""
    confirm_delete: bool = False
    """Allow delete-unique-in-sink without a planned deletion count (or past max_delete). Dangerous."""
    poll_interval_s: float = Field(default=10.0, gt=0, le=600)
    """Seconds between polls of the running transfer operation."""
    on_cancel: Literal["cancel", "detach"] = "cancel"
    """On Ctrl-C / cancel: cancel the STS operation, or only stop watching it (it keeps running)."""
