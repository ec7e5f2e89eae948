"""A live table of the objects in flight: path, size, phase, percent done.

The owner feeds it the latest per-object progress (one call per object per refresh);
rows appear on "started"/"progress" and leave on "done"/"failed".  Rows are keyed by
path, so an update touches cells instead of rebuilding the table.
"""

from __future__ import annotations

from textual.widgets import DataTable

from tui.widgets.format import human_bytes, percent

COLUMNS = (("path", "path"), ("size", "size"), ("phase", "phase"), ("%", "pct"))


class InFlightTable(DataTable):
    """Objects being copied right now."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        for label, key in COLUMNS:
            self.add_column(label, key=key)

    @property
    def paths(self) -> list[str]:
        return [str(key.value) for key in self.rows]

    def show(self, path: str, done: float, total: float | None, phase: str) -> None:
        """Add, update or (phase done/failed) remove the row for ``path``."""
        if phase in ("done", "failed"):
            if path in self.rows:
                self.remove_row(path)
            return
        cells = {"size": human_bytes(total), "phase": "copying" if phase == "progress" else phase,
                 "pct": percent(done, total)}
        if path in self.rows:
            for key, value in cells.items():
                self.update_cell(path, key, value)
        else:
            self.add_row(path, cells["size"], cells["phase"], cells["pct"], key=path)

    def clear_rows(self) -> None:
        self.clear()
