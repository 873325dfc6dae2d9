"""Runs screen: every run in runs/ with its state, and a live view of the selected run
(status, last metrics, log tail), refreshed incrementally from the run directory alone."""

from __future__ import annotations

import time
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, RichLog, Static

from screens.base import EmptyState, WorkbenchScreen


def fmt_eta(s: Any) -> str:
    if not isinstance(s, (int, float)):
        return "-"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class RunsScreen(WorkbenchScreen):
    MODE = "runs"
    TITLE_TEXT = "Runs"
    HELP = ("Training runs of this workspace (runs/). Runs are detached processes: they keep going when "
            "the app exits, and this screen re-attaches from the run directory.")
    REFRESH_S = 1.0

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="split"):
            with Vertical(classes="pane", id="runs-pane"):
                yield Static("Runs", classes="pane-title")
                yield EmptyState("", id="runs-empty")
                yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            with Vertical(classes="pane", id="run-detail-pane"):
                yield Static("Run", classes="pane-title")
                yield Static("", id="run-detail", classes="detail")
                yield RichLog(id="run-log", max_lines=400, wrap=False, markup=False)

    def on_mount(self) -> None:
        self.query_one("#runs", DataTable).add_columns("run", "state", "step", "loss", "ETA")
        self._selected: str | None = None
        self._tail = None
        self._timer = self.set_interval(self.REFRESH_S, self._tick, pause=True)
        self.refresh_data()

    def on_screen_resume(self) -> None:
        self._timer.resume()
        self.refresh_data()

    def on_screen_suspend(self) -> None:
        self._timer.pause()  # nothing to redraw while hidden

    def _tick(self) -> None:
        self.refresh_data(quiet=True)

    def refresh_data(self, quiet: bool = False) -> None:
        from engine.runs import list_runs, summarize

        t = self.query_one("#runs", DataTable)
        summaries = [summarize(r) for r in list_runs(self.ws.runs_dir)]
        keys = [s.id for s in summaries]
        current = [str(k.value) for k in t.rows]
        rows = {s.id: (s.name if len(s.name) < 40 else s.name[:39] + "…", s.state.value,
                       f"{s.step}/{s.total_steps}" if s.total_steps else str(s.step),
                       f"{s.loss:.4f}" if isinstance(s.loss, (int, float)) else "-", fmt_eta(s.eta_s))
                for s in summaries}
        if current != keys:
            t.clear()
            for k in keys:
                t.add_row(*rows[k], key=k)
        else:  # update cells in place: no flicker, cursor kept
            for k in keys:
                for col, val in zip(t.columns, rows[k]):
                    t.update_cell(k, col, val)
        empty = self.query_one("#runs-empty", EmptyState)
        empty.display, t.display = not keys, bool(keys)
        empty.update("No runs yet.\n\nStart one with `workbench train launch CONFIG`.")
        if keys and self._selected not in keys:
            self._select(keys[0])
        self._update_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key and event.row_key.value:
            self._select(str(event.row_key.value))

    def _select(self, run_id: str) -> None:
        from engine.runs import RunDir, TextTail

        if run_id == self._selected:
            return
        self._selected = run_id
        self._tail = TextTail(RunDir(self.ws.runs_dir / run_id).stdout_log, keep=400)
        self.query_one("#run-log", RichLog).clear()
        self._update_detail()

    def _update_detail(self) -> None:
        from engine.runs import RunDir
        from engine.runs.registry import summarize

        detail = self.query_one("#run-detail", Static)
        if not self._selected:
            detail.update("[dim]no run selected[/dim]")
            return
        run = RunDir(self.ws.runs_dir / self._selected)
        s = summarize(run)
        age = f"{time.time() - s.updated:.0f}s ago" if s.updated else "-"
        detail.update(f"[b]{s.id}[/b]\nstate {s.state.value}   step {s.step}/{s.total_steps or '?'}   "
                      f"ETA {fmt_eta(s.eta_s)}   heartbeat {age}\n{s.message}")
        if self._tail is not None:
            log = self.query_one("#run-log", RichLog)
            for line in self._tail.read_new():
                log.write(line)
