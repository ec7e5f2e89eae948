"""Modal dialogs: an error that must be read, a path prompt, a yes/no question, work under way."""

from __future__ import annotations

import threading
from typing import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui.widgets.fit_footer import FitFooter


class ErrorDialog(ModalScreen[None]):
    """Shows an error (e.g. every problem in a malformed profile) until dismissed."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Close")]
    DEFAULT_CSS = """
    ErrorDialog { align: center middle; }
    ErrorDialog > VerticalScroll { width: 90%; max-width: 120; height: auto; max-height: 80%;
        border: thick $error; background: $surface; padding: 1 2; }
    ErrorDialog #title { text-style: bold; color: $error; }
    ErrorDialog #body { margin: 1 0; }
    ErrorDialog #close-row { dock: bottom; height: auto; background: $surface; }
    """

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(self._title, id="title")
            yield Static(self._body, id="body", markup=False)
            with Horizontal(id="close-row"):  # docked: a long error scrolls, Close stays on the screen
                yield Button("Close", variant="error", id="close")
        yield FitFooter()  # the dialog's own keys (the screen's below do not work meanwhile)

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)


class PromptDialog(ModalScreen[str | None]):
    """Asks for one line of text (a path, a name); returns None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PromptDialog { align: center middle; }
    PromptDialog > Vertical { width: 80; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    PromptDialog Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self._question = question
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._question)
            yield Input(value=self._value, id="answer")
            with Horizontal():
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")
        yield FitFooter()  # the dialog's own keys (the screen's below do not work meanwhile)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.dismiss(self.query_one("#answer", Input).value.strip() or None)
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class BusyDialog(ModalScreen[None]):
    """Work the user waits for (New profile's discovery): what it is doing now, and escape to stop it.

    The work runs in a worker and looks at :attr:`cancel`; whoever started it dismisses this when it ends
    (:meth:`finish`).  A frozen "Looking at AWS…" with no way out was what a slow endpoint gave."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    BusyDialog { align: center middle; }
    BusyDialog > Vertical { width: 80; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    BusyDialog #busy-now { color: $text-muted; margin-top: 1; height: auto; }
    BusyDialog Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title
        self.cancel = threading.Event()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, id="busy-title")
            yield Static("starting…", id="busy-now", markup=False)
            with Horizontal():
                yield Button("Cancel (esc)", id="busy-cancel")
        yield FitFooter()  # the dialog's own keys (the screen's below do not work meanwhile)

    def on_mount(self) -> None:
        self.query_one("#busy-cancel", Button).focus()

    def show(self, text: str) -> None:
        """What the work is doing now (called on the app's thread)."""
        if not self.cancel.is_set():
            for now in self.query("#busy-now").results(Static):
                now.update(text)

    def finish(self) -> None:
        if self.is_attached and self.app.screen is self:
            self.dismiss(None)

    def action_cancel(self) -> None:
        if not self.cancel.is_set():
            self.cancel.set()
            for now in self.query("#busy-now").results(Static):
                now.update("cancelling…")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question for actions that cannot be undone (cancel a run, approve, quit mid-run).

    It opens with the focus on No: an Enter meant for the screen underneath, typed as the question
    appears, must not cancel, approve or quit.  Yes takes ``y`` or a deliberate move to its button."""

    BINDINGS = [Binding("escape", "no", "No"), Binding("n", "no", "No", show=False), Binding("y", "yes", "Yes")]
    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical { width: 80; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    ConfirmDialog Horizontal { height: auto; margin-top: 1; }
    ConfirmDialog Button { margin-right: 2; }
    ConfirmDialog Button:focus { background: $primary; color: $text; text-style: bold; }
    """

    REFRESH_S = 0.5

    def __init__(self, question: str, refresh: Callable[[], str] | None = None) -> None:
        super().__init__()
        self._question = question
        self._refresh = refresh
        """Asked every REFRESH_S while the question is open: its words now (a run it names may end meanwhile)."""

    @property
    def question(self) -> str:
        return self._question

    def on_mount(self) -> None:
        for no in self.query("#no").results(Button):  # none when the app closes as this opens
            no.focus()
        if self._refresh is not None:
            self.set_interval(self.REFRESH_S, self._ask_again)

    def _ask_again(self) -> None:
        assert self._refresh is not None
        text = self._refresh()
        if text != self._question:
            self._question = text
            for shown in self.query("#question").results(Static):
                shown.update(text)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._question, markup=False, id="question")
            with Horizontal():
                yield Button("Yes (y)", variant="warning", id="yes")
                yield Button("No (n)", id="no")
        yield FitFooter()  # the dialog's own keys (the screen's below do not work meanwhile)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class MessagesDialog(ModalScreen[None]):
    """Every message this app has shown, whole, newest last (F2): a toast goes after seconds and shows
    only the start of a long message."""

    BINDINGS = [Binding("escape,f2", "dismiss", "Close")]
    DEFAULT_CSS = """
    MessagesDialog { align: center middle; }
    MessagesDialog > VerticalScroll { width: 100%; max-width: 120; height: 100%; max-height: 40;
        border: thick $primary; background: $surface; padding: 0 1; }
    MessagesDialog #messages-title { text-style: bold; }
    """

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self._lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="messages-scroll"):
            yield Label("Messages, newest last (escape closes)", id="messages-title")
            yield Static("\n\n".join(self._lines) or "No messages yet.", id="messages-text", markup=False)
        yield FitFooter()  # the dialog's own keys (the screen's below do not work meanwhile)

    def on_mount(self) -> None:
        scroll = self.query_one("#messages-scroll", VerticalScroll)
        scroll.focus()
        self.call_after_refresh(scroll.scroll_end, animate=False)
