"""The trainer's parts on their own (engine/train/trainer.py), on the tiny model: setup, one
step, evaluate, save then resume; and `--kill`: the run leaves without starting a checkpoint,
in process and through the CLI on a detached run."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.runs import RunState, control, open_run
from engine.train.launch import prepare_run
from tests.conftest import run_cli
from tests.train_support import read_metrics, tiny_config, toy_build


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return toy_build(tmp_path_factory.mktemp("trainer"), n_valid=8)


def _trainer(run: Any) -> Any:
    from engine.train.trainer import Trainer

    return Trainer.open(run.path, echo=lambda _m: None).setup()


def _trainable(t: Any) -> dict[str, Any]:
    return {n: p.detach().clone() for n, p in t.inner.named_parameters() if p.requires_grad}


def test_setup_then_one_step_changes_weights_and_logs_a_record(
    tiny_model_dir: Path, build: Path, tmp_path: Path, torch_single_thread: None
) -> None:
    from engine.train.trainer import TrainState

    run = prepare_run(
        None, tiny_config(tiny_model_dir, build, **{"loop.max_steps": 6, "optim.lr": 1e-2}), runs_dir=tmp_path / "runs"
    )
    t = _trainer(run)
    try:
        assert t.tasks == ["python", "javascript"] and t.total == 6
        assert run.read_data_report()["packing_active"] is True  # data.json through the run directory
        state = TrainState()
        t.begin(state)
        before = _trainable(t)
        got = t.step(state)
        assert state.step == 1 and not got.skipped and math.isfinite(got.value) and got.lr > 0
        after = _trainable(t)
        assert any(not bool((after[n] == before[n]).all()) for n in before)  # the update reached the weights
        rec, valid, hooked, kinds = t.record(state, elapsed=0.5, steps_done=1)
        assert valid is None and hooked == {} and kinds == []  # no validation, hooks or save due
        assert rec["loss"] == pytest.approx(got.value) and "loss/python" in rec and "weight/javascript" in rec
    finally:
        t.close()
        t.end()
    lines = read_metrics(run)
    assert [r["step"] for r in lines] == [1] and lines[0]["loss"] == pytest.approx(got.value)


def test_evaluate_returns_per_task_losses(
    tiny_model_dir: Path, build: Path, tmp_path: Path, torch_single_thread: None
) -> None:
    run = prepare_run(
        None, tiny_config(tiny_model_dir, build, **{"loss.task_weights": {"python": 3.0}}), runs_dir=tmp_path / "runs"
    )
    t = _trainer(run)
    try:
        out = t.evaluate()
    finally:
        t.close()
        t.end()
    py, js = out["valid_loss/python"], out["valid_loss/javascript"]
    assert all(math.isfinite(v) and v > 0 for v in (py, js))
    assert out["valid_loss"] == pytest.approx((py + js) / 2)
    assert out["valid_loss_weighted"] == pytest.approx((3 * py + js) / 4)


def test_save_then_resume_restores_step_optimizer_and_schedule(
    tiny_model_dir: Path, build: Path, tmp_path: Path, torch_single_thread: None
) -> None:
    from engine.train.trainer import TrainState

    run = prepare_run(None, tiny_config(tiny_model_dir, build, **{"loop.max_steps": 8}), runs_dir=tmp_path / "runs")
    t = _trainer(run)
    try:
        state = TrainState(best=1.25, bad_evals=1)
        t.begin(state)
        for _ in range(3):
            t.step(state)
            t.record(state, elapsed=1.0, steps_done=state.step)
        ck = t.save(state, ["periodic"], {"valid_loss": 1.25})
        moments = {k: v["exp_avg"].clone() for k, v in t.raw_opt.state_dict()["state"].items()}
        lr, weights = t.raw_opt.param_groups[0]["lr"], _trainable(t)
        t.step(state)  # a step after the save: its metrics line is dropped by the resume
        t.record(state, elapsed=1.0, steps_done=state.step)
    finally:
        t.close()
        t.end()
    assert state.last_saved == 3 and json.loads((ck / "checkpoint.json").read_text())["kind"] == "periodic"
    assert [r["step"] for r in read_metrics(run)] == [1, 2, 3, 4]

    t2 = _trainer(run)
    try:
        back = t2.resume()
        assert (back.step, back.best, back.bad_evals, back.last_saved) == (3, 1.25, 1, 3)
        restored = t2.raw_opt.state_dict()["state"]
        assert moments.keys() == restored.keys()
        assert all(bool((moments[k] == restored[k]["exp_avg"]).all()) for k in moments)
        assert t2.raw_opt.param_groups[0]["lr"] == pytest.approx(lr) and t2.scheduler.last_epoch == 3
        assert all(bool((weights[n] == p).all()) for n, p in _trainable(t2).items())
        assert [r["step"] for r in read_metrics(run)] == [1, 2, 3]  # step 4 is recomputed ...
        t2.begin(back)
        t2.step(back)
        t2.record(back, elapsed=1.0, steps_done=1)
    finally:
        t2.close()
        t2.end()
    assert [r["step"] for r in read_metrics(run)] == [1, 2, 3, 4]  # ... and logged once


def kill_at_step_2(options: dict, ctx: Any):
    """A hook that does what `train stop --kill` does, from inside the run, at step 2."""

    def fn(model: Any, tok: Any, step: int) -> dict:
        if step == 2:
            control.request(ctx.run, control.KILL)
            os.kill(os.getpid(), signal.SIGTERM)
        return {}

    return fn


def test_kill_starts_no_save(tiny_model_dir: Path, build: Path, tmp_path: Path, torch_single_thread: None) -> None:
    from engine.train.loop import train

    cfg = tiny_config(
        tiny_model_dir,
        build,
        **{
            "loop.max_steps": 10,
            "loop.save_every": 1,
            "hooks": [{"name": "tests.test_train_trainer:kill_at_step_2", "every": 1}],
        },
    )
    run = prepare_run(None, cfg, runs_dir=tmp_path / "runs")
    assert train(run.path) == RunState.STOPPED
    # step 1 saved periodically; the kill came at step 2 before its save: no step-2 folder at all
    assert sorted(d.name for d in run.checkpoints_dir.iterdir()) == ["step-0000001"]
    st = run.read_status()
    assert st["state"] == "stopped" and st["step"] == 2
    assert st["message"] == "killed at step 2: nothing saved; resume continues from step 1"
    assert control.pending(run) == set()  # the kill request is consumed


def test_kill_during_a_save_leaves_no_partial_checkpoint(
    tiny_model_dir: Path, build: Path, tmp_path: Path, torch_single_thread: None
) -> None:
    """A SIGTERM with a kill request while step 2's checkpoint is being written: whenever it lands,
    what is left is either no step-2 folder or a complete checkpoint, never a partial one."""
    from engine.train.loop import train

    cfg = tiny_config(tiny_model_dir, build, **{"loop.max_steps": 4, "loop.save_every": 2})
    run = prepare_run(None, cfg, runs_dir=tmp_path / "runs")
    saving = run.checkpoint_dir(2) / "state"

    def kill_when_saving() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not saving.exists():
            time.sleep(0.0005)
        control.request(run, control.KILL)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=kill_when_saving, daemon=True).start()
    assert train(run.path) == RunState.STOPPED
    folders = {d.name for d in run.checkpoints_dir.iterdir()} if run.checkpoints_dir.exists() else set()
    complete = {c["name"] for c in run.checkpoints()}
    assert folders == complete  # nothing half-written is left behind
    assert "killed at step" in run.read_status()["message"]


def test_cli_kill_of_a_detached_run_saves_nothing(workspace, tiny_model_dir: Path, build: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tiny_model_dir, build, **{"loop.max_steps": 400, "loop.save_every": 0})
    cfg_file = tmp_path / "run.toml"
    cfg_file.write_text(cfg.to_toml())
    ws = str(workspace.root)
    out = run_cli("-w", ws, "train", "launch", str(cfg_file), "--no-check", "--json")
    assert out.returncode == 0, out.stderr
    run = open_run(workspace.runs_dir, json.loads(out.stdout)["run"])
    deadline = time.time() + 180
    while time.time() < deadline and not any(r.get("step", 0) >= 3 for r in read_metrics(run)):
        time.sleep(0.2)
    out = run_cli("-w", ws, "train", "stop", run.id, "--kill", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["state"] == "stopped"
    st = run.read_status()
    assert st["message"].startswith(f"killed at step {st['step']}: nothing saved") and st["step"] < 400
    assert not run.checkpoints_dir.exists() or not any(run.checkpoints_dir.iterdir())
    assert "saving checkpoint" not in run.stdout_log.read_text()
