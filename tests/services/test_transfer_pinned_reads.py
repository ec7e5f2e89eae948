"""Issue 17, cloud side: reads pinned to the listed version, and no debris in a bucket.

An S3 or GCS source object replaced after it was listed must never be copied half old, half
new: every read is pinned (S3 ``If-Match`` the listed ETag, GCS the listed generation), a
pinned read of a replaced object is "the source changed", and the copy starts again from the
new version.  The replacement happens from the transfer's own "started" event for the object,
so it always lands between the listing and the first read.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest

from engine.events import Message, Progress
from engine.transfer.api import TransferSpec, run_transfer
from tests.transfer_support import gcs_client, read_local, s3_client

SIZE = 300 * 1024  # over OBJECT_EVENT_MIN, so the object gets a "started" event


@pytest.mark.parametrize(("kind", "size"), [("s3", SIZE), ("gs", SIZE), ("gs", 9 << 20)],
                         ids=["s3-single-read", "gs-single-read", "gs-streamed"])
def test_source_replaced_after_listing_is_copied_from_its_new_version(kind, size, tmp_path, request, unique_bucket):
    old, new = b"o" * size, b"n" * size
    if kind == "s3":
        request.getfixturevalue("aws")
        s3 = s3_client()
        s3.create_bucket(Bucket=unique_bucket)
        s3.put_object(Bucket=unique_bucket, Key="d/ckpt.bin", Body=old)

        def replace() -> None:
            s3.put_object(Bucket=unique_bucket, Key="d/ckpt.bin", Body=new)
    else:
        request.getfixturevalue("gcs")
        bucket = gcs_client().create_bucket(unique_bucket)
        bucket.blob("d/ckpt.bin").upload_from_string(old)

        def replace() -> None:
            bucket.blob("d/ckpt.bin").upload_from_string(new)

    replaced, events = [], []

    def emit(event) -> None:
        events.append(event)
        if (isinstance(event, Progress) and event.label == "object" and event.extra.get("phase") == "started"
                and not replaced):
            replaced.append(1)
            replace()

    s = run_transfer(TransferSpec(src=f"{kind}://{unique_bucket}/d", dst=str(tmp_path / "dst")), emit=emit,
                     journal=False)
    assert replaced and s.ok and s.copied == 1 and s.verified == 1, s.failures
    assert read_local(tmp_path / "dst") == {"ckpt.bin": new}
    assert any(isinstance(e, Message) and "changed while it was copied" in e.text for e in events)


def test_gcs_cleanup_lists_then_removes_old_components(gcs, unique_bucket, monkeypatch):
    from engine.transfer import temps
    from tui.cli import main

    bucket = gcs_client().create_bucket(unique_bucket)
    bucket.blob("data/a.txt").upload_from_string(b"a")
    bucket.blob(".gpumigrate-tmp/0123abcd/00000").upload_from_string(b"component")  # where earlier versions put them
    bucket.blob("data/.gpumigrate-tmp/4567cdef/00000").upload_from_string(b"part")
    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(["transfer", "--cleanup", f"gs://{unique_bucket}/data"])
    assert rc == 0 and "2 leftovers (13 bytes); dry run: nothing removed" in out.getvalue()
    assert "recent: may belong to a running transfer" in out.getvalue()  # just written: never removed
    with redirect_stdout(io.StringIO()):
        assert main(["transfer", "--cleanup", f"gs://{unique_bucket}/data", "--remove"]) == 0
    assert sorted(b.name for b in gcs_client().list_blobs(unique_bucket)) == [
        ".gpumigrate-tmp/0123abcd/00000", "data/.gpumigrate-tmp/4567cdef/00000", "data/a.txt"]
    monkeypatch.setattr(temps, "RECENT_S", 0)  # as if 15 minutes had passed
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["transfer", "--cleanup", f"gs://{unique_bucket}/data", "--remove"]) == 0
    assert "removed 2 of 2 leftovers" in out.getvalue()
    assert [b.name for b in gcs_client().list_blobs(unique_bucket)] == ["data/a.txt"]



def test_gcs_cleanup_removes_only_the_generation_it_listed(gcs, unique_bucket, monkeypatch):
    """--cleanup --remove deletes a GCS leftover at the generation it listed (ifGenerationMatch,
    under the conditional retry): one rewritten since the listing is refused with GCS's 412 and
    reported, not removed; one already gone counts as removed. fake-gcs-server does not check a
    delete's generation, so the proxy answers as GCS does when it no longer matches."""
    from engine.transfer import temps
    from engine.transfer.backends import open_backend
    from engine.transfer.urls import parse_url
    from tests.transfer_support import FaultProxy

    bucket = gcs_client().create_bucket(unique_bucket)
    listed = bucket.blob("data/.gpumigrate-tmp/aa/00000")
    listed.upload_from_string(b"old")
    bucket.blob("data/.gpumigrate-tmp/bb/00000").upload_from_string(b"gone")
    deletes: list[str] = []

    def answer(method: str, path: str):
        if method == "DELETE":
            deletes.append(path)
            if "aa%2F00000" in path and f"ifGenerationMatch={listed.generation}" in path:
                return 412, b'{"error": {"code": 412, "message": "At least one of the pre-conditions you specified did not hold."}}'
        return None

    proxy = FaultProxy(gcs.url, p503=0, preset=0, ptruncate=0, answer=answer)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    monkeypatch.setattr(temps, "RECENT_S", 0)
    try:
        backend = open_backend(parse_url(f"gs://{unique_bucket}/data"), jobs=1)
        found = temps.find_leftovers(backend)
        assert [x.name for x in found] == ["data/.gpumigrate-tmp/aa/00000", "data/.gpumigrate-tmp/bb/00000"]
        assert found[0].generation == listed.generation
        bucket.blob("data/.gpumigrate-tmp/bb/00000").delete()  # another clean-up got there first
        removed, errors = temps.remove_leftovers(backend, found)
    finally:
        proxy.stop()
    assert removed == 1 and len(errors) == 1 and "replaced since it was listed" in errors[0], errors
    assert len(deletes) == 2 and all("ifGenerationMatch=" in d for d in deletes), deletes
    assert bucket.blob("data/.gpumigrate-tmp/aa/00000").exists()
