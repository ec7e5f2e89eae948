"""``gpumigrate transfer --cleanup gs://...`` and unfinished XML API multipart uploads, against the
strict stand-in (tests/gcs_xml_standin.py, which lists uploads as get-bucket-uploads documents).

* the dry run lists every unfinished upload under the destination prefix with its object name,
  upload id, start time and parts, and says whose it is as far as this machine can tell: the
  journals here record the engine's own; GCS's listing carries nothing that tells whose the
  others are;
* ``--remove`` aborts only the engine's own, and only when idle 15 minutes; one no journal
  records needs ``--abort-unknown-uploads`` too; uploads outside the prefix are never touched;
* the listing turns pages, and the stand-in refuses parameters GCS does not document;
* a precondition header on these requests is answered 400 NotImplemented, as Google says."""

from __future__ import annotations

import io
import json
import os
import re
from contextlib import redirect_stdout

import pytest

from engine.transfer.api import TransferSpec, run_transfer
from tests.gcs_xml_standin import GcsXmlStandIn
from tests.transfer_support import MIB, gcs_client, interrupt_after_a_part, read_gcs, write_local


@pytest.fixture()
def xml_gcs(gcs, monkeypatch):
    stand_in = GcsXmlStandIn(gcs.url)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", stand_in.url)
    yield stand_in
    stand_in.stop()


def _xml(bucket: str):
    from engine.transfer.backends.gcs import client_and_session
    from engine.transfer.backends.gcs_xml import XMLUploads

    client, session = client_and_session(2)
    return XMLUploads(session, client.api_endpoint, bucket)


def _cli(*args: str) -> tuple[int, str]:
    from tui.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(["transfer", "--cleanup", *args])
    return rc, out.getvalue()


def _interrupted_run(tmp_path, bucket: str) -> TransferSpec:
    """A run killed after its first part: its upload stays, journalled under the state dir."""
    from engine.session.paths import state_dir

    write_local(tmp_path / "src", {"big.bin": os.urandom(11 * MIB)})
    spec = TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{bucket}/d", part_threshold_mib=5,
                        part_size_mib=5, gcs_large_uploads="xml-multipart", jobs=1)
    journal = state_dir() / "journals" / "killed.sqlite"
    journal.parent.mkdir(parents=True, exist_ok=True)
    interrupt_after_a_part(spec, journal)
    return spec


def test_cleanup_lists_unfinished_uploads_and_aborts_only_with_the_guards(tmp_path, xml_gcs, unique_bucket) -> None:
    gcs_client().create_bucket(unique_bucket)
    spec = _interrupted_run(tmp_path, unique_bucket)
    (ours,) = xml_gcs.open_uploads()
    xml = _xml(unique_bucket)
    theirs = xml.initiate("d/other-tool.bin", {})  # another tool's, or a run whose journal is lost
    outside = xml.initiate("elsewhere/x.bin", {})  # outside the destination prefix: never listed
    dst = f"gs://{unique_bucket}/d"

    rc, out = _cli(dst)
    assert rc == 0, out
    lines = out.splitlines()
    mine = next(x for x in lines if ours in x)
    parts = int(re.search(r", (\d+) parts, (\d+) bytes,", mine).group(1))
    assert mine.startswith("unfinished upload d/big.bin (upload id " + ours) and 1 <= parts <= 2
    assert f", {parts} parts, {parts * 5 * MIB} bytes, last written 0 min ago" in mine
    assert f"started by gpumigrate for {tmp_path / 'src'}" in mine and "next run of that transfer resumes it" in mine, mine
    other = next(x for x in lines if theirs in x)
    assert other.startswith("unfinished upload d/other-tool.bin") and "0 parts" in other
    assert "no journal on this machine records it" in other and "GCS lists nothing that tells which tool started it" in other
    assert outside not in out
    assert f"2 unfinished XML multipart uploads ({parts * 5 * MIB} bytes of parts, billed until aborted), 1 of them " \
           "recorded by no journal on this machine; dry run: nothing aborted" in out, out
    assert "unfinished XML multipart uploads: not listed" not in out

    rc, out = _cli(dst, "--remove")  # both were written just now: a running transfer's, perhaps
    assert rc == 0 and "aborted 0 of 2" in out and out.count("recent: may belong to a running transfer") == 2, out
    assert len(xml_gcs.open_uploads()) == 3

    for upload in (ours, theirs, outside):
        xml_gcs.backdate(upload, 20 * 60)
    rc, out = _cli(dst, "--remove")
    assert rc == 0 and "aborted 1 of 2 unfinished XML multipart uploads" in out, out
    assert "(the next run of that transfer copies that object afresh)" in next(x for x in out.splitlines() if ours in x)
    assert "(kept: add --abort-unknown-uploads to abort it)" in next(x for x in out.splitlines() if theirs in x)
    assert sorted(xml_gcs.open_uploads()) == sorted([theirs, outside])  # the unknown one needs its own guard
    rc, out = _cli(dst, "--remove", "--json")
    event = json.loads(out.splitlines()[-1])
    assert rc == 0 and event["removed"] == 0 and not event["dry_run"], event
    (listed,) = event["uploads"]
    assert listed["upload_id"] == theirs and listed["journal"] is None and listed["name"] == "d/other-tool.bin"
    assert listed["initiated"].endswith("Z") and listed["idle_s"] >= 20 * 60 and listed["recent"] is False

    rc, out = _cli(dst, "--remove", "--abort-unknown-uploads")
    assert rc == 0 and f"aborted d/other-tool.bin (upload id {theirs}" in out and "aborted 1 of 1" in out, out
    assert xml_gcs.open_uploads() == [outside]

    again = run_transfer(spec, journal=tmp_path / "fresh.sqlite")  # nothing half-done is in the way
    assert again.ok and again.copied == 1, again.failures
    assert read_gcs(unique_bucket) == {"d/big.bin": (tmp_path / "src" / "big.bin").read_bytes()}


