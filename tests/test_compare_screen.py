"""The Compare screen, driven with Textual's pilot over a fixture workspace: the matrix, its
sorting, picking two rows for a comparison, marking the checkpoint to submit, and building the
submission in a background `workbench submit build` process."""

from __future__ import annotations

import asyncio
import json

from textual.widgets import DataTable, Static

from engine.workspace import Workspace
from tests.test_compare_fixtures import compare_ws  # noqa: F401
from workbench.app import WorkbenchApp

SIZE = (170, 46)


def _static(screen, wid: str) -> str:
    return str(screen.query_one(wid, Static).render())


def _cells(screen, row: int) -> list[str]:
    return [str(c) for c in screen.query_one("#matrix", DataTable).get_row_at(row)]


async def _settle(app, pilot, t: float = 0.2) -> None:
    await pilot.pause(t)
    try:
        await app.workers.wait_for_complete()
    except Exception:  # noqa: BLE001 - a failing worker is asserted on by the test itself
        pass
    await pilot.pause(0.1)


async def test_empty_state_names_the_next_keys(workspace: Workspace) -> None:
    app = WorkbenchApp(workspace, build_demo=False, start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        text = _static(app.screen, "#compare-empty")
        assert "No checkpoints or validations yet" in text and "press 3" in text and "(4, then v)" in text
        assert not app.screen.query_one("#matrix", DataTable).display
        await pilot.press("b")      # nothing marked: told what to do, nothing starts
        await pilot.pause(0.1)
        assert not app.screen._job.busy and not (workspace.root / "submissions").exists()


async def test_matrix_sort_pick_compare(compare_ws) -> None:
    ws = compare_ws["ws"]
    app = WorkbenchApp(ws, build_demo=False, start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        s = app.screen
        table = s.query_one("#matrix", DataTable)
        assert table.row_count == 5
        headers = [str(c.label) for c in table.columns.values()]
        assert headers[:5] == ["run", "step", "validation", "contest", "pass@1"] and "syn-py" in headers
        assert headers[-2:] == ["valid loss", "train p@1"] and "mbpp" in headers
        first = _cells(s, 0)
        assert first[0] == "lora-b" and first[2] == "not validated" and first[-2] == "1.1000"
        assert "not validated yet" in _static(s, "#compare-detail")
        score = compare_ws["v200"].summary()["contest_score"]
        assert [f"{score:.4f}"] == [c[3] for c in (_cells(s, i) for i in range(5)) if c[3] == f"{score:.4f}"]
        # the partial validation: no score, the missing tasks named
        table.move_cursor(row=3)
        await _settle(app, pilot)
        assert _cells(s, 3)[3] == "2/13"
        detail = _static(s, "#compare-detail")
        assert "11 of 13 contest tasks missing" in detail and "fix-rs" in detail and "on a fixed" not in detail
        # s: sort by contest score, best first; S reverses (missing values stay last)
        await pilot.press("s")
        await _settle(app, pilot)
        assert [r.validation for r in s._view[:2]] == [compare_ws["v200"].id, compare_ws["v100"].id]
        assert "contest ▼" in [str(c.label) for c in table.columns.values()]
        assert "sorted by contest ▼" in _static(s, "#matrix-info")
        await pilot.press("S")
        await _settle(app, pilot)
        assert [r.validation for r in s._view[:2]] == [compare_ws["v100"].id, compare_ws["v200"].id]
        assert s._view[-1].contest_score is None
        # space picks A (step 100) and B (step 200): gains, losses and the verdict
        table.move_cursor(row=0)
        await pilot.press("space")
        table.move_cursor(row=1)
        await pilot.press("space")
        await _settle(app, pilot, 0.3)
        assert _cells(s, 0)[0].startswith("[A]") and _cells(s, 1)[0].startswith("[B]")
        text = _static(s, "#compare-detail")
        assert "2468 problems in both" in text and "95% CI [" in text and "a real gain" in text
        assert "contest score: +" in text and "gained, 0 lost" in text
        changes = s.query_one("#changes", DataTable)
        assert changes.display and changes.row_count == int(text.split(" gained")[0].rsplit("\n", 1)[1])
        row = [str(c) for c in changes.get_row_at(0)]
        assert row[0] == "+" and row[1] == "humanevalsynthesize-python" and row[3] == "failed → passed"
        # a checkpoint without validation cannot be compared problem by problem: said so
        await pilot.press("escape")
        table.move_cursor(row=0)
        await pilot.press("space")
        table.move_cursor(row=next(i for i, r in enumerate(s._view) if r.run == compare_ws["run_b"].id))
        await pilot.press("space")
        await _settle(app, pilot)
        assert "lora-b step 150: not validated yet" in _static(s, "#compare-detail")
        assert not changes.display


async def test_mark_and_build_from_the_screen(compare_ws) -> None:
    ws, run_a = compare_ws["ws"], compare_ws["run_a"]
    app = WorkbenchApp(ws, build_demo=False, start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        s = app.screen
        table = s.query_one("#matrix", DataTable)
        idx = next(i for i, r in enumerate(s._view) if r.validation == compare_ws["v200"].id)
        table.move_cursor(row=idx)
        await pilot.press("m")
        await _settle(app, pilot)
        mark = json.loads((ws.root / "submission.json").read_text())
        assert (mark["run"], mark["step"], mark["validation"]) == (run_a.id, 200, compare_ws["v200"].id)
        marked = [i for i, r in enumerate(s._view) if r.marked]
        assert len(marked) == 2 and all(_cells(s, i)[0].startswith("★") for i in marked)
        assert "marked: " in _static(s, "#matrix-info")
        await pilot.press("b")
        await _settle(app, pilot)
        from screens.dialogs import ConfirmDialog

        assert isinstance(app.screen, ConfirmDialog) and "no generation needed" in app.screen.question
        await pilot.press("y")
        for _ in range(120):            # the build runs as a subprocess (`workbench submit build`)
            await pilot.pause(0.25)
            if not s._job.busy and "ready to submit" in _static(s, "#build-label"):
                break
        await _settle(app, pilot)
        label = _static(s, "#build-label")
        assert "ready to submit" in label and f"reused: validation {compare_ws['v200'].id}" in label
        z = ws.root / "submissions" / "lora-a-step200" / "generations_lora-a-step200.zip"
        assert z.is_file()
        # m on a marked row removes the mark
        table.move_cursor(row=idx)
        await pilot.press("m")
        await _settle(app, pilot)
        assert not (ws.root / "submission.json").exists() and not any(r.marked for r in s._view)


async def test_bindings_and_palette(compare_ws) -> None:
    from screens.compare import CompareScreen

    for b in CompareScreen.BINDINGS:
        assert b.id and b.id.startswith("compare.") and b.tooltip
    keys = {b.key for b in CompareScreen.BINDINGS}
    assert {"s", "S", "space", "m", "b"} <= keys
    app = WorkbenchApp(compare_ws["ws"], build_demo=False, start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        cmds = app.screen.palette_commands()
        titles = {c.title for c in cmds}
        assert {"compare: mark to submit", "compare: build submission", "compare: sort by contest score"} <= titles
        assert all(c.title.startswith("compare: ") and c.help for c in cmds)
        next(c for c in cmds if c.title == "compare: sort by valid loss").callback()
        await asyncio.sleep(0)
        assert [r.valid_loss for r in app.screen._view][:2] == [0.9, 0.9]


async def test_a_subset_score_is_labelled_as_one(compare_ws) -> None:
    """All contest tasks on a fixed share of their problems (contest-quick): the cell and the
    details say "subset", never "contest score"."""
    from engine.validate.tasks import CONTEST_TASKS, contest_size, contest_task_size
    from tests.test_compare_fixtures import ckpt_info, contest_problems, passes, write_validation

    ws = compare_ws["ws"]
    quick = write_validation(ws, label="a200-cq", checkpoint=ckpt_info(compare_ws["run_a"], 200, compare_ws["base"]),
                             problems=contest_problems(per_task=5), solved=passes(0.5, 6), taskset="contest-quick",
                             totals={t: contest_task_size(t) for t in CONTEST_TASKS})
    app = WorkbenchApp(ws, build_demo=False, start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        s = app.screen
        i = next(k for k, r in enumerate(s._view) if r.validation == quick.id)
        assert _cells(s, i)[3].endswith(f"subset 65/{contest_size()}")
        s.query_one("#matrix", DataTable).move_cursor(row=i)
        await _settle(app, pilot)
        detail = _static(s, "#compare-detail")
        assert f"subset (65 of {contest_size()} problems): mean pass@1" in detail
        assert "predicted contest score" not in detail and "(not the contest score)" in detail
