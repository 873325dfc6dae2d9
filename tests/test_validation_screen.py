"""The Validation screen, driven headless: a validation's scores and per-problem table, filter,
sort by pass rate, a failing case side by side and stepping to the next failing case; starting
a validation from the form runs `workbench eval run` in a background process with progress.
(The replayed validations need no torch; the start test loads the tiny model in a subprocess.)"""

from __future__ import annotations

import asyncio
import html
import time

import pytest

from engine.validate import run_validation
from engine.validate.generate import GenSettings
from tests.validate_support import ReplayBackend, toy_answerer, toy_rows, write_toy
from workbench.app import WorkbenchApp

SIZE = (170, 48)


def _text(app) -> str:
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


async def _settle(app, pilot) -> None:
    for _ in range(3):
        await pilot.pause(0.1)
        await app.workers.wait_for_complete()
    await pilot.pause(0.1)


@pytest.fixture
def reviewed(workspace):
    rows = toy_rows(6)
    path = write_toy(workspace.root / "data" / "toy.jsonl", rows)
    res = run_validation(ws=workspace, loaded=ReplayBackend(toy_answerer(rows)), tasks=str(path), fmt="chat",
                         label="replay", settings=GenSettings(max_new_tokens=32))
    return workspace, res, rows


async def test_table_filter_sort_case_and_next_failing(reviewed) -> None:
    from screens.validation_case import CaseScreen

    ws, res, rows = reviewed
    app = WorkbenchApp(ws, build_demo=False, start_mode="validation")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        shot = _text(app)
        assert "replay" in shot and "pass@1 0.667" in shot
        assert "python" in shot and "javascript" in shot and "1 problems pass only with" not in shot
        assert "0 problems pass only with it, 1 only with robust" in shot
        table = screen.query_one("#problems")
        assert table.row_count == 12
        # filter: JavaScript failures only
        await pilot.press("slash", *"lang:js fail")
        await pilot.pause(0.2)
        assert table.row_count == 2 and "2 of 12 samples" in _text(app)
        await pilot.press("enter", "escape")
        await pilot.pause(0.2)
        assert table.row_count == 12
        # sort by test-case pass rate: worst first
        await pilot.press("s")
        await pilot.pause(0.2)
        rates = [float(table.get_row_at(i)[4]) for i in range(table.row_count)]
        assert rates == sorted(rates) and rates[0] == 0.0 and rates[-1] == 1.0
        await pilot.press("s", "s")      # back to task order
        await pilot.pause(0.2)
        # n jumps to the next failing problem; enter opens it side by side
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("n")
        await pilot.pause(0.1)
        first_failing = f"toy/{rows[1]['task_id']}#0"
        assert screen._cursor_key() == first_failing
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, CaseScreen) and app.screen.key == first_failing
        shot = _text(app)
        for pane in ("Prompt as sent", "Raw output", "Program as executed", "Test", "Verdict and message"):
            assert pane in shot
        assert rows[1]["instruction"][:40] in shot                # the prompt as sent
        assert rows[1]["test_list"][0][:30] in shot               # the test
        assert "failed" in shot and "✗ case" in shot              # verdict and the failing case
        # step to the next failing case, then back to the table at that problem
        await pilot.press("n")
        await pilot.pause(0.2)
        second = app.screen.key
        assert second == f"toy/{rows[3]['task_id']}#0"
        assert rows[3]["instruction"][:40] in _text(app)
        await pilot.press("N")
        await pilot.pause(0.2)
        assert app.screen.key == first_failing
        await pilot.press("n", "n")
        await pilot.pause(0.2)
        flip_key = app.screen.key
        assert flip_key == f"toy/{rows[7]['task_id']}#0"
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.screen is screen and screen._cursor_key() == flip_key
        # the flipped problem: robust passes, compatible does not; `a` shows the other mode
        screen.query_one("#problems").move_cursor(row=11)
        await pilot.press("o")
        await pilot.pause(0.2)
        assert app.screen.key == f"toy/{rows[11]['task_id']}#0" and "flips to" in _text(app)
        await pilot.press("a")
        await pilot.pause(0.2)
        assert "post-processing: compatible" in _text(app)
        await pilot.press("escape")
        titles = [c.title for c in screen.palette_commands()]
        assert "validation: new" in titles and "validation: show post-processing flips" in titles


async def test_empty_state_and_a_running_validation(workspace) -> None:
    app = WorkbenchApp(workspace, build_demo=False, start_mode="validation")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        assert "No validations yet" in _text(app) and "Press v" in _text(app)
        # a validation started elsewhere shows up with its phase and progress
        from engine.fsutil import atomic_write_json
        from engine.validate.store import ValidationDir

        v = ValidationDir(workspace.validations_dir / "20990101-000000-cli-abcd")
        v.path.mkdir(parents=True)
        import os

        atomic_write_json(v.meta_json, {"status": "running", "created": time.time(), "pid": os.getpid(),
                                        "checkpoint": {"label": "cli"}, "taskset": {"name": "toy"}})
        v.write_progress("generate", 5, 20)
        await pilot.press("r")
        await _settle(app, pilot)
        assert "generate 5/20" in _text(app)


