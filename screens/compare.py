"""Compare screen: every run checkpoint × validation of the workspace as a matrix (pass@1 per
task, predicted contest score, valid loss, in-training pass@1), sortable by any column (s
cycles the column, S reverses). space picks up to two rows: the pane below lists the problems
gained and lost between them (A → B) with a bootstrap interval that says whether the
difference is within noise. m marks the highlighted checkpoint to submit (submission.json);
b builds the submission of the marked checkpoint in a background `workbench submit build`
process with a progress bar (x cancels). Torch is never imported here.
"""

from __future__ import annotations

import functools
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from screens.base import EmptyState, PaletteCommand, WorkbenchScreen, pane
from screens.cli_jobs import workbench_argv
from screens.jobs import JobPanel
from screens.layout import HintedTable


class MatrixCollected(Message):
    """The checkpoint × validation matrix, read by the collect worker."""

    def __init__(self, matrix: Any) -> None:
        super().__init__()
        self.matrix = matrix


class ComparisonReady(Message):
    """Two validations compared (gains, losses, bootstrap) by the compare worker."""

    def __init__(self, comparison: Any) -> None:
        super().__init__()
        self.comparison = comparison


class CompareScreen(WorkbenchScreen):
    MODE = "compare"
    TITLE_TEXT = "Compare"
    HELP = (
        "Every checkpoint of every run, with each of its validations, side by side: pass@1 per task, the "
        "predicted contest score (mean pass@1 over the contest tasks; a score on fewer problems is labelled "
        "'subset N/M', the tasks still missing otherwise; infra errors count as failures and are shown), "
        "the validation loss and in-training pass@1. s cycles the sort column, S reverses it. space picks a "
        "row (two at most): with two, the lower pane lists the problems gained and lost (A → B) and a paired "
        "bootstrap interval of the pass@1 difference says whether it is within noise. escape clears the "
        "picks. m marks the highlighted checkpoint to submit; b builds its submission (a generations file per "
        "contest task, "
        "zipped and checked) in the background, x cancels. Also: `workbench submit table|diff|mark|build|check`."
    )
    BINDINGS = [
        Binding("s", "cycle_sort", "Sort", id="compare.sort", tooltip="Sort by the next column (best first)"),
        Binding(
            "S", "reverse_sort", "Reverse", key_display="S", id="compare.sort.reverse", tooltip="Reverse the sort order"
        ),
        Binding(
            "space",
            "pick",
            "Pick",
            id="compare.pick",
            tooltip="Pick the highlighted row for the comparison (two at most; again to unpick)",
        ),
        Binding(
            "escape",
            "clear_picks",
            "Clear picks",
            show=False,
            id="compare.pick.clear",
            tooltip="Forget the picked rows",
        ),
        Binding(
            "m",
            "mark",
            "Mark to submit",
            id="compare.mark",
            tooltip="Mark the highlighted checkpoint as the one to submit (again to unmark)",
        ),
        Binding(
            "b",
            "build",
            "Build submission",
            id="compare.build",
            tooltip="Build the submission files of the marked checkpoint in the background",
        ),
        Binding(
            "x",
            "cancel_build",
            "Cancel build",
            show=False,
            id="compare.build.cancel",
            tooltip="Stop the submission build started here",
        ),
    ]
    REFRESH_S = 2.0

    def compose_body(self) -> ComposeResult:
        with pane("Checkpoints × tasks", id="matrix-pane"):
            yield Static("", id="matrix-info", classes="muted")
            yield EmptyState("", id="compare-empty")
            # the run column stays put while ← / → scroll the task columns
            yield HintedTable(id="matrix", cursor_type="row", zebra_stripes=True, fixed_columns=1)
        with pane("Selected", id="compare-pane"):
            yield Static("", id="compare-detail", classes="detail")
            yield HintedTable(id="changes", cursor_type="row", zebra_stripes=True)
            yield JobPanel(id="build", label_classes="detail", hide_label_when_idle=True)

    def on_mount(self) -> None:
        self.query_one("#changes", DataTable).add_columns("", "task", "problem", "before → after")
        self.query_one("#changes", DataTable).display = False
        self._matrix: Any = None
        self._view: list[Any] = []
        self._sort: str | None = None
        self._desc = True
        self._picks: list[str] = []  # row keys, A then B
        self._cmp_for: tuple[str, str] | None = None
        self._job = self.query_one("#build", JobPanel)
        self._timer = self.set_interval(self.REFRESH_S, self.refresh_data, pause=True)
        self.refresh_data()

    def on_screen_suspend(self) -> None:
        self._timer.pause()

    # -- the matrix ---------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        self._collect()

    @work(
        thread=True,
        exclusive=True,
        group="compare-collect",
        name="read checkpoints and validations",
        exit_on_error=False,
    )
    def _collect(self) -> None:
        from engine.compare import collect

        self.post_message(MatrixCollected(collect(self.ws)))

    def on_matrix_collected(self, message: MatrixCollected) -> None:
        from textual.css.query import NoMatches

        m = message.matrix
        try:
            table = self.query_one("#matrix", DataTable)
        except NoMatches:
            return
        self._matrix = m
        keys = {r.key for r in m.rows}
        self._picks = [k for k in self._picks if k in keys]
        if self._sort and self._sort not in {c.key for c in m.columns}:
            self._sort = None
        self._fill()
        empty = self.query_one("#compare-empty", EmptyState)
        empty.display, table.display = not m.rows, bool(m.rows)
        empty.update(
            "No checkpoints or validations yet.\n\nTrain a run (Runs screen: press 3, then n — or d for "
            "the demo), then score checkpoints on the Validation screen (4, then v). They all show up "
            "here to compare."
        )
        running = any(r.status == "running" for r in m.rows)
        if running or self._job.busy:
            self._timer.resume()
        else:
            self._timer.pause()
        self._update_lower()

    def _fill(self) -> None:
        from engine.compare import sort_rows
        from screens.compare_render import best_values, cell, header

        m = self._matrix
        table = self.query_one("#matrix", DataTable)
        prev = self._cursor_key()
        cols = m.columns
        self._view = sort_rows(m.rows, self._sort, self._desc, m.tasks) if self._sort else list(m.rows)
        best = best_values(m.rows, cols)
        heads = [header(c, self._sort, self._desc) for c in cols]
        cells = [
            [cell(r, c, best, "AB"[self._picks.index(r.key)] if r.key in self._picks else "") for c in cols]
            for r in self._view
        ]
        same_shape = (
            [str(k.value) for k in table.columns] == [c.key for c in cols]
            and [str(k.value) for k in table.rows] == [r.key for r in self._view]
            and [str(c.label) for c in table.columns.values()] == [str(h) for h in heads]
        )
        if same_shape:  # a periodic refresh: update in place, the cursor and scroll stay put
            for r, row_cells in zip(self._view, cells):
                for c, v in zip(cols, row_cells):
                    table.update_cell(r.key, c.key, v, update_width=True)
        else:
            table.clear(columns=True)
            for c, h in zip(cols, heads):
                table.add_column(h, key=c.key)
            for r, row_cells in zip(self._view, cells):
                table.add_row(*row_cells, key=r.key)
            if prev:
                self._move_to(prev)
        info = f"{len(m.rows)} rows"
        if self._sort:
            title = next((c.title for c in cols if c.key == self._sort), self._sort)
            info += f" · sorted by {title} {'▼' if self._desc else '▲'}"
        if self._picks:
            info += f" · picked {len(self._picks)}/2"
        info += f" · marked: {m.mark.describe()}" if m.mark else " · nothing marked to submit (m)"
        if m.failed_validations:
            info += f" · {m.failed_validations} failed validations hidden"
        self.query_one("#matrix-info", Static).update(info)

    def _cursor_key(self) -> str | None:
        t = self.query_one("#matrix", DataTable)
        if not self._view or t.cursor_row is None or t.cursor_row >= len(self._view):
            return None
        return self._view[t.cursor_row].key

    def _current(self) -> Any:
        key = self._cursor_key()
        return next((r for r in self._view if r.key == key), None)

    def _move_to(self, key: str) -> None:
        t = self.query_one("#matrix", DataTable)
        for i, r in enumerate(self._view):
            if r.key == key:
                t.move_cursor(row=i)
                return

    @on(DataTable.RowHighlighted, "#matrix")
    def _matrix_highlighted(self) -> None:
        if len(self._picks) < 2:
            self._update_lower()

    # -- sorting ----------------------------------------------------------------------------------
    def _sort_keys(self) -> list[str | None]:
        cols = self._matrix.columns if self._matrix else []
        numeric = [c.key for c in cols if c.better is not None and c.key != "step"]
        return [None, *numeric, "step", "run"]

    def action_cycle_sort(self) -> None:
        if not self._matrix:
            return
        keys = self._sort_keys()
        i = keys.index(self._sort) if self._sort in keys else 0
        self._sort = keys[(i + 1) % len(keys)]
        col = next((c for c in self._matrix.columns if c.key == self._sort), None)
        self._desc = bool(col and col.better == "high")
        self._fill()
        self.notify(f"sorted by {col.title}" if col else "default order (runs, then steps)", timeout=1.5)

    def action_reverse_sort(self) -> None:
        if not self._matrix or not self._sort:
            self.notify("pick a sort column first (s)", timeout=2)
            return
        self._desc = not self._desc
        self._fill()

    # -- picking two rows and comparing -----------------------------------------------------------
    def action_pick(self) -> None:
        key = self._cursor_key()
        if not key:
            return
        if key in self._picks:
            self._picks.remove(key)
        else:
            if len(self._picks) == 2:
                self._picks.pop(0)
            self._picks.append(key)
        self._fill()
        self._update_lower()

    def action_clear_picks(self) -> None:
        if self._picks:
            self._picks = []
            self._fill()
            self._update_lower()

    def _update_lower(self) -> None:
        from screens.compare_render import row_details

        detail = self.query_one("#compare-detail", Static)
        changes = self.query_one("#changes", DataTable)
        if self._matrix is None:
            return
        if len(self._picks) == 2:
            rows = {r.key: r for r in self._matrix.rows}
            a, b = rows[self._picks[0]], rows[self._picks[1]]
            missing = [r for r in (a, b) if not r.validation or r.status != "completed"]
            if missing:
                changes.display = False
                self._cmp_for = None
                detail.update(
                    Text(
                        "\n".join(
                            f"{r.label}: "
                            + (
                                "not validated yet — score it on the Validation "
                                "screen (4, then v) to compare problem by problem"
                                if not r.validation
                                else f"its validation is {r.status}"
                            )
                            for r in missing
                        ),
                        style="yellow",
                    )
                )
                return
            pair = (a.validation, b.validation)
            if pair != self._cmp_for:
                self._cmp_for = pair
                detail.update(Text("comparing ...", style="dim"))
                self._compare(a.validation, b.validation, (f"{a.label} ({a.taskset})", f"{b.label} ({b.taskset})"))
            return
        self._cmp_for = None
        changes.display = False
        row = self._current()
        if row is None:
            detail.update(Text("Highlight a row for its details; space picks two to compare.", style="dim"))
            return
        t = row_details(row, self._matrix.mark)
        t.append("\nspace picks this row for a comparison (two rows)", style="dim")
        detail.update(t)

    @work(thread=True, exclusive=True, group="compare-pair", name="compare two validations", exit_on_error=False)
    def _compare(self, a: str, b: str, labels: tuple[str, str]) -> None:
        from engine.compare import compare_validations
        from engine.validate.store import ValidationDir

        cmp = compare_validations(
            ValidationDir(self.ws.validations_dir / a), ValidationDir(self.ws.validations_dir / b), labels=labels
        )
        self.post_message(ComparisonReady(cmp))

    def on_comparison_ready(self, message: ComparisonReady) -> None:
        from screens.compare_render import comparison_text

        cmp = message.comparison
        if self._cmp_for != (cmp.a, cmp.b):
            return  # the picks changed meanwhile
        self.query_one("#compare-detail", Static).update(comparison_text(cmp))
        table = self.query_one("#changes", DataTable)
        table.clear()
        for kind, items in (("+", cmp.gains), ("−", cmp.losses)):
            for c in items:
                table.add_row(
                    Text(kind, style="bold green" if kind == "+" else "bold red"),
                    c.task,
                    c.task_id,
                    f"{c.before} → {c.after}",
                    key=f"{kind}{c.uid}",
                )
        table.display = bool(cmp.gains or cmp.losses)

    # -- marking and building ----------------------------------------------------------------------
    def action_mark(self) -> None:
        from engine.compare import clear_mark, mark_checkpoint

        row = self._current()
        if row is None:
            self.notify("no row highlighted", timeout=2)
            return
        if row.marked:
            clear_mark(self.ws)
            self.notify("mark removed", timeout=2)
        else:
            if not row.spec:
                self.notify("this row names no checkpoint to submit", severity="warning")
                return
            try:
                if row.run and not row.checkpoint_exists:
                    mark = mark_checkpoint(self.ws, None, validation=row.validation)
                else:
                    mark = mark_checkpoint(
                        self.ws, row.spec, validation=row.validation if row.status == "completed" else None
                    )
            except Exception as e:  # noqa: BLE001 - shown to the user, nothing else to do
                self.app.show_error("cannot mark this checkpoint", str(e))  # type: ignore[attr-defined]  # the App is WorkbenchApp (screens never import it)
                return
            self.notify(f"marked to submit: {mark.describe()} — b builds the submission", timeout=4)
        self.refresh_data()

    def action_build(self) -> None:
        from screens.dialogs import ConfirmDialog

        if self._job.busy:
            self.notify("a submission build is already running (x cancels it)", severity="warning")
            return
        mark = self._matrix.mark if self._matrix else None
        if mark is None:
            self.notify("mark a checkpoint first: highlight it and press m", severity="warning", timeout=4)
            return
        row = next((r for r in self._matrix.rows if r.marked and r.validation == mark.validation), None)
        how = (
            "reusing the generations of its validation when they are complete and greedy, else generating "
            "every contest task (greedy; can take long)"
        )
        if row is not None and row.contest_score is not None and row.greedy and (row.fraction or 1) >= 1:
            how = f"from validation {mark.validation} (complete and greedy: no generation needed)"

        def go(yes: bool | None) -> None:
            if yes:
                self._start_build()

        self.app.push_screen(
            ConfirmDialog(
                f"Build the contest submission of {mark.describe()}?\n\n{how}.\n"
                "Output: submissions/<model>/generations_<model>.zip"
            ),
            go,
        )

    def _start_build(self) -> None:
        argv = workbench_argv(self.ws.root, "submit", "build", "--progress-jsonl")
        self._job.run_command("building the submission", argv, name="submission build")

    @on(JobPanel.Finished, "#build")
    def _build_finished(self, message: JobPanel.Finished) -> None:
        done = message.result.done
        if done:
            t = Text()
            if done.get("contest_ready"):
                t.append("ready to submit: ", style="bold green")
            elif done.get("ok"):
                t.append("built (not a complete contest submission): ", style="bold yellow")
            else:
                t.append("built, but the check failed: ", style="bold red")
            t.append(str(done.get("zip") or done.get("merged") or ""))
            t.append(
                f"\n{'reused' if done.get('reused') else 'generated'}: validation {done.get('validation')}", style="dim"
            )
            for e in (done.get("errors") or [])[:4]:
                t.append(f"\n{e}", style="red")
            self._job.show(t)
            self.notify("submission built", timeout=3)
        else:
            self._job.show("build cancelled")
        self.refresh_data()

    @on(JobPanel.Failed, "#build")
    def _build_failed(self) -> None:
        self.refresh_data()

    def action_cancel_build(self) -> None:
        if not self._job.cancel():
            self.notify("no submission build was started from this screen", timeout=2)
            return
        self.notify("cancelling the build ...", timeout=2)

    # -- palette ------------------------------------------------------------------------------------
    def palette_commands(self) -> list[PaletteCommand]:
        cmds = [
            PaletteCommand(
                "compare: sort by next column", "Cycle the sort column (best first)", self.action_cycle_sort
            ),
            PaletteCommand("compare: reverse sort", "Reverse the sort order", self.action_reverse_sort),
            PaletteCommand("compare: pick row", "Pick the highlighted row for a two-row comparison", self.action_pick),
            PaletteCommand(
                "compare: mark to submit",
                "Mark (or unmark) the highlighted checkpoint as the one to submit",
                self.action_mark,
            ),
            PaletteCommand(
                "compare: build submission", "Build the marked checkpoint's contest submission", self.action_build
            ),
        ]
        for key, title in (("contest", "contest score"), ("pass@1", "pass@1"), ("valid_loss", "valid loss")):
            cmds.append(
                PaletteCommand(
                    f"compare: sort by {title}",
                    f"Sort the matrix by {title}, best first",
                    functools.partial(self._sort_by, key),
                )
            )
        if self._picks:
            cmds.append(PaletteCommand("compare: clear picks", "Forget the picked rows", self.action_clear_picks))
        if self._job.cancellable:
            cmds.append(PaletteCommand("compare: cancel build", "Stop the submission build", self.action_cancel_build))
        return cmds

    def _sort_by(self, key: str) -> None:
        if not self._matrix:
            return
        col = next((c for c in self._matrix.columns if c.key == key), None)
        self._sort, self._desc = key, bool(col and col.better == "high")
        self._fill()
