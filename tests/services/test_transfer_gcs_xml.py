"""Large objects to GCS as XML API multipart uploads (no component objects), against a strict
stand-in of that wire format in front of fake-gcs-server (tests/gcs_xml_standin.py).

* the object arrives verified, with its mtime metadata; no component object is ever written;
  the run says which path it took;
* the destination changed between planning and completion: GCS takes no precondition on a
  completion, so the engine checks just before it; the upload is aborted, their object kept,
  reported "changed since planning";
* an interrupted upload resumes from its journalled parts; a failed one leaves no upload;
* the stand-in refuses what GCS refuses (parts out of order, an unknown ETag, a small middle part)."""

from __future__ import annotations

import os

import pytest

from engine.events import Message, Progress
from engine.transfer.api import TransferSpec, run_transfer
from tests.gcs_xml_standin import GcsXmlStandIn
from tests.transfer_support import MIB, gcs_client, gcs_names, interrupt_after_a_part, read_gcs, write_local


@pytest.fixture()
def xml_gcs(gcs, monkeypatch):
    stand_in = GcsXmlStandIn(gcs.url)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", stand_in.url)
    yield stand_in
    stand_in.stop()


def _spec(tmp_path, bucket: str, **kw) -> TransferSpec:
    return TransferSpec(src=str(tmp_path / "src"), dst=f"gs://{bucket}/d", part_threshold_mib=5, part_size_mib=5,
                        gcs_large_uploads="xml-multipart", **{"jobs": 3, **kw})


def test_large_objects_go_as_xml_multipart_uploads_without_components(tmp_path, xml_gcs, unique_bucket) -> None:
    gcs_client().create_bucket(unique_bucket)
    tree = {"big.bin": os.urandom(11 * MIB + 7), "small.txt": b"small"}
    write_local(tmp_path / "src", tree)
    names: set[str] = set()
    events: list = []

    def emit(event) -> None:
        events.append(event)
        if isinstance(event, Progress) and event.extra.get("phase") == "progress":
            names.update(gcs_names(unique_bucket))  # what the bucket holds mid-upload

    s = run_transfer(_spec(tmp_path, unique_bucket), emit=emit, journal=tmp_path / "j.sqlite")
    assert s.ok and s.copied == 2 and s.verified == 2, s.failures
    assert read_gcs(unique_bucket, "d/", include_tmp=True) == tree
    assert not any(".gpumigrate-tmp" in n for n in names | set(gcs_names(unique_bucket)))
    ops = [op for op, _status in xml_gcs.seen]
    assert ops.count("initiate") == 1 and ops.count("part") == 3 and ops.count("complete") == 1, xml_gcs.seen
    assert xml_gcs.open_uploads() == []
    blob = gcs_client().bucket(unique_bucket).get_blob("d/big.bin")
    assert blob.metadata == {"goog-reserved-file-mtime": str(int((tmp_path / "src" / "big.bin").stat().st_mtime))}
    said = [e.text for e in events if isinstance(e, Message) and e.text.startswith("large objects:")]
    assert len(said) == 1 and "XML multipart upload" in said[0] and "checked just before completing" in said[0]
    assert "a write landing between that check and the completion is overwritten" in said[0]  # the gap, said


def test_a_destination_changed_since_planning_is_not_overwritten(tmp_path, xml_gcs, unique_bucket) -> None:
    bucket = gcs_client().create_bucket(unique_bucket)
    bucket.blob("d/big.bin").upload_from_string(b"planned over")
    write_local(tmp_path / "src", {"big.bin": os.urandom(11 * MIB)})
    theirs = b"written by someone else after planning"

    def emit(event) -> None:
        if isinstance(event, Progress) and event.extra.get("phase") == "started":
            gcs_client().bucket(unique_bucket).blob("d/big.bin").upload_from_string(theirs)

    s = run_transfer(_spec(tmp_path, unique_bucket), emit=emit, journal=tmp_path / "j.sqlite")
    assert s.failed == 1 and "changed since planning" in s.failures[0].error, s.failures
    ops = [op for op, _status in xml_gcs.seen]
    assert "complete" not in ops and ops[-1] == "abort"
    assert xml_gcs.open_uploads() == [] and read_gcs(unique_bucket) == {"d/big.bin": theirs}
    again = run_transfer(_spec(tmp_path, unique_bucket), journal=tmp_path / "j.sqlite")  # re-plans over theirs
    assert again.ok and again.copied == 1 and xml_gcs.open_uploads() == [], again.failures


