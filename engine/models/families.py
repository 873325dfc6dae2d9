"""Model families: which LoRA targets an architecture trains, which chat template it speaks.

LoRA targets are keyed by `model_type` (config.json): the names of the linear layers of every
attention and MLP block (MFTCoder's choice for Qwen-1: c_attn, c_proj, w1, w2; every
projection for the native Qwen families). Other architectures get peft's "all-linear".

The Qwen families a team picks (Qwen1.5, Qwen2, Qwen2.5, Qwen2.5-Coder share `model_type:
qwen2`; Qwen3 is `qwen3`) are told apart by their name where the source carries one, else by
what their config and tokenizer show. A tokenizer without a chat template (Qwen-1's, most
base models') gets ChatML, the template the trainer renders by default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.demo.assets import CHATML_TEMPLATE

_QWEN2_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

LORA_TARGETS: dict[str, list[str]] = {
    "qwen": ["c_attn", "c_proj", "w1", "w2"],  # Qwen-1 (remote code), MFTCoder's choice
    **{
        t: list(_QWEN2_TARGETS)
        for t in (
            "qwen2",
            "qwen2_moe",
            "qwen3",
            "qwen3_moe",
            "llama",
            "mistral",
            "mixtral",
            "gemma",
            "gemma2",
            "deepseek",
            "deepseek_v2",
            "yi",
            "internlm2",
        )
    },
    "starcoder2": ["q_proj", "k_proj", "v_proj", "o_proj", "c_fc", "c_proj"],
    "gpt_bigcode": ["c_attn", "c_proj", "c_fc"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "chatglm": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "baichuan": ["W_pack", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "phi": ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"],
}


def lora_targets(model_type: str | None) -> list[str] | str:
    """The LoRA target modules of an architecture (peft's "all-linear" when not known)."""
    targets = LORA_TARGETS.get((model_type or "").lower())
    return list(targets) if targets else "all-linear"


@dataclass(frozen=True)
class Family:
    name: str  # what a user calls it: "Qwen2.5-Coder"
    model_type: str  # config.json's model_type of its checkpoints (after import)
    pattern: str  # how its hub ids / folder names read (case-insensitive regex)
    note: str = ""


FAMILIES: tuple[Family, ...] = (
    # most specific first: names are matched in this order
    Family("Qwen2.5-Coder", "qwen2", r"qwen2(\.|_|-)?5[-_]?coder"),
    Family("CodeQwen1.5", "qwen2", r"codeqwen1(\.|_|-)?5", "its own 92k-token vocabulary"),
    Family("Qwen2.5", "qwen2", r"qwen2(\.|_|-)?5"),
    Family("Qwen1.5", "qwen2", r"qwen1(\.|_|-)5"),
    Family("Qwen3", "qwen3", r"qwen3"),
    Family("Qwen2", "qwen2", r"qwen2"),
    Family("Qwen-1", "qwen", r"qwen-\d", "imported as native Qwen2"),
)
_BY_NAME = {f.name: f for f in FAMILIES}


def family_named(name: str) -> Family | None:
    return _BY_NAME.get(name)


def detect_family(config: dict[str, Any], *, names: Sequence[str] = (), added_tokens: Sequence[str] = ()) -> str | None:
    """The Qwen family of a checkpoint: from a name hint (hub id, folder, `_name_or_path`) whose
    family fits the config's model_type, else from the config and tokenizer; None if not Qwen."""
    mtype = str(config.get("model_type") or "").lower()
    hints = [str(n) for n in names if n] + [str(config.get("_name_or_path") or "")]
    for fam in FAMILIES:
        wants = {"qwen", "qwen2"} if fam.name == "Qwen-1" else {fam.model_type, fam.model_type + "_moe"}
        if mtype in wants and any(re.search(fam.pattern, h, re.IGNORECASE) for h in hints):
            return fam.name + ("-MoE" if mtype.endswith("_moe") else "")
    if mtype == "qwen":
        return "Qwen-1"
    if mtype in ("qwen3", "qwen3_moe"):
        return "Qwen3" + ("-MoE" if mtype == "qwen3_moe" else "")
    if mtype == "qwen2_moe":
        return "Qwen2-MoE"
    if mtype != "qwen2":
        return None
    if int(config.get("vocab_size") or 0) < 100_000:
        return "CodeQwen1.5"
    if "<|fim_prefix|>" in added_tokens:
        return "Qwen2.5"  # Qwen2.5 (and its Coder) added the FIM and tool-call tokens
    heads, kv = config.get("num_attention_heads"), config.get("num_key_value_heads")
    if heads and kv and int(kv) < int(heads):
        return "Qwen2"  # grouped-query attention came with Qwen2
    return "Qwen1.5"


def chat_template_of(tokenizer: Any) -> str:
    """The tokenizer's own chat template, or ChatML when it has none."""
    own = getattr(tokenizer, "chat_template", None)
    return own if isinstance(own, str) and own.strip() else CHATML_TEMPLATE


def ensure_chat_template(tokenizer: Any) -> Any:
    """Give a tokenizer without a chat template ChatML (what training renders by default), so
    chat prompts, previews and in-training validation work for base models too."""
    if not (isinstance(getattr(tokenizer, "chat_template", None), str) and tokenizer.chat_template.strip()):
        tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer
