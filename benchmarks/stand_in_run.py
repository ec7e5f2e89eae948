"""moto and fake-gcs-server on loopback for one benchmark run, with a scratch folder: started
together and always stopped and removed together, however the run ends."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from tests import stand_ins


@contextlib.contextmanager
def moto_and_gcs(prefix: str, gcs_port: int | None = None
                 ) -> Iterator[tuple[Path, stand_ins.StandIn, stand_ins.StandIn]]:
    """``(work, moto, gcs)``; ``gcs_port``: where a proxy in front of fake-gcs will listen (fake-gcs
    gives that address out in its upload locations), or None for fake-gcs's own."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    moto = stand_ins.start_moto()
    gcs = stand_ins.start_fake_gcs(external_url=f"http://127.0.0.1:{gcs_port}" if gcs_port else None)
    try:
        yield work, moto, gcs
    finally:
        moto.stop()
        gcs.stop()
        shutil.rmtree(work, ignore_errors=True)
