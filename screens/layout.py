"""Layout shared by every screen: the size breakpoints (CSS classes on each screen), the zoom
of the focused pane, and a DataTable that shows when columns continue off to one side.

Breakpoints are Textual's own (App.HORIZONTAL_BREAKPOINTS / VERTICAL_BREAKPOINTS set the
classes on a resize); `sync_breakpoints` re-applies them when a screen comes back, because a
screen hidden under a modal or another mode misses the resize events meanwhile.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable

# Width: an 80-column SSH terminal or half a tmux window is narrow; a laptop terminal medium.
HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] = [(0, "-narrow"), (100, "-medium"), (140, "-wide")]
# Height: 24 rows (the SSH default) is short; text blocks shorten below 30 rows.
VERTICAL_BREAKPOINTS: list[tuple[int, str]] = [(0, "-short"), (30, "-tall")]

_HINT_STYLE = Style(bold=True, color="#d7875f")  # the theme's accent (xterm 173)

ZOOM_BINDING = Binding(
    "z", "zoom", "Zoom", id="screen.zoom", tooltip="Make the focused pane fill the screen; z (or esc) restores it"
)


def _pick(value: int, points: list[tuple[int, str]]) -> str:
    return next(name for edge, name in sorted(points, reverse=True) if value >= edge)


def breakpoint_classes(width: int, height: int) -> dict[str, bool]:
    """Each breakpoint class -> whether it applies at this size."""
    on = {_pick(width, HORIZONTAL_BREAKPOINTS), _pick(height, VERTICAL_BREAKPOINTS)}
    return {name: name in on for _, name in HORIZONTAL_BREAKPOINTS + VERTICAL_BREAKPOINTS}


def sync_breakpoints(screen: Screen) -> None:
    width, height = screen.app.size
    screen.update_classes(breakpoint_classes(width, height), animate=False)


def is_narrow(widget: Widget) -> bool:
    return widget.app.size.width < HORIZONTAL_BREAKPOINTS[1][0]


def is_short(widget: Widget) -> bool:
    return widget.app.size.height < VERTICAL_BREAKPOINTS[1][0]


def zoom_target(screen: Screen) -> Widget | None:
    """The pane holding the focused widget (its nearest `.pane` ancestor), else the widget."""
    focused = screen.focused
    if focused is None:
        return None
    for node in focused.ancestors_with_self:
        if isinstance(node, Widget) and node.has_class("pane"):
            return node
        if node is screen:
            break
    return focused


def toggle_zoom(screen: Screen) -> None:
    """Zoom the focused pane to the whole screen (tabs and footer stay), or restore it."""
    if screen.maximized is not None:
        screen.minimize()
        return
    target = zoom_target(screen)
    if target is None:
        screen.notify("focus a pane first ([ and ] move between panes)", timeout=2)
        return
    screen.maximized = target


def mark_zoomed(previous: Widget | None, current: Widget | None) -> None:
    """Say on the zoomed pane's border how to get back (called on every change of zoom)."""
    if previous is not None:
        previous.border_subtitle = None
    if current is not None:
        current.border_subtitle = "zoomed · z restores"


class HintedTable(DataTable):
    """A DataTable whose header row ends in ▸ while columns continue to the right (and starts
    with ◂ once scrolled): ← / → scroll, the hint says there is something to scroll to."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if y != 0 or not self.show_header:
            return strip
        width = self.size.width
        if width < 3 or self.virtual_size.width <= width:
            return strip
        style = self.get_component_rich_style("datatable--header") + _HINT_STYLE
        if self.scroll_x < self.max_scroll_x:
            strip = Strip.join([strip.crop(0, width - 1), Strip([Segment("▸", style)], 1)])
        if self.scroll_x > 0:
            fixed = sum(c.get_render_width(self) for c in list(self.columns.values())[: self.fixed_columns])
            strip = Strip.join([strip.crop(0, fixed), Strip([Segment("◂", style)], 1), strip.crop(fixed + 1, width)])
        return strip
