"""Mixtures screen: the mixture specs in mixtures/ and the selected spec's text."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from screens.base import EmptyState, WorkbenchScreen


class MixturesScreen(WorkbenchScreen):
    MODE = "mixtures"
    TITLE_TEXT = "Mixtures"
    HELP = "Mixture specs (mixtures/*.toml): tasks made of processed datasets, with weights or token budgets."

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="split"):
            with Vertical(classes="pane", id="mixtures-pane"):
                yield Static("Mixtures", classes="pane-title")
                yield EmptyState("", id="mixtures-empty")
                yield DataTable(id="mixtures", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(classes="pane", id="mixture-detail-pane"):
                yield Static("Spec", classes="pane-title")
                yield Static("", id="mixture-detail", classes="detail", markup=False)

    def on_mount(self) -> None:
        self.query_one("#mixtures", DataTable).add_columns("name", "file")
        self.refresh_data()

    def refresh_data(self) -> None:
        t = self.query_one("#mixtures", DataTable)
        t.clear()
        files = sorted(self.ws.mixtures_dir.glob("*.toml")) if self.ws.mixtures_dir.is_dir() else []
        for f in files:
            t.add_row(f.stem, str(f.relative_to(self.ws.root)), key=str(f))
        empty = self.query_one("#mixtures-empty", EmptyState)
        empty.display, t.display = not files, bool(files)
        empty.update("No mixtures yet.\n\nCreate one with `workbench mix new NAME`.")
        if files:
            self._show(str(files[0]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key and event.row_key.value:
            self._show(event.row_key.value)

    def _show(self, path: str) -> None:
        from pathlib import Path

        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            text = f"cannot read {path}: {e}"
        self.query_one("#mixture-detail", Static).update(text)
