"""GCS composite uploads keep their components inside the destination prefix (or the prefix
configured for them), delete them after compose and after a failed compose, and are not used
where the bucket would make components costly or undeletable (a single resumable upload then).

fake-gcs-server does not model retention policies; a pass-through proxy gives the bucket one
(the JSON API's ``retentionPolicy`` with ``isLocked``) and refuses object deletes with the 403
GCS sends for objects under retention."""

from __future__ import annotations

import json
import os
from typing import Callable

import pytest

from engine.events import Message, Progress
from engine.transfer.api import TransferSpec, run_transfer
from engine.transfer.backends.gcs import compose_refusal
from tests.transfer_support import MIB, FaultProxy, gcs_client, gcs_names, read_gcs, write_local


def _watch(bucket: str) -> tuple[Callable[[object], None], list[list[str]], list[str]]:
    """An ``emit`` that lists the bucket once, when the first part has just been written (its
    component exists then), and keeps every message's text."""
    seen: list[list[str]] = []
    messages: list[str] = []

    def emit(event) -> None:
        if not seen and isinstance(event, Progress) and event.extra.get("phase") == "progress":
            seen.append(gcs_names(bucket))
        if isinstance(event, Message):
            messages.append(event.text)
    return emit, seen, messages


@pytest.mark.parametrize("component_prefix", [None, "scratch/"])
def test_components_stay_inside_their_prefix_and_are_gone_after_compose(tmp_path, gcs, unique_bucket,
                                                                          component_prefix) -> None:
    gcs_client().create_bucket(unique_bucket)
    data = os.urandom(7 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    emit, seen, messages = _watch(unique_bucket)

    s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}/dst", part_threshold_mib=5,
                                  part_size_mib=1, jobs=2, gcs_component_prefix=component_prefix), emit=emit)
    assert s.ok and s.verified == 1
    where = component_prefix or "dst/.gpumigrate-tmp/"
    assert seen and [n for n in seen[0] if n != "dst/big.bin"], "no component existed mid-upload"
    assert all(n.startswith(where) for n in seen[0] if n != "dst/big.bin"), seen[0]
    assert any("composite upload" in m and where in m for m in messages), messages
    assert gcs_names(unique_bucket) == ["dst/big.bin"]
    assert read_gcs(unique_bucket, "dst/") == {"big.bin": data}


def test_a_failed_compose_leaves_no_components(tmp_path, gcs, unique_bucket, monkeypatch) -> None:
    """Someone writes the destination while our components are uploaded: GCS refuses the final
    compose (ifGenerationMatch=0) with 412. fake-gcs-server ignores preconditions on compose, so
    the proxy answers for it as GCS does."""
    def answer(method: str, path: str):
        if method == "POST" and "/o/dst%2Fbig.bin/compose" in path and "ifGenerationMatch=0" in path:
            return 412, b'{"error": {"code": 412, "message": "At least one of the pre-conditions you specified did not hold."}}'
        return None

    proxy = FaultProxy(gcs.url, p503=0, preset=0, ptruncate=0, answer=answer)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    try:
        gcs_client().create_bucket(unique_bucket)
        write_local(tmp_path / "src", {"big.bin": os.urandom(7 * MIB)})
        theirs = b"written by someone else after planning"

        def emit(event) -> None:  # the destination appears while our components are uploaded
            if isinstance(event, Progress) and event.extra.get("phase") == "started":
                gcs_client().bucket(unique_bucket).blob("dst/big.bin").upload_from_string(theirs)

        s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}/dst",
                                      part_threshold_mib=5, part_size_mib=1, jobs=2),
                         emit=emit, journal=tmp_path / "j.sqlite")
        assert s.failed == 1 and "changed since planning" in s.failures[0].error, s.failures
        assert gcs_names(unique_bucket) == ["dst/big.bin"]
        assert read_gcs(unique_bucket, "dst/") == {"big.bin": theirs}
    finally:
        proxy.stop()


