"""The nested tables through forms (no TOML typed): cost options, registry rewrites, verify manifests and
environment, a transfer entry's Storage Transfer Service settings, the runbook and [ops]; then
`gpumigrate validate`.

The profile starts as `gpumigrate init` writes it, so the same run shows that a save from the forms keeps
every comment it did not decide (engine/profile_file.py).
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, Input, OptionList, Select

from engine.inventory.discover import InitChoices, write_starting_profile
from engine.profile import load_profile
from tui.app import GpuMigrateApp
from tui.cli import main
from tui.screens.edit import SaveDiffDialog, SectionFormDialog, edit_step, edit_transfer
from tui.widgets.entry_list import EntryFormDialog, EntryListDialog


async def _until(pilot, cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.02)):
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out on {pilot.app.screen!r}")


async def _fill(pilot, values: dict[str, str | bool]) -> None:  # type: ignore[no-untyped-def]
    screen = pilot.app.screen
    for wid, value in values.items():
        widget = screen.query_one(f"#{wid}")
        if isinstance(widget, Select | Checkbox):
            widget.value = value
        else:
            assert isinstance(widget, Input)
            widget.value = str(value)
    await pilot.pause()


async def _form(pilot, step: str) -> None:  # type: ignore[no-untyped-def]
    """The step's form, as its screen's e opens it (the walk tests press e on every screen; staying on
    one screen here spares each step screen's start-up work)."""
    app = pilot.app
    edit_step(app, step)
    await _until(pilot, lambda: isinstance(app.screen, SectionFormDialog) and bool(app.screen.query("ModelForm Input")))


async def _open_list(pilot, dotted: str) -> None:  # type: ignore[no-untyped-def]
    """Focus the list's button (tab reaches it; set here, each press waits for the app to idle) and press enter."""
    app = pilot.app
    button = app.screen.query_one(f"#f-{dotted.replace('.', '-')}-edit")
    assert button.focusable
    button.focus()
    await pilot.press("enter")
    await _until(pilot, lambda: isinstance(app.screen, EntryListDialog))


async def _add(pilot, values: dict[str, str | bool]) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    count = len(app.screen.entries)
    await pilot.press("a")
    await _until(pilot, lambda: isinstance(app.screen, EntryFormDialog))
    await _fill(pilot, values)
    await pilot.press("ctrl+s")
    await _until(pilot, lambda: isinstance(app.screen, EntryListDialog) and len(app.screen.entries) == count + 1)


async def _keep_and_save(pilot) -> str:  # type: ignore[no-untyped-def]
    app = pilot.app
    if isinstance(app.screen, EntryListDialog):
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: isinstance(app.screen, SectionFormDialog))
    await pilot.press("ctrl+s")
    await _until(pilot, lambda: isinstance(app.screen, SaveDiffDialog))
    diff = app.screen.text
    await pilot.press("y")
    await _until(pilot, lambda: not isinstance(app.screen, SaveDiffDialog))
    return diff


