"""Which ``nvidia/cuda`` base image the Dockerfile names, from NVIDIA's own list of published tags.

NVIDIA publishes each CUDA release for some Ubuntu versions only (ubuntu24.04 from 12.5 on, ubuntu18.04 up to
12.0) and deletes a tag once a newer update of the same CUDA is out (13.0.2 went when 13.0.3 came).  A FROM
line built from the toolkit version alone fails at ``docker build`` during the cutover, so the tag is picked
from ``data/cuda_images.csv`` (NVIDIA's ``doc/supported-tags.md``, origin in every row) and every tag the list
does not vouch for carries an amber or red finding saying why.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from engine.drivers.findings import Finding
from engine.drivers.versions import major_minor, vtuple


@dataclass(frozen=True)
class Published:
    """One CUDA release's images for one OS, as NVIDIA's supported-tags list has them."""

    version: tuple[int, int, int]
    os: str
    flavours: tuple[str, ...]
    source: str
    source_date: str


@dataclass(frozen=True)
class BaseImage:
    """The tag the Dockerfile starts from; ``finding`` is None when the list has it for the planned Ubuntu."""

    tag: str
    ubuntu: str
    finding: Finding | None


@lru_cache(maxsize=1)
def published() -> tuple[Published, ...]:
    text = resources.files("engine.drivers").joinpath("data", "cuda_images.csv").read_text(encoding="utf-8")
    out = []
    for row in csv.DictReader(text.splitlines()):
        parts = vtuple(row["cuda_version"])
        out.append(Published((parts[0], parts[1], parts[2]), row["os"], tuple(row["flavours"].split(";")),
                             row["source"], row["source_date"]))
    return tuple(out)


def newest_listed() -> tuple[int, int, int]:
    return max(p.version for p in published())


def table_date() -> str:
    return published()[0].source_date


def _v(version: tuple[int, ...]) -> str:
    return ".".join(str(n) for n in version)


def _ubuntu_key(os: str) -> tuple[int, ...]:
    return vtuple(os.removeprefix("ubuntu"))


def base_image(cuda: str, ubuntu: str, flavour: str = "runtime") -> BaseImage:
    """The newest published ``<cuda>.<patch>-<flavour>-<ubuntu>`` for the CUDA minor, on ``ubuntu`` when the list
    has it there, else on the newest Ubuntu it has (amber); red where the list has no image of that CUDA at all,
    amber "not known to be published" where the CUDA is newer than the list."""
    mm = major_minor(cuda) or (0, 0)
    rows = [p for p in published() if p.version[:2] == mm and p.os.startswith("ubuntu") and flavour in p.flavours]
    here = [p for p in rows if p.os == ubuntu]
    listed = f"NVIDIA's supported-tags list ({table_date()})"
    if here:
        best = max(here, key=lambda p: p.version)
        return BaseImage(f"{_v(best.version)}-{flavour}-{ubuntu}", ubuntu, None)
    if rows:
        best = max(rows, key=lambda p: (_ubuntu_key(p.os), p.version))
        others = ", ".join(sorted({p.os for p in rows}, key=_ubuntu_key, reverse=True))
        tag = f"{_v(best.version)}-{flavour}-{best.os}"
        return BaseImage(tag, best.os, Finding(
            "container", "amber", f"NVIDIA publishes no CUDA {cuda} {flavour} image for {ubuntu} ({listed} has "
            f"CUDA {cuda} on {others} only): the Dockerfile starts from nvidia/cuda:{tag} instead, so the "
            f"container runs {best.os}, not the host's {ubuntu}",
            f"keep the {best.os} container, or choose a CUDA published for {ubuntu} "
            f"({_published_minors(ubuntu, flavour)})", "container-ubuntu-fallback"))
    tag = f"{cuda}.0-{flavour}-{ubuntu}"
    newest = newest_listed()
    if mm > newest[:2]:
        return BaseImage(tag, ubuntu, Finding(
            "container", "amber", f"nvidia/cuda:{tag} is not known to be published as of {listed}, whose newest "
            f"CUDA is {_v(newest)}: `docker build` fails at FROM if the tag does not exist",
            "check the tag on hub.docker.com/r/nvidia/cuda before the cutover, or choose a listed CUDA",
            "container-unknown"))
    return BaseImage(tag, ubuntu, Finding(
        "container", "red", f"{listed} has no nvidia/cuda image of CUDA {cuda} ({flavour}) for any Ubuntu: its "
        f"tags were deleted from Docker Hub or never published, so `docker build` fails at FROM nvidia/cuda:{tag}",
        f"choose a published CUDA: {_nearest(mm, flavour)}", "container-unpublished"))


def _published_minors(ubuntu: str, flavour: str) -> str:
    versions = sorted({p.version for p in published() if p.os == ubuntu and flavour in p.flavours})
    return ", ".join(_v(v) for v in versions) or "none listed"


def _nearest(mm: tuple[int, int], flavour: str) -> str:
    """The published releases just below and above ``mm``, each with the newest Ubuntu it is published for."""
    rows = [p for p in published() if flavour in p.flavours and p.os.startswith("ubuntu")]
    picks = []
    for side in ([p for p in rows if p.version[:2] < mm], [p for p in rows if p.version[:2] > mm]):
        if side:
            version = (max if side[0].version[:2] < mm else min)(p.version for p in side)
            os = max((p.os for p in side if p.version == version), key=_ubuntu_key)
            picks.append(f"{_v(version)} ({os})")
    return " or ".join(picks)