@pytest.fixture()
def retention_locked(gcs, monkeypatch):
    """The stand-in's buckets as GCS shows a bucket with a locked one-year retention policy."""
    def answer(method: str, path: str):
        if method == "DELETE" and "/o/" in path:
            return 403, json.dumps({"error": {"code": 403, "message": "Object is subject to bucket's retention "
                                              "policy or object retention and cannot be deleted or overwritten "
                                              "until 2027-11-29T13:00:00Z"}}).encode()
        return None

    def rewrite(method: str, path: str, status: int, body: bytes) -> bytes:
        if method == "GET" and status == 200 and path.split("?")[0].rstrip("/").count("/") == 4 \
                and path.startswith("/storage/v1/b/"):
            doc = json.loads(body)
            doc["retentionPolicy"] = {"retentionPeriod": "31536000", "effectiveTime": "2026-01-01T00:00:00Z",
                                      "isLocked": True}
            return json.dumps(doc).encode()
        return body

    proxy = FaultProxy(gcs.url, p503=0, preset=0, ptruncate=0, answer=answer, rewrite=rewrite)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    yield proxy
    proxy.stop()


def test_a_retention_locked_bucket_gets_one_resumable_upload_not_components(tmp_path, retention_locked,
                                                                            unique_bucket) -> None:
    gcs_client().create_bucket(unique_bucket)
    data = os.urandom(7 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    emit, seen, messages = _watch(unique_bucket)

    s = run_transfer(TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}/dst", part_threshold_mib=5,
                                  part_size_mib=1, jobs=2), emit=emit)
    assert s.ok and s.verified == 1, s.failures
    assert any("one resumable upload" in m and "retention policy of 31536000 s" in m for m in messages), messages
    assert all(n == "dst/big.bin" for snapshot in seen for n in snapshot)
    assert gcs_names(unique_bucket) == ["dst/big.bin"]
    assert read_gcs(unique_bucket, "dst/") == {"big.bin": data}


@pytest.mark.parametrize(("settings", "why"), [
    (("STANDARD", None, False, None), ""),
    (("STANDARD", 0, False, 0), ""),
    (("NEARLINE", None, False, None), "early-deletion fee"),
    (("ARCHIVE", None, False, None), "minimum storage 365 days"),
    (("STANDARD", None, True, None), "event-based hold"),
    (("STANDARD", None, False, 604800), "7 days (soft delete)"),
    (("COLDLINE", 60, False, 604800), "retention policy of 60 s"),
])
def test_compose_refusal_names_the_setting(settings, why) -> None:
    got = compose_refusal(*settings)
    assert (why in got and got) if why else got == ""


def test_the_component_prefix_must_be_a_folder() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="gcs_component_prefix"):
        TransferSpec(src="/tmp/a", dst="gs://b/d", gcs_component_prefix="scratch")
    assert TransferSpec(src="/tmp/a", dst="gs://b/d", gcs_component_prefix="tmp/scratch/").gcs_component_prefix


def test_cleanup_finds_components_under_a_configured_prefix(tmp_path, gcs, unique_bucket, monkeypatch) -> None:
    """A run with ``gcs_component_prefix`` (a profile setting) is interrupted: ``--cleanup DST``
    must list its components under that prefix (the journal here records where they are) and
    ``--remove`` remove them; it looked only inside DST and said "0 leftovers"."""
    import io
    from contextlib import redirect_stdout

    from engine.transfer import temps
    from tests.transfer_support import interrupt_after_a_part
    from tui.cli import main

    gcs_client().create_bucket(unique_bucket)
    write_local(tmp_path / "src", {"big.bin": os.urandom(7 * MIB)})
    interrupt_after_a_part(TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}/dst", jobs=1,
                                        part_threshold_mib=5, part_size_mib=1, gcs_component_prefix="scratch/"),
                           None)
    left = [n for n in gcs_names(unique_bucket) if n.startswith("scratch/")]
    assert left

    def cleanup(*extra: str) -> str:
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["transfer", "--cleanup", f"gs://{unique_bucket}/dst", *extra]) == 0
        return out.getvalue()

    listed = cleanup()
    assert all(f"leftover {n} " in listed for n in left), listed
    assert f"{len(left)} leftovers" in listed
    monkeypatch.setattr(temps, "RECENT_S", 0)  # as if 15 minutes had passed
    from engine.transfer.api import journal_path_for
    from engine.transfer.journal import Journal

    running = Journal(journal_path_for(TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{unique_bucket}/dst")))
    running.hold()  # that transfer runs again now: its components are in use, whatever their age
    try:
        kept = cleanup("--remove")
    finally:
        running.close()
    assert f"removed 0 of {len(left)} leftovers" in kept and "its transfer is running now; kept" in kept, kept
    assert f"removed {len(left)} of {len(left)} leftovers" in cleanup("--remove")
    assert not [n for n in gcs_names(unique_bucket) if n.startswith("scratch/")]
