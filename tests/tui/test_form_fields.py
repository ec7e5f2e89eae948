"""Every field of the profile can be set through a generated form, and the list of lists
(``verify.topology.expected``) through the Verify form with no TOML typed.

The walk over the model is what keeps issue #20's promise ("every choice through forms, not by editing
TOML") true as the profile grows: a new field whose type the form generator cannot edit fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from pydantic import BaseModel, ValidationError

from engine.inventory.discover import InitChoices, write_starting_profile
from engine.profile import Profile, load_profile
from engine.verify.section import TopologySettings
from tui.app import GpuMigrateApp
from tui.cli import main
from tui.screens.edit import SECTION_FIELDS, SaveDiffDialog, SectionFormDialog, edit_step
from tui.widgets.model_form import FormValueError, ModelForm, _text_of, field_kind


def _walk(model: type[BaseModel], path: tuple[str, ...] = ()) -> Iterator[tuple[str, str, Any]]:
    """(dotted path, kind, annotation) of every field, through sub-tables and lists of tables."""
    for name, info in model.model_fields.items():
        kind, extra = field_kind(info.annotation)
        dotted = ".".join((*path, name))
        if kind == "model":
            yield from _walk(extra, (*path, name))
        elif kind == "models":
            yield dotted, kind, info.annotation
            yield from _walk(extra, (*path, f"{name}[]"))
        else:
            yield dotted, kind, info.annotation


def test_every_profile_field_has_an_editor() -> None:
    fields = list(_walk(Profile))
    assert len(fields) > 200  # the walk really reaches the nested tables
    uneditable = [f"{dotted}: {annotation}" for dotted, kind, annotation in fields if kind == "skip"]
    assert uneditable == []
    assert ("verify.topology.expected", "matrix") in {(d, k) for d, k, _ in fields}


def test_every_section_is_on_a_step_form() -> None:
    """Each table of the profile is shown by some step's form (top-level name/description/schema_version are
    the Profile tab's)."""
    shown = {dotted.split(".")[0] for step in SECTION_FIELDS.values() for dotted in step} | {"transfer"}
    sections = {name for name, info in Profile.model_fields.items() if field_kind(info.annotation)[0] in ("model", "models")}
    assert sections <= shown


def test_matrix_text_round_trip_and_errors() -> None:
    form = ModelForm([])
    matrix = [["X", "NV12", "SYS"], ["NV12", "X", "*"], ["SYS", "*", "X"]]
    text = _text_of(matrix, "expected")
    assert text == "X NV12 SYS; NV12 X *; SYS * X"
    assert form._parse("verify.topology.expected", "matrix", "str", text, "expected") == matrix
    # commas, newlines and a trailing ';' read the same
    assert form._parse("e", "matrix", "str", "X, NV12 ;\nNV12,X;", "expected") == [["X", "NV12"], ["NV12", "X"]]
    with pytest.raises(FormValueError) as err:
        form._parse("m", "matrix", "int", "1 2; 3 x", "m")
    assert str(err.value) == "m[1]: must be an integer (got 'x')"


def test_topology_matrix_shape_is_checked_by_validate() -> None:
    TopologySettings(expected=[["X", "NV12"], ["NV12", "X"]])
    for bad, words in (([["X", "NV12"], ["NV12"]], "row 2 has 1 cell(s); a 2-GPU matrix needs 2"),
                       ([], "no rows"), ([["X Y"]], "'X Y' is not a link name")):
        with pytest.raises(ValidationError) as err:
            TopologySettings(expected=bad)
        assert words in str(err.value)


async def _until(pilot, cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.02)):
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out on {pilot.app.screen!r}")


async def test_topology_matrix_through_the_verify_form_then_validate(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.toml"
    write_starting_profile(path, InitChoices(), data_dirs=[], scan_gpus=False, scan_aws=False)
    app = GpuMigrateApp(profile_path=path, start_mode="profile")
    async with app.run_test(size=(80, 24)) as pilot:
        edit_step(app, "verify")  # the Verify screen's e (test_guided_walk presses it)
        await _until(pilot, lambda: isinstance(app.screen, SectionFormDialog) and bool(app.screen.query("ModelForm Input")))
        # the palette reaches the field; then it is typed, keys only
        await pilot.press("ctrl+p")
        await pilot.press(*"Go to field verify.topology.exp")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, SectionFormDialog)
                     and getattr(app.focused, "id", None) == "f-verify-topology-expected")
        await pilot.press(*"X NV12; NV12")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SectionFormDialog)
        shown = [str(w.render()) for w in app.screen.query(".form-error.-shown")]
        assert shown == ["verify.topology.expected: row 2 has 1 cell(s); a 2-GPU matrix needs 2 in every row"]
        await pilot.press("space", "X")
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: isinstance(app.screen, SaveDiffDialog))
        assert '+expected = [["X", "NV12"], ["NV12", "X"]]' in app.screen.text
        await pilot.press("y")
        await _until(pilot, lambda: not isinstance(app.screen, SaveDiffDialog))
    assert main(["validate", str(path)]) == 0
    capsys.readouterr()
    assert load_profile(path).verify.topology.expected == [["X", "NV12"], ["NV12", "X"]]
    # and the form shows the saved matrix as it reads it back
    assert _text_of(load_profile(path).verify.topology.expected, "expected") == "X NV12; NV12 X"
