"""Stand-ins on 127.0.0.1 for the ops tests.

* ``MonitoringStub``: the Cloud Monitoring AlertPolicyService over gRPC (the only
  transport google-cloud-monitoring ships): list (paged), get, create, update
  (honouring the update mask), delete.  Like the real service it names policies
  and their conditions, adds creation/mutation records and keeps a request log,
  and it refuses what the service refuses: a filter on a metric type the project
  has no descriptor for (NOT_FOUND: only what the Ops Agent and Compute Engine
  write exists, from engine/ops/data/metric_descriptors.json, recorded from the
  agents' published metadata), a label the metric or resource does not have
  (INVALID_ARGUMENT), condition durations that are not whole minutes, absence
  durations under 120 s, anything over 23.5 h, alignment periods under 60 s.
* ``BudgetsStub``: the Billing Budgets API v1 over REST (JSON, camelCase), and Cloud Resource Manager
  v3 ``projects.get`` (id -> number) on the same server:
  billingAccounts.budgets list (paged with pageToken), get, create, patch
  (updateMask, etag check), delete.  Like the real service it adds server-side
  defaults (creditTypesTreatment, calendarPeriod) and a fresh etag per change,
  stores ``projects/NUMBER`` for the ``projects/ID`` it is sent, accepts only
  EMAIL notification channels (at most 5), and one filter label with one value
  (budget_model.py docstrings in google-cloud-billing-budgets).
* ``MetadataStub``: the metadata server's ``instance/preempted`` (requires the
  ``Metadata-Flavor: Google`` header, answers 403 without it like the real one).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
import uuid
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable


# --- Cloud Monitoring (gRPC) ------------------------------------------------

MAX_DURATION_S = 23 * 3600 + 1800
"""Cloud Monitoring's longest condition duration (23.5 h)."""


class NotFoundError(KeyError):
    """The service answers NOT_FOUND (e.g. no metric descriptor of that type in the project)."""


def recorded_descriptors() -> dict[str, Any]:
    """The metric descriptors the agents write (engine/ops/data/metric_descriptors.json, origins inside)."""
    path = Path(__file__).resolve().parents[1] / "engine" / "ops" / "data" / "metric_descriptors.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _filter_clauses(text: str) -> list[tuple[str, str, str]]:
    """(subject, key, value) for each ``subject.key = "value"`` clause of an AND filter."""
    out = []
    for clause in re.split(r"\s+AND\s+", text.strip()):
        m = re.fullmatch(r'\s*(metric|resource)\.(type|labels?\.[A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"\s*', clause)
        if not m:
            raise ValueError(f"could not parse filter clause {clause!r}")
        out.append((m.group(1), m.group(2).split(".", 1)[-1] if "." in m.group(2) else "type", m.group(3)))
    return out


def check_filter(text: str) -> str:
    """The metric type a filter selects; NotFoundError / ValueError the way the API refuses it."""
    doc = recorded_descriptors()
    clauses = _filter_clauses(text)
    types = {s: v for s, k, v in clauses if k == "type"}
    metric = types.get("metric")
    if not metric:
        raise ValueError("filter must name a metric.type")
    entry = doc["metrics"].get(metric)
    if entry is None or not entry["written_by_default"]:
        # No time series was ever written, so the project has no descriptor of that type.
        raise NotFoundError(f"Cannot find metric(s) that match type = \"{metric}\"")
    resource = types.get("resource", "gce_instance")
    resource_labels = doc["resource_labels"].get(resource)
    if resource_labels is None:
        raise ValueError(f"unknown resource type {resource!r}")
    for subject, key, _value in clauses:
        if key == "type":
            continue
        known = entry["labels"] if subject == "metric" else resource_labels
        if key not in known or key.startswith("_"):
            raise ValueError(f"The filter names the label {subject}.label.{key}, which {metric if subject == 'metric' else resource} does not have")
    return metric


def series_matches(text: str, series: dict[str, Any]) -> bool:
    """Would a time series ``{"metric": {"type", "labels"}, "resource": {"type", "labels"}}`` pass the filter?"""
    for subject, key, value in _filter_clauses(text):
        part = series[subject]
        got = part["type"] if key == "type" else part["labels"].get(key)
        if got != value:
            return False
    return True


