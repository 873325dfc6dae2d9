"""Task registry, task sets and their fixed subsets, checkpoint resolution, scoring and flips,
the review helpers behind the screen. No torch here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import InputError, WorkbenchError
from engine.validate.checkpoints import list_choices, resolve_checkpoint
from engine.validate.review import filter_rows, next_failing, rows_from_results, sort_rows
from engine.compare.pairwise import flips, side_by_side
from engine.validate.score import contest_from_meta, contest_view, validation_summary
from engine.validate.tasks import (CONTEST_TASKS, contest_size, contest_task_size, load_task, resolve_taskset,
                                   select_subset, task_kind)
from tests.conftest import shared_data


def test_task_names_and_kinds() -> None:
    assert len(CONTEST_TASKS) == 13 and CONTEST_TASKS[-1] == "mbpp"
    assert task_kind("humanevalfixtests-rust") == "fixtests" and task_kind("mbpp") == "mbpp"
    assert task_kind("leetcode:test") == "leetcode" and task_kind("data/x.jsonl") == "custom"
    fd = load_task("humanevalfixdocs-cpp", data_dir=shared_data())
    assert fd.kind == "fixdocs" and fd.languages == ["cpp"] and len(fd.problems) == 164
    with pytest.raises(WorkbenchError, match="unknown language"):
        load_task("humanevalsynthesize-cobol", data_dir=shared_data())
    with pytest.raises(InputError, match="no such problem file"):
        load_task("nothing/here.jsonl")


def test_contest_quick_is_a_fixed_aligned_20_percent(workspace) -> None:
    workspace.config.benchmarks.data_dir = str(shared_data())
    ts = resolve_taskset("contest-quick", ws=workspace)
    assert [t.name for t in ts.tasks] == CONTEST_TASKS and ts.fraction == 0.2
    sizes = {t.name: len(t.problems) for t in ts.tasks}
    assert sizes["mbpp"] == 100 and all(v == 33 for k, v in sizes.items() if k != "mbpp")
    # the same problem numbers in every HumanEvalPack task, so languages and synthesize/fix compare
    numbers = {t.name: [p.task_id.split("/")[1] for p in t.problems] for t in ts.tasks if t.name != "mbpp"}
    assert len({tuple(v) for v in numbers.values()}) == 1
    again = resolve_taskset("contest-quick", ws=workspace)
    assert [p.task_id for p in again.tasks[0].problems] == [p.task_id for p in ts.tasks[0].problems]
    other = resolve_taskset("contest-quick", ws=workspace, seed=1)
    assert [p.task_id for p in other.tasks[0].problems] != [p.task_id for p in ts.tasks[0].problems]
    full = resolve_taskset("contest", ws=workspace)
    assert full.n_problems == 12 * 164 + 500
    assert resolve_taskset("humanevalsynthesize-go,mbpp", ws=workspace, limit=5).n_problems == 10
    with pytest.raises(WorkbenchError, match="unknown task set or task"):
        resolve_taskset("contest-qiuck", ws=workspace)
    t = load_task("mbpp", data_dir=shared_data())
    assert len(select_subset(t, 0.01).problems) == 5


def test_custom_files_and_workspace_task_sets(workspace, tmp_path: Path) -> None:
    from engine.demo.curriculum import heldout_problems
    from engine.workspace import TaskSetEntry

    rows = heldout_problems()
    f = workspace.root / "data" / "held.jsonl"
    f.parent.mkdir(parents=True)
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    workspace.config.tasksets["toy"] = TaskSetEntry(tasks=["data/held.jsonl"])
    ts = resolve_taskset("toy", ws=workspace)
    assert ts.tasks[0].name == "held" and ts.tasks[0].languages == ["javascript", "python"]
    assert ts.n_problems == len(rows)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[0]) + "\n" + json.dumps({**rows[1], "language": "cobol"}) + "\n")
    with pytest.raises(InputError) as e:
        resolve_taskset(str(bad), ws=workspace)
    assert "bad.jsonl:2" in str(e.value) and "language" in str(e.value)


def _fake_run(ws, step: int, weights: str = "adapter") -> Path:
    from engine.runs import create_run

    run = create_run(ws.runs_dir, name="lora", config={"model": {"path": str(ws.root / "models" / "base")}})
    ck = run.checkpoint_dir(step)
    (ck / weights).mkdir(parents=True)
    if weights == "adapter":
        (ck / "adapter" / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "elsewhere", "r": 8}))
    else:
        (ck / "model" / "config.json").write_text("{}")
    (ck / "checkpoint.json").write_text(json.dumps({"step": step, "weights": weights, "valid_loss": 1.25}))
    return ck


def test_checkpoint_resolution(workspace) -> None:
    base = workspace.root / "models" / "base"
    base.mkdir(parents=True)
    (base / "config.json").write_text("{}")
    ck = _fake_run(workspace, 200)
    run_id = ck.parent.parent.name
    for spec in (str(ck), f"{run_id}@200", f"{run_id}@last", f"{run_id}@best", str(ck.parent.parent)):
        c = resolve_checkpoint(spec, workspace)
        assert c.model == str(base) and c.adapter == str(ck / "adapter") and c.step == 200, spec
        assert c.run == run_id and c.label == f"{run_id}-step200"
    a = resolve_checkpoint(str(ck / "adapter"), workspace)       # adapter alone: base from its config
    assert a.model == "elsewhere" and a.adapter == str(ck / "adapter")
    m = resolve_checkpoint(str(base), workspace, adapter=str(ck / "adapter"))
    assert m.model == str(base) and m.adapter == str(ck / "adapter")
    with pytest.raises(FileNotFoundError, match="no checkpoint at step 7"):
        resolve_checkpoint(f"{run_id}@7", workspace)
    with pytest.raises(WorkbenchError, match="not a peft adapter"):
        resolve_checkpoint(str(base), workspace, adapter=str(base))
    with pytest.raises(WorkbenchError, match="model path not found"):
        resolve_checkpoint("./missing-model", workspace)
    full = _fake_run(workspace, 300, weights="model")
    assert resolve_checkpoint(str(full), workspace).model == str(full / "model")
    labels = [spec for _, spec in list_choices(workspace)]
    assert f"{run_id}@200" in labels and f"{full.parent.parent.name}@300" in labels


def _rec(uid: str, task: str, lang: str, verdict: str, sample: int = 0, passed: int = 0, total: int = 4) -> dict:
    return {"uid": uid, "task": task, "task_id": uid.split("/", 1)[1], "language": lang, "sample": sample,
            "verdict": verdict, "tests_passed": passed, "tests_total": total, "duration": 0.1}


def _contest_records(verdict_of=lambda t, i: "passed" if i == 1 else "failed") -> list[dict]:
    recs = []
    for t in CONTEST_TASKS:
        lang = "python" if t == "mbpp" else t.split("-")[1].replace("js", "javascript")
        recs += [_rec(f"{t}/{i}", t, lang, verdict_of(t, i), passed=4 if verdict_of(t, i) == "passed" else 1)
                 for i in (1, 2)]
    return recs


def test_scores_pass_at_k_test_rate_and_contest_score() -> None:
    recs = _contest_records()
    # every problem of every contest task: the contest score
    s = validation_summary(recs, [{"name": t, "kind": "x", "total": 2} for t in CONTEST_TASKS])
    assert s["contest_score"] == pytest.approx(0.5) and s["contest_subset"] is None and s["contest"]["full"]
    assert s["contest"]["label"] == f"contest score 0.5000 (mean pass@1 over the {len(CONTEST_TASKS)} contest tasks)"
    assert s["tasks"]["mbpp"]["test_pass_rate"] == pytest.approx((1 + 0.25) / 2)
    assert set(s["languages"]) == {"python", "javascript", "java", "go", "cpp", "rust"}
    # every contest task, but two problems of each of their real sizes: a labelled subset, no contest score
    sub = validation_summary(recs, [{"name": t, "kind": "x", "total": contest_task_size(t)} for t in CONTEST_TASKS])
    assert sub["contest_score"] is None and sub["contest_subset"] == pytest.approx(0.5)
    assert sub["contest"]["label"].startswith(f"subset (26 of {contest_size()} problems): mean pass@1 0.5000 over 13 of")
    assert "contest score" not in sub["contest"]["label"].replace("not the contest score", "")
    part = validation_summary(recs[:4], [{"name": t, "kind": "x", "total": 164} for t in CONTEST_TASKS[:2]])
    assert part["contest_score"] is None and part["contest_subset"] == pytest.approx(0.5)
    assert part["contest"]["tasks"] == 2 and part["contest"]["of"] == contest_size()
    # n = 4 samples, 1 correct, one of them an infra error: it counts as a failure (pass@1 1/4)
    many = [_rec("t/1", "t", "python", v, sample=i) for i, v in enumerate(["passed", "failed", "failed", "infra_error"])]
    s = validation_summary(many, [{"name": "t", "kind": "custom"}])
    assert s["pass@k"] == pytest.approx({"pass@1": 1 / 4, "pass@2": 1 / 2, "pass@4": 1.0})
    assert s["infra_errors"] == 1 and s["verdicts"]["infra_error"] == 1 and s["test_pass_rate"] < 1 / 4


def test_an_infra_error_lowers_the_contest_score_and_is_shown() -> None:
    tasks = [{"name": t, "kind": "x", "total": 2} for t in CONTEST_TASKS]
    clean = validation_summary(_contest_records(lambda t, i: "passed"), tasks)
    broken = validation_summary(_contest_records(lambda t, i: "infra_error" if (t, i) == ("mbpp", 2) else "passed"), tasks)
    assert clean["contest_score"] == pytest.approx(1.0)
    # the contest counted a sample it could not judge as wrong: mbpp drops to 1/2, the mean by 1/26
    assert broken["contest_score"] == pytest.approx(1.0 - 0.5 / len(CONTEST_TASKS))
    assert broken["contest"]["infra_errors"] == 1
    assert broken["contest"]["label"].endswith("; 1 infra error counted as a failure")
    c = contest_view(broken)
    assert c is not None and c.cell() == f"{broken['contest_score']:.4f} (1 infra)"
    # the limits profile the programs were judged under travels with the score when the executor names one
    judged = validation_summary(_contest_records(lambda t, i: "passed"), tasks, profile="contest")
    assert judged["profile"] == "contest" and judged["contest"]["label"].endswith("judged under the contest limits profile")


def test_contest_view_reads_summaries_written_before_the_contest_block() -> None:
    recs = _contest_records()
    new = validation_summary(recs, [{"name": t, "kind": "x"} for t in CONTEST_TASKS])
    old = {k: v for k, v in new.items() if k not in ("contest", "contest_subset")}
    for t in old["tasks"].values():
        t.pop("total")
    old["contest_score"] = 0.5                      # what the old code wrote for a 20 % subset too
    meta = {"taskset": {"tasks": {t: {"problems": 2, "total": contest_task_size(t)} for t in CONTEST_TASKS}},
            "contest_score": 0.5}
    c = contest_view(old, meta)
    assert c is not None and not c.full and c.problems == 26 and c.of == contest_size()
    m = contest_from_meta(meta)
    assert m is not None and not m.full and "subset (26 of" in m.headline()


def test_flips_and_compare() -> None:
    a = [_rec("t/1", "t", "python", "passed"), _rec("t/2", "t", "python", "failed"), _rec("t/3", "t", "python", "passed")]
    b = [_rec("t/1", "t", "python", "failed"), _rec("t/2", "t", "python", "passed"), _rec("t/3", "t", "python", "passed")]
    f = flips(a, b)
    assert f == {"common": 3, "gained": ["t/2"], "lost": ["t/1"], "net": 0}
    tasks = [{"name": "t", "kind": "custom"}]
    c = side_by_side(validation_summary(a, tasks), validation_summary(b, tasks), a, b)
    assert c["tasks"]["t"]["a"] == pytest.approx(2 / 3) and c["tasks"]["t"]["delta"] == pytest.approx(0)


def test_review_filter_sort_and_next_failing() -> None:
    res = [_rec("mbpp/1", "mbpp", "python", "passed", passed=4), _rec("js/1", "hs-js", "javascript", "failed", passed=3),
           _rec("js/2", "hs-js", "javascript", "compile_error"), {**_rec("py/9", "hs-py", "python", "failed", passed=1),
                                                                  "alt_verdict": "passed"}]
    rows = rows_from_results(res)
    assert [r.uid for r in filter_rows(rows, "lang:js")] == ["js/1", "js/2"]
    assert [r.uid for r in filter_rows(rows, "fail lang:python")] == ["py/9"]
    assert [r.uid for r in filter_rows(rows, "verdict:compile")] == ["js/2"]
    assert [r.uid for r in filter_rows(rows, "flip")] == ["py/9"]
    assert [r.uid for r in filter_rows(rows, "task:mbpp pass")] == ["mbpp/1"]
    assert [r.uid for r in filter_rows(rows, "task:js")] == ["js/1", "js/2"]   # task names say "js"
    assert [r.uid for r in filter_rows(rows, "lang:javas")] == ["js/1", "js/2"]   # a prefix as typed
    assert [r.uid for r in sort_rows(rows, "pass rate ↑")] == ["js/2", "py/9", "js/1", "mbpp/1"]
    assert [r.uid for r in sort_rows(rows, "pass rate ↓")][0] == "mbpp/1"
    assert next_failing(rows, "mbpp/1#0") == "js/1#0"
    assert next_failing(rows, "py/9#0") == "js/1#0"                   # wraps around
    assert next_failing(rows, "js/1#0", step=-1) == "py/9#0"
    assert next_failing(filter_rows(rows, "pass"), None) is None
