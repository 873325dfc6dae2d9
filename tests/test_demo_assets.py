"""Demo assets: the tiny model + tokenizer build offline, reload with the Auto classes, generate,
and the toy curriculum's split and tests are sound."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.chat import encode
from engine.demo import curriculum
from engine.demo.assets import assets_key, build_demo_assets, demo_assets_ready


def test_tiny_model_reloads_and_generates(tiny_model_dir: Path, torch_single_thread: None) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "qwen2"
    n_params = sum(p.numel() for p in model.parameters())
    assert 1_000_000 <= n_params <= 10_000_000
    assert model.config.hidden_size // model.config.num_attention_heads >= 32  # vLLM CPU needs head_dim >= 32
    ids = tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    assert len(set(ids)) == 3 and tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert model.config.eos_token_id == ids[2]
    prompt = tok.apply_chat_template([{"role": "user", "content": "Write add_3"}], tokenize=False,
                                     add_generation_prompt=True)
    assert prompt == "<|im_start|>user\nWrite add_3<|im_end|>\n<|im_start|>assistant\n"
    enc = tok(prompt, return_tensors="pt")
    assert tok.decode(enc["input_ids"][0]) == prompt  # byte-exact round trip
    out = model.generate(**enc, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 6
    code = "def f(x):\n    return {'a': [1, 2]}  # ünïcode\n"
    assert tok.decode(tok(code)["input_ids"]) == code
    # saved weights reload to the same logits
    again = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        assert torch.allclose(model(**enc).logits, again(**enc).logits)


def test_chat_encoding_trains_only_assistant_turns(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rounds = [{"role": "system", "content": "Be brief."}, {"role": "human", "content": "add 2"},
              {"role": "bot", "content": "x + 2"}, {"role": "human", "content": "and 3?"},
              {"role": "bot", "content": "x + 3"}]
    enc = encode(tok, rounds)
    trained = tok.decode([i for i, m in zip(enc.input_ids, enc.loss_mask) if m])
    assert trained == "x + 2<|im_end|>x + 3<|im_end|>"
    full = tok.decode(enc.input_ids)
    assert full.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nadd 2")
    assert not full.endswith("\n")  # MFTCoder drops the final newline
    # the tokenizer's own template marks the same assistant text
    enc2 = encode(tok, rounds, template="tokenizer")
    assert tok.decode([i for i, m in zip(enc2.input_ids, enc2.loss_mask) if m]) == trained


def test_assets_are_cached(demo_root: Path) -> None:
    assert demo_assets_ready(demo_root)
    info = build_demo_assets(demo_root)
    assert info["cached"] is True and info["key"] == assets_key()


def test_assets_with_a_file_gone_are_not_ready(demo_root: Path, tmp_path: Path) -> None:
    import shutil

    (tmp_path / "models").mkdir()
    shutil.copytree(demo_root / "models" / "tiny", tmp_path / "models" / "tiny")
    (tmp_path / "data" / "toy" / "heldout").mkdir(parents=True)
    assert not demo_assets_ready(tmp_path)          # the marker alone is not enough: held-out data missing
    shutil.copy(demo_root / "data" / "toy" / "heldout" / "python.jsonl", tmp_path / "data" / "toy" / "heldout")
    assert demo_assets_ready(tmp_path)


def test_curriculum_split_is_disjoint_and_covers_both_languages() -> None:
    held = curriculum.heldout_problems()
    held_ids = {p["task_id"] for p in held}
    assert {p["language"] for p in held} == {"python", "javascript"}
    assert len(held) >= 100
    for lang in curriculum.LANGS:
        recs = curriculum.train_records(lang)
        train_ids = {r["id"].split("#")[0] for r in recs}
        assert not train_ids & held_ids
        # every family has training instances
        fams = {i.split("/")[1] for i in train_ids}
        assert fams == {f.name for f in curriculum.FAMILIES}
        # no held-out instance appears in any training text, in any phrasing
        texts = {r["chat_rounds"][0]["content"] for r in recs}
        for p in held:
            if p["language"] == lang:
                assert f"`{p['entry_point']}(" not in " ".join(texts)


def test_canonical_python_solutions_pass_their_tests() -> None:
    for p in curriculum.heldout_problems("python") + curriculum.train_problems("python"):
        ns: dict = {}
        exec(p["canonical_solution"], ns)  # our own reference code, not model output
        exec(p["test"], ns)


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_canonical_javascript_solutions_pass_their_tests(tmp_path: Path) -> None:
    probs = curriculum.heldout_problems("javascript") + curriculum.train_problems("javascript")
    body = ["const assert = require('node:assert');"]
    for i, p in enumerate(probs):
        body.append(f"{{\n{p['canonical_solution']}\n" + "\n".join(p["test_list"]) + "\n}")
    (tmp_path / "all.js").write_text("\n".join(body) + "\nconsole.log('ok', %d);\n" % len(probs))
    out = subprocess.run(["node", str(tmp_path / "all.js")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == f"ok {len(probs)}"


def test_written_curriculum_files(tmp_path: Path) -> None:
    counts = curriculum.write_curriculum(tmp_path)
    rows = [json.loads(x) for x in (tmp_path / "toy_python.jsonl").read_text().splitlines()]
    assert len(rows) == counts["train_python"] and rows[0]["chat_rounds"][1]["role"] == "bot"
    held = [json.loads(x) for x in (tmp_path / "heldout.jsonl").read_text().splitlines()]
    assert len(held) == counts["heldout"]
    assert {"task_id", "language", "instruction", "entry_point", "canonical_solution", "test_list", "test"} <= set(held[0])
