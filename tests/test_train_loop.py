"""The training loop, in-process on the tiny model (one shared torch import): a two-task run
learns and writes per-task metrics, checkpoints with retention, merge to a plain HF model, every
loss mode end to end, config-driven hooks with a stop request, save requests, early stopping and
the non-finite guard."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from engine.runs import RunState
from engine.runs import control
from engine.train.launch import prepare_run
from tests.train_support import read_metrics, tiny_config, toy_build


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return toy_build(tmp_path_factory.mktemp("train-loop"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir: Path, build: Path, torch_single_thread: None):
    """One 30-step LoRA run on the two toy tasks, shared by the tests below."""
    from engine.train.loop import train

    runs = tmp_path_factory.mktemp("runs")
    cfg = tiny_config(tiny_model_dir, build, **{
        "loop.max_steps": 30, "loop.eval_every": 15, "loop.save_every": 10, "loop.log_every": 5,
        "loop.keep_last": 1, "loop.keep_best": 1, "optim.lr": 3e-3, "data.valid_max_samples": 16,
        "hooks": [{"name": "valid_exact_match", "every": 30, "options": {"samples": 2}}]})
    run = prepare_run(None, cfg, runs_dir=runs)
    state = train(run.path)
    return state, run


def test_two_task_run_learns_and_logs_per_task(trained) -> None:
    state, run = trained
    assert state == RunState.COMPLETED and run.state() == RunState.COMPLETED
    recs = read_metrics(run)
    logged = [r for r in recs if "loss" in r]
    assert [r["step"] for r in logged] == [5, 10, 15, 20, 25, 30]
    for r in logged:
        for key in ("loss", "loss/python", "loss/javascript", "weight/python", "weight/javascript", "lr",
                    "grad_norm", "tokens_per_s", "gpu_mem_gb", "eta_s"):
            assert key in r, key
        assert r["weight/python"] + r["weight/javascript"] == pytest.approx(1.0)
        assert r["tokens_per_s"] > 0 and r["gpu_mem_gb"] is None  # CPU: no GPU memory to report
    valid = {r["step"]: r for r in recs if "valid_loss/python" in r}
    assert sorted(valid) == [0, 15, 30]
    for task in ("python", "javascript"):
        assert valid[30][f"valid_loss/{task}"] < valid[0][f"valid_loss/{task}"] - 0.5, task
    assert logged[-1]["loss"] < logged[0]["loss"]
    assert "exact_match/python" in recs[-1] and "exact_match" in recs[-1]  # the configured hook ran
    # one record per step
    steps = [r["step"] for r in recs]
    assert len(steps) == len(set(steps))
    status = run.read_status()
    assert status["step"] == 30 and status["total_steps"] == 30 and status["eta_s"] == 0
    data = json.loads((run.path / "data.json").read_text())
    assert data["packing_active"] and data["fill"]["train"] > 0.8 and set(data["tasks"]) == {"python", "javascript"}


def test_checkpoints_hold_full_state_and_follow_retention(trained) -> None:
    _, run = trained
    ckpts = run.checkpoints()
    # saves at 10 (periodic), 15 (best), 20 (periodic), 30 (best+periodic+final); keep_last=1 and
    # keep_best=1 -> step 30 (newest and best) only... plus nothing else
    assert [c["step"] for c in ckpts] == [30]
    c = ckpts[-1]
    assert "valid_loss/python" in c and "valid_loss/javascript" in c and c["weights"] == "adapter"
    d = Path(c["path"])
    assert (d / "adapter" / "adapter_config.json").exists() and (d / "state").is_dir()
    state_files = {p.name for p in (d / "state").iterdir()}
    assert any(n.startswith("optimizer") for n in state_files) and any(n.startswith("random_states") for n in state_files)
    # only trainable (LoRA) weights are in the state, not the frozen base
    from safetensors.torch import load_file

    w = load_file(str(d / "state" / "model.safetensors"))
    assert w and all("lora_" in k for k in w)
    assert json.loads((d / "trainer_state.json").read_text())["step"] == 30


def test_merge_gives_a_plain_loadable_model(trained, tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from engine.train.merge import merge_checkpoint

    _, run = trained
    info = merge_checkpoint(run, "best", tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(info["path"])
    assert not any("lora" in n for n, _ in merged.named_parameters())
    ids = torch.tensor([[5, 77, 300, 1200, 9, 42]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        want = PeftModel.from_pretrained(base, str(Path(run.checkpoints()[-1]["path"]) / "adapter"))(ids).logits
        got = merged(ids).logits
        plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir)(ids).logits
    assert torch.allclose(got, want, atol=1e-4)
    assert (got - plain).abs().max() > 1e-3  # the adapter is really in there
    assert (Path(info["path"]) / "tokenizer_config.json").exists()


def stop_at_step_4(options: dict, ctx):
    """A hook (imported by path from the run config) that asks its own run to stop."""
    def fn(model, tokenizer, step):
        if step >= 4:
            control.request(ctx.run, "stop")
        return {"probe/step_seen": float(step)}
    return fn


@pytest.mark.parametrize("mode,accum", [("coba", 1), ("focal_task", 2), ("focal_sample", 1), ("case4", 2)])
def test_every_loss_mode_trains(mode: str, accum: int, tiny_model_dir: Path, build: Path, tmp_path: Path,
                                torch_single_thread: None) -> None:
    from engine.train.loop import train

    cfg = tiny_config(tiny_model_dir, build, **{
        "loss.mode": mode, "loop.grad_accum": accum, "loop.micro_batch_size": 2, "loop.max_steps": 4,
        "loss.coba_warmup_steps": 2, "data.valid_max_samples": 8, "loss.task_weights": {"python": 2.0}})
    run = prepare_run(None, cfg, runs_dir=tmp_path / "runs")
    assert train(run.path) == RunState.COMPLETED
    logged = [r for r in read_metrics(run) if "loss" in r]
    assert len(logged) == 4 and all(math.isfinite(r["loss"]) for r in logged)
    if mode == "coba":  # CoBa needs its step-0 validation baseline even with eval_every = 0
        assert "valid_loss/python" in read_metrics(run)[0]
        assert all(r["weight/python"] + r["weight/javascript"] == pytest.approx(1.0) for r in logged)


def test_hook_stop_request_and_save_request(tiny_model_dir: Path, build: Path, tmp_path: Path,
                                            torch_single_thread: None) -> None:
    from engine.train.loop import train

    cfg = tiny_config(tiny_model_dir, build, **{
        "loop.max_steps": 20, "hooks": [{"name": "tests.test_train_loop:stop_at_step_4", "every": 2}]})
    run = prepare_run(None, cfg, runs_dir=tmp_path / "runs")
    control.request(run, "save")  # honoured at the first step
    assert train(run.path) == RunState.STOPPED
    kinds = {c["step"]: c["kind"] for c in run.checkpoints()}
    assert kinds == {1: "requested", 4: "stop"}  # the stop takes effect before step 5 starts
    assert control.pending(run) == set()
    recs = read_metrics(run)
    assert [r["step"] for r in recs if "probe/step_seen" in r] == [2, 4]
    assert run.read_status()["message"].startswith("stopped on request")


def test_early_stopping(tiny_model_dir: Path, build: Path, tmp_path: Path, torch_single_thread: None) -> None:
    from engine.train.loop import train

    cfg = tiny_config(tiny_model_dir, build, **{
        "optim.lr": 1e-9, "optim.min_lr": 1e-9, "loop.max_steps": 40, "loop.eval_every": 2,
        "loop.early_stopping_patience": 2, "data.valid_max_samples": 4})
    run = prepare_run(None, cfg, runs_dir=tmp_path / "runs")
    assert train(run.path) == RunState.COMPLETED
    st = run.read_status()
    assert st["step"] < 40 and "early stopping" in st["message"]
    assert run.checkpoints()[-1]["kind"].endswith("final")


def test_nonfinite_loss_skips_updates_and_stops(tiny_model_dir: Path, build: Path, tmp_path: Path,
                                                torch_single_thread: None) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    from engine.train.loop import train

    bad = tmp_path / "bad-model"
    shutil.copytree(tiny_model_dir, bad)
    w = load_file(str(bad / "model.safetensors"))
    w["model.norm.weight"][0] = float("nan")  # a broken weight: every loss is NaN
    save_file(w, str(bad / "model.safetensors"), metadata={"format": "pt"})
    cfg = tiny_config(bad, build, **{"loop.max_steps": 20, "loop.max_nonfinite_steps": 3, "loop.save_every": 1})
    run = prepare_run(None, cfg, runs_dir=tmp_path / "runs")
    assert train(run.path) == RunState.FAILED
    st = run.read_status()
    assert st["state"] == "failed" and "non-finite" in st["message"] and st["step"] == 3
    recs = read_metrics(run)
    assert sum(r.get("nonfinite_steps", 0) for r in recs) == 3
    assert all(r.get("loss") is None and r.get("grad_norm") is None for r in recs if "loss" in r)
    # no update reached the weights: the saved adapter is still its initial state (B = 0), no NaN
    saved = load_file(str(Path(run.checkpoints()[-1]["path"]) / "state" / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in saved.values())
    assert all(float(t.abs().max()) == 0.0 for k, t in saved.items() if "lora_B" in k)


def test_bad_task_weight_is_a_located_error(tiny_model_dir: Path, build: Path, tmp_path: Path) -> None:
    from engine.errors import InputError

    cfg = tiny_config(tiny_model_dir, build, **{"loss.task_weights": {"rust": 1.0}})
    with pytest.raises(InputError) as e:
        prepare_run(None, cfg, runs_dir=tmp_path / "runs")
    assert "rust" in str(e.value) and e.value.field == "loss.task_weights"


def test_qlora_on_cpu_fails_clearly(tiny_model_dir: Path, build: Path, tmp_path: Path,
                                    torch_single_thread: None) -> None:
    from engine.errors import WorkbenchError
    from engine.train.loop import train

    run = prepare_run(None, tiny_config(tiny_model_dir, build, **{"peft.method": "qlora"}), runs_dir=tmp_path / "r")
    with pytest.raises(WorkbenchError, match="needs a CUDA GPU"):
        train(run.path)
    st = run.read_status()
    assert st["state"] == "failed" and "use [peft] method" in st["message"]
