"""Datasets screen: the workspace's catalog (plus processed datasets) with each entry's state;
for the selected one: details, a row preview rendered with the chat template with the trained
tokens highlighted, stats (token-length histogram, language bars, drops per filter), and the
rows processing dropped, by reason. Processing runs in a worker with a progress bar.

Everything slow (reading data, loading the tokenizer, which imports transformers, the
pipeline) runs in thread workers; the engine does the work.
"""

from __future__ import annotations

import time
from typing import Any

from rich.markup import escape as esc
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from screens.base import EmptyState, PaletteCommand, WorkbenchScreen, pane
from screens.cli_jobs import workbench_argv
from screens.datasets_views import dropped_text, kv, preview_text, stats_text
from screens.first_frame import AfterFirstFrame
from screens.jobs import JobPanel
from screens.layout import HintedTable

PAGE = 20


class DetailTabs(TabbedContent):
    """The detail pane's tabs; mounted after the first frame, they then show the selection."""

    def on_mount(self) -> None:
        self.call_after_refresh(self.screen._show_detail)  # type: ignore[attr-defined]  # a DatasetsScreen


class DropReasons(HintedTable):
    """The reasons processing dropped rows for, with their counts."""

    def on_mount(self) -> None:
        self.add_columns("reason", "rows")


class PreviewLoaded(Message):
    """A page of rows of `name` with their chat-template previews, or why there is none."""

    def __init__(
        self,
        name: str,
        page: int,
        records: list[Any],
        previews: list[Any],
        bad: list[Any],
        note: str | None,
        error: Text | None = None,
    ) -> None:
        super().__init__()
        self.name, self.page, self.records, self.previews = name, page, records, previews
        self.bad, self.note, self.error = bad, note, error


class DroppedLoaded(Message):
    """The rows processing dropped from `name` for `reason`."""

    def __init__(self, name: str, reason: str, rows: list[Any]) -> None:
        super().__init__()
        self.name, self.reason, self.rows = name, reason, rows


class DatasetAdded(Message):
    """The add worker's answer: `name` is in the catalog, or `error` says why not."""

    def __init__(self, name: str, error: str | None = None) -> None:
        super().__init__()
        self.name, self.error = name, error


