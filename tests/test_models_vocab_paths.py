"""The contest's real vocabulary (Qwen's 151,936-entry embedding, qwen.tiktoken's 151,851 tokens)
through every path: token counts, the label mask, packing, LoRA steps on the family's targets,
generation stopping at <|im_end|>, merge writing <|im_end|> as eos, and the vLLM-CPU backend.
The model is the session's tiny random Qwen-1, imported as native Qwen2."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from engine.validate.vllm_backend import CPU_VENV
from tests.test_models_support import answering_copy, imported_workspace, write_qwen1_folder
from tests.train_support import tiny_config, write_build

ROUNDS = [
    [{"role": "system", "content": "你是一个编程助手。"}, {"role": "human", "content": "写一个函数，返回两数之和。"},
     {"role": "bot", "content": "def add(a, b):\n    return a + b\n"}],
    [{"role": "human", "content": "Reverse a string in Go."},
     {"role": "bot", "content": "\nfunc rev(s string) string {\n\tr := []rune(s)\n\treturn string(r)\n}"},
     {"role": "human", "content": "And in Rust?"},
     {"role": "bot", "content": "    fn rev(s: &str) -> String { s.chars().rev().collect() }  \n\n"}],
    [{"role": "human", "content": "C++: sum of a vector<int>"},
     {"role": "bot", "content": "```cpp\n#include <numeric>\nint s = std::accumulate(v.begin(), v.end(), 0);\n```"}],
]


@pytest.fixture(scope="module")
def qwen_tok(tmp_path_factory):
    from engine.train.model import load_tokenizer

    _ws, dest = imported_workspace(tmp_path_factory)
    tok, pad = load_tokenizer(str(dest))
    assert len(tok) == 151851 and pad == 151645
    return tok


@pytest.fixture(scope="module")
def original_tok(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(write_qwen1_folder(tmp_path_factory.mktemp("orig-tok")),
                                         trust_remote_code=True)


def test_token_counts_with_the_workspace_tokenizer(tmp_path_factory, original_tok) -> None:
    from engine.chat import render_text
    from engine.data.tokenizer import load_tokenizer, token_lengths

    ws, _dest = imported_workspace(tmp_path_factory)
    tok = load_tokenizer(ws)   # the default model: the imported Qwen-1
    got = token_lengths(tok, ROUNDS)
    want = [len(original_tok(render_text(r))["input_ids"]) for r in ROUNDS]
    assert got == want and min(got) > 10


def test_label_mask_is_exactly_each_answer_and_its_im_end(qwen_tok, original_tok) -> None:
    from engine.chat import encode

    for rounds in ROUNDS:
        enc = encode(qwen_tok, rounds, template="chatml")
        trained = [i for i, m in zip(enc.input_ids, enc.loss_mask) if m]
        # MFTCoder tokenises each answer on its own and trains it plus <|im_end|>
        want = [i for r in rounds if r["role"] == "bot" for i in original_tok(r["content"])["input_ids"] + [151645]]
        assert trained == want, (qwen_tok.decode(trained), rounds)
        assert qwen_tok.decode(trained) == "".join(r["content"] + "<|im_end|>" for r in rounds if r["role"] == "bot")
        assert enc.input_ids[0] == 151644 and 151645 in enc.input_ids   # <|im_start|> ... <|im_end|>


def _records(n: int) -> list[dict]:
    return [{"id": f"r{i}", "chat_rounds": ROUNDS[i % len(ROUNDS)]} for i in range(n)]


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    return write_build(tmp_path_factory.mktemp("vocab-build") / "build",
                       {"code_zh": (_records(24), _records(4)), "code_en": (_records(18)[1:], _records(4))})


def test_packing_efficiency_with_the_real_vocabulary(build: Path, qwen_tok) -> None:
    from engine.tokens import build_tasks, tokenize_build
    from engine.train.data import build_plan

    shards = tokenize_build(build, qwen_tok, template="chatml")
    tasks = build_tasks(build)
    packed = build_plan(shards, tasks, seq_length=256, packing=True, overlong="truncate", pad_id=151645, seed=0)
    single = build_plan(shards, tasks, seq_length=256, packing=False, overlong="truncate", pad_id=151645, seed=0)
    fill_p = [packed.report["tasks"][t]["train"]["fill"] for t in tasks]
    fill_s = [single.report["tasks"][t]["train"]["fill"] for t in tasks]
    assert all(p > 0.8 for p in fill_p) and all(p > s for p, s in zip(fill_p, fill_s))
    assert int(shards["code_zh"]["train"].input_ids.max()) >= 151644   # specials in the stream, ids past 151k


@pytest.fixture(scope="module")
def base_with_endoftext(tmp_path_factory) -> Path:
    """The imported model as a base model whose eos is <|endoftext|> (what merge must change)."""
    _ws, dest = imported_workspace(tmp_path_factory)
    base = tmp_path_factory.mktemp("eot-base") / "qwen1-base"
    shutil.copytree(dest, base)
    for name, update in (("config.json", {"eos_token_id": 151643}), ("generation_config.json", {"eos_token_id": 151643}),
                         ("tokenizer_config.json", {"eos_token": "<|endoftext|>"})):
        d = json.loads((base / name).read_text())
        d.update(update)
        (base / name).write_text(json.dumps(d))
    return base


def test_lora_steps_on_the_family_targets_then_merge_writes_im_end(base_with_endoftext: Path, build: Path,
                                                                   tmp_path: Path, torch_single_thread) -> None:
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.runs import RunState
    from engine.train.launch import prepare_run
    from engine.train.loop import train
    from engine.train.merge import merge_checkpoint
    from tests.train_support import read_metrics

    cfg = tiny_config(base_with_endoftext, build, **{"loop.max_steps": 3, "data.seq_length": 256,
                                                      "loop.micro_batch_size": 2, "loss.scope": "micro_batch"})
    run = prepare_run(None, cfg, runs_dir=tmp_path / "runs")
    assert train(run.path) == RunState.COMPLETED
    losses = [r["loss"] for r in read_metrics(run) if r.get("loss") is not None]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]   # it learns
    ck = run.checkpoints()[-1]
    with safe_open(str(Path(ck["path"]) / "adapter" / "adapter_model.safetensors"), "pt") as f:
        modules = {k.split(".")[-3] for k in f.keys()}  # noqa: SIM118 - safe_open is not a dict
    assert modules == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

    info = merge_checkpoint(run, "last", tmp_path / "merged")
    assert info["eos_token"] == "<|im_end|>"
    merged = tmp_path / "merged"
    cfgj = json.loads((merged / "config.json").read_text())
    gen = json.loads((merged / "generation_config.json").read_text())
    assert cfgj["eos_token_id"] == 151645 and gen["eos_token_id"] == [151645, 151643]
    assert AutoTokenizer.from_pretrained(merged).eos_token == "<|im_end|>"
    assert AutoModelForCausalLM.from_pretrained(merged).config.eos_token_id == 151645


@pytest.fixture(scope="module")
def answering(tmp_path_factory, qwen_tok) -> tuple[Path, str]:
    """A converted model that ends its answer with <|im_end|> after a token or two, and its prompt."""
    _ws, dest = imported_workspace(tmp_path_factory)
    prompt = qwen_tok.apply_chat_template([{"role": "user", "content": "用 Python 写 hello world"}], tokenize=False,
                                          add_generation_prompt=True)
    ids = qwen_tok(prompt, add_special_tokens=False)["input_ids"]
    return answering_copy(dest, tmp_path_factory.mktemp("answering") / "m", ids, after=2), prompt


def _hf_outputs(model: Path, prompt: str):
    from engine.validate.generate import GenRequest, GenSettings
    from engine.validate.hf import HFBackend

    settings = GenSettings(max_new_tokens=16, batch_size=2)
    be = HFBackend.load(str(model), settings=settings)
    ends = be.end_tokens()
    assert ends[:1] == ["<|im_end|>"] and "<|endoftext|>" in ends
    return be.generate([GenRequest(prompt=prompt, add_special_tokens=False, max_new_tokens=16)], settings,
                       end_tokens=ends)[0][0]


def test_generation_stops_at_im_end(answering, torch_single_thread) -> None:
    model, prompt = answering
    out = _hf_outputs(model, prompt)
    assert out.finish == "eos" and out.text.endswith("<|im_end|>") and 1 <= out.n_tokens <= 2


@pytest.mark.slow
@pytest.mark.skipif(not (CPU_VENV / "bin" / "python").exists(),
                    reason="no vLLM CPU build: run scripts/vllm-cpu-venv.sh (CI's .ci/run does) to create .cache/vllm-cpu")
def test_vllm_cpu_backend_on_the_converted_model(answering, torch_single_thread) -> None:
    """vLLM loads the converted checkpoint (plain Qwen2, no remote code) with the real vocabulary
    and stops where transformers does."""
    from engine.validate.generate import GenRequest, GenSettings
    from engine.validate.vllm_backend import VLLMBackend

    model, prompt = answering
    want = _hf_outputs(model, prompt)
    settings = GenSettings(max_new_tokens=16, max_model_len=256)
    be = VLLMBackend(str(model), settings=settings)
    got = be.generate([GenRequest(prompt=prompt, add_special_tokens=False, max_new_tokens=16)], settings)[0][0]
    assert (got.text, got.finish, got.n_tokens) == (want.text, want.finish, want.n_tokens)
