"""Helpers shared by the tests of engine/models (no tests here).

A tiny random Qwen-1 is built from the original remote code in ../shared/models/qwen1 (as
published: configuration_qwen.py, modeling_qwen.py, the real 151,936-entry vocabulary
qwen.tiktoken). Two things that do not exist on transformers 5 are supplied while it runs, and
only then: `PreTrainedModel.get_head_mask` (removed in transformers 5; the legacy behaviour for
head_mask=None is a list of None) and an empty stand-in module for `transformers_stream_generator`
(which does not import on transformers 5; the model code only uses it in `chat_stream`).

Shape: hidden 64, 2 heads of 32 (vLLM's CPU attention needs head_dim >= 32), 2 layers.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

QWEN1_SHARED = ROOT.parent / "shared" / "models" / "qwen1"
REMOTE_FILES = ("configuration_qwen.py", "modeling_qwen.py", "qwen_generation_utils.py", "cpp_kernels.py",
                "tokenization_qwen.py")
_CACHE: dict[str, Any] = {}


def qwen1_shared() -> Path:
    if not (QWEN1_SHARED / "qwen.tiktoken").is_file():
        pytest.skip(f"the Qwen-1 remote code and vocabulary are not at {QWEN1_SHARED}")
    return QWEN1_SHARED


def _legacy_get_head_mask(self: Any, head_mask: Any, num_hidden_layers: int, is_attention_chunked: bool = False) -> Any:
    assert head_mask is None, "the tests never pass a head mask"
    return [None] * num_hidden_layers


@contextmanager
def qwen1_remote_code() -> Iterator[None]:
    """Run the original Qwen-1 code on transformers 5: get_head_mask supplied, and an empty
    stand-in for transformers_stream_generator; both removed afterwards."""
    from transformers import PreTrainedModel

    had_module = "transformers_stream_generator" in sys.modules
    had_api = hasattr(PreTrainedModel, "get_head_mask")
    if not had_module:
        sys.modules["transformers_stream_generator"] = types.ModuleType("transformers_stream_generator")
    if not had_api:
        PreTrainedModel.get_head_mask = _legacy_get_head_mask  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if not had_module:
            sys.modules.pop("transformers_stream_generator", None)
        if not had_api:
            del PreTrainedModel.get_head_mask  # type: ignore[attr-defined]


QWEN1_CONFIG = {
    "architectures": ["QWenLMHeadModel"],
    "auto_map": {"AutoConfig": "configuration_qwen.QWenConfig", "AutoModelForCausalLM": "modeling_qwen.QWenLMHeadModel"},
    "model_type": "qwen", "hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2,
    "num_attention_heads": 2, "kv_channels": 32, "vocab_size": 151936, "seq_length": 512,
    "max_position_embeddings": 512, "rotary_emb_base": 10000, "rotary_pct": 1.0, "layer_norm_epsilon": 1e-6,
    "no_bias": True, "use_dynamic_ntk": True, "use_logn_attn": True, "use_flash_attn": False,
    "bf16": False, "fp16": False, "fp32": True, "tie_word_embeddings": False, "tokenizer_class": "QWenTokenizer",
    "emb_dropout_prob": 0.0, "attn_dropout_prob": 0.0, "initializer_range": 0.02,
}


def write_qwen1_folder(dest: Path, **config: Any) -> Path:
    """A Qwen-1 model folder without weights: config, remote code, tokenizer files."""
    src = qwen1_shared()
    dest.mkdir(parents=True, exist_ok=True)
    for f in (*REMOTE_FILES, "qwen.tiktoken", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(src / f, dest / f)
        (dest / f).chmod(0o644)
    (dest / "config.json").write_text(json.dumps({**QWEN1_CONFIG, **config}, indent=2))
    return dest


def build_qwen1(dest: Path, *, seed: int = 0, safe: bool = True, shard: str = "12MB", **config: Any) -> Path:
    """A random Qwen-1 saved as published checkpoints are (sharded safetensors, or .bin as
    transformers 4.32 / MFTCoder's merge wrote them). Norms and biases are perturbed and the
    output layer scaled so logits are O(1) and a wrong mapping cannot hide."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    write_qwen1_folder(dest, **config)
    with qwen1_remote_code():
        cfg = AutoConfig.from_pretrained(dest, trust_remote_code=True)
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(cfg, trust_remote_code=True)
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                    p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
                elif name.endswith("bias"):
                    p.copy_(0.3 * torch.randn(p.shape, generator=g))
                elif name == "lm_head.weight":
                    p.mul_(20)
        if safe:
            model.save_pretrained(dest, max_shard_size=shard)
        else:
            _save_bin_shards(model, dest)
    return dest


def _save_bin_shards(model: Any, dest: Path, n: int = 2) -> None:
    """pytorch_model-0000i-of-0000n.bin + its index, as transformers 4.32 saved by default
    (transformers 5 writes safetensors only)."""
    import torch

    model.config.save_pretrained(dest)
    items = list(model.state_dict().items())
    per = -(-len(items) // n)
    weight_map, total = {}, 0
    for i in range(n):
        name = f"pytorch_model-{i + 1:05d}-of-{n:05d}.bin"
        part = {k: v.contiguous().clone() for k, v in items[i * per:(i + 1) * per]}
        torch.save(part, dest / name)
        weight_map.update({k: name for k in part})
        total += sum(v.numel() * v.element_size() for v in part.values())
    (dest / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {"total_size": total},
                                                                   "weight_map": weight_map}))


