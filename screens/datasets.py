"""Datasets screen: the workspace's catalog with each entry's state, and details of the
selected entry."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from screens.base import EmptyState, PaletteCommand, WorkbenchScreen


class DatasetsScreen(WorkbenchScreen):
    MODE = "datasets"
    TITLE_TEXT = "Datasets"
    HELP = ("The dataset catalog of this workspace (workspace.toml [datasets.*]): hub ids and local files. "
            "Select an entry to see its details.")
    BINDINGS = [
        Binding("a", "add_dataset", "Add", id="datasets.add", tooltip="Add a hub id or local file to the catalog"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="split"):
            with Vertical(classes="pane", id="catalog-pane"):
                yield Static("Catalog", classes="pane-title")
                yield EmptyState("", id="datasets-empty")
                yield DataTable(id="catalog", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(classes="pane side", id="detail-pane"):
                yield Static("Details", classes="pane-title")
                yield Static("", id="dataset-detail", classes="detail")

    def on_mount(self) -> None:
        t = self.query_one("#catalog", DataTable)
        t.add_columns("name", "source", "location", "format", "state", "processed")
        self.refresh_data()

    def refresh_data(self) -> None:
        from engine.data.catalog import catalog_rows

        t = self.query_one("#catalog", DataTable)
        rows = catalog_rows(self.ws)
        self._rows = {r.name: r for r in rows}
        t.clear()
        for r in rows:
            t.add_row(r.name, r.kind, r.location, r.format, r.state, "yes" if r.processed else "-", key=r.name)
        empty = self.query_one("#datasets-empty", EmptyState)
        empty.display = not rows
        t.display = bool(rows)
        if not rows:
            empty.update("The catalog is empty.\n\nPress [b]a[/b] to add a hub dataset id or a local file "
                         "(JSONL, JSON, Parquet, CSV).")
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.row_key.value if event.row_key else None)

    def _show_detail(self, name: str | None = None) -> None:
        detail = self.query_one("#dataset-detail", Static)
        if name is None:
            t = self.query_one("#catalog", DataTable)
            if t.row_count:
                name = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        row = self._rows.get(name or "")
        if row is None:
            detail.update("[dim]nothing selected[/dim]")
            return
        detail.update(
            f"[b]{row.name}[/b]\n\nsource    {row.kind}\nlocation  {row.location}\nformat    {row.format}\n"
            f"state     {row.state}\nprocessed {'yes' if row.processed else 'no'}\n\n{row.description}")

    def action_add_dataset(self) -> None:
        from screens.forms import AddDatasetForm

        def done(result: dict | None) -> None:
            if result:
                from engine.workspace import DatasetEntry

                self.ws.config.datasets[result["name"]] = DatasetEntry(**result["entry"])
                self.ws.save()
                self.refresh_data()
                self.notify(f"added {result['name']} to the catalog")

        self.app.push_screen(AddDatasetForm(set(self.ws.config.datasets)), done)

    def palette_commands(self) -> list[PaletteCommand]:
        return [PaletteCommand("dataset: add to catalog", "Add a hub id or a local file", self.action_add_dataset)]
