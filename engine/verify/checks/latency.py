"""Inference latency: N timed requests to an HTTP endpoint (or runs of a command).

Requests are sent one after another on one keep-alive connection (the
connection is re-opened after an error), each timed from sending the request
to reading the whole response.  Percentiles use the nearest-rank method.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.parse
from typing import Any

from engine.verify.checks.base import CheckContext, CheckError, Skip, Verdict, percentile
from engine.verify.commands import expand, run_command

NAME = "latency"
TITLE = "Inference latency"
MEASURES = "P50/P95/P99 of N sequential requests (nearest-rank percentiles)"

HISTOGRAM_BINS = 30

MIN_P99_SAMPLES = 100
"""Below 100 timed requests the nearest-rank P99 is the slowest request: 40 requests all under the limit do not
show that 99 in 100 are (a 1-in-100 slow request is missed a third of the time).  Too few requests can still
FAIL (one slow request in fewer than 100 is more than 1 %); they cannot PASS."""


def measure(ctx: CheckContext) -> dict[str, Any]:
    cfg = ctx.section.latency
    if cfg.url:
        samples, errors, output, method = _http(ctx)
    elif cfg.command:
        samples, errors, output, method = _commands(ctx)
    else:
        raise Skip("no endpoint configured ([verify.latency] url or command)")
    attempted = len(samples) + len(errors)
    if not samples:
        raise CheckError(f"all {attempted} requests failed: {errors[0] if errors else 'no requests'}", output)
    error_rate = len(errors) / attempted
    if error_rate > cfg.max_error_rate:
        raise CheckError(f"{len(errors)} of {attempted} requests failed ({error_rate:.1%}, allowed "
                         f"{cfg.max_error_rate:.1%}); first: {errors[0]}", output)
    ms = [s * 1000.0 for s in samples]
    return {
        "requests": len(ms), "errors": len(errors), "method": method,
        "p50_ms": round(percentile(ms, 50), 3), "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3), "mean_ms": round(sum(ms) / len(ms), 3),
        "max_ms": round(max(ms), 3), "histogram": histogram(ms, HISTOGRAM_BINS), "_output": output,
    }


def histogram(ms: list[float], bins: int) -> dict[str, Any]:
    """Equal-width bins from the minimum to the maximum (for the report's plot)."""
    lo, hi = min(ms), max(ms)
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for value in ms:
        counts[min(bins - 1, int((value - lo) / width))] += 1
    return {"lo_ms": round(lo, 3), "width_ms": round(width, 4), "counts": counts}


def _http(ctx: CheckContext) -> tuple[list[float], list[str], str, str]:
    cfg = ctx.section.latency
    url = urllib.parse.urlsplit(cfg.url or "")
    body = ctx.path(cfg.body_file).read_bytes() if cfg.body_file else None
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    headers = {"Connection": "keep-alive", "User-Agent": "gpumigrate-verify"}
    if body is not None:
        headers["Content-Type"] = cfg.content_type
    conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn: http.client.HTTPConnection | None = None
    samples: list[float] = []
    errors: list[str] = []
    last_body = b""
    total = cfg.warmup + cfg.requests
    for i in range(total):
        if ctx.cancel.is_set():
            raise CheckError("cancelled")
        started = time.perf_counter()
        try:
            if conn is None:
                conn = conn_cls(url.hostname or "127.0.0.1", url.port, timeout=cfg.timeout_s)
                conn.connect()  # connecting is part of the first request's time, as for any client
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.request(cfg.method, target, body=body, headers=headers)
            resp = conn.getresponse()
            last_body = resp.read()
            elapsed = time.perf_counter() - started
            status = resp.status
        except (OSError, http.client.HTTPException) as exc:
            if conn is not None:
                conn.close()
            conn = None
            if i >= cfg.warmup:
                errors.append(f"{type(exc).__name__}: {exc}")
            continue
        if i >= cfg.warmup:
            if 200 <= status < 300:
                samples.append(elapsed)
            else:
                errors.append(f"HTTP {status}: {last_body[:200].decode('utf-8', 'replace')}")
        if i % 10 == 0 or i == total - 1:
            ctx.progress(i + 1, total)
    if conn is not None:
        conn.close()
    output = f"{cfg.method} {cfg.url}\nlast response: {last_body[:500].decode('utf-8', 'replace')}"
    method = (f"{cfg.requests} sequential HTTP {cfg.method} requests on one keep-alive connection (TCP_NODELAY) after "
              f"{cfg.warmup} warm-up; time from send to last byte; nearest-rank percentiles")
    return samples, errors, output, method


def _commands(ctx: CheckContext) -> tuple[list[float], list[str], str, str]:
    cfg = ctx.section.latency
    argv = expand(cfg.command or [], ctx.base_dir)
    samples: list[float] = []
    errors: list[str] = []
    transcript = ""
    total = cfg.warmup + cfg.requests
    for i in range(total):
        if ctx.cancel.is_set():
            raise CheckError("cancelled")
        run = run_command(argv, cwd=ctx.base_dir, timeout_s=cfg.timeout_s, env=ctx.section.env, cancel=ctx.cancel)
        why = run.failure()
        if why:
            transcript = run.transcript()
            if i >= cfg.warmup:
                errors.append(f"the command {why}")
            continue
        if not transcript:
            transcript = run.transcript()
        if i >= cfg.warmup:
            samples.append(run.seconds)
        if i % 10 == 0 or i == total - 1:
            ctx.progress(i + 1, total)
    method = (f"{cfg.requests} sequential runs of the command after {cfg.warmup} warm-up; wall time of each "
              "run including process start; nearest-rank percentiles")
    return samples, errors, transcript, method


def _kind(method: str) -> str:
    """What a latency figure timed, from its method line: HTTP requests, or runs of a command (process start in)."""
    return "HTTP requests" if " HTTP " in method else "runs of a command"


def baseline_gap(figures: dict[str, Any]) -> str:
    """Why a target will not compare its P99 with this one ("" = it will)."""
    count = int(figures.get("requests") or 0)
    if count >= MIN_P99_SAMPLES:
        return ""
    return (f"its P99 is from {count} timed requests ({MIN_P99_SAMPLES} needed; raise [verify.latency] "
            "requests)")


def judge(ctx: CheckContext, measured: dict[str, Any], baseline: dict[str, Any] | None) -> Verdict:
    """P99 against the old system's (the baseline's) and, where the profile sets one, ``[verify] p99_ms``.

    Without an established baseline P99 no comparison with the old system was made: with ``p99_ms`` set the
    figure is judged against it and says so; without it there is nothing the user asked for to judge by, so
    the check is not run (a default limit nobody set once printed PASS, or failed a target faster than the
    source)."""
    limit_ms = ctx.section.p99_ms
    ratio = ctx.section.latency.max_ratio
    p99 = measured["p99_ms"]
    count = int(measured.get("requests") or 0)
    established = count >= MIN_P99_SAMPLES
    p99_words = f"P99 {p99:.1f} ms" + ("" if established else f" (the slowest of {count})")
    details: list[str] = []
    limits: list[str] = []
    passed = True
    if limit_ms is not None:
        limits.append(f"P99 < {limit_ms:g} ms ([verify] p99_ms)")
        if not p99 < limit_ms:
            passed = False
            details.append(f"{p99_words} is not under {limit_ms:g} ms")
    summary = f"P50 {measured['p50_ms']:.1f} ms, P95 {measured['p95_ms']:.1f} ms, {p99_words}"
    base = baseline or {}
    base_count = int(base.get("requests") or 0)
    has_base = "p99_ms" in base
    if has_base and base.get("method") and _kind(base["method"]) != _kind(measured.get("method") or ""):
        raise CheckError(f"the baseline timed {_kind(base['method'])}, this run timed "
                         f"{_kind(measured.get('method') or '')}: the P99s are not comparable")
    if has_base and base_count >= MIN_P99_SAMPLES:
        allowed = base["p99_ms"] * ratio
        limits.append(f"P99 <= baseline {base['p99_ms']:.1f} ms x {ratio:g} = {allowed:.1f} ms")
        summary += f" (baseline P99 {base['p99_ms']:.1f} ms)"
        if p99 > allowed:
            passed = False
            details.append(f"{p99_words} is worse than the baseline {base['p99_ms']:.1f} ms "
                           f"by more than x{ratio:g}")
    else:
        why = (f"the baseline's P99 is from {base_count} timed requests on the source ({MIN_P99_SAMPLES} needed)"
               if has_base else "no baseline P99 from the source")
        if limit_ms is None:
            raise Skip(f"{summary}: not compared with the old system: {why}, and the profile sets no [verify] "
                       "p99_ms to judge it by (capture a baseline on the source with --capture-baseline, or set "
                       "p99_ms)")
        details.append(f"not compared with the old system: {why}")
        summary += "; judged against [verify] p99_ms, not the old system"
    if passed and not established:
        raise Skip(f"{summary}: a P99 needs at least {MIN_P99_SAMPLES} timed requests, {count} succeeded "
                   "(raise [verify.latency] requests)")
    return Verdict(passed, summary, "; ".join(limits), details)
