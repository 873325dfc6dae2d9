"""Build a tiny causal LM in Hugging Face format, offline: a byte-level BPE tokenizer trained
on the fly (Qwen's ChatML special tokens and chat template) and a randomly initialised
`Qwen2ForCausalLM`. Loadable with AutoModelForCausalLM / AutoTokenizer.from_pretrained.

Heavy imports (torch, transformers, tokenizers) happen inside the functions.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.fsutil import atomic_write_json, file_lock, read_json_or, stable_hash

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Bump when the recipe changes so cached demo assets are rebuilt.
ASSETS_VERSION = "4"


@dataclass(frozen=True)
class TinySpec:
    """A few million parameters; head_dim 64 so vLLM's CPU attention accepts it too."""

    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 512
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024
    seed: int = 0


def _stdlib_sources(limit_chars: int = 400_000) -> Iterator[str]:
    """Real code for the tokenizer to learn general merges from (ships with Python: offline)."""
    import collections
    import json
    import textwrap
    import typing

    total = 0
    for mod in (textwrap, collections, json.decoder, typing):
        try:
            src = inspect.getsource(mod)
        except (OSError, TypeError):
            continue
        total += len(src)
        yield src
        if total >= limit_chars:
            return


def _extra_code_samples() -> list[str]:
    # A little of each contest language so their syntax gets sensible merges.
    return [
        (
            "#include <vector>\n#include <string>\nusing namespace std;\nint main() {\n    vector<int> v = {1, 2, 3};\n"
            "    for (int i = 0; i < (int)v.size(); i++) { printf(\"%d\\n\", v[i]); }\n    return 0;\n}\n"
        ),
        (
            "public class Main {\n    public static void main(String[] args) {\n"
            "        System.out.println(\"hello\");\n    }\n}\n"
        ),
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello\")\n}\n",
        "fn main() {\n    let v: Vec<i32> = vec![1, 2, 3];\n    println!(\"{:?}\", v);\n}\n",
        "const f = (xs) => xs.map((x) => x * 2);\nfunction g(a, b) {\n  return a + b;\n}\nconsole.log(f([1, 2]));\n",
    ]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    # Digits split one by one, as Qwen's pre-tokenizer does: numbers then share tokens in every
    # context ("add_47", " 47"), which is what lets a tiny model copy them.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    hf.chat_template = CHATML_TEMPLATE
    hf.padding_side = "left"  # generation-friendly; trainers pad explicitly
    return hf


def tokenizer_corpus(texts: Iterable[str] | None = None) -> list[str]:
    """`texts` (default: the toy curriculum) plus real code in every contest language."""
    from engine.demo.curriculum import corpus_texts

    corpus = list(texts) if texts is not None else list(corpus_texts())
    return corpus + list(_stdlib_sources()) + _extra_code_samples()


def build_tiny_model(dest: str | Path, *, texts: Iterable[str] | None = None, spec: TinySpec = TinySpec()) -> Path:
    """Train a tokenizer on `texts` (plus real code), build a random Qwen2, save both to `dest`."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    corpus = tokenizer_corpus(texts)
    # Chat markup so "<|im_start|>assistant\n" etc. tokenise compactly.
    corpus += ["<|im_start|>system\n<|im_end|>\n<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n"] * 50
    tok = train_tokenizer(corpus, spec.vocab_size)

    torch.manual_seed(spec.seed)
    cfg = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tok.pad_token_id,
    )
    model = Qwen2ForCausalLM(cfg)
    model.generation_config = GenerationConfig(
        eos_token_id=cfg.eos_token_id, pad_token_id=cfg.pad_token_id, do_sample=False, max_new_tokens=128
    )
    model.save_pretrained(dest)
    tok.save_pretrained(dest)
    atomic_write_json(
        dest / "workbench-model.json",
        {
            "built_by": "workbench demo build",
            "spec": asdict(spec),
            "created": time.time(),
            "parameters": sum(p.numel() for p in model.parameters()),
        },
    )
    return dest


def assets_key(spec: TinySpec = TinySpec()) -> str:
    return stable_hash({"version": ASSETS_VERSION, "spec": asdict(spec)})


def build_demo_assets(root: str | Path, *, force: bool = False, spec: TinySpec = TinySpec()) -> dict[str, Any]:
    """Build (or reuse) <root>/models/tiny and <root>/data/toy. Cached by a key over the recipe;
    a lock makes a second builder (the app's background build, `demo run`) wait and reuse."""
    from engine.demo.curriculum import write_curriculum

    root = Path(root)
    with file_lock(root / ".demo-build.lock"):
        if not force and demo_assets_ready(root, spec):
            return {**read_json_or(_marker(root)), "cached": True}
        _marker(root).unlink(missing_ok=True)  # written last: a build cut short is never taken as built
        t0 = time.time()
        counts = write_curriculum(root / "data" / "toy")
        model_dir = build_tiny_model(root / "models" / "tiny", spec=spec)
        info = {
            "key": assets_key(spec),
            "model": str(model_dir),
            "data": str(root / "data" / "toy"),
            "counts": counts,
            "seconds": round(time.time() - t0, 2),
            "parameters": read_json_or(model_dir / "workbench-model.json", {}).get("parameters"),
        }
        atomic_write_json(_marker(root), info)
    return {**info, "cached": False}


def _marker(root: Path) -> Path:
    return root / "models" / "tiny" / "workbench-assets.json"


def demo_assets_ready(root: str | Path, spec: TinySpec = TinySpec()) -> bool:
    """The assets for this recipe are built and their files are there."""
    root = Path(root)
    cached = read_json_or(_marker(root))
    return (
        isinstance(cached, dict)
        and cached.get("key") == assets_key(spec)
        and (root / "models" / "tiny" / "config.json").exists()
        and (root / "data" / "toy" / "heldout" / "python.jsonl").exists()
    )
