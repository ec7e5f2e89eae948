"""The Inventory screen with Pilot: a scan in a worker fills the tree and the topology; accept saves the target."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Static, Tree

from engine.profile import load_profile
from tests.nvml_fake import FakeNvml
from tui.app import GpuMigrateApp
from tui.screens.inventory import InventoryScreen

PROFILE = """
schema_version = 1

[source]
provider = "aws"
instance_type = "p4d.24xlarge"

[target]
region = "us-central1"

[workload]
kind = "training"
params_billions = 7.0
precision = "bf16"
batch_size = 1
seq_len = 2048

[inventory]
local_dirs = ["data"]
images_dir = "images"
"""


@pytest.fixture()
def profile_path(tmp_path: Path) -> Path:
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "a.bin").write_bytes(b"a" * 300)
    (tmp_path / "data" / "sub" / "b.bin").write_bytes(b"b" * 700)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "Dockerfile").write_text("FROM nvcr.io/nvidia/pytorch:24.05-py3\n")
    path = tmp_path / "migration.toml"
    path.write_text(PROFILE)
    return path


def labels(node) -> list[str]:  # type: ignore[no-untyped-def]
    out = [str(node.label)]
    for child in node.children:
        out.extend(labels(child))
    return out


async def _scan(pilot, app: GpuMigrateApp) -> InventoryScreen:  # type: ignore[no-untyped-def]
    screen = app.screen
    assert isinstance(screen, InventoryScreen)
    await pilot.press("s")
    await app.workers.wait_for_complete()
    import time

    deadline = time.monotonic() + 30  # the worker's last update reaches the screen a moment later
    while screen.scanning and time.monotonic() < deadline:
        await pilot.pause(0.05)
    await pilot.pause()
    return screen


async def test_scan_fills_tree_topology_and_accept_saves_target(profile_path: Path) -> None:
    app = GpuMigrateApp(profile_path=profile_path)
    async with app.run_test(size=(180, 60)) as pilot:
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        screen.nvml_api = FakeNvml.from_fixture("a100_8x_nvlink")
        accept = screen.query_one("#inv-accept-button", Button)
        assert accept.disabled  # nothing to accept before a scan
        await _scan(pilot, app)
        tree = screen.query_one("#inv-tree", Tree)
        text = labels(tree.root)
        assert any(t.startswith("This host: 8x NVIDIA A100-SXM4-40GB") for t in text)
        assert sum(t.startswith("GPU") and "A100-SXM4-40GB" in t for t in text) == 8
        assert "Topology" in text
        assert any(t.startswith("2 files, ") and t.endswith(" · data") for t in text)
        assert any("nvcr.io/nvidia/pytorch:24.05-py3 [ngc]" in t for t in text)
        assert any(t.startswith("1. ") for t in text)
        assert any(t[0].isdigit() and t[1:].startswith(". a2-highgpu-8g (8x A100 40GB)") for t in text)  # like-for-like
        topo = screen.query_one("#inv-topology", DataTable)
        assert topo.row_count == 8
        assert topo.get_row("GPU0")[1:9] == ["X"] + ["NV12"] * 7
        assert topo.get_row("GPU5")[-2:] == ["24-47,72-95", "1"]
        assert "Scanned:" in str(screen.query_one("#inv-status", Static).render())
        assert app.step_states() == {"inventory": "completed"}  # the step bar's ○1 turns ✓1

        # select a GPU: the detail pane shows its health fields
        gpu_node = next(n for n in tree.root.children[0].children if n.data and n.data[0] == "gpu")
        tree.move_cursor(gpu_node)
        await pilot.pause()
        detail = str(screen.query_one("#inv-detail", Static).render())
        assert "Remapped rows: 0 corrected" in detail and "PCIe gen 4" in detail

        # pick the second recommendation and accept it
        sizing = next(n for n in tree.root.children if n.data and n.data[0] == "sizing")
        second = sizing.children[1]
        rec = second.data[1]
        tree.move_cursor(second)
        await pilot.pause()
        assert not accept.disabled
        await pilot.press("a")
        await pilot.pause()
    saved = load_profile(profile_path)
    assert saved.target.machine_type == rec.machine_type and saved.target.gpu_count == rec.gpu_count
    assert saved.target.gpu_model == rec.catalog_gpu_model


async def test_no_driver_and_mig_host(profile_path: Path) -> None:
    app = GpuMigrateApp(profile_path=profile_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        screen.nvml_api = FakeNvml({"init_error": 12})
        await _scan(pilot, app)
        text = labels(screen.query_one("#inv-tree", Tree).root)
        assert any(t.startswith("This host: no NVIDIA driver found") for t in text)
        title = str(screen.query_one("#inv-topology-title", Static).render())
        assert "no NVIDIA driver found" in title
        assert screen.query_one("#inv-topology", DataTable).row_count == 0
        # the rest of the inventory is still there
        assert any(t.startswith("2 files, ") and t.endswith(" · data") for t in text)

        screen.nvml_api = FakeNvml.from_fixture("h100_mig")
        await _scan(pilot, app)
        text = labels(screen.query_one("#inv-tree", Tree).root)
        assert [t for t in text if t.startswith("MIG ")] == [
            "MIG 3g.40gb (39.5 GiB)", "MIG 2g.20gb (19.6 GiB)", "MIG 1g.10gb (9.8 GiB)", "MIG 1g.10gb (9.8 GiB)"]


async def test_a_scan_in_a_session_is_the_sessions_inventory_step(profile_path: Path) -> None:
    """With a session open, s runs the inventory step in the session's worker: recorded like any step."""
    from engine.session import SessionStore

    app = GpuMigrateApp(profile_path=profile_path, session_name="inv-scan", operator="alice", start_mode="inventory")
    async with app.run_test(size=(180, 60)) as pilot:
        import time

        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        await pilot.press("s")  # not _scan: the session's follower is a worker that never completes
        deadline = time.monotonic() + 60  # (the press may return after the scan: Pilot waits for idle)
        while (screen.scanning or screen.inventory is None) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        status = str(screen.query_one("#inv-status", Static).render())
        assert status.startswith("Scanned, recorded in the session:"), status
        assert any("data" in label and "2 files" in label for label in labels(screen.query_one("#inv-tree", Tree).root))
    with SessionStore.open("inv-scan", create=False) as session:
        step = session.step("inventory")
        assert step is not None and step.state == "completed"
        assert step.result["data"]["local_dirs"][0]["files"] == 2
        kinds = [e.kind for e in session.events_after(0) if e.step == "inventory"]
    assert kinds[0] == "step_started" and kinds[-1] == "step_finished"


