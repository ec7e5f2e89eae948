"""The migration's Storage Transfer Service jobs after they were created: read, guard, disable.

An STS job outlives the run that created it: a ``schedule`` keeps starting
runs, and ``deleteObjectsUniqueInSink`` on such a run deletes whatever the new
workload wrote to the destination since the last one.  What the *profile* says
is therefore not enough to decide whether a run is safe; this module reads
what the *job* is (:func:`job_state`), refuses a run whose real state would
delete on a schedule (:func:`check_job_state`), and ends the jobs with the
cutover (:func:`disable_jobs`, called at cutover sign-off and by
``gpumigrate transfer --engine sts --disable``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterable

from engine.errors import BadInputError

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud import storage_transfer_v1 as st

    from engine.profile import Profile
    from engine.transfer.spec import TransferSpec


class StsJobDisabled(BadInputError):
    """The entry's job was disabled (at cutover sign-off, or by hand); running it is refused."""


@dataclass(frozen=True)
class JobState:
    """What a transfer job really is on the service (not what the profile says it should be)."""

    name: str
    status: str
    """ENABLED | DISABLED | DELETED | STATUS_UNSPECIFIED"""
    scheduled: bool
    repeats: bool
    """The schedule starts more than one run (a repeat interval and no end date equal to the start)."""
    deletes_in_sink: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def state_of(job: "st.TransferJob") -> JobState:
    """Reduce a TransferJob message to the fields the guards need (pure)."""
    from google.cloud import storage_transfer_v1 as st

    scheduled = "schedule" in job
    repeats = False
    if scheduled:
        sched = job.schedule
        one_day = "schedule_end_date" in sched and sched.schedule_end_date == sched.schedule_start_date
        repeats = not one_day
    options = job.transfer_spec.transfer_options if "transfer_spec" in job else None
    return JobState(
        name=job.name,
        status=st.TransferJob.Status(job.status).name if job.status else "STATUS_UNSPECIFIED",
        scheduled=scheduled,
        repeats=repeats,
        deletes_in_sink=bool(options and options.delete_objects_unique_in_sink),
    )


def job_state(client: "st.StorageTransferServiceClient", name: str, project: str) -> JobState | None:
    """The job's state as the service reports it, or None when no such job exists."""
    from google.api_core import exceptions as gexc

    from engine.transfer.sts_track import api_errors

    with api_errors("Storage Transfer Service"):
        try:
            job = client.get_transfer_job(request={"job_name": name, "project_id": project})
        except gexc.NotFound:
            return None
    return state_of(job)


def check_job_state(state: JobState, *, confirmed: bool) -> None:
    """Refuse to run a job whose *actual* state deletes on a schedule, unless confirmed (pure).

    The guards before this one read the profile; this one reads the job, so a
    schedule or a delete option left on it by an earlier run is caught too.
    """
    if state.status == "DISABLED":
        raise StsJobDisabled(
            f"STS job {state.name} is DISABLED (the cutover was signed off, or someone disabled it): "
            "running it again would copy into the target after cutover; re-enable it deliberately with "
            "`gpumigrate transfer SRC DST --engine sts --enable --project P` if that is really wanted"
        )
    if state.scheduled and state.deletes_in_sink and not confirmed:
        raise BadInputError(
            f"STS job {state.name} has a schedule and deletes objects unique in the destination: every "
            "scheduled run would delete what the new workload writes there; refused (drop the schedule or "
            "delete = false, or confirm with sts.confirm_delete = true / --yes-delete)"
        )


def sts_entries(profile: "Profile") -> list["TransferSpec"]:
    """The profile's entries that may have an STS job (engine "sts", or "auto" STS can express)."""
    from engine.transfer.sts import sts_supports

    return [spec for spec in profile.transfer
            if spec.engine == "sts" or (spec.engine == "auto" and sts_supports(spec) is None)]


@dataclass
class DisableResult:
    """What disabling did to one job."""

    job_name: str
    src: str
    dst: str
    outcome: str
    """disabled | already-disabled | not-found | deleted (enabled ... for --enable; would-disable on a dry run)"""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def set_job_status(client: "st.StorageTransferServiceClient", spec: "TransferSpec", project: str,
                   status: str, *, dry_run: bool = False) -> DisableResult:
    """Set one entry's job to ENABLED or DISABLED (only ``status`` in the update mask).

    ``dry_run``: read the job and say what would change (``would-disable``), change nothing."""
    from google.cloud import storage_transfer_v1 as st
    from google.protobuf import field_mask_pb2

    from engine.transfer.sts import job_name_for
    from engine.transfer.sts_track import api_errors

    name = job_name_for(spec)
    state = job_state(client, name, project)
    if state is None:
        return DisableResult(name, spec.src, spec.dst, "not-found")
    if state.status == "DELETED":
        return DisableResult(name, spec.src, spec.dst, "deleted")
    if state.status == status:
        return DisableResult(name, spec.src, spec.dst, f"already-{status.lower()}")
    if dry_run:
        return DisableResult(name, spec.src, spec.dst, f"would-{status.lower()[:-1]}")
    with api_errors("Storage Transfer Service"):
        client.update_transfer_job(request={
            "job_name": name,
            "project_id": project,
            "transfer_job": st.TransferJob(name=name, project_id=project, status=st.TransferJob.Status[status]),
            "update_transfer_job_field_mask": field_mask_pb2.FieldMask(paths=["status"]),
        })
    return DisableResult(name, spec.src, spec.dst, status.lower())


def disable_jobs(specs: Iterable["TransferSpec"], project: str,
                 client: "st.StorageTransferServiceClient | None" = None) -> list[DisableResult]:
    """Disable every given entry's job: no scheduled run starts any more (running ones finish)."""
    from engine.transfer.sts import make_client

    specs = list(specs)
    if not specs:
        return []
    if not project:
        raise BadInputError("[target].project is needed to disable the migration's STS jobs")
    client = client or make_client()
    return [set_job_status(client, spec, project, "DISABLED") for spec in specs]


def disable_profile_jobs(profile: "Profile", client: Any = None) -> list[DisableResult]:
    """Disable the STS jobs of every ``[[transfer]]`` entry of the profile that may run on STS."""
    return disable_jobs(sts_entries(profile), profile.target.project or "", client)


def runbook_lines(profile: "Profile") -> list[str]:
    """The commands that disable this migration's STS jobs by hand (for the runbook)."""
    import shlex

    from engine.transfer.sts import job_name_for

    project = profile.target.project or "PROJECT"
    lines = []
    for spec in sts_entries(profile):
        name = job_name_for(spec)
        lines.append(f"gcloud transfer jobs update {shlex.quote(name)} --status=disabled "
                     f"--project={shlex.quote(project)}   # {spec.src} -> {spec.dst}")
    return lines
