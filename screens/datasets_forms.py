"""The Datasets screen's "process" form: output name, inputs and the main filter settings,
validated by the engine's ProcessOptions before the form closes."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Static

from screens.forms import FormScreen


class ProcessForm(FormScreen[tuple[str, Any] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel", tooltip="Close without processing")]
    DEFAULT_CSS = """
    ProcessForm { align: center middle; }
    ProcessForm > VerticalScroll { width: 90; height: auto; max-height: 90%; border: thick $primary;
                                   background: $surface; padding: 1 2; }
    ProcessForm Input { margin: 0 0 1 0; }
    ProcessForm #form-error { color: $error; height: auto; }
    ProcessForm Horizontal { height: auto; }
    ProcessForm Horizontal > Vertical { height: auto; width: 1fr; }
    ProcessForm Checkbox { width: 1fr; }
    ProcessForm Button { margin: 1 1 0 0; }
    ProcessForm .hint { color: $text-muted; height: auto; }
    """

    def __init__(self, name: str, catalog: list[str], seq_length: int) -> None:
        super().__init__()
        self.default_name, self.catalog, self.seq_length = name, catalog, seq_length

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("[b]Process datasets[/b] → datasets/NAME/")
            yield Label("Output name")
            yield Input(value=self.default_name, id="out-name")
            yield Label("Inputs (catalog names, comma-separated, in priority order)")
            yield Input(value=self.default_name if self.default_name in self.catalog else "", id="inputs")
            yield Label("Languages to keep (blank: any; 'contest': the six; or e.g. python,cpp)")
            yield Input(value="", id="languages")
            with Horizontal():
                with Vertical():
                    yield Label(f"Max tokens (blank: {self.seq_length})")
                    yield Input(value="", id="max-tokens")
                with Vertical():
                    yield Label("Near-dup threshold")
                    yield Input(value="0.85", id="threshold")
                with Vertical():
                    yield Label("Rows/input (blank: all)")
                    yield Input(value="", id="limit")
            with Horizontal(id="process-checks"):
                yield Checkbox("quality filters", True, id="quality")
                yield Checkbox("syntax check", True, id="syntax")
                yield Checkbox("decontaminate", True, id="decontaminate")
                yield Checkbox("near-dedup", True, id="near")
            yield Static("", id="form-error")
            with Horizontal():
                yield Button("Process", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")
            yield Static("enter in a field or the Process button starts · esc cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#inputs" if not self.query_one("#inputs", Input).value else "#out-name", Input).focus()

    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def action_submit(self) -> None:
        from engine.config import validate
        from engine.data.langs import LANGUAGES
        from engine.data.pipeline import ProcessOptions
        from engine.errors import InputError

        err = self.query_one("#form-error", Static)
        name = self._value("out-name")
        inputs = [x.strip() for x in self._value("inputs").split(",") if x.strip()]
        unknown = [x for x in inputs if x not in self.catalog]
        if not name:
            err.update("output name: required")
            return
        if not inputs:
            err.update("inputs: name at least one catalog entry")
            return
        if unknown:
            err.update(f"inputs: not in the catalog: {', '.join(unknown)}")
            return
        langs_raw = self._value("languages")
        langs: list[str] | None
        if not langs_raw:
            langs = None
        elif langs_raw == "contest":
            langs = list(LANGUAGES)
        else:
            langs = [x.strip() for x in langs_raw.split(",") if x.strip()]
        try:
            opts = validate(
                ProcessOptions,
                {
                    "inputs": inputs,
                    "languages": langs,
                    "max_tokens": int(self._value("max-tokens")) if self._value("max-tokens") else None,
                    "near_threshold": float(self._value("threshold") or 0.85),
                    "limit": int(self._value("limit")) if self._value("limit") else None,
                    "quality": self.query_one("#quality", Checkbox).value,
                    "syntax": self.query_one("#syntax", Checkbox).value,
                    "decontaminate": self.query_one("#decontaminate", Checkbox).value,
                    "near_dedup": self.query_one("#near", Checkbox).value,
                },
            )
        except InputError as e:
            err.update(e.describe())
            return
        except ValueError as e:
            err.update(f"not a number: {e}")
            return
        self.dismiss((name, opts))
