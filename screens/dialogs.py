"""Modal dialogs: errors (the app's central worker-failure handler shows these), confirmations
and the help screen listing every binding of the screen it was opened from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from screens.layout import HintedTable


class ErrorDialog(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="dialog.close")]
    DEFAULT_CSS = """
    ErrorDialog { align: center middle; }
    ErrorDialog > Vertical { width: 80%; max-width: 110; height: auto; max-height: 80%;
                             border: thick $error; background: $surface; padding: 1 2; }
    ErrorDialog #error-title { color: $error; text-style: bold; }
    ErrorDialog VerticalScroll { height: auto; max-height: 24; }
    """

    def __init__(self, title: str, message: str, detail: str = "") -> None:
        super().__init__()
        self.title_text, self.message, self.detail = title, message, detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="error-title")
            with VerticalScroll():
                yield Static(self.message, id="error-message", markup=False)
                if self.detail:
                    yield Static(self.detail, id="error-detail", markup=False, classes="muted")
            yield Static("[dim]esc / enter to close[/dim]")

    def action_dismiss(self, result: Any = None) -> None:  # type: ignore[override]  # Textual's action takes the screen's result
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="dialog.yes"),
        Binding("n,escape", "answer(False)", "No", id="dialog.no"),
    ]
    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical { width: 70; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    ConfirmDialog Button { margin: 1 1 0 0; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, markup=False)
            yield Button("Yes (y)", id="yes", variant="warning")
            yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class HelpScreen(ModalScreen[None]):
    """Every binding of the screen underneath (key, what it does, stable id), plus its notes."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90%; max-width: 120; height: 90%; border: thick $primary;
                            background: $surface; padding: 0 1; }
    HelpScreen #help-title { text-style: bold; padding: 1 0 0 0; }
    HelpScreen #help-notes { padding: 0 0 1 0; color: $text-muted; }
    HelpScreen DataTable { height: 1fr; }
    """

    def __init__(self, title: str, rows: Iterable[tuple[str, str, str, str]], notes: str = "") -> None:
        super().__init__()
        self.title_text, self.rows, self.notes = title, list(rows), notes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Help — {self.title_text}", id="help-title")
            if self.notes:
                yield Static(self.notes, id="help-notes")
            table = HintedTable(id="help-table", cursor_type="row", zebra_stripes=True)
            table.add_columns("key", "action", "id", "what it does")
            for row in self.rows:
                table.add_row(*row)
            yield table
            yield Static("[dim]esc / ? to close · ctrl+p opens the command palette[/dim]")

    def action_close(self) -> None:
        self.dismiss(None)
