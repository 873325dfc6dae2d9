"""Ground truth before scores: a problem set's own canonical solutions run through the executor
before any model is scored on it; a failing one is a warning naming the set and the problem
(in `eval run`'s result, validation.json, `eval show`, `eval doctor --problems`), known upstream
data bugs are listed apart, and the check is cached by the set's content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.validate import run_validation
from engine.validate.generate import GenSettings
from engine.validate.groundtruth import check_ground_truth
from engine.validate.tasks import resolve_taskset
from tests.conftest import shared_data
from tests.validate_support import ReplayBackend, toy_answerer, toy_rows, write_toy


def _cli(ws, *args: str):
    from workbench.cli import app
    from workbench.context import STATE

    STATE._ws = None
    try:
        return CliRunner().invoke(app, ["--workspace", str(ws.root), *args])
    finally:
        STATE._ws = None


def _broken_set(ws, name: str = "toy") -> tuple[list[dict], str]:
    rows = toy_rows(3)
    rows[1] = {**rows[1], "canonical_solution": rows[1]["canonical_solution"].replace("return", "return 1 +", 1)}
    return rows, str(write_toy(ws.root / "data" / f"{name}.jsonl", rows))


def test_a_failing_canonical_solution_is_named_before_any_model_is_scored(workspace) -> None:
    rows, path = _broken_set(workspace)
    backend = ReplayBackend(toy_answerer(rows))
    said: list[tuple[str, int]] = []
    res = run_validation(ws=workspace, loaded=backend, tasks=path, fmt="chat", label="gt",
                         settings=GenSettings(max_new_tokens=16), log=lambda m: said.append((m, len(backend.seen))))
    expected = f"ground truth: toy: 1 of 6 canonical solutions fail: {rows[1]['task_id']} (failed)"
    gt = res.summary["ground_truth"]
    assert not gt["ok"] and gt["warnings"] == [expected]
    assert said == [(expected, 0)]                  # said before a single prompt was generated
    (check,) = gt["sets"]
    assert check["checked"] == 6 and [f["task_id"] for f in check["failed"]] == [rows[1]["task_id"]]
    assert json.loads(res.dir.meta_json.read_text())["ground_truth"]["warnings"] == [expected]
    out = _cli(workspace, "eval", "show", res.id)
    assert out.exit_code == 0 and f"WARNING {expected}" in out.stdout
    # the same set again: read back from the cache, the same warning
    again = run_validation(ws=workspace, loaded=ReplayBackend(toy_answerer(rows)), tasks=path, fmt="chat",
                           label="gt2", settings=GenSettings(max_new_tokens=16), compare_modes=False)
    assert again.summary["ground_truth"]["sets"][0]["cached"] is True
    assert again.summary["ground_truth"]["warnings"] == [expected]


def test_a_sound_set_gives_no_warning_and_the_doctor_checks_on_demand(workspace) -> None:
    rows = toy_rows(2)
    good = write_toy(workspace.root / "data" / "good.jsonl", rows)
    (check,) = check_ground_truth(resolve_taskset(str(good), ws=workspace))
    assert check.ok and check.checked == 4 and check.warning() is None
    out = _cli(workspace, "eval", "doctor", "--problems", str(good))
    assert out.exit_code == 0, out.output
    assert "every canonical solution passes" in out.stdout and "4/4" in out.stdout
    _, bad = _broken_set(workspace, "bad")
    out = _cli(workspace, "eval", "doctor", "--problems", bad, "--json")
    assert out.exit_code == 1
    rep = json.loads(out.stdout)
    assert not rep["ok"] and rep["warnings"][0].startswith("ground truth: bad: 1 of 6 canonical solutions fail")


def test_known_upstream_data_bugs_are_listed_apart(workspace) -> None:
    """HumanEvalPack Go/27 imports a package its canonical solution never uses: Go refuses to
    compile it in every harness. It is a known upstream bug, not a failure of this machine."""
    rows = [json.loads(line) for line in shared_data("humanevalpack", "go.jsonl").read_text().splitlines()]
    picked = [r for r in rows if r["task_id"] in ("Go/0", "Go/27")]
    path = write_toy(workspace.root / "data" / "go-two.jsonl", picked)
    (check,) = check_ground_truth(resolve_taskset(str(path), ws=workspace), cache=False)
    if check.infra_errors:
        pytest.skip("the Go toolchain is not usable here (scripts/system-deps.sh)")
    assert check.checked == 2 and check.ok and [f.task_id for f in check.known] == ["Go/27"]
    assert check.warning() is None and check.note() == "ground truth: go-two: known upstream data bugs (not counted): Go/27"


def test_peer_problem_files_are_checked_and_scored_under_their_own_ids(workspace) -> None:
    """evalplus problems (expected outputs computed from the canonical solution and kept under
    the problem's own id) go through the ground-truth check and a scored validation; a file
    without canonical solutions (MultiPL-E) says there was nothing to check."""
    fixtures = Path(__file__).parent / "fixtures" / "problems"
    plus = str(fixtures / "HumanEvalPlus.jsonl.gz")
    ts = resolve_taskset(f"{plus},{fixtures / 'multipl-e' / 'humaneval-py.jsonl'}", ws=workspace)
    checked, multiple = check_ground_truth(ts, cache=False)
    assert checked.checked == checked.problems > 0 and checked.ok
    assert multiple.checked == 0 and multiple.note() == (f"ground truth: humaneval-py: no canonical solutions to "
                                                          f"check ({multiple.problems} problems)")
    task = ts.tasks[0]
    by_prompt = {p.prompt.strip(): p for p in task.problems}

    def answer(prompt: str) -> str:      # the canonical solution, fenced, as a chat model would give it
        p = next(q for k, q in by_prompt.items() if k and k in prompt)
        return f"```python\n{p.prompt}{p.canonical_solution}```<|im_end|>"

    res = run_validation(ws=workspace, loaded=ReplayBackend(answer), tasks=plus, fmt="chat", label="plus",
                         settings=GenSettings(max_new_tokens=16), compare_modes=False)
    assert res.summary["pass@1"] == 1.0 and res.summary["ground_truth"]["ok"]
