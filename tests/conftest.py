"""Shared fixtures: a private state dir for every test, and the stand-in services.

The services start once per test session on 127.0.0.1 and are reset between
tests that ask for a clean one.  Tests talk to them through the clients'
standard settings (``AWS_ENDPOINT_URL``, ``STORAGE_EMULATOR_HOST``), exactly
as the product does against the real clouds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from tests import stand_ins

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state dir and no real cloud settings."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("GPUMIGRATE_STATE_DIR", str(state))
    # caches (botocore's parsed models) shared by the session's tests, never the user's own
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
    for key in list(os.environ):
        if key.startswith(("AWS_", "GOOGLE_", "CLOUDSDK_", "STORAGE_EMULATOR")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(state / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(state / "no-aws-credentials"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(state / "no-gcloud"))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(state / "no-adc.json"))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    return state


@pytest.fixture(scope="session")
def moto_server() -> Iterator[stand_ins.StandIn]:
    server = stand_ins.start_moto()
    yield server
    server.stop()


@pytest.fixture()
def aws(moto_server: stand_ins.StandIn, monkeypatch: pytest.MonkeyPatch) -> stand_ins.StandIn:
    """A clean moto (S3, EC2, ...) with the environment pointing boto3 at it."""
    stand_ins.reset_moto(moto_server.url)
    for key, value in stand_ins.aws_env(moto_server.url).items():
        monkeypatch.setenv(key, value)
    return moto_server


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[stand_ins.StandIn]:
    server = stand_ins.start_fake_gcs()
    yield server
    server.stop()


@pytest.fixture()
def gcs(gcs_server: stand_ins.StandIn, monkeypatch: pytest.MonkeyPatch) -> stand_ins.StandIn:
    """fake-gcs-server with the environment pointing google-cloud-storage at it.

    fake-gcs-server has no reset; tests use their own bucket names (``unique_bucket``).
    """
    for key, value in stand_ins.gcs_env(gcs_server.url).items():
        monkeypatch.setenv(key, value)
    return gcs_server


@pytest.fixture()
def unique_bucket(request: pytest.FixtureRequest) -> str:
    import hashlib
    import time

    digest = hashlib.sha1(f"{request.node.nodeid}{time.time_ns()}".encode()).hexdigest()[:12]
    return f"t-{digest}"
