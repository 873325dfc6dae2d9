"""Original Qwen (Qwen-1: `model_type: qwen`, `QWenLMHeadModel`) -> a native Qwen2 checkpoint.

The two architectures compute the same function: RMSNorm pre-norm blocks, rotary attention
(full rotary dim, the same rotate-half layout) with biases on q/k/v only, a SwiGLU MLP and an
untied output layer. Only names and the fused q/k/v projection differ:

    transformer.wte                  -> model.embed_tokens
    transformer.h.N.ln_1 / ln_2      -> model.layers.N.input_layernorm / post_attention_layernorm
    transformer.h.N.attn.c_attn      -> model.layers.N.self_attn.{q,k,v}_proj   (rows split in 3)
    transformer.h.N.attn.c_proj      -> model.layers.N.self_attn.o_proj
    transformer.h.N.mlp.w2 / w1      -> model.layers.N.mlp.gate_proj / up_proj  (c_proj(w1(x) * silu(w2(x))))
    transformer.h.N.mlp.c_proj       -> model.layers.N.mlp.down_proj
    transformer.ln_f / lm_head       -> model.norm / lm_head

Qwen-1 stores the MLP width doubled (`intermediate_size` = 2 x the w1/w2 rows). Its dynamic NTK
and logn attention scaling only act on sequences longer than its trained `seq_length`; the
converted model uses plain RoPE, which is identical up to that length (import warns).

Shards are converted one at a time as byte copies (engine.models.safetensors_io), so memory
stays small whatever the model size; PyTorch `.bin` shards are loaded one at a time.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.fsutil import atomic_write_json
from engine.models.checkpoint_files import WeightFiles, read_config, weight_files
from engine.models.safetensors_io import Piece, TensorInfo, read_header, write_file

Progress = Callable[[str, int, int], None]  # (phase, done, total)

SAFE_DTYPE_NAMES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32", "F64": "float64"}

# Qwen-1 module path -> Qwen2 module path(s); a tuple of three splits the rows of c_attn (q, k, v).
_MODULES: tuple[tuple[re.Pattern[str], str | tuple[str, str, str]], ...] = (
    (re.compile(r"transformer\.wte"), "model.embed_tokens"),
    (re.compile(r"transformer\.ln_f"), "model.norm"),
    (re.compile(r"lm_head"), "lm_head"),
    (re.compile(r"transformer\.h\.(\d+)\.ln_1"), r"model.layers.\1.input_layernorm"),
    (re.compile(r"transformer\.h\.(\d+)\.ln_2"), r"model.layers.\1.post_attention_layernorm"),
    (
        re.compile(r"transformer\.h\.(\d+)\.attn\.c_attn"),
        (r"model.layers.\1.self_attn.q_proj", r"model.layers.\1.self_attn.k_proj", r"model.layers.\1.self_attn.v_proj"),
    ),
    (re.compile(r"transformer\.h\.(\d+)\.attn\.c_proj"), r"model.layers.\1.self_attn.o_proj"),
    (re.compile(r"transformer\.h\.(\d+)\.mlp\.w1"), r"model.layers.\1.mlp.up_proj"),
    (re.compile(r"transformer\.h\.(\d+)\.mlp\.w2"), r"model.layers.\1.mlp.gate_proj"),
    (re.compile(r"transformer\.h\.(\d+)\.mlp\.c_proj"), r"model.layers.\1.mlp.down_proj"),
)
# Buffers some Qwen-1 checkpoints carry that are recomputed at load time.
_IGNORED = re.compile(r".*(rotary_emb\.inv_freq|attn\.masked_bias|attn\.bias|logn_tensor)$")


def map_module(path: str) -> list[str] | None:
    """Qwen2 module path(s) of a Qwen-1 module path (three for c_attn), None if not a Qwen-1 module."""
    for pat, repl in _MODULES:
        m = pat.fullmatch(path)
        if m:
            return [m.expand(r) for r in repl] if isinstance(repl, tuple) else [m.expand(repl)]
    return None


def is_qwen1_config(cfg: dict[str, Any]) -> bool:
    return cfg.get("model_type") == "qwen" or "QWenLMHeadModel" in (cfg.get("architectures") or [])


@dataclass(frozen=True)
class Qwen1Shape:
    hidden: int
    layers: int
    heads: int
    head_dim: int
    ffn: int  # rows of w1 / w2 (half of Qwen-1's intermediate_size)
    vocab: int
    context: int  # the trained sequence length
    tied: bool

    def expected(self) -> dict[str, tuple[int, ...]]:
        """Every tensor a Qwen-1 checkpoint of this shape holds, with its shape."""
        H, P, F = self.hidden, self.heads * self.head_dim, self.ffn
        out: dict[str, tuple[int, ...]] = {"transformer.wte.weight": (self.vocab, H), "transformer.ln_f.weight": (H,)}
        if not self.tied:
            out["lm_head.weight"] = (self.vocab, H)
        for i in range(self.layers):
            p = f"transformer.h.{i}."
            out.update(
                {
                    p + "ln_1.weight": (H,),
                    p + "ln_2.weight": (H,),
                    p + "attn.c_attn.weight": (3 * P, H),
                    p + "attn.c_attn.bias": (3 * P,),
                    p + "attn.c_proj.weight": (H, P),
                    p + "mlp.w1.weight": (F, H),
                    p + "mlp.w2.weight": (F, H),
                    p + "mlp.c_proj.weight": (H, F),
                }
            )
        return out


def _need(cfg: dict[str, Any], key: str, file: Path, *alts: str) -> Any:
    for k in (key, *alts):
        if cfg.get(k) is not None:
            return cfg[k]
    raise InputError(f"Qwen-1 config has no '{key}'", file=file, field=key)


def qwen1_shape(cfg: dict[str, Any], file: Path) -> Qwen1Shape:
    """The model's shape from its config.json, refusing what Qwen2 cannot express."""
    hidden = int(_need(cfg, "hidden_size", file))
    heads = int(_need(cfg, "num_attention_heads", file))
    head_dim = int(cfg.get("kv_channels") or hidden // heads)
    if heads * head_dim != hidden:
        raise InputError(
            f"kv_channels {head_dim} x num_attention_heads {heads} != hidden_size {hidden}: the Qwen-1 "
            "code itself splits q/k/v by hidden_size, so this config cannot run",
            file=file,
            field="kv_channels",
        )
    if float(cfg.get("rotary_pct", 1.0)) != 1.0:
        raise InputError(
            f"rotary_pct = {cfg['rotary_pct']}: partial rotary embeddings have no Qwen2 equivalent",
            file=file,
            field="rotary_pct",
        )
    if cfg.get("no_bias", True) is False:
        raise InputError("no_bias = false: Qwen2 has no biases on o_proj and the MLP", file=file, field="no_bias")
    inter = int(_need(cfg, "intermediate_size", file))
    if inter % 2:
        raise InputError(
            f"intermediate_size {inter} is odd; Qwen-1's MLP width is intermediate_size / 2",
            file=file,
            field="intermediate_size",
        )
    return Qwen1Shape(
        hidden=hidden,
        layers=int(_need(cfg, "num_hidden_layers", file)),
        heads=heads,
        head_dim=head_dim,
        ffn=inter // 2,
        vocab=int(_need(cfg, "vocab_size", file, "padded_vocab_size")),
        context=int(_need(cfg, "seq_length", file, "max_position_embeddings")),
        tied=bool(cfg.get("tie_word_embeddings", False)),
    )


def qwen2_config(
    cfg: dict[str, Any], shape: Qwen1Shape, *, dtype: str, eos_id: int, pad_id: int, bos_id: int
) -> dict[str, Any]:
    """config.json of the converted model (the Qwen2 hub layout, loadable by transformers 4/5 and vLLM)."""
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "vocab_size": shape.vocab,
        "hidden_size": shape.hidden,
        "intermediate_size": shape.ffn,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.heads,
        "head_dim": shape.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": shape.context,
        "rms_norm_eps": float(cfg.get("layer_norm_epsilon", 1e-6)),
        "rope_theta": float(cfg.get("rotary_emb_base", cfg.get("rope_theta", 10000.0))),
        "rope_scaling": None,
        "use_sliding_window": False,
        "sliding_window": None,
        "max_window_layers": shape.layers,
        "attention_dropout": float(cfg.get("attn_dropout_prob", 0.0)),
        "initializer_range": float(cfg.get("initializer_range", 0.02)),
        "tie_word_embeddings": shape.tied,
        "use_cache": True,
        "torch_dtype": dtype,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "pad_token_id": pad_id,
    }


