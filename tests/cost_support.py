"""Profile text the cost tests share: a p3.2xlarge on AWS moving to an a2-highgpu-1g, in pieces, so each
test adds only the sections it is about and its line numbers stay where they were."""

from __future__ import annotations

TARGET_A2 = '[target]\nmachine_type = "a2-highgpu-1g"\n'
WORKLOAD_8_7_10 = "[workload]\nsource_hours_per_run = 8\ntarget_hours_per_run = 7\nruns_per_month = 10\n"

NO_REGION_PRICE = """[source]
provider = "aws"
region = "af-south-1"
instance_type = "p3.2xlarge"

[target]
machine_type = "a2-highgpu-1g"

[workload]
source_hours_per_run = 8
speedup = 2
"""
"""A source region the catalog has no p3.2xlarge price for; ``source.region`` is on line 3."""


def aws_source(region: str = "us-east-1", *, hourly: bool = True) -> str:
    """``[source]``: a p3.2xlarge in ``region``, at the usual $3.06 an hour unless ``hourly`` is off."""
    text = f'[source]\nprovider = "aws"\nregion = "{region}"\ninstance_type = "p3.2xlarge"\n'
    return text + "hourly_usd = 3.06\n" if hourly else text
