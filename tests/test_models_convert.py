"""Qwen-1 -> native Qwen2: the converted model computes what the original remote code computes
(logits, fp32, max abs diff <= 1e-4), from sharded safetensors and from .bin (an MFTCoder merge),
MFTCoder LoRA adapters convert exactly, and bad checkpoints stop with one line naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.errors import InputError, WorkbenchError
from tests.test_models_support import (
    build_qwen1,
    imported_workspace,
    load_qwen1,
    qwen1_remote_code,
    tiny_qwen1,
    write_qwen1_folder,
)

TOL = 1e-4


def _ids(n: int = 48, batch: int = 3, seed: int = 5):
    import torch

    return torch.randint(0, 151851, (batch, n), generator=torch.Generator().manual_seed(seed))


def _max_diff(a, b) -> float:
    return float((a - b).abs().max())


def test_converted_logits_equal_the_original_remote_code(tmp_path_factory, torch_single_thread) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    src = tiny_qwen1(tmp_path_factory)
    _ws, dest = imported_workspace(tmp_path_factory)
    shards = sorted(p.name for p in dest.glob("*.safetensors"))
    assert len(shards) == len(list(src.glob("*.safetensors"))) > 1   # streamed shard by shard
    assert shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    conv = AutoModelForCausalLM.from_pretrained(dest, dtype=torch.float32).eval()
    assert type(conv).__name__ == "Qwen2ForCausalLM"   # plain transformers, no remote code
    ids = _ids()
    with qwen1_remote_code(), torch.no_grad():
        orig = load_qwen1(src)
        want = orig(input_ids=ids).logits
        # the KV-cache path too: the last 8 tokens fed one at a time after a prefix
        pre = orig(input_ids=ids[:, :40], use_cache=True)
        past, steps = pre.past_key_values, []
        for i in range(40, 48):
            o = orig(input_ids=ids[:, i:i + 1], past_key_values=past, use_cache=True)
            past = o.past_key_values
            steps.append(o.logits)
    with torch.no_grad():
        got = conv(input_ids=ids).logits
        cpre = conv(input_ids=ids[:, :40], use_cache=True)
        cache, csteps = cpre.past_key_values, []
        for i in range(40, 48):
            o = conv(input_ids=ids[:, i:i + 1], past_key_values=cache, use_cache=True)
            cache = o.past_key_values
            csteps.append(o.logits)
    assert want.abs().max() > 1.0   # logits large enough that a wrong mapping would show
    diff = _max_diff(want, got)
    print(f"\nQwen-1 -> Qwen2 logits, fp32: max abs diff {diff:.3g} (max |logit| {float(want.abs().max()):.2f})")
    assert diff <= TOL
    assert _max_diff(torch.cat(steps, 1), torch.cat(csteps, 1)) <= TOL


def test_config_tokenizer_and_generation_config_of_the_import(tmp_path_factory) -> None:
    ws, dest = imported_workspace(tmp_path_factory)
    cfg = json.loads((dest / "config.json").read_text())
    assert (cfg["model_type"], cfg["architectures"], "auto_map" in cfg) == ("qwen2", ["Qwen2ForCausalLM"], False)
    assert (cfg["hidden_size"], cfg["intermediate_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"],
            cfg["head_dim"]) == (64, 128, 2, 2, 32)
    assert (cfg["rope_theta"], cfg["rms_norm_eps"], cfg["max_position_embeddings"]) == (10000.0, 1e-6, 512)
    assert (cfg["eos_token_id"], cfg["pad_token_id"], cfg["vocab_size"]) == (151645, 151645, 151936)
    gen = json.loads((dest / "generation_config.json").read_text())
    assert gen["eos_token_id"] == [151645, 151643] and gen["do_sample"] is False
    tc = json.loads((dest / "tokenizer_config.json").read_text())
    assert tc["eos_token"] == tc["pad_token"] == "<|im_end|>" and "<|im_start|>" in tc["chat_template"]
    rec = json.loads((dest / "workbench-import.json").read_text())
    assert rec["kind"] == "converted" and rec["family"] == "Qwen-1"
    assert any("logn" in w and "512 tokens" in w for w in rec["warnings"])   # NTK / logn beyond the context
    assert rec["details"]["tokenizer"]["checked_against_tiktoken"]["texts"] >= 10
    assert ws.config.models["qwen1"].path == "models/qwen1" and ws.config.defaults.model == "qwen1"
    assert not list(dest.parent.glob(".qwen1.partial-*"))


def test_merged_mftcoder_checkpoint_in_bin_shards_imports_like_any_qwen1(tmp_path: Path,
                                                                         torch_single_thread) -> None:
    """MFTCoder's merge (transformers 4.32) saves pytorch_model-*.bin with eos/pad set in the config."""
    import torch
    from transformers import AutoModelForCausalLM

    from engine.models.importer import import_model
    from engine.workspace import Workspace

    src = build_qwen1(tmp_path / "merged", safe=False, shard="30MB", seed=3, eos_token_id=151645, pad_token_id=151645)
    assert (src / "pytorch_model.bin.index.json").is_file()
    ws = Workspace.init(tmp_path / "ws")
    res = import_model(ws, str(src), name="merged")
    assert res.kind == "converted" and res.info["family"] == "Qwen-1"
    conv = AutoModelForCausalLM.from_pretrained(ws.root / "models" / "merged", dtype=torch.float32).eval()
    ids = _ids(24, 2)
    with qwen1_remote_code(), torch.no_grad():
        want = load_qwen1(src)(input_ids=ids).logits
    with torch.no_grad():
        assert _max_diff(want, conv(input_ids=ids).logits) <= TOL


def test_mftcoder_lora_adapter_converts_exactly(tmp_path_factory, tmp_path: Path, torch_single_thread) -> None:
    """A LoRA on c_attn, c_proj, w1, w2 (MFTCoder's Qwen targets, bias lora_only) gives the same
    logits on the original model as the converted adapter on the imported model."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    from engine.models.importer import import_model
    from engine.validate.checkpoints import resolve_checkpoint

    src = tiny_qwen1(tmp_path_factory)
    ws, dest = imported_workspace(tmp_path_factory)
    ids = _ids(32, 2, seed=9)
    with qwen1_remote_code(), torch.no_grad():
        base = load_qwen1(src)
        lcfg = LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj", "w1", "w2"], bias="lora_only",
                          init_lora_weights=False, task_type="CAUSAL_LM")
        torch.manual_seed(11)
        peft_model = get_peft_model(base, lcfg)
        bumped = 0
        for n, p in peft_model.named_parameters():
            if n.endswith(("c_attn.bias", "c_attn.base_layer.bias")):
                p.add_(0.2)   # a trained lora_only bias
                bumped += 1
        assert bumped == 2
        want = peft_model(input_ids=ids).logits
        peft_model.save_pretrained(tmp_path / "mft-adapter")
    adapter_cfg = json.loads((tmp_path / "mft-adapter" / "adapter_config.json").read_text())
    assert adapter_cfg["base_model_name_or_path"] == str(src)
    res = import_model(ws, str(tmp_path / "mft-adapter"), name="mft-lora")   # its base found from the import record
    assert res.kind == "adapter" and res.info["base"] == "qwen1"
    out = ws.root / "models" / "mft-lora"
    new_cfg = json.loads((out / "adapter_config.json").read_text())
    assert sorted(new_cfg["target_modules"]) == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj",
                                                 "v_proj"]
    from safetensors import safe_open

    with safe_open(str(out / "adapter_model.safetensors"), "pt") as f:
        assert any(k.endswith("q_proj.base_layer.bias") for k in f.keys())  # noqa: SIM118 - safe_open is not a dict
    conv = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(dest, dtype=torch.float32), str(out)).eval()
    with torch.no_grad():
        got = conv(input_ids=ids).logits
    assert _max_diff(want, got) <= TOL
    ck = resolve_checkpoint("mft-lora", ws)   # `eval run --model mft-lora` scores it on its base
    assert ck.adapter == str(out) and Path(ck.model) == dest.resolve()


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_bad_checkpoints_stop_with_one_line_naming_the_file(tmp_path_factory, tmp_path: Path) -> None:
    from engine.models.importer import import_model
    from engine.models.safetensors_io import read_header
    from engine.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as e:
        import_model(ws, str(tmp_path / "empty"))
    assert "not a model folder (no config.json)" in _one_line(e) and str(tmp_path / "empty") in str(e.value)

    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({"model_type": "frobnicator", "architectures": ["FrobForCausalLM"]}))
    with pytest.raises(InputError) as e:
        import_model(ws, str(odd))
    assert "unknown architecture" in _one_line(e) and "frobnicator" in str(e.value) and "config.json" in str(e.value)

    nowts = write_qwen1_folder(tmp_path / "noweights")
    with pytest.raises(InputError) as e:
        import_model(ws, str(nowts))
    assert "no weights" in _one_line(e)

    # a shard that lost a tensor: rewrite it without one, keep the index
    src = tiny_qwen1(tmp_path_factory)
    broken = tmp_path / "broken"
    shutil.copytree(src, broken)
    index = json.loads((broken / "model.safetensors.index.json").read_text())
    victim = "transformer.h.1.mlp.w1.weight"
    shard = broken / index["weight_map"][victim]
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(shard))
    del tensors[victim]
    save_file(tensors, str(shard), metadata={"format": "pt"})
    with pytest.raises(InputError) as e:
        import_model(ws, str(broken), name="broken")
    msg = _one_line(e)
    assert shard.name in msg and victim in msg
    assert not (ws.root / "models" / "broken").exists() and not list((ws.root / "models").glob(".broken*"))

    # a truncated download
    trunc = tmp_path / "trunc"
    shutil.copytree(src, trunc)
    last = trunc / index["weight_map"]["lm_head.weight"]
    last.write_bytes(last.read_bytes()[:-1000])
    with pytest.raises(InputError) as e:
        read_header(last)
    assert "truncated" in _one_line(e) and last.name in str(e.value)

    # a config that does not match its tensors
    wrong = tmp_path / "wrong"
    shutil.copytree(src, wrong)
    cfg = json.loads((wrong / "config.json").read_text())
    cfg["intermediate_size"] = 512
    (wrong / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError) as e:
        import_model(ws, str(wrong), name="wrong")
    assert "needs [256, 64]" in _one_line(e) and "intermediate_size 512" in str(e.value)

    from engine.workspace import ModelEntry

    ws.config.models["taken"] = ModelEntry(path="models/taken")
    ws.save()
    with pytest.raises(WorkbenchError) as e:
        import_model(ws, str(src), name="taken")
    assert "[models] taken exists" in _one_line(e) and "--force" in str(e.value)
