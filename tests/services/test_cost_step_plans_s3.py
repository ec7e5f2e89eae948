"""Replay runs cost before transfer: an S3 source's data was "not sized here", its egress (the largest one-off)
left out while the summary gave a one-off and a break-even as if complete. The cost step now plans the S3 source
as the transfer step would (moto's server on loopback), and says which source it could not size."""

from __future__ import annotations

from pathlib import Path

import boto3

from engine.profile import parse_profile
from engine.runner import run_steps
from tests import stand_ins
from tests.cost_support import TARGET_A2, WORKLOAD_8_7_10, aws_source


def test_the_cost_step_sizes_an_s3_source_by_its_transfer_plan(aws: stand_ins.StandIn, tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="train")
    sizes = {"data/a.bin": 3000, "data/b/c.bin": 5000, "other/x.bin": 7000}  # "other/" is not in the source
    for key, size in sizes.items():
        s3.put_object(Bucket="train", Key=key, Body=b"x" * size)
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "a.bin").write_bytes(b"x" * 3000)  # already there: the plan does not copy it again
    text = "\n".join((aws_source(hourly=False), TARGET_A2, WORKLOAD_8_7_10,
                      f'[[transfer]]\nsrc = "s3://train/data/"\ndst = "{dst}"\n',
                      f'[[transfer]]\nsrc = "s3://no-such-bucket/x/"\ndst = "{tmp_path / "dst2"}"\n',
                      # no Google credentials here: the destination cannot be listed, the source still can
                      '[[transfer]]\nsrc = "s3://train/other/"\ndst = "gs://elsewhere/other/"\n'))
    events: list = []
    result = run_steps(parse_profile(text), ["cost"], emit=events.append,
                       profile_path=tmp_path / "p.toml").results["cost"]
    assert result.ok, result.summary
    doc = result.data
    # a.bin is already at the destination: still counted (s8). Run after the transfer (a session's cost step runs
    # again when the prices change), the plan left out all that was copied: egress $0.00 and a break-even with no
    # "NOT counting", as if the move had cost no egress at all
    assert doc["data_gb"] * 1024**3 == 3000 + 5000 + 7000 and doc["object_count"] == 3
    assert doc["data_basis"].startswith("planned now like the transfer step plans it (s3://train/data/: 1 object to copy, "
                                        "1 already at the destination (counted: an earlier run of this move paid its "
                                        "egress; an over-count if it was there before); s3://train/other/: 1 object listed at the "
                                        "source, all counted (the plan could not be made: "), doc["data_basis"]
    assert doc["egress_not_included"] == "s3://no-such-bucket/x/ not sized"
    assert "NOT counting egress: s3://no-such-bucket/x/ not sized" in result.summary
    texts = " ".join(getattr(e, "text", "") for e in events)
    assert "cost: s3://no-such-bucket/x/ not sized here (" in texts