async def test_without_a_session_the_scan_runs_in_a_private_worker(profile_path: Path) -> None:
    app = GpuMigrateApp(profile_path=profile_path, start_mode="inventory")
    async with app.run_test(size=(180, 60)) as pilot:
        screen = await _scan(pilot, app)
        assert screen.private_run is not None and screen.private_run.proc is not None
        assert screen.private_run.proc.returncode == 0  # the scan ran in that process, and it ended
        assert str(screen.query_one("#inv-status", Static).render()).startswith("Scanned:")
        assert app.step_states().get("inventory") == "completed"


async def test_at_80x24_a_data_directory_keeps_its_figures_on_screen(tmp_path: Path) -> None:
    """At 80 columns the tree had 48 (the details panel the rest): a local directory's or a bucket's
    figures (files, size) were cut off the end of its line."""
    deep = tmp_path / "datasets" / "imagenet-2012-train"
    deep.mkdir(parents=True)
    (deep / "a.bin").write_bytes(b"a" * 1234)
    path = tmp_path / "p.toml"
    path.write_text(f'schema_version = 1\n[source]\nprovider = "other"\ngpu_model = "V100"\n'
                    f'[inventory]\nlocal_dirs = ["{deep}"]\nscan_gpus = false\n')
    app = GpuMigrateApp(profile_path=path, start_mode="inventory")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = await _scan(pilot, app)
        tree = screen.query_one("#inv-tree", Tree)
        (line,) = [n for n in tree._tree_lines if str(n.node.label).endswith(str(deep))]
        label = str(line.node.label)
        figures = label[:label.index(str(deep))]
        assert figures == "1 files, 1.2 KiB · ", label  # first: a long path is what the edge cuts
        width = line._get_guide_width(tree.guide_depth, tree.show_root) + len(figures)
        assert width <= tree.scrollable_content_region.width, (width, tree.scrollable_content_region)


