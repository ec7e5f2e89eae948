"""The client-side speed-ups keep behaviour: S3 timestamps parse to the same instants as
botocore's own parser, and a GCS requests session stops re-reading the environment only when
doing so changes nothing (a CA bundle is pinned; proxies or a netrc file leave it alone)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from botocore.utils import parse_timestamp

from engine.transfer.backends.gcs import _stop_reading_environment
from engine.transfer.backends.s3 import _parse_timestamp

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
              "NO_PROXY")


@pytest.mark.parametrize("value", [
    "Mon, 23 Nov 2026 12:00:00 GMT",      # Last-Modified header
    "Tue, 01 Feb 2022 23:59:59 GMT",
    "2026-11-23T12:00:00.000Z",           # ListObjectsV2 LastModified
    "2026-11-23T12:00:00.123456Z",
    "2026-11-23T12:00:00+02:00",
    "Mon, 23 Nov 2026 12:00:00 -0000",
    "1700000000",                         # epoch seconds: botocore's path
    1700000000,
])
def test_s3_timestamps_parse_to_the_same_instant(value) -> None:
    ours, theirs = _parse_timestamp(value), parse_timestamp(value)
    assert ours.tzinfo is not None
    assert ours.timestamp() == theirs.timestamp()


def test_s3_timestamp_garbage_still_raises() -> None:
    with pytest.raises(ValueError):
        parse_timestamp("not a time")
    with pytest.raises(ValueError):
        _parse_timestamp("not a time")


@pytest.fixture
def clean_env(monkeypatch, tmp_path: Path):
    for name in PROXY_VARS + ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    return monkeypatch


def test_gcs_session_pins_the_ca_bundle_and_stops_reading_the_environment(clean_env, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    session = requests.Session()
    _stop_reading_environment(session)
    assert session.trust_env is False
    assert session.verify == str(bundle)
    # what the session will use for a request is what the environment said before
    assert session.merge_environment_settings("https://storage.googleapis.com", {}, None, None, None)["verify"] == str(bundle)


def test_gcs_session_without_environment_settings_verifies_as_before(clean_env) -> None:
    session = requests.Session()
    _stop_reading_environment(session)
    assert session.trust_env is False
    assert session.verify is True


def _behind_a_proxy(env, tmp_path: Path) -> None:
    env.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")


def _with_a_netrc_file(env, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine example.com login a password b\n")
    env.setenv("NETRC", str(netrc))


@pytest.mark.parametrize("setting", [_behind_a_proxy, _with_a_netrc_file])
def test_gcs_session_keeps_reading_the_environment_when_it_matters(clean_env, tmp_path: Path, setting) -> None:
    setting(clean_env, tmp_path)
    session = requests.Session()
    _stop_reading_environment(session)
    assert session.trust_env is True
    if setting is _behind_a_proxy:
        assert session.merge_environment_settings("https://storage.googleapis.com", {}, None, None, None)["proxies"]


def _fresh_python(code: str, **env: str) -> str:
    import os
    import subprocess
    import sys

    run_env = {k: v for k, v in os.environ.items() if k != "BOTO_DISABLE_CRT"}
    run_env.update(env)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=run_env,
                         cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


_CRT_PROBE = """
import sys
from engine.transfer.backends.s3 import _import_botocore_without_crt
_import_botocore_without_crt()
import botocore.compat
before = "awscrt" in sys.modules
import awscrt.auth  # still importable for anyone else in the process
print(botocore.compat.HAS_CRT, before, "awscrt.auth" in sys.modules)
"""


def test_s3_client_imports_botocore_without_the_crt_when_it_is_switched_off() -> None:
    pytest.importorskip("awscrt")  # the test extra installs it (moto); a plain install has none
    # botocore.compat imports awscrt.auth before it reads BOTO_DISABLE_CRT; the engine hides it
    assert _fresh_python(_CRT_PROBE, BOTO_DISABLE_CRT="true") == "False False True"
    # switched on by the environment: botocore finds and uses it, as without the engine
    assert _fresh_python(_CRT_PROBE, BOTO_DISABLE_CRT="false") == "True True True"


@pytest.mark.parametrize("type_name", ["service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2", "no-such-1"])
def test_s3_loader_answers_as_botocores_for_s3(type_name) -> None:
    from botocore.loaders import Loader

    from engine.transfer.backends.s3 import _s3_loader

    ours = _s3_loader(None)
    assert ours.list_available_services(type_name) == [s for s in Loader().list_available_services(type_name) if s == "s3"]


def test_s3_loader_reads_aws_data_path_as_botocore_does(tmp_path: Path, monkeypatch) -> None:
    from botocore.loaders import create_loader

    from engine.transfer.backends.s3 import _s3_loader

    monkeypatch.setenv("HOME", str(tmp_path))
    spec = f"{tmp_path / 'a'}{__import__('os').pathsep}~/b"
    assert _s3_loader(spec).search_paths == create_loader(spec).search_paths
    # a model only under the extra path counts, as it does for botocore
    (tmp_path / "a" / "s3" / "2099-01-01").mkdir(parents=True)
    (tmp_path / "a" / "s3" / "2099-01-01" / "custom-1.json").write_text("{}")
    assert _s3_loader(spec).list_available_services("custom-1") == ["s3"] == create_loader(spec).list_available_services("custom-1")
