"""Image references in Dockerfiles, compose files and (multi-document) Kubernetes manifests; local dir sizing."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.inventory.images import parse_dockerfile, parse_reference, registry_kind, scan_images, substitute
from engine.inventory.local import size_dir

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG CUDA=12.1.1
ARG REGISTRY=123456789012.dkr.ecr.us-east-1.amazonaws.com
ARG UBUNTU
FROM --platform=linux/amd64 nvidia/cuda:${CUDA}-cudnn8-devel-ubuntu22.04 AS build
RUN apt-get update && \\
    apt-get install -y git
COPY --from=ghcr.io/astral-sh/uv:0.4 /uv /bin/uv
FROM ${REGISTRY}/ml/base:${TAG:-2024.06} as runtime
COPY --from=build /opt/app /opt/app
COPY --from=0 /etc/x /etc/x
FROM runtime
FROM ubuntu:${UBUNTU}
FROM scratch
"""

DIGEST = "sha256:" + "0123456789abcdef" * 4  # a well-formed digest: 64 hex digits


def test_dockerfile_args_stages_and_copy_from() -> None:
    refs = parse_dockerfile(DOCKERFILE, "Dockerfile")
    assert [(r.line, r.image) for r in refs] == [
        (5, "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04"),
        (8, "ghcr.io/astral-sh/uv:0.4"),
        (9, "123456789012.dkr.ecr.us-east-1.amazonaws.com/ml/base:2024.06"),
        (13, "ubuntu:${UBUNTU}"),
    ]
    cuda, uv, base, ubuntu = refs
    assert cuda.written == "nvidia/cuda:${CUDA}-cudnn8-devel-ubuntu22.04" and cuda.context == "build"
    assert cuda.registry == "docker.io" and cuda.registry_kind == "docker-hub" and cuda.repository == "nvidia/cuda"
    assert uv.registry_kind == "ghcr" and uv.context == "COPY --from"
    assert base.registry_kind == "ecr" and base.region == "us-east-1" and base.tag == "2024.06"
    assert base.context == "runtime"
    assert ubuntu.unresolved == ["UBUNTU"]


def test_build_args_override_defaults() -> None:
    refs = parse_dockerfile(DOCKERFILE, "Dockerfile", {"CUDA": "12.4.1", "UBUNTU": "22.04"})
    assert refs[0].image == "nvidia/cuda:12.4.1-cudnn8-devel-ubuntu22.04"
    assert refs[-1].image == "ubuntu:22.04" and refs[-1].unresolved == []


@pytest.mark.parametrize("ref, expected", [
    ("ubuntu", ("docker.io", "library/ubuntu", "latest", None)),
    ("nvidia/cuda:12.1.1-runtime", ("docker.io", "nvidia/cuda", "12.1.1-runtime", None)),
    ("nvcr.io/nvidia/pytorch:24.05-py3", ("nvcr.io", "nvidia/pytorch", "24.05-py3", None)),
    ("localhost:5000/app", ("localhost:5000", "app", "latest", None)),
    ("gcr.io/p/app@sha256:abc", ("gcr.io", "p/app", None, "sha256:abc")),
    ("us-central1-docker.pkg.dev/p/repo/app:1", ("us-central1-docker.pkg.dev", "p/repo/app", "1", None)),
])
def test_parse_reference(ref: str, expected: tuple) -> None:
    assert parse_reference(ref) == expected


def test_registry_kinds() -> None:
    assert registry_kind("123456789012.dkr.ecr.eu-west-1.amazonaws.com") == ("ecr", "eu-west-1")
    assert registry_kind("public.ecr.aws") == ("ecr-public", None)
    assert registry_kind("nvcr.io") == ("ngc", None)
    assert registry_kind("europe-west4-docker.pkg.dev") == ("artifact-registry", "europe-west4")
    assert registry_kind("eu.gcr.io") == ("gcr", None)
    assert registry_kind("registry.example.com") == ("other", None)


def test_substitute_forms() -> None:
    assert substitute("${A}-$B-${C:-c}-${D:+d}", {"A": "a", "B": "b", "D": "x"}) == ("a-b-c-d", [])
    assert substitute("${X}", {}) == ("${X}", ["X"])


