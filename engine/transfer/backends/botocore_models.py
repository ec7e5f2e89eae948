"""botocore's service models, parsed once per installed botocore instead of once per run.

Building an S3 client parses botocore's JSON models: S3's API (1.4 MB, gzipped), its endpoint
rules (0.9 MB), ``endpoints.json`` (1.3 MB) and a few small ones. botocore parses them into
ordered dicts through a Python hook: 27-29 ms of CPU before a transfer's first request, against
12-14 ms to read the same objects back from pickles (4 rounds each, collection paused, load ~13 on
the 2-core VM). This
file loader (botocore's ``Loader(file_loader=...)``) keeps each model it parses as a pickle in the
user's cache folder, named after the model file's path, size, modification time and botocore's
version: an upgrade, or an edited model under ``AWS_DATA_PATH``, is parsed afresh.

A pickle can run code when it is read, so the folder is the user's own: created 0700, used only
while it and each file in it belong to this user and nobody else can write to them. Anything wrong
with the cache (missing, unreadable, damaged, a full disk) only means parsing the JSON, as before.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import tempfile
from typing import Any

from botocore.loaders import JSONFileLoader

EXTENSIONS = (".json", ".json.gz")
"""The model files botocore reads, in the order it tries them (``botocore.loaders``)."""


def default_folder() -> str:
    from platformdirs import user_cache_dir

    return os.path.join(user_cache_dir("gpumigrate"), "botocore-models")


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class CachedModels(JSONFileLoader):  # type: ignore[misc]
    """botocore's JSON file loader, with what it parses kept in ``folder`` (see the module)."""

    def __init__(self, folder: str | None = None):
        super().__init__()
        self.folder = folder or default_folder()

    def load_file(self, file_path: str) -> Any:
        source = next((file_path + ext for ext in EXTENSIONS if os.path.isfile(file_path + ext)), None)
        if source is None:
            return super().load_file(file_path)
        try:
            st = os.stat(source)
        except OSError:
            return super().load_file(file_path)
        import botocore

        key = hashlib.sha256(f"{os.path.abspath(source)}\0{st.st_size}\0{st.st_mtime_ns}\0{botocore.__version__}"
                             .encode()).hexdigest()[:32]
        cached = os.path.join(self.folder, f"{key}.pickle")
        folder_ok = self._folder_ok()
        if folder_ok:
            data = self._read(cached)
            if data is not None:
                return data
        data = super().load_file(file_path)
        if folder_ok and data is not None:
            self._write(cached, data)
        return data

    def _folder_ok(self) -> bool:
        """The folder exists (made 0700 if it did not) and is this user's alone."""
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            return _private(os.stat(self.folder))
        except OSError:
            return False

    @staticmethod
    def _read(path: str) -> Any:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            with os.fdopen(fd, "rb") as f:
                if not _private(os.fstat(f.fileno())):
                    return None
                return pickle.load(f)
        except Exception:  # noqa: BLE001 - a damaged or partial file: parse the JSON instead
            return None

    def _write(self, path: str, data: Any) -> None:
        """Atomically: a reader sees the whole pickle or none (another run may write it too)."""
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")  # 0600
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except Exception:  # noqa: BLE001 - a full disk, a folder gone: parsed again next time
            try:
                os.unlink(tmp)
            except OSError:
                pass
