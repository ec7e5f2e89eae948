"""botocore's models parsed once per installed botocore (engine/transfer/backends/botocore_models.py):
the same objects as botocore's own loader gives, read back from the user's private cache, parsed
afresh when the model file changes, and never read from a folder or file others can write."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

import botocore.loaders
import pytest

from engine.transfer.backends.botocore_models import CachedModels

DATA = Path(botocore.loaders.__file__).parent / "data"
MODELS = ["s3/2006-03-01/service-2", "s3/2006-03-01/endpoint-rule-set-1", "endpoints", "partitions", "_retry",
          "sdk-default-configuration", "s3/2006-03-01/no-such-model"]


def _pickles(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pickle"))


@pytest.mark.parametrize("name", MODELS)
def test_cold_and_warm_loads_equal_botocores_own(tmp_path: Path, name: str) -> None:
    theirs = botocore.loaders.JSONFileLoader().load_file(str(DATA / name))
    cache = tmp_path / "cache"
    cold = CachedModels(str(cache)).load_file(str(DATA / name))
    warm = CachedModels(str(cache)).load_file(str(DATA / name))
    assert cold == theirs and warm == theirs
    if theirs is None:
        assert not _pickles(cache)
    else:
        assert type(warm) is OrderedDict  # ordered dicts all the way down, as botocore's own
        assert len(_pickles(cache)) == 1


def _model(folder: Path, body: dict) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "service-2"
    Path(f"{base}.json").write_text(json.dumps(body))
    return str(base)


def test_a_warm_load_reads_the_cache_and_a_changed_model_is_parsed_afresh(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = _model(tmp_path / "data", {"version": "1"})
    assert CachedModels(str(cache)).load_file(path) == {"version": "1"}
    source = Path(path + ".json")
    st = source.stat()
    source.write_text(json.dumps({"version": "2"}))  # same size and time: the cached parse is what is read
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert source.stat().st_size == st.st_size
    assert CachedModels(str(cache)).load_file(path) == {"version": "1"}
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # an edit: parsed again
    assert CachedModels(str(cache)).load_file(path) == {"version": "2"}


def test_a_damaged_cache_file_is_parsed_again_and_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = _model(tmp_path / "data", {"a": [1, 2, {"b": None}]})
    CachedModels(str(cache)).load_file(path)
    [pickled] = _pickles(cache)
    pickled.write_bytes(b"\x80\x05garbage")
    assert CachedModels(str(cache)).load_file(path) == {"a": [1, 2, {"b": None}]}
    assert CachedModels(str(cache)).load_file(path) == {"a": [1, 2, {"b": None}]}
    assert pickled.read_bytes() != b"\x80\x05garbage"


def test_a_folder_or_file_others_can_write_to_is_never_read(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = _model(tmp_path / "data", {"v": 1})
    CachedModels(str(cache)).load_file(path)
    [pickled] = _pickles(cache)
    planted = pickled.read_bytes().replace(b"\x8c\x01v", b"\x8c\x01w")  # what someone else might put there
    pickled.write_bytes(planted)
    assert CachedModels(str(cache)).load_file(path) == {"w": 1}  # the control: a private file is what is read
    cache.chmod(0o777)
    assert CachedModels(str(cache)).load_file(path) == {"v": 1}
    assert pickled.read_bytes() == planted  # nor written there
    cache.chmod(0o700)
    pickled.chmod(0o666)
    assert CachedModels(str(cache)).load_file(path) == {"v": 1}
    assert pickled.read_bytes() != planted and pickled.stat().st_mode & 0o777 == 0o600  # replaced by our own


def test_a_new_cache_folder_is_private(tmp_path: Path) -> None:
    cache = tmp_path / "a" / "cache"
    CachedModels(str(cache)).load_file(_model(tmp_path / "data", {"v": 1}))
    assert cache.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in _pickles(cache))


def test_the_s3_client_builds_from_the_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from engine.transfer.backends.s3 import _client

    first = _client(4)
    assert (tmp_path / "xdg" / "gpumigrate" / "botocore-models").is_dir()
    assert len(list((tmp_path / "xdg" / "gpumigrate" / "botocore-models").glob("*.pickle"))) >= 3
    second = _client(4)
    assert first.meta.service_model.operation_names == second.meta.service_model.operation_names
    assert second.meta.region_name == "us-east-1"
