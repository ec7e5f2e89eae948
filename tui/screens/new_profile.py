"""*New profile*: the questions ``gpumigrate init`` takes as flags, then the same discovery.

The dialog asks only what discovery cannot find (where to write, which data directories, where the
data goes); discovery and the write run in a thread worker through the same
:func:`~engine.inventory.discover.write_starting_profile` as ``init`` (never overwriting a file), and
the app opens the new file on the first step that needs the user.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui.widgets.fit_footer import FitFooter

if TYPE_CHECKING:
    from tui.app_api import EditingApp

FIELDS = (
    ("file", "Profile file to write", "migration.toml"),
    ("data_dirs", "Local data directories to move (comma-separated, optional)", ""),
    ("dest", "Where the data goes (gs://bucket/prefix, optional)", ""),
    ("regions", "AWS regions to search (comma-separated; default: the configured one)", ""),
)


class NewProfileDialog(ModalScreen[dict[str, str] | None]):
    """File, data directories, destination, AWS regions; escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    NewProfileDialog { align: center middle; }
    NewProfileDialog > VerticalScroll { width: 90%; max-width: 100; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1; }
    NewProfileDialog Label { margin-top: 1; }
    NewProfileDialog Input { height: 1; border: none; padding: 0 1; background: $boost; }
    NewProfileDialog Input:focus { border: none; background: $primary 30%; }
    NewProfileDialog #new-error { color: $error; height: auto; }
    NewProfileDialog Horizontal { height: auto; margin-top: 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("New profile: discovery looks at this machine's GPUs, AWS (when credentials exist) "
                         "and the directories you name.", markup=False)
            for key, label, value in FIELDS:
                yield Label(label)
                yield Input(value=value, id=f"new-{key}")
            yield Static("", id="new-error", markup=False)
            with Horizontal():
                yield Button("Create", variant="primary", id="new-create")
                yield Button("Cancel", id="new-cancel")
        yield FitFooter()  # the dialog's own keys (the screen's below do not work meanwhile)

    def on_mount(self) -> None:
        self.query_one("#new-file", Input).focus()

    def _answers(self) -> dict[str, str]:
        return {key: self.query_one(f"#new-{key}", Input).value.strip() for key, _l, _v in FIELDS}

    def _submit(self) -> None:
        answers = self._answers()
        path = Path(answers["file"]).expanduser()
        if not answers["file"]:
            self.query_one("#new-error", Static).update("file: a path is needed")
        elif path.exists():
            self.query_one("#new-error", Static).update(f"file: {path} already exists (use Open… for it)")
        elif not path.resolve().parent.is_dir():
            self.query_one("#new-error", Static).update(f"file: the folder {path.parent} does not exist")
        else:
            self.dismiss(answers)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "new-create":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def create_profile(answers: dict[str, str], nvml_api: Any = None, emit: Any = None,
                   cancel: Any = None) -> tuple[Path, list[str]]:
    """The dialog's answers to engine.inventory.discover.write_starting_profile (runs in a worker thread)."""
    from engine.events import discard

    from engine.inventory.discover import InitChoices, describe, write_starting_profile

    path = Path(answers["file"]).expanduser()
    regions = _split(answers.get("regions", ""))
    choices = InitChoices(destination=answers.get("dest") or None, source_region=regions[0] if regions else None)
    found = write_starting_profile(path, choices, data_dirs=_split(answers.get("data_dirs", "")), regions=regions,
                                   nvml_api=nvml_api, origin="gpumigrate (New profile)", emit=emit or discard,
                                   cancel=cancel)
    return path.resolve(), describe(found)


def _progress_text(event: Any) -> str | None:
    """One line for the busy dialog: what discovery just did."""
    from engine.events import ItemDone, Message, Progress

    if isinstance(event, Message):
        return event.text
    if isinstance(event, ItemDone):
        return f"{event.item}: {event.detail}" if event.detail else event.item
    if isinstance(event, Progress) and event.label:
        return f"{event.label}: {event.done:,.0f}" + (f" of {event.total:,.0f}" if event.total else "")
    return None


def start_new_profile(app: "EditingApp") -> None:
    """Ask, discover in a worker, then open the new file on the first step that needs the user."""
    from pydantic import ValidationError

    from engine.errors import GpumigrateError
    from engine.profile import field_problems

    from engine.errors import Interrupted
    from tui.widgets.dialogs import BusyDialog

    def asked(answers: dict[str, str] | None) -> None:
        if not answers:
            return
        busy = BusyDialog("New profile: looking at GPUs, AWS and the data directories")
        app.push_screen(busy)

        def emit(event: Any) -> None:
            text = _progress_text(event)
            if text is not None:
                app.call_from_thread(busy.show, text)

        def work() -> None:
            try:
                path, found = create_profile(answers, getattr(app, "nvml_api", None), emit=emit, cancel=busy.cancel)
            except Interrupted:  # the word first: once the dialog is gone, whoever looks finds it said
                app.call_from_thread(app.notify, f"New profile cancelled; nothing was written to {answers['file']}",
                                     severity="warning")
                app.call_from_thread(busy.finish)
                return
            except ValidationError as exc:
                app.call_from_thread(busy.finish)  # the dialog's choices: the field and what is wrong, not pydantic's text
                app.call_from_thread(app.show_error, "The profile could not be created",
                                     "\n".join(field_problems(exc)))
                return
            except (GpumigrateError, ValueError, OSError) as exc:
                app.call_from_thread(busy.finish)
                app.call_from_thread(app.show_error, "The profile could not be created", str(exc))
                return
            app.call_from_thread(busy.finish)
            app.call_from_thread(done, path, found)

        app.run_worker(work, thread=True, group="new-profile", name="new profile", exit_on_error=False)

    def done(path: Path, found: list[str]) -> None:
        if app.load_profile_from(path):
            app.switch_mode(app.opening_mode())
            missing = [line for line in found if line.endswith(": missing")]
            summary = [line for line in found if not line.startswith(" ") and line not in missing]
            app.notify(f"Wrote {path.name}: " + "; ".join(summary[:3]), timeout=8)
            for line in missing:  # a typo'd directory: the file lists it, nothing was found there
                app.notify(f"{line[:-len(': missing')]} does not exist: no [[transfer]] entry was made for it "
                           "(Profile tab, or e on Inventory, to fix the path)", severity="warning", timeout=12)

    app.push_screen(NewProfileDialog(), asked)
