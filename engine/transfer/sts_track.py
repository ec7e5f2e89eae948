"""Track a Storage Transfer Service operation like a local transfer.

Polls ``transferOperations/...``, turns its counters into ``Progress`` events
(bytes and objects, with rate and ETA), turns the error breakdowns' sampled
log entries into one ``ItemDone(status="failed")`` per object, and applies
pause / resume / cancel requests coming from another thread (the TUI) through
a :class:`StsControl`.

STS records at most 5 log entries per error code per operation; when more
objects failed, a warning says how many are not listed and where the full list
is (the job is created with Cloud Logging of failed actions switched on).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from engine.errors import BadInputError, EnvironmentProblem, GpumigrateError
from engine.events import Emit, ItemDone, Message, Progress
from engine.secrets import redact

if TYPE_CHECKING:
    from google.cloud import storage_transfer_v1 as st

TERMINAL = frozenset({"SUCCESS", "FAILED", "ABORTED"})

_COUNTER_KEYS = {
    "objects_found_from_source": "objectsFoundFromSource",
    "bytes_found_from_source": "bytesFoundFromSource",
    "objects_found_only_from_sink": "objectsFoundOnlyFromSink",
    "bytes_found_only_from_sink": "bytesFoundOnlyFromSink",
    "objects_from_source_skipped_by_sync": "objectsFromSourceSkippedBySync",
    "bytes_from_source_skipped_by_sync": "bytesFromSourceSkippedBySync",
    "objects_copied_to_sink": "objectsCopiedToSink",
    "bytes_copied_to_sink": "bytesCopiedToSink",
    "objects_deleted_from_sink": "objectsDeletedFromSink",
    "bytes_deleted_from_sink": "bytesDeletedFromSink",
    "objects_from_source_failed": "objectsFromSourceFailed",
    "bytes_from_source_failed": "bytesFromSourceFailed",
    "objects_failed_to_delete_from_sink": "objectsFailedToDeleteFromSink",
    "bytes_failed_to_delete_from_sink": "bytesFailedToDeleteFromSink",
}


@contextlib.contextmanager
def api_errors(service: str) -> Iterator[None]:
    """Turn Google API errors into the engine's error types (one readable line each)."""
    from google.api_core import exceptions as gexc

    try:
        yield
    except GpumigrateError:
        raise
    except (gexc.Unauthenticated, gexc.PermissionDenied) as exc:
        raise EnvironmentProblem(
            f"{service} refused the credentials ({exc.message}): the account needs the Storage Transfer "
            "User role (roles/storagetransfer.user) in the project; set GOOGLE_APPLICATION_CREDENTIALS "
            "or run `gcloud auth application-default login`"
        ) from None
    except gexc.BadRequest as exc:  # 400: INVALID_ARGUMENT, FAILED_PRECONDITION, ...
        raise BadInputError(f"{service} rejected the request: {redact(str(exc.message))}") from None
    except gexc.GoogleAPICallError as exc:
        if isinstance(exc, (gexc.ServiceUnavailable, gexc.GatewayTimeout)):
            raise EnvironmentProblem(f"{service} is unreachable ({exc.message}); try again later") from None
        raise GpumigrateError(f"{service}: {redact(str(exc))}") from None
    except Exception as exc:  # transport errors (requests / grpc / auth) are environment problems
        import requests
        from google.auth import exceptions as auth_exc

        if isinstance(exc, (requests.exceptions.ConnectionError, auth_exc.TransportError)):
            raise EnvironmentProblem(f"{service} is unreachable: {redact(str(exc))}") from None
        if isinstance(exc, auth_exc.DefaultCredentialsError):
            raise EnvironmentProblem(
                f"no Google Cloud credentials for {service}: set GOOGLE_APPLICATION_CREDENTIALS"
            ) from None
        raise


@dataclass
class OperationSnapshot:
    """One poll of a transfer operation, reduced to plain data."""

    name: str
    status: str
    done: bool
    job_name: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    """[{"code": "NOT_FOUND", "count": 7, "entries": [{"url": ..., "details": [...]}]}]"""
    failures: list[dict[str, Any]] = field(default_factory=list)
    """Per-object failures reported so far (filled by :func:`track_operation`)."""
    detached: bool = False
    """The watcher stopped (``on_cancel = "detach"``) while the operation keeps running."""


