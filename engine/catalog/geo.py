"""Which continent a Google Cloud region is on, as Google prices data transfer between regions."""

from __future__ import annotations

CONTINENTS = (("northamerica-", "NA"), ("us-", "NA"), ("southamerica-", "SA"), ("europe-", "EU"), ("asia-", "ASIA"),
              ("australia-", "OCEANIA"), ("me-", "ME"), ("africa-", "AF"))


def continent(gcp_region: str) -> str:
    """The continent Google Cloud prices inter-region transfer by (``europe-west4`` -> ``EU``)."""
    return next((code for prefix, code in CONTINENTS if gcp_region.startswith(prefix)), "unknown")


def continent_pair(a: str, b: str) -> str:
    """The catalog's scope for transfer between two regions' continents, either direction (``EU-NA``)."""
    return "-".join(sorted((continent(a), continent(b))))


AWS_CONTINENTS = (("us-", "NA"), ("ca-", "NA"), ("mx-", "NA"), ("sa-", "SA"), ("eu-", "EU"), ("ap-", "ASIA"),
                  ("me-", "ME"), ("il-", "ME"), ("af-", "AF"))


def aws_continent(aws_region: str) -> str:
    """The continent of an AWS region by its prefix (``eu-west-3`` -> ``EU``; Asia Pacific is one), for picking
    a nearby region's price when a region has none."""
    return next((code for prefix, code in AWS_CONTINENTS if aws_region.startswith(prefix)), "unknown")