class DatasetsScreen(WorkbenchScreen):
    MODE = "datasets"
    TITLE_TEXT = "Datasets"
    HELP = (
        "The dataset catalog of this workspace (workspace.toml [datasets.*]: hub ids and local files) and "
        "the processed datasets (datasets/NAME/). v previews rows as the trainer sees them (chat template, "
        "trained tokens highlighted), s shows stats, p processes (convert, filter, decontaminate, dedup), "
        "x browses what processing dropped. The same actions exist as `workbench data ...` commands."
    )
    BINDINGS = [
        Binding("a", "add_dataset", "Add", id="datasets.add", tooltip="Add a hub id or local file to the catalog"),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="datasets.filter",
            key_display="/",
            tooltip="Filter the catalog by name, location or state (enter keeps, esc clears)",
        ),
        Binding(
            "v",
            "preview",
            "Preview",
            id="datasets.preview",
            tooltip="Rows rendered with the chat template, trained (loss-masked-in) tokens highlighted",
        ),
        Binding(
            "t",
            "toggle_tokens",
            "Tokens",
            show=False,
            id="datasets.preview.tokens",
            tooltip="Show token boundaries in the preview (alternating shades)",
        ),
        Binding(
            "s",
            "stats",
            "Stats",
            id="datasets.stats",
            tooltip="Token lengths, languages, answers per sample (cached); drops per filter when processed",
        ),
        Binding(
            "p",
            "process",
            "Process",
            id="datasets.process",
            tooltip="Convert, normalise, filter, decontaminate and dedup into datasets/NAME/ (in the background)",
        ),
        Binding(
            "x",
            "dropped",
            "Dropped",
            id="datasets.dropped",
            tooltip="Browse the rows processing dropped, by reason (and the unreadable ones)",
        ),
        Binding(
            "n",
            "step_row(1)",
            "Next row",
            id="datasets.row.next",
            tooltip="Next row in the preview or in the dropped rows",
        ),
        Binding(
            "b",
            "step_row(-1)",
            "Prev row",
            id="datasets.row.prev",
            tooltip="Previous row in the preview or in the dropped rows",
        ),
        Binding(
            "escape",
            "back",
            "Back",
            show=False,
            id="datasets.back",
            tooltip="Close the filter, or go back to the details tab",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, dict[str, Any]] = {}
        self._filter = ""
        self._pv: dict[str, Any] = {"name": None, "page": 0, "index": 0, "records": [], "previews": []}
        self._boundaries = False
        self._dropped: dict[str, Any] = {"name": None, "reason": None, "rows": [], "index": 0}
        self.processing: str | None = None

    # -- layout ---------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        # The first frame is the catalog: the hidden filter box and the whole detail pane are
        # mounted right after it (AfterFirstFrame), which keeps their widgets and CSS off the start path.
        with Horizontal(classes="split"):
            with pane("Catalog", id="catalog-pane"):
                yield AfterFirstFrame(
                    Input(placeholder="filter: name, location or state", id="catalog-filter", disabled=True)
                )
                yield EmptyState("", id="datasets-empty")
                yield HintedTable(id="catalog", cursor_type="row", zebra_stripes=True)
            with pane("Dataset", id="detail-pane"):
                with AfterFirstFrame(DetailTabs(id="ds-tabs", initial="tab-details")):
                    with TabPane("Details", id="tab-details"), VerticalScroll():
                        yield Static("", id="dataset-detail", classes="detail")
                    with TabPane("Preview", id="tab-preview"), VerticalScroll(id="preview-scroll"):
                        yield Static(
                            "Select a dataset and press [b]v[/b] to preview its rows as the trainer sees them.",
                            id="dataset-preview",
                            classes="detail",
                        )
                    with TabPane("Stats", id="tab-stats"), VerticalScroll():
                        yield Static(
                            "Press [b]s[/b] for stats of the selected dataset.", id="dataset-stats", classes="detail"
                        )
                    with TabPane("Dropped", id="tab-dropped"), Vertical():
                        yield DropReasons(id="drop-reasons", cursor_type="row", zebra_stripes=True)
                        with VerticalScroll(id="dropped-scroll"):
                            yield Static(
                                "Press [b]x[/b] to browse what processing dropped (process with [b]p[/b] first).",
                                id="dataset-dropped",
                                classes="detail",
                            )
                yield AfterFirstFrame(JobPanel(id="ds", label_classes="detail"))

    DEFAULT_CSS = """
    DatasetsScreen #catalog-pane { width: 45%; }
    DatasetsScreen #catalog-filter { display: none; margin: 0 1; }
    DatasetsScreen #drop-reasons { height: auto; max-height: 13; }
    DatasetsScreen #dropped-scroll { height: 1fr; }
    DatasetsScreen #ds-progress { margin: 0 1; }
    """

    def on_mount(self) -> None:
        self.query_one("#catalog", DataTable).add_columns("name", "state", "processed", "format", "source")
        self.refresh_data()
        self.query_one("#catalog", DataTable).focus()

    # -- catalog ----------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        from engine.data.catalog import catalog_rows, processed_datasets

        rows: dict[str, dict[str, Any]] = {}
        processed = {p["name"]: p["report"] for p in processed_datasets(self.ws)}
        for r in catalog_rows(self.ws):
            rows[r.name] = {
                "name": r.name,
                "kind": r.kind,
                "location": r.location,
                "format": r.format,
                "state": r.state,
                "ok": r.ok,
                "description": r.description,
                "catalog": True,
                "report": processed.get(r.name),
            }
        for name, rep in processed.items():
            if name not in rows:
                rows[name] = {
                    "name": name,
                    "kind": "processed",
                    "location": f"datasets/{name}",
                    "format": "canonical",
                    "state": "processed",
                    "ok": True,
                    "description": "",
                    "catalog": False,
                    "report": rep,
                }
        self._rows = rows
        self._fill_table()

    def _fill_table(self) -> None:
        t = self.query_one("#catalog", DataTable)
        keep = self.selected()
        t.clear()
        f = self._filter.lower()
        shown = [
            r
            for r in self._rows.values()
            if not f or f in r["name"].lower() or f in r["location"].lower() or f in r["state"].lower()
        ]
        for r in shown:
            rep = r["report"]
            proc = f"{rep.get('rows', '?')} rows" if rep else "-"
            t.add_row(
                Text(r["name"]),
                Text(r["state"], style="" if r["ok"] else "red"),
                proc,
                Text(r["format"]),
                r["kind"],
                key=r["name"],
            )
        if keep is not None and keep in {r["name"] for r in shown}:
            t.move_cursor(row=t.get_row_index(keep))
        empty = self.query_one("#datasets-empty", EmptyState)
        empty.display = not shown
        t.display = bool(shown)
        if not self._rows:
            empty.update(
                "The catalog is empty.\n\nPress [b]a[/b] to add a hub dataset id or a local file "
                "(JSONL, JSON, Parquet, CSV), or use `workbench data add`."
            )
        elif not shown:
            empty.update(f"Nothing matches the filter '{esc(self._filter)}'.\n\nPress [b]esc[/b] to clear it.")
        self._show_detail()

    def selected(self) -> str | None:
        t = self.query_one("#catalog", DataTable)
        if not t.row_count or not t.display:
            return None
        try:
            return t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        except CellDoesNotExist:  # the cursor on no row (a refill in between)
            return None

    @on(DataTable.RowHighlighted, "#catalog")
    def _catalog_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.row_key.value if event.row_key else None)

    @on(DataTable.RowHighlighted, "#drop-reasons")
    def _reason_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            self._load_dropped(self._dropped["name"], event.row_key.value)

    @on(DataTable.RowSelected, "#catalog")
    def _catalog_chosen(self) -> None:
        self.action_preview()

    def _show_detail(self, name: str | None = None) -> None:
        try:
            detail = self.query_one("#dataset-detail", Static)
        except NoMatches:  # the detail pane is mounted just after the first frame (DetailTabs)
            return
        name = name or self.selected()
        row = self._rows.get(name or "")
        if row is None:
            detail.update("[dim]nothing selected[/dim]")
            return
        width = detail.content_region.width or 200  # long values wrap under their column
        lines = [f"[b]{esc(row['name'])}[/b]", ""]
        if row["catalog"]:
            e = self.ws.config.datasets[row["name"]]
            lines += [
                kv("source", row["kind"], width),
                kv("location", row["location"], width),
                kv("format", row["format"], width),
            ]
            if e.columns:
                lines.append(kv("columns", ", ".join(f"{k}={v}" for k, v in e.columns.items()), width))
            if e.streaming:
                lines.append("streaming yes")
            lines.append(kv("state", row["state"], width, style="" if row["ok"] else "red"))
        rep = row["report"]
        if rep:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(rep.get("created", 0)))
            drops = {k: v for k, v in (rep.get("dropped") or {}).items() if v}
            lines += [
                "",
                f"[b]processed[/b] {when}: {rep.get('rows')} rows kept of {rep.get('read')} read",
                kv("inputs", ", ".join(rep.get("inputs") or {}), width),
                f"quarantined {rep.get('quarantined', 0)} unreadable rows",
            ]
            if drops:
                lines.append("dropped   " + ", ".join(f"{k} {v}" for k, v in drops.items()))
            from engine.data.notices import report_warnings

            lines += [f"[yellow]warning: {esc(w)}[/yellow]" for w in report_warnings(rep)]
        else:
            lines += ["", "not processed yet: press [b]p[/b] to process it"]
        if row["description"]:
            lines += ["", esc(row["description"])]
        lines += ["", "[dim]v preview · s stats · p process · x dropped rows · / filter[/dim]"]
        detail.update("\n".join(lines))

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_detail)  # re-wrap the details for the new width

    # -- filter -----------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#catalog-filter", Input)
        box.disabled = False
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "catalog-filter":
            self._filter = event.value.strip()
            self._fill_table()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "catalog-filter":
            self.query_one("#catalog", DataTable).focus()

    def action_back(self) -> None:
        box = self.query_one("#catalog-filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            box.disabled = True
            self._filter = ""
            self._fill_table()
            self.query_one("#catalog", DataTable).focus()
            return
        self.query_one("#ds-tabs", TabbedContent).active = "tab-details"

    # -- add --------------------------------------------------------------------------------------
    def action_add_dataset(self) -> None:
        from screens.forms import AddDatasetForm

        def done(result: dict | None) -> None:
            if result:
                self._add_dataset(result)

        self.app.push_screen(AddDatasetForm(set(self.ws.config.datasets)), done)

    @work(thread=True, exclusive=True, group="ds-add", name="add dataset", exit_on_error=False)
    def _add_dataset(self, result: dict) -> None:
        """The same checks as `workbench data add`, reading a local source's first rows (in a
        worker: a large JSON array is parsed whole)."""
        from engine.data.catalog import add_entry
        from engine.errors import WorkbenchError

        try:
            add_entry(self.ws, result["name"], result["source"], format=result["format"], check=True)
        except (WorkbenchError, OSError) as e:
            self.post_message(DatasetAdded(result["name"], str(e)))
            return
        self.post_message(DatasetAdded(result["name"]))

    def on_dataset_added(self, message: DatasetAdded) -> None:
        if message.error is not None:
            self.app.show_error("cannot add dataset", message.error)  # type: ignore[attr-defined]  # the App is WorkbenchApp (screens never import it)
            return
        self.refresh_data()
        self.notify(f"added {message.name} to the catalog")

    # -- preview ----------------------------------------------------------------------------------
    def action_preview(self) -> None:
        name = self.selected()
        if name is None:
            self.notify("select a dataset first", severity="warning")
            return
        self.query_one("#ds-tabs", TabbedContent).active = "tab-preview"
        if self._pv["name"] != name:
            self._pv = {"name": name, "page": 0, "index": 0, "records": [], "previews": []}
            self.query_one("#dataset-preview", Static).update(f"loading rows of {name} ...")
            self._load_preview(name, 0)
        else:
            self._show_preview()

    @work(thread=True, exclusive=True, group="ds-preview", name="dataset preview", exit_on_error=False)
    def _load_preview(self, name: str, page: int) -> None:
        """`workbench data preview` in a subprocess: rendering needs the tokenizer (transformers)."""
        from screens.cli_jobs import run_progress_command

        argv = workbench_argv(self.ws.root, "data", "preview", name, "--rows", str(PAGE), "--page", str(page))
        res = run_progress_command([*argv, "--progress-jsonl"])
        if not res.done:
            if not res.error:  # no one-line reason: a crash, for the error dialog
                raise RuntimeError(res.failure("workbench data preview"))
            # e.g. a hub set that is not available offline: say so in place
            self.post_message(PreviewLoaded(name, page, [], [], [], None, error=Text(res.error, style="red")))
            return
        out = res.done
        self.post_message(PreviewLoaded(name, page, out["records"], out["previews"], out["bad"], out["note"]))

    def on_preview_loaded(self, message: PreviewLoaded) -> None:
        name, page, records = message.name, message.page, message.records
        previews, bad, note = message.previews, message.bad, message.note
        if self._pv["name"] != name:
            return
        if message.error is not None:
            self.query_one("#dataset-preview", Static).update(message.error)
            return
        if not records and page > 0:
            self._pv["page"] = page - 1
            self._pv["index"] = len(self._pv["records"]) - 1
            self.notify("no more rows", timeout=2)
            return
        self._pv.update(
            page=page,
            records=records,
            previews=previews,
            bad=bad,
            note=note,
            index=min(self._pv.get("index", 0), max(0, len(records) - 1)),
        )
        self._show_preview()

    def _show_preview(self) -> None:
        from rich.text import Text

        pv = self._pv
        target = self.query_one("#dataset-preview", Static)
        if not pv["records"]:
            bad = pv.get("bad") or []
            msg = "no rows" + (f"; {len(bad)} unreadable, e.g. {bad[0]['where']}" if bad else "")
            target.update(msg)
            return
        i = pv["index"]
        t = Text()
        t.append(
            f"{pv['name']}  row {pv['page'] * PAGE + i + 1}  (n next · b previous · t token boundaries)\n", style="dim"
        )
        if pv.get("note"):
            t.append(pv["note"] + "\n", style="yellow")
        if pv.get("bad"):
            t.append(f"{len(pv['bad'])} unreadable rows on this page, e.g. {pv['bad'][0]['where']}\n", style="red")
        t.append(preview_text(pv["records"][i], pv["previews"][i], boundaries=self._boundaries, root=self.ws.root))
        target.update(t)

    def action_step_row(self, delta: int) -> None:
        tab = self.query_one("#ds-tabs", TabbedContent).active
        if tab == "tab-dropped":
            d = self._dropped
            if d["rows"]:
                d["index"] = max(0, min(len(d["rows"]) - 1, d["index"] + delta))
                self._show_dropped_row()
            return
        pv = self._pv
        if not pv["records"]:
            return
        j = pv["index"] + delta
        if 0 <= j < len(pv["records"]):
            pv["index"] = j
            self._show_preview()
        elif j >= len(pv["records"]) and len(pv["records"]) == PAGE:
            pv["index"] = 0
            self._load_preview(pv["name"], pv["page"] + 1)
        elif j < 0 and pv["page"] > 0:
            pv["index"] = PAGE - 1
            self._load_preview(pv["name"], pv["page"] - 1)

    def action_toggle_tokens(self) -> None:
        self._boundaries = not self._boundaries
        if self._pv["records"]:
            self._show_preview()

    # -- stats ------------------------------------------------------------------------------------
    def action_stats(self) -> None:
        name = self.selected()
        if name is None:
            self.notify("select a dataset first", severity="warning")
            return
        self.query_one("#ds-tabs", TabbedContent).active = "tab-stats"
        rep = (self._rows.get(name) or {}).get("report")
        if rep and "stats" in rep:
            self.query_one("#dataset-stats", Static).update(self._stats_render(name, rep["stats"], rep))
            return
        self.query_one("#dataset-stats", Static).update(f"computing stats of {name} ...")
        argv = workbench_argv(self.ws.root, "data", "stats", name, "--raw", "--progress-jsonl")
        self._job.run_command(f"stats {name}", argv, kind="stats", name="dataset stats", errors_in_place=True)

    def _stats_render(self, name: str, stats: dict, rep: dict | None = None, extra: str = "") -> Any:
        from rich.text import Text

        t = Text()
        t.append(f"{name}", style="bold")
        t.append(f"  {'processed' if rep else 'as loaded (not filtered)'}{extra}\n\n", style="dim")
        if rep:
            from engine.data.notices import report_warnings

            for w in report_warnings(rep):  # first: a skipped decontamination must not be missed
                t.append(f"warning: {w}\n\n", style="bold yellow")
            t.append(
                stats_text(
                    stats,
                    dropped=rep.get("dropped"),
                    read=rep.get("read"),
                    quarantined=rep.get("quarantined"),
                    note=rep.get("tokenizer_note"),
                )
            )
        else:
            t.append(stats_text(stats))
        return t

    def _stats_text(self, res: Any) -> Text:
        """A catalog entry's stats as loaded, from `workbench data stats --raw`; a bad input in red."""
        if not res.done:  # not available offline, unreadable, ...: shown in place
            return Text(res.error, style="red")
        out = res.done
        extra = (" · cached" if out.get("cached") else f" · {out['seconds']:.1f}s") + (
            f" · {out['quarantined']} unreadable rows" if out.get("quarantined") else ""
        )
        text = self._stats_render(out["name"], out["stats"], None, extra)
        if out.get("tokenizer_note"):
            text.append(f"\nnote: {out['tokenizer_note']}", style="dim")
        return text

    # -- process ----------------------------------------------------------------------------------
    @property
    def _job(self) -> JobPanel:
        return self.query_one("#ds", JobPanel)

    def action_process(self) -> None:
        if self.processing:
            self.notify(f"already processing {self.processing}", severity="warning")
            return
        from screens.datasets_forms import ProcessForm

        name = self.selected() or ""

        def done(result: Any) -> None:
            if result:
                out, opts = result
                # the pipeline counts tokens (transformers): `workbench data process` in a subprocess
                argv = workbench_argv(self.ws.root, "data", "process", out, "--options", opts.model_dump_json())
                if self._job.run_command(
                    f"process {out}", [*argv, "--progress-jsonl"], kind="process", name=f"processing {out}"
                ):
                    self.processing = out

        self.app.push_screen(
            ProcessForm(name, sorted(self.ws.config.datasets), self.ws.config.defaults.seq_length), done
        )

    @on(JobPanel.Finished, "#ds")
    def _job_finished(self, message: JobPanel.Finished) -> None:
        if message.job == "stats":
            self._job.show("")
            self.query_one("#dataset-stats", Static).update(self._stats_text(message.result))
        elif message.job == "process":
            name, self.processing = self.processing, None
            if not message.cancelled and name:
                self._processed(name, message.result.done)

    @on(JobPanel.Failed, "#ds")
    def _job_failed(self, message: JobPanel.Failed) -> None:
        if message.job == "process":
            self.processing = None

    def _processed(self, name: str, rep: dict) -> None:
        self.refresh_data()
        t = self.query_one("#catalog", DataTable)
        if name in {r["name"] for r in self._rows.values()}:
            try:
                t.move_cursor(row=t.get_row_index(name))
            except RowDoesNotExist:  # filtered out of the table
                pass
        self._pv["name"] = None  # reload previews of the new data
        self._job.show(
            f"processed {name}: {rep['kept']} rows kept of {rep['read']}"
            + (" (up to date)" if rep.get("up_to_date") else "")
        )
        self.query_one("#ds-tabs", TabbedContent).active = "tab-stats"
        self.query_one("#dataset-stats", Static).update(self._stats_render(name, rep["stats"], rep))
        self.notify(f"processed {name}: {rep['kept']} rows", timeout=4)
        from engine.data.notices import report_warnings

        for w in report_warnings(rep):  # the whole text is in the report on the stats tab
            self.notify(w.split(": ")[0] + ": see the report", title="warning", severity="warning", timeout=10)

    # -- dropped rows -----------------------------------------------------------------------------
    def action_dropped(self) -> None:
        name = self.selected()
        if name is None:
            self.notify("select a dataset first", severity="warning")
            return
        self.query_one("#ds-tabs", TabbedContent).active = "tab-dropped"
        rep = (self._rows.get(name) or {}).get("report")
        table = self.query_one("#drop-reasons", DataTable)
        table.clear()
        target = self.query_one("#dataset-dropped", Static)
        if not rep:
            target.update(f"{name} is not processed yet: press [b]p[/b] to process it.")
            self._dropped = {"name": None, "reason": None, "rows": [], "index": 0}
            return
        counts = {r: n for r, n in (rep.get("dropped") or {}).items() if n}
        if rep.get("quarantined"):
            counts["quarantine"] = rep["quarantined"]
        self._dropped = {"name": name, "reason": None, "rows": [], "index": 0}
        if not counts:
            target.update(f"{name}: nothing was dropped ({rep.get('rows')} rows kept).")
            return
        for reason, n in counts.items():
            table.add_row(reason, str(n), key=reason)
        table.focus()
        self._load_dropped(name, next(iter(counts)))

    @work(thread=True, exclusive=True, group="ds-dropped", name="dropped rows", exit_on_error=False)
    def _load_dropped(self, name: str | None, reason: str) -> None:
        if name is None:
            return
        from engine.data.pipeline import dropped_rows

        self.post_message(DroppedLoaded(name, reason, dropped_rows(self.ws, name, reason, limit=200)))

    def on_dropped_loaded(self, message: DroppedLoaded) -> None:
        if self._dropped["name"] != message.name:
            return
        self._dropped.update(reason=message.reason, rows=message.rows, index=0)
        self._show_dropped_row()

    def _show_dropped_row(self) -> None:
        from rich.text import Text

        d = self._dropped
        target = self.query_one("#dataset-dropped", Static)
        if not d["rows"]:
            target.update(f"no rows stored for {d['reason']}")
            return
        t = Text()
        t.append(f"{d['reason']}  (n next · b previous)\n", style="dim")
        t.append(dropped_text(d["rows"][d["index"]], d["index"], len(d["rows"]), root=self.ws.root))
        target.update(t)

    # -- palette ----------------------------------------------------------------------------------
    def palette_commands(self) -> list[PaletteCommand]:
        cmds = [
            PaletteCommand("dataset: add to catalog", "Add a hub id or a local file", self.action_add_dataset),
            PaletteCommand("dataset: filter catalog", "Filter the catalog table (/)", self.action_filter),
        ]
        name = self.selected()
        if name:
            cmds += [
                PaletteCommand(
                    f"dataset: preview {name}",
                    "Rows with the chat template and trained tokens (v)",
                    self.action_preview,
                ),
                PaletteCommand(f"dataset: stats of {name}", "Token lengths, languages, turns (s)", self.action_stats),
                PaletteCommand(
                    f"dataset: process {name}",
                    "Filter, decontaminate and dedup into datasets/ (p)",
                    self.action_process,
                ),
                PaletteCommand(
                    f"dataset: dropped rows of {name}", "Browse what processing dropped (x)", self.action_dropped
                ),
            ]
        return cmds
