"""Validation screen: every validation of the workspace (validations/<id>/), the selected one's
scores (contest score, per-language bar, post-processing flips) and its per-problem table,
filterable (/) and sortable by test-case pass rate (s); enter opens a case side by side, n
jumps to the next failing one. v scores a checkpoint (a run's or any path) in a background
`workbench eval run` process with a progress bar; torch is never imported here.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from screens.base import EmptyState, PaletteCommand, WorkbenchScreen, pane
from screens.jobs import JobPanel
from screens.layout import HintedTable

VERDICT_STYLE = {
    "passed": "green",
    "failed": "red",
    "compile_error": "magenta",
    "runtime_error": "red",
    "timeout": "yellow",
    "oom": "yellow",
    "output_limit": "yellow",
    "infra_error": "blue",
}


def _short_id(vid: str, width: int = 30) -> str:
    """`20261130-134432-tiny-toy-1a2b` -> `11-30 13:44 tiny-toy` (the full id is the row key)."""
    import re

    m = re.match(r"^\d{4}(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}-(.+)-[0-9a-f]{4}$", vid)
    label = f"{m.group(1)}-{m.group(2)} {m.group(3)}:{m.group(4)} {m.group(5)}" if m else vid
    return label if len(label) <= width else label[: width - 1] + "…"


def _f(x: Any, d: int = 3) -> str:
    return f"{x:.{d}f}" if isinstance(x, (int, float)) else "-"


class Loaded(Message):
    """A validation's files were read (into the screen's cache) by the load worker."""

    def __init__(self, vid: str) -> None:
        super().__init__()
        self.vid = vid


class ValidationScreen(WorkbenchScreen):
    MODE = "validation"
    TITLE_TEXT = "Validation"
    HELP = (
        "Validations (validations/<id>/): a checkpoint's generations executed in the sandbox, scored per "
        "task and language, with the predicted contest score (mean pass@1 over the contest tasks: a score on "
        "fewer problems is labelled 'subset (N of M problems)'; infra errors count as failures and are "
        "shown; a problem set whose own canonical solutions fail is named in a warning). "
        "v scores a checkpoint (a workspace model, a run checkpoint or a path) with a task set and prompt "
        "format in the background; F scores the selected validation's checkpoint on the full contest set. "
        "In the problem table: / filters (lang:python task:mbpp "
        "verdict:compile_error fail pass flip, or any text), s sorts by test-case pass rate, enter opens "
        "the case (prompt as sent, raw output, program as executed, test, message) and n / N jump to the "
        "next / previous failing case. x cancels a validation started here. "
        "Every action is also a `workbench eval ...` command (run, show, compare, ab)."
    )
    BINDINGS = [
        Binding(
            "v",
            "new_validation",
            "Validate",
            id="validation.new",
            tooltip="Score a checkpoint: choose it, a task set and a prompt format",
        ),
        Binding(
            "F",
            "full_contest",
            "Full contest",
            key_display="F",
            id="validation.full",
            tooltip="Score the selected validation's checkpoint on every problem of the contest tasks",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            id="validation.filter",
            tooltip="Filter problems: lang:X task:X verdict:X fail pass flip, or any text",
        ),
        Binding(
            "s",
            "cycle_sort",
            "Sort",
            id="validation.sort",
            tooltip="Sort problems by test-case pass rate: worst first, best first, task order",
        ),
        Binding(
            "n",
            "next_failing(1)",
            "Next failing",
            id="validation.failing.next",
            tooltip="Move to the next failing problem (opens it when a case is open)",
        ),
        Binding(
            "N",
            "next_failing(-1)",
            "Prev failing",
            key_display="N",
            show=False,
            id="validation.failing.prev",
            tooltip="Move to the previous failing problem",
        ),
        Binding(
            "o",
            "open_case",
            "Open case",
            id="validation.case.open",
            tooltip="Open the highlighted problem side by side (enter does the same)",
        ),
        Binding(
            "x",
            "cancel_run",
            "Cancel run",
            show=False,
            id="validation.cancel",
            tooltip="Stop the validation started from this screen",
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            show=False,
            id="validation.filter.clear",
            tooltip="Clear the problem filter",
        ),
    ]
    REFRESH_S = 1.0

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="split"):
            with pane("Validations", id="val-list-pane", classes="strip"):
                yield EmptyState("", id="validation-empty")
                yield HintedTable(id="validations", cursor_type="row", zebra_stripes=True)
                yield JobPanel(id="val-run")
            with pane("Problems", id="val-detail-pane"):
                yield Static("", id="val-header", classes="detail")
                yield Static("", id="lang-bar", classes="detail")
                yield Input(
                    placeholder="filter: lang:python task:mbpp verdict:compile_error fail pass flip ...",
                    id="problem-filter",
                )
                yield Static("", id="problems-info", classes="muted")
                yield HintedTable(id="problems", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#validations", DataTable).add_columns("validation", "status", "contest", "pass@1")
        # what a reviewer reads first on the left: at 80 columns task, problem, verdict and tests show
        self.query_one("#problems", DataTable).add_columns(
            "task", "problem", "verdict", "tests", "rate", "time", "lang"
        )
        self.query_one("#problem-filter", Input).display = False
        self._selected: str | None = None
        self._rows: list[Any] = []
        self._view: list[Any] = []
        self._filter = ""
        self._sort = "none"
        self._cache: dict[str, dict[str, Any]] = {}
        self._io = threading.Lock()
        self._job = self.query_one("#val-run", JobPanel)
        self._run_id: str | None = None
        self._timer = self.set_interval(self.REFRESH_S, self._tick, pause=True)
        self.refresh_data()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def on_screen_suspend(self) -> None:
        self._timer.pause()

    # -- the validations list -------------------------------------------------------------------
    def refresh_data(self) -> None:
        from engine.validate.score import contest_from_meta
        from engine.validate.store import list_validations

        items = list_validations(self.ws.validations_dir)
        t = self.query_one("#validations", DataTable)
        rows = []
        running = False
        for v in items:
            m = v.meta()
            st = v.status(m)
            running |= st == "running"
            label = _short_id(v.id)
            if st == "running":
                p = v.progress()
                st = f"{p.get('phase', 'running')} {p.get('done', 0)}/{p.get('total', '?')}" if p else "running"
            c = contest_from_meta(m)
            rows.append((v.id, (label, st[:18], c.cell() if c else "-", _f(m.get("pass@1")))))
        keys = [k for k, _ in rows]
        if [str(k.value) for k in t.rows] != keys:
            t.clear()
            for k, cells in rows:
                t.add_row(*cells, key=k)
        else:
            for k, cells in rows:
                for col, val in zip(t.columns, cells):
                    t.update_cell(k, col, val, update_width=True)
        empty = self.query_one("#validation-empty", EmptyState)
        empty.display, t.display = not keys, bool(keys)
        empty.update(
            "No validations yet.\n\nPress v to score a checkpoint (or run "
            "`workbench eval run --model PATH --tasks SET`)."
        )
        if running or self._job.busy:
            self._timer.resume()
        else:
            self._timer.pause()
        if keys and self._selected not in keys:
            self._select(keys[0])
        elif (
            self._selected in keys
            and self._selected in self._cache
            and self._cache[self._selected].get("status") == "running"
        ):
            self._load(self._selected)  # it was running: pick up the finished results
        elif not keys:
            self._selected = None
            self._show_detail(None)

    def _tick(self) -> None:
        self.refresh_data()

    @on(DataTable.RowHighlighted, "#validations")
    def _validation_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key and event.row_key.value:
            self._select(str(event.row_key.value))

    @on(DataTable.RowSelected, "#problems")
    def _problem_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key and event.row_key.value:
            self._open(str(event.row_key.value))

    @on(DataTable.RowSelected, "#validations")
    def _validation_chosen(self) -> None:
        self.query_one("#problems", DataTable).focus()

    def _select(self, vid: str) -> None:
        if vid == self._selected and vid in self._cache:
            return
        self._selected = vid
        if vid in self._cache and self._cache[vid].get("status") != "running":
            self._show_detail(self._cache[vid])
        else:
            self._load(vid)

    @work(thread=True, exclusive=True, group="validation-load", name="load validation", exit_on_error=False)
    def _load(self, vid: str) -> None:
        """Read a validation's files (results can be several MB) off the UI thread."""
        from engine.validate.review import rows_from_results
        from engine.validate.store import ValidationDir

        v = ValidationDir(self.ws.validations_dir / vid)
        results = v.results()
        meta = v.meta()
        status = v.status(meta)
        gens = {f"{g['uid']}#{g.get('sample', 0)}": g for g in v.generations()} if status != "running" else None
        data = {
            "id": vid,
            "meta": meta,
            "summary": v.summary(),
            "status": status,
            "rows": rows_from_results(results),
            "results": {f"{r['uid']}#{r.get('sample', 0)}": r for r in results},
            "gens": gens,
            "dir": v,
        }
        with self._io:
            self._cache[vid] = data
        self.post_message(Loaded(vid))

    def on_loaded(self, message: Loaded) -> None:
        if message.vid == self._selected:
            self._show_detail(self._cache.get(message.vid))

    # -- the selected validation ----------------------------------------------------------------
    def _show_detail(self, data: dict[str, Any] | None) -> None:
        from engine.validate.score import contest_view, infra_note

        header = self.query_one("#val-header", Static)
        bar = self.query_one("#lang-bar", Static)
        if data is None:
            header.update("[dim]no validation selected[/dim]")
            bar.update("")
            self._rows = []
            self._fill_problems()
            return
        m, s = data["meta"], data["summary"]
        ck = m.get("checkpoint") or {}
        fmt = (m.get("format") or {}).get("name")
        pp = s.get("postprocess") or {}
        t = Text()
        t.append(f"{ck.get('label') or ck.get('model')}", style="bold")
        if ck.get("adapter"):
            t.append("  (LoRA adapter, not merged)", style="dim")
        t.append(
            f"\ntasks {(m.get('taskset') or {}).get('name')}  format {fmt}  "
            f"post-processing {pp.get('mode') or m.get('postprocess') or '-'}  backend {m.get('backend')}  "
            f"status {data['status']}"
        )
        if s.get("profile"):  # the limits profile the programs were judged under (issue 12, item 1)
            t.append(f"  limits {s['profile']}")
            if s["profile"] == "mixed":  # which tasks were judged under which
                by: dict[str, list[str]] = {}
                for name, task in (s.get("tasks") or {}).items():
                    by.setdefault(str(task.get("profile")), []).append(name)
                t.append(" (" + "; ".join(f"{k}: {len(v)} task{'s' * (len(v) != 1)}" for k, v in by.items()) + ")")
        if m.get("error"):
            t.append(f"\n{m['error']}", style="red")
        gt = s.get("ground_truth") or m.get("ground_truth") or {}
        for line in gt.get("warnings") or []:
            t.append(f"\n⚠ {line}", style="bold red")
        for line in gt.get("notes") or []:
            t.append(f"\n{line}", style="dim")
        if s:
            c = contest_view(s, m)
            if c is not None:
                t.append("\n" + c.headline(), style="bold green" if c.full else "yellow")
            pk = "  ".join(f"{k} {_f(v)}" for k, v in (s.get("pass@k") or {}).items())
            infra = int(s.get("infra_errors") or 0)
            t.append(f"\n{pk}  test pass rate {_f(s.get('test_pass_rate'))}  ({s.get('n_problems', 0)} problems)")
            if infra:
                t.append(f"  {infra_note(infra)} (workbench eval doctor)", style="bold red")
            if pp.get("compared"):
                f = pp.get("flips") or {}
                t.append(
                    f"\n{pp.get('alt_mode')} post-processing: pass@1 {_f((pp.get('alt') or {}).get('pass@1'))}; "
                    f"{len(f.get('gained', []))} problems pass only with it, {len(f.get('lost', []))} only with "
                    f"{pp.get('mode')} (filter: flip)",
                    style="yellow" if f.get("gained") or f.get("lost") else "",
                )
        header.update(t)
        bar.update(self._bars(s))
        self._rows = data["rows"]
        self._fill_problems()

    def _bars(self, s: dict[str, Any]) -> Text:
        """A bar per language: pass@1 (green), tests passed beyond it (yellow), the rest (dim)."""
        from engine.validate.review import language_scores

        t = Text()
        for ls in language_scores(s):
            passed, partly, rest = ls.bar_cells()
            t.append(f"{ls.language:11}", style="bold")
            t.append("█" * passed, style="green")
            t.append("▒" * partly, style="yellow")
            t.append("·" * rest, style="dim")
            t.append(f" pass@1 {_f(ls.pass_at_1)}  tests {_f(ls.test_pass_rate)}  ({ls.problems})\n")
        return t

    def _fill_problems(self) -> None:
        from engine.compare.matrix import short_task
        from engine.validate.review import filter_rows, sort_rows

        table = self.query_one("#problems", DataTable)
        prev = self._cursor_key()
        self._view = sort_rows(filter_rows(self._rows, self._filter), self._sort)
        table.clear()
        for r in self._view:
            verdict = Text(r.verdict, style=VERDICT_STYLE.get(r.verdict, ""))
            table.add_row(
                short_task(r.task),
                r.task_id,
                verdict,
                f"{r.tests_passed}/{r.tests_total}",
                f"{r.pass_rate:.2f}",
                f"{r.duration:.2f}s",
                r.language,
                key=r.key,
            )
        info = f"{len(self._view)} of {len(self._rows)} samples"
        if self._filter:
            info += f" · filter: {self._filter}"
        if self._sort != "none":
            info += f" · sorted by {self._sort}"
        info += f" · {sum(r.failing for r in self._view)} failing"
        self.query_one("#problems-info", Static).update(info)
        if prev and any(r.key == prev for r in self._view):
            self._move_to(prev)

    def _cursor_key(self) -> str | None:
        t = self.query_one("#problems", DataTable)
        if not self._view or t.cursor_row is None or t.cursor_row >= len(self._view):
            return None
        return self._view[t.cursor_row].key

    def _move_to(self, key: str) -> None:
        t = self.query_one("#problems", DataTable)
        for i, r in enumerate(self._view):
            if r.key == key:
                t.move_cursor(row=i)
                return

    # -- filter / sort / failing cases ------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#problem-filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#problem-filter", Input)
        if box.value or box.display:
            box.value = ""
            box.display = False
            self._filter = ""
            self._fill_problems()
            self.query_one("#problems", DataTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "problem-filter":
            self._filter = event.value.strip()
            self._fill_problems()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "problem-filter":
            self.query_one("#problems", DataTable).focus()

    def action_cycle_sort(self) -> None:
        from engine.validate.review import SORTS

        self._sort = SORTS[(SORTS.index(self._sort) + 1) % len(SORTS)]
        self._fill_problems()
        self.notify(
            f"problems sorted by {self._sort}" if self._sort != "none" else "problems in task order", timeout=1.5
        )

    def _step_failing(self, key: str | None, step: int) -> str | None:
        from engine.validate.review import next_failing

        return next_failing(self._view, key, step)

    def action_next_failing(self, step: int = 1) -> None:
        nxt = self._step_failing(self._cursor_key(), step)
        if nxt is None:
            self.notify("no failing problem in this list", timeout=2)
            return
        self._move_to(nxt)
        self.query_one("#problems", DataTable).focus()

    def action_open_case(self) -> None:
        key = self._cursor_key()
        if key:
            self._open(key)

    def _case(self, key: str) -> dict[str, Any]:
        """One sample in full: the results row plus its generation (prompt, raw output, test)."""
        data = self._cache.get(self._selected or "") or {}
        res = (data.get("results") or {}).get(key, {})
        with self._io:
            if data.get("gens") is None and data.get("dir") is not None:
                data["gens"] = {f"{g['uid']}#{g.get('sample', 0)}": g for g in data["dir"].generations()}
        gen = (data.get("gens") or {}).get(key, {})
        return {**gen, **res}

    def _open(self, key: str) -> None:
        from screens.validation_case import CaseScreen

        def back(last: str | None) -> None:
            if last:
                self._move_to(last)

        self.app.push_screen(CaseScreen(key, self._case, self._step_failing), back)

    # -- starting a validation --------------------------------------------------------------------
    def action_new_validation(self) -> None:
        from engine.validate.checkpoints import list_choices
        from engine.validate.prompts import FORMATS
        from screens.validation_form import NewValidationForm

        if self._job.busy:
            self.notify("a validation started here is still running (x cancels it)", severity="warning")
            return
        sets = list(self.ws.config.tasksets)
        default = "toy" if "toy" in sets else ("contest-quick" if "contest-quick" in sets else None)
        choices = list_choices(self.ws)
        if not choices:
            choices = (
                [("the workspace's default model", self.ws.config.defaults.model)]
                if self.ws.config.defaults.model
                else []
            )
        form = NewValidationForm(choices, sets, list(FORMATS), default)

        def done(choice: dict | None) -> None:
            if choice:
                from screens.validation_form import eval_run_argv

                self._start(eval_run_argv(str(self.ws.root), choice))

        self.app.push_screen(form, done)

    def action_full_contest(self) -> None:
        """Score the selected validation's checkpoint (same format and backend) on every problem
        of the contest tasks."""
        from screens.validation_form import eval_run_argv

        if self._job.busy:
            self.notify("a validation started here is still running (x cancels it)", severity="warning")
            return
        m = (self._cache.get(self._selected or "") or {}).get("meta") or {}
        ck = m.get("checkpoint") or {}
        if ck.get("run") and isinstance(ck.get("step"), int):
            choice: dict[str, Any] = {"model": f"{ck['run']}@{ck['step']}"}
        elif ck.get("model") and ck.get("model") != "<in memory>":
            choice = {
                "model": str(ck.get("path") or ck["model"]),
                "adapter": None if ck.get("path") else ck.get("adapter"),
            }
        elif self.ws.config.defaults.model:
            choice = {"model": self.ws.config.defaults.model}
        else:
            self.notify("select a validation (its checkpoint is scored) or press v", severity="warning")
            return
        choice.update(
            {
                "full": True,
                "format": (m.get("format") or {}).get("name") or "contest",
                "backend": m.get("backend") if m.get("backend") in ("hf", "vllm") else "hf",
            }
        )
        self.notify(f"scoring {choice['model']} on the full contest set ({choice['format']} format)", timeout=3)
        self._start(eval_run_argv(str(self.ws.root), choice))

    def _start(self, argv: list[str]) -> None:
        self._job.run_command("validating (`workbench eval run`)", argv, name="validation run")

    @on(JobPanel.Progress, "#val-run")
    def _follow_new_validation(self, message: JobPanel.Progress) -> None:
        vid = message.event.info.get("id")
        if vid and vid != self._run_id:
            self._run_id = str(vid)
            self.refresh_data()
            self._focus_validation(self._run_id)  # follow the new validation while it runs

    @on(JobPanel.Finished, "#val-run")
    def _validation_finished(self, message: JobPanel.Finished) -> None:
        done = message.result.done
        if not message.cancelled:
            c = done.get("contest") or {}
            self._job.show(
                "done: " + (f"{c['label']}, " if c.get("label") else "") + f"pass@1 {_f(done.get('pass_at_1'))}"
            )
            self.notify("validation finished", timeout=3)
        self._after_run(done.get("id") or self._run_id)

    @on(JobPanel.Failed, "#val-run")
    def _validation_failed(self) -> None:
        self._after_run(self._run_id)

    def _after_run(self, vid: str | None) -> None:
        self._run_id = None
        if vid:
            self._cache.pop(vid, None)
            self._selected = None
        self.refresh_data()
        if vid:
            self._focus_validation(vid)

    def _focus_validation(self, vid: str) -> None:
        t = self.query_one("#validations", DataTable)
        for i, k in enumerate(t.rows):
            if str(k.value) == vid:
                t.move_cursor(row=i)
        self._select(vid)

    def action_cancel_run(self) -> None:
        if not self._job.cancel():
            self.notify("no validation was started from this screen", timeout=2)
            return
        self.notify("cancelling the validation ...", timeout=2)

    # -- palette ------------------------------------------------------------------------------------
    def palette_commands(self) -> list[PaletteCommand]:
        cmds = [
            PaletteCommand(
                "validation: new", "Score a checkpoint with a task set and prompt format", self.action_new_validation
            ),
            PaletteCommand(
                "validation: full contest",
                "Score the selected checkpoint on every contest problem",
                self.action_full_contest,
            ),
            PaletteCommand(
                "validation: filter problems", "Filter by language, task, verdict or text", self.action_filter
            ),
            PaletteCommand(
                "validation: sort by pass rate",
                "Cycle the problem order (worst first, best first)",
                self.action_cycle_sort,
            ),
            PaletteCommand(
                "validation: next failing case", "Move to the next failing problem", self.action_next_failing
            ),
        ]
        if self._view:
            cmds.append(
                PaletteCommand(
                    "validation: show only failing",
                    "Filter the table to failing problems",
                    lambda: self._set_filter("fail"),
                )
            )
            cmds.append(
                PaletteCommand(
                    "validation: show post-processing flips",
                    "Problems whose verdict differs under the other post-processing mode",
                    lambda: self._set_filter("flip"),
                )
            )
        if self._job.cancellable:
            cmds.append(
                PaletteCommand("validation: cancel run", "Stop the validation started here", self.action_cancel_run)
            )
        return cmds

    def _set_filter(self, text: str) -> None:
        box = self.query_one("#problem-filter", Input)
        box.display = True
        box.value = text