def agent_series(metric: str, **values: str) -> list[dict[str, Any]]:
    """Every time-series shape the agent writes for ``metric``: one per combination of enumerated label
    values (free-text labels take ``values`` or a sample), on a gce_instance."""
    import itertools

    entry = recorded_descriptors()["metrics"][metric]
    keys = sorted(entry["labels"])
    choices = [entry["labels"][k] or [values.get(k, f"sample-{k}")] for k in keys]
    resource = {"type": "gce_instance", "labels": {"project_id": "p", "instance_id": "1",
                                                   "zone": values.get("zone", "us-central1-a")}}
    return [{"metric": {"type": metric, "labels": dict(zip(keys, combo))}, "resource": resource}
            for combo in itertools.product(*choices)]


def check_aggregation(agg: Any, metric: str) -> None:
    if agg.alignment_period and agg.alignment_period.total_seconds() < 60:
        raise ValueError("alignment_period must be at least 60s")
    labels = recorded_descriptors()["metrics"][metric]["labels"]
    for path in agg.group_by_fields:
        m = re.fullmatch(r"(metric|resource)\.labels?\.([A-Za-z_][A-Za-z0-9_]*)", path)
        if not m:
            raise ValueError(f"group_by_fields: cannot read {path!r}")
        known = labels if m.group(1) == "metric" else recorded_descriptors()["resource_labels"]["gce_instance"]
        if m.group(2) not in known:
            raise ValueError(f"group_by_fields: {path!r} is not a label of {metric}")


def check_duration(duration: Any, *, absent: bool) -> None:
    seconds = duration.total_seconds()
    if seconds % 60:
        raise ValueError(f"duration {seconds:g}s: only multiples of a minute are supported")
    if absent and seconds < 120:
        raise ValueError(f"duration {seconds:g}s: an absence condition needs at least 120s")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration {seconds:g}s is longer than 23.5 hours")


class MonitoringStub:
    SERVICE = "google.monitoring.v3.AlertPolicyService"

    def __init__(self, page_size: int = 2):
        import grpc
        from google.cloud import monitoring_v3 as m

        self.m = m
        self.page_size = page_size
        self.policies: dict[str, Any] = {}
        self.calls: list[tuple[str, Any]] = []
        self._refusals: list[tuple[str, Any, str]] = []
        self._lock = threading.Lock()
        self._clock = 1_700_000_000

        def handler(fn: Callable[[Any], Any], req_type: Any, resp_type: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                lambda request, context: self._call(fn, request, context),
                request_deserializer=req_type.deserialize, response_serializer=resp_type.serialize)

        from google.protobuf import empty_pb2

        class _Empty:
            serialize = staticmethod(lambda msg: msg.SerializeToString())

        methods = {
            "ListAlertPolicies": handler(self._list, m.ListAlertPoliciesRequest, m.ListAlertPoliciesResponse),
            "GetAlertPolicy": handler(self._get, m.GetAlertPolicyRequest, m.AlertPolicy),
            "CreateAlertPolicy": handler(self._create, m.CreateAlertPolicyRequest, m.AlertPolicy),
            "UpdateAlertPolicy": handler(self._update, m.UpdateAlertPolicyRequest, m.AlertPolicy),
            "DeleteAlertPolicy": handler(self._delete, m.DeleteAlertPolicyRequest, _Empty),
        }
        self._empty = empty_pb2.Empty
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(self.SERVICE, methods),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"127.0.0.1:{self.port}"

    def start(self) -> "MonitoringStub":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=None)

    def client(self) -> Any:
        from engine.ops.alerts import monitoring_client

        return monitoring_client(self.endpoint)

    def mutations(self) -> list[str]:
        return [name for name, _ in self.calls if name in ("create", "update", "delete")]

    def refuse_create(self, display_name_part: str, code: Any, message: str) -> None:
        """Test control: creating a policy whose display name contains ``display_name_part`` fails with
        ``code`` (e.g. a notification channel the service will not use)."""
        self._refusals.append((display_name_part, code, message))

    # -- handlers --
    def _call(self, fn: Callable[[Any], Any], request: Any, context: Any) -> Any:
        import grpc

        with self._lock:
            if fn == self._create:
                for part, code, message in self._refusals:
                    if part in request.alert_policy.display_name:
                        context.abort(code, message)
            try:
                return fn(request)
            except NotFoundError as exc:
                context.abort(grpc.StatusCode.NOT_FOUND, str(exc.args[0]))
            except KeyError as exc:
                context.abort(grpc.StatusCode.NOT_FOUND, f"no such alert policy {exc}")
            except ValueError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    def _record(self) -> Any:
        self._clock += 1
        from google.protobuf import timestamp_pb2

        return self.m.MutationRecord(mutate_time=timestamp_pb2.Timestamp(seconds=self._clock),
                                     mutated_by="stub@example.test")

    def _list(self, req: Any) -> Any:
        self.calls.append(("list", req.name))
        mine = sorted(n for n in self.policies if n.startswith(req.name + "/alertPolicies/"))
        start = int(req.page_token or 0)
        page = mine[start:start + self.page_size]
        nxt = str(start + self.page_size) if start + self.page_size < len(mine) else ""
        return self.m.ListAlertPoliciesResponse(alert_policies=[self.policies[n] for n in page],
                                                next_page_token=nxt, total_size=len(mine))

    def _get(self, req: Any) -> Any:
        self.calls.append(("get", req.name))
        return self.policies[req.name]

    def _validate(self, policy: Any) -> None:
        if not policy.display_name:
            raise ValueError("display_name is required")
        if not policy.conditions:
            raise ValueError("at least one condition is required")
        for cond in policy.conditions:
            kinds = [k for k in ("condition_threshold", "condition_absent", "condition_prometheus_query_language",
                                 "condition_monitoring_query_language") if k in cond]
            if len(kinds) != 1:
                raise ValueError(f"condition {cond.display_name!r} needs exactly one kind")
            body = getattr(cond, kinds[0])
            if hasattr(body, "filter") and 'metric.type = "' not in body.filter:
                raise ValueError(f"condition {cond.display_name!r}: filter must name a metric.type")
            if kinds[0] in ("condition_threshold", "condition_absent"):
                metric = check_filter(body.filter)
                for agg in body.aggregations:
                    check_aggregation(agg, metric)
                if kinds[0] == "condition_threshold" and body.denominator_filter:
                    denominator = check_filter(body.denominator_filter)
                    for agg in body.denominator_aggregations:
                        check_aggregation(agg, denominator)
                check_duration(body.duration, absent=kinds[0] == "condition_absent")

    def _name_conditions(self, policy: Any) -> None:
        for cond in policy.conditions:
            if not cond.name:
                cond.name = f"{policy.name}/conditions/{uuid.uuid4().int % 10**19}"

    def _create(self, req: Any) -> Any:
        self.calls.append(("create", req.alert_policy.display_name))
        policy = self.m.AlertPolicy(req.alert_policy)
        if policy.name:
            raise ValueError("name must be empty on create")
        self._validate(policy)
        policy.name = f"{req.name}/alertPolicies/{uuid.uuid4().int % 10**19}"
        self._name_conditions(policy)
        record = self._record()
        policy.creation_record = record
        policy.mutation_record = record
        self.policies[policy.name] = policy
        return policy

    def _update(self, req: Any) -> Any:
        paths = list(req.update_mask.paths)
        self.calls.append(("update", (req.alert_policy.name, paths)))
        current = self.policies[req.alert_policy.name]
        if not paths:
            updated = self.m.AlertPolicy(req.alert_policy)
            updated.creation_record = current.creation_record
        else:
            updated = self.m.AlertPolicy(current)
            for path in paths:
                if path not in self.m.AlertPolicy.meta.fields:
                    raise ValueError(f"unknown update_mask path {path!r}")
                setattr(updated, path, getattr(req.alert_policy, path))
        self._validate(updated)
        self._name_conditions(updated)
        updated.mutation_record = self._record()
        self.policies[updated.name] = updated
        return updated

    def _delete(self, req: Any) -> Any:
        self.calls.append(("delete", req.name))
        del self.policies[req.name]
        return self._empty()


# --- Billing Budgets (REST) -------------------------------------------------


class BudgetsStub:
    def __init__(self, page_size: int = 1, project_numbers: dict[str, str] | None = None,
                 channels: dict[str, str] | None = None):
        self.page_size = page_size
        self.project_numbers = dict(project_numbers or {"demo-gpu-project": "123456789012"})
        """project id -> number (what the service stores in budgetFilter.projects)."""
        self.channels = dict(channels or {})
        """notification channel name -> type ("email", "slack", ...): the channels that exist."""
        self.budgets: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _handle(self, method: str) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                with stub._lock:
                    stub.requests.append((method, url.path, query))
                    code, body = stub.dispatch(method, url.path, query, self._body() if method in ("POST", "PATCH")
                                               else {})
                self._send(code, body)

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def do_PATCH(self) -> None:  # noqa: N802
                self._handle("PATCH")

            def do_DELETE(self) -> None:  # noqa: N802
                self._handle("DELETE")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "BudgetsStub":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def client(self) -> Any:
        from engine.ops.budget import budgets_client

        return budgets_client(self.url)

    def mutations(self) -> list[str]:
        return [m for m, _p, _q in self.requests if m in ("POST", "PATCH", "DELETE")]

    @staticmethod
    def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
        return code, {"error": {"code": code, "message": message, "status": status}}

    def _defaults(self, budget: dict[str, Any]) -> None:
        flt = budget.setdefault("budgetFilter", {})
        flt.setdefault("creditTypesTreatment", "INCLUDE_ALL_CREDITS")
        if "customPeriod" not in flt:
            flt.setdefault("calendarPeriod", "MONTH")
        budget["etag"] = uuid.uuid4().hex

    def _validate(self, budget: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        amount = budget.get("amount", {})
        if not amount.get("specifiedAmount") and "lastPeriodAmount" not in amount:
            return self._error(400, "INVALID_ARGUMENT", "budget.amount is required")
        for rule in budget.get("thresholdRules", []):
            if not 0 < float(rule.get("thresholdPercent", 0)):
                return self._error(400, "INVALID_ARGUMENT", "thresholdPercent must be > 0")
        channels = budget.get("notificationsRule", {}).get("monitoringNotificationChannels", [])
        if len(channels) > 5:
            return self._error(400, "INVALID_ARGUMENT", "at most 5 notification channels")
        for channel in channels:
            kind = self.channels.get(channel)
            if kind is None:
                return self._error(400, "INVALID_ARGUMENT", f"notification channel {channel} does not exist")
            if kind != "email":
                return self._error(400, "INVALID_ARGUMENT", f"notification channel {channel} is a {kind} channel: "
                                   "budget alerts support only email notification channels")
        flt = budget.get("budgetFilter", {})
        labels = flt.get("labels", {})
        if len(labels) > 1 or any(len(v) != 1 for v in labels.values()):
            return self._error(400, "INVALID_ARGUMENT", "budgetFilter.labels: one label with one value at most")
        numbered = []
        for project in flt.get("projects", []):
            pid = project.split("/", 1)[1]
            if pid.isdigit():
                numbered.append(project)
            elif pid in self.project_numbers:
                numbered.append(f"projects/{self.project_numbers[pid]}")
            else:
                return self._error(400, "INVALID_ARGUMENT", f"project {pid} not found")
        if "projects" in flt:
            flt["projects"] = numbered  # the service stores and returns project numbers
        return None

    def dispatch(self, method: str, path: str, query: dict[str, list[str]],
                 body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v3", "projects"]:
            # Cloud Resource Manager v3 projects.get, for the id -> number lookup (same loopback server)
            if parts[2] not in self.project_numbers:
                return self._error(403, "PERMISSION_DENIED", f"no access to project {parts[2]}")
            return 200, {"name": f"projects/{self.project_numbers[parts[2]]}", "projectId": parts[2]}
        if len(parts) < 4 or parts[0] != "v1" or parts[1] != "billingAccounts" or parts[3] != "budgets":
            return self._error(404, "NOT_FOUND", f"no route {path}")
        if body:  # the body must parse as the library's Budget message, as the service's JSON parser demands
            from google.cloud.billing import budgets_v1
            from google.protobuf import json_format

            try:
                json_format.ParseDict(body, budgets_v1.Budget.pb()(), ignore_unknown_fields=False)
            except json_format.ParseError as exc:
                return self._error(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}")
        parent = f"billingAccounts/{parts[2]}"
        if len(parts) == 4:
            if method == "GET":
                names = sorted(n for n in self.budgets if n.startswith(parent + "/"))
                start = int((query.get("pageToken") or ["0"])[0] or 0)
                page = names[start:start + self.page_size]
                nxt = str(start + self.page_size) if start + self.page_size < len(names) else ""
                out: dict[str, Any] = {"budgets": [self.budgets[n] for n in page]}
                if nxt:
                    out["nextPageToken"] = nxt
                return 200, out
            if method == "POST":
                if body.get("name"):
                    return self._error(400, "INVALID_ARGUMENT", "name must be empty on create")
                problem = self._validate(body)
                if problem:
                    return problem
                body["name"] = f"{parent}/budgets/{uuid.uuid4()}"
                self._defaults(body)
                self.budgets[body["name"]] = body
                return 200, body
        name = "/".join(parts[1:6])
        if name not in self.budgets:
            return self._error(404, "NOT_FOUND", f"budget {name} not found")
        if method == "GET":
            return 200, self.budgets[name]
        if method == "DELETE":
            del self.budgets[name]
            return 200, {}
        if method == "PATCH":
            current = self.budgets[name]
            if body.get("etag") and body["etag"] != current["etag"]:
                return self._error(409, "ABORTED", "etag mismatch")
            mask = [p for p in ",".join(query.get("updateMask", [])).split(",") if p]
            updated = dict(current) if mask else {"name": name}
            camel = {"display_name": "displayName", "budget_filter": "budgetFilter", "amount": "amount",
                     "threshold_rules": "thresholdRules", "notifications_rule": "notificationsRule",
                     "displayName": "displayName", "budgetFilter": "budgetFilter", "thresholdRules":
                     "thresholdRules", "notificationsRule": "notificationsRule"}
            for key in (mask or [k for k in body if k not in ("name", "etag")]):
                if key not in camel:
                    return self._error(400, "INVALID_ARGUMENT", f"unknown updateMask path {key}")
                field = camel[key]
                if field in body:
                    updated[field] = body[field]
                else:
                    updated.pop(field, None)
            problem = self._validate(updated)
            if problem:
                return problem
            self._defaults(updated)
            self.budgets[name] = updated
            return 200, updated
        return self._error(405, "UNIMPLEMENTED", f"{method} {path}")


# --- the metadata server's preemption notice ----------------------------------


class MetadataStub:
    """Answers ``/computeMetadata/v1/instance/preempted`` like the metadata server.

    Every answer carries an ``ETag``; a request with ``?wait_for_change=true&last_etag=E`` hangs until the
    value's ETag differs from ``E`` (or ``timeout_sec`` passes), as the real server does.  With a script
    of ``answers`` each request takes the next one (the last one stays); :meth:`set` changes the value
    at any time and wakes the hanging requests.
    """

    def __init__(self, answers: list[str]):
        self.answers = list(answers)
        self.value = self.answers[0]
        self.version = 0
        self.requests: list[dict[str, str]] = []
        self._changed = threading.Condition()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                stub.requests.append({"path": url.path, "flavor": self.headers.get("Metadata-Flavor", ""),
                                      "wait": query.get("wait_for_change", [""])[0]})
                if self.headers.get("Metadata-Flavor") != "Google":
                    code, text, etag = 403, "Missing Metadata-Flavor:Google header.", ""
                elif url.path != "/computeMetadata/v1/instance/preempted":
                    code, text, etag = 404, "not found", ""
                else:
                    code = 200
                    text, etag = stub._answer(query)
                data = text.encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/text")
                    self.send_header("Metadata-Flavor", "Google")
                    if etag:
                        self.send_header("ETag", etag)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the watcher stopped its hanging read (SIGTERM): nobody is listening any more

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/computeMetadata/v1"

    def _etag(self) -> str:
        return f"{self.version:016x}"

    def set(self, value: str) -> None:
        """Change the value now (wakes every request waiting for a change)."""
        with self._changed:
            self.value = value
            self.version += 1
            self._changed.notify_all()

    def _answer(self, query: dict[str, list[str]]) -> tuple[str, str]:
        import time

        with self._changed:
            if self.answers:  # a scripted answer: each request takes the next one at once
                nxt = self.answers.pop(0)
                if nxt != self.value or self.version == 0:
                    self.value = nxt
                    self.version += 1
                return self.value, self._etag()
            if query.get("wait_for_change", [""])[0] == "true":
                last = query.get("last_etag", [""])[0]
                deadline = time.monotonic() + float(query.get("timeout_sec", ["60"])[0])
                while last == self._etag() and time.monotonic() < deadline:
                    self._changed.wait(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
            return self.value, self._etag()

    def start(self) -> "MetadataStub":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
