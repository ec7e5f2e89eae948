"""The inventory's figure for a source that a [[transfer]] entry copies only in part (review s8 of 999f3bd).

`cost --session S` counted an S3 source whole, "(the whole source counted: what a first move copies)", though the
entry's `exclude` patterns leave objects behind: the basis said what the copy would not do. It says so now, as it
does for an entry that is not recursive."""

from __future__ import annotations

from engine.cost.volume import inventory_volume
from engine.profile import parse_profile
from tests.cost_support import TARGET_A2, WORKLOAD_8_7_10, aws_source

GIB = 1024**3
INVENTORY = {"aws": {"buckets": [{"bucket": "train", "prefixes": [{"prefix": "data/", "objects": 3,
                                                                    "bytes": 600 * GIB}]}]}}


def _volume(extra: str):
    profile = parse_profile("\n".join((aws_source(), TARGET_A2, WORKLOAD_8_7_10,
                                       f'[[transfer]]\nsrc = "s3://train/data/"\ndst = "gs://dst/data/"\n{extra}')))
    return inventory_volume(profile, INVENTORY)


def test_an_entry_with_excludes_says_the_figure_includes_what_they_leave() -> None:
    whole = _volume("")
    assert whole is not None and whole.sized == ["s3://train/data/ 3 objects, 600.00 GiB (listed)"]
    part = _volume('exclude = ["\\\\.ckpt$", "^tmp/"]\n')
    assert part is not None and part.bytes == 600 * GIB
    line = part.sized[0]
    assert "this copy excludes 2 patterns (\\.ckpt$, ^tmp/): the figure includes what they leave" in line, line
    assert "what a first move copies" not in part.basis("the inventory of session s1"), part.basis("x")
