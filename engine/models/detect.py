"""What a model folder is: an original Qwen-1 checkpoint (converted on import), a model of an
architecture transformers implements (registered as it is), a remote-code model, or a LoRA
adapter; its family, LoRA targets and chat template. Reads files only (config.json, the
tokenizer's config, the weights' index); the list of architectures transformers implements
comes from its config registry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.models.checkpoint_files import ADAPTER_CONFIG, read_config, read_json_file, weight_files
from engine.models.families import detect_family, lora_targets
from engine.models.qwen1_convert import is_qwen1_config

KINDS = ("qwen1", "native", "remote", "adapter")


@dataclass
class ModelInfo:
    path: str
    kind: str  # one of KINDS
    model_type: str | None = None
    architectures: list[str] = field(default_factory=list)
    family: str | None = None
    lora_targets: list[str] | str = "all-linear"
    chat_template: bool = False  # the tokenizer ships one (else ChatML is used)
    weights: str | None = None  # "safetensors: 2 shards" ...
    base: str | None = None  # adapters: the base model they were trained on
    problems: list[str] = field(default_factory=list)  # remote code that cannot run here

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def native_model_types() -> set[str]:
    """model_type values the installed transformers implements."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return set(CONFIG_MAPPING_NAMES)


def tokenizer_facts(folder: Path) -> tuple[bool, list[str]]:
    """(ships a chat template, its added tokens) from the tokenizer files, without loading it."""
    has_template = (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file()
    added: list[str] = []
    tc = folder / "tokenizer_config.json"
    if tc.is_file():
        try:
            cfg = read_json_file(tc)
        except InputError:
            cfg = {}
        has_template = has_template or bool(cfg.get("chat_template"))
        dec = cfg.get("added_tokens_decoder")
        if isinstance(dec, dict):
            added = [str(v.get("content")) for v in dec.values() if isinstance(v, dict)]
    return has_template, added


def describe(folder: Path, *, name_hints: tuple[str, ...] = ()) -> ModelInfo:
    """Classify a local folder; InputError (naming the file) when it is none of KINDS."""
    folder = folder.resolve()
    hints = (*name_hints, folder.name)
    if (folder / ADAPTER_CONFIG).is_file() and not (folder / "config.json").is_file():
        acfg = read_json_file(folder / ADAPTER_CONFIG)
        targets = acfg.get("target_modules")
        return ModelInfo(
            str(folder),
            "adapter",
            base=acfg.get("base_model_name_or_path"),
            lora_targets=list(targets) if isinstance(targets, list) else str(targets or ""),
            family="Qwen-1" if _qwen1_targets(targets) else None,
        )
    cfg = read_config(folder)
    mtype = cfg.get("model_type")
    archs = [str(a) for a in cfg.get("architectures") or []]
    has_template, added = tokenizer_facts(folder)
    if is_qwen1_config(cfg):
        kind = "qwen1"
    elif isinstance(mtype, str) and mtype in native_model_types():
        kind = "native"
    elif cfg.get("auto_map"):
        kind = "remote"
    else:
        raise InputError(
            f"unknown architecture (model_type {mtype!r}, architectures {', '.join(archs) or 'none'}): "
            "the installed transformers does not implement it and the folder has no remote code "
            "(auto_map)",
            file=folder / "config.json",
            field="model_type",
        )
    wf = weight_files(folder)
    info = ModelInfo(
        str(folder),
        kind,
        mtype,
        archs,
        detect_family(cfg, names=hints, added_tokens=added),
        lora_targets("qwen2" if kind == "qwen1" else mtype),
        has_template,
        f"{wf.kind}: {len(wf.files)} file{'s' if len(wf.files) > 1 else ''}",
    )
    if kind == "remote":
        from engine.models.remote import remote_code_problems

        info.problems = remote_code_problems(folder, cfg)
    return info


def _qwen1_targets(targets: Any) -> bool:
    from engine.models.lora_convert import is_qwen1_adapter

    return is_qwen1_adapter({"target_modules": targets})
