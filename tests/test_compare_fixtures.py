"""Fixture workspaces for the Compare and submission tests: runs with realistic checkpoint
folders (checkpoint.json, adapter_config.json, metrics.jsonl) and validation folders written
through engine.validate.store with per-problem results, summaries (engine.validate.score) and
bigcode files, as a finished `workbench eval run` leaves them. No model, no torch.

Also a few checks of the fixtures themselves (they feed every other Compare test)."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from engine.fsutil import atomic_write_json
from engine.runs import MetricsWriter, RunState, create_run
from engine.validate.score import validation_summary
from engine.validate.store import ValidationDir, new_validation_id, write_jsonl
from engine.validate.tasks import CONTEST_TASKS, LANG_OF_HARNESS
from engine.submit.layout import default_problem_ids


def language_of(task: str) -> str:
    if task.startswith("humaneval"):
        return LANG_OF_HARNESS[task.rsplit("-", 1)[1]]
    return "python"


def contest_problems(per_task: int | None = None) -> dict[str, list[str]]:
    """The 13 contest tasks' real problem ids (all, or the first `per_task`)."""
    out = {}
    for t in CONTEST_TASKS:
        ids = default_problem_ids(t) or []
        out[t] = ids[:per_task] if per_task else ids
    return out


def passes(rate: float, seed: int) -> Callable[[str, str], bool]:
    """A seeded 'model' that solves a fixed share of problems (by hash of task + id)."""
    def f(task: str, tid: str) -> bool:
        return random.Random(f"{seed}|{task}|{tid}").random() < rate
    return f


def write_validation(ws: Any, *, label: str, checkpoint: dict[str, Any], problems: dict[str, list[str]],
                     solved: Callable[[str, str], bool], totals: dict[str, int] | None = None,
                     settings: dict[str, Any] | None = None, fmt: str = "contest", status: str = "completed",
                     created: float | None = None, taskset: str = "contest",
                     program: Callable[[str, str], str] | None = None,
                     infra: Callable[[str, str], bool] | None = None) -> ValidationDir:
    """A validation folder as `workbench eval run` leaves it (results, summary, bigcode files);
    `infra` picks samples the machine could not judge (infra_error)."""
    from engine.validate.generate import GenSettings

    v = ValidationDir(ws.validations_dir / new_validation_id(label))
    v.path.mkdir(parents=True)
    records = []
    for task, ids in problems.items():
        for tid in ids:
            ok = solved(task, tid)
            verdict = "infra_error" if infra and infra(task, tid) else ("passed" if ok else "failed")
            records.append({"uid": f"{task}/{tid}", "task": task, "task_id": tid, "language": language_of(task),
                            "sample": 0, "verdict": verdict, "tests_passed": 3 if ok else 1,
                            "tests_total": 3, "duration": 0.01, "detail": "", "failed_tests": [], "program": "",
                            "mode": "compatible"})
    totals = totals or {t: len(ids) for t, ids in problems.items()}
    info = [{"name": t, "kind": "mbpp" if t == "mbpp" else t.split("-")[0].removeprefix("humaneval"),
             "languages": [language_of(t)], "total": totals[t]} for t in problems]
    summary = validation_summary(records, info)
    meta = {"id": v.id, "status": status, "created": created if created is not None else time.time(),
            "host": __import__("socket").gethostname(), "pid": os.getpid(), "checkpoint": checkpoint,
            "taskset": {"name": taskset, "fraction": 1.0 if all(len(problems[t]) == totals[t] for t in problems) else 0.2,
                        "seed": 0, "tasks": {t: {"kind": "x", "spec": t, "problems": len(ids), "total": totals[t]}
                                             for t, ids in problems.items()}},
            "format": {"name": fmt}, "backend": "hf", "settings": settings or GenSettings().model_dump(),
            "contest_score": summary.get("contest_score"), "contest": summary.get("contest"),
            "pass@1": summary.get("pass@1"),
            "n_problems": summary.get("n_problems")}
    if status == "completed":
        write_jsonl(v.results_jsonl, records)
        atomic_write_json(v.summary_json, summary)
        v.bigcode_dir.mkdir()
        prog = program or (lambda task, tid: f"def solution_{tid.replace('/', '_')}():\n    return 1\n")
        for task, ids in problems.items():
            atomic_write_json(v.bigcode_dir / f"generations_{task}.json", [[prog(task, i)] for i in ids], indent=None)
            atomic_write_json(v.bigcode_dir / f"task_ids_{task}.json", ids, indent=None)
    atomic_write_json(v.meta_json, meta)
    return v