def test_the_guard_flag_needs_remove_on_gcs(xml_gcs, unique_bucket) -> None:
    from contextlib import redirect_stderr

    err = io.StringIO()
    with redirect_stderr(err):
        rc, _out = _cli(f"gs://{unique_bucket}/d", "--abort-unknown-uploads")
    assert rc == 2 and "--abort-unknown-uploads goes with --cleanup gs://... or s3://... --remove" in err.getvalue()
    assert xml_gcs.seen == []  # refused before anything was asked


def test_listing_turns_pages_and_refuses_undocumented_parameters(xml_gcs, unique_bucket) -> None:
    from google.api_core import exceptions as gexc

    gcs_client().create_bucket(unique_bucket)
    xml = _xml(unique_bucket)
    made = sorted((name, xml.initiate(name, {})) for name in ("p/a", "p/b", "p/b", "p/c", "q/z"))
    xml_gcs.page = 2
    seen_before = len(xml_gcs.seen)
    listed = [(u.key, u.upload_id) for u in xml.list_uploads("p/")]
    assert listed == [m for m in made if m[0].startswith("p/")]
    assert [op for op, _ in xml_gcs.seen[seen_before:]] == ["list_uploads"] * 2  # 4 uploads, 2 a page
    with pytest.raises(gexc.BadRequest, match="InvalidArgument"):
        xml._call("GET", xml.base + "?uploads&max-keys=5")  # ListObjects' parameter, not this one's
    with pytest.raises(gexc.BadRequest, match="InvalidArgument"):
        xml._call("GET", xml.base + "?uploads&max-uploads=many")
    body = xml._call("GET", xml.base + "?uploads&prefix=p/&delimiter=/&encoding-type=url").content.decode()
    assert "<EncodingType>url</EncodingType>" in body and "<Initiated>" in body
    for upload_id in (u for _n, u in made):
        xml.put_part(*next((n, u) for n, u in made if u == upload_id), 1, b"x", __import__("google_crc32c").value(b"x"))
    counted = xml.parts_of(next(iter(xml.list_uploads("q/"))))
    assert (counted.parts, counted.size) == (1, 1) and counted.last_active >= counted.initiated


def test_preconditions_on_xml_multipart_requests_are_answered_not_implemented(xml_gcs, unique_bucket) -> None:
    """Google: "Preconditions are not supported in the requests" (multipart-uploads page); using one
    "results in a 400 NotImplemented error" (request-preconditions page). The engine sends none."""
    from google.api_core import exceptions as gexc

    gcs_client().create_bucket(unique_bucket)
    xml = _xml(unique_bucket)
    with pytest.raises(gexc.BadRequest, match="NotImplemented"):
        xml._call("POST", xml._url("o.bin") + "?uploads", headers={"x-goog-if-generation-match": "0"}, data=b"")
    upload = xml.initiate("o.bin", {})
    with pytest.raises(gexc.BadRequest, match="NotImplemented"):
        xml._call("POST", xml._url("o.bin") + f"?uploadId={upload}", data=b"<CompleteMultipartUpload/>",
                  headers={"x-goog-if-metageneration-match": "1"})
    assert [op for op, status in xml_gcs.seen] == ["refused", "initiate", "refused"]
    assert all(status == 400 for op, status in xml_gcs.seen if op == "refused")


def test_cleanup_on_an_emulator_without_xml_multipart_says_it_did_not_list(gcs, unique_bucket) -> None:
    """fake-gcs-server answers GET ?uploads with a bucket listing: not taken for "no uploads"."""
    gcs_client().create_bucket(unique_bucket)
    rc, out = _cli(f"gs://{unique_bucket}/d")
    assert rc == 0 and "unfinished XML multipart uploads: not listed (the endpoint does not list XML multipart " \
                      "uploads: the answer is a ListBucketResult, not a ListMultipartUploadsResult)" in out, out


def test_a_refused_upload_listing_is_reported_not_taken_for_none(xml_gcs, unique_bucket, monkeypatch) -> None:
    """Without ``storage.multipartUploads.list`` GCS answers 403: the dry run still lists the
    components, says the uploads could not be listed, and exits 1 (it cannot say "nothing left")."""
    from tests.transfer_support import FaultProxy

    bucket = gcs_client().create_bucket(unique_bucket)
    bucket.blob("d/.gpumigrate-tmp/aa/00000").upload_from_string(b"component")

    def answer(method: str, path: str):
        if method == "GET" and path.endswith("?uploads&prefix=d%2F"):
            return 403, (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code><Message>"
                         b"Access denied.</Message></Error>")
        return None

    proxy = FaultProxy(xml_gcs.url, p503=0, preset=0, ptruncate=0, answer=answer)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    try:
        rc, out = _cli(f"gs://{unique_bucket}/d")
    finally:
        proxy.stop()
    assert rc == 1 and "1 leftovers (9 bytes)" in out, out
    assert "failed: unfinished multipart uploads could not be listed: Forbidden: 403 GET" in out
    assert "AccessDenied" in out
