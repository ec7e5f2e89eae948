"""Loss-curve readers and the convergence check on real files (CSV, JSON lines, TensorBoard)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.errors import BadInputError
from engine.verify.checks import convergence
from engine.verify.checks.base import run_check
from engine.verify.curves import interpolate, read_curve
from engine.verify.tfevents import write_scalars
from tests.verify_support import context, loss_curve, write_csv


def test_csv_with_header_without_header_and_extra_columns(tmp_path: Path) -> None:
    assert read_curve(write_csv(tmp_path / "a.csv", [(0, 2.0), (5, 1.0)])) == [(0, 2.0), (5, 1.0)]
    assert read_curve(write_csv(tmp_path / "b.csv", [(0, 2.0), (5, 1.0)], header=False)) == [(0, 2.0), (5, 1.0)]
    (tmp_path / "c.csv").write_text("epoch,step,lr,loss\n0,10,0.1,3.5\n0,20,0.1,nan\n")
    curve = read_curve(tmp_path / "c.csv")
    assert curve[0] == (10, 3.5) and math.isnan(curve[1][1])


def test_jsonl_skips_other_records_and_keeps_the_last_value_of_a_rewritten_step(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"step": 1, "loss": 2.0}, {"step": 1, "eval_acc": 0.1}, {"step": 2, "loss": 1.5}, {"step": 2, "loss": 1.4},
    ]) + "\n")
    assert read_curve(path) == [(1, 2.0), (2, 1.4)]


@pytest.mark.parametrize("text, match", [
    ("step,loss\n1,abc\n", "not a number"),
    ("step,loss\n1.5,2\n", "whole number"),
    ("step,acc\n1,2\n", "2"),  # a two-column file is read as step,value
    ("{\"step\": 1, \"loss\": 1}\nnot json\n", "not JSON"),
    ("time,acc,f1\n1,2,3\n", "no 'loss' column"),
])
def test_malformed_curves_name_the_line(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text(text)
    if match == "2":
        assert read_curve(path) == [(1, 2.0)]
        return
    with pytest.raises(BadInputError, match=match):
        read_curve(path)


def test_interpolation_between_logged_steps() -> None:
    curve = [(0, 2.0), (10, 1.0)]
    assert interpolate(curve, 5) == 1.5 and interpolate(curve, 10) == 1.0 and interpolate(curve, 11) is None


def _run(tmp_path: Path, base: list, target: list, target_format: str = "tb", **cfg):
    write_csv(tmp_path / "base.csv", base)
    if target_format == "tb":
        write_scalars(tmp_path / "target.tfevents", target)
        name = "target.tfevents"
    else:
        (tmp_path / "t.jsonl").write_text("".join(json.dumps({"step": s, "loss": v}) + "\n" for s, v in target))
        name = "t.jsonl"
    ctx = context(tmp_path, convergence={"baseline_file": "base.csv", "target_file": name, **cfg})
    return run_check(convergence, ctx, None)


def test_same_training_on_another_gpu_passes(tmp_path: Path) -> None:
    result = _run(tmp_path, loss_curve(1), loss_curve(2), smoothing=3)
    assert result.status == "pass", result.details
    assert result.figures["compared_steps"] == 101 and result.figures["outside"] == 0


def test_a_diverging_run_fails_with_the_first_bad_step(tmp_path: Path) -> None:
    target = [(s, v if s < 600 else v * (1 + (s - 590) / 100)) for s, v in loss_curve(2)]
    result = _run(tmp_path, loss_curve(1), target)
    assert result.status == "fail"
    assert "first at step 6" in result.details[0] and "final loss" in result.details[1]


def test_nan_loss_is_outside_the_band(tmp_path: Path) -> None:
    target = [(s, float("nan") if s >= 900 else v) for s, v in loss_curve(1)]
    result = _run(tmp_path, loss_curve(1), target, target_format="jsonl", max_outside=0.5)
    assert result.status == "fail"
    assert result.figures["outside"] == 11 and result.figures["final_target"] is None


def test_a_uniformly_worse_run_fails_and_absolute_band_can_admit_it(tmp_path: Path) -> None:
    worse = loss_curve(1, scale=1.08)
    assert _run(tmp_path, loss_curve(1), worse).status == "fail"
    assert _run(tmp_path, loss_curve(1), worse, method="absolute", tolerance=0.25).status == "pass"


def test_different_logging_intervals_are_interpolated(tmp_path: Path) -> None:
    result = _run(tmp_path, loss_curve(1, steps=range(0, 1001, 50), noise=0), loss_curve(3, steps=range(0, 1001, 7),
                                                                                          noise=0))
    assert result.status == "pass", result.details
    assert result.figures["compared_steps"] == len(range(0, 1001, 7))


def test_missing_files_and_no_overlap(tmp_path: Path) -> None:
    ctx = context(tmp_path, convergence={"baseline_file": "nope.csv", "target_file": "nope2.csv"})
    result = run_check(convergence, ctx, None)
    assert result.status == "error" and "no such file" in result.summary
    assert run_check(convergence, context(tmp_path), None).status == "not-run"
    result = _run(tmp_path, loss_curve(1, steps=range(0, 100, 10)), loss_curve(1, steps=range(200, 300, 10)))
    assert result.status == "error" and "share no steps" in result.summary


def test_baseline_curve_from_a_captured_baseline(tmp_path: Path) -> None:
    write_csv(tmp_path / "base.csv", loss_curve(1))
    captured = run_check(convergence, context(tmp_path, convergence={"baseline_file": "base.csv"}), None, capture=True)
    write_scalars(tmp_path / "t.tfevents", loss_curve(2))
    result = run_check(convergence, context(tmp_path, convergence={"target_file": "t.tfevents"}), captured.figures)
    assert result.status == "pass"


# --- what a convergence PASS must not rest on (review session 6) ---------------------------------------------


def test_too_few_compared_steps_are_not_run_never_pass(tmp_path: Path) -> None:
    base = loss_curve(1)
    one = _run(tmp_path, base, [(0, base[0][1])])  # the target logged one step, equal to the source's first loss
    assert one.status == "not-run" and "only 1 step(s)" in one.summary and "at least 10" in one.summary
    assert _run(tmp_path, base, [(0, math.nan)]).status == "fail"  # a NaN loss needs no tenth step to fail
    short = [(s, v) for s, v in loss_curve(2) if s <= 300]
    early = _run(tmp_path, base, short, min_coverage=0.3)  # 31 steps, a shortened run asked for: judged, said so
    assert early.status == "pass" and "at step 300 (30% of the baseline's 0..1000)" in early.summary
    assert "convergence is judged only up to that step" in early.details[-1]
    # review session 7: by default a run stopped at 30% has not shown convergence (it was a PASS)
    stopped = _run(tmp_path, base, short)
    assert stopped.status == "not-run" and "the target stopped before 90% of the baseline's steps" in stopped.summary
    bad = [(s, v * 2) for s, v in short]
    assert _run(tmp_path, base, bad).status == "fail"  # a divergence before the stop still fails


def test_a_nan_in_the_baseline_curve_is_an_error_not_a_band_that_admits_anything(tmp_path: Path) -> None:
    base = [(s, math.nan if 400 <= s <= 600 else v) for s, v in loss_curve(1)]
    target = [(s, 100.0 if 400 <= s <= 600 else v) for s, v in loss_curve(2)]  # diverged where the source is NaN
    result = _run(tmp_path, base, target)
    assert result.status == "error", result.summary
    assert result.summary.startswith("the baseline loss curve is NaN or infinite at 21 of the 101 compared steps "
                                     "(first at step 400)")


def test_a_baseline_of_a_few_logged_steps_is_a_straight_line_not_the_source_curve(tmp_path: Path) -> None:
    """The source logged its loss at steps 0 and 1000 only: 101 target steps were 'compared' with the straight line
    between two points and PASSed (review session 7)."""
    base = [p for p in loss_curve(1, noise=0) if p[0] in (0, 1000)]
    sparse = _run(tmp_path, base, loss_curve(2), method="absolute", tolerance=1.0)
    assert sparse.status == "not-run", (sparse.status, sparse.summary)
    assert "the baseline logged only 2 step(s) in 0..1000" in sparse.summary
    assert "a straight line between them, not the source's curve" in sparse.summary
    wild = [(s, 50.0) for s, _ in loss_curve(2)]  # a diverged target still fails against the line
    assert _run(tmp_path, base, wild, method="absolute", tolerance=1.0).status == "fail"
