"""Closing the loop: in-training generate-and-execute validation ([validation] in the run
config), and the demo end to end — data -> mixture -> train with pass@1 -> validation -> compare
-> submission check — through the real CLI (shortened so CI stays within budget)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.runs import RunDir, RunState
from tests.conftest import run_cli
from tests.train_support import read_metrics, tiny_config, toy_build


def test_validation_section_logs_pass_at_1(tmp_path: Path, tiny_model_dir: Path, torch_single_thread: None) -> None:
    from engine.train.launch import prepare_run
    from engine.train.loop import train

    held = tiny_model_dir.parent.parent / "data" / "toy" / "heldout" / "python.jsonl"
    cfg = tiny_config(tiny_model_dir, toy_build(tmp_path), **{
        "loop.max_steps": 4, "loop.save_every": 4, "validation.every": 4, "validation.problems": str(held),
        "validation.limit": 3, "validation.max_new_tokens": 24})
    run = prepare_run(None, cfg, runs_dir=tmp_path / "runs")
    assert train(run.path) == RunState.COMPLETED
    recs = {r["step"]: r for r in read_metrics(run) if "pass@1" in r}
    assert sorted(recs) == [0, 4]  # once before the first step, then every 4 steps
    for r in recs.values():
        assert 0.0 <= r["pass@1"] <= 1.0 and r["pass@1/python"] == r["pass@1"]
        assert r["validate_s"] > 0  # the cost of each evaluation is reported
    ck = json.loads((run.checkpoints_dir / "step-0000004" / "checkpoint.json").read_text())
    assert ck["pass@1"] == recs[4]["pass@1"]  # travels with the checkpoint for the Compare screen


def test_validation_section_needs_problems(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception) as ei:
        tiny_config(tiny_model_dir, toy_build(tmp_path), **{"validation.every": 10})
    assert "problems" in str(ei.value)


def test_demo_end_to_end(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run_cli("init", str(ws)).returncode == 0
    out = run_cli("--workspace", str(ws), "demo", "run", "--steps", "30", "--json", timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    # data: both toy datasets went through the pipeline into processed datasets
    for lang in ("python", "javascript"):
        report = json.loads((ws / "datasets" / f"toy_{lang}" / "report.json").read_text())
        assert report["rows"] > 800
    # mixture: two tasks, one per language
    assert (ws / "mixtures" / "toy.toml").exists()
    run = RunDir(ws / "runs" / result["run"])
    assert run.state() == RunState.COMPLETED and run.read_info()["kind"] == "demo"
    assert sorted(run.read_info()["tasks"]) == ["javascript", "python"]
    # training with in-training validation: pass@1 at step 0 and at the end, per language
    steps = [c["step"] for c in result["curve"]]
    assert steps == [0, 15, 30]
    assert all(c["pass@1/python"] is not None and c["pass@1/javascript"] is not None for c in result["curve"])
    assert result["validation_s_per_eval"] > 0 and result["train_s"] > 0
    metrics = read_metrics(run)
    assert any("loss/python" in r for r in metrics) and any("valid_loss/javascript" in r for r in metrics)
    # the first and the last checkpoint scored on every held-out problem, on disk
    assert sorted(result["validations"]) == ["step-0000015", "step-0000030"]
    first, last = result["validations"]["step-0000015"], result["validations"]["step-0000030"]
    summary = json.loads((ws / "validations" / last["id"] / "summary.json").read_text())
    assert summary["n_problems"] == sum(1 for _ in open(ws / "data" / "toy" / "heldout.jsonl"))
    assert set(summary["languages"]) == {"python", "javascript"}
    assert summary["pass@1"] == last["pass@1"]

    def cli_json(*args: str) -> dict:
        out = run_cli("--workspace", str(ws), *args, "--json", timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout)

    # compare: the matrix holds both checkpoints with their validation and in-training pass@1
    rows = {r["checkpoint"]: r for r in cli_json("submit", "table")["rows"] if r["run"] == run.id}
    assert rows["step-0000030"]["validation"] == last["id"] and rows["step-0000030"]["pass_at_1"] == last["pass@1"]
    assert rows["step-0000030"]["train_pass"]["pass@1"] == result["curve"][-1]["pass@1"]
    assert rows["step-0000015"]["valid_loss"] > rows["step-0000030"]["valid_loss"]
    diff = cli_json("submit", "diff", first["id"], last["id"])
    assert "overall" in json.dumps(diff)
    # mark the last checkpoint, build a (trial, toy-task) submission from its validation, check it
    cli_json("submit", "mark", f"{run.id}@30", "--validation", last["id"])
    tasks = "data/toy/heldout/python.jsonl,data/toy/heldout/javascript.jsonl"
    build = cli_json("submit", "build", "--from-validation", last["id"], "--tasks", tasks)
    assert build["check"]["ok"], build["check"]
