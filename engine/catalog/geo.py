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


NEAR_WORDS = "the priced region nearest by name on its continent"
"""How a PRICE FALLBACK note says which region stood in (see :func:`nearby_aws_region`)."""

FALLBACK_ELSEWHERE = (" (or `gpumigrate replay --allow-price-fallback`, or cost.allow_price_fallback = true in the "
                      "profile)")
"""The other ways to allow a price fallback, after `gpumigrate cost --allow-price-fallback` in a refusal."""


def nearby_words(region: str, near: str) -> str:
    """What a PRICE FALLBACK note adds after the stand-in's name: :data:`NEAR_WORDS` when it is on
    ``region``'s continent, nothing when it is :func:`nearby_aws_region`'s us-east-1 default for a continent
    without a price."""
    return f", {NEAR_WORDS}" if aws_continent(near) == aws_continent(region) else ""


def nearby_aws_region(region: str, priced: list[str]) -> str:
    """The priced region to stand in for ``region`` when it has no price (a loud PRICE FALLBACK): on its
    continent, the one sharing the longest name prefix (ap-southeast-3 -> ap-southeast-1, me-central-1 ->
    me-south-1), us-east-1 on a tie; us-east-1 when the continent has none. It was us-east-1 for every region."""
    import os.path

    near = [r for r in priced if aws_continent(r) == aws_continent(region)]
    if not near:
        return "us-east-1"
    return max(sorted(near), key=lambda r: (len(os.path.commonprefix([r, region])), r == "us-east-1"))
