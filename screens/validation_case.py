"""One validation case, side by side: the prompt as sent, the raw output, the program as
executed (top row); the test and the verdict with the compiler/runtime message (bottom row).
n / N step to the next / previous failing case of the list the screen was opened from; a shows
the other post-processing mode's program."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from screens.layout import ZOOM_BINDING, mark_zoomed, sync_breakpoints, toggle_zoom


def _code(text: str) -> Text:
    return Text(text or "", no_wrap=False)


class CasePane(Vertical):
    DEFAULT_CSS = """
    CasePane { border: round $panel; width: 1fr; height: 1fr; }
    CasePane:focus-within { border: round $primary; }
    CasePane > .case-title { text-style: bold; color: $secondary; padding: 0 1; height: 1; }
    CasePane > VerticalScroll { height: 1fr; padding: 0 1; }
    """

    def __init__(self, title: str, pane_id: str) -> None:
        super().__init__(id=pane_id, classes="pane")
        self.title_text = title

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, classes="case-title")
        with VerticalScroll(can_focus=True):
            yield Static("", classes="case-body")

    def show(self, body: Text | str, title: str | None = None) -> None:
        if title is not None:
            self.query_one(".case-title", Static).update(title)
        self.query_one(".case-body", Static).update(body)
        self.query_one(VerticalScroll).scroll_home(animate=False)


class CaseScreen(Screen):
    """Review of one sample; `load(key)` returns the case dict (engine ValidationDir.case)."""

    TITLE_TEXT = "Validation case"
    HELP = (
        "One sample side by side: the prompt exactly as sent, the model's raw output (special tokens "
        "kept), the program as executed (after post-processing and the harness's per-language edits), "
        "the test, and the verdict with the failing test cases and the compiler/runtime message. "
        "n / N step through the failing cases of the table's current filter and order; a shows the "
        "other post-processing mode; [ and ] move between panes (arrows scroll)."
    )

    BINDINGS = [
        Binding("escape", "close", "Back", id="validation.case.close", tooltip="Back to the problem list"),
        Binding(
            "n", "step(1)", "Next failing", id="validation.case.next", tooltip="Show the next failing case of the list"
        ),
        Binding(
            "N",
            "step(-1)",
            "Prev failing",
            id="validation.case.prev",
            key_display="N",
            tooltip="Show the previous failing case of the list",
        ),
        Binding(
            "a",
            "toggle_alt",
            "Other mode",
            id="validation.case.alt",
            tooltip="Show the program and verdict under the other post-processing mode",
        ),
        Binding(
            "right_square_bracket",
            "app.focus_next",
            "Next pane",
            show=False,
            id="validation.case.pane.next",
            key_display="]",
            tooltip="Focus the next pane (arrows then scroll it)",
        ),
        Binding(
            "left_square_bracket",
            "app.focus_previous",
            "Prev pane",
            show=False,
            id="validation.case.pane.prev",
            key_display="[",
            tooltip="Focus the previous pane",
        ),
        ZOOM_BINDING,
    ]
    ALLOW_IN_MAXIMIZED_VIEW = "#case-header, Footer"
    DEFAULT_CSS = """
    CaseScreen #case-header { height: auto; padding: 0 1; background: $panel; }
    CaseScreen .case-row { height: 1fr; }
    """

    def __init__(self, key: str, load: Callable[[str], dict[str, Any]], step: Callable[[str, int], str | None]) -> None:
        super().__init__()
        self.key = key
        self._load = load
        self._step = step
        self.show_alt = False
        self.case: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="case-header")
        with Horizontal(classes="case-row"):
            yield CasePane("Prompt as sent", "case-prompt")
            yield CasePane("Raw output", "case-raw")
            yield CasePane("Program as executed", "case-program")
        with Horizontal(classes="case-row"):
            yield CasePane("Test", "case-test")
            yield CasePane("Verdict and message", "case-message")
        yield Footer()

    def on_mount(self) -> None:
        self.show_case(self.key)

    def on_screen_resume(self) -> None:
        sync_breakpoints(self)

    def action_zoom(self) -> None:
        toggle_zoom(self)

    def watch_maximized(self, previous: Any, current: Any) -> None:
        mark_zoomed(previous, current)

    def show_case(self, key: str) -> None:
        self.key = key
        self.case = self._load(key)
        self._render_case()

    def _render_case(self) -> None:
        c = self.case
        alt = self.show_alt and c.get("alt_code") is not None
        verdict = c.get("alt_verdict") if alt else c.get("verdict")
        mode = c.get("alt_mode") if alt else c.get("mode")
        head = Text()
        head.append(f"{c.get('uid', '')}", style="bold")
        head.append(f"  sample {c.get('sample', 0)}  ")
        style = "bold green" if verdict == "passed" else "bold red"
        head.append(f"{verdict}", style=style)
        if not alt:
            head.append(f"  tests {c.get('tests_passed', 0)}/{c.get('tests_total', 0)}")
            if c.get("duration") is not None:
                head.append(f"  {float(c.get('duration') or 0):.2f}s")
        head.append(f"  post-processing: {mode}")
        if c.get("alt_verdict") and c.get("alt_verdict") != c.get("verdict"):
            head.append(
                f"  (flips to {c.get('verdict') if alt else c.get('alt_verdict')} under "
                f"{c.get('mode') if alt else c.get('alt_mode')}; a toggles)",
                style="yellow",
            )
        self.query_one("#case-header", Static).update(head)
        self.query_one("#case-prompt", CasePane).show(_code(c.get("prompt", "")))
        raw = c.get("raw", "") or ""
        shown = _code(raw) if raw.strip() else Text(raw.replace("\n", "⏎\n") or "(empty)", style="dim")
        self.query_one("#case-raw", CasePane).show(
            shown, f"Raw output ({c.get('tokens', '-')} tokens, {c.get('finish', '-')})"
        )
        if alt:
            self.query_one("#case-program", CasePane).show(
                _code(c.get("alt_code", "")), f"Program ({mode}, before the harness's per-language edits)"
            )
        else:
            self.query_one("#case-program", CasePane).show(
                _code(c.get("program") or c.get("code", "")), "Program as executed"
            )
        test = c.get("test") or ""
        self.query_one("#case-test", CasePane).show(_code(test))
        msg = Text()
        msg.append(f"{verdict}\n", style=style)
        if not alt:
            for f in c.get("failed_tests") or []:
                msg.append(f"✗ case {f.get('case')}: {f.get('status')}  ", style="red")
                msg.append(f"{f.get('test', '')}\n")
                if f.get("detail"):
                    msg.append(f"  {f['detail']}\n", style="dim")
            msg.append("\n" + (c.get("detail") or "(no message)"))
        else:
            msg.append("(the other mode's message: see exec-alt/results.jsonl)", style="dim")
        self.query_one("#case-message", CasePane).show(msg)

    def action_close(self) -> None:
        self.dismiss(self.key)

    def action_step(self, step: int) -> None:
        nxt = self._step(self.key, step)
        if nxt is None:
            self.notify("no failing case in this list", timeout=2)
            return
        self.show_alt = False
        self.show_case(nxt)

    def action_toggle_alt(self) -> None:
        if self.case.get("alt_code") is None:
            self.notify("this validation did not compare post-processing modes", timeout=2)
            return
        self.show_alt = not self.show_alt
        self._render_case()
