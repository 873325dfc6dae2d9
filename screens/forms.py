"""Small modal forms. Validation happens in the engine's models; errors show inline."""

from __future__ import annotations

from typing import TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

R = TypeVar("R")


class FormScreen(ModalScreen[R]):
    """A modal form: Enter in a field or any button but Cancel submits; Cancel or Escape (bound
    by each form, with its own id) closes it with None. Subclasses implement action_submit."""

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self.action_submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)


class AddDatasetForm(FormScreen[dict | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel")]
    DEFAULT_CSS = """
    AddDatasetForm { align: center middle; }
    AddDatasetForm > Vertical { width: 84; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    AddDatasetForm Input { margin: 0 0 1 0; }
    AddDatasetForm #form-error { color: $error; height: auto; }
    AddDatasetForm Horizontal { height: auto; }
    """

    def __init__(self, existing: set[str]) -> None:
        super().__init__()
        self.existing = existing

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Add a dataset to the catalog[/b]")
            yield Label("Name")
            yield Input(placeholder="my_dataset", id="name")
            yield Label("Hub id (owner/name) or local path / glob (JSONL, JSON, Parquet, CSV)")
            yield Input(placeholder="ise-uiuc/Magicoder-Evol-Instruct-110K  or  /data/*.jsonl", id="source")
            yield Label(
                "Format (auto, alpaca, evol, prompt_completion, prompt_answer, sharegpt, messages, chat_rounds, "
                "leetcode)"
            )
            yield Input(value="auto", id="format")
            yield Static("", id="form-error")
            with Horizontal():
                yield Button("Add", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def action_submit(self) -> None:
        # Quick checks shown inline; the screen then adds it like `workbench data add` (reading its first rows).
        from engine.data.catalog import check_name
        from engine.data.formats import check_format
        from engine.errors import InputError

        name = self.query_one("#name", Input).value.strip()
        source = self.query_one("#source", Input).value.strip()
        fmt = self.query_one("#format", Input).value.strip() or "auto"
        err = self.query_one("#form-error", Static)
        try:
            check_name(name)
            if name in self.existing:
                raise InputError(f"'{name}' is already in the catalog", field="name")
            if not source:
                raise InputError("give a hub id or a local path", field="source")
            check_format(fmt)
        except InputError as e:
            err.update(str(e))
            return
        self.dismiss({"name": name, "source": source, "format": fmt})
