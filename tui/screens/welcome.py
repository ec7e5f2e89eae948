"""The welcome view: where a newcomer with no profile begins.

*New profile* runs the same discovery as ``gpumigrate init`` (this host's GPUs, AWS when credentials
exist, data directories typed in), writes the starting profile and walks the steps from the first;
*Open…* loads a file; the recent profiles open with one key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from engine.recent import recent_profiles
from tui.screens.base import StepScreen


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class WelcomeScreen(StepScreen):
    """New profile, Open…, and the profiles opened lately."""

    MODE = "welcome"
    BINDINGS = [
        Binding("n", "new_profile", "New profile", id="welcome-new"),
        Binding("o", "open", "Open…", id="welcome-open"),
    ]
    DEFAULT_CSS = """
    WelcomeScreen #welcome-body { padding: 1 2; height: 1fr; }
    WelcomeScreen #welcome-title { text-style: bold; height: auto; }
    WelcomeScreen #welcome-text { color: $text-muted; height: auto; margin-bottom: 1; }
    WelcomeScreen #welcome-choices { height: 1fr; max-height: 16; border: round $primary; }
    WelcomeScreen #welcome-status { height: auto; color: $text-muted; }
    """

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="welcome-body"):
            yield Static("Move a GPU workload to Google Cloud", id="welcome-title")
            yield Static("A profile holds every choice: inventory, cost, transfer, drivers, verify. "
                         "It replays headless with `gpumigrate replay`.", id="welcome-text")
            yield OptionList(*self._options(), id="welcome-choices")
            yield Static("", id="welcome-status", markup=False)

    def _options(self) -> list[Option]:
        options = [Option("New profile…   find GPUs, instances, buckets; then walk the steps", id="new"),
                   Option("Open…          a profile file", id="open")]
        recent = recent_profiles()
        if recent:
            options.append(Option("Recent profiles", disabled=True))
            options.extend(Option(f"  {_display(p)}", id=f"recent:{p}") for p in recent)
        return options

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#welcome-choices", OptionList).focus()

    def on_screen_resume(self) -> None:
        choices = self.query_one("#welcome-choices", OptionList)
        choices.clear_options()
        choices.add_options(self._options())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        if option_id == "new":
            self.action_new_profile()
        elif option_id == "open":
            self.action_open()
        elif option_id.startswith("recent:"):
            self._open_path(Path(option_id.split(":", 1)[1]))

    def action_open(self) -> None:
        self.gm_app.action_open_profile()

    def action_new_profile(self) -> None:
        self.gm_app.action_new_profile()

    def _open_path(self, path: Path) -> None:
        app = self.gm_app
        app.open_profile_file(path, lambda: app.switch_mode(app.opening_mode()))  # read in a thread (a hung mount)
