"""A Storage Transfer Service v1 stand-in: a REST server on 127.0.0.1 with a simulated world.

It speaks the wire format google-cloud-storage-transfer's REST transport uses
(camelCase JSON, int64 as strings, ``google.longrunning.Operation`` with a
``TransferOperation`` in ``metadata``):

* ``transferJobs``: create, get, list (``filter``), patch (field mask), ``:run``;
* ``transferOperations``: get, list (``filter``), ``:pause``, ``:resume``, ``:cancel``;
* ``projects/*/agentPools``: create, get, patch (bandwidth limit);
* ``googleServiceAccounts/{project}``.

It validates requests the way the real service documents them (job-name rules,
``OPI`` names for file-system jobs, prefix rules, credentials present, no
object conditions on file-system sources) and answers 400 otherwise, so a bad
translation fails here as it would in the cloud.

Operations run against an in-memory *world* (``url -> (size, etag)``): each GET
of a running operation lists ``list_per_poll`` more source objects and
processes ``copy_per_poll`` of them (copy, skip by sync, or fail with an error
injected through :meth:`StsStub.fail_object`), then deletes sink-only objects
when ``deleteObjectsUniqueInSink`` is set, and ends SUCCESS or FAILED.
Failed objects are reported in ``errorBreakdowns`` with at most 5
``errorLogEntries`` per error code, as STS does.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OP_TYPE = "type.googleapis.com/google.storagetransfer.v1.TransferOperation"
JOB_NAME = re.compile(r"^transferJobs/[A-Za-z0-9\-._~]*[A-Za-z0-9]$")
ROLE_ARN = re.compile(r"^arn:aws:iam::[0-9]{12}:role/.+$")
SECRET = re.compile(r"^projects/[^/]+/secrets/[^/]+$")
UPDATABLE_JOB_FIELDS = frozenset({"description", "transfer_spec", "notification_config", "logging_config",
                                  "status", "schedule", "event_stream"})
"""What a transferJobs.patch may name in its mask (UpdateTransferJobRequest's docstring lists the first
five; gcloud's ``jobs update`` also sends ``schedule`` -- googlecloudsdk/command_lib/transfer/
jobs_apitools_util.py UPDATE_FIELD_MASK -- and the service honours it).  A field named in the mask but
absent from ``transferJob`` is cleared; a field left out of the mask keeps its old value."""
CODES = {"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "ALREADY_EXISTS": 6,
         "PERMISSION_DENIED": 7, "FAILED_PRECONDITION": 9, "ABORTED": 10, "DATA_LOSS": 15, "UNAVAILABLE": 14}


def _canonical(message_type: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The JSON the service would see: enums by name (the client sends ``enum-encoding=int``), no defaults."""
    from google.protobuf import json_format

    pb = message_type.pb()()
    json_format.ParseDict(data, pb, ignore_unknown_fields=False)
    return json_format.MessageToDict(pb, preserving_proto_field_name=False)


class ApiError(Exception):
    def __init__(self, http: int, status: str, message: str) -> None:
        super().__init__(message)
        self.http, self.status, self.message = http, status, message


@dataclass
class _Sim:
    """The simulated progress of one transfer operation."""

    source_root: str
    sink_root: str
    items: list[tuple[str, int, str]]  # (relative name, size, etag), sorted
    include: list[str]
    exclude: list[str]
    delete: bool
    overwrite_when: str
    listed: int = 0
    pending: list[tuple[str, int, str]] = field(default_factory=list)
    """Listed objects the sync did not skip, in listing order (what is copied)."""
    processed: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str = "IN_PROGRESS"
    done: bool = False
    listing_error: tuple[str, str] | None = None


