"""Small modal forms of the Mixtures screen: one value (validated as you submit) and a pick list."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static

FORM_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 80; height: auto; max-height: 80%; border: thick $primary; background: $surface;
                     padding: 1 2; }}
{name} #form-error {{ color: $error; height: auto; }}
{name} .hint {{ color: $text-muted; height: auto; }}
{name} OptionList {{ height: auto; max-height: 16; }}
"""


class PromptForm(ModalScreen[str | None]):
    """Ask for one value; `check(text)` returns an error message (shown inline) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel", tooltip="Close without changing anything")]
    DEFAULT_CSS = FORM_CSS.format(name="PromptForm")

    def __init__(
        self,
        title: str,
        label: str,
        value: str = "",
        *,
        hint: str = "",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.title_text, self.label, self.value, self.hint, self.check = title, label, value, hint, check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{self.title_text}[/b]")
            yield Label(self.label)
            yield Input(value=self.value, id="value")
            if self.hint:
                yield Static(self.hint, classes="hint", markup=False)
            yield Static("", id="form-error")
            yield Static("[dim]enter to apply · esc to cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one("#value", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        err = self.check(text) if self.check else None
        if err:
            self.query_one("#form-error", Static).update(err)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickForm(ModalScreen[str | None]):
    """Pick one of a list of names."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel", tooltip="Close without choosing")]
    DEFAULT_CSS = FORM_CSS.format(name="PickForm")

    def __init__(self, title: str, options: list[str], *, hint: str = "") -> None:
        super().__init__()
        self.title_text, self.options, self.hint = title, options, hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{self.title_text}[/b]")
            yield OptionList(*self.options, id="options")
            if self.hint:
                yield Static(self.hint, classes="hint", markup=False)
            yield Static("[dim]enter to choose · esc to cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one("#options", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.options[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