def context_warnings(cfg: dict[str, Any], shape: Qwen1Shape) -> list[str]:
    on = [
        name
        for key, name in (
            ("use_dynamic_ntk", "dynamic NTK rotary scaling"),
            ("use_logn_attn", "logn attention scaling"),
        )
        if cfg.get(key, True)
    ]
    if not on:
        return []
    return [
        (
            f"Qwen-1's {' and '.join(on)} act only beyond its trained context of {shape.context} tokens; the "
            f"converted model uses plain RoPE, identical up to {shape.context} tokens (prompt + answer): keep "
            "generations within it (the contest's limit is 2000)"
        )
    ]


# -- the tensors -------------------------------------------------------------------------------------


@dataclass
class ShardPlan:
    source: Path
    pieces: list[Piece] = field(default_factory=list)


def _qwen2_tensors(name: str, rows: int) -> list[tuple[str, int, int]] | None:
    """(Qwen2 tensor name, first row, row count) for one Qwen-1 tensor; None when it is not one."""
    module, _, leaf = name.rpartition(".")
    targets = map_module(module)
    if targets is None:
        return None
    if len(targets) == 1:
        return [(f"{targets[0]}.{leaf}", 0, rows)]
    third = rows // 3
    return [(f"{t}.{leaf}", i * third, third) for i, t in enumerate(targets)]


