"""Widgets mounted just after the screen's first painted frame, to keep them off the start path."""

from __future__ import annotations

from textual.widget import Widget


class AfterFirstFrame(Widget):
    """Like `textual.lazy.Lazy`, but really after the first frame. Lazy mounts its widget after the
    next refresh; while the app starts, App.run_async composes and mounts the first screen inside one
    batch_update, where the screen runs after-refresh callbacks without painting, so Lazy's widgets
    joined the first frame. `App.call_later` is handled only once that batch is over."""

    DEFAULT_CSS = "AfterFirstFrame { display: none; }"

    def __init__(self, widget: Widget) -> None:
        self._widget = widget
        super().__init__()

    def compose_add_child(self, widget: Widget) -> None:
        self._widget.compose_add_child(widget)

    async def mount_composed_widgets(self, widgets: list[Widget]) -> None:
        if isinstance(self.parent, Widget):
            self.app.call_later(self.call_after_refresh, self._mount, self.parent)

    async def _mount(self, parent: Widget) -> None:
        await parent.mount(self._widget, after=self)
        await self.remove()
