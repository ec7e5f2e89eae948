"""A TCP proxy on 127.0.0.1 that delays each direction by N ms: a WAN-like link in front of a
stand-in, for benchmarks (loopback alone hides every round trip a tool makes).

Every chunk read from one side is written to the other ``delay_ms`` after it arrived, in order;
bandwidth is not limited (loopback's), so what the delay costs a tool is its round trips: a
request and its answer take at least 2 x delay_ms more, as over a real network with that one-way
latency. At most ``MAX_QUEUED`` bytes wait per direction (reading pauses beyond that).

Run: .venv/bin/python -m benchmarks.latency_proxy --delay-ms 10 --listen 0 --upstream 127.0.0.1:9000
(prints ``listening on 127.0.0.1:PORT`` and serves until killed), or start one from Python with
:func:`start` (a subprocess, so the proxy's own CPU time never competes with the caller's GIL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CHUNK = 256 * 1024
MAX_QUEUED = 16 << 20


REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|PUT|POST|HEAD|DELETE|PATCH) (\S+) HTTP/1\.[01]\r\n")
"""An HTTP/1.x request line (at a chunk's start or after a CRLF); counted with ``--log``. A client
sends its next request on a connection after the previous answer, so it starts a read; a
pipelined request glued to the end of a body without a CRLF would be missed."""


def request_kind(method: bytes, target: bytes) -> str:
    """A request reduced to its kind (method + path shape, query parameter names, no values):
    ``POST /upload/storage/v1/b/*/o?name&uploadType`` -- what per-object counts are made of.
    The GCS JSON API's fixed path words are kept; every other path segment becomes ``*``."""
    path, _, query = target.decode("latin-1").partition("?")
    parts = path.split("/")
    shape = "/".join(p if p in ("", "storage", "v1", "b", "o", "upload", "compose") else "*" for p in parts)
    names = sorted({kv.split("=", 1)[0] for kv in query.split("&") if kv})
    return f"{method.decode()} {shape}" + (f"?{'&'.join(names)}" if names else "")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float,
                seen: list[str] | None = None) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay_s`` after it was read (request lines
    appended to ``seen`` when given)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=max(1, MAX_QUEUED // CHUNK))

    async def feed() -> None:
        try:
            while data := await reader.read(CHUNK):
                if seen is not None:
                    seen.extend(request_kind(m.group(1), m.group(2)) for m in REQUEST_LINE.finditer(data))
                await queue.put((loop.time() + delay_s, data))
        except (ConnectionError, OSError):
            pass
        await queue.put((loop.time() + delay_s, b""))

    feeder = asyncio.create_task(feed())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        feeder.cancel()


async def _serve(listen_port: int, upstream: tuple[str, int], delay_s: float,
                 ready: Callable[[int], None], log: str | None = None) -> None:
    conns = [0]

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        opened = time.time()
        try:
            up_r, up_w = await asyncio.open_connection(*upstream)
        except OSError:
            client_w.close()
            return
        conns[0] += 1
        conn, seen = conns[0], ([] if log else None)
        try:
            await asyncio.gather(_pipe(client_r, up_w, delay_s, seen), _pipe(up_r, client_w, delay_s))
        finally:
            for w in (up_w, client_w):
                w.close()
            if log and seen is not None:  # one line per connection: its number, when it was accepted, its requests
                with open(log, "a") as f:
                    f.write(json.dumps({"conn": conn, "opened": opened, "requests": seen}) + "\n")

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, backlog=1024)
    ready(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


@dataclass
class Proxy:
    """A running proxy subprocess: its URL (http://127.0.0.1:PORT) and how to stop it."""

    port: int
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start(upstream_port: int, delay_ms: float, listen_port: int = 0, log: str | None = None) -> Proxy:
    """Start a proxy subprocess in front of 127.0.0.1:``upstream_port``; returns once it listens.
    With ``log``, each closed connection's request kinds are appended there (JSON lines)."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--delay-ms", str(delay_ms),
                             "--listen", str(listen_port), "--upstream", f"127.0.0.1:{upstream_port}"]
                            + (["--log", log] if log else []),
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on 127.0.0.1:"):
        proc.kill()
        raise RuntimeError(f"latency proxy did not start: {line!r}")
    return Proxy(int(line.rsplit(":", 1)[1]), proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, required=True, help="added to each direction")
    ap.add_argument("--listen", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    ap.add_argument("--upstream", required=True, help="127.0.0.1:PORT (loopback only)")
    ap.add_argument("--log", help="append one JSON line per closed connection: when it opened (epoch s), its request kinds")
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit("the latency proxy forwards to loopback only")

    def ready(p: int) -> None:
        print(f"listening on 127.0.0.1:{p}", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # nothing to flush: connections just end
    try:
        asyncio.run(_serve(a.listen, ("127.0.0.1", int(port)), a.delay_ms / 1000, ready, a.log))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
