"""What `gpumigrate transfer s3://... gs://...` has loaded when its first request leaves, and what
state its garbage collector is in when the destination is first asked (tui/startup.py): the
laziness that keeps work from before the first byte, checked as behaviour, not as time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlparse

import pytest

from tests.conftest import REPO
from tests.transfer_support import gcs_client, read_gcs, s3_client, write_s3

NOT_BEFORE_FIRST_REQUEST = (
    "engine.session.store",  # the session store: a resume journal only needs the state folder
    "engine.session.clients",
    "boto3",                 # the engine uses botocore's client directly
    "s3transfer",
    "awscrt",                # CRT switched off (engine/transfer/backends/s3.py)
    "textual",
    "rich",                  # the progress display is built when the first event comes
)

_PROBE = """
import gc, json, sys
s3_port, gcs_port, report = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
watch = tuple(sys.argv[4].split(","))
seen = {}

def hook(event, args):
    if event != "socket.connect" or not isinstance(args[1], tuple) or len(args[1]) < 2:
        return
    port = args[1][1]
    if port == s3_port and "s3" not in seen:
        seen["s3"] = sorted(m for m in watch if m in sys.modules)
    elif port == gcs_port and "gcs" not in seen:
        seen["gcs"] = [gc.isenabled(), gc.get_freeze_count() > 0]
    if "s3" in seen and "gcs" in seen and "written" not in seen:
        seen["written"] = True
        with open(report, "w") as out:  # entry() ends with os._exit: no atexit
            json.dump(seen, out)

sys.addaudithook(hook)
sys.argv = ["gpumigrate", "transfer", *sys.argv[5:]]
from tui.cli import entry
entry()
"""


@pytest.mark.parametrize("output", [["--json"], []], ids=["json", "people"])
def test_first_requests_leave_before_the_heavy_modules_and_with_collection_back_on(tmp_path, aws, gcs, unique_bucket,
                                                                                    output) -> None:
    src, dst = f"{unique_bucket}-src", f"{unique_bucket}-dst"
    s3_client().create_bucket(Bucket=src)
    gcs_client().create_bucket(dst)
    write_s3(src, "t/", {"a.txt": b"a" * 100, "b/c.txt": b"c" * 200})
    report = tmp_path / "seen.json"
    env = dict(os.environ)
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    out = subprocess.run([sys.executable, "-c", _PROBE, str(urlparse(aws.url).port), str(urlparse(gcs.url).port),
                          str(report), ",".join(NOT_BEFORE_FIRST_REQUEST), f"s3://{src}/t", f"gs://{dst}/t", "-r", *output],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    seen = json.loads(report.read_text())
    assert seen["s3"] == [], f"loaded before the first S3 request: {seen['s3']}"
    assert seen["gcs"] == [True, True], "the first GCS request: collection back on, start-up frozen"
    assert read_gcs(dst, "t/") == {"a.txt": b"a" * 100, "b/c.txt": b"c" * 200}