def snapshot_from_operation(op: Any) -> OperationSnapshot:
    """Reduce a ``google.longrunning.Operation`` holding a ``TransferOperation`` to plain data."""
    from google.cloud import storage_transfer_v1 as st
    from google.rpc import code_pb2

    meta = st.TransferOperation.deserialize(op.metadata.value) if op.metadata.value else st.TransferOperation()
    counters = {camel: int(getattr(meta.counters, snake)) for snake, camel in _COUNTER_KEYS.items()}
    errors = []
    for summary in meta.error_breakdowns:
        code = int(summary.error_code)
        try:
            code_name = code_pb2.Code.Name(code)
        except ValueError:
            code_name = str(code)
        errors.append(
            {
                "code": code_name,
                "count": int(summary.error_count),
                "entries": [
                    {"url": entry.url, "details": [redact(d) for d in entry.error_details]}
                    for entry in summary.error_log_entries
                ],
            }
        )
    status = st.TransferOperation.Status(meta.status).name if meta.status else "STATUS_UNSPECIFIED"
    return OperationSnapshot(
        name=op.name or meta.name,
        status=status,
        done=bool(op.done),
        job_name=meta.transfer_job_name,
        counters=counters,
        errors=errors,
    )


def get_snapshot(client: "st.StorageTransferServiceClient", name: str) -> OperationSnapshot:
    """Fetch one operation."""
    with api_errors("Storage Transfer Service"):
        return snapshot_from_operation(client.get_operation(request={"name": name}))


def list_snapshots(client: "st.StorageTransferServiceClient", project: str, job_name: str) -> list[OperationSnapshot]:
    """Every operation of a job (newest runs last, as the service returns them)."""
    import json

    with api_errors("Storage Transfer Service"):
        response = client.list_operations(
            request={"name": "transferOperations", "filter": json.dumps({"projectId": project, "jobNames": [job_name]})}
        )
        return [snapshot_from_operation(op) for op in response.operations]


def pause_operation(client: "st.StorageTransferServiceClient", name: str) -> None:
    """Pause a running transfer operation."""
    with api_errors("Storage Transfer Service"):
        client.pause_transfer_operation(request={"name": name})


def resume_operation(client: "st.StorageTransferServiceClient", name: str) -> None:
    """Resume a paused transfer operation."""
    with api_errors("Storage Transfer Service"):
        client.resume_transfer_operation(request={"name": name})


def cancel_operation(client: "st.StorageTransferServiceClient", name: str) -> None:
    """Cancel a transfer operation (it ends ABORTED; what was copied stays)."""
    with api_errors("Storage Transfer Service"):
        client.cancel_operation(request={"name": name})


class StsControl:
    """Pause / resume / cancel requests from another thread, applied by the tracker on its next poll.

    The TUI holds one of these (it never needs a client): ``control.pause()``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self.wake = threading.Event()
        self.operation_name: str | None = None
        """The operation being tracked (set by the runner once it is known)."""

    def _ask(self, what: str) -> None:
        with self._lock:
            self._pending.append(what)
        self.wake.set()

    def pause(self) -> None:
        self._ask("pause")

    def resume(self) -> None:
        self._ask("resume")

    def cancel(self) -> None:
        self._ask("cancel")

    def take(self) -> list[str]:
        with self._lock:
            pending, self._pending = self._pending, []
        self.wake.clear()
        return pending


class RateMeter:
    """Rate over a sliding window of (time, amount) samples; pure maths, any clock."""

    def __init__(self, window: int = 12) -> None:
        self.samples: deque[tuple[float, float]] = deque(maxlen=window)

    def add(self, when: float, amount: float) -> None:
        self.samples.append((when, amount))

    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, a0), (t1, a1) = self.samples[0], self.samples[-1]
        if t1 <= t0:
            return None
        return max(0.0, (a1 - a0) / (t1 - t0))


def eta_seconds(done: float, total: float, rate: float | None) -> float | None:
    """Seconds left at ``rate``; None when unknown (no rate yet, or nothing moving)."""
    if rate is None or rate <= 0:
        return None
    return max(0.0, (total - done) / rate)


def relative_item(url: str, source_root_url: str) -> str:
    """The path an error log URL names, relative to the transfer's source root (as the local engine reports it)."""
    if source_root_url and url.startswith(source_root_url) and len(url) > len(source_root_url):
        return url[len(source_root_url):]
    return url  # the root itself (a listing failure) or an address outside it: keep it whole