def load_qwen1(folder: Path) -> Any:
    """The original implementation with the checkpoint's weights; call inside `qwen1_remote_code()`.

    Built from its config and given the state dict directly (strict): `from_pretrained` on
    transformers 5 re-runs the remote code's `_init_weights` on QWenAttention (it holds buffers
    that are not in the checkpoint), and that re-randomises attn.c_proj: the weights a user
    gets that way are not the checkpoint's."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.from_pretrained(folder, trust_remote_code=True)
    model = AutoModelForCausalLM.from_config(cfg, trust_remote_code=True, dtype=torch.float32)
    state: dict[str, Any] = {}
    for f in sorted(folder.glob("*.safetensors")):
        from safetensors.torch import load_file

        state.update(load_file(str(f)))
    for f in sorted(folder.glob("pytorch_model*.bin")):
        state.update(torch.load(str(f), map_location="cpu", weights_only=True))
    model.load_state_dict(state, strict=True)
    return model.eval()


def cli(ws_root: Path, *args: str) -> Any:
    """`workbench -w WS ARGS` in this process (imports shared); returns the CliRunner result."""
    from typer.testing import CliRunner

    from workbench.cli import app
    from workbench.context import STATE

    STATE._ws = None
    try:
        return CliRunner().invoke(app, ["-w", str(ws_root), *args])
    finally:
        STATE._ws = None


def tiny_qwen1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny random Qwen-1 checkpoint per session (sharded safetensors)."""
    if "qwen1" not in _CACHE:
        _CACHE["qwen1"] = build_qwen1(tmp_path_factory.mktemp("qwen1") / "Qwen-1_8B-tiny")
    return _CACHE["qwen1"]


def imported_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """A workspace with the session's tiny Qwen-1 imported as `qwen1` (native Qwen2, real vocab)."""
    if "ws" not in _CACHE:
        from engine.models.importer import import_model
        from engine.workspace import Workspace

        ws = Workspace.init(tmp_path_factory.mktemp("models-ws") / "ws", name="models")
        import_model(ws, str(tiny_qwen1(tmp_path_factory)), name="qwen1")
        _CACHE["ws"] = (ws, ws.root / "models" / "qwen1")
    return _CACHE["ws"]


def answering_copy(src: Path, dest: Path, prompt_ids: list[int], *, after: int = 2) -> Path:
    """A copy of a converted model that greedily ends its answer with <|im_end|> within `after`
    tokens of `prompt_ids`: the output row of <|im_end|> becomes a scaled copy of the row of the
    token greedy decoding would emit at that step (so <|im_end|> outscores it there)."""
    import torch
    from transformers import AutoModelForCausalLM

    from engine.models.importer import EOS_ID

    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.safetensors", "*.index.json"))
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
    with torch.no_grad():
        ids = torch.tensor([prompt_ids])
        for _ in range(after):
            logits = model(input_ids=ids).logits[0, -1]
            nxt = int(logits.argmax())
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
        head = model.get_output_embeddings().weight
        scale = 3.0 if float(logits[nxt]) > 0 else -3.0
        head[EOS_ID] = head[nxt] * scale
    model.save_pretrained(dest)
    return dest


TOY_PROBLEMS = [
    {"task_id": f"toy/{i}", "language": "python", "instruction": f"Write a function {name}(a, b) that returns {expr}.",
     "prompt": "", "entry_point": name, "canonical_solution": f"def {name}(a, b):\n    return {expr}\n",
     "test_list": [f"assert {name}(3, 2) == {val}"], "test": f"assert {name}(3, 2) == {val}\n"}
    for i, (name, expr, val) in enumerate([("add", "a + b", 5), ("sub", "a - b", 1), ("mul", "a * b", 6)])
]


def toy_problems(folder: Path) -> Path:
    """Three workbench-schema Python problems (a task of their own for `eval run --tasks`)."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "toy.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in TOY_PROBLEMS))
    return p