def _check_tensors(found: dict[str, TensorInfo], wf: WeightFiles, shape: Qwen1Shape, folder: Path) -> str:
    """Every expected tensor present with its shape, nothing unknown; returns the common dtype."""
    expected = shape.expected()
    for name, t in found.items():
        if name not in expected and not _IGNORED.match(name):
            raise InputError(
                f"unexpected tensor {name} {list(t.shape)} (not part of a Qwen-1 model with {shape.layers} layers)",
                file=t.file,
            )
    for name, want in expected.items():
        got = found.get(name)
        if got is None:
            listed = wf.weight_map.get(name)
            if listed is not None:
                raise InputError(
                    f"has no tensor {name}, which {wf.index.name if wf.index else 'the index'} says is in it",
                    file=folder / listed,
                )
            raise InputError(
                f"no tensor {name} in any weight file (a Qwen-1 model with {shape.layers} layers needs it)", file=folder
            )
        if tuple(got.shape) != want:
            raise InputError(
                f"tensor {name} is {list(got.shape)}; config.json (hidden_size {shape.hidden}, "
                f"vocab_size {shape.vocab}, intermediate_size {2 * shape.ffn}) needs {list(want)}",
                file=got.file,
            )
    dtypes = {found[n].dtype for n in expected}
    if len(dtypes) != 1:
        raise InputError(f"tensors of mixed dtypes ({', '.join(sorted(dtypes))})", file=folder)
    return dtypes.pop()


def _plan_safetensors(wf: WeightFiles, shape: Qwen1Shape, folder: Path) -> tuple[list[ShardPlan], str]:
    found: dict[str, TensorInfo] = {}
    for f in wf.files:
        for name, t in read_header(f).items():
            listed = wf.weight_map.get(name)
            if wf.index is not None and listed is not None and listed != f.name:
                continue  # a duplicate: the index says which copy counts
            found[name] = t
    dtype = _check_tensors(found, wf, shape, folder)
    plans = {f: ShardPlan(f) for f in wf.files}
    for name in shape.expected():
        t = found[name]
        for new, first, rows in _qwen2_tensors(name, t.shape[0]) or []:
            plans[t.file].pieces.append(
                Piece(new, t.dtype, (rows,) + t.shape[1:], t, first * t.row_bytes, rows * t.row_bytes)
            )
    return [p for p in plans.values() if p.pieces], dtype


def _shard_name(i: int, n: int) -> str:
    return "model.safetensors" if n == 1 else f"model-{i + 1:05d}-of-{n:05d}.safetensors"


