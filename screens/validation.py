"""Validation screen: validations/ results (pass@1 per task) of this workspace."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from screens.base import EmptyState, WorkbenchScreen


class ValidationScreen(WorkbenchScreen):
    MODE = "validation"
    TITLE_TEXT = "Validation"
    HELP = "Validations (validations/<id>/): generated programs executed in the sandbox, scored per task."

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="pane"):
            yield Static("Validations", classes="pane-title")
            yield EmptyState("", id="validation-empty")
            yield DataTable(id="validations", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#validations", DataTable).add_columns("id", "pass@1", "problems")
        self.refresh_data()

    def refresh_data(self) -> None:
        from engine.fsutil import read_json_or

        t = self.query_one("#validations", DataTable)
        t.clear()
        d = self.ws.validations_dir
        items = sorted((p for p in d.iterdir() if p.is_dir()), reverse=True) if d.is_dir() else []
        for p in items:
            s = read_json_or(p / "summary.json", {}) or {}
            p1 = s.get("pass@1")
            t.add_row(p.name, f"{p1:.3f}" if isinstance(p1, (int, float)) else "-", str(s.get("n_problems", "-")),
                      key=p.name)
        empty = self.query_one("#validation-empty", EmptyState)
        empty.display, t.display = not items, bool(items)
        empty.update("No validations yet.\n\nScore a checkpoint with `workbench eval run --model PATH --tasks SET`.")
