"""The key bar: the screen's own keys first, in the order the screen declares them (most used
first), then the shared ones (refresh, zoom), then quit. Keys that do not fit the width are
left out rather than cut mid-word, and `? Help` is always there, last: it lists every key.
Compact below the width breakpoint; the command palette key only where there is room."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.reactive import reactive
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from screens.layout import is_narrow

HELP_ID = "app.help"
PALETTE_WIDTH = 14  # "^p palette" with its separator, docked right by Footer's own CSS


def footer_rank(binding: Binding) -> int:
    """0: the screen's own keys, 1: shared screen keys, 2: app keys (stable sort keeps order)."""
    ident = binding.id or ""
    return 2 if ident.startswith("app.") else 1 if ident.startswith("screen.") else 0


def key_width(key_display: str, description: str, compact: bool) -> int:
    """Cells one key takes in the bar (FooterKey's padding plus the gap after it)."""
    return len(key_display) + len(description) + (2 if compact else 4)


class BarKey(FooterKey):
    """A bar key bound to the bar's `compact`, starting non-compact as the bar is at most widths:
    FooterKey starts compact, so every key was restyled twice on mount (compact, then not).
    (The palette key is not bound and stays a compact FooterKey.)"""

    compact = reactive(False)


class KeyFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._laid_width = 0

    def _shown(self) -> tuple[list[tuple[Binding, bool, str]], tuple[Binding, bool, str] | None]:
        """The shown bindings (one per action, as Footer does) in bar order, and the help key."""
        seen: set[str] = set()
        shown: list[tuple[Binding, bool, str]] = []
        help_key = None
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            if binding.id == HELP_ID:
                help_key = (binding, enabled, tooltip)
            else:
                shown.append((binding, enabled, tooltip))
        shown.sort(key=lambda b: footer_rank(b[0]))
        return shown, help_key

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.app.size.width
        self._laid_width = width
        palette = self._palette_binding()
        shown, help_key = self._shown()
        budget = width - (PALETTE_WIDTH if palette else 0) - 1
        if help_key is not None:
            b = help_key[0]
            budget -= key_width(self.app.get_key_display(b), b.description, self.compact)
        full = False
        for binding, enabled, tooltip in shown + ([help_key] if help_key else []):
            display = self.app.get_key_display(binding)
            cost = key_width(display, binding.description, self.compact)
            if binding.id != HELP_ID:
                full = full or cost > budget  # by rank: once one is left out, so are the ones after it
                if full:
                    continue
                budget -= cost
            yield BarKey(
                binding.key, display, binding.description, binding.action, disabled=not enabled, tooltip=tooltip
            ).data_bind(compact=Footer.compact)
        if palette is not None:
            yield FooterKey(
                palette.key,
                self.app.get_key_display(palette),
                palette.description,
                palette.action,
                classes="-command-palette",
                tooltip=palette.tooltip or palette.description,
            )

    def _palette_binding(self) -> Binding | None:
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE) or is_narrow(self):
            return None
        active = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        return active.binding if active is not None else None

    def on_resize(self, event: Resize) -> None:
        self.compact = is_narrow(self)
        if self.app.size.width != self._laid_width and self._bindings_ready:
            self.call_after_refresh(self.recompose)  # what fits depends on the width