@pytest.mark.slow
async def test_start_a_validation_from_the_form(demo_root, tmp_path) -> None:
    """v -> form (workspace model, task set, limits) -> `workbench eval run` in the background
    with a progress bar -> the new validation is listed and selected when it finishes."""
    from engine.workspace import ModelEntry, Workspace
    from screens.validation_form import NewValidationForm

    ws = Workspace.init(tmp_path / "ws", name="form")
    rows = toy_rows(2)
    write_toy(ws.root / "data" / "toy.jsonl", rows)
    from engine.workspace import TaskSetEntry

    ws.config.models["tiny"] = ModelEntry(path=str(demo_root / "models" / "tiny"))
    ws.config.tasksets["toy"] = TaskSetEntry(tasks=["data/toy.jsonl"])
    ws.save()
    app = WorkbenchApp(ws, build_demo=False, start_mode="validation")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        await pilot.press("v")
        await pilot.pause(0.3)
        form = app.screen
        assert isinstance(form, NewValidationForm)
        assert form.query_one("#checkpoint").value == "tiny" and form.query_one("#tasks").value == "toy"
        form.query_one("#format").value = "chat"
        form.query_one("#max-new-tokens").value = "6"
        form.query_one("#limit").value = "x"
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert "limit: a whole number" in str(form.query_one("#form-error").content)
        assert app.screen is form                                  # nothing started
        form.query_one("#limit").value = "3"
        await pilot.press("ctrl+s")
        await pilot.pause(0.5)
        screen = app.screen
        seen: set[str] = set()
        deadline = time.monotonic() + 240
        started = False
        while True:
            runs = [w for w in app.workers if w.name == "validation run" and not w.is_finished]
            started |= bool(runs)
            text = _text(app)
            seen |= {p for p in ("loading model", "generating", "executing", "scoring") if p in text}
            if started and not runs:      # finished workers leave app.workers
                break
            assert time.monotonic() < deadline, "the validation did not finish in 4 minutes"
            await asyncio.sleep(0.3)
        assert seen, "no progress was shown"
        await _settle(app, pilot)
        from engine.validate import list_validations

        (v,) = list_validations(ws.validations_dir)
        assert v.status() == "completed" and v.meta()["format"]["name"] == "chat"
        assert v.meta()["taskset"]["tasks"]["toy"]["problems"] == 3
        assert screen._selected == v.id and screen.query_one("#problems").row_count == 3
        assert "done: pass@1" in _text(app)                 # a toy set: no contest task, no contest score


async def test_subset_label_infra_errors_ground_truth_and_the_full_contest_key(workspace) -> None:
    """A contest-quick-like validation reads "subset (N of M problems)" and never "contest
    score"; its infra errors are shown beside it; a set whose canonical solution fails is named
    in red; F scores the selected checkpoint on the full contest set."""
    from engine.validate.tasks import CONTEST_TASKS, contest_size, contest_task_size
    from tests.test_compare_fixtures import contest_problems, passes, write_validation

    quick = write_validation(workspace, label="quick", checkpoint={"model": "models/base", "adapter": None,
                                                                    "label": "base", "run": "r1", "step": 200},
                             problems=contest_problems(per_task=5), solved=passes(0.5, 7), taskset="contest-quick",
                             totals={t: contest_task_size(t) for t in CONTEST_TASKS},
                             infra=lambda t, i: t == "mbpp" and i == "11")
    rows = toy_rows(2)
    rows[0] = {**rows[0], "canonical_solution": rows[0]["canonical_solution"].replace("return", "return 1 +", 1)}
    path = write_toy(workspace.root / "data" / "toy.jsonl", rows)
    gt = run_validation(ws=workspace, loaded=ReplayBackend(toy_answerer(rows)), tasks=str(path), fmt="chat",
                        label="gt", settings=GenSettings(max_new_tokens=16), compare_modes=False)
    app = WorkbenchApp(workspace, build_demo=False, start_mode="validation")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        screen._focus_validation(quick.id)
        await _settle(app, pilot)
        shot = _text(app)
        assert f"subset 65/{contest_size()} (1 infra)" in shot                       # the list's cell
        assert f"subset (65 of {contest_size()} problems): mean pass@1" in shot     # the header
        assert "(not the contest score)" in shot and "contest score 0." not in shot
        assert "1 infra error counted as a failure" in shot
        started: list[list[str]] = []
        screen._start = started.append                                            # the argv F would run
        await pilot.press("F")
        await pilot.pause(0.1)
        (argv,) = started
        assert "--full" in argv and "--tasks" not in argv and argv[argv.index("--model") + 1] == "r1@200"
        screen._focus_validation(gt.id)
        await _settle(app, pilot)
        shot = _text(app)
        assert f"ground truth: toy: 1 of 4 canonical solutions fail: {rows[0]['task_id']} (failed)" in shot
