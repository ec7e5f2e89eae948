"""One retry layer per request: the cloud clients are built with their libraries' own retry
settings (botocore standard/adaptive with a bounded number of attempts; google-cloud-storage
on a session of ours whose connection pool grows with -j). Built from the environment, as the
product builds them; nothing is sent."""

from __future__ import annotations

import pytest

from engine.transfer.backends.gcs import make_client
from engine.transfer.backends.s3 import S3Backend
from engine.transfer.urls import parse_url


@pytest.fixture()
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize(("env", "mode", "attempts"), [
    ({}, "standard", 5),
    ({"AWS_RETRY_MODE": "adaptive", "AWS_MAX_ATTEMPTS": "9"}, "adaptive", 9),
    ({"AWS_RETRY_MODE": "legacy", "AWS_MAX_ATTEMPTS": "two"}, "standard", 5),
])
def test_s3_requests_are_retried_by_botocore_as_configured(aws_env, monkeypatch, env, mode, attempts) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    backend = S3Backend(parse_url("s3://bucket/prefix"), pool=3)
    cfg = backend.client.meta.config
    assert cfg.retries == {"mode": mode, "total_max_attempts": attempts}
    assert cfg.max_pool_connections == 3


def test_gcs_connection_pool_grows_with_the_jobs(monkeypatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
    for pool in (7, 52):
        client = make_client(pool)
        for scheme in ("http://", "https://"):
            assert client._http.get_adapter(scheme + "x").poolmanager.connection_pool_kw["maxsize"] == pool
