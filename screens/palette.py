"""The command palette (ctrl+p): screen switching, help and quit, plus the commands the
current screen offers right now (its `palette_commands()`), titled 'area: action'."""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.base import SCREENS, PaletteCommand


class WorkbenchCommands(Provider):
    def _commands(self) -> list[PaletteCommand]:
        app: Any = self.app
        screen: Any = self.screen
        cmds: list[PaletteCommand] = []
        if hasattr(screen, "palette_commands"):
            cmds.extend(screen.palette_commands())
        current = getattr(screen, "MODE", None)
        for i, (mode, title) in enumerate(SCREENS, 1):
            if mode != current:
                cmds.append(
                    PaletteCommand(
                        f"go: {title} screen", f"Switch to the {title} screen (key {i})", partial(app.action_goto, mode)
                    )
                )
        cmds.append(PaletteCommand("app: help", "Show every key binding of this screen (? / F1)", app.action_help))
        cmds.append(PaletteCommand("app: quit", "Quit workbench (q); running trainings keep going", app.action_quit))
        return cmds

    async def discover(self) -> Hits:
        for c in self._commands():
            yield DiscoveryHit(c.title, c.callback, help=c.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for c in self._commands():
            score = matcher.match(c.title)
            if score > 0:
                yield Hit(score, matcher.highlight(c.title), c.callback, help=c.help)
