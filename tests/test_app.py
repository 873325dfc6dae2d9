"""The app shell, driven headless with Textual's pilot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.runs import MetricsWriter, RunState, create_run
from engine.workspace import Workspace
from tests.conftest import ROOT
from workbench.app import WorkbenchApp

SIZE = (130, 36)


def _text(app) -> str:
    import html

    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


async def test_visit_all_screens_help_palette_quit(workspace: Workspace) -> None:
    app = WorkbenchApp(workspace, build_demo=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.current_mode == "datasets"
        shot = _text(app)
        for name in ("Datasets", "Mixtures", "Runs", "Validation", "Compare"):
            assert name in shot
        assert "magicoder_evol_instruct_110k" in shot  # the real catalog is shown
        for key, mode in (("2", "mixtures"), ("3", "runs"), ("4", "validation"), ("5", "compare"), ("1", "datasets")):
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode
        await pilot.press("tab")
        await pilot.pause()
        assert app.current_mode == "mixtures"
        await pilot.press("shift+tab")
        await pilot.pause()
        assert app.current_mode == "datasets"
        # empty states tell the next step
        await pilot.press("3")
        await pilot.pause()
        assert "No runs yet" in _text(app)
        # help lists the bindings of the current screen with their ids
        await pilot.press("question_mark")
        await pilot.pause()
        from screens.dialogs import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        ids = {row[2] for row in app.screen.rows}
        assert {"app.quit", "app.help", "screen.refresh", "app.screen.runs", "app.screen.next"} <= ids
        shot = _text(app)
        assert "app.quit" in shot and "Quit (running trainings keep going)" in shot
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        # palette offers screen switching; choosing one switches
        await pilot.press("ctrl+p")
        await pilot.pause()
        from textual.command import CommandPalette

        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"go: compare")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "compare"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)


async def test_runs_screen_reads_run_directory(workspace: Workspace) -> None:
    run = create_run(workspace.runs_dir, name="attached")
    with MetricsWriter(run.metrics_path) as w:
        w.log(7, {"loss": 0.4321, "eta_s": 125})
    run.write_status(RunState.COMPLETED, step=7, total_steps=7)
    run.stdout_log.write_text("hello from the trainer\n")
    app = WorkbenchApp(workspace, build_demo=False, start_mode="runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        shot = _text(app)
        assert "attached" in shot and "completed" in shot and "0.4321" in shot and "7/7" in shot
        assert "hello from the trainer" in shot


async def test_worker_errors_reach_one_dialog(workspace: Workspace) -> None:
    from textual import work

    from screens.dialogs import ErrorDialog

    app = WorkbenchApp(workspace, build_demo=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen

        @work(thread=True, exit_on_error=False, name="exploding task")
        def boom(self) -> None:
            raise ValueError("bad input.jsonl:3: field 'output' missing")

        boom(screen)
        try:
            await app.workers.wait_for_complete()
        except Exception:
            pass
        await pilot.pause(0.2)
        assert isinstance(app.screen, ErrorDialog)
        assert "field 'output' missing" in _text(app)


def test_app_run_does_not_import_torch(tmp_path: Path) -> None:
    """Start the app headless over every screen in a fresh process: no torch, no transformers."""
    code = f"""
import asyncio, sys
from engine.workspace import Workspace
from workbench.app import WorkbenchApp
ws = Workspace.init({str(tmp_path / 'ws')!r})
async def main():
    app = WorkbenchApp(ws, build_demo=False)
    async with app.run_test(size=(120, 30)) as pilot:
        for k in "12345":
            await pilot.press(k)
            await pilot.pause()
asyncio.run(main())
print("HEAVY", sorted({{"torch", "transformers", "datasets", "peft"}} & set(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout


async def test_add_dataset_form_validates_and_adds(workspace: Workspace, tmp_path: Path) -> None:
    from screens.forms import AddDatasetForm

    data = tmp_path / "mine.jsonl"
    data.write_text('{"instruction": "say hi", "output": "hi"}\n')
    app = WorkbenchApp(workspace, build_demo=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, AddDatasetForm)
        form.query_one("#name").value = "mine"
        form.query_one("#source").value = str(data)
        form.query_one("#format").value = "nonsense"
        form.action_submit()
        await pilot.pause()
        assert isinstance(app.screen, AddDatasetForm)
        assert "nonsense" in str(form.query_one("#form-error").render())
        form.query_one("#format").value = "alpaca"
        form.action_submit()
        await pilot.pause(0.3)
        # a local file whose rows are not a known format is refused, as by `workbench data add`
        bad = tmp_path / "odd.jsonl"
        bad.write_text('{"foo": 1, "bar": 2}\n')
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        form.query_one("#name").value = "odd"
        form.query_one("#source").value = str(bad)
        form.action_submit()
        await pilot.pause(0.5)
        from screens.dialogs import ErrorDialog

        assert isinstance(app.screen, ErrorDialog) and "foo" in app.screen.message
    cfg = Workspace.open(workspace.root).config
    entry = cfg.datasets["mine"]
    assert entry.path == str(data) and entry.format == "alpaca" and entry.hub is None
    assert "odd" not in cfg.datasets