def _convert_safetensors(
    wf: WeightFiles, shape: Qwen1Shape, folder: Path, dest: Path, progress: Progress | None
) -> tuple[dict[str, str], str, int]:
    plans, dtype = _plan_safetensors(wf, shape, folder)
    total = sum(p.length for plan in plans for p in plan.pieces)
    done = [0]

    def step(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress("weights", done[0], total)

    weight_map: dict[str, str] = {}
    for i, plan in enumerate(plans):
        name = _shard_name(i, len(plans))
        write_file(dest / name, plan.pieces, step)
        weight_map.update({p.name: name for p in plan.pieces})
    return weight_map, SAFE_DTYPE_NAMES.get(dtype, dtype.lower()), total


def _convert_bin(
    wf: WeightFiles, shape: Qwen1Shape, folder: Path, dest: Path, progress: Progress | None
) -> tuple[dict[str, str], str, int]:
    """PyTorch pickles: one shard in memory at a time (loaded with mmap, tensors only)."""
    import torch
    from safetensors.torch import save_file

    expected = shape.expected()
    seen: dict[str, TensorInfo] = {}
    weight_map: dict[str, str] = {}
    dtypes: set[str] = set()
    total = 0
    for i, f in enumerate(wf.files):
        try:
            sd = torch.load(str(f), map_location="cpu", mmap=True, weights_only=True)
        except Exception as e:  # noqa: BLE001 - pickle/zip errors have many types; name the file
            raise InputError(f"cannot load PyTorch weights: {type(e).__name__}: {e}", file=f) from None
        out: dict[str, Any] = {}
        for name, t in sd.items():
            if not hasattr(t, "shape"):
                continue
            seen[name] = TensorInfo(name, str(t.dtype), tuple(t.shape), f, 0, 0)
            parts = _qwen2_tensors(name, int(t.shape[0])) if name in expected else None
            for new, first, rows in parts or []:
                out[new] = t[first : first + rows].clone() if len(parts or []) > 1 else t.contiguous()
                dtypes.add(str(t.dtype).replace("torch.", ""))
        name_out = _shard_name(i, len(wf.files))
        if out:
            save_file(out, str(dest / name_out), metadata={"format": "pt"})
            weight_map.update({k: name_out for k in out})
            total += sum(v.numel() * v.element_size() for v in out.values())
        del sd, out
        if progress is not None:
            progress("weights", i + 1, len(wf.files))
    _check_tensors(seen, wf, shape, folder)
    if len(dtypes) != 1:
        raise InputError(f"tensors of mixed dtypes ({', '.join(sorted(dtypes))})", file=folder)
    # shards holding nothing Qwen2 keeps were skipped: rename so the names count the files written
    files = list(dict.fromkeys(weight_map.values()))
    if len(files) != len(wf.files):
        renames = {old: _shard_name(i, len(files)) for i, old in enumerate(files)}
        for old, new in renames.items():
            (dest / old).rename(dest / new)
        weight_map = {k: renames[v] for k, v in weight_map.items()}
    return weight_map, dtypes.pop(), total


@dataclass
class Converted:
    dest: Path
    dtype: str
    shape: Qwen1Shape
    bytes: int
    shards: int
    warnings: list[str]


def convert_qwen1(
    src: Path, dest: Path, *, eos_id: int, pad_id: int, bos_id: int, progress: Progress | None = None
) -> Converted:
    """Write the Qwen2 weights and config.json of the Qwen-1 model in `src` into `dest`."""
    cfg = read_config(src)
    if not is_qwen1_config(cfg):
        raise InputError(
            f"not a Qwen-1 config (model_type {cfg.get('model_type')!r})", file=src / "config.json", field="model_type"
        )
    shape = qwen1_shape(cfg, src / "config.json")
    wf = weight_files(src)
    dest.mkdir(parents=True, exist_ok=True)
    convert = _convert_safetensors if wf.kind == "safetensors" else _convert_bin
    weight_map, dtype, nbytes = convert(wf, shape, src, dest, progress)
    shards = sorted(set(weight_map.values()))
    if len(shards) > 1:
        atomic_write_json(
            dest / "model.safetensors.index.json",
            {"metadata": {"total_size": nbytes}, "weight_map": dict(sorted(weight_map.items()))},
        )
    atomic_write_json(
        dest / "config.json", qwen2_config(cfg, shape, dtype=dtype, eos_id=eos_id, pad_id=pad_id, bos_id=bos_id)
    )
    for extra in sorted(src.glob("LICENSE*")) + sorted(src.glob("NOTICE*")):
        if extra.is_file():
            shutil.copy2(extra, dest / extra.name)
    return Converted(dest, dtype, shape, nbytes, len(shards), context_warnings(cfg, shape))
