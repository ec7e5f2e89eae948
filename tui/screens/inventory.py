"""The Inventory screen: a tree of what runs where, a detail pane, the GPU topology matrix, and the target.

The scan is the engine's ``inventory`` step, started like every step (:meth:`StepScreen.run_step`):
in a session its detached worker records it in the session (watchers see it, ``session show``
lists it), without one a private worker runs it; its events drive the progress bar and status
line, and its ``StepFinished`` carries the ``Inventory`` (as JSON), shown as a ``ScanFinished``.
Only with an NVML seam object (tests, demos), which cannot cross to another process, does
``run_inventory`` run in a thread here.  The tree: this host -> GPUs -> MIG instances; AWS region -> instances;
buckets -> prefixes; local data; images; sizing -> recommendations.  "Accept" writes the selected
(or best) recommendation into ``[target]`` through the base class's ``save_profile_change``.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message as TextualMessage
from textual.reactive import reactive
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, DataTable, ProgressBar, Static, Tree
from textual.widgets.tree import TreeNode
from textual.worker import get_current_worker

from engine.events import ItemDone, Message, Progress, StepFinished, StepStarted
from tui.messages import EngineEvent
from tui.screens.base import StepScreen


def _size(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def _label(text: str) -> Text:
    """Tree labels are plain text: names, tags and errors may contain [brackets]."""
    return Text(text)


def _na(value: Any, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value}{suffix}"


FOLLOWER_GRACE_S = 1.0
"""How long a skipped session run waits for late events before showing the recorded scan."""


class ScanFinished(TextualMessage):
    """The scan's outcome, posted after its last progress event (messages keep their order)."""

    def __init__(self, inventory: Any = None, error: str | None = None, recorded: bool = False) -> None:
        super().__init__()
        self.inventory = inventory
        self.error = error
        self.recorded = recorded


