"""Done-when, end to end, through the commands a user (and the demo) runs: a Qwen-1 checkpoint (tiny,
random, the real tokenizer and remote-code layout) imports, its data is processed and mixed, the
`qwen1_8b-lora` preset trains a few LoRA steps in a detached run, the checkpoint generates and is
scored in the sandbox, merges (eos <|im_end|>), and the merged model scores too."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.test_models_support import cli, tiny_qwen1, toy_problems

pytestmark = pytest.mark.slow


def _ok(res) -> str:
    assert res.exit_code == 0, res.output
    return res.output


def _json(res) -> dict:
    _ok(res)
    out = res.stdout
    return json.JSONDecoder().raw_decode(out[out.index("{"):])[0]


def test_qwen1_imports_trains_generates_merges_and_scores(tmp_path_factory, tmp_path: Path,
                                                          torch_single_thread) -> None:
    from engine.demo.curriculum import train_records
    from engine.runs import TERMINAL_STATES, RunState, open_run
    from engine.workspace import Workspace

    ws_root = tmp_path / "contest"
    _ok(cli(ws_root, "init", str(ws_root)))
    imp = _json(cli(ws_root, "model", "import", str(tiny_qwen1(tmp_path_factory)), "--name", "qwen1_8b", "--json"))
    assert imp["kind"] == "converted" and imp["path"] == "models/qwen1_8b" and imp["family"] == "Qwen-1"
    assert "qwen1_8b" in _ok(cli(ws_root, "model", "list"))

    data = tmp_path / "py.jsonl"
    data.write_text("".join(json.dumps({"chat_rounds": r["chat_rounds"]}) + "\n" for r in train_records("python")[:60]))
    _ok(cli(ws_root, "data", "add", "toy_py", str(data), "--format", "chat_rounds"))
    _ok(cli(ws_root, "data", "process", "toy_py", "--language", "python", "--no-near-dedup", "--no-decontaminate"))
    stats = _json(cli(ws_root, "data", "stats", "toy_py", "--json"))["stats"]
    from transformers import AutoTokenizer

    from engine.chat import render_text

    tok = AutoTokenizer.from_pretrained(ws_root / "models" / "qwen1_8b")   # the default model's tokenizer counts
    assert stats["rows"] == 60 and stats["tokens"]["total"] == sum(
        len(tok(render_text(r["chat_rounds"]), add_special_tokens=False)["input_ids"]) for r in train_records("python")[:60])
    _ok(cli(ws_root, "mix", "new", "toy", "--dataset", "toy_py", "--valid-fraction", "0.1"))

    overrides = ["launch.num_gpus=0", "launch.deepspeed_stage=0", "launch.offload_optimizer=false",
                 "data.mixture=\"toy\"", "data.seq_length=256", "loop.max_steps=3", "loop.micro_batch_size=2",
                 "loop.eval_every=0", "loop.save_every=0", "loop.bf16=false", "loop.gradient_checkpointing=false",
                 "peft.lora_rank=8", "optim.warmup_steps=1", "loss.scope=\"micro_batch\""]
    launched = _json(cli(ws_root, "train", "launch", "qwen1_8b-lora", *[a for o in overrides for a in ("--set", o)],
                         "--json"))
    ws = Workspace.open(ws_root)
    run = open_run(ws.runs_dir, launched["run"])
    deadline = time.time() + 240
    while run.state() not in TERMINAL_STATES and time.time() < deadline:
        time.sleep(1.0)
    assert run.state() == RunState.COMPLETED, run.stdout_log.read_text()[-3000:]
    assert json.loads((run.path / "config.json").read_text())["model"]["path"] == str(ws_root / "models" / "qwen1_8b")

    tasks = str(toy_problems(tmp_path))
    scored = _json(cli(ws_root, "eval", "run", "--model", f"{run.id}@last", "--tasks", tasks, "--format", "chat",
                       "--max-new-tokens", "12", "--json"))
    assert scored["n_problems"] == 3 and scored["pass@1"] is not None
    gens = (ws.validations_dir / scored["id"] / "generations.jsonl").read_text().splitlines()
    first = json.loads(gens[0])
    assert first["prompt"].startswith("<|im_start|>user\n") and first["tokens"] > 0

    merged = _json(cli(ws_root, "train", "merge", run.id, "--checkpoint", "last", "--json"))
    assert merged["eos_token"] == "<|im_end|>"
    cfg = json.loads((Path(merged["path"]) / "config.json").read_text())
    assert cfg["eos_token_id"] == 151645 and cfg["model_type"] == "qwen2" and "auto_map" not in cfg
    again = _json(cli(ws_root, "eval", "run", "--model", merged["path"], "--tasks", tasks, "--format", "contest",
                      "--max-new-tokens", "12", "--json"))
    assert again["n_problems"] == 3 and again["pass@1"] is not None
