"""Compare screen: runs × checkpoints of this workspace."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from screens.base import EmptyState, WorkbenchScreen


class CompareScreen(WorkbenchScreen):
    MODE = "compare"
    TITLE_TEXT = "Compare"
    HELP = "Checkpoints of every run side by side, to pick the one to submit."

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="pane"):
            yield Static("Checkpoints", classes="pane-title")
            yield EmptyState("", id="compare-empty")
            yield DataTable(id="checkpoints", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#checkpoints", DataTable).add_columns("run", "checkpoint", "step", "valid loss")
        self.refresh_data()

    def refresh_data(self) -> None:
        from engine.runs import list_runs

        t = self.query_one("#checkpoints", DataTable)
        t.clear()
        n = 0
        for run in list_runs(self.ws.runs_dir):
            for c in run.checkpoints():
                vl = c.get("valid_loss")
                t.add_row(run.id, c["name"], str(c["step"]), f"{vl:.4f}" if isinstance(vl, (int, float)) else "-",
                          key=f"{run.id}/{c['name']}")
                n += 1
        empty = self.query_one("#compare-empty", EmptyState)
        empty.display, t.display = not n, bool(n)
        empty.update("No checkpoints yet.\n\nTrain a run (Runs screen, key 3) to get checkpoints to compare.")
