"""The pure formatting helpers behind the progress displays (tui/widgets/format.py)."""

from __future__ import annotations

import math

import pytest

from engine.transfer.spec import TransferSpec
from tui.widgets.format import (DASH, bytes_of, count_of, human_bytes, human_eta, human_rate, percent, plural,
                                transfer_options)


@pytest.mark.parametrize(("n", "text"), [
    (0, "0 B"), (1, "1 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
    (300 * 1024, "300.0 KiB"), (12 * 1024**2, "12.0 MiB"), (5 * 1024**3 + 1024**3 // 2, "5.5 GiB"),
    (2 * 1024**4, "2.0 TiB"), (3 * 1024**5, "3.0 PiB"), (4096 * 1024**5, "4096.0 PiB"), (-2048, "-2.0 KiB"),
    (None, DASH), (math.nan, DASH), (math.inf, DASH),
])
def test_human_bytes(n: float | None, text: str) -> None:
    assert human_bytes(n) == text


@pytest.mark.parametrize(("rate", "text"), [
    (None, DASH), (-1.0, DASH), (math.nan, DASH), (0.0, "0 B/s"), (4 * 1024**2, "4.0 MiB/s"), (512.4, "512 B/s"),
])
def test_human_rate(rate: float | None, text: str) -> None:
    assert human_rate(rate) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (None, DASH), (-1, DASH), (math.inf, DASH), (0, "0s"), (0.2, "1s"), (42, "42s"), (59.5, "1m 00s"),
    (185, "3m 05s"), (3600, "1h 00m"), (2 * 3600 + 7 * 60 + 3, "2h 07m"), (3 * 86400 + 4 * 3600, "3d 04h"),
])
def test_human_eta(seconds: float | None, text: str) -> None:
    assert human_eta(seconds) == text


def test_percent_and_counts() -> None:
    assert percent(5, 20) == "25%" and percent(4997, 5000) == "99%" and percent(5000, 5000) == "100%"
    assert percent(0, None) == DASH and percent(None, 10) == DASH
    assert percent(0, 0) == "100%"  # nothing to do is done
    assert percent(30, 20) == "100%" and percent(-1, 20) == "0%"
    assert count_of(1200, 4000) == "1,200 / 4,000"
    assert count_of(3, None) == "3 / …"
    assert bytes_of(1024, 4096) == "1.0 KiB / 4.0 KiB"
    assert bytes_of(1024, None) == "1.0 KiB / …"
    assert plural(1, "object") == "1 object" and plural(0, "object") == "0 objects"
    assert plural(2, "entry", "entries") == "2 entries" and plural(1200, "object") == "1,200 objects"


def test_transfer_options_are_the_equivalent_flags() -> None:
    assert transfer_options(TransferSpec(src="a", dst="b")) == "-r"
    spec = TransferSpec(src="a", dst="b", recursive=False, delete=True, checksum=True, exclude=[r"\.tmp$", "^cache/"],
                        jobs=16, bwlimit="50M", max_delete=0, allow_empty_source=True)
    assert transfer_options(spec) == (r"-d -c -x \.tmp$ -x ^cache/ -j 16 --bwlimit 50M --max-delete 0 "
                                      "--allow-empty-source")
    links = TransferSpec(src="a", dst="b", follow_symlinks=False, skip_broken_symlinks=True)
    assert transfer_options(links) == "-r --no-follow-symlinks --skip-broken-symlinks"
