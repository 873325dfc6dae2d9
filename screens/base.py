"""Shared screen plumbing: the screen tabs bar, palette commands, worker-error forwarding,
pane focus keys, and an empty-state widget that tells the user the next key to press."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from screens.footer import KeyFooter
from screens.layout import ZOOM_BINDING, mark_zoomed, sync_breakpoints, toggle_zoom

if TYPE_CHECKING:
    from engine.workspace import Workspace

# (mode name, title) in key order 1..6
SCREENS: list[tuple[str, str]] = [
    ("datasets", "Datasets"),
    ("mixtures", "Mixtures"),
    ("runs", "Runs"),
    ("validation", "Validation"),
    ("compare", "Compare"),
    ("models", "Models"),
]


@dataclass
class PaletteCommand:
    """A command offered by the palette while its screen is active. Title as 'area: action'."""

    title: str
    help: str
    callback: Callable[[], Any]


def pane(title: str, **kw: Any) -> Vertical:
    """A bordered pane (`.pane`) with its title in the top border: no line spent on a heading.
    `z` zooms the pane that holds the focus."""
    box = Vertical(**{**kw, "classes": f"pane {kw.get('classes', '')}".strip()})
    box.border_title = title
    return box


class ScreenTabs(Static):
    """Top bar: the screens with their keys, the current one highlighted, and the workspace
    (dropped first when the bar does not fit; titles shrink to their key at narrow widths)."""

    DEFAULT_CSS = """
    ScreenTabs { dock: top; height: 1; background: $panel; color: $foreground; padding: 0 1;
                 text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, current: str, workspace_label: str = "") -> None:
        super().__init__(id="screen-tabs")
        self.current = current
        self.workspace_label = workspace_label

    def render(self) -> Any:
        from rich.text import Text

        width = self.content_region.width or self.app.size.width
        full = sum(len(f" {i} {title}  ") for i, (_, title) in enumerate(SCREENS, 1)) + 13
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" workbench ", style="bold reverse")
        t.append("  ")
        for i, (mode, title) in enumerate(SCREENS, 1):
            current = mode == self.current
            shown = title if current or full <= width else title[:3]  # the current one always in full
            t.append(f" {i} {shown} ", style="bold reverse" if current else "")
            t.append(" ")
        if self.workspace_label and len(t) + 3 + len(self.workspace_label) <= width:
            t.append("   ")
            t.append(self.workspace_label, style="dim")
        return t

    def on_resize(self) -> None:
        self.refresh()


def home_short(path: Any) -> str:
    """`/home/me/ws` -> `~/ws` (what a user types; also the same on every machine's home)."""
    import os

    text, home = str(path), os.path.expanduser("~")
    inside = home not in ("", "/") and (text == home or text.startswith(home + os.sep))
    return "~" + text[len(home) :] if inside else text


class EmptyState(Static):
    """What a screen shows when it has nothing yet: what is missing and the next key to press."""

    DEFAULT_CSS = """
    EmptyState { padding: 1 2; color: $text-muted; width: 1fr; height: auto; }
    """


class WorkbenchScreen(Screen):
    """Base for the five main screens (one per app mode)."""

    MODE: ClassVar[str] = ""
    TITLE_TEXT: ClassVar[str] = ""
    HELP: ClassVar[str] = ""

    BINDINGS = [
        Binding(
            "tab",
            "app.next_screen",
            "Next screen",
            show=False,
            id="app.screen.next",
            tooltip="Switch to the next screen",
        ),
        Binding(
            "shift+tab",
            "app.prev_screen",
            "Previous screen",
            show=False,
            id="app.screen.prev",
            tooltip="Switch to the previous screen",
        ),
        Binding(
            "right_square_bracket",
            "focus_next_pane",
            "Next pane",
            show=False,
            id="screen.pane.next",
            key_display="]",
            tooltip="Move focus to the next pane",
        ),
        Binding(
            "left_square_bracket",
            "focus_prev_pane",
            "Prev pane",
            show=False,
            id="screen.pane.prev",
            key_display="[",
            tooltip="Move focus to the previous pane",
        ),
        Binding("r", "refresh_data", "Refresh", id="screen.refresh", tooltip="Re-read this screen's data"),
        ZOOM_BINDING,
    ]
    # the tab bar and the key bar stay when a pane is zoomed
    ALLOW_IN_MAXIMIZED_VIEW = "ScreenTabs, Footer"

    @property
    def ws(self) -> Workspace:
        return self.app.ws  # type: ignore[attr-defined]  # the App is WorkbenchApp (screens never import it)

    def compose(self) -> ComposeResult:
        yield ScreenTabs(self.MODE, self._workspace_label())
        yield from self.compose_body()
        yield KeyFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def _workspace_label(self) -> str:
        try:
            ws = self.ws
            return f"{ws.config.workspace.name}{' (demo)' if ws.config.workspace.demo else ''} · {home_short(ws.root)}"
        except Exception:  # noqa: BLE001 - a label must never keep the screen from showing
            return ""

    # Data ------------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        """Re-read what the screen shows. Override; keep it cheap or start a worker."""

    def on_screen_resume(self) -> None:
        # (Textual calls this for every class of the MRO, so subclasses' own handlers add to it)
        sync_breakpoints(self)  # a resize while another screen was on top left the classes stale
        self.refresh_data()

    # Layout ----------------------------------------------------------------------------------
    def action_zoom(self) -> None:
        toggle_zoom(self)

    def watch_maximized(self, previous: Widget | None, current: Widget | None) -> None:
        mark_zoomed(previous, current)

    def action_refresh_data(self) -> None:
        self.refresh_data()
        self.notify("refreshed", timeout=1.5)

    # Palette ---------------------------------------------------------------------------------
    def palette_commands(self) -> list[PaletteCommand]:
        """Commands that fit this screen now (the palette shows these plus the global ones)."""
        return []

    # Focus between panes ---------------------------------------------------------------------
    def action_focus_next_pane(self) -> None:
        self.focus_next()

    def action_focus_prev_pane(self) -> None:
        self.focus_previous()

    # Worker errors go to the app's single handler ---------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.report_worker_error(event.worker)  # type: ignore[attr-defined]  # the App is WorkbenchApp (screens never import it)
