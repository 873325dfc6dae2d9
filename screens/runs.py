"""Runs screen: every run in runs/ (state, step/total, loss, ETA), the GPU panel, and a live
monitor of the selected run (per-task train / validation loss with task toggles, lr,
throughput, task weights, log tail), refreshed incrementally from the run directory alone.

Runs are detached processes: they keep going when the app exits, and a new app session
re-attaches from the files. Launching goes through the validated form (n); s asks a run to save
and stop, c to save now; R resumes from the newest checkpoint; m merges the best checkpoint.
File reading and process work happen in thread workers; torch is never imported here.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, SelectionList, TabbedContent

from screens.base import EmptyState, PaletteCommand, WorkbenchScreen, pane
from screens.cli_jobs import workbench_argv
from screens.jobs import JobPanel
from screens.layout import HintedTable
from screens.runs_gpu import GpuPanel
from screens.runs_monitor import CHARTS, RunMonitor, fmt_eta

__all__ = ["RunsScreen", "fmt_eta"]


class Polled(Message):
    """What one poll of runs/ read: the table's summaries and, for run `run_id` (selection
    `generation`), its new metrics records, log lines, status and data.json."""

    def __init__(self, generation: int, run_id: str | None, payload: dict[str, Any]) -> None:
        super().__init__()
        self.generation, self.run_id, self.payload = generation, run_id, payload


class RunsScreen(WorkbenchScreen):
    MODE = "runs"
    TITLE_TEXT = "Runs"
    HELP = (
        "Training runs of this workspace (runs/). Runs are detached processes: they keep going when "
        "the app exits, and this screen re-attaches from the run directory. n opens the launch form "
        "(validated, with the exact command), s stops a run after a checkpoint, c saves a checkpoint now, "
        "R resumes a stopped / failed / lost run, m merges its best checkpoint into a plain model. "
        "Charts: v cycles them, t toggles tasks. The GPU panel (g) shows free memory before you launch. "
        "Every action is also a `workbench train ...` command."
    )
    BINDINGS = [
        Binding(
            "n",
            "launch",
            "Launch",
            id="runs.launch",
            tooltip="Open the launch form (preset, model, mixture, hyperparameters; validated, exact command shown)",
        ),
        Binding("s", "stop", "Stop", id="runs.stop", tooltip="Ask the selected run to save a checkpoint and exit"),
        Binding("c", "save", "Save now", id="runs.save", tooltip="Ask the selected run to save a checkpoint now"),
        Binding(
            "R",
            "resume",
            "Resume",
            id="runs.resume",
            key_display="R",
            tooltip="Resume the selected run from its newest complete checkpoint",
        ),
        Binding(
            "k",
            "kill",
            "Kill",
            show=False,
            id="runs.kill",
            tooltip="Hard-stop the selected run (SIGTERM, then SIGKILL): no checkpoint",
        ),
        Binding(
            "m",
            "merge",
            "Merge",
            show=False,
            id="runs.merge",
            tooltip="Merge the best checkpoint's LoRA into a standard Hugging Face model folder",
        ),
        Binding(
            "d",
            "demo",
            "Demo",
            id="runs.demo",
            tooltip="Run the demo: train the tiny model on the toy "
            "curriculum and watch held-out pass@1 climb (a few minutes on CPU)",
        ),
        Binding("v", "next_chart", "Chart", id="runs.chart.next", tooltip="Show the next chart"),
        Binding("t", "tasks", "Tasks", id="runs.tasks", tooltip="Focus the task list (space toggles a task)"),
        Binding("g", "toggle_gpu", "GPU", show=False, id="runs.gpu", tooltip="Show or hide the GPU panel"),
    ]
    REFRESH_S = 1.0
    GPU_EVERY_S = 2.0

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="split"):
            with pane("Runs", id="runs-pane", classes="strip"):
                yield EmptyState("", id="runs-empty")
                yield HintedTable(id="runs", cursor_type="row", zebra_stripes=True)
                yield JobPanel(id="runs-job", hide_label_when_idle=True)
                yield GpuPanel("", id="gpu-panel")
            with pane("Monitor", id="run-detail-pane"):
                yield RunMonitor(id="monitor")

    def on_mount(self) -> None:
        self.query_one("#runs", DataTable).add_columns("run", "state", "step", "loss", "ETA")
        self._selected: str | None = None
        self._readers: tuple[Any, Any] | None = None  # (MetricsReader, TextTail) of the selected run
        self._generation = 0
        self._io = threading.Lock()
        self._polling = False
        self._last_gpu = 0.0
        self._timer = self.set_interval(self.REFRESH_S, self._tick, pause=True)
        self.refresh_data()

    def on_screen_resume(self) -> None:
        self._timer.resume()
        self.refresh_data()

    def on_screen_suspend(self) -> None:
        self._timer.pause()  # nothing to redraw while hidden

    def _tick(self) -> None:
        self.refresh_data(quiet=True)

    # -- the runs table ---------------------------------------------------------------------------
    def refresh_data(self, quiet: bool = False) -> None:
        from engine.runs import list_runs, run_summary

        if not quiet:  # first paint and explicit refresh: synchronously, the table is cheap
            self._show_table([run_summary(r) for r in list_runs(self.ws.runs_dir)])
        self._poll()

    def _show_table(self, summaries: list[Any]) -> None:
        t = self.query_one("#runs", DataTable)
        keys = [s.id for s in summaries]
        current = [str(k.value) for k in t.rows]
        rows = {
            s.id: (
                s.name if len(s.name) < 22 else s.name[:21] + "…",
                s.state.value,
                f"{s.step}/{s.total_steps}" if s.total_steps else str(s.step),
                f"{s.loss:.4f}" if isinstance(s.loss, (int, float)) else "-",
                fmt_eta(s.eta_s),
            )
            for s in summaries
        }
        if current != keys:
            t.clear()
            for k in keys:
                t.add_row(*rows[k], key=k)
        else:  # update cells in place: no flicker, cursor kept
            for k in keys:
                for col, val in zip(t.columns, rows[k]):
                    t.update_cell(k, col, val, update_width=True)
        empty = self.query_one("#runs-empty", EmptyState)
        empty.display, t.display = not keys, bool(keys)
        empty.update(
            "No runs yet.\n\nPress [b]d[/b] to run the demo: the tiny model learns the toy curriculum "
            "and its held-out pass@1 climbs live here (a few minutes on CPU).\n"
            "Press [b]n[/b] to launch a training run of your own (or `workbench train launch CONFIG`)."
        )
        if keys and self._selected not in keys:
            self._select(keys[0])
        elif not keys:
            self.query_one(RunMonitor).clear_stats("[dim]no run selected[/dim]")

    @on(DataTable.RowHighlighted, "#runs")
    def _run_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key and event.row_key.value:
            self._select(str(event.row_key.value))

    def _select(self, run_id: str) -> None:
        from engine.runs import MetricsReader, RunDir, TextTail

        if run_id == self._selected:
            return
        self._selected = run_id
        run = RunDir(self.ws.runs_dir / run_id)
        with self._io:
            self._generation += 1
            # the monitor keeps the records it charts; the reader only feeds it what is new
            self._readers = (MetricsReader(run.metrics_path, keep=1), TextTail(run.stdout_log, keep=400))
        info = run.read_info()
        tasks = info.get("tasks") or list((run.read_mixture() or {}).get("tasks") or [])
        self.query_one(RunMonitor).reset(run_id, [str(t) for t in tasks])
        self._poll()

    # -- polling (thread worker) ----------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="runs-poll", name="runs refresh")
    def _poll(self) -> None:
        if self._polling:
            return
        self._polling = True
        try:
            self._poll_once()
        except Exception as e:  # noqa: BLE001 - a half-written or foreign folder must not flood the error dialog
            msg = f"runs refresh: {e}"
            if msg != getattr(self, "_last_poll_error", None):
                self._last_poll_error = msg
                self.app.notify(msg, severity="warning")  # (a Notify message: safe from a thread)
        finally:
            self._polling = False

    def _poll_once(self) -> None:
        from engine.runs import RunDir, list_runs, run_summary

        summaries = [run_summary(r) for r in list_runs(self.ws.runs_dir)]
        payload: dict[str, Any] = {"summaries": summaries}
        with self._io:
            gen, run_id, readers = self._generation, self._selected, self._readers
            if run_id and readers:
                reader, tail = readers
                resets = reader.resets
                payload.update(records=reader.read_new(), lines=tail.read_new(), reset=reader.resets != resets)
                run = RunDir(self.ws.runs_dir / run_id)
                mine = next((x for x in summaries if x.id == run_id), None)
                payload.update(status=run.read_status(), summary=mine or run_summary(run), data=run.read_data_report())
        if time.time() - self._last_gpu >= self.GPU_EVERY_S:
            from engine.train.gpu import gpu_snapshot

            payload["gpu"] = gpu_snapshot()
            self._last_gpu = time.time()
        self.post_message(Polled(gen, run_id, payload))  # dropped when the screen is gone

    def on_polled(self, message: Polled) -> None:
        gen, run_id, payload = message.generation, message.run_id, message.payload
        if not self.is_mounted:
            return
        self._show_table(payload["summaries"])
        if "gpu" in payload:
            self.query_one(GpuPanel).show(payload["gpu"])
        if gen != self._generation or run_id != self._selected or "summary" not in payload:
            return  # the selection changed meanwhile: the next poll brings the new run's data
        mon = self.query_one(RunMonitor)
        mon.add(payload["records"], payload["lines"], reset=payload["reset"])
        mon.show_stats(payload["summary"], payload["status"], payload.get("data"))

    # -- actions --------------------------------------------------------------------------------------
    def _run(self) -> Any:
        from engine.runs import RunDir

        if not self._selected:
            self.notify("no run selected", severity="warning")
            return None
        return RunDir(self.ws.runs_dir / self._selected)

    def _live_run(self) -> Any:
        """The selected run if its process is alive; otherwise say why and return None."""
        run = self._run()
        if run is not None and not _live(run):
            self.notify(f"{run.id} is not running ({run.state().value})", severity="warning")
            return None
        return run

    def action_launch(self) -> None:
        from engine.train.presets import preset_names
        from screens.runs_launch import LaunchForm

        names = preset_names()
        default = "tiny-cpu-demo" if self.ws.config.workspace.demo and "tiny-cpu-demo" in names else names[0]

        def done(result: dict | None) -> None:
            if result:
                self.notify(f"launching {result['name']} …", timeout=4)
                self._launch(result["config_path"])

        self.app.push_screen(LaunchForm(self.ws, names, default), done)

    def _launch(self, config_path: str) -> None:
        """`workbench train launch` in a subprocess: it checks the environment (importing torch,
        which the app never does), creates the run and starts it detached, then exits."""
        self._job.run_command(
            "launching ...",
            workbench_argv(self.ws.root, "train", "launch", config_path, "--json"),
            kind="launch",
            name="launch",
            json_result=True,
        )

    @property
    def _job(self) -> JobPanel:
        return self.query_one("#runs-job", JobPanel)

    @on(JobPanel.Finished, "#runs-job")
    def _job_finished(self, message: JobPanel.Finished) -> None:
        self._job.show("")
        res, out = message.result, message.result.done
        if message.cancelled:
            return
        if message.job == "launch":
            if res.rc != 0 or not out.get("ok"):
                failed = [f"{c['name']}: {c['message']}" for c in out.get("checks", []) if c.get("status") == "fail"]
                self.app.show_error("launch refused", "\n".join(failed) or res.failure("train launch"))  # type: ignore[attr-defined]  # the App is WorkbenchApp (screens never import it)
                return
            self.notify(f"launched {out['run']} (pid {out['pid']})", timeout=6)
            self._after_launch(out["run"])
        elif res.rc != 0:
            what = "demo failed to start" if message.job == "demo" else "merge failed"
            self.app.show_error(what, res.failure(what))  # type: ignore[attr-defined]  # the App is WorkbenchApp (screens never import it)
        elif message.job == "demo":
            self._after_demo_start(out["run"])
        elif message.job == "merge":
            self.notify(f"merged {out['checkpoint']} into {out['path']}", timeout=8)

    def _after_launch(self, run_id: str) -> None:
        from engine.runs import list_runs, run_summary

        self._show_table([run_summary(r) for r in list_runs(self.ws.runs_dir)])
        t = self.query_one("#runs", DataTable)
        for i, k in enumerate(t.rows):
            if str(k.value) == run_id:
                t.move_cursor(row=i)
        self._select(run_id)

    def action_stop(self) -> None:
        from screens.dialogs import ConfirmDialog

        run = self._live_run()
        if run is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                from engine.runs import control

                control.request(run, "stop")
                self.notify(f"stop requested: {run.id} saves a checkpoint, then exits")

        self.app.push_screen(
            ConfirmDialog(f"Stop {run.id}?\nIt saves a checkpoint first and can be resumed (R)."), done
        )

    def action_save(self) -> None:
        from engine.runs import control

        run = self._live_run()
        if run is None:
            return
        control.request(run, "save")
        self.notify(f"save requested: {run.id} saves a checkpoint after its current step")

    def action_kill(self) -> None:
        from screens.dialogs import ConfirmDialog

        run = self._run()
        if run is None or not _live(run):
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._kill(run)

        self.app.push_screen(
            ConfirmDialog(f"Kill {run.id} now, without saving?\nIt resumes from its last checkpoint."), done
        )

    @work(thread=True, exit_on_error=False, group="runs-kill", name="kill")
    def _kill(self, run: Any) -> None:
        from engine.runs import control

        state = control.kill(run)
        self.app.notify(f"{run.id}: {state.value}")  # (a Notify message: safe from a thread)

    def action_resume(self) -> None:
        run = self._run()
        if run is not None:
            self._resume(run)

    @work(thread=True, exit_on_error=False, group="runs-resume", name="resume")
    def _resume(self, run: Any) -> None:
        from engine.train.launch import launch, resume_plan

        pid = launch(run, resume_plan(run))
        self.app.notify(f"resumed {run.id} (pid {pid})")

    def action_demo(self) -> None:
        self.notify("preparing the demo (tiny model, toy datasets, mixture) …", timeout=6)
        self._demo()

    def _demo(self) -> None:
        # A subprocess: preparing imports the data stack and transformers, which stay out of the app.
        self._job.run_command(
            "preparing the demo ...",
            workbench_argv(self.ws.root, "demo", "run", "--detach", "--json"),
            kind="demo",
            name="demo",
            json_result=True,
        )

    def _after_demo_start(self, run_id: str) -> None:
        self.refresh_data()
        self._select(run_id)
        self.notify(f"demo {run_id} started: loss and pass@1 (chart tab 'pass@1') update live", timeout=8)

    def action_merge(self) -> None:
        run = self._run()
        if run is not None:
            self.notify(f"merging the best checkpoint of {run.id} …", timeout=4)
            self._merge(run.id)

    def _merge(self, run_id: str) -> None:
        self._job.run_command(
            f"merging {run_id} ...",
            workbench_argv(self.ws.root, "train", "merge", run_id, "--json"),
            kind="merge",
            name="merge",
            json_result=True,
        )

    def action_next_chart(self) -> None:
        tabs = self.query_one("#monitor-tabs", TabbedContent)
        ids = [f"tab-{t}" for t, _, _ in CHARTS]
        cur = tabs.active if tabs.active in ids else ids[0]
        tabs.active = ids[(ids.index(cur) + 1) % len(ids)]

    def action_tasks(self) -> None:
        toggles = self.query_one("#task-toggles", SelectionList)
        toggles.focus()
        if toggles.highlighted is None and toggles.option_count:
            toggles.highlighted = 0

    def action_toggle_gpu(self) -> None:
        # a screen class, not the panel's own display: the layout hides it by default below 140
        # columns, and the user's choice holds across resizes
        shown = self.query_one(GpuPanel).display
        self.set_class(not shown, "-gpu-on")
        self.set_class(shown, "-gpu-off")

    def palette_commands(self) -> list[PaletteCommand]:
        cmds = [
            PaletteCommand("runs: launch a training run", "Open the launch form", self.action_launch),
            PaletteCommand(
                "demo: run the demo", "Train the tiny model on the toy curriculum; watch pass@1 climb", self.action_demo
            ),
            PaletteCommand(
                "runs: show or hide the GPU panel", "GPU utilisation and free memory", self.action_toggle_gpu
            ),
        ]
        if self._selected:
            cmds += [
                PaletteCommand("runs: stop the selected run", "Save a checkpoint, then exit", self.action_stop),
                PaletteCommand("runs: save a checkpoint now", "The run keeps training", self.action_save),
                PaletteCommand("runs: resume the selected run", "From its newest checkpoint", self.action_resume),
                PaletteCommand(
                    "runs: merge the best checkpoint", "LoRA merged into a plain model folder", self.action_merge
                ),
            ]
        return cmds


def _live(run: Any) -> bool:
    from engine.runs import RunState

    return run.state() in (RunState.RUNNING, RunState.STOPPING, RunState.PENDING)
