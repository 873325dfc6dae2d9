"""Training as real processes: two CPU ranks (torchrun + gloo) give the single-process result on
the same global batch; a run launched by the CLI outlives the CLI, is killed with SIGKILL
mid-run, and `workbench train resume` continues the very same curve (same losses as an
uninterrupted run, each step logged once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.runs import RunState, open_run
from engine.train.launch import prepare_run
from tests.conftest import ROOT, run_cli
from tests.train_support import read_metrics, tiny_config, toy_build


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return toy_build(tmp_path_factory.mktemp("train-proc"), n_train=200)


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _adapter(run) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(run.checkpoints()[-1]["path"]) / "adapter" / "adapter_model.safetensors"))


def test_two_cpu_ranks_equal_one_process(tiny_model_dir: Path, build: Path, tmp_path: Path,
                                         torch_single_thread: None) -> None:
    """4 rows per step: 2 ranks x 1 row x 2 accumulation steps vs 1 process x 4 rows. Every
    micro-batch holds one task at a time, so balancing inside micro-batches (MFTCoder) would give
    a different loss; reducing over the whole step gives the same numbers."""
    import torch

    from engine.train.loop import train

    common = {"loop.max_steps": 3, "loop.log_every": 1, "loss.mode": "case3", "loss.task_weights": {"python": 3.0}}
    two = prepare_run(None, tiny_config(tiny_model_dir, build, **common, **{
        "loop.micro_batch_size": 1, "loop.grad_accum": 2}), runs_dir=tmp_path / "runs")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", str(_free_port()), "-m", "engine.train.run", str(two.path)],
                          env=_env(), capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 process(es)" in proc.stdout
    one = prepare_run(None, tiny_config(tiny_model_dir, build, **common, **{"loop.micro_batch_size": 4}),
                      runs_dir=tmp_path / "runs")
    assert train(one.path) == RunState.COMPLETED
    a = [r for r in read_metrics(one) if "loss" in r]
    b = [r for r in read_metrics(two) if "loss" in r]
    assert [r["step"] for r in a] == [r["step"] for r in b] == [1, 2, 3]
    for ra, rb in zip(a, b):
        for k in ("loss", "loss/python", "loss/javascript", "weight/python", "grad_norm"):
            assert rb[k] == pytest.approx(ra[k], abs=2e-5), (ra["step"], k)
    wa, wb = _adapter(one), _adapter(two)
    assert wa.keys() == wb.keys()
    assert all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)
    assert any(float(wa[k].abs().max()) > 1e-3 for k in wa if "lora_B" in k)  # it did train


def _wait(pred, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_detached_run_survives_kill9_and_resumes_same_curve(workspace, tiny_model_dir: Path, build: Path,
                                                            tmp_path: Path, torch_single_thread: None) -> None:
    from engine.train.loop import train

    over = {"loop.max_steps": 60, "loop.save_every": 5, "loop.eval_every": 20, "loop.keep_last": 2,
            "peft.lora_dropout": 0.1, "data.valid_max_samples": 8}  # dropout: RNG state must resume too
    cfg = tiny_config(tiny_model_dir, build, **over)
    cfg_file = tmp_path / "run.toml"
    cfg_file.write_text(cfg.to_toml())
    out = run_cli("-w", str(workspace.root), "train", "launch", str(cfg_file), "--no-check", "--json")
    assert out.returncode == 0, out.stderr
    launched = json.loads(out.stdout)
    run = open_run(workspace.runs_dir, launched["run"])
    pid = launched["pid"]
    # the CLI that launched it has exited; the run lives on in its own session
    assert os.getsid(pid) == pid and run.state() == RunState.RUNNING
    _wait(lambda: any(r.get("step", 0) >= 12 and "loss" in r for r in read_metrics(run)), 180, "step 12")
    os.killpg(pid, signal.SIGKILL)
    _wait(lambda: run.state() == RunState.LOST, 20, "LOST state")
    killed_at = max(r["step"] for r in read_metrics(run))
    assert killed_at < 60, "the run finished before it could be killed"
    last = max(c["step"] for c in run.checkpoints())
    assert last % 5 == 0 and last >= 10

    out = run_cli("-w", str(workspace.root), "train", "resume", run.id, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["from_step"] == last
    _wait(lambda: run.state() in (RunState.COMPLETED, RunState.FAILED, RunState.LOST), 240, "the resumed run")
    assert run.state() == RunState.COMPLETED, run.stdout_log.read_text()[-3000:]
    log = run.stdout_log.read_text()
    assert f"resumed from step-{last:07d}" in log
    recs = read_metrics(run)
    steps = [r["step"] for r in recs if "loss" in r]
    assert steps == list(range(1, 61))  # every step exactly once: nothing lost, nothing twice
    assert [r["step"] for r in recs if "valid_loss" in r] == [0, 20, 40, 60]

    # the same config without interruption draws the same curve
    ref = prepare_run(None, cfg, runs_dir=tmp_path / "ref")
    assert train(ref.path) == RunState.COMPLETED
    want = {r["step"]: r for r in read_metrics(ref) if "loss" in r}
    got = {r["step"]: r for r in recs if "loss" in r}
    for s in range(1, 61):
        assert got[s]["loss"] == pytest.approx(want[s]["loss"], abs=1e-4), s
        assert got[s]["lr"] == pytest.approx(want[s]["lr"], rel=1e-9), s