async def test_every_nested_table_through_the_forms_then_validate(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f.bin").write_bytes(b"x" * 100)
    path = tmp_path / "m.toml"
    write_starting_profile(path, InitChoices(), data_dirs=[str(tmp_path / "data")], scan_gpus=False, scan_aws=False)
    written = path.read_text()
    app = GpuMigrateApp(profile_path=path, start_mode="profile")  # the step screens' e: test_guided_walk
    async with app.run_test(size=(80, 24)) as pilot:
        # cost.options: a bad value is shown under its field with the whole path; two entries, reordered, one removed
        await _form(pilot, "cost")
        await _open_list(pilot, "cost.options")
        await pilot.press("a")
        await _until(pilot, lambda: isinstance(app.screen, EntryFormDialog))
        await _fill(pilot, {"f-cost-options-0-gpu_count": "0"})
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, EntryFormDialog)
        shown = [str(w.render()) for w in app.screen.query(".form-error.-shown")]
        assert shown == ["cost.options[0].gpu_count: must be >= 1 (got 0)"]
        await pilot.press("escape")
        await _until(pilot, lambda: isinstance(app.screen, EntryListDialog))
        assert app.screen.entries == []
        await _add(pilot, {"f-cost-options-0-name": "T4", "f-cost-options-0-machine_type": "n1-standard-8",
                           "f-cost-options-0-gpu_model": "T4", "f-cost-options-0-pricing": "on-demand"})
        await _add(pilot, {"f-cost-options-1-name": "L4 spot", "f-cost-options-1-machine_type": "g2-standard-4",
                           "f-cost-options-1-gpu_model": "L4", "f-cost-options-1-pricing": "spot"})
        app.screen.query_one(OptionList).highlighted = 1
        await pilot.press("u")  # L4 first
        assert [e["name"] for e in app.screen.entries] == ["L4 spot", "T4"]
        await _add(pilot, {"f-cost-options-2-name": "gone"})
        await pilot.press("d")  # the highlighted (new) one
        assert [e["name"] for e in app.screen.entries] == ["L4 spot", "T4"]
        diff = await _keep_and_save(pilot)
        assert '+name = "L4 spot"' in diff and '+name = "T4"' in diff and "gone" not in diff

        # drivers.registry_rewrites, and the drivers choices next to them
        await _form(pilot, "drivers")
        await _fill(pilot, {"f-drivers-os_image": "ubuntu-2204", "f-drivers-framework": "pytorch"})
        await _open_list(pilot, "drivers.registry_rewrites")
        await _add(pilot, {"f-drivers-registry_rewrites-0-old": "123456789012.dkr.ecr.us-east-1.amazonaws.com/team",
                           "f-drivers-registry_rewrites-0-new": "us-docker.pkg.dev/my-project-12/team"})
        await _keep_and_save(pilot)

        # verify: a manifest pair, the checks' environment, a sub-table laid out in place
        await _form(pilot, "verify")
        await _fill(pilot, {"f-verify-env": "CUDA_VISIBLE_DEVICES=0 NCCL_DEBUG=WARN",
                            "f-verify-gpu-min_memory_gib": "20"})
        await _open_list(pilot, "verify.data_integrity.manifests")
        await _add(pilot, {"f-verify-data_integrity-manifests-0-source": "manifests/source.jsonl",
                           "f-verify-data_integrity-manifests-0-target": "manifests/target.jsonl",
                           "f-verify-data_integrity-manifests-0-label": "training set"})
        await _keep_and_save(pilot)

        # a [[transfer]] entry with its [transfer.sts] settings (a sub-table with its own sub-tables)
        edit_transfer(app, None)  # the Transfer screen's a
        await _until(pilot, lambda: isinstance(app.screen, SectionFormDialog) and bool(app.screen.query("ModelForm Input")))
        await _fill(pilot, {"f-transfer-0-src": "data", "f-transfer-0-dst": "gs://bucket-b/data",
                            "f-transfer-0-sts-overwrite_when": "always",
                            "f-transfer-0-sts-schedule-start_date": "2027-01-04",
                            "f-transfer-0-sts-thresholds-objects": "5000000"})
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: isinstance(app.screen, SaveDiffDialog))
        await pilot.press("y")
        await _until(pilot, lambda: not isinstance(app.screen, SaveDiffDialog) and len(app.profile.transfer) == 1)

        # the runbook's checklist, reached through the command palette's "Edit list ..." command
        await _form(pilot, "runbook")
        assert app.screen.query_one("ModelForm").list_rows() == ["cutover.runbook"]
        await pilot.press("ctrl+p")
        await pilot.press(*"Edit list cutover")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, EntryListDialog))
        titles = {c.title for c in app.get_system_commands(app.screen)}  # the dialog's keys are commands too
        assert {"Add entry", "Edit entry", "Remove entry", "Move up", "Keep"} <= titles
        await _add(pilot, {"f-cutover-runbook-0-title": "Freeze writes to the source bucket",
                           "f-cutover-runbook-0-gate": True})
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: isinstance(app.screen, SectionFormDialog))
        await _fill(pilot, {"f-ops-budget_label_filter": "team=ml", "f-ops-checkpoint_command": "python ckpt.py --now"})
        await _keep_and_save(pilot)

    assert main(["validate", str(path)]) == 0
    capsys.readouterr()
    profile = load_profile(path)
    assert [(o.name, o.pricing) for o in profile.cost.options] == [("L4 spot", "spot"), ("T4", "on-demand")]
    assert [(r.old, r.new) for r in profile.drivers.registry_rewrites] == [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/team", "us-docker.pkg.dev/my-project-12/team")]
    assert profile.verify.env == {"CUDA_VISIBLE_DEVICES": "0", "NCCL_DEBUG": "WARN"}
    assert profile.verify.gpu.min_memory_gib == 20
    assert profile.verify.data_integrity.manifests[0].label == "training set"
    sts = profile.transfer[0].sts
    assert sts is not None and sts.overwrite_when == "always" and sts.thresholds.objects == 5_000_000
    assert sts.schedule is not None and sts.schedule.start_date == "2027-01-04"
    assert profile.cutover.runbook[0].gate is True
    assert profile.ops.budget_label_filter == {"team": "ml"}
    assert profile.ops.checkpoint_command == ["python", "ckpt.py", "--now"]
    # what was not decided is still commented as init wrote it, byte for byte and in order
    text = path.read_text()
    decided = ("# decide: drivers.os_image", "# decide: drivers.framework",
               "# decide: add a [[transfer]] entry (source and destination)")
    expected = [line for line in written.splitlines() if line.startswith("#") and line not in decided]
    assert [line for line in text.splitlines() if line.startswith("#")] == expected
