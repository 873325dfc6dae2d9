"""Snapshot tests (pytest-textual-snapshot): each screen in its filled state at 80×24, 120×36
and 200×50, and the run monitor mid-run, over the fixed workspace of tests/snapshot_fixture.py.
The SVGs are committed under tests/__snapshots__/: a layout change shows up in review.
Update them with `pytest tests/test_snapshots.py --snapshot-update` and read the diff.

Beside them, the layout behaviour the snapshots cannot assert: at 80×24 the chart keeps at
least 40 columns of plot and the problem table its key columns; a resize re-lays the screen
live; z zooms the focused pane and restores it on every screen; every modal fits 80×24."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from engine.workspace import Workspace
from tests.snapshot_fixture import FINISHED, FIXED_NOW, build_snapshot_workspace
from workbench.app import WorkbenchApp

SIZES = [(80, 24), (120, 36), (200, 50)]
SCREENS = ["datasets", "mixtures", "runs", "validation", "compare"]


@pytest.fixture(scope="module")
def snapshot_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    build_snapshot_workspace(home / "contest")
    return home / "contest"


@pytest.fixture(autouse=True)
def frozen_machine(monkeypatch: pytest.MonkeyPatch, snapshot_root: Path, tmp_path: Path) -> None:
    """What would differ between machines: home (the tab bar shows ~/contest), time zone,
    the hub cache, the GPUs."""
    from engine.train import gpu

    monkeypatch.setenv("HOME", str(snapshot_root.parent))
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    time.tzset()
    snap = gpu.GpuSnapshot(available=True, reason="", driver="550.54", taken_at=FIXED_NOW, gpus=[
        gpu.GpuInfo(index=0, name="NVIDIA H100 80GB HBM3", util_pct=87.0, mem_used_mib=39526, mem_total_mib=81559,
                    temp_c=61.0, power_w=412.0, compute_capability=(9, 0),
                    processes=[gpu.GpuProcess(pid=4242, name="python -m engine.train.run", used_mib=39000)])])
    monkeypatch.setattr(gpu, "gpu_snapshot", lambda: snap)
    yield
    monkeypatch.undo()
    time.tzset()


def make_app(root: Path, mode: str) -> WorkbenchApp:
    return WorkbenchApp(Workspace.open(root), build_demo=False, start_mode=mode, clock=lambda: FIXED_NOW)


async def settle(pilot: Any) -> None:
    """Wait for the screen's workers (and what their results start) instead of sleeping."""
    for _ in range(3):
        await pilot.pause(0.05)
        await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.1)


def before(*keys: str) -> Any:
    async def run(pilot: Any) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
    return run


# what each screen shows filled: the Datasets preview, the finished run on Runs
KEYS = {"datasets": ("v",), "runs": ("down",)}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", SCREENS)
def test_screen(snap_compare: Any, snapshot_root: Path, mode: str, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(snapshot_root, mode), terminal_size=size, run_before=before(*KEYS.get(mode, ())))


