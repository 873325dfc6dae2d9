"""The Runs screen, driven headless: table, live monitor fed incrementally from metrics.jsonl,
per-task charts with task toggles, stop / save-now keys, the GPU panel's "no GPU" state, the
validated launch form with its exact command, and a real launch from the form that a second
app session re-attaches to from the run directory alone."""

from __future__ import annotations

import asyncio
import html
import os
import time
from pathlib import Path

from engine.runs import MetricsWriter, RunDir, RunState, create_run
from engine.runs import control
from engine.workspace import Workspace
from tests.train_support import toy_build
from workbench.app import WorkbenchApp

SIZE = (150, 44)


def _text(app) -> str:
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


def _fake_run(ws: Workspace, steps: int = 20) -> RunDir:
    run = create_run(ws.runs_dir, name="monitor-me")
    run.update_info(pid=os.getpid(), tasks=["python", "javascript"])  # "alive": this test process
    with MetricsWriter(run.metrics_path) as w:
        w.log(0, {"valid_loss/python": 8.0, "valid_loss/javascript": 8.2, "valid_loss": 8.1})
        for s in range(1, steps + 1):
            w.log(s, {"loss": 8 - s * 0.1, "loss/python": 8 - s * 0.12, "loss/javascript": 8 - s * 0.08,
                      "weight/python": 0.5, "weight/javascript": 0.5, "lr": 1e-3, "grad_norm": 1.0,
                      "tokens_per_s": 12345.0, "gpu_mem_gb": None, "eta_s": 90})
    run.write_status(RunState.RUNNING, step=steps, total_steps=100, eta_s=90, phase="training")
    run.stdout_log.write_text("[12:00:00] step 20/100 loss 6.0\n")
    return run


