"""The Compare engine: the runs x checkpoints x validations matrix, sorting, the paired
bootstrap, problem-by-problem comparison, the submission mark, and the `workbench submit
table|diff|mark` commands. Fixture workspaces come from tests/test_compare_fixtures.py."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from engine.compare import (clear_mark, collect, compare_validations, find_row, mark_checkpoint, paired_bootstrap,
                            read_mark, sort_rows)
from engine.errors import InputError, WorkbenchError
from engine.validate.tasks import CONTEST_TASKS, contest_size, contest_task_size
from tests.test_compare_fixtures import ckpt_info, compare_ws, contest_problems, passes, write_validation  # noqa: F401


def _rows(m, **kw):
    return [r for r in m.rows if all(getattr(r, k) == v for k, v in kw.items())]


def test_matrix_rows_and_values(compare_ws) -> None:
    ws, run_a, run_b = compare_ws["ws"], compare_ws["run_a"], compare_ws["run_b"]
    m = collect(ws)
    assert m.tasks == CONTEST_TASKS           # contest tasks first, in contest order, once each
    # lora-b (newest run) first; a checkpoint without validation is one row with its loss only
    assert [(r.run_name, r.step, r.taskset) for r in m.rows] == [
        ("lora-b", 150, None), ("lora-a", 100, "contest"), ("lora-a", 200, "contest"), ("lora-a", 200, "quick"),
        (None, None, "quick")]
    (b150,) = _rows(m, run=run_b.id)
    assert b150.validation is None and b150.valid_loss == pytest.approx(1.1)      # from metrics.jsonl
    assert b150.pass_at_1 is None and b150.spec == f"{run_b.id}@150"
    a100, a200, a200q = _rows(m, run=run_a.id)
    s200 = compare_ws["v200"].summary()
    assert a200.contest_score == pytest.approx(s200["contest_score"]) and a200.contest_missing == []
    assert a200.tasks["mbpp"] == pytest.approx(s200["tasks"]["mbpp"]["pass@1"])
    assert a200.valid_loss == pytest.approx(0.9) and a200.valid_losses == {"code": 1.1, "mbpp": 0.7}
    # in-training pass@1: checkpoint.json first (it carries the hook's metrics), metrics.jsonl otherwise
    assert a200.train_pass == {"pass@1": 0.5, "pass@1/python": 0.6}
    assert a100.train_pass == {"pass@1": 0.25}
    # two of 13 contest tasks: no predicted score, the eleven missing are named
    assert a200q.contest_score is None and a200q.contest_tasks_scored == 2
    assert set(a200q.contest_missing) == set(CONTEST_TASKS) - {"humanevalsynthesize-python", "mbpp"}
    assert a200q.fraction == 0.2 and a200q.contest.score == pytest.approx(
        (a200q.tasks["humanevalsynthesize-python"] + a200q.tasks["mbpp"]) / 2)
    assert not a200q.contest.full and a200q.contest.scope == f"subset (10 of {contest_size()} problems)"
    base = m.rows[-1]
    assert base.run is None and base.checkpoint == "base" and base.spec == compare_ws["base"]
    assert m.mark is None and not any(r.marked for r in m.rows)


def test_matrix_keeps_validations_of_removed_checkpoints_and_hides_failed(compare_ws) -> None:
    import shutil

    ws, run_a = compare_ws["ws"], compare_ws["run_a"]
    shutil.rmtree(run_a.checkpoint_dir(100))          # retention removed it; its validation stays
    write_validation(ws, label="broken", checkpoint=ckpt_info(run_a, 200, compare_ws["base"]),
                     problems={"mbpp": ["11"]}, solved=passes(1, 0), status="failed")
    m = collect(ws)
    (a100,) = _rows(m, run=run_a.id, step=100)
    assert not a100.checkpoint_exists and a100.validation == compare_ws["v100"].id and a100.contest_score
    # checkpoint.json went with the folder: the loss comes from metrics.jsonl (per task only in checkpoint.json)
    assert a100.valid_loss == pytest.approx(1.25) and a100.valid_losses == {}
    assert m.failed_validations == 1 and len(m.rows) == 5


def test_subset_of_every_contest_task_is_labelled_and_ranks_after_full_scores(compare_ws) -> None:
    """contest-quick scores all contest tasks on a fixed share of their problems: never the contest score."""
    ws, run_a = compare_ws["ws"], compare_ws["run_a"]
    quick = write_validation(ws, label="a200-cq", checkpoint=ckpt_info(run_a, 200, compare_ws["base"]),
                             problems=contest_problems(per_task=5), solved=passes(0.9, 5), taskset="contest-quick",
                             totals={t: contest_task_size(t) for t in CONTEST_TASKS})
    m = collect(ws)
    (row,) = [r for r in m.rows if r.validation == quick.id]
    assert row.contest_score is None and row.contest is not None and not row.contest.full
    assert row.contest.cell().endswith(f"subset 65/{contest_size()}")
    ranked = sort_rows(m.rows, "contest", None, m.tasks)
    # its 0.9 beats the full-set scores (~0.2-0.3) but ranks after them: a subset never flatters
    assert [r.validation for r in ranked[:3]] == [compare_ws["v200"].id, compare_ws["v100"].id, quick.id]
    out = _cli(ws, "table", "--sort", "contest")
    assert out.exit_code == 0 and f"subset 65/{contest_size()}" in out.stdout
    data = json.loads(_cli(ws, "table", "--json").stdout)
    (j,) = [r for r in data["rows"] if r["validation"] == quick.id]
    assert j["contest_score"] is None and j["contest"]["label"].startswith(f"subset (65 of {contest_size()} problems)")
    out = _cli(ws, "diff", compare_ws["v200"].id, quick.id)      # compared on their 65 common problems
    assert out.exit_code == 0 and f"contest subset (65 of {contest_size()} problems): " in out.stdout
    full = _cli(ws, "diff", compare_ws["v100"].id, compare_ws["v200"].id)
    assert "\ncontest score: " in full.stdout


def test_sorting_best_first_missing_last(compare_ws) -> None:
    m = collect(compare_ws["ws"])
    by_contest = sort_rows(m.rows, "contest", None, m.tasks)
    assert [r.validation for r in by_contest[:2]] == [compare_ws["v200"].id, compare_ws["v100"].id]
    assert all(r.contest_score is None for r in by_contest[2:])
    worst_first = sort_rows(m.rows, "contest", False, m.tasks)
    assert worst_first[0].validation == compare_ws["v100"].id and worst_first[2].contest_score is None
    by_loss = sort_rows(m.rows, "valid_loss", None, m.tasks)        # lower is better
    assert [r.valid_loss for r in by_loss] == [0.9, 0.9, 1.1, 1.25, None]
    by_task = sort_rows(m.rows, "task:humanevalsynthesize-python", None, m.tasks)
    vals = [r.tasks.get("humanevalsynthesize-python") for r in by_task]
    assert vals[:4] == sorted(vals[:4], reverse=True) and vals[4] is None
    assert [r.run_name or r.checkpoint for r in sort_rows(m.rows, "run", None, m.tasks)] == [
        "base", "lora-a", "lora-a", "lora-a", "lora-b"]                # text: A-Z


def test_bootstrap_intervals() -> None:
    # every problem flips to passing: the difference is +100 points with no doubt at all
    iv = paired_bootstrap([1.0] * 50)
    assert (iv.mean, iv.low, iv.high) == (1.0, 1.0, 1.0) and iv.excludes_zero
    assert iv.verdict() == "+100.0 points, 95% CI [100.0, 100.0]: a real gain"
    # 3 gains and 2 losses among 100 problems: within noise; seeded, so reproducible
    d = [1.0] * 3 + [-1.0] * 2 + [0.0] * 95
    a, b = paired_bootstrap(d, seed=7), paired_bootstrap(d, seed=7)
    assert a == b and a.mean == pytest.approx(0.01) and a.low < 0 < a.high and not a.excludes_zero
    assert a.verdict().startswith("+1.0 points, 95% CI [") and a.verdict().endswith("]: within noise")
    assert paired_bootstrap(d, seed=8) != a                            # another seed, other resamples
    # 30 losses in 100: a real loss; a wider confidence gives a wider interval
    d = [-1.0] * 30 + [0.0] * 70
    iv95, iv99 = paired_bootstrap(d), paired_bootstrap(d, confidence=0.99)
    assert iv95.high < 0 and "a real loss" in iv95.verdict() and iv99.low <= iv95.low and iv99.high >= iv95.high
    assert 0.2 < -iv95.high and -iv95.low < 0.4
    assert paired_bootstrap([0.0] * 10).verdict() == "+0.0 points: the same problems pass in both"
    assert paired_bootstrap([]).verdict().startswith("no problem in common")
    # macro over strata = mean of the task means, not of the problems
    iv = paired_bootstrap([1.0] * 2 + [0.0] * 98, strata=["a"] * 2 + ["b"] * 98, macro=True)
    assert iv.mean == pytest.approx(0.5) and iv.low == pytest.approx(0.5)


def test_bootstrap_interval_covers_the_truth() -> None:
    """The interval is calibrated: on 200 simulated comparisons with a true +5 point gain it
    covers +5 about 95 % of the time (a test that a too-narrow or off-centre interval fails)."""
    import random

    hits = 0
    for trial in range(200):
        rng = random.Random(trial)
        diffs = []
        for _ in range(300):
            a, b = rng.random() < 0.40, rng.random() < 0.45
            diffs.append(float(b) - float(a))
        iv = paired_bootstrap(diffs, resamples=400, seed=trial)
        hits += iv.low <= 0.05 <= iv.high
    assert 0.88 <= hits / 200 <= 0.99


def test_pairwise_gains_losses_and_contest_interval(compare_ws) -> None:
    v100, v200 = compare_ws["v100"], compare_ws["v200"]
    cmp = compare_validations(v100, v200)
    # B solves everything A solved plus more (the fixture's 'model' only improved)
    expected_gains = sorted(f"{t}/{i}" for t, ids in contest_problems().items() for i in ids
                            if not passes(0.20, 1)(t, i) and passes(0.15, 2)(t, i))
    assert sorted(c.uid for c in cmp.gains) == expected_gains and cmp.losses == []
    assert cmp.common == 2468 and cmp.only_a == cmp.only_b == 0
    assert cmp.overall.mean == pytest.approx(len(expected_gains) / 2468)
    assert cmp.overall.excludes_zero and "a real gain" in cmp.overall.verdict()
    s100, s200 = v100.summary(), v200.summary()
    assert cmp.contest is not None
    assert cmp.contest.mean == pytest.approx(s200["contest_score"] - s100["contest_score"])
    assert set(cmp.tasks) == set(CONTEST_TASKS)
    g = cmp.gains[0]
    assert (g.before, g.after) == ("failed", "passed") and g.task == "humanevalsynthesize-python"
    # gains are in task order, then natural problem order (Python/9 before Python/10)
    py = [int(c.task_id.split("/")[1]) for c in cmp.gains if c.task == "humanevalsynthesize-python"]
    assert py == sorted(py)
    # reversed: the same problems are losses
    back = compare_validations(v200, v100)
    assert [c.uid for c in back.losses] == [c.uid for c in cmp.gains] and back.overall.mean == -cmp.overall.mean
    # different task sets: compared on the common problems, the rest counted
    part = compare_validations(v200, compare_ws["vq"])
    assert part.common == 10 and part.only_a == 2458 and part.only_b == 0 and part.contest is None


def test_pairwise_refuses_unfinished(compare_ws) -> None:
    ws = compare_ws["ws"]
    running = write_validation(ws, label="run", checkpoint=ckpt_info(compare_ws["run_a"], 200, compare_ws["base"]),
                               problems={"mbpp": ["11"]}, solved=passes(1, 0), status="running")
    with pytest.raises(WorkbenchError, match="is running"):
        compare_validations(compare_ws["v100"], running)


def test_mark_read_clear_and_errors(compare_ws) -> None:
    ws, run_a = compare_ws["ws"], compare_ws["run_a"]
    mk = mark_checkpoint(ws, f"{run_a.id}@200", validation=compare_ws["v200"].id)
    assert (mk.run, mk.step, mk.checkpoint, mk.validation) == (run_a.id, 200, "step-0000200", compare_ws["v200"].id)
    assert mk.adapter.endswith("step-0000200/adapter") and mk.model == compare_ws["base"]
    on_disk = json.loads((ws.root / "submission.json").read_text())
    assert on_disk["spec"] == f"{run_a.id}@200" and on_disk["marked_at"] > 0
    assert read_mark(ws) == mk
    m = collect(ws)
    assert [r.key for r in m.rows if r.marked] == [r.key for r in m.rows if r.run == run_a.id and r.step == 200]
    # a validation of another checkpoint cannot justify this mark
    with pytest.raises(WorkbenchError, match="not .*step200"):
        mark_checkpoint(ws, f"{run_a.id}@200", validation=compare_ws["v100"].id)
    # a validation alone marks its checkpoint; a model outside runs too
    assert mark_checkpoint(ws, validation=compare_ws["v100"].id).step == 100
    base = mark_checkpoint(ws, compare_ws["base"])
    assert base.run is None and base.spec == compare_ws["base"]
    assert [r.checkpoint for r in collect(ws).rows if r.marked] == ["base"]
    assert clear_mark(ws) and read_mark(ws) is None and not clear_mark(ws)
    with pytest.raises(WorkbenchError):
        mark_checkpoint(ws, f"{run_a.id}@999")
    # a hand-edited mark with a typo is a located error, and the matrix still shows
    (ws.root / "submission.json").write_text('{\n  "run": "x",\n  "stepp": 3\n}\n')
    with pytest.raises(InputError) as e:
        read_mark(ws)
    assert "submission.json" in str(e.value) and "stepp" in str(e.value)
    assert len(collect(ws).rows) == 5


def test_find_row(compare_ws) -> None:
    m = collect(compare_ws["ws"])
    run_a = compare_ws["run_a"]
    assert find_row(m, compare_ws["v100"].id).step == 100
    assert find_row(m, "a200-quick").validation == compare_ws["vq"].id
    # RUN@STEP: its newest completed validation
    assert find_row(m, f"{run_a.id}@200").validation == compare_ws["vq"].id
    assert find_row(m, "lora-a@100").validation == compare_ws["v100"].id
    with pytest.raises(WorkbenchError, match="matches 2 validations"):
        find_row(m, "a200")
    with pytest.raises(WorkbenchError, match="no checkpoint or validation"):
        find_row(m, "nothing-like-this")


def _cli(ws, *args):
    from workbench.cli import app
    from workbench.context import STATE

    STATE._ws = None
    try:
        return CliRunner().invoke(app, ["--workspace", str(ws.root), "submit", *args])
    finally:
        STATE._ws = None


def test_cli_table_diff_mark(compare_ws) -> None:
    ws, run_a = compare_ws["ws"], compare_ws["run_a"]
    out = _cli(ws, "table", "--sort", "contest", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["tasks"] == CONTEST_TASKS and data["rows"][0]["validation"] == compare_ws["v200"].id
    out = _cli(ws, "table", "--sort", "syn-py")
    assert out.exit_code == 0 and out.stdout.splitlines()[0].split()[:5] == ["run", "step", "validation", "contest",
                                                                             "pass@1"]
    assert "2/13" in out.stdout and "lora-b" in out.stdout
    out = _cli(ws, "table", "--sort", "nonsense")
    assert out.exit_code == 1 and "unknown column" in out.output
    out = _cli(ws, "diff", compare_ws["v100"].id, f"{run_a.id}@200", "--show", "2")
    assert out.exit_code == 0, out.output
    assert "2468 problems in both" not in out.stdout        # run@200 -> its newest validation (quick)
    out = _cli(ws, "diff", compare_ws["v100"].id, compare_ws["v200"].id, "--show", "2")
    assert "2468 problems in both" in out.stdout and "a real gain" in out.stdout and "... and" in out.stdout
    out = _cli(ws, "diff", compare_ws["v100"].id, compare_ws["v200"].id, "--json", "--resamples", "500")
    d = json.loads(out.stdout)
    assert d["overall"]["resamples"] == 500 and d["overall"]["excludes_zero"] and d["losses"] == []
    out = _cli(ws, "diff", compare_ws["v100"].id, f"{compare_ws['run_b'].id}@150")
    assert out.exit_code == 1 and "no validation yet" in out.output
    out = _cli(ws, "mark")
    assert "nothing is marked" in out.stdout
    out = _cli(ws, "mark", f"{run_a.id}@100", "--json")
    assert out.exit_code == 0 and json.loads(out.stdout)["step"] == 100
    assert "marked to submit" in _cli(ws, "mark").stdout
    assert "★ lora-a" in _cli(ws, "table").stdout
    assert "mark removed" in _cli(ws, "mark", "--clear").stdout and read_mark(ws) is None