async def test_a_lost_gpu_is_marked_lost_in_the_tree(profile_path: Path) -> None:
    """Review session 6: GPU0 answering GPU_IS_LOST showed as 'GPU0 ? (0 B)' with no mark, the host as '1x ?'."""
    from tests.nvml_fake import load_host_data

    data = load_host_data("a100_8x_nvlink")
    data["gpus"][0]["lost"] = True
    app = GpuMigrateApp(profile_path=profile_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        screen.nvml_api = FakeNvml(data)
        await _scan(pilot, app)
        text = labels(screen.query_one("#inv-tree", Tree).root)
        assert any(t.startswith("This host: 1x lost (NVML: GPU is lost), 7x NVIDIA A100-SXM4-40GB") for t in text)
        assert any(t.startswith("GPU0 ?") and t.endswith("⚠ lost") for t in text), text
        host = screen.inventory.host
        assert host.first_readable().index == 1  # what "pick this host as the source" reads the model from


def test_an_instance_whose_volumes_were_not_read_says_so_not_0_gib() -> None:
    from engine.inventory.aws import AwsInstance, AwsInventory, volumes_key
    from engine.inventory.scan import Inventory
    from tui.screens.inventory import _detail_lines

    inst = AwsInstance(region="us-east-1", instance_id="i-1", instance_type="p3.2xlarge", state="running")
    inv = Inventory(aws=AwsInventory(regions=["us-east-1"], instances=[inst],
                                     errors={volumes_key("us-east-1"): "UnauthorizedOperation: not allowed"}))
    assert "EBS: not read (UnauthorizedOperation: not allowed)" in _detail_lines("instance", inst, inv)
    assert "EBS: 0 GiB" in _detail_lines("instance", inst, Inventory(aws=AwsInventory(instances=[inst])))


async def test_behind_a_slow_aws_endpoint_the_scan_offers_cancel_and_stops_at_once(
        tmp_path: Path, aws, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Behind an endpoint taking 30 s an answer: the footer offered "s Scan" (which only said a scan was
    running) and hid the cancel key; escape then waited for the AWS call under way (22 s measured)."""
    import time

    from tests.aws_denied import DeniedAws
    from tests.tui.screen_checks import settled

    proxy = DeniedAws(aws.url, set(), slow=30.0)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    path = tmp_path / "p.toml"
    path.write_text('[source]\nprovider = "aws"\nregion = "us-east-1"\n[inventory]\naws_regions = ["us-east-1"]\n'
                    'scan_gpus = false\n')
    app = GpuMigrateApp(profile_path=path, start_mode="inventory")
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            screen = app.screen
            assert isinstance(screen, InventoryScreen)

            def offered() -> dict[str, str]:
                return {b.key: b.description for _n, b, enabled, _t in screen.active_bindings.values()
                        if b.show and enabled}

            assert offered().get("s") == "Scan" and "escape" not in offered()
            await pilot.press("s")
            await settled(pilot)
            assert screen.scanning and offered().get("escape") == "Cancel scan" and "s" not in offered()
            await pilot.pause(1.0)  # the worker is waiting for EC2
            began = time.monotonic()
            await pilot.press("escape")
            while screen.scanning and time.monotonic() - began < 20:
                await pilot.pause(0.1)
            assert not screen.scanning and time.monotonic() - began < 8
            assert "interrupted" in str(screen.query_one("#inv-status", Static).render())
            await settled(pilot)
            assert offered().get("s") == "Scan" and "escape" not in offered()
    finally:
        proxy.stop()


async def test_new_profile_behind_a_slow_aws_endpoint_shows_progress_and_cancels(
        tmp_path: Path, aws, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """New profile's discovery said "Looking at GPUs, AWS and the data directories…" and then nothing, with
    no way to stop it, while an endpoint took 30 s an answer (and up to 4 minutes a region)."""
    import time

    from tests.aws_denied import DeniedAws
    from tui.screens.new_profile import NewProfileDialog
    from tui.widgets.dialogs import BusyDialog

    proxy = DeniedAws(aws.url, set(), slow=30.0)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.chdir(tmp_path)
    app = GpuMigrateApp()
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("n")
            for _ in range(100):
                if isinstance(app.screen, NewProfileDialog):
                    break
                await pilot.pause(0.05)
            app.screen.query_one("#new-file").value = "new.toml"
            app.screen.query_one("#new-regions").value = "us-east-1"
            app.screen.query_one("#new-create").press()
            for _ in range(100):
                if isinstance(app.screen, BusyDialog):
                    break
                await pilot.pause(0.05)
            assert isinstance(app.screen, BusyDialog)
            await pilot.pause(1.0)
            assert "looking for GPU instances in us-east-1" in str(app.screen.query_one("#busy-now").render())
            began = time.monotonic()
            await pilot.press("escape")
            while isinstance(app.screen, BusyDialog) and time.monotonic() - began < 20:
                await pilot.pause(0.1)
            assert not isinstance(app.screen, BusyDialog) and time.monotonic() - began < 8
            assert not (tmp_path / "new.toml").exists()
            for _ in range(50):  # said before the dialog closes (new_profile); on a loaded machine, allow a moment
                if any("cancelled" in m and "nothing was written" in m for m in app.messages()):
                    break
                await pilot.pause(0.1)
            assert any("cancelled" in m and "nothing was written" in m for m in app.messages())
    finally:
        proxy.stop()