class StsStub:
    """Start with ``StsStub().start()``; ``url`` is the endpoint; ``stop()`` shuts it down."""

    def __init__(self, list_per_poll: int = 3, copy_per_poll: int = 2) -> None:
        self.list_per_poll = list_per_poll
        self.copy_per_poll = copy_per_poll
        self.world: dict[str, tuple[int, str]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.ops: dict[str, dict[str, Any]] = {}
        self.sims: dict[str, _Sim] = {}
        self.pools: dict[str, dict[str, Any]] = {}
        self.object_failures: dict[str, tuple[str, str]] = {}
        self.listing_failures: dict[str, tuple[str, str]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------- test-facing controls
    def put(self, url: str, size: int, etag: str | None = None) -> None:
        """Create (or replace) an object in the simulated world: s3://, gs:// or file:// URL."""
        with self.lock:
            self.world[url] = (size, etag or f"etag-{size}-{len(url)}")

    def fail_object(self, url: str, code: str = "PERMISSION_DENIED", detail: str = "Access Denied") -> None:
        """Copying this source URL fails with ``code``."""
        self.object_failures[url] = (code, detail)

    def fail_listing(self, root_url: str, code: str = "PERMISSION_DENIED", detail: str = "ListObjectsV2: Access Denied") -> None:
        """Listing this source root fails: the operation ends FAILED at once."""
        self.listing_failures[root_url] = (code, detail)

    def add_agent_pool(self, project: str, pool_id: str) -> str:
        name = f"projects/{project}/agentPools/{pool_id}"
        with self.lock:
            self.pools[name] = {"name": name, "state": "CREATED", "displayName": pool_id}
        return name

    def fire_schedules(self) -> list[str]:
        """What the service's scheduler does when a scheduled start comes round: every ENABLED job
        with a ``schedule`` (and no running operation) starts a run, here driven to its end.
        Returns the operations started."""
        started = []
        with self.lock:
            for job in list(self.jobs.values()):
                if job.get("status") != "ENABLED" or not job.get("schedule"):
                    continue
                latest = job.get("latestOperationName")
                if latest and not self.sims[latest].done:
                    continue
                op = self._start_operation(job)
                sim = self.sims[op["name"]]
                while not sim.done:
                    self._advance(sim)
                started.append(op["name"])
        return started

    def under(self, root: str) -> dict[str, tuple[int, str]]:
        with self.lock:
            return {u[len(root):]: v for u, v in self.world.items() if u.startswith(root)}

    def calls(self, method: str | None = None, path_part: str = "") -> list[tuple[str, str, dict[str, Any]]]:
        return [r for r in self.requests if (method is None or r[0] == method) and path_part in r[1]]

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "StsStub":
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="sts-stub").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---------------------------------------------------------------- validation
    @staticmethod
    def _bad(message: str) -> ApiError:
        return ApiError(400, "INVALID_ARGUMENT", message)

    def _validate_job(self, job: dict[str, Any]) -> None:
        name = job.get("name", "")
        spec = job.get("transferSpec") or {}
        if not job.get("projectId"):
            raise self._bad("projectId is required")
        if name and not JOB_NAME.match(name):
            raise self._bad(f"invalid job name {name!r}")
        sources = [k for k in spec if k.endswith("DataSource")]
        if len(sources) != 1:
            raise self._bad(f"exactly one data source is required, got {sources}")
        if "gcsDataSink" not in spec:
            raise self._bad("gcsDataSink is required (this stand-in supports Cloud Storage sinks)")
        posix = "posixDataSource" in spec
        if name and posix != name.startswith("transferJobs/OPI"):
            raise self._bad("file-system transfer job names must start with transferJobs/OPI, others must not")
        for key in ("awsS3DataSource", "gcsDataSource", "gcsDataSink"):
            if key in spec:
                path = spec[key].get("path", "")
                if path and not path.endswith("/"):
                    raise self._bad(f"{key}.path must be empty or end with '/'")
                if not spec[key].get("bucketName"):
                    raise self._bad(f"{key}.bucketName is required")
        aws = spec.get("awsS3DataSource")
        if aws is not None:
            if "awsAccessKey" in aws:
                pass  # allowed by the API; the product must never send it (tests check)
            elif aws.get("roleArn"):
                if not ROLE_ARN.match(aws["roleArn"]):
                    raise self._bad("awsS3DataSource.roleArn is not a role ARN")
            elif aws.get("credentialsSecret"):
                if not SECRET.match(aws["credentialsSecret"]):
                    raise self._bad("awsS3DataSource.credentialsSecret must be projects/*/secrets/*")
            else:
                raise self._bad("awsS3DataSource needs roleArn, credentialsSecret or awsAccessKey")
        if posix:
            root = spec["posixDataSource"].get("rootDirectory", "")
            if not root.startswith("/"):
                raise self._bad("posixDataSource.rootDirectory must be absolute")
            pool = spec.get("sourceAgentPoolName", "")
            if pool not in self.pools:
                raise ApiError(404, "NOT_FOUND", f"agent pool {pool!r} not found")
            if spec.get("objectConditions"):
                raise self._bad("transfers with a PosixFilesystem source don't support ObjectConditions")
        cond = spec.get("objectConditions") or {}
        inc, exc = cond.get("includePrefixes", []), cond.get("excludePrefixes", [])
        for label, prefixes in (("include", inc), ("exclude", exc)):
            if len(prefixes) > 1000:
                raise self._bad(f"at most 1000 {label} prefixes")
            for p in prefixes:
                if not p or p.startswith("/") or "\n" in p or "\r" in p or len(p.encode()) > 1024:
                    raise self._bad(f"invalid {label} prefix {p!r}")
                for q in prefixes:
                    if p != q and q.startswith(p):
                        raise self._bad(f"{label} prefix {p!r} is a prefix of {q!r}")
        if inc:
            for e in exc:
                if not any(e.startswith(i) for i in inc):
                    raise self._bad(f"exclude prefix {e!r} does not start with an include prefix")
        sched = job.get("schedule")
        if sched is not None:
            if "scheduleStartDate" not in sched:
                raise self._bad("schedule.scheduleStartDate is required")
            rep = sched.get("repeatInterval")
            if rep is not None and float(rep.rstrip("s")) < 3600:
                raise self._bad("schedule.repeatInterval may not be less than 1 hour")

    @staticmethod
    def _round_trip(method: str, path: str, body: dict[str, Any]) -> None:
        """Every request body must parse as the library's request message (unknown or mistyped fields are
        refused with 400, as the service's JSON parser refuses them)."""
        from google.cloud import storage_transfer_v1 as st
        from google.protobuf import json_format

        if not body:
            return
        if method == "PATCH" and path.startswith("/v1/transferJobs/"):
            message = st.UpdateTransferJobRequest
        elif method == "POST" and path.endswith(":run"):
            message = st.RunTransferJobRequest
        elif method == "POST" and path == "/v1/transferJobs":
            message = st.TransferJob
        elif "/agentPools" in path:
            message = st.AgentPool
        elif path.endswith((":pause", ":resume")):
            message = st.PauseTransferOperationRequest
        else:
            return
        try:
            # The path parameters (jobName, name) travel in the URL, not the body.
            json_format.ParseDict(body, message.pb()(), ignore_unknown_fields=False)
        except json_format.ParseError as exc:
            raise ApiError(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}") from None

    # ---------------------------------------------------------------- simulation
    @staticmethod
    def _root(spec: dict[str, Any]) -> str:
        if "awsS3DataSource" in spec:
            s = spec["awsS3DataSource"]
            return f"s3://{s['bucketName']}/{s.get('path', '')}"
        if "gcsDataSource" in spec:
            s = spec["gcsDataSource"]
            return f"gs://{s['bucketName']}/{s.get('path', '')}"
        return "file://" + spec["posixDataSource"]["rootDirectory"]

    @staticmethod
    def _selected(rel: str, include: list[str], exclude: list[str]) -> bool:
        if include and not any(rel.startswith(p) for p in include):
            return False
        return not any(rel.startswith(p) for p in exclude)

    def _start_operation(self, job: dict[str, Any]) -> dict[str, Any]:
        spec = job["transferSpec"]
        root = self._root(spec)
        sink = spec["gcsDataSink"]
        sink_root = f"gs://{sink['bucketName']}/{sink.get('path', '')}"
        cond = spec.get("objectConditions") or {}
        include, exclude = cond.get("includePrefixes", []), cond.get("excludePrefixes", [])
        options = spec.get("transferOptions") or {}
        items = sorted(
            (rel, size, etag) for rel, (size, etag) in self.under(root).items() if self._selected(rel, include, exclude)
        )
        number = len(self.ops) + 1
        name = f"transferOperations/transferJobs-{job['name'].split('/', 1)[1]}-{number}"
        sim = _Sim(
            source_root=root, sink_root=sink_root, items=items, include=include, exclude=exclude,
            delete=bool(options.get("deleteObjectsUniqueInSink")),
            overwrite_when=options.get("overwriteWhen", "DIFFERENT"),
        )
        sim.listing_error = self.listing_failures.get(root)
        self.sims[name] = sim
        op = {"name": name, "done": False, "metadata": {
            "@type": OP_TYPE, "name": name, "projectId": job["projectId"], "transferJobName": job["name"],
            "transferSpec": spec, "status": "IN_PROGRESS", "startTime": "2026-01-01T00:00:00Z", "counters": {},
        }}
        self.ops[name] = op
        job["latestOperationName"] = name
        return op

    def _add(self, sim: _Sim, key: str, amount: int) -> None:
        sim.counters[key] = sim.counters.get(key, 0) + amount

    def _error(self, sim: _Sim, code: str, url: str, detail: str) -> None:
        entry = sim.errors.setdefault(code, {"count": 0, "entries": []})
        entry["count"] += 1
        if len(entry["entries"]) < 5:  # STS keeps at most 5 samples per error code
            entry["entries"].append({"url": url, "errorDetails": [detail]})

    def _advance(self, sim: _Sim) -> None:
        if sim.status != "IN_PROGRESS":
            return
        if sim.listing_error is not None:
            code, detail = sim.listing_error
            self._error(sim, code, sim.source_root, detail)
            sim.status, sim.done = "FAILED", True
            return
        newly = sim.items[sim.listed : sim.listed + self.list_per_poll]
        for rel, size, etag in newly:
            # The sync decision is made while listing: an object already in the sink is counted
            # in objectsFromSourceSkippedBySync and NOT in objectsFoundFromSource ("objects found in
            # the data source that are scheduled to be transferred, excluding any that are ...
            # skipped due to sync": TransferCounters in google-cloud-storage-transfer).
            existing = self.world.get(sim.sink_root + rel)
            skip = (existing is not None and sim.overwrite_when == "NEVER") or (
                existing is not None and existing[1] == etag and sim.overwrite_when != "ALWAYS"
            )
            if skip and sim.source_root + rel not in self.object_failures:
                self._add(sim, "objectsFromSourceSkippedBySync", 1)
                self._add(sim, "bytesFromSourceSkippedBySync", size)
            else:
                self._add(sim, "objectsFoundFromSource", 1)
                self._add(sim, "bytesFoundFromSource", size)
                sim.pending.append((rel, size, etag))
        sim.listed += len(newly)
        todo = sim.pending[sim.processed : sim.processed + self.copy_per_poll]
        for rel, size, etag in todo:
            src, dst = sim.source_root + rel, sim.sink_root + rel
            if src in self.object_failures:
                code, detail = self.object_failures[src]
                self._add(sim, "objectsFromSourceFailed", 1)
                self._add(sim, "bytesFromSourceFailed", size)
                self._error(sim, code, src, detail)
            else:
                self.world[dst] = (size, etag)
                self._add(sim, "objectsCopiedToSink", 1)
                self._add(sim, "bytesCopiedToSink", size)
        sim.processed += len(todo)
        if sim.processed < len(sim.pending) or sim.listed < len(sim.items):
            return
        if sim.delete:
            wanted = {rel for rel, _s, _e in sim.items}
            for rel, (size, _etag) in sorted(self.under(sim.sink_root).items()):
                if rel in wanted or not self._selected(rel, sim.include, sim.exclude):
                    continue
                self._add(sim, "objectsFoundOnlyFromSink", 1)
                self._add(sim, "bytesFoundOnlyFromSink", size)
                del self.world[sim.sink_root + rel]
                self._add(sim, "objectsDeletedFromSink", 1)
                self._add(sim, "bytesDeletedFromSink", size)
        sim.status = "FAILED" if sim.errors else "SUCCESS"
        sim.done = True

    def _render(self, name: str) -> dict[str, Any]:
        op, sim = self.ops[name], self.sims[name]
        md = op["metadata"]
        md["status"] = sim.status
        md["counters"] = {k: str(v) for k, v in sim.counters.items() if v}
        if sim.errors:
            md["errorBreakdowns"] = [
                {"errorCode": code, "errorCount": str(e["count"]), "errorLogEntries": e["entries"]}
                for code, e in sorted(sim.errors.items())
            ]
        op["done"] = sim.done
        if sim.done:
            md["endTime"] = "2026-01-01T01:00:00Z"
            if sim.status == "SUCCESS":
                op["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
            else:
                op["error"] = {"code": CODES["ABORTED" if sim.status == "ABORTED" else "UNKNOWN"],
                               "message": f"transfer operation {sim.status}"}
        return json.loads(json.dumps(op))

    # ---------------------------------------------------------------- routes
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> Any:
        with self.lock:
            self.requests.append((method, path, body))
            from google.cloud import storage_transfer_v1 as st

            self._round_trip(method, path, body)

            if method == "POST" and path == "/v1/transferJobs":
                job = _canonical(st.TransferJob, body)
                if not job.get("name"):
                    job["name"] = f"transferJobs/{len(self.jobs) + 1000}"
                self._validate_job(job)
                if job["name"] in self.jobs:
                    raise ApiError(409, "ALREADY_EXISTS", f"{job['name']} already exists")
                job.setdefault("status", "ENABLED")
                job["creationTime"] = job["lastModificationTime"] = "2026-01-01T00:00:00Z"
                self.jobs[job["name"]] = job
                return job
            if method == "GET" and path == "/v1/transferJobs":
                flt = json.loads(query.get("filter", ["{}"])[0])
                names = flt.get("jobNames")
                return {"transferJobs": [j for j in self.jobs.values()
                                         if j["projectId"] == flt.get("projectId") and (not names or j["name"] in names)]}
            m = re.fullmatch(r"/v1/(transferJobs/[^:]+)(:run)?", path)
            if m:
                name = m.group(1)
                if name not in self.jobs:
                    raise ApiError(404, "NOT_FOUND", f"{name} not found")
                job = self.jobs[name]
                if method == "GET":
                    if query.get("projectId", [""])[0] != job["projectId"]:
                        raise self._bad("projectId is required and must match the job")
                    return job
                if method == "PATCH":
                    mask = body.get("updateTransferJobFieldMask", "")
                    paths = [p.strip() for p in mask.split(",") if p.strip()]
                    if not paths:
                        raise self._bad("updateTransferJobFieldMask is required")
                    update = _canonical(st.TransferJob, body.get("transferJob") or {})
                    candidate = dict(job)
                    for p in paths:
                        # FieldMask's JSON form is lowerCamelCase (google.protobuf.FieldMask docs).
                        if re.sub(r"([A-Z])", lambda x: "_" + x.group(1).lower(), p) not in UPDATABLE_JOB_FIELDS:
                            raise self._bad(f"updateTransferJobFieldMask: {p!r} cannot be updated")
                        key = re.sub(r"_([a-z])", lambda x: x.group(1).upper(), p)
                        if key in update:
                            candidate[key] = update[key]
                        else:
                            candidate.pop(key, None)
                    self._validate_job(candidate)
                    candidate["lastModificationTime"] = "2026-01-01T00:30:00Z"
                    self.jobs[name] = candidate
                    return candidate
                if method == "POST" and m.group(2):
                    latest = job.get("latestOperationName")
                    if latest and self.sims[latest].status in ("IN_PROGRESS", "PAUSED", "QUEUED"):
                        raise ApiError(400, "FAILED_PRECONDITION", f"{name} already has a running operation")
                    if job.get("status") != "ENABLED":
                        raise ApiError(400, "FAILED_PRECONDITION", f"{name} is not enabled")
                    op = self._start_operation(job)
                    return self._render(op["name"])
            if method == "GET" and path == "/v1/transferOperations":
                flt = json.loads(query.get("filter", ["{}"])[0])
                if not flt.get("projectId"):
                    raise self._bad("filter.projectId is required")
                names = flt.get("jobNames")
                out = [self._render(n) for n, op in self.ops.items()
                       if op["metadata"]["projectId"] == flt["projectId"]
                       and (not names or op["metadata"]["transferJobName"] in names)]
                return {"operations": out}
            m = re.fullmatch(r"/v1/(transferOperations/[^:]+)(:pause|:resume|:cancel)?", path)
            if m:
                name = m.group(1)
                if name not in self.ops:
                    raise ApiError(404, "NOT_FOUND", f"{name} not found")
                sim = self.sims[name]
                action = m.group(2)
                if method == "GET" and not action:
                    self._advance(sim)
                    return self._render(name)
                if method == "POST" and action == ":pause":
                    if sim.status != "IN_PROGRESS":
                        raise ApiError(400, "FAILED_PRECONDITION", f"cannot pause an operation that is {sim.status}")
                    sim.status = "PAUSED"
                    return {}
                if method == "POST" and action == ":resume":
                    if sim.status != "PAUSED":
                        raise ApiError(400, "FAILED_PRECONDITION", f"cannot resume an operation that is {sim.status}")
                    sim.status = "IN_PROGRESS"
                    return {}
                if method == "POST" and action == ":cancel":
                    if not sim.done:
                        sim.status, sim.done = "ABORTED", True
                    return {}
            m = re.fullmatch(r"/v1/projects/([^/]+)/agentPools(?:/([^/]+))?", path)
            if m:
                project, pool_id = m.group(1), m.group(2)
                if method == "POST" and pool_id is None:
                    pid = query.get("agentPoolId", [""])[0]
                    name = f"projects/{project}/agentPools/{pid}"
                    self.pools[name] = dict(_canonical(st.AgentPool, body), name=name, state="CREATED")
                    return self.pools[name]
                name = f"projects/{project}/agentPools/{pool_id}"
                if name not in self.pools:
                    raise ApiError(404, "NOT_FOUND", f"{name} not found")
                if method == "GET":
                    return self.pools[name]
                if method == "PATCH":
                    body = _canonical(st.AgentPool, body)
                    mask = query.get("updateMask", [""])[0]
                    if not [x for x in mask.split(",") if x]:
                        raise self._bad("updateMask is required")
                    for p in (x for x in mask.split(",") if x):
                        if re.sub(r"([A-Z])", lambda x: "_" + x.group(1).lower(), p) not in (
                                "bandwidth_limit", "display_name"):
                            raise self._bad(f"updateMask: {p!r} cannot be updated on an agent pool")
                        key = re.sub(r"_([a-z])", lambda x: x.group(1).upper(), p)
                        if key in body:
                            self.pools[name][key] = body[key]
                        else:
                            self.pools[name].pop(key, None)
                    return self.pools[name]
            m = re.fullmatch(r"/v1/googleServiceAccounts/([^/]+)", path)
            if m and method == "GET":
                return {"accountEmail": f"project-123@storage-transfer-service.iam.gserviceaccount.com",
                        "subjectId": "123456789"}
            raise ApiError(404, "NOT_FOUND", f"no route for {method} {path}")


class _Handler(BaseHTTPRequestHandler):
    stub: StsStub

    def _serve(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
            reply, code = self.stub.handle(self.command, urllib.parse.unquote(parts.path),
                                           urllib.parse.parse_qs(parts.query), body), 200
        except ApiError as exc:
            reply, code = {"error": {"code": exc.http, "message": exc.message, "status": exc.status}}, exc.http
        data = json.dumps(reply).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass
