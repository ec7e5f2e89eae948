"""Helpers for the verification tests: contexts, loss curves, a latency server with a known distribution."""

from __future__ import annotations

import http.server
import math
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from engine.verify.checks.base import CheckContext
from engine.verify.section import VerifySection

PY = sys.executable


def section(**data: Any) -> VerifySection:
    return VerifySection.model_validate(data)


def context(tmp: Path, nvml_api: Any = None, gpu_count: int | None = None, gpu_model: str | None = None,
            **data: Any) -> CheckContext:
    return CheckContext(section=section(**data), base_dir=tmp, nvml_api=nvml_api, target_gpu_count=gpu_count,
                        target_gpu_model=gpu_model)


def loss_curve(seed: int, steps: range = range(0, 1001, 10), noise: float = 0.003,
               scale: float = 1.0) -> list[tuple[int, float]]:
    rng = random.Random(seed)
    return [(s, scale * (0.3 + 2.2 * math.exp(-s / 300)) + rng.gauss(0, noise)) for s in steps]


def write_csv(path: Path, points: list[tuple[int, float]], header: bool = True) -> Path:
    path.write_text(("step,loss\n" if header else "") + "".join(f"{s},{v!r}\n" for s, v in points))
    return path


# --- a latency server: request i sleeps SLEEPS[i % len]; the distribution is known -------------------

FAST_S, SLOW_S = 0.004, 0.060
REQUESTS = 200
SLOW_EVERY = 50
"""One request in 50 is slow: 4 of 200, so the nearest-rank P99 (the 198th of 200) is a slow one
and P95 (the 190th) a fast one."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    counter = 0
    lock = threading.Lock()
    fail_every = 0

    def do_GET(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.lock:
            n = type(self).counter
            type(self).counter += 1
        if self.path.startswith("/fail") and type(self).fail_every and n % type(self).fail_every == 0:
            body = b'{"error": "overloaded"}'
            self.send_response(503)
        else:
            time.sleep(SLOW_S if n % SLOW_EVERY == SLOW_EVERY - 1 else FAST_S)
            body = b'{"label": 1}'
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


class LatencyServer:
    def __init__(self, fail_every: int = 0):
        handler = type("H", (_Handler,), {"counter": 0, "fail_every": fail_every, "lock": threading.Lock()})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.handler = handler
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "LatencyServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        self.handler.counter = 0


def cutover_profile(tmp_path: Path, name: str, approval: str = '["cutover"]') -> Path:
    """A verification that passes here (one convergence check, GPUs optional) and a one-item runbook, on a shared
    account (alice and bob are names declared on one OS account); ``approval``: ``[cutover] require_approval``."""
    write_csv(tmp_path / "base.csv", loss_curve(1))
    write_csv(tmp_path / "target.csv", loss_curve(2))
    path = tmp_path / "p.toml"
    path.write_text(f'name = "{name}"\n[source]\nprovider = "local"\n'
                    '[verify]\nchecks = ["convergence"]\n[verify.gpu]\noptional = true\n'
                    '[verify.convergence]\nbaseline_file = "base.csv"\ntarget_file = "target.csv"\nsmoothing = 3\n'
                    f'[cutover]\nshared_account = true\nrequire_approval = {approval}\n'
                    '[[cutover.runbook]]\ntitle = "DNS switched"\n')
    return path


def serve(fail_every: int = 0) -> Iterator[LatencyServer]:
    with LatencyServer(fail_every) as server:
        yield server


def second_person(session_name: str, operator: str, approve: bool, action: str | None = None,
                  tries: int = 300) -> threading.Thread:
    """A started thread in which another operator decides the first pending approval (of ``action``).

    The way a second person answers an accept-with-known-gaps request: join it after the sign-off returns.
    """
    from engine.session import SessionStore

    def decide() -> None:
        with SessionStore.open(session_name, operator=operator) as other:
            for _ in range(tries):
                pending = [a for a in other.approvals("pending") if action is None or a.action == action]
                if pending:
                    other.decide_approval(pending[0].id, approve)
                    return
                time.sleep(0.02)

    helper = threading.Thread(target=decide)
    helper.start()
    return helper