def test_an_interrupted_xml_upload_resumes_from_its_parts(tmp_path, xml_gcs, unique_bucket) -> None:
    gcs_client().create_bucket(unique_bucket)
    data = os.urandom(16 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    journal = tmp_path / "j.sqlite"
    interrupt_after_a_part(_spec(tmp_path, unique_bucket, jobs=1), journal)
    assert len(xml_gcs.open_uploads()) == 1  # kept for the resumed run
    resumed = run_transfer(_spec(tmp_path, unique_bucket, jobs=1), journal=journal)
    assert resumed.ok and resumed.copied == 1 and resumed.resumed_parts >= 1, resumed.failures
    assert [op for op, _ in xml_gcs.seen].count("initiate") == 1
    assert xml_gcs.open_uploads() == [] and read_gcs(unique_bucket) == {"d/big.bin": data}


def test_the_stand_in_refuses_what_gcs_refuses(xml_gcs, unique_bucket) -> None:
    from google.api_core import exceptions as gexc

    from engine.transfer.backends.gcs import client_and_session
    from engine.transfer.backends.gcs_xml import XMLUploads
    from engine.transfer.checksums import crc32c

    gcs_client().create_bucket(unique_bucket)
    client, session = client_and_session(4)
    xml = XMLUploads(session, client.api_endpoint, unique_bucket)
    upload = xml.initiate("o.bin", {})
    big, small = os.urandom(5 * MIB), b"tail"
    one = xml.put_part("o.bin", upload, 1, big, crc32c(big))
    two = xml.put_part("o.bin", upload, 2, small, crc32c(small))
    with pytest.raises(gexc.BadRequest, match="BadDigest"):
        xml.put_part("o.bin", upload, 3, small, crc32c(small) ^ 1)
    with pytest.raises(gexc.BadRequest, match="InvalidArgument"):
        xml.put_part("o.bin", upload, 10_001, small, crc32c(small))
    with pytest.raises(gexc.BadRequest, match="InvalidPartOrder"):
        xml._call("POST", xml._url("o.bin") + f"?uploadId={upload}", data=(
            f"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>{two}</ETag></Part>"
            f"<Part><PartNumber>1</PartNumber><ETag>{one}</ETag></Part></CompleteMultipartUpload>").encode())
    with pytest.raises(gexc.BadRequest, match="InvalidPart"):
        xml.complete("o.bin", upload, [one, one])
    three = xml.put_part("o.bin", upload, 3, small, crc32c(small))
    with pytest.raises(gexc.BadRequest, match="EntityTooSmall"):  # part 2 (4 bytes) is not the last
        xml._call("POST", xml._url("o.bin") + f"?uploadId={upload}", data=(
            f"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>{two}</ETag></Part>"
            f"<Part><PartNumber>3</PartNumber><ETag>{three}</ETag></Part></CompleteMultipartUpload>").encode())
    xml.complete("o.bin", upload, [one, two])
    assert read_gcs(unique_bucket) == {"o.bin": big + small}
    with pytest.raises(gexc.NotFound, match="NoSuchUpload"):
        xml.put_part("o.bin", upload, 1, big, crc32c(big))


def test_auto_takes_xml_on_gcs_and_compose_on_an_emulator(monkeypatch, tmp_path) -> None:
    """Nothing is sent: building a backend makes no request."""
    import json

    from engine.transfer.backends.gcs import GCSBackend
    from engine.transfer.urls import parse_url

    loc = parse_url("gs://bucket/prefix")
    adc = tmp_path / "adc.json"  # an offline stand-in for `gcloud auth application-default login`
    adc.write_text(json.dumps({"type": "authorized_user", "client_id": "id", "client_secret": "secret",
                               "refresh_token": "token", "quota_project_id": "p"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    real = GCSBackend(loc, pool=2)
    assert real.xml is not None and real.xml.base == "https://storage.googleapis.com/bucket"
    assert "auto: the destination is Google Cloud Storage" in real.parts_path() and real.parts_refused() == ""
    assert GCSBackend(loc, pool=2, large_uploads="compose").xml is None
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
    auto = GCSBackend(loc, pool=2)
    assert auto.xml is None and "auto: STORAGE_EMULATOR_HOST is set" in auto.parts_path()
    forced = GCSBackend(loc, pool=2, large_uploads="xml-multipart")
    assert forced.xml is not None and forced.min_part_size == 5 * MIB and forced.xml.base == "http://127.0.0.1:9/bucket"
    assert GCSBackend(loc, pool=2, large_uploads="single").parts_refused().startswith('gcs_large_uploads = "single"')


def test_cli_flag_chooses_the_way(tmp_path, xml_gcs, unique_bucket) -> None:
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from tui.cli import main

    gcs_client().create_bucket(unique_bucket)
    data = os.urandom(6 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        rc = main(["transfer", str(tmp_path / "src"), f"gs://{unique_bucket}/d", "-r", "--part-threshold", "5",
                   "--part-size", "5", "--gcs-large-uploads", "xml-multipart"])
    assert rc == 0 and "large objects: XML multipart upload" in out.getvalue(), out.getvalue()
    assert [op for op, _ in xml_gcs.seen] == ["initiate", "part", "part", "complete"]
    assert read_gcs(unique_bucket) == {"d/big.bin": data}