def test_scan_compose_and_multidoc_kubernetes(tmp_path: Path) -> None:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "docker-compose.yml").write_text(
        "services:\n  trainer:\n    image: nvcr.io/nvidia/pytorch:24.05-py3\n  cache:\n    image: redis:7\n"
        "  built:\n    build: .\n")
    (tmp_path / "k8s.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {image: not-an-image}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: infer\nspec:\n  template:\n    spec:\n"
        "      initContainers:\n        - name: fetch\n          image: public.ecr.aws/aws-cli/aws-cli:2.15\n"
        "      containers:\n        - name: server\n          image: \"123456789012.dkr.ecr.us-west-2.amazonaws.com/infer@" + DIGEST + "\"\n"
        "---\n"
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  jobTemplate:\n    spec:\n"
        "      template:\n        spec:\n          containers:\n            - name: job\n              image: busybox\n")
    (tmp_path / "broken.yaml").write_text("a: [unclosed\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "Dockerfile").write_text("FROM skipped:1\n")
    (tmp_path / "Dockerfile.gpu").write_text("FROM nvidia/cuda:12.4.1-base-ubuntu22.04\n")
    scan = scan_images(tmp_path)
    got = [(r.file, r.line, r.source, r.image, r.context) for r in scan.images]
    assert got == [
        ("Dockerfile.gpu", 1, "dockerfile", "nvidia/cuda:12.4.1-base-ubuntu22.04", None),
        ("k8s.yaml", 15, "kubernetes", "public.ecr.aws/aws-cli/aws-cli:2.15", "Deployment/infer/fetch"),
        ("k8s.yaml", 18, "kubernetes", "123456789012.dkr.ecr.us-west-2.amazonaws.com/infer@" + DIGEST,
         "Deployment/infer/server"),
        ("k8s.yaml", 31, "kubernetes", "busybox", "CronJob/nightly/job"),
        ("svc/docker-compose.yml", 3, "compose", "nvcr.io/nvidia/pytorch:24.05-py3", "trainer"),
        ("svc/docker-compose.yml", 5, "compose", "redis:7", "cache"),
    ]
    assert scan.images[2].digest == DIGEST and scan.images[2].region == "us-west-2"
    assert scan.files_scanned == 4 and len(scan.problems) == 1 and "broken.yaml" in scan.problems[0]
    assert scan.registries()["docker.io"] == 3


def test_missing_images_dir(tmp_path: Path) -> None:
    scan = scan_images(tmp_path / "nope")
    assert scan.images == [] and "not a directory" in scan.problems[0]


def test_size_dir_counts_and_largest(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for i in range(30):
        (tmp_path / "a" / f"f{i:02d}.bin").write_bytes(b"x" * i)
    (tmp_path / "a" / "b" / "big.pt").write_bytes(b"y" * 5000)
    (tmp_path / "link").symlink_to(tmp_path / "a")  # not followed
    result = size_dir(str(tmp_path), None, keep_largest=3)
    assert result.files == 31 and result.bytes == sum(range(30)) + 5000 and result.dirs == 2
    assert result.largest == [("a/b/big.pt", 5000), ("a/f29.bin", 29), ("a/f28.bin", 28)]
    rel = size_dir(tmp_path.name, tmp_path.parent)
    assert rel.files == 31 and rel.resolved == str(tmp_path.resolve())
    missing = size_dir("nope", tmp_path)
    assert not missing.exists and missing.files == 0


def test_a_malformed_reference_is_said_not_listed_as_an_image(tmp_path: Path) -> None:
    """'ubuntu:22.04:extra' was listed as the Docker Hub image library/ubuntu:22.04 with tag 'extra'."""
    (tmp_path / "Dockerfile").write_text(
        "FROM ubuntu:22.04:extra AS a\nFROM Nvidia/CUDA:12.4.1-base-ubuntu22.04\nFROM gcr.io/p/app@sha256:abc\n"
        f"FROM gcr.io/p/app@{DIGEST}\nARG BASE\nFROM ${{BASE}}\nFROM localhost:5000/team/img:v1\n", encoding="utf-8")
    (tmp_path / "docker-compose.yml").write_text("services:\n  a:\n    image: \"foo bar\"\n", encoding="utf-8")
    scan = scan_images(tmp_path)
    assert [(r.file, r.line) for r in scan.images] == [("Dockerfile", 4), ("Dockerfile", 6), ("Dockerfile", 7)]
    assert scan.images[1].unresolved == ["BASE"]  # a build argument without a value is said by its own field
    problems = "\n".join(scan.problems)
    assert "Dockerfile:1: 'ubuntu:22.04:extra' is not a valid image reference" in problems
    assert "Dockerfile:2:" in problems and "lowercase" in problems
    assert "Dockerfile:3:" in problems and "64 hex digits" in problems
    assert "docker-compose.yml:3: 'foo bar'" in problems and "space" in problems
