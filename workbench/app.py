"""The Textual app: six screens (modes) over one workspace.

Keys: 1-6 / tab / shift+tab switch screens, ? or F1 help, ctrl+p palette, q quit.
Torch is never imported here: heavy work runs in subprocesses, file work in worker threads, and
both report back as messages (docs/app.md, "Threads and subprocesses").
"""

from __future__ import annotations

import subprocess
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker

from screens.base import SCREENS
from screens.dialogs import ErrorDialog, HelpScreen
from screens.layout import HORIZONTAL_BREAKPOINTS, VERTICAL_BREAKPOINTS
from screens.palette import WorkbenchCommands
from workbench.theme import WORKBENCH_THEME

if TYPE_CHECKING:
    from engine.workspace import Workspace

MODE_ORDER = [m for m, _ in SCREENS]


def _lazy(module: str, cls: str) -> Any:
    """A mode factory that imports its screen module on first visit (faster first frame)."""

    def make() -> Any:
        import importlib

        return getattr(importlib.import_module(module), cls)()

    return make


class WorkbenchApp(App[None]):
    TITLE = "workbench"
    CSS_PATH = "app.tcss"
    MODES = {
        "datasets": _lazy("screens.datasets", "DatasetsScreen"),
        "mixtures": _lazy("screens.mixtures", "MixturesScreen"),
        "runs": _lazy("screens.runs", "RunsScreen"),
        "validation": _lazy("screens.validation", "ValidationScreen"),
        "compare": _lazy("screens.compare", "CompareScreen"),
        "models": _lazy("screens.models", "ModelsScreen"),
    }
    # the first screen is built as the app's first mode, not after a default screen (one CSS pass less)
    DEFAULT_MODE = "datasets"
    COMMANDS = {WorkbenchCommands}
    # -narrow / -medium / -wide and -short / -tall on every screen (modals included): the CSS adapts
    HORIZONTAL_BREAKPOINTS = HORIZONTAL_BREAKPOINTS
    VERTICAL_BREAKPOINTS = VERTICAL_BREAKPOINTS
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (running trainings keep going)"),
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Every key binding of the current screen"),
        *[
            Binding(
                str(i),
                f"goto('{mode}')",
                title,
                show=False,
                id=f"app.screen.{mode}",
                tooltip=f"Switch to the {title} screen",
            )
            for i, (mode, title) in enumerate(SCREENS, 1)
        ],
    ]

    def __init__(
        self,
        workspace: Workspace,
        *,
        start_mode: str = "datasets",
        build_demo: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.ws = workspace
        self.start_mode = start_mode
        self.build_demo = build_demo
        self.clock = clock  # what "12s ago" is measured against (tests pass a fixed one)
        self.demo_build: subprocess.Popen | None = None  # the detached `workbench demo build`, while it runs
        # The theme is in the stylesheet's variables before its first parse. Not `self.theme = ...`:
        # its watcher queues a reparse of all CSS and marks the first screen's CSS stale (a second one).
        self.register_theme(WORKBENCH_THEME)
        self.set_reactive(WorkbenchApp.theme, WORKBENCH_THEME.name)
        self.stylesheet.set_variables(self.get_css_variables())

    def on_mount(self) -> None:
        if self.current_mode != self.start_mode:
            self.switch_mode(self.start_mode)
        if self.ws.config.workspace.demo:
            self.notify(
                "This is the demo workspace. Press 3 (Runs), then d, to train the tiny model and watch "
                "its held-out pass@1 climb live. ? lists every key.",
                title="Welcome",
                timeout=20,
            )
        if self.build_demo and self.ws.config.workspace.demo:
            from engine.demo.assets import demo_assets_ready

            if not demo_assets_ready(self.ws.root):
                self.build_demo_assets()

    # Screens -----------------------------------------------------------------------------
    def action_goto(self, mode: str) -> None:
        if mode in self.MODES and self.current_mode != mode:
            self.switch_mode(mode)

    def _step_mode(self, delta: int) -> None:
        i = MODE_ORDER.index(self.current_mode) if self.current_mode in MODE_ORDER else 0
        self.switch_mode(MODE_ORDER[(i + delta) % len(MODE_ORDER)])

    def action_next_screen(self) -> None:
        self._step_mode(+1)

    def action_prev_screen(self) -> None:
        self._step_mode(-1)

    def action_help(self) -> None:
        screen: Any = self.screen
        if isinstance(screen, HelpScreen):
            return
        # One row per binding (keys of a multi-key binding joined): ours first (they have
        # stable ids), then the focused widget's own keys.
        merged: dict[str, list] = {}
        for active in screen.active_bindings.values():
            b = active.binding
            ident = b.id or f"{b.action}:{b.description}"
            shown = b.key_display or self.get_key_display(b)
            if ident in merged:
                if shown not in merged[ident][0]:
                    merged[ident][0].append(shown)
                continue
            merged[ident] = [[shown], b.description or b.action, b.id or "", b.tooltip or ""]
        rows = [(" / ".join(keys), desc, ident, tip) for keys, desc, ident, tip in merged.values()]
        rows.sort(key=lambda r: (not r[2], not r[2].startswith("app.")))
        title = getattr(screen, "TITLE_TEXT", "") or screen.__class__.__name__
        self.push_screen(HelpScreen(title, rows, getattr(screen, "HELP", "")))

    # The single place worker failures become visible ------------------------------------------
    def report_worker_error(self, worker: Worker) -> None:
        from engine.errors import WorkbenchError

        err = worker.error
        # bad input (WorkbenchError) is one line naming what is wrong; anything else is a bug: its traceback
        tb = err is not None and not isinstance(err, WorkbenchError)
        detail = "".join(traceback.format_exception(err)[-6:]) if tb else ""
        self.show_error(f"{worker.name or 'background task'} failed", str(err) or repr(err), detail)

    def show_error(self, title: str, message: str, detail: str = "") -> None:
        self.push_screen(ErrorDialog(title, message, detail))

    # Demo assets ------------------------------------------------------------------------------
    def build_demo_assets(self) -> None:
        """Build the tiny model + toy data in a detached `workbench demo build` (torch stays out of
        the app). No thread waits on it: `q` quits at once and the build finishes on its own; its
        marker file is written last, so a build cut short is never taken as built."""
        from screens.cli_jobs import subprocess_env, workbench_argv

        self.notify("Building demo assets (tiny model, toy data) ...", timeout=8)
        with open(self.ws.root / ".demo-build.log", "w", encoding="utf-8") as log:  # the child keeps its copy
            self.demo_build = subprocess.Popen(
                workbench_argv(self.ws.root, "demo", "build"),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=subprocess_env(),
                start_new_session=True,
            )
        self._demo_poll = self.set_interval(0.5, self._demo_build_check)

    def _demo_build_check(self) -> None:
        proc = self.demo_build
        if proc is None or proc.poll() is None:
            return
        self._demo_poll.stop()
        self.demo_build = None
        out = (self.ws.root / ".demo-build.log").read_text(encoding="utf-8", errors="replace").strip()
        if proc.returncode != 0:
            self.show_error(
                "demo build failed", f"`workbench demo build` exited with code {proc.returncode}", out[-2000:]
            )
            return
        self.notify(out.splitlines()[-1] if out else "demo assets ready", timeout=5)
        self._refresh_current()

    def _refresh_current(self) -> None:
        screen: Any = self.screen
        if hasattr(screen, "refresh_data"):
            screen.refresh_data()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR:
            self.report_worker_error(event.worker)
