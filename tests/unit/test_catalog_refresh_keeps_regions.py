"""A refresh of one region replaces that region's cached rows and keeps the other regions' (both AWS caches
share this); a cache that is missing or unreadable keeps nothing rather than failing the refresh."""

from __future__ import annotations

import json
from pathlib import Path

from engine.catalog.refresh_aws import rows_of_other_regions


def test_rows_of_the_other_regions_are_kept(tmp_path: Path) -> None:
    cache = tmp_path / "aws.json"
    when = "2025-03-01T00:00:00+00:00"  # the earlier refresh; one row carries its own, older date
    cache.write_text(json.dumps({"refreshed_at": when,
                                 "instances": [{"instance_type": "p3.2xlarge", "region": "us-east-1"},
                                               {"instance_type": "p3.2xlarge", "region": "eu-west-1"}],
                                 "network": [{"key": "s3", "scope": "us-east-1"},
                                             {"key": "s3", "scope": "ap-south-1", "refreshed_at": "2024-12-24"}]}))
    assert rows_of_other_regions(cache, "instances", "region", "us-east-1") == [
        {"instance_type": "p3.2xlarge", "region": "eu-west-1", "refreshed_at": when}]
    assert rows_of_other_regions(cache, "network", "scope", "us-east-1") == [
        {"key": "s3", "scope": "ap-south-1", "refreshed_at": "2024-12-24"}]
    assert rows_of_other_regions(tmp_path / "absent.json", "instances", "region", "us-east-1") == []
    cache.write_text("{not json")
    assert rows_of_other_regions(cache, "instances", "region", "us-east-1") == []
