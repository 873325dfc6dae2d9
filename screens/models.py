"""The Models screen: the workspace's [models] (what each is, whether it is ready) and `i` to
import one (`workbench model import` in a subprocess: a Qwen-1 checkpoint is converted to native
Qwen2 with a progress bar; torch never enters the app)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from screens.base import EmptyState, PaletteCommand, WorkbenchScreen
from screens.cli_jobs import workbench_argv
from screens.jobs import JobPanel
from screens.mixtures_forms import PromptForm

COLUMNS = ("name", "family", "state", "path")


class ModelsScreen(WorkbenchScreen):
    MODE = "models"
    TITLE_TEXT = "Models"
    HELP = (
        "The workspace's [models]. i imports a model: a folder or hub id. An original Qwen-1 checkpoint "
        "(Qwen/Qwen-1_8B, Qwen-72B, an MFTCoder merge) is converted to a native Qwen2 checkpoint in "
        "models/NAME; an MFTCoder LoRA adapter folder to an adapter of the imported model; other models "
        "are registered as they are. d makes the selected model the workspace default."
    )
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("i", "import_model", "Import", id="models.import", tooltip="Import a model folder or hub id"),
        Binding("d", "make_default", "Default", id="models.default", tooltip="Make the selected model the default"),
    ]
    DEFAULT_CSS = """
    ModelsScreen #models-body { height: 1fr; }
    ModelsScreen #models-table { width: 3fr; }
    ModelsScreen #models-detail { width: 2fr; padding: 0 1; }
    ModelsScreen #models-job { height: auto; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="models-body"):
            yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="models-detail"):
                yield EmptyState(
                    "No models yet. Press i to import one (a folder or a hub id such as Qwen/Qwen-1_8B).",
                    id="models-empty",
                )
                yield Static("", id="models-info")
        yield JobPanel(id="models-job")

    def on_mount(self) -> None:
        self.query_one("#models-table", DataTable).add_columns(*COLUMNS)
        self.refresh_data()

    # -- data ----------------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        from engine.models.catalog import model_rows

        self.ws.reload()
        self.rows = model_rows(self.ws)
        table = self.query_one("#models-table", DataTable)
        table.clear()
        for r in self.rows:
            table.add_row(
                ("* " if r["default"] else "  ") + r["name"],
                r["family"] or r["model_type"] or "?",
                r["state"],
                r["path"],
                key=r["name"],
            )
        self.query_one("#models-empty", EmptyState).display = not self.rows
        self._show_selected()

    def _selected(self) -> dict[str, Any] | None:
        table = self.query_one("#models-table", DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted, "#models-table")
    def _model_highlighted(self) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        r = self._selected()
        info = self.query_one("#models-info", Static)
        if r is None:
            info.update("")
            return
        lines = [
            f"[b]{r['name']}[/b]{'  (default)' if r['default'] else ''}",
            f"path      {r['path']}",
            f"family    {r['family'] or '-'}",
            f"type      {r['model_type'] or '-'}",
            f"state     {r['state']}",
        ]
        if r.get("imported_from"):
            lines.append(f"imported  from {r['imported_from']}")
        if r["trust_remote_code"]:
            lines.append("remote code allowed (trust_remote_code)")
        if r["state"] == "needs import":
            lines.append(
                f"\nAn original Qwen-1 checkpoint: its remote code does not run on this transformers. "
                f"Press i and import {r['path']} to convert it."
            )
        if r.get("description"):
            lines.append(f"\n{r['description']}")
        info.update("\n".join(lines))

    # -- actions -------------------------------------------------------------------------------------
    def action_import_model(self) -> None:
        def check(text: str) -> str | None:
            return None if text.split() else "give a folder or hub id (and optionally a name)"

        def done(text: str | None) -> None:
            if text:
                parts = text.split()
                args = ["model", "import", parts[0]] + (["--name", parts[1]] if len(parts) > 1 else [])
                argv = workbench_argv(self.ws.root, *args, "--progress-jsonl")
                self.query_one("#models-job", JobPanel).run_command(f"importing {args[2]}", argv, name="model import")

        self.app.push_screen(
            PromptForm(
                "Import a model",
                "Folder or hub id, then optionally a [models] name",
                check=check,
                hint="e.g.  Qwen/Qwen-1_8B qwen1_8b   ·   /data/Qwen-72B   ·   /runs/mftcoder/epoch_3 (a LoRA adapter)",
            ),
            done,
        )

    def action_make_default(self) -> None:
        r = self._selected()
        if r is None:
            return
        self.ws.reload()
        self.ws.config.defaults.model = r["name"]
        self.ws.save()
        self.notify(f"default model: {r['name']}")
        self.refresh_data()

    @on(JobPanel.Finished, "#models-job")
    def _imported(self, message: JobPanel.Finished) -> None:
        self.query_one("#models-job", JobPanel).show("")
        res = message.result.done
        if not res:
            return
        msg = f"[models] {res['name']}: {res['kind']} ({res['path']}, {res['seconds']} s)"
        msg += "".join(f"\nwarning: {w}" for w in res.get("warnings") or [])
        self.notify(msg, timeout=12)
        self.refresh_data()

    def palette_commands(self) -> list[PaletteCommand]:
        return [
            PaletteCommand("model: import", "Import a model folder or hub id (i)", self.action_import_model),
            PaletteCommand(
                "model: make default", "The selected model becomes the default (d)", self.action_make_default
            ),
        ]