def make_run(ws: Any, name: str, checkpoints: dict[int, dict[str, Any]], *, metrics: list[dict[str, Any]] = (),
             base: str = "models/base") -> Any:
    """A finished LoRA run: config.json, metrics.jsonl, checkpoints/step-N/ with checkpoint.json
    and adapter/adapter_config.json."""
    run = create_run(ws.runs_dir, name=name, config={"model": {"path": base}})
    for step, meta in checkpoints.items():
        d = run.checkpoint_dir(step)
        (d / "adapter").mkdir(parents=True)
        (d / "adapter" / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base,
                                                                       "peft_type": "LORA"}))
        atomic_write_json(d / "checkpoint.json", {"step": step, "kind": "periodic", "weights": "adapter",
                                                  "base_model": base, "peft": "lora", "time": time.time(), **meta})
    with MetricsWriter(run.metrics_path) as w:
        for rec in metrics:
            w.log(rec["step"], {k: v for k, v in rec.items() if k != "step"})
    run.write_status(RunState.COMPLETED, step=max(checkpoints or [0]), total_steps=max(checkpoints or [0]))
    return run


def ckpt_info(run: Any, step: int, base: str) -> dict[str, Any]:
    d = run.checkpoint_dir(step)
    return {"model": base, "adapter": str(d / "adapter"), "label": f"{run.id}-step{step}", "run": run.id,
            "step": step, "path": str(d)}


@pytest.fixture
def compare_ws(workspace):
    """Two runs: `lora-a` (steps 100, 200; full-contest validations of both, a toy one of 200)
    and `lora-b` (step 150, no validation), plus a validation of the base model."""
    base = str(workspace.root / "models" / "base")
    (workspace.root / "models" / "base").mkdir(parents=True)
    (workspace.root / "models" / "base" / "config.json").write_text("{}")
    run_a = make_run(workspace, "lora-a", {
        100: {"valid_loss": 1.25, "valid_loss/code": 1.5, "valid_loss/mbpp": 1.0},
        200: {"valid_loss": 0.9, "valid_loss/code": 1.1, "valid_loss/mbpp": 0.7, "pass@1": 0.5,
              "pass@1/python": 0.6}},
        metrics=[{"step": 50, "loss": 2.0}, {"step": 100, "loss": 1.3, "valid_loss": 1.25, "pass@1": 0.25},
                 {"step": 200, "loss": 0.8, "valid_loss": 0.9, "pass@1": 0.5}], base=base)
    time.sleep(0.01)
    run_b = make_run(workspace, "lora-b", {150: {}}, metrics=[{"step": 150, "loss": 1.0, "valid_loss": 1.1}],
                     base=base)
    probs = contest_problems()
    t0 = time.time()
    v100 = write_validation(workspace, label="a100", checkpoint=ckpt_info(run_a, 100, base), problems=probs,
                            solved=passes(0.20, 1), created=t0 - 30)
    v200 = write_validation(workspace, label="a200", checkpoint=ckpt_info(run_a, 200, base), problems=probs,
                            solved=lambda t, i: passes(0.20, 1)(t, i) or passes(0.15, 2)(t, i), created=t0 - 20)
    quick = {t: ids[:5] for t, ids in probs.items() if t in ("humanevalsynthesize-python", "mbpp")}
    vq = write_validation(workspace, label="a200-quick", checkpoint=ckpt_info(run_a, 200, base), problems=quick,
                          totals={"humanevalsynthesize-python": 164, "mbpp": 500}, solved=passes(0.5, 3),
                          taskset="quick", created=t0 - 10)
    vbase = write_validation(workspace, label="base", checkpoint={"model": base, "adapter": None, "label": "base",
                                                                 "run": None, "step": None, "path": None},
                             problems=quick, totals={"humanevalsynthesize-python": 164, "mbpp": 500},
                             solved=passes(0.1, 4), taskset="quick", created=t0 - 5)
    return {"ws": workspace, "run_a": run_a, "run_b": run_b, "v100": v100, "v200": v200, "vq": vq, "vbase": vbase,
            "base": base}


def test_fixture_validations_read_back(compare_ws) -> None:
    from engine.validate.store import list_validations

    ws = compare_ws["ws"]
    vs = {v.id: v for v in list_validations(ws.validations_dir)}
    assert len(vs) == 4 and all(v.status() == "completed" for v in vs.values())
    s = compare_ws["v200"].summary()
    assert s["contest_score"] is not None and s["n_problems"] == 2468
    assert compare_ws["vq"].summary()["contest_score"] is None
    big = json.loads((compare_ws["v100"].bigcode_dir / "generations_mbpp.json").read_text())
    assert len(big) == 500 and big[0] == ["def solution_11():\n    return 1\n"]
    assert Path(compare_ws["run_a"].checkpoint_dir(200), "checkpoint.json").is_file()