@pytest.mark.parametrize("size", SIZES[:2], ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_monitor_mid_run(snap_compare: Any, snapshot_root: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(snapshot_root, "runs"), terminal_size=size, run_before=before())


# -- behaviour at small sizes ------------------------------------------------------------------------
async def test_80x24_keeps_the_primary_content(snapshot_root: Path) -> None:
    from textual.widgets import DataTable
    from textual_plotext import PlotextPlot

    app = make_app(snapshot_root, "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plot = app.screen.query_one("#plot-loss", PlotextPlot)
        assert plot.region.width - 8 >= 40 and plot.region.height >= 6   # y-axis labels take ~8 columns
        stats = app.screen.query_one("#monitor-stats")
        assert stats.region.height <= 3
        await pilot.press("4")
        await settle(pilot)
        table = app.screen.query_one("#problems", DataTable)
        shown = 0
        for col in table.columns.values():
            shown += col.get_render_width(table)
            if shown > table.region.width:
                break
            last = str(col.label)
        assert [str(c.label) for c in table.columns.values()][:4] == ["task", "problem", "verdict", "tests"]
        assert last in ("tests", "rate", "time", "lang") and table.region.height >= 8
        footer = app.screen.query_one("KeyFooter")
        keys = [k.key for k in footer.query("FooterKey")]
        assert keys[0] == "v" and keys[-1] == "question_mark"


async def test_resize_re_lays_the_screen_live(snapshot_root: Path) -> None:
    app = make_app(snapshot_root, "runs")
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        runs, monitor = app.screen.query_one("#runs-pane"), app.screen.query_one("#run-detail-pane")
        assert app.screen.has_class("-wide", "-tall") and runs.region.y == monitor.region.y   # side by side
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert app.screen.has_class("-narrow", "-short") and not app.screen.has_class("-wide")
        assert runs.region.bottom <= monitor.region.y and monitor.region.width == 80   # stacked, full width
        assert app.screen.query_one("#monitor-stats").region.height <= 3
        await pilot.press("question_mark")     # a resize under a modal reaches the screen when it returns
        await pilot.resize_terminal(120, 36)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.has_class("-medium", "-tall")


@pytest.mark.parametrize("mode", SCREENS + [m for m in WorkbenchApp.MODES if m not in SCREENS])
async def test_z_zooms_the_focused_pane_and_restores_it(snapshot_root: Path, mode: str) -> None:
    app = make_app(snapshot_root, mode)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        if screen.focused is None:
            screen.focus_next()
        focused = screen.focused
        assert focused is not None
        await pilot.press("z")
        await pilot.pause()
        zoomed = screen.maximized
        assert zoomed is not None and focused in zoomed.walk_children(with_self=True)
        assert zoomed.region.width == 80 and zoomed.region.height >= 20
        assert zoomed.border_subtitle == "zoomed · z restores"
        await pilot.press("z")
        await pilot.pause()
        assert screen.maximized is None and screen.focused is focused and not zoomed.border_subtitle
        ids = {b.binding.id for b in screen.active_bindings.values()}
        assert "screen.zoom" in ids


async def test_zoom_on_the_case_screen(snapshot_root: Path) -> None:
    from screens.validation_case import CaseScreen

    app = make_app(snapshot_root, "validation")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#problems").focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("right_square_bracket", "z")
        await pilot.pause()
        assert app.screen.maximized is not None and app.screen.maximized.region.width == 80
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is None


def _fits(app: Any) -> None:
    box = app.screen.children[0]
    assert box.region.right <= 80 and box.region.bottom <= 24 and box.region.x >= 0 and box.region.y >= 0


async def test_every_modal_fits_80x24(snapshot_root: Path) -> None:
    app = make_app(snapshot_root, "datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # (screen key, key that opens the modal, the widget a user must reach)
        for screen_key, key, target in (("1", "a", "#ok"), ("1", "p", "#ok"), ("1", "question_mark", "#help-table"),
                                        ("2", "n", "#value"), ("3", "n", "#launch"), ("4", "v", "#ok"),
                                        ("3", "s", "#yes")):
            await pilot.press(screen_key)
            await settle(pilot)
            if key == "s":   # the stop dialog needs a live run: confirm dialogs share one layout
                from screens.dialogs import ConfirmDialog

                app.push_screen(ConfirmDialog("Stop mft-1b8?\nIt saves a checkpoint first and can be resumed (R)."))
            else:
                await pilot.press(key)
            await settle(pilot)
            assert app.screen.is_modal, (screen_key, key)
            _fits(app)
            widget = app.screen.query_one(target)
            widget.scroll_visible(animate=False)
            await pilot.pause()
            assert 0 <= widget.region.y and widget.region.bottom <= 24 and widget.region.right <= 80, (key, target)
            await pilot.press("escape")
            await settle(pilot)


def test_snapshot_workspace_is_the_same_every_time(tmp_path: Path) -> None:
    """Byte-identical files from two builds (what the snapshots rely on)."""
    a, b = build_snapshot_workspace(tmp_path / "a"), build_snapshot_workspace(tmp_path / "b")
    skip = {"data.parquet"}   # binary; compared through what the screens read: report.json and the rows
    files = sorted(p.relative_to(a.root) for p in a.root.rglob("*") if p.is_file() and p.name not in skip)
    assert files and files == sorted(p.relative_to(b.root) for p in b.root.rglob("*")
                                     if p.is_file() and p.name not in skip)
    differ = [str(f) for f in files if (a.root / f).read_bytes() != (b.root / f).read_bytes()]
    assert not differ
    assert os.path.isdir(a.runs_dir / FINISHED / "checkpoints" / "step-0000600")
