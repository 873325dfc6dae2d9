"""The Qwen families a team picks today (Qwen1.5, Qwen2, Qwen2.5, Qwen2.5-Coder, Qwen3), as tiny
random models with the real Qwen vocabulary: `model import` registers each as it is, tells its
family, LoRA lands on its target modules, and the chat template is the tokenizer's when it has
one, ChatML when it does not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.test_models_support import imported_workspace

# a Qwen2.5-style template (default system message) to tell "the tokenizer's" from ChatML
OWN_TEMPLATE = ("{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are Qwen.<|im_end|>\n{% endif %}"
                "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

# (folder name as the hub names it, config class, GQA kv heads, ships a chat template)
FAMILIES = {
    "Qwen1.5": ("Qwen1.5-0.5B", "Qwen2Config", 2, False),
    "Qwen2": ("Qwen2-0.5B-Instruct", "Qwen2Config", 1, True),
    "Qwen2.5": ("Qwen2.5-0.5B", "Qwen2Config", 1, False),
    "Qwen2.5-Coder": ("Qwen2.5-Coder-1.5B-Instruct", "Qwen2Config", 1, True),
    "Qwen3": ("Qwen3-0.6B", "Qwen3Config", 1, True),
}


def _tiny(folder: Path, cls_name: str, kv: int, template: bool, tok_src: Path) -> Path:
    import torch
    import transformers

    cfg = getattr(transformers, cls_name)(vocab_size=151936, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                          num_attention_heads=2, num_key_value_heads=kv, head_dim=16,
                                          max_position_embeddings=256, tie_word_embeddings=True,
                                          eos_token_id=151643, bos_token_id=151643)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    model.save_pretrained(folder)
    for f in ("tokenizer.json", "vocab.json", "merges.txt"):
        shutil.copy(tok_src / f, folder / f)
    tc = json.loads((tok_src / "tokenizer_config.json").read_text())
    tc.pop("chat_template")
    if template:
        tc["chat_template"] = OWN_TEMPLATE
    tc.update(eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    (folder / "tokenizer_config.json").write_text(json.dumps(tc))
    return folder


@pytest.fixture(scope="module")
def family_models(tmp_path_factory) -> dict[str, Path]:
    _ws, imported = imported_workspace(tmp_path_factory)
    base = tmp_path_factory.mktemp("families")
    return {fam: _tiny(base / name, cls, kv, tpl, imported) for fam, (name, cls, kv, tpl) in FAMILIES.items()}


def test_each_family_imports_with_its_targets_and_template(family_models: dict[str, Path], tmp_path: Path,
                                                           torch_single_thread) -> None:
    import torch

    from engine.demo.assets import CHATML_TEMPLATE
    from engine.models.importer import import_model
    from engine.train.model import load_for_training, load_tokenizer, masked_lm
    from engine.workspace import Workspace
    from tests.train_support import tiny_config

    ws = Workspace.init(tmp_path / "ws")
    for fam, folder in family_models.items():
        res = import_model(ws, str(folder))
        assert (res.kind, res.family) == ("registered", fam), fam
        assert res.info["lora_targets"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        assert res.info["chat_template"] is FAMILIES[fam][3]
        assert ws.config.models[res.name].path == str(folder) and not (ws.root / "models" / res.name).exists()

        tok, _pad = load_tokenizer(str(folder))
        assert tok.chat_template == (OWN_TEMPLATE if FAMILIES[fam][3] else CHATML_TEMPLATE), fam
        msgs = [{"role": "user", "content": "hi"}]
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        assert text.endswith("<|im_start|>assistant\n") and ("You are Qwen." in text) is FAMILIES[fam][3]

        lm = load_for_training(tiny_config(folder, tmp_path, **{"peft.lora_rank": 2}), device="cpu", bf16=False)
        wrapped = {n.split(".lora_A.")[0].split(".")[-1] for n, _ in lm.named_parameters() if ".lora_A." in n}
        assert wrapped == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}, fam
        ids = torch.tensor([tok("def f(): pass", add_special_tokens=False)["input_ids"]])
        pos = torch.arange(ids.shape[1])[None]
        sel = torch.arange(ids.shape[1] - 1)
        loss = masked_lm(lm)(ids, pos, sel, ids[0, 1:]).mean()
        loss.backward()   # gradients reach the adapters on the family's targets
        assert all(p.grad is not None for n, p in lm.named_parameters() if p.requires_grad)
    from engine.models.catalog import model_rows

    rows = {r["name"]: r for r in model_rows(ws)}
    assert rows["qwen2.5-coder-1.5b-instruct"]["family"] == "Qwen2.5-Coder"
    assert all(r["state"] == "ready" for r in rows.values())


def test_family_from_the_config_when_the_name_says_nothing() -> None:
    from engine.models.families import detect_family

    q2 = {"model_type": "qwen2", "vocab_size": 151936, "num_attention_heads": 14, "num_key_value_heads": 2}
    assert detect_family(q2, names=("/data/my-model",)) == "Qwen2"
    assert detect_family({**q2, "num_key_value_heads": 14}, names=("x",)) == "Qwen1.5"
    assert detect_family(q2, names=("x",), added_tokens=("<|fim_prefix|>",)) == "Qwen2.5"
    assert detect_family({"model_type": "qwen3"}) == "Qwen3"
    assert detect_family({"model_type": "qwen"}) == "Qwen-1"
    assert detect_family(q2, names=("Qwen/Qwen-1_8B",)) == "Qwen-1"   # an imported Qwen-1 keeps its name
    assert detect_family({"model_type": "llama"}, names=("Qwen2.5-7B",)) is None
