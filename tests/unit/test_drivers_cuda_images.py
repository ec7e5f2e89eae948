"""The Dockerfile names an nvidia/cuda tag NVIDIA publishes (review session 7).

The FROM line was built as ``<cuda>.<toolkit update>-runtime-<ubuntu>`` with no record of which tags exist:
CUDA 13.0 on A100 wrote ``13.0.2-runtime-ubuntu22.04`` (NVIDIA deletes a tag once a newer update of the same
CUDA is out: the list has 13.0.3), CUDA 12.4 with ``os_image = "ubuntu-2404"`` wrote ``12.4.1-runtime-ubuntu24.04``
(never published: ubuntu24.04 images start at 12.5) and CUDA 11.3 wrote a tag gone from Docker Hub, each failing
at ``docker build`` during the cutover with a green plan.  ``engine/drivers/data/cuda_images.csv`` records NVIDIA's
supported-tags list; the plan says amber/red where the tag is a fallback, gone, or newer than the list.
"""

from __future__ import annotations

from engine.drivers import images
from tests.unit.test_drivers_dockerfile_matches_plan import _artefacts


def _container(plan):
    return [(f.status, f.code) for f in plan.findings if f.component == "container"]


def test_the_table_keeps_its_origin_and_the_newest_patch_per_minor() -> None:
    rows = images.published()
    assert rows and all("supported-tags.md" in r.source and "181367a60650bee1a0d32f52b0e96d83d982de0d" in r.source
                        for r in rows)
    assert images.newest_listed() == (13, 2, 1)
    choice = images.base_image("12.6", "ubuntu24.04")
    assert (choice.tag, choice.finding) == ("12.6.3-runtime-ubuntu24.04", None)
    assert images.base_image("13.0", "ubuntu22.04").tag == "13.0.3-runtime-ubuntu22.04"


def test_a_deleted_patch_is_not_written() -> None:
    plan, text = _artefacts('cuda = "13.0"')
    assert "FROM nvidia/cuda:13.0.3-runtime-ubuntu22.04" in text, text
    assert _container(plan) == []


def test_no_image_for_the_planned_ubuntu_falls_back_and_says_why() -> None:
    plan, text = _artefacts('cuda = "12.4"\nos_image = "ubuntu-2404"')
    assert "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04" in text, text
    assert _container(plan) == [("amber", "container-ubuntu-fallback")], plan.findings
    reason = next(f.reason for f in plan.findings if f.component == "container")
    assert "no CUDA 12.4 runtime image for ubuntu24.04" in reason and "ubuntu22.04" in reason
    assert "# NVIDIA publishes no CUDA 12.4 runtime image for ubuntu24.04" in text


def test_a_cuda_with_no_published_image_is_red_in_the_plan_and_said_in_the_file() -> None:
    plan, text = _artefacts('cuda = "11.3"')
    assert _container(plan) == [("red", "container-unpublished")], plan.findings
    found = next(f for f in plan.findings if f.component == "container")
    assert "CUDA 11.3" in found.reason and "`docker build` fails" in found.reason
    assert found.fix == "choose a published CUDA: 11.2.2 (ubuntu20.04) or 11.4.3 (ubuntu20.04)"
    assert "# NOT PUBLISHED" in text and plan.status == "red"


def test_a_cuda_newer_than_the_table_is_not_known_to_be_published() -> None:
    plan, text = _artefacts('cuda = "14.0"')
    assert _container(plan) == [("amber", "container-unknown")], plan.findings
    reason = next(f.reason for f in plan.findings if f.component == "container")
    assert "not known to be published as of" in reason and "13.2.1" in reason
    assert "FROM nvidia/cuda:14.0.0-runtime-ubuntu22.04" in text and "# NOT KNOWN TO BE PUBLISHED: " in text


def test_a_python_gap_on_a_fallback_base_does_not_advise_the_os_image_already_chosen() -> None:
    plan, text = _artefacts('framework = "jax"\nframework_version = "0.7"\ncuda = "12.4"\nos_image = "ubuntu-2404"')
    assert "or choose a CUDA with an ubuntu24.04 image" in text and "use the ubuntu24.04 base" not in text
    (gap,) = [f for f in plan.findings if f.code == "container-python"]
    assert "ubuntu22.04 base installs Python 3.10" in gap.reason
    assert 'os_image = "ubuntu-2404"' not in gap.fix and "CUDA NVIDIA publishes for ubuntu24.04" in gap.fix, gap.fix


def test_drivers_json_and_text_name_the_image_the_dockerfile_starts_from(capsys) -> None:
    """`drivers --json` gave only `cuda_patch`, the toolkit update the apt packages install (13.0 -> 2), while the
    Dockerfile starts from 13.0.3: a tool reading the plan could not learn the tag (review session 7)."""
    import json
    from pathlib import Path

    from tui.cli import main

    profile = str(Path(__file__).resolve().parents[2] / "profiles" / "aws-p3-to-gcp-a100.toml")
    assert main(["drivers", profile, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    image = doc["plan"]["container_image"]
    assert image == {"image": "nvidia/cuda:13.0.3-runtime-ubuntu22.04", "tag": "13.0.3-runtime-ubuntu22.04",
                     "ubuntu": "ubuntu22.04", "listed": True, "finding": None}, image
    assert doc["plan"]["cuda_patch"] == 2  # the toolkit's update, not the image's
    dockerfile = next(a["text"] for a in doc["artefacts"] if a["kind"] == "dockerfile")
    assert f"FROM {image['image']}\n" in dockerfile
    assert main(["drivers", profile]) == 0
    assert "  container base: nvidia/cuda:13.0.3-runtime-ubuntu22.04 (NVIDIA's supported-tags list)" \
        in capsys.readouterr().out


def test_an_unpublished_image_is_named_as_not_listed_in_the_plan_dict() -> None:
    from engine.drivers.render import container_image

    plan, _ = _artefacts('cuda = "11.3"')
    assert container_image(plan) == {"image": "nvidia/cuda:11.3.0-runtime-ubuntu22.04",
                                     "tag": "11.3.0-runtime-ubuntu22.04", "ubuntu": "ubuntu22.04", "listed": False,
                                     "finding": "container-unpublished"}