def progress_events(
    step: str,
    snap: OperationSnapshot,
    byte_rate: float | None,
    object_rate: float | None,
) -> list[Progress]:
    """The two progress bars (bytes, objects) for one poll."""
    c = snap.counters
    done_bytes = c["bytesCopiedToSink"] + c["bytesFromSourceSkippedBySync"] + c["bytesFromSourceFailed"]
    done_objects = c["objectsCopiedToSink"] + c["objectsFromSourceSkippedBySync"] + c["objectsFromSourceFailed"]
    # "Found from source" excludes objects skipped by sync (TransferCounters), while "done" counts
    # them: the total is both, or a re-run would show more than 100%.
    total_bytes = c["bytesFoundFromSource"] + c["bytesFromSourceSkippedBySync"]
    total_objects = c["objectsFoundFromSource"] + c["objectsFromSourceSkippedBySync"]
    paused = snap.status != "IN_PROGRESS"
    extra = {"engine": "sts", "operation": snap.name, "status": snap.status, "counters": dict(c)}
    return [
        Progress(
            step,
            done=done_bytes,
            total=total_bytes,
            unit="B",
            rate=byte_rate,
            eta_s=None if paused else eta_seconds(done_bytes, total_bytes, byte_rate),
            label="bytes",
            extra=extra,
        ),
        Progress(
            step,
            done=done_objects,
            total=total_objects,
            unit="objects",
            rate=object_rate,
            eta_s=None if paused else eta_seconds(done_objects, total_objects, object_rate),
            label="objects",
            extra=extra,
        ),
    ]


def track_operation(
    client: "st.StorageTransferServiceClient",
    name: str,
    *,
    emit: Emit,
    step: str = "transfer",
    poll_interval_s: float = 10.0,
    cancel: threading.Event | None = None,
    control: StsControl | None = None,
    source_root_url: str = "",
    on_cancel: str = "cancel",
    clock: Callable[[], float] | None = None,
) -> OperationSnapshot:
    """Poll ``name`` until it ends, emitting progress and per-object failures.

    ``cancel`` set: the operation is cancelled and tracked until it reports
    ABORTED (or, with ``on_cancel="detach"``, tracking stops and the snapshot
    says ``detached``).  ``control`` requests are applied between polls.
    """
    now = clock or time.monotonic
    bytes_meter, objects_meter = RateMeter(), RateMeter()
    seen: set[tuple[str, str]] = set()
    failures: list[dict[str, Any]] = []
    cancel_sent = False
    last_status = ""
    while True:
        if control is not None:
            for request in control.take():
                if request == "pause":
                    pause_operation(client, name)
                elif request == "resume":
                    resume_operation(client, name)
                elif request == "cancel" and not cancel_sent:
                    cancel_operation(client, name)
                    cancel_sent = True
        if cancel is not None and cancel.is_set() and not cancel_sent:
            if on_cancel == "detach":
                snap = get_snapshot(client, name)
                snap.failures, snap.detached = failures, True
                emit(Message(step, text=f"stopped watching STS operation {name}; it keeps running ({snap.status})"))
                return snap
            cancel_operation(client, name)
            cancel_sent = True
            emit(Message(step, level="warning", text=f"cancelling STS operation {name}"))
        snap = get_snapshot(client, name)
        if snap.status != last_status:
            emit(Message(step, text=f"STS operation {name}: {snap.status}"))
            last_status = snap.status
        t = now()
        c = snap.counters
        if snap.status == "IN_PROGRESS":
            bytes_meter.add(t, c["bytesCopiedToSink"] + c["bytesFromSourceSkippedBySync"] + c["bytesFromSourceFailed"])
            objects_meter.add(
                t, c["objectsCopiedToSink"] + c["objectsFromSourceSkippedBySync"] + c["objectsFromSourceFailed"]
            )
        else:  # a pause must not drag the rate down; start measuring afresh
            bytes_meter.samples.clear()
            objects_meter.samples.clear()
        for event in progress_events(step, snap, bytes_meter.rate(), objects_meter.rate()):
            emit(event)
        for summary in snap.errors:
            for entry in summary["entries"]:
                key = (summary["code"], entry["url"])
                if key in seen:
                    continue
                seen.add(key)
                item = relative_item(entry["url"], source_root_url)
                detail = "; ".join(entry["details"]) or summary["code"]
                failure = {"item": item, "url": entry["url"], "error_code": summary["code"], "detail": detail}
                failures.append(failure)
                emit(ItemDone(step, item=item, status="failed", detail=f"{summary['code']}: {detail}",
                              data={"engine": "sts", "url": entry["url"], "error_code": summary["code"]}))
        if snap.done or snap.status in TERMINAL:
            for summary in snap.errors:
                listed = len({e["url"] for e in summary["entries"]})
                if summary["count"] > listed:
                    emit(Message(
                        step,
                        level="warning",
                        text=(
                            f"{summary['count']:,} failures with {summary['code']}; STS lists only {listed} "
                            "samples: the full list is in Cloud Logging (resource.type=\"storage_transfer_job\", "
                            f"jsonPayload.operation=\"{name}\")"
                        ),
                    ))
            snap.failures = failures
            return snap
        _wait(poll_interval_s, cancel, control)


def _wait(seconds: float, cancel: threading.Event | None, control: StsControl | None) -> None:
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if cancel is not None and cancel.is_set():
            return
        if control is not None:
            if control.wake.wait(min(left, 0.05)):
                return
        else:
            time.sleep(min(left, 0.05))
