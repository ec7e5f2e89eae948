"""The guided walk with Pilot: the welcome view, the step bar's states, Next, the palette, bucket picking
(the whole New-profile-to-replay flow is tests/tui/test_guided_walk.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.profile import load_profile
from engine.recent import remember_profile
from tests.conftest import REPO
from tui.app import GpuMigrateApp
from tui.screens.new_profile import NewProfileDialog
from tui.widgets.mode_bar import ModeBar


async def _until(pilot, cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")


def _bar(app: GpuMigrateApp) -> str:
    return str(app.screen.query_one(ModeBar).render())


async def test_new_profile_refuses_an_existing_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.toml").write_text("x\n")
    app = GpuMigrateApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await _until(pilot, lambda: isinstance(app.screen, NewProfileDialog))
        app.screen.query_one("#new-file").value = "taken.toml"
        app.screen.query_one("#new-create").press()
        await pilot.pause()
        assert "already exists" in str(app.screen.query_one("#new-error").render())
        assert (tmp_path / "taken.toml").read_text() == "x\n"


async def test_recent_profiles_open_with_enter_and_the_bar_fits_80_columns(tmp_path: Path) -> None:
    remember_profile(REPO / "profiles" / "demo.toml")
    app = GpuMigrateApp()
    async with app.run_test(size=(80, 24)) as pilot:
        choices = app.screen.query_one("#welcome-choices")
        labels = [str(choices.get_option_at_index(i).prompt) for i in range(choices.option_count)]
        assert any("demo.toml" in label for label in labels)
        choices.highlighted = next(i for i, label in enumerate(labels) if "demo.toml" in label)
        await pilot.press("enter")
        await _until(pilot, lambda: app.profile is not None)
        assert app.current_mode == "inventory"
        bar = _bar(app)
        assert len(bar) <= 78 and "1 Inventory" in bar and "7" in bar  # every step, numbered, fits


async def test_a_run_marks_the_step_and_next_goes_to_the_one_that_needs_the_user(tmp_path: Path) -> None:
    import shutil

    profile = tmp_path / "demo.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", profile)
    app = GpuMigrateApp(profile_path=profile)
    async with app.run_test(size=(200, 50)) as pilot:
        assert app.current_mode == "inventory"
        assert "○1 Inventory" in _bar(app)
        app.note_step_state("inventory", "completed")
        app.note_step_state("cost", "failed")
        app.note_step_state("transfer", "running")
        app.screen.query_one(ModeBar).refresh()
        await pilot.pause()
        bar = _bar(app)
        assert "✓1 Inventory" in bar and "✗2 Cost" in bar and "●3 Transfer" in bar and "○4 Drivers" in bar
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_mode == "cost"
        assert app.opening_mode() == "transfer"  # the running step first


async def test_inventory_shows_every_bucket_and_a_picked_one_is_counted_exactly(aws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import boto3

    from tui.screens.edit import SaveDiffDialog

    s3 = boto3.client("s3", region_name="us-east-1")
    for name, count in (("raw-images", 12), ("checkpoints", 3)):
        s3.create_bucket(Bucket=name)
        for i in range(count):
            s3.put_object(Bucket=name, Key=f"k{i}", Body=b"z" * 10)
    profile = tmp_path / "p.toml"
    boto3.client("ec2", region_name="us-east-1").run_instances(ImageId="ami-12c6146b", InstanceType="p3.8xlarge",
                                                              MinCount=1, MaxCount=1)
    profile.write_text('[source]\nprovider = "other"\ngpu_model = "T4"\n'
                       '[inventory]\naws_regions = ["us-east-1"]\nscan_gpus = false\n')
    app = GpuMigrateApp(profile_path=profile, start_mode="inventory")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.press("s")
        await _until(pilot, lambda: screen.inventory is not None and not screen.scanning)
        tree = screen.query_one("#inv-tree")
        nodes = []

        def walk(node) -> None:  # type: ignore[no-untyped-def]
            nodes.append(node)
            for child in node.children:
                walk(child)

        walk(tree.root)
        seen = [n for n in nodes if n.data and n.data[0] == "discovered" and n.data[1] is not None]
        assert [n.data[1].name for n in seen] == ["checkpoints", "raw-images"]
        assert "12 objects" in str(seen[1].label)
        tree.move_cursor(seen[1])
        await pilot.pause()
        await pilot.press("p")
        await _until(pilot, lambda: isinstance(app.screen, SaveDiffDialog))
        assert '+bucket = "raw-images"' in app.screen.text
        await pilot.press("y")
        await pilot.pause()
        assert [b.bucket for b in load_profile(profile).inventory.buckets] == ["raw-images"]
        await pilot.press("s")
        await _until(pilot, lambda: not screen.scanning and screen.inventory.aws.buckets)
        [exact] = screen.inventory.aws.buckets
        assert (exact.bucket, exact.objects, exact.bytes, exact.estimated) == ("raw-images", 12, 120, False)
        # the scanned instance becomes the source
        nodes.clear()
        walk(tree.root)
        [instance] = [n for n in nodes if n.data and n.data[0] == "instance"]
        tree.move_cursor(instance)
        await pilot.pause()
        await pilot.press("p")
        await _until(pilot, lambda: isinstance(app.screen, SaveDiffDialog))
        await pilot.press("y")
        await pilot.pause()
        src = load_profile(profile).source
        assert (src.provider, src.region, src.instance_type, src.gpu_model, src.gpu_count) == (
            "aws", "us-east-1", "p3.8xlarge", "V100", 4)


async def test_every_key_of_the_screen_is_in_the_command_palette(tmp_path: Path) -> None:
    import shutil

    profile = tmp_path / "demo.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", profile)
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=(120, 40)) as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Add entry", "Edit entry", "Remove entry", "Run", "Dry run", "Next step", "New profile",
                "Welcome", "Open profile"} <= titles
        assert "Pause/resume" not in titles  # nothing to pause: a disabled key is not offered
        add = next(c for c in app.get_system_commands(app.screen) if c.title == "Add entry")
        add.callback()  # what the palette runs on enter
        from tui.screens.edit import SectionFormDialog

        await _until(pilot, lambda: isinstance(app.screen, SectionFormDialog))
        assert "New [[transfer]] entry" in str(app.screen.query_one("#form-heading").render())


async def test_in_a_session_the_bar_shows_the_recorded_states_and_the_app_opens_on_the_running_step(
        tmp_path: Path) -> None:
    import shutil

    from engine.session import SessionStore

    profile = tmp_path / "demo.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", profile)
    with SessionStore.open("walk") as store:
        store.set_step("inventory", "completed")
        store.set_step("cost", "failed")
        store.set_step("transfer", "running")
        store.set_step("drivers", "interrupted")
    app = GpuMigrateApp(profile_path=profile, session_name="walk")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.current_mode == "transfer"
        bar = _bar(app)
        assert "✓1" in bar and "✗2" in bar and "●3 Transfer" in bar and "!4" in bar and "○5" in bar
        assert len(bar) <= 78


async def test_without_a_session_a_finished_cost_run_is_remembered_until_its_section_changes(tmp_path: Path) -> None:
    """Closing the app forgot a completed Cost run (○ on restart). Its outcome is kept per profile with a
    fingerprint of the sections it read: the next app shows ✓ and opens past it; an edit of [cost] makes it ○."""
    import os
    import shutil

    from engine.session import state_dir
    from tui.widgets.left_line import LeftLine

    profile = tmp_path / "demo.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", profile)
    app = GpuMigrateApp(profile_path=profile, start_mode="cost")
    async with app.run_test(size=(80, 24)) as pilot:
        app.note_step_state("inventory", "completed", "scanned")
        assert app.screen.run_step("cost") is not None  # what palette "Run Cost step" does: a private worker
        await _until(pilot, lambda: app.step_states().get("cost") not in (None, "running"))
        assert app.step_states()["cost"] == "completed"
    store = state_dir() / "step-outcomes.json"
    assert os.stat(store).st_mode & 0o777 == 0o600

    again = GpuMigrateApp(profile_path=profile)
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert again.current_mode == "transfer"  # the next step not done
        assert "✓1" in _bar(again) and "✓2" in _bar(again)
        assert again.last_run_line("cost").startswith("last run completed")
        again.apply_profile_change(lambda p: setattr(p.cost, "parallel_run_days", 30), "cost: parallel run days")
        await pilot.pause()
        assert again.step_states().get("cost") is None and "○2" in _bar(again) and "✓1" in _bar(again)
        again.switch_mode("cost")
        await pilot.pause()
        assert "profile changed since last run" in str(again.screen.query_one(LeftLine).render())


async def test_a_private_run_is_remembered_with_the_profile_its_worker_loaded(tmp_path: Path) -> None:
    """The private worker loads the file on disk; an editor's change made while the app stayed open was not in
    the record's fingerprint (the app's copy was): a reopened app said "profile changed since last run" over the
    very inputs the run used, and reverting the edit would have shown a ✓ the old inputs never earned."""
    import shutil

    from engine.step_memory import fingerprint, outcomes

    profile = tmp_path / "demo.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", profile)
    app = GpuMigrateApp(profile_path=profile, start_mode="cost")
    async with app.run_test(size=(80, 24)) as pilot:
        text = profile.read_text()
        assert "runs_per_month = 20" in text
        profile.write_text(text.replace("runs_per_month = 20", "runs_per_month = 25"))  # an editor, app open
        assert app.screen.run_step("cost") is not None
        await _until(pilot, lambda: "cost" in outcomes(profile))
    assert outcomes(profile)["cost"].fingerprint == fingerprint(load_profile(profile), "cost")