async def test_monitor_charts_toggles_and_control_keys(workspace: Workspace) -> None:
    run = _fake_run(workspace)
    app = WorkbenchApp(workspace, build_demo=False, start_mode="runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        from screens.runs_monitor import RunMonitor

        mon = app.screen.query_one(RunMonitor)
        shot = _text(app)
        assert "monitor-me" in shot and "running" in shot and "20/100" in shot
        assert "12,345" in shot and "1m30s" in shot and "step 20/100 loss 6.0" in shot
        assert len(mon.records) == 21
        assert [k for _, k in mon.chart_keys("loss")] == ["loss/python", "loss/javascript", "loss"]
        assert "Train loss" in shot and "python" in shot
        # incremental: new lines appended to metrics.jsonl arrive without re-reading the file
        with MetricsWriter(run.metrics_path) as w:
            w.log(21, {"loss": 5.8, "loss/python": 5.4, "loss/javascript": 6.3, "lr": 9e-4})
            w.log(25, {"valid_loss/python": 5.0, "valid_loss/javascript": 6.0, "valid_loss": 5.5})
        run.write_status(RunState.RUNNING, step=100, total_steps=100, eta_s=5, phase="training")
        await pilot.pause(1.5)
        assert len(mon.records) == 23 and mon.series("loss/python")[0][-1] == 21
        # cells that grow while the run goes on widen their column instead of being cut
        from textual.widgets import DataTable

        table = app.screen.query_one("#runs", DataTable)
        step_col = list(table.columns.values())[2]
        assert table.get_row_at(0)[2] == "100/100" and step_col.content_width >= len("100/100")
        assert mon.series("valid_loss/javascript") == ([0, 25], [8.2, 6.0])
        # toggle python off in the task list: its series leave the charts
        await pilot.press("t")
        await pilot.press("space")
        await pilot.pause(0.2)
        assert mon.selected_tasks() == ["javascript"]
        assert [k for _, k in mon.chart_keys("valid")] == ["valid_loss/javascript", "valid_loss"]
        await pilot.press("escape")
        app.screen.query_one("#runs").focus()
        # chart tabs cycle
        await pilot.press("v")
        await pilot.pause(0.2)
        assert app.screen.query_one("#monitor-tabs").active == "tab-valid"
        # save now, then stop (confirmed)
        await pilot.press("c")
        await pilot.pause(0.1)
        assert control.pending(run) == {"save"}
        await pilot.press("s")
        await pilot.pause(0.2)
        from screens.dialogs import ConfirmDialog

        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause(0.2)
        assert control.pending(run) == {"save", "stop"}
        # GPU panel: this machine's state, stated plainly
        from engine.train.gpu import gpu_snapshot

        await pilot.pause(0.3)
        if not gpu_snapshot().available:
            assert "no GPU" in _text(app)
        # help lists the screen's keys with their ids
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        ids = {row[2] for row in app.screen.rows}
        assert {"runs.launch", "runs.stop", "runs.save", "runs.resume", "runs.tasks", "runs.chart.next"} <= ids
        await pilot.press("escape")


async def test_launch_form_validates_and_shows_the_command(workspace: Workspace, tiny_model_dir: Path) -> None:
    (workspace.root / "models").mkdir()
    (workspace.root / "models" / "tiny").symlink_to(tiny_model_dir)
    toy_build(workspace.root / "mixtures" / "toy" / "builds")
    app = WorkbenchApp(workspace, build_demo=False, start_mode="runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause(0.3)
        from textual.widgets import Button, Input, Select

        from screens.runs_launch import LaunchForm

        form = app.screen
        assert isinstance(form, LaunchForm)
        form.query_one("#s-preset", Select).value = "tiny-cpu-demo"
        await pilot.pause(0.2)
        assert form.query_one("#f-model", Input).value == "models/tiny"
        shot = _text(app)
        assert "engine.train.run" in shot and "train launch" in shot   # the exact command
        assert not form.query_one("#launch", Button).disabled
        form.query_one("#f-lr", Input).value = "fast"
        await pilot.pause(0.1)
        assert "is not a number" in _text(app) and form.query_one("#launch", Button).disabled
        form.query_one("#f-lr", Input).value = "3"
        await pilot.pause(0.1)
        assert "optim.lr" in _text(app)
        form.query_one("#f-lr", Input).value = "1e-3"
        form.query_one("#f-mixture", Input).value = "nope"
        await pilot.pause(0.1)
        assert "no mixture 'nope'" in _text(app)
        form.query_one("#f-mixture", Input).value = "toy"
        form.query_one("#f-gpus", Input).value = "2"
        form.query_one("#s-ds", Select).value = "2"
        await pilot.pause(0.1)
        assert "accelerate.commands.launch" in _text(app)  # GPUs: accelerate + DeepSpeed
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, LaunchForm)


async def test_launch_from_form_then_reattach_in_a_new_session(workspace: Workspace, tiny_model_dir: Path) -> None:
    (workspace.root / "models").mkdir()
    (workspace.root / "models" / "tiny").symlink_to(tiny_model_dir)
    # the preset's in-training validation scores the demo's held-out toy problems (task set `toy`)
    (workspace.root / "data").symlink_to(tiny_model_dir.parent.parent / "data")
    from engine.workspace import TaskSetEntry

    workspace.config.tasksets["toy"] = TaskSetEntry(tasks=["data/toy/heldout/python.jsonl",
                                                           "data/toy/heldout/javascript.jsonl"])
    workspace.save()
    toy_build(workspace.root / "mixtures" / "toy" / "builds")
    app = WorkbenchApp(workspace, build_demo=False, start_mode="runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause(0.3)
        from textual.widgets import Input, Select

        form = app.screen
        form.query_one("#s-preset", Select).value = "tiny-cpu-demo"
        await pilot.pause(0.2)
        form.query_one("#f-steps", Input).value = "4"
        form.query_one("#f-seq", Input).value = "128"
        form.query_one("#f-mb", Input).value = "2"
        await pilot.pause(0.1)
        await pilot.press("ctrl+l")
        deadline = time.time() + 120
        runs: list = []
        while time.time() < deadline and not runs:
            await pilot.pause(0.5)
            runs = [p for p in workspace.runs_dir.iterdir() if (p / "run.json").exists()]
        assert runs, "the form did not launch a run"
        assert list((workspace.runs_dir / ".configs").glob("tiny-cpu-demo-*.toml"))
    # the app is gone; the run is not
    run = RunDir(runs[0])
    deadline = time.time() + 180
    while time.time() < deadline and run.state() not in (RunState.COMPLETED, RunState.FAILED, RunState.LOST):
        await asyncio.sleep(0.5)
    assert run.state() == RunState.COMPLETED, run.stdout_log.read_text()[-2000:]
    app2 = WorkbenchApp(workspace, build_demo=False, start_mode="runs")
    async with app2.run_test(size=SIZE) as pilot:
        await pilot.pause(0.8)
        shot = _text(app2)
        assert "tiny-cpu-demo" in shot and "completed" in shot and "4/4" in shot
        assert "completed 4 steps" in shot  # the log tail, from stdout.log
