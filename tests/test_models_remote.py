"""Remote-code models that cannot run here stop with one clear line (the missing package or the
removed transformers API, and the `workbench model import` that fixes it), never a traceback;
[models] trust_remote_code reaches evaluation without a flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import WorkbenchError
from tests.conftest import run_cli
from tests.test_models_support import cli, toy_problems, write_qwen1_folder


@pytest.fixture(scope="module")
def raw_qwen1(tmp_path_factory) -> Path:
    """An original Qwen-1 folder (config + remote code + vocabulary; loading stops before weights)."""
    return write_qwen1_folder(tmp_path_factory.mktemp("raw") / "Qwen-1_8B")


def test_eval_of_a_qwen1_checkpoint_is_one_line_naming_the_api_and_the_import(raw_qwen1, tmp_path: Path) -> None:
    """Through the real entry point: [models] trust_remote_code = true is enough (no flag), and
    the error says what cannot run and what converts it."""
    from engine.workspace import ModelEntry, Workspace

    ws = Workspace.init(tmp_path / "ws")
    ws.config.models["raw"] = ModelEntry(path=str(raw_qwen1), trust_remote_code=True)
    ws.save()
    tasks = toy_problems(tmp_path)
    out = run_cli("-w", str(ws.root), "eval", "run", "--model", "raw", "--tasks", str(tasks), "--json",
                  env={"PYTHONWARNINGS": "ignore"})
    assert out.returncode == 1
    lines = [x for x in out.stderr.splitlines() if x.strip() and not x.startswith("[transformers]")]
    assert "Traceback" not in out.stderr and len(lines) == 1, out.stderr
    msg = lines[0]
    assert msg.startswith(f"error: the remote code of {raw_qwen1} cannot run here")
    assert "modeling_qwen.py calls PreTrainedModel.get_head_mask, which transformers" in msg
    assert "needs transformers_stream_generator, which is" in msg   # not installed, or not importable on 5.x
    assert msg.endswith(f"workbench model import {raw_qwen1}")


def test_without_trust_and_in_training_the_same_fix_is_named(raw_qwen1, tmp_path: Path) -> None:
    from engine.train.model import load_for_training, load_tokenizer
    from engine.workspace import Workspace
    from tests.train_support import tiny_config

    out = cli(Workspace.init(tmp_path / "ws-none").root, "eval", "run", "--model", str(raw_qwen1), "--tasks", str(toy_problems(tmp_path)))
    assert out.exit_code == 1
    assert "original Qwen-1 checkpoint" in out.output and "trust_remote_code is off" in out.output
    assert f"workbench model import {raw_qwen1}" in out.output and "Traceback" not in out.output

    cfg = tiny_config(raw_qwen1, tmp_path, **{"model.trust_remote_code": True})
    with pytest.raises(WorkbenchError) as e:
        load_for_training(cfg, device="cpu", bf16=False)
    assert "get_head_mask" in str(e.value) and f"workbench model import {raw_qwen1}" in str(e.value)
    assert "\n" not in str(e.value)
    tok, _pad = load_tokenizer(str(raw_qwen1), trust_remote_code=True)   # the tokenizer's own code runs
    assert type(tok).__name__ == "QWenTokenizer" and "<|im_start|>" in tok.chat_template   # ChatML: it has none


def test_any_remote_code_missing_a_package_says_which(tmp_path: Path) -> None:
    from engine.models.remote import preflight

    d = tmp_path / "custom"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "frob", "auto_map": {
        "AutoConfig": "configuration_frob.FrobConfig", "AutoModelForCausalLM": "modeling_frob.FrobForCausalLM"}}))
    (d / "configuration_frob.py").write_text("from transformers import PretrainedConfig\n")
    (d / "modeling_frob.py").write_text("import torch\nimport frobnicate_kernels\nfrom .configuration_frob import x\n"
                                        "try:\n    import flash_attn\nexcept ImportError:\n    pass\n")
    preflight(str(d), trust_remote_code=False)   # not trusted: transformers itself refuses, nothing to add
    with pytest.raises(WorkbenchError) as e:
        preflight(str(d), trust_remote_code=True)
    msg = str(e.value)
    assert "needs frobnicate_kernels, which is not installed" in msg and "flash_attn" not in msg
    assert "model import" not in msg   # only Qwen-1 is converted
