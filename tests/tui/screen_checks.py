"""What a person at a small terminal must be able to see: checks shared by the TUI tests."""

from __future__ import annotations

from typing import Any


def footer_misses(screen: Any) -> list[str]:
    """Every enabled key the screen offers (its own and its widgets', shown in the footer by design) whose
    footer entry is missing or not wholly visible: at 80 columns the footer ran past the right edge and
    hid "a Add entry", "d Remove entry" and ^q Quit under the palette key."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    footer = screen.query_one(Footer)
    keys = [k for k in footer.query(FooterKey)]
    palette = next((k for k in keys if k.has_class("-command-palette")), None)
    right = palette.region.x if palette is not None else footer.region.right
    shown = {k.action: k for k in keys if not k.has_class("-command-palette")}
    misses = []
    for _key, (node, binding, enabled, _tip) in screen.active_bindings.items():
        if not binding.show or not enabled or node is screen.app:
            continue
        key = shown.get(binding.action)
        if key is None:
            misses.append(f"{binding.key} {binding.description}: not in the footer")
        elif key.region.x < footer.region.x or key.region.right > right or key.region.width == 0:
            misses.append(f"{binding.key} {binding.description}: at {tuple(key.region)}, footer ends at {right}")
    quit_key = next((k for k in keys if k.action == "app.quit" or k.action == "quit"), None)
    if quit_key is None or quit_key.region.right > right or quit_key.region.width == 0:
        misses.append("ctrl+q Quit: not visible")
    return misses