class InventoryScreen(StepScreen):
    """What runs where today, and what it should run on in Google Cloud."""

    STEP = "inventory"
    MODE = "inventory"
    CSS_PATH = "inventory.tcss"
    BINDINGS = [
        Binding("s", "scan", "Scan", id="inventory-scan"),
        Binding("a", "accept", "Accept target", id="inventory-accept"),
        Binding("p", "pick", "Pick", id="inventory-pick",
                tooltip="Use the highlighted instance or this host as the source, or pick the highlighted bucket"),
        Binding("escape", "cancel_scan", "Cancel scan", id="inventory-cancel"),
    ]

    scanning: reactive[bool] = reactive(False, bindings=True, init=False)
    """A scan runs: the footer offers escape (Cancel scan) in place of s (Scan)."""

    nvml_api: Any = None
    """An NVML seam implementation to use instead of the real library (tests, demos)."""

    def __init__(self) -> None:
        super().__init__()
        self.inventory: Any = None
        self._cancel = threading.Event()

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="inv-body"):
            with Vertical(id="inv-left"):
                yield Static("s scans what the profile names.", id="inv-status")
                bar = ProgressBar(id="inv-progress", show_eta=False, total=1)
                bar.display = False  # shown from the first scan on (an idle, pulsing bar says nothing)
                yield bar
                yield Tree("Inventory", id="inv-tree")
                with Horizontal(id="inv-actions"):
                    yield Button("Scan (s)", id="inv-scan-button", variant="primary")
                    yield Button("Accept target (a)", id="inv-accept-button", variant="success",
                                 classes="mutating", disabled=True)
            with Vertical(id="inv-right"):
                with VerticalScroll(id="inv-detail-scroll"):
                    yield Static("Scan, then select an item to see its details.", id="inv-detail")
                yield Static("GPU topology (topo -m)", id="inv-topology-title")
                yield DataTable(id="inv-topology", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#inv-tree", Tree).root.expand()
        self._load_recorded()
        self._update_accept()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_scan" and not self.scanning:
            return False  # nothing to cancel: not offered
        if action == "scan" and self.scanning:
            return False  # escape cancels the scan under way (offered in its place)
        allowed = super().check_action(action, parameters)
        if action == "accept" and allowed and not self._recommendations():
            return None  # dimmed: nothing to accept before a scan sizes the workload
        return allowed

    def _recommendations(self) -> list[Any]:
        sizing = self.inventory.sizing if self.inventory is not None else None
        return list(sizing.recommendations) if sizing is not None else []

    def _apply_role(self) -> None:  # the base enables every .mutating control for the driver
        super()._apply_role()
        self._update_accept()

    def _update_accept(self) -> None:
        """Accept needs the driver's role and a recommendation."""
        self.query_one("#inv-accept-button", Button).disabled = not (self.driving and bool(self._recommendations()))
        self.refresh_bindings()

    def _load_recorded(self) -> None:
        """Show the inventory recorded in the session (a watcher sees the driver's scan)."""
        if self.session is None:
            return
        try:
            step = self.session.step("inventory")
        except Exception:  # noqa: BLE001 - an unreadable session just means no recorded scan
            return
        data = (getattr(step, "result", None) or {}).get("data") if step else None
        if data:
            from engine.inventory.scan import Inventory

            self._show(Inventory.model_validate(data), "recorded in the session")

    # --- actions ------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "inv-scan-button":
            self.action_scan()
        elif event.button.id == "inv-accept-button":
            self.action_accept()

    def action_scan(self) -> None:
        if self.profile is None:
            self.notify("Open a profile first (ctrl+o).", severity="warning")
            return
        if self.scanning:
            self.notify("A scan is already running (escape cancels it).")
            return
        self._cancel = threading.Event()
        if self.nvml_api is None and self.run_mode() != "inline":
            if self.run_step(self.STEP) is None:
                return
            self._scan_started()
            return
        self._scan_started()
        self._scan(self.profile, self._cancel)

    def _scan_started(self) -> None:
        self.scanning = True
        self.query_one("#inv-status", Static).update("Scanning…")
        bar = self.query_one("#inv-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)

    def action_cancel_scan(self) -> None:
        if self.scanning:
            self._cancel.set()
            if self.driving and (self.run_mode() != "inline" or self.private_run is not None):
                self.gm_app.cancel_step(self.STEP)  # a worker's scan (a watcher only watches it)

    @work(thread=True, exclusive=True, group="inventory-scan", exit_on_error=False, name="inventory scan")
    def _scan(self, profile: Any, cancel: threading.Event) -> None:
        from engine.errors import GpumigrateError
        from engine.inventory.scan import run_inventory

        worker = get_current_worker()

        def emit(event: Any) -> None:
            if not worker.is_cancelled:
                self.post_message(EngineEvent(event))

        base = self.gm_app.profile_path.parent if self.gm_app.profile_path else None
        from pathlib import Path

        try:
            inv = run_inventory(profile, base_dir=base or Path.cwd(), emit=emit, cancel=cancel,
                                nvml_api=self.nvml_api)
        except GpumigrateError as exc:
            self.post_message(ScanFinished(error=str(exc)))
            return
        if not worker.is_cancelled:
            self.post_message(ScanFinished(inventory=inv))

    def on_scan_finished(self, message: ScanFinished) -> None:
        if message.error is not None:
            self._scan_failed(message.error)
        else:
            self._show(message.inventory, "scanned, recorded in the session" if message.recorded else "scanned")
            if self.gm_app.session is None:  # a scan is the inventory step: the bar says so (○ -> ✓)
                self.gm_app.note_step_state("inventory", "completed", "scanned in the app")
                for bar in self.query("ModeBar, #left-line"):
                    bar.refresh()

    def _scan_failed(self, text: str) -> None:
        self.scanning = False
        self.query_one("#inv-status", Static).update(f"Scan stopped: {text}")
        self.notify(text, severity="error", timeout=8)

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if event.step != "inventory":
            return
        status = self.query_one("#inv-status", Static)
        if isinstance(event, StepStarted):  # this app's scan, or (watching) the driver's
            self._scan_started()
        elif isinstance(event, StepFinished):
            self._step_finished(event)
        elif isinstance(event, Progress):
            bar = self.query_one("#inv-progress", ProgressBar)
            bar.update(total=event.total, progress=event.done)
            status.update(f"Scanning… {event.label}: {event.done:,.0f}"
                          + (f" of {event.total:,.0f}" if event.total else ""))
        elif isinstance(event, ItemDone):
            status.update(f"Scanning… {event.item}: {event.detail}")
        elif isinstance(event, Message) and event.level in ("warning", "error"):
            self.notify(event.text, severity="error" if event.level == "error" else "warning", timeout=6)

    def _step_finished(self, event: StepFinished) -> None:
        """The step's end carries the inventory (an AWS problem still carries what was found)."""
        data = event.result or {}
        if "host" not in data and "aws" not in data and "local_dirs" not in data:
            self.post_message(ScanFinished(error=event.summary or "the scan stopped"))
            return
        from engine.inventory.scan import Inventory

        try:
            inv = Inventory.model_validate(data)
        except ValueError as exc:
            self.post_message(ScanFinished(error=f"the scan's result could not be read: {exc}"))
            return
        self.post_message(ScanFinished(inventory=inv, recorded=self.session is not None))

    def on_worker_state_changed(self, event: Any) -> None:
        """A session's run that was skipped (already done for this profile) sends no StepFinished."""
        if event.worker.group != f"step-{self.STEP}" or event.state.name != "SUCCESS":
            return
        summary = event.worker.result
        if getattr(summary, "skipped", None):
            self.set_timer(FOLLOWER_GRACE_S, self._skipped)

    def _skipped(self) -> None:
        if self.scanning:
            self.scanning = False
            self._load_recorded()
            self.notify("Already scanned in this session for this profile: the recorded scan is shown.")

    # --- showing ------------------------------------------------------------------------

    def _show(self, inv: Any, how: str) -> None:
        from engine.inventory.scan import summary_line

        self.scanning = False
        self.inventory = inv
        self.gm_app.last_inventory = inv  # the Transfer form offers what it found as sources
        bar = self.query_one("#inv-progress", ProgressBar)
        bar.display = True
        bar.update(total=1, progress=1)
        problem = f" — AWS: {inv.aws_problem}" if inv.aws_problem else ""
        self.query_one("#inv-status", Static).update(f"{how.capitalize()}: {summary_line(inv)}{problem}")
        self._fill_tree(inv)
        self._fill_topology(inv)
        self._update_accept()

    def _fill_tree(self, inv: Any) -> None:
        tree = self.query_one("#inv-tree", Tree)
        tree.clear()
        root = tree.root
        if inv.host is not None:
            host = inv.host
            node = root.add(_label(f"This host: {host.summary()}"), data=("host", host), expand=True)
            for gpu in host.gpus:
                mark = " ⚠ lost" if gpu.lost else " ⚠" if (gpu.bad_clock_event_reasons or gpu.faults
                                                            or (gpu.ecc.volatile_uncorrected or 0) > 0) else ""
                g = node.add(_label(f"GPU{gpu.index} {gpu.name or '?'} ({_size(gpu.memory_total_bytes)}){mark}"),
                             data=("gpu", gpu), expand=True)
                for mig in gpu.mig_instances:
                    g.add_leaf(_label(f"MIG {mig.profile or '?'} ({_size(mig.memory_total_bytes)})"), data=("mig", mig))
            if len(host.gpus) > 1:
                node.add_leaf(_label("Topology"), data=("topology", host.topology))
        if inv.aws is not None or inv.aws_problem:
            aws = root.add(_label("AWS" + (f": {inv.aws_problem}" if inv.aws_problem else "")), data=("aws", inv.aws),
                           expand=True)
            if inv.aws is not None:
                for region in inv.aws.regions:
                    here = [i for i in inv.aws.instances if i.region == region]
                    label = f"{region} ({len(here)} GPU instance{'s' if len(here) != 1 else ''})"
                    if region in inv.aws.errors:
                        label = f"{region}: {inv.aws.errors[region]}"
                    elif unread := inv.aws.volumes_unread(region):
                        label += f"; EBS volumes not read: {unread}"
                    r = aws.add(_label(label), data=("region", region), expand=True)
                    for inst in here:
                        gpus = f"{inst.gpu.gpu_count}x {inst.gpu.gpu_model}" if inst.gpu and inst.gpu.gpu_count else "?"
                        r.add_leaf(_label(f"{inst.instance_id} {inst.instance_type} {gpus} {inst.state} {inst.name}".rstrip()),
                                   data=("instance", inst))
                if inv.aws.buckets:
                    b_node = aws.add(_label("Buckets"), data=("buckets", inv.aws.buckets), expand=True)
                    for bucket in inv.aws.buckets:
                        text = (f"s3://{bucket.bucket}: {bucket.error}" if bucket.error else
                                f"{bucket.objects:,} objects, {_size(bucket.bytes)}"
                                + (" (estimated)" if bucket.estimated else "") + f" · s3://{bucket.bucket}")
                        b = b_node.add(_label(text), data=("bucket", bucket), expand=len(bucket.prefixes) > 1)
                        if len(bucket.prefixes) > 1:
                            for p in bucket.prefixes:
                                b.add_leaf(_label(f"{p.objects:,} objects, {_size(p.bytes)} · {p.prefix}"), data=("prefix", p))
                if inv.aws.discovered_buckets:
                    seen = aws.add(_label(f"Buckets seen ({len(inv.aws.discovered_buckets)}; CloudWatch figures, "
                                          "nothing listed; p picks one for an exact count)"),
                                   data=("discovered", None), expand=True)
                    for listing in inv.aws.discovered_buckets:
                        figures = (f"{listing.objects:,} objects, {_size(listing.bytes)}" if listing.sized
                                   else listing.error or "no CloudWatch figures yet")
                        seen.add_leaf(_label(f"{figures} · s3://{listing.name} ({listing.region or '?'})"),
                                      data=("discovered", listing))
                if "s3" in inv.aws.errors:  # ListBuckets refused: the buckets are not known, not absent
                    aws.add_leaf(_label(f"Buckets: not listed — {inv.aws.errors['s3']}"), data=("aws", None))
        if inv.local_dirs:
            local = root.add(_label("Local data"), data=("local", inv.local_dirs), expand=True)
            for d in inv.local_dirs:
                text = f"{d.files:,} files, {_size(d.bytes)} · {d.path}" if d.exists else f"missing · {d.path}"
                local.add_leaf(_label(text), data=("dir", d))
        if inv.images is not None:
            images = root.add(_label(f"Images ({len(inv.images.images)})"), data=("images", inv.images), expand=True)
            for ref in inv.images.images:
                images.add_leaf(_label(f"{ref.image} [{ref.registry_kind}]"), data=("image", ref))
        if inv.sizing is not None:
            sizing = root.add(_label("Sizing and target"), data=("sizing", inv.sizing), expand=True)
            for rec in inv.sizing.recommendations:
                price = f" ${rec.hourly_usd:,.2f}/h" if rec.hourly_usd is not None else ""
                warn = " ⚠" if rec.warnings else ""
                hosts = f"{rec.hosts} × " if rec.hosts > 1 else ""
                sizing.add_leaf(_label(f"{rec.rank}. {hosts}{rec.machine_type} ({rec.gpu_count}x {rec.gpu_model})"
                                       f"{price}{warn}"),
                                data=("recommendation", rec))
        tree.root.expand()
        tree.move_cursor(tree.root)

    def _fill_topology(self, inv: Any) -> None:
        table = self.query_one("#inv-topology", DataTable)
        table.clear(columns=True)
        host = inv.host
        topo = host.topology if host is not None and host.available else None
        title = self.query_one("#inv-topology-title", Static)
        if topo is None or not topo.labels:
            title.update("GPU topology: " + (host.reason or "no GPUs" if host is not None else "not scanned"))
            return
        title.update("GPU topology (topo -m)")
        table.add_columns("", *topo.labels, "CPU Affinity", "NUMA")
        for i, label in enumerate(topo.labels):
            numa = topo.numa_nodes[i] if i < len(topo.numa_nodes) else None
            cpus = topo.cpu_affinity[i] if i < len(topo.cpu_affinity) else None
            table.add_row(label, *topo.matrix[i], cpus or "N/A", "N/A" if numa is None else str(numa), key=label)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        self._show_detail(event.node)

    def _selected_recommendation(self) -> Any:
        node = self.query_one("#inv-tree", Tree).cursor_node
        if node is not None and node.data and node.data[0] == "recommendation":
            return node.data[1]
        sizing = self.inventory.sizing if self.inventory is not None else None
        return sizing.best if sizing is not None else None

    def _show_detail(self, node: TreeNode | None) -> None:
        from rich.markup import escape

        detail = self.query_one("#inv-detail", Static)
        if node is None or not node.data:
            detail.update("Select an item to see its details.")
            return
        kind, obj = node.data
        lines = _detail_lines(kind, obj, self.inventory)
        detail.update(escape("\n".join(lines)))

    # --- picking a discovered bucket ---------------------------------------------------------

    def action_pick(self) -> None:
        """The highlighted scanned thing into the profile: an instance or this host as [source], a bucket to count."""
        node = self.query_one("#inv-tree", Tree).cursor_node
        kind, obj = node.data if node is not None and node.data else ("", None)
        if self.profile is None or obj is None or kind not in ("discovered", "instance", "host", "gpu"):
            self.notify("Highlight an instance, this host or a bucket under 'Buckets seen' (scan with s).",
                        severity="warning")
            return
        if kind == "discovered":
            self._pick_bucket(obj)
        else:
            self._pick_source(kind, obj)

    def _pick_source(self, kind: str, obj: Any) -> None:
        from engine.inventory.sizing import normalize_gpu_model
        from tui.screens.edit import confirm_and_save

        profile = self.profile.model_copy(deep=True)
        src = profile.source
        if kind == "instance":
            src.provider, src.region, src.instance_type = "aws", obj.region, obj.instance_type
            if obj.gpu is not None and obj.gpu.gpu_model:
                src.gpu_model, src.gpu_count = obj.gpu.gpu_model, obj.gpu.gpu_count or None
            what = f"source set to {obj.instance_type} in {obj.region} ({obj.instance_id}) from the scan"
        else:
            host = self.inventory.host
            first = host.first_readable() if host is not None else None
            if host is None or first is None:
                self.notify("This host has no GPUs NVML could read to use as the source.", severity="warning")
                return
            gib = round(first.memory_total_bytes / 2**30) if first.memory_total_bytes else None
            src.gpu_model = normalize_gpu_model(first.name, gib) or first.name
            src.gpu_count = len(host.gpus)
            if src.provider not in ("aws", "azure", "gcp"):
                src.provider = "local"
            what = f"source GPUs set to {src.gpu_count}x {src.gpu_model} from this host's scan"
        confirm_and_save(self.gm_app, profile, what)

    def _pick_bucket(self, listing: Any) -> None:
        """Add a discovered bucket to [inventory] buckets (shown as a diff first)."""
        from engine.inventory.section import BucketScan
        from tui.screens.edit import confirm_and_save

        if any(b.bucket == listing.name for b in self.profile.inventory.buckets):
            self.notify(f"s3://{listing.name} is already picked; s counts it.")
            return
        profile = self.profile.model_copy(deep=True)
        profile.inventory.buckets = [*profile.inventory.buckets, BucketScan(bucket=listing.name)]
        confirm_and_save(self.gm_app, profile, f"bucket s3://{listing.name} picked for an exact count")

    # --- accepting a recommendation ---------------------------------------------------------

    def action_accept(self) -> None:
        rec = self._selected_recommendation()
        if rec is None:
            self.notify("Scan first: there is no recommendation yet.", severity="warning")
            return

        def change(profile: Any) -> None:
            profile.target.machine_type = rec.machine_type
            profile.target.gpu_model = rec.catalog_gpu_model or rec.gpu_model
            profile.target.gpu_count = rec.gpu_count

        if self.save_profile_change(change, f"target set to {rec.machine_type} ({rec.gpu_count}x {rec.gpu_model}) "
                                            "from the inventory recommendation"):
            self.notify(f"Target: {rec.machine_type} ({rec.gpu_count}x {rec.gpu_model}) — saved to the profile")


def _detail_lines(kind: str, obj: Any, inv: Any = None) -> list[str]:
    if kind == "host":
        if not obj.available:
            return [obj.reason or "NVML not available", "", "The inventory goes on without local GPUs."]
        return [f"Driver {obj.driver_version}, CUDA {obj.cuda_driver_version}, NVML {obj.nvml_version}",
                f"{len(obj.gpus)} GPU(s)", "", obj.topology.render()]
    if kind == "gpu":
        g = obj
        rows = [f"GPU{g.index}: {g.name}", f"UUID {g.uuid}",
                f"Memory {_size(g.memory_used_bytes)} used of {_size(g.memory_total_bytes)}",
                f"Compute capability {_na(g.compute_capability)}", f"PCI {g.pci_bus_id}",
                f"PCIe gen {_na(g.pcie_gen_current)} (max {_na(g.pcie_gen_max)}) "
                f"x{_na(g.pcie_width_current)} (max x{_na(g.pcie_width_max)})",
                f"Persistence mode {_na(g.persistence_mode)}",
                f"MIG {_na(g.mig_mode_current)} (pending {_na(g.mig_mode_pending)})",
                f"ECC {_na(g.ecc_mode_current)}: volatile {_na(g.ecc.volatile_corrected)} corrected / "
                f"{_na(g.ecc.volatile_uncorrected)} uncorrected; aggregate {_na(g.ecc.aggregate_corrected)} / "
                f"{_na(g.ecc.aggregate_uncorrected)}",
                f"Retired pages: single-bit {_na(g.retired_pages_single_bit)}, double-bit "
                f"{_na(g.retired_pages_double_bit)}, pending {_na(g.retired_pages_pending)}"]
        if g.remapped_rows is not None:
            r = g.remapped_rows
            rows.append(f"Remapped rows: {r.corrected} corrected, {r.uncorrected} uncorrected, pending {r.pending}, "
                        f"failure {r.failure}")
        rows += [f"Clock event reasons: {', '.join(g.clock_event_reasons or []) or 'none'}",
                 f"Temperature {_na(g.temperature_c, ' °C')}, power {_na(g.power_draw_w, ' W')} of "
                 f"{_na(g.power_limit_w, ' W')}",
                 f"Utilisation GPU {_na(g.utilization_gpu_pct, '%')}, memory {_na(g.utilization_memory_pct, '%')}",
                 f"NUMA node {_na(g.numa_node)}, CPUs {_na(g.cpu_affinity)}, NVLink active {_na(g.nvlink_active)}"]
        if g.bad_clock_event_reasons:
            rows.append(f"⚠ throttled: {', '.join(g.bad_clock_event_reasons)}")
        rows += [f"note: {n}" for n in g.notes]
        return rows
    if kind == "mig":
        return [f"MIG device {obj.index}: {obj.name}", f"Profile {obj.profile}", f"UUID {obj.uuid}",
                f"Memory {_size(obj.memory_used_bytes)} used of {_size(obj.memory_total_bytes)}",
                f"GPU instance {obj.gpu_instance_id}, compute instance {obj.compute_instance_id}"]
    if kind == "topology":
        legend = ["", "X = self, NV# = # NVLinks, PIX/PXB = PCIe bridges, PHB = host bridge, NODE = within a NUMA "
                      "node, SYS = across NUMA nodes"]
        return [obj.render(), *legend, f"NVSwitch: {obj.nvswitch}"]
    if kind == "instance":
        i = obj
        rows = [f"{i.instance_id} ({i.name or 'no Name tag'})", f"{i.instance_type} in {i.availability_zone}",
                f"State {i.state}, launched {i.launch_time}"]
        if i.gpu is not None:
            rows.append(f"GPUs: {i.gpu.gpu_count}x {i.gpu.gpu_model} "
                        f"({_na(i.gpu.gpu_memory_mib, ' MiB')} each; from {i.gpu.source})")
        unread = inv.aws.volumes_unread(i.region) if inv is not None and inv.aws is not None else None
        rows.append(f"EBS: not read ({unread})" if unread else f"EBS: {i.ebs_gib} GiB")
        rows += [f"  {v.volume_id} {v.size_gib} GiB {v.volume_type} {v.device}" for v in i.volumes]
        rows += [f"tag {k} = {v}" for k, v in sorted(i.tags.items())]
        return rows + ["", "p uses it as the source ([source] provider, region, instance type, GPU)"]
    if kind == "bucket":
        if obj.error:
            return [f"s3://{obj.bucket}", obj.error]
        rows = [f"s3://{obj.bucket} in {obj.region}"]
        for p in obj.prefixes:
            rows.append(f"{p.prefix or '(all)'}: {p.objects:,} objects, {_size(p.bytes)} ({p.method})")
            if p.note:
                rows.append(f"  {p.note}")
            rows += [f"  {_size(size):>10}  {key}" for key, size in p.largest]
        return rows
    if kind == "prefix":
        return [f"{obj.prefix}: {obj.objects:,} objects, {_size(obj.bytes)} ({obj.method})"] + \
            ([obj.note] if obj.note else []) + [f"  {_size(s):>10}  {k}" for k, s in obj.largest]
    if kind == "dir":
        if not obj.exists:
            return [f"{obj.path}: does not exist ({obj.resolved})"]
        return [f"{obj.resolved}", f"{obj.files:,} files in {obj.dirs:,} folders, {_size(obj.bytes)}", "Largest:"] + \
            [f"  {_size(size):>10}  {rel}" for rel, size in obj.largest] + [f"skipped: {s}" for s in obj.skipped]
    if kind == "image":
        return [f"{obj.image}", f"written as {obj.written}" if obj.written != obj.image else "",
                f"in {obj.file}:{obj.line} ({obj.source}{', ' + obj.context if obj.context else ''})",
                f"registry {obj.registry} ({obj.registry_kind}{', ' + obj.region if obj.region else ''})",
                f"repository {obj.repository}, tag {obj.tag}, digest {obj.digest}"] + \
            ([f"unresolved: {', '.join(obj.unresolved)}"] if obj.unresolved else [])
    if kind == "images":
        return [f"{obj.files_scanned} file(s) scanned under {obj.root}"] + \
            [f"{host}: {n} reference(s)" for host, n in obj.registries().items()] + obj.problems
    if kind == "sizing":
        s = obj
        return [f"{s.workload.kind}, source {s.source.gpu_count}x {s.source.gpu_model or '?'} (from {s.source.origin})",
                f"Rule: {s.estimate.rule}", "", *s.estimate.lines, "", s.ranking, "", *[f"⚠ {w}" for w in s.warnings]]
    if kind == "recommendation":
        r = obj
        return [f"{r.rank}. {f'{r.hosts} × ' if r.hosts > 1 else ''}{r.machine_type}: {r.gpu_count}x {r.gpu_model} "
                f"({r.gpu_memory_gib:,.1f} GiB usable each; {r.layout})",
                f"Region {r.region}" + (f", ${r.hourly_usd:,.2f}/h on demand" if r.hourly_usd is not None else ""),
                "", r.reason, "", *[f"⚠ {w}" for w in r.warnings], "", "a accepts it into [target]"]
    if kind == "discovered" and obj is not None:
        figures = (f"{obj.objects:,} objects, {_size(obj.bytes)} (CloudWatch's daily storage metrics for "
                   f"{obj.metrics_at}: up to a day old, nothing was listed)" if obj.sized
                   else obj.error or "CloudWatch has no storage figures for it yet (a bucket under a day old)")
        return [f"s3://{obj.name}", f"Region {obj.region or '?'}, created {obj.created or '?'}", figures, "",
                "p picks it: it joins [inventory] buckets and the next scan (s) counts it exactly"]
    if kind == "aws" and obj is not None:
        return [f"{len(obj.instances)} GPU instance(s) in {', '.join(obj.regions) or 'no regions'}",
                *[f"{where}: {err}" for where, err in obj.errors.items()]]
    return [str(kind)]
