"""A footer that keeps the screen's own keys whole at 80 columns.

Textual's footer lays every key out in one row and lets the rest run past the right edge (it scrolls
only with a mouse wheel).  At 80 columns the Transfer screen lost "a Add entry", "d Remove entry"
and ^q Quit under the palette key.  This footer fits the row to the terminal, in this order:
compact spacing; then keys that are off right now (dimmed, nothing to do) leave; then the app-wide
keys other than Quit (Next, Save, Open: the palette, ^p, lists them) leave.  A key that leaves the
footer still works.  The screen's own enabled keys and Quit are never dropped.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

QUIT_ACTIONS = ("quit", "app.quit")


def _key_width(key: str, description: str, compact: bool) -> int:
    """Cells one key takes in the row (Textual's FooterKey padding and margins)."""
    return cell_len(key) + cell_len(description) + (2 if compact else 3)


def fit(entries: list[dict[str, Any]], width: int, palette: int) -> tuple[list[dict[str, Any]], bool]:
    """The entries to show and whether to use the compact style, for a row ``width`` cells wide of
    which ``palette`` go to the palette key.  Each entry: key, description, enabled, app (an app-wide key)."""

    def needed(keep: list[dict[str, Any]], compact: bool) -> int:
        return sum(_key_width(e["key"], e["description"], compact) for e in keep) + palette

    if needed(entries, False) <= width:
        return entries, False
    keep = list(entries)
    if needed(keep, True) <= width:
        return keep, True
    keep = [e for e in keep if e["enabled"]]
    for entry in reversed([e for e in keep if e["app"] and e["action"] not in QUIT_ACTIONS]):
        if needed(keep, True) <= width:
            break
        keep.remove(entry)
    return keep, True


class FitFooter(Footer):
    """The screen's keys first, whole, at any width from 80 columns (see the module's docstring)."""

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for node, binding, enabled, tooltip in active.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            entries.append({"binding": binding, "key": self.app.get_key_display(binding), "action": binding.action,
                            "description": binding.description, "enabled": enabled, "tooltip": tooltip,
                            "app": node is self.app})
        palette_entry = None
        palette = 0
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette_entry = active.get(self.app.COMMAND_PALETTE_BINDING)
            if palette_entry is not None:
                _n, pb, _e, _t = palette_entry
                palette = cell_len(self.app.get_key_display(pb)) + cell_len(pb.description) + 4
        width = self.size.width or self.app.size.width
        keep, compact = fit(entries, width, palette)
        self.compact = compact
        for entry in keep:
            binding = entry["binding"]
            yield FooterKey(binding.key, entry["key"], binding.description, binding.action,
                            disabled=not entry["enabled"], tooltip=entry["tooltip"]).data_bind(compact=Footer.compact)
        if palette_entry is not None:
            _node, binding, enabled, tooltip = palette_entry
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    def on_resize(self, event: Resize) -> None:
        if self._bindings_ready and event.size.width != getattr(self, "_fitted_width", None):
            self._fitted_width = event.size.width
            self.call_after_refresh(self.recompose)
