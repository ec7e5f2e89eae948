"""`gpumigrate cost` (and the Cost screen) had no data volume unless cost.data_gb was set: "NOT counting egress:
data volume unknown" even when the inventory had sized the very bucket the profile moves. With `--session S` the
session's inventory sizes the sources it sized exactly, says which and how, and names the ones it did not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.session import SessionStore
from tests.cost_support import TARGET_A2, WORKLOAD_8_7_10, aws_source
from tui.cli import main

GIB = 1024**3
PROFILE = "\n".join((aws_source(), TARGET_A2, WORKLOAD_8_7_10,
                     '[[transfer]]\nsrc = "s3://train/data/"\ndst = "gs://dst/data/"\n',
                     '[[transfer]]\nsrc = "s3://logs/"\ndst = "gs://dst/logs/"\n',
                     '[[transfer]]\nsrc = "s3://other/x/"\ndst = "gs://dst/x/"\n'))
INVENTORY = {"aws": {"regions": ["us-east-1"], "instances": [], "errors": {},
                     "buckets": [{"bucket": "train", "region": "us-east-1",
                                  "prefixes": [{"prefix": "data/", "objects": 3, "bytes": 600 * GIB}]}],
                     "discovered_buckets": [{"name": "logs", "region": "us-east-1", "objects": 10,
                                             "bytes": 100 * GIB, "metrics_at": "2026-11-28"}]}}


def _cost(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["cost", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cost_with_a_session_takes_the_volume_from_its_inventory(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE, encoding="utf-8")
    with SessionStore.open("s1") as store:
        store.set_step("inventory", "completed", result={"summary": "x", "data": INVENTORY})
    SessionStore.open("s2").close()

    unknown = _cost(capsys, str(path))
    assert unknown["data_basis"] == "unknown" and unknown["egress_not_included"] == "data volume unknown"

    doc = _cost(capsys, str(path), "--session", "s1")
    assert doc["data_gb"] == 700 and doc["object_count"] == 13
    assert doc["data_basis"].startswith("the inventory of session s1 (")
    assert "s3://train/data/ 3 objects, 600.00 GiB (listed)" in doc["data_basis"]
    assert "s3://logs/ 10 objects, 100.00 GiB (CloudWatch's daily figure for 2026-11-28)" in doc["data_basis"]
    assert doc["data_basis"].endswith("(the whole source counted: what a first move copies)")
    egress = next(i for i in doc["one_off_items"] if i["name"] == "egress")
    assert egress["usd"] > 0
    # the one it did not size is named, why, and the one-off says it is without its egress
    assert doc["egress_not_included"] == "s3://other/x/ not sized"
    assert any(n.startswith("not sized by the inventory of session s1 (") and
               "UTC): s3://other/x/ (not in the inventory (name it in [inventory] buckets))" in n
               for n in doc["notes"]), doc["notes"]
    # the inventory scanned us-east-1 and found no p3.2xlarge there: said, not "not priced"
    assert any("the inventory found no EBS volumes" in n for n in doc["notes"])

    given = _cost(capsys, str(path), "--session", "s1", "--data-gb", "50")  # a figure given wins, and says so
    assert (given["data_gb"], given["data_basis"]) == (50, "cost.data_gb")

    none = _cost(capsys, str(path), "--session", "s2")
    assert none["data_basis"] == "unknown"
    assert "session s2 has no inventory result: the data volume is not taken from it" in none["notes"]
    assert main(["cost", str(path), "--session", "nosuch"]) == 2


def test_the_ebs_note_says_whose_inventory_and_what_it_did_not_read(tmp_path: Path, capsys) -> None:
    """`cost P --session S` said the EBS volumes were "not priced (no inventory of them in this run)" while the
    same report took its data volume from S's inventory: the note names that inventory and what it did not read
    (no AWS region scanned, the source's region not among those scanned, a region it could not read)."""
    path = tmp_path / "p.toml"
    path.write_text(PROFILE, encoding="utf-8")
    local_only = {"local_dirs": [], "aws": None}
    buckets_only = {"aws": {**INVENTORY["aws"], "regions": []}}
    unread = {"aws": {**INVENTORY["aws"], "errors": {"us-east-1": "UnauthorizedOperation: no"}}}
    for name, data in (("e1", local_only), ("e2", buckets_only), ("e3", unread)):
        with SessionStore.open(name) as store:
            store.set_step("inventory", "completed", result={"summary": "x", "data": data})

    def ebs_note(*args: str) -> str:
        notes = [n for n in _cost(capsys, str(path), *args)["notes"] if "EBS volumes are not priced" in n]
        assert len(notes) == 1, notes
        assert "in this run" not in notes[0], notes[0]
        return notes[0]

    assert "(the inventory of session e1 (" in ebs_note("--session", "e1")
    assert "): it scanned no AWS region (the profile's [inventory] names no aws_regions))" in ebs_note(
        "--session", "e1")
    assert "it did not scan us-east-1, the source's region" in ebs_note("--session", "e2")
    assert "it could not read us-east-1: UnauthorizedOperation: no" in ebs_note("--session", "e3")
    assert "(no inventory of them: `gpumigrate cost --session NAME` reads a session's)" in ebs_note()
    SessionStore.open("e4").close()
    assert "(no inventory of them: session e4 has no inventory result)" in ebs_note("--session", "e4")
