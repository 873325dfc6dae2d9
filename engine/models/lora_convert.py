"""LoRA adapters trained on Qwen-1 (MFTCoder: targets c_attn, c_proj, w1, w2) -> adapters of
the imported (native Qwen2) model, so a team can score what it already trained.

A LoRA on `c_attn` adds B @ A (B: [3P, r], A: [r, H]) to the fused q/k/v weight. Row block i of
that product is B_i @ A, so the q, k and v adapters are exact: the same A, B split in three row
blocks. Every other target only changes its name (engine.models.qwen1_convert.map_module);
`bias = "lora_only"` biases of the targets are split or renamed the same way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.fsutil import atomic_write_json
from engine.models.checkpoint_files import ADAPTER_CONFIG, read_json_file
from engine.models.qwen1_convert import map_module

QWEN1_TARGETS = {"c_attn", "c_proj", "w1", "w2"}
_KEY = re.compile(
    r"^base_model\.model\.(?P<module>.+?)\.(?P<part>lora_[AB]|bias)"
    r"(?:\.(?P<adapter>[^.]+))?(?:\.weight)?$"
)
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def is_qwen1_adapter(config: dict[str, Any]) -> bool:
    targets = config.get("target_modules")
    names = set(targets) if isinstance(targets, list) else set(re.findall(r"\w+", str(targets or "")))
    return bool(names & {"c_attn", "w1", "w2"})


def _load_weights(folder: Path) -> tuple[dict[str, Any], Path]:
    import torch

    for name in ADAPTER_WEIGHTS:
        f = folder / name
        if not f.is_file():
            continue
        try:
            if f.suffix == ".safetensors":
                from safetensors.torch import load_file

                return load_file(str(f)), f
            return torch.load(str(f), map_location="cpu", weights_only=True), f
        except Exception as e:  # noqa: BLE001 - corrupt files raise many types; name the file
            raise InputError(f"cannot load the adapter weights: {type(e).__name__}: {e}", file=f) from None
    raise InputError(f"no adapter weights ({' or '.join(ADAPTER_WEIGHTS)})", file=folder)


def _convert_key(key: str, tensor: Any, file: Path) -> list[tuple[str, Any]]:
    m = _KEY.match(key)
    if m is None:
        raise InputError(f"unexpected adapter tensor {key} (not a LoRA weight of a Qwen-1 module)", file=file)
    module, part = m["module"], m["part"]
    # peft >= 0.7 names a target's own bias `<module>.base_layer.bias`; 0.4 (the contest's) `<module>.bias`
    module, layer = (module[: -len(".base_layer")], ".base_layer") if module.endswith(".base_layer") else (module, "")
    targets = map_module(module)
    if targets is None:
        raise InputError(f"adapter tensor {key}: {module} is not a Qwen-1 module", file=file)
    suffix = ".lora_A.weight" if part == "lora_A" else ".lora_B.weight" if part == "lora_B" else f"{layer}.{part}"
    if len(targets) == 1:
        return [(f"base_model.model.{targets[0]}{suffix}", tensor)]
    if part == "lora_A":  # shared by q, k and v
        return [(f"base_model.model.{t}{suffix}", tensor.clone()) for t in targets]
    rows = tensor.shape[0]
    if rows % 3:
        raise InputError(f"adapter tensor {key} has {rows} rows, not a multiple of 3 (q, k, v)", file=file)
    third = rows // 3
    return [
        (f"base_model.model.{t}{suffix}", tensor[i * third : (i + 1) * third].clone()) for i, t in enumerate(targets)
    ]


def convert_adapter(src: Path, dest: Path, *, base_path: str) -> dict[str, Any]:
    """Write the converted adapter (adapter_config.json + adapter_model.safetensors) into `dest`."""
    from safetensors.torch import save_file

    config = read_json_file(src / ADAPTER_CONFIG)
    if str(config.get("peft_type", "LORA")).upper() != "LORA":
        raise InputError(
            f"peft_type {config.get('peft_type')!r}: only LoRA adapters convert",
            file=src / ADAPTER_CONFIG,
            field="peft_type",
        )
    for key in ("use_dora", "modules_to_save"):
        if config.get(key):
            raise InputError(
                f"{key} = {config[key]!r} has no conversion here (plain LoRA only)",
                file=src / ADAPTER_CONFIG,
                field=key,
            )
    weights, wfile = _load_weights(src)
    out: dict[str, Any] = {}
    for key, tensor in weights.items():
        for new, t in _convert_key(key, tensor, wfile):
            out[new] = t.contiguous()
    if not out:
        raise InputError("the adapter holds no tensors", file=wfile)
    modules = sorted({k.split(".")[-3] if k.endswith(".weight") else k.split(".")[-2] for k in out if ".lora_" in k})
    new_config = dict(config)
    new_config.update(base_model_name_or_path=base_path, target_modules=modules, inference_mode=True)
    for pattern_key in ("rank_pattern", "alpha_pattern"):
        pats = config.get(pattern_key) or {}
        new_config[pattern_key] = {new: v for k, v in pats.items() for new in _pattern_names(k)}
    dest.mkdir(parents=True, exist_ok=True)
    save_file(out, str(dest / "adapter_model.safetensors"), metadata={"format": "pt"})
    atomic_write_json(dest / ADAPTER_CONFIG, new_config)
    return {
        "tensors": len(out),
        "target_modules": modules,
        "rank": config.get("r"),
        "alpha": config.get("lora_alpha"),
        "source_weights": wfile.name,
    }


def _pattern_names(key: str) -> list[str]:
    """A rank/alpha pattern key (a module name or a path ending in one) under the new names."""
    leaf = key.rsplit(".", 1)[-1]
    mapped = {
        "c_attn": ["q_proj", "k_proj", "v_proj"],
        "w1": ["up_proj"],
        "w2": ["gate_proj"],
        "c_proj": ["o_proj", "down_proj"],
    }.get(leaf)
    if mapped is None:
        return [key]
    whole = map_module(key)
    if whole is not None:
        return whole
    return mapped
