"""The Profile view: the profile's file as TOML, comments included, validated on save.

The editor shows the file as the app would save it (the user's comments and order kept, see
engine.profile_file); saving writes the editor's text as typed, once it loads as a profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Static, TextArea

from tui.screens.base import StepScreen


def _display_path(path: "Path") -> str:
    """Relative to the working directory when inside it (what the user typed, usually)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class ProfileScreen(StepScreen):
    """Shows the profile as TOML; ctrl+s validates and saves what is in the editor."""

    MODE = "profile"
    AUTO_FOCUS = ""
    """Nothing focused on entry: with the editor focused, the digit keys that switch screens everywhere
    else typed into the profile ("7schema_version = 1"). Tab or a click goes into the editor."""
    BINDINGS = [Binding("ctrl+r", "reload", "Revert", id="profile-revert")]
    DEFAULT_CSS = """
    ProfileScreen #profile-editor { height: 1fr; }
    ProfileScreen #profile-status { height: auto; padding: 0 1; color: $text-muted; }
    ProfileScreen Horizontal { height: auto; }
    """

    def compose_body(self) -> Iterable[Widget]:
        yield Static("", id="profile-status")
        yield TextArea(self._text(), id="profile-editor", classes="mutating", soft_wrap=False,
                       show_line_numbers=True, tab_behavior="indent")
        with Horizontal():
            yield Button("Save (ctrl+s)", id="profile-save", variant="primary", classes="mutating")
            yield Button("Revert (ctrl+r)", id="profile-revert-button")

    def on_mount(self) -> None:
        super().on_mount()
        self._show_status()

    def _text(self) -> str:
        from engine.profile import profile_file_text

        if not self.profile:
            return "# No profile open: ctrl+o opens one.\n"
        return profile_file_text(self.profile, self.gm_app.profile_path)

    def _show_status(self, extra: str = "") -> None:
        path = self.gm_app.profile_path
        status = _display_path(path) if path else "no file"
        self.query_one("#profile-status", Static).update(f"{status}  {extra}".rstrip())

    def profile_changed(self) -> None:
        self.query_one("#profile-editor", TextArea).load_text(self._text())
        self._show_status()

    def action_reload(self) -> None:
        self.profile_changed()
        self._show_status("(reverted)")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "profile-save":
            self.save_from_editor()
        elif event.button.id == "profile-revert-button":
            self.action_reload()

    def save_from_editor(self) -> None:
        """Parse the editor's TOML; show every problem in a dialog, or save it."""
        from engine.profile import ProfileError, parse_profile

        if not self.driving:
            self.notify("Watching: only the driver can change the profile.", severity="warning")
            return
        text = self.query_one("#profile-editor", TextArea).text
        origin = str(self.gm_app.profile_path or "the Profile view")
        try:
            profile = parse_profile(text, origin)
        except ProfileError as exc:
            self.gm_app.show_error("The profile has problems; nothing was saved", str(exc))
            return
        if self.gm_app.profile_path is None:
            self.notify("No file to save to: open a profile first (ctrl+o).", severity="warning")
            return
        if not self.gm_app.authorize("edit_profile"):
            return
        # as typed (the user's comments are theirs); refused if the file changed on disk since it was read
        if not self.gm_app.replace_profile(profile, "edited as TOML", text=text):
            return
        self.notify(f"Saved {self.gm_app.profile_path.name}")
        self._show_status("(saved)")
