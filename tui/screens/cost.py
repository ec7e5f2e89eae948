"""The Cost screen: source vs up to four Google Cloud options, assumptions that recompute as you type.

The screen holds no arithmetic: every change builds a draft profile and asks
``engine.cost.model.compute_costs`` again (pure, milliseconds).  ``s`` saves
the assumptions into the profile; ``c`` makes the highlighted option the
chosen target (it swaps into ``[target]``; the old target becomes an option).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Select, Static

from tui.screens.base import StepScreen
from tui.widgets.cost_charts import CumulativeCostChart, MonthlyCostChart

if TYPE_CHECKING:
    from engine.catalog.load import Catalog
    from engine.cost.model import CostReport
    from engine.profile import Profile

PRICING = [("on-demand", "on-demand"), ("spot", "spot"), ("committed 1 year", "cud-1y"),
           ("committed 3 years", "cud-3y")]
# input id -> (section, field, allow empty)
ASSUMPTIONS: dict[str, tuple[str, str, bool]] = {
    "a-source-hours": ("workload", "source_hours_per_run", True),
    "a-target-hours": ("workload", "target_hours_per_run", True),
    "a-speedup": ("workload", "speedup", True),
    "a-runs": ("workload", "runs_per_month", False),
    "a-data": ("cost", "data_gb", True),
}
COLUMNS = ("side", "option", "pricing", "$/h", "h/run", "paid/run", "$/month", "saving/mo", "one-off", "break-even",
           "list/run", "price age", "price origin")
NARROW_COLUMNS = ("option", "paid/run", "list/run", "$/month", "saving/mo", "price age")
"""Below NARROW_WIDTH columns the headline figures stay whole and the secondary columns go (the notes
under the table keep the price origins and the hourly rates). The list rate per run stays beside the price
paid: under an under-used commitment they differ by 5x, and the paid figure alone reads as a mistake."""
LOUD = ("PRICE FALLBACK", "CHECK:", "days old", "no date", "SINGLE-REGION")
"""Notes shown first (in this order), under the table's header line, where an 80x24 screen still shows them:
a price from another region, sources that disagree, a stale or undated price."""
NARROW_WIDTH = 120
SHORT_HEIGHT = 36
"""Below this many rows the charts give their room to the table and the notes."""

LABELS = {"a-source-hours": "source h/run", "a-target-hours": "target h/run", "a-speedup": "speed-up",
          "a-runs": "runs/month", "a-data": "data GB"}


class CostScreen(StepScreen):
    """Per run, per month, one-off and break-even for the source and each target option."""

    STEP = "cost"
    MODE = "cost"
    CSS_PATH = "cost.tcss"
    AUTO_FOCUS = "#cost-table"
    BINDINGS = [
        Binding("c", "choose", "Choose option", tooltip="Make the highlighted option the target (saved)"),
        Binding("s", "save", "Save assumptions", tooltip="Write the edited assumptions into the profile"),
        Binding("r", "reset", "Reset", tooltip="Discard edits: back to the profile's assumptions"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.draft: Profile | None = None
        self.report: CostReport | None = None
        self._catalog: Catalog | None = None
        self._catalog_stamp: tuple[tuple[str, int, int], ...] = ()

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="cost-body"):
            with Horizontal(id="cost-assumptions"):
                for input_id, label in LABELS.items():
                    with Vertical(classes="assumption"):
                        yield Label(label)
                        yield Input(id=input_id, classes="mutating", type="number")
                with Vertical(classes="assumption"):
                    yield Label("pricing of highlighted")
                    yield Select(PRICING, id="a-pricing", allow_blank=False, value="on-demand", classes="mutating")
            yield Static("", id="cost-error", markup=False)  # a message naming [ops] or [target] is text, not markup
            yield Static("", id="cost-headline", markup=False)
            yield DataTable(id="cost-table", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="cost-charts"):
                yield MonthlyCostChart(id="cost-bars")
                yield CumulativeCostChart(id="cost-lines")
            yield Static("", id="cost-notes", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self._columns: tuple[str, ...] = ()
        self._fit(self.app.size.width, self.app.size.height)
        self.reset_from_profile()

    def on_resize(self, event: Any) -> None:
        if self._fit(event.size.width, event.size.height) and self.report is not None:
            self._show(self.report)

    def _fit(self, width: int, height: int) -> bool:
        """Pick the columns for this width and hide the charts on a short terminal; True when they changed."""
        self.query_one("#cost-charts").display = height >= SHORT_HEIGHT
        columns = NARROW_COLUMNS if width < NARROW_WIDTH else COLUMNS
        if columns == self._columns:
            return False
        self._columns = columns
        table = self.query_one("#cost-table", DataTable)
        table.clear(columns=True)
        table.add_columns(*columns)
        return True

    def profile_changed(self) -> None:
        self.reset_from_profile()

    # --- state ---------------------------------------------------------------------

    def catalog(self) -> "Catalog":
        """The catalog, read again when a refresh rewrote its cache since (another terminal's `catalog refresh`):
        read once, the screen showed the old prices as current until the app restarted."""
        from engine.catalog.load import cache_stamp, load_catalog

        stamp = cache_stamp()
        if self._catalog is None or stamp != self._catalog_stamp:
            self._catalog, self._catalog_stamp = load_catalog(), stamp
        return self._catalog

    def on_screen_resume(self) -> None:
        """Back on this screen: recompute when the prices changed meanwhile (edits recompute on their own)."""
        from engine.catalog.load import cache_stamp

        if self._catalog is not None and cache_stamp() != self._catalog_stamp:
            self.recompute()

    def reset_from_profile(self) -> None:
        self.draft = self.profile.model_copy(deep=True) if self.profile is not None else None
        self._fill_inputs()
        self.recompute()

    def _fill_inputs(self) -> None:
        if self.draft is None:
            return
        with self.prevent(Input.Changed):  # the profile's own values: no edit to echo back (see _sync_pricing_select)
            for input_id, (section, name, _empty) in ASSUMPTIONS.items():
                value = getattr(getattr(self.draft, section), name)
                self.query_one(f"#{input_id}", Input).value = "" if value is None else f"{value:g}"

    def recompute(self) -> None:
        """Price the draft; show the result, or why it cannot be priced (keeping the last good table)."""
        from engine.errors import GpumigrateError

        error = self.query_one("#cost-error", Static)
        if self.draft is None:
            error.update("Open a profile (ctrl+o) to compare costs.")
            return
        from engine.cost.volume import compute_with_inventory

        data, origin = self._inventory()
        try:
            report = compute_with_inventory(self.draft, self.catalog(), data, origin, self._base_dir())
        except GpumigrateError as exc:
            error.update(f"⚠ {exc}")
            error.add_class("visible")
            return
        error.update("")
        error.remove_class("visible")
        self.report = report
        self._show(report)

    def _inventory(self) -> tuple[dict | None, str]:
        """The inventory to size the transfer sources from (and the source's EBS volumes): the session's recorded
        one, else this app's last scan; without one, data.gb unset read "NOT counting egress: data volume unknown"
        though the Inventory screen had just sized the very bucket the profile moves."""
        if self.session is not None:
            from engine.cost.volume import recorded_inventory
            from engine.errors import GpumigrateError

            try:
                data, origin = recorded_inventory(self.session)
            except GpumigrateError:
                data = None
            if data is not None:
                return data, origin
        inventory = getattr(self.gm_app, "last_inventory", None)
        if inventory is None:
            return None, ""
        return inventory.model_dump(mode="json"), "this app's inventory scan"

    def _base_dir(self) -> "Path | None":
        path = getattr(self.gm_app, "profile_path", None)
        return Path(path).resolve().parent if path else None

    def _show(self, report: "CostReport") -> None:
        from engine.cost.model import pct, usd

        table = self.query_one("#cost-table", DataTable)
        row = table.cursor_row
        table.clear()
        for index, o in enumerate(report.options):
            be = "" if o.side == "source" else ("never" if o.break_even_months is None
                                                  else f"{o.break_even_months:.1f} mo")
            cells = dict(zip(COLUMNS, (
                o.side, o.name, o.pricing, usd(o.hourly_usd), f"{o.hours_per_run:.2f}",
                o.paid_label(), usd(o.bill_monthly_usd),
                "" if o.savings_monthly_usd is None else usd(o.savings_monthly_usd),
                "" if o.one_off_usd is None else usd(o.one_off_usd), be, usd(o.list_cost_per_run_usd),
                o.age_label(),
                f"{o.price_source[:60]} ({o.price_date})")))
            table.add_row(*(cells[c] for c in self._columns), key=str(index))
        if 0 <= row < len(report.options):
            table.move_cursor(row=row)
        self.query_one("#cost-bars", MonthlyCostChart).show_bars([(o.name, o.bill_monthly_usd or o.monthly_usd)
                                                                   for o in report.options])
        self.query_one("#cost-lines", CumulativeCostChart).show_series(
            [(o.name, o.cumulative_usd) for o in report.options], report.break_even_months)
        self._show_headline()
        loud = sorted((n for n in report.notes if any(word in n for word in LOUD)),
                      key=lambda n: min(i for i, word in enumerate(LOUD) if word in n))
        # the loud notes (a stale price, another region's) before the legend: at 80x24 the notes show ~7 lines
        lines = [f"note: {n}" for n in loud]
        lines.append(f"Prices: {report.catalog_age}. US dollars; figures rounded to cents for display only. "
                     "paid/run = monthly bill / runs; list/run = list rate x hours; savings from the monthly bill. "
                     "STALE: spot > 30 days, other > 180 days old; FALLBACK: another region's price; CHECK: sources "
                     "disagree.")
        for o in report.options:
            lines.append(f"• {o.name}: {usd(o.hourly_usd)}/h — {o.price_source} [{o.price_date}]; hours {o.hours_basis}")
            if o.break_even_utilisation is not None:
                lines.append(f"   commitment {usd(o.commitment_monthly_usd)}/month, {pct(o.utilisation)} of its "
                             f"billed hours used; on-demand cheaper below {pct(o.break_even_utilisation)} use")
            if o.storage_detail:
                lines.append(f"   storage {usd(o.storage_monthly_usd)}/month: {o.storage_detail}")
            if o.spot_discount is not None:
                lines.append(f"   spot {pct(o.spot_discount)} below on-demand; +{pct(o.spot_overhead)} run time "
                             "for checkpoint/restart")
        lines.append(f"One-off {usd(report.one_off_usd)}: " + ", ".join(
            f"{i.name} {usd(i.usd)}" for i in report.one_off_items)
            + f", parallel run {usd(report.primary.parallel_run_usd)}; data {report.data_gb:,.1f} GB "
              f"({report.data_basis})")
        lines.extend(f"note: {n}" for n in report.notes if n not in loud)
        lines.append(self._budget_line(report))
        self.query_one("#cost-notes", Static).update("\n".join(lines))
        self._sync_pricing_select()

    def _show_headline(self) -> None:
        """The highlighted option's saving (as a share of the source's monthly bill), break-even and STALE prices,
        above the table: at 80x24 the table keeps only its $ columns, and the notes below it are cut."""
        if self.report is None:
            return
        index = self._highlighted()
        option = self.report.options[index] if 1 <= index < len(self.report.options) else None
        self.query_one("#cost-headline", Static).update("\n".join(self.report.headline(option)))

    def _budget_line(self, report: "CostReport") -> str:
        """The day-two budget sized from this run-rate (``gpumigrate ops --emit budget`` renders it)."""
        from engine.cost.model import usd
        from engine.errors import GpumigrateError
        from engine.ops.budget import RunRate, amount_text, monthly_run_rate, threshold_amounts

        assert self.draft is not None
        try:
            rate = monthly_run_rate(self.draft, report.to_dict())
        except GpumigrateError as exc:
            return f"Budget: {exc}"
        marks = ", ".join(f"{pct:g}% ({amount_text(RunRate(amount, '', rate.currency))})"
                          for pct, amount in threshold_amounts(self.draft, rate))
        return f"Budget (day two): {amount_text(rate)}/month from {rate.source}; alerts at {marks}"

    def _highlighted(self) -> int:
        return self.query_one("#cost-table", DataTable).cursor_row

    def _sync_pricing_select(self) -> None:
        """Show the highlighted option's pricing in the box, posting no Changed: a flag raised around the set did
        not cover the Changed message, which arrives after the flag is down. Taken as a person's choice, it
        repriced the row highlighted by then (another one, when the highlight had moved on), and on a loaded
        machine the highlight's moves and these echoes chased each other without end."""
        if self.report is None:
            return
        index = self._highlighted()
        select = self.query_one("#a-pricing", Select)
        if 1 <= index < len(self.report.options):
            with self.prevent(Select.Changed):
                select.value = self.report.options[index].pricing

    # --- edits -----------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.draft is None or event.input.id not in ASSUMPTIONS:
            return
        section, name, allow_empty = ASSUMPTIONS[event.input.id]
        text = event.value.strip()
        try:
            value: float | None = None if (text == "" and allow_empty) else float(text)
        except ValueError:
            self.query_one("#cost-error", Static).update(f"⚠ {LABELS[event.input.id]}: not a number")
            return
        self._edit(lambda draft: setattr(getattr(draft, section), name, value))

    def on_select_changed(self, event: Select.Changed) -> None:
        if self.draft is None or event.select.id != "a-pricing" or self.report is None:
            return
        index = self._highlighted()
        value = event.value
        if value != event.select.value:
            return  # stale: the box shows another value since (its own start-up value arriving late, say)
        if not 1 <= index < len(self.report.options) or self.report.options[index].pricing == value:
            return  # nothing to change
        if index == 1:
            self._edit(lambda draft: setattr(draft.target, "pricing", value))
        elif index >= 2:
            self._edit(lambda draft: setattr(draft.cost.options[index - 2], "pricing", value))

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._sync_pricing_select()
        self._show_headline()

    def _edit(self, change: Any) -> None:
        """Apply a change to a copy of the draft; keep it only if the profile model accepts it."""
        from pydantic import ValidationError

        from engine.profile import Profile, field_problems

        assert self.draft is not None
        candidate = self.draft.model_copy(deep=True)
        change(candidate)
        try:
            self.draft = Profile.model_validate(candidate.model_dump(exclude_unset=True))
        except ValidationError as exc:
            self.query_one("#cost-error", Static).update("⚠ " + "; ".join(field_problems(exc)))
            return
        self.recompute()

    # --- actions -----------------------------------------------------------------------

    def action_save(self) -> None:
        if self.draft is None:
            return
        draft = self.draft

        def apply(profile: "Profile") -> None:
            profile.workload = draft.workload.model_copy(deep=True)
            profile.cost = draft.cost.model_copy(deep=True)
            profile.target = draft.target.model_copy(deep=True)

        if self.save_profile_change(apply, "cost assumptions"):
            self.notify("Cost assumptions saved to the profile.")

    def action_choose(self) -> None:
        from engine.cost.section import choose_option

        if self.draft is None or self.report is None:
            return
        index = self._highlighted()
        if index <= 0:
            self.notify("The source is not a target option.", severity="warning")
            return
        if index == 1:
            self.notify(f"{self.report.options[1].name} is already the chosen target.")
            return
        draft, catalog, name = self.draft, self.catalog(), self.report.options[index].name

        def apply(profile: "Profile") -> None:
            profile.workload = draft.workload.model_copy(deep=True)
            profile.cost = draft.cost.model_copy(deep=True)
            profile.target = draft.target.model_copy(deep=True)
            choose_option(profile, index - 2, catalog)

        if self.save_profile_change(apply, f"chose cost option {name}"):
            self.query_one("#cost-table", DataTable).move_cursor(row=1)
            self.notify(f"{name} is now the target (saved).")

    def action_reset(self) -> None:
        self.reset_from_profile()
