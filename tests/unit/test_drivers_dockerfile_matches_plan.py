"""The Dockerfile installs what the plan says (review session 7).

jax: the plan said "jax 0.7 cu130" and the Dockerfile ran `pip install "jax[cuda13]"` (whatever jax is newest
that day); an unknown jax (0.4.30, amber in the plan) was installed the same way under "matching the
framework build".  And jax 0.7 supports Python 3.11-3.13 (the shipped table) while the ubuntu22.04 base's
python3 is 3.10: pip finds no jax 0.7 there, and the plan was all green.
"""

from __future__ import annotations

from datetime import date

from engine.drivers import render
from engine.profile import parse_profile

TODAY = date(2026, 11, 23)


def _artefacts(drivers: str, today: date = TODAY):
    """(plan, Dockerfile text) for an A100 target with this [drivers] table (also used by test_drivers_cuda_images)."""
    profile = parse_profile('[source]\nprovider = "aws"\n[target]\nmachine_type = "a2-highgpu-1g"\n'
                            f'gpu_model = "A100 40GB"\n[drivers]\n{drivers}\n', "t.toml")
    plan = render.plan_for_profile(profile, today=today)
    (docker,), _ = render.render_all(profile, plan, kinds=("dockerfile",))
    return plan, docker.text


def test_a_known_jax_is_pinned_to_the_planned_release() -> None:
    plan, text = _artefacts('framework = "jax"\nframework_version = "0.7"\nos_image = "ubuntu-2404"')
    assert 'RUN pip install --no-cache-dir "jax[cuda13]==0.7.*"' in text, text
    assert "container-python" not in [f.code for f in plan.findings]


def test_an_unknown_jax_is_not_installed_under_matching_the_framework_build() -> None:
    plan, text = _artefacts('framework = "jax"\nframework_version = "0.4.30"')
    assert "framework-unknown" in [f.code for f in plan.findings]
    assert "jax[cuda" not in text and "not installed here" in text and "matching the framework build" not in text


def test_a_release_the_base_images_python_cannot_install_is_said_in_the_plan_and_the_file() -> None:
    plan, text = _artefacts('framework = "jax"\nframework_version = "0.7"')
    found = [f for f in plan.findings if f.code == "container-python"]
    assert [f.status for f in found] == ["amber"], plan.findings
    assert found[0].reason.startswith("jax 0.7 supports Python 3.11-3.13 (the shipped table); the Dockerfile's "
                                      "nvidia/cuda ubuntu22.04 base installs Python 3.10")
    assert "# jax 0.7 supports Python 3.11-3.13" in text
    fine, _ = _artefacts('framework = "pytorch"\nframework_version = "2.4"')
    assert "container-python" not in [f.code for f in fine.findings]
