"""MFTCoder training-config keys and the workbench run config: the mapping both ways.

See engine/mixture/mftcoder.py for the table of keys; this module holds the key sets of the two
MFTCoder branches, the typed reader of their configs and the conversions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config import _locate, read_toml, validate
from engine.errors import InputError
from engine.fsutil import read_json_or
from engine.train.config import LOSS_MODES, TrainConfig, default

Flavor = Literal["competition", "main"]

# The contest's config (codeqwen_competition: mft_peft_hf/src/pefts/configs/qwen_train_config_1_8B.json):
# its key order and the values of keys workbench has no setting for.
COMPETITION_CONFIG: dict[str, Any] = {
    "load_raw_dataset": True,
    "data_paths": "[/path/to/dataset1,/path/to/dataset2]",
    "output_dir": "/path/to/store/fine-tuned/model",
    "tb_dir": "/path/to/store/tensorboard/log",
    "pretrained_model_path": "/path/to/Qwen-1_8B/model",
    "vocab_file": "/path/to/Qwen-1_8B/model",
    "low_cpu_mem_usage": True,
    "data_split": "95,5,0",
    "padding_mode": "padding",
    "tokenize_mode": "sft",
    "weighted_loss_mode": "case3",
    "model_type": "qwen",
    "peft_type": "lora",
    "quantization": "16bit",
    "lora_rank": 96,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 8,
    "tokenizer_type": "AutoTokenizer",
    "learning_rate": 5e-5,
    "min_lr": 1e-6,
    "weight_decay": 0.1,
    "gradient_accumulation_steps": 1,
    "lr_scheduler_type": "cosine",
    "num_warmup_steps": 300,
    "num_train_epochs": 10,
    "seed": 1234,
    "seq_length": 4096,
    "resume_from_checkpoint": None,
    "log_interval": 100,
    "checkpointing_steps": 1000,
    "evalation_steps": 1000,
    "max_train_steps": None,
    "epoch_checkpointing": True,
    "shuffle_before_split": True,
    "use_random_sampler": True,
    "early_stopping": True,
    "early_stopping_stall_num": 2,
    "weight_by_num_documents": True,
    "make_vocab_size_divisible_by": 128,
    "model_parallel_size": 1,
    "use_slow_tokenizer": False,
    "use_xformers": True,
    "trust_remote_code": True,
    "use_dynamic_padding": True,
    "world_size": 8,
}
# main branch (mftcoder_accelerate/src/pefts/mft_arguments.py): keys written and their defaults.
MAIN_CONFIG: dict[str, Any] = {
    "data_paths": None,
    "data_weights": None,
    "output_dir": None,
    "tb_dir": None,
    "pretrained_model_path": None,
    "model_type": "qwen2",
    "load_raw_dataset": True,
    "data_split": "98,2,0",
    "padding_mode": "padding",
    "tokenize_mode": "sft",
    "weighted_loss_mode": "case3",
    "attn_implementation": "flash_attention_2",
    "peft_type": "qlora",
    "quantization": "4bit",
    "lora_rank": 96,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "target_modules": None,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 8,
    "learning_rate": 5e-5,
    "min_lr": 5e-6,
    "weight_decay": 0.01,
    "gradient_accumulation_steps": 1,
    "lr_scheduler_type": "cosine",
    "num_warmup_steps": 0.05,
    "num_train_epochs": 4,
    "max_train_steps": None,
    "seed": 1234,
    "seq_length": 4096,
    "resume_from_checkpoint": None,
    "log_interval": 10,
    "checkpointing_steps": 100,
    "evaluation_steps": 100,
    "epoch_checkpointing": False,
    "early_stopping": True,
    "early_stopping_stall_num": 5,
    "saving_limit": None,
    "task_weights": None,
}
COBA_DEFAULTS = {
    "coba_warmup_steps": 100,
    "coba_history_length": 200,
    "coba_tau": 5,
    "coba_update_interval": 1,
    "coba_sample_valid_num": 1,
}
# Keys computed for every export from the mixture and the export folder, never copied from an import.
ALWAYS_COMPUTED = {"data_paths", "data_split", "output_dir", "tb_dir"}
# The contest's base model: the model path of a run config made from an MFTCoder config that names none.
IMPORT_MODEL = "Qwen/Qwen-1_8B"


class MftcoderConfig(BaseModel):
    """The keys workbench reads from an MFTCoder config, typed (others are kept as they are)."""

    model_config = ConfigDict(extra="allow")

    data_paths: str | list[str]
    data_split: str = "98,2,0"
    data_weights: str | list[float] | None = None
    padding_mode: Literal["padding", "pack", "concat"] = "padding"
    weighted_loss_mode: str = "case3"
    peft_type: Literal["lora", "qlora"] | None = "lora"
    quantization: str | None = None
    lora_rank: int = Field(default=96, gt=0)
    lora_alpha: float = Field(default=32, gt=0)
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: str | list[str] | None = None
    pretrained_model_path: str = ""
    trust_remote_code: bool = False
    per_device_train_batch_size: int = Field(default=8, gt=0)
    learning_rate: float = Field(default=5e-5, gt=0)
    min_lr: float = Field(default=0.0, ge=0)
    weight_decay: float = Field(default=0.0, ge=0)
    gradient_accumulation_steps: int = Field(default=1, gt=0)
    lr_scheduler_type: str = "cosine"
    num_warmup_steps: float = Field(default=0, ge=0)
    num_train_epochs: int = Field(default=1, gt=0)
    max_train_steps: int | None = Field(default=None, ge=0)
    seed: int = 1234
    seq_length: int = Field(default=4096, gt=0)
    log_interval: int = Field(default=10, gt=0)
    checkpointing_steps: int = Field(default=1000, gt=0)
    evalation_steps: int | None = Field(default=None, gt=0)
    evaluation_steps: int | None = Field(default=None, gt=0)
    early_stopping: bool = False
    early_stopping_stall_num: int = Field(default=2, ge=0)
    saving_limit: int | None = Field(default=None, ge=1)
    task_weights: str | list[float] | None = None
    world_size: int | None = Field(default=None, ge=1)


# -- small parsers ---------------------------------------------------------------------------------


def parse_list(value: str | list[Any] | None) -> list[str]:
    """MFTCoder's list strings: "[a,b]" (split on commas, as `s[1:-1].split(',')`) or a JSON list."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    s = value.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    return [p.strip().strip("'\"") for p in s.split(",") if p.strip().strip("'\"")]


def parse_split(value: str) -> float:
    """data_split "95,5,0" -> the valid fraction (MFTCoder puts valid + test into valid)."""
    try:
        parts = [float(x) for x in str(value).split(",")]
    except ValueError:
        raise ValueError(f"data_split {value!r} is not three numbers like \"95,5,0\"") from None
    if not parts or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise ValueError(f"data_split {value!r} is not three non-negative numbers like \"95,5,0\"")
    return 1.0 - parts[0] / sum(parts)


def format_split(valid_fraction: float) -> str:
    pct = round(valid_fraction * 100, 4)
    num = lambda x: str(int(x)) if float(x).is_integer() else f"{x:g}"  # noqa: E731 - a one-line number formatter
    return f"{num(round(100 - pct, 4))},{num(pct)},0"


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


# -- run config <-> MFTCoder keys ------------------------------------------------------------------


# The keys a run config made by the importer spells out, section by section (the others take
# TrainConfig's defaults when it is loaded); their values default to TrainConfig's.
WRITTEN_KEYS: dict[str, tuple[str, ...]] = {
    "model": ("path", "trust_remote_code", "template"),
    "data": ("mixture", "seq_length", "packing", "overlong"),
    "peft": ("method", "lora_rank", "lora_alpha", "lora_dropout", "target_modules"),
    "optim": ("lr", "min_lr", "weight_decay", "warmup_steps", "betas", "max_grad_norm", "scheduler"),
    "loop": (
        "epochs",
        "max_steps",
        "micro_batch_size",
        "grad_accum",
        "log_every",
        "eval_every",
        "save_every",
        "keep_last",
        "keep_best",
        "early_stopping_patience",
        "seed",
        "bf16",
        "gradient_checkpointing",
    ),
    "loss": ("mode", "task_weights"),
    "launch": (
        "num_gpus",
        "num_machines",
        "machine_rank",
        "main_process_ip",
        "main_process_port",
        "deepspeed_stage",
        "offload_optimizer",
        "offload_params",
    ),
}
# Values for the keys TrainConfig requires (no default), filled by the importer and the exporter.
REQUIRED_PLACEHOLDERS = {"model.path": IMPORT_MODEL, "data.mixture": ""}


def run_defaults() -> dict[str, Any]:
    """The written keys with TrainConfig's defaults (placeholders where it has none)."""
    out: dict[str, Any] = {"name": "run"}
    for section, keys in WRITTEN_KEYS.items():
        out[section] = {}
        for k in keys:
            dotted = f"{section}.{k}"
            value = REQUIRED_PLACEHOLDERS[dotted] if dotted in REQUIRED_PLACEHOLDERS else default(dotted)
            out[section][k] = list(value) if isinstance(value, tuple) else value
    return out


def merged_run(data: dict[str, Any]) -> dict[str, Any]:
    """`data` over run_defaults(), section by section."""
    out = run_defaults()
    for k, v in data.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def load_run_settings(path: str | Path) -> dict[str, Any]:
    """A run config TOML as a plain dict, validated by TrainConfig (unknown keys are errors)."""
    path = Path(path)
    data, text = read_toml(path)
    return merged_run(validate(TrainConfig, data, file=path, text=text).model_dump(mode="json"))


def mft_from_run(run: dict[str, Any], *, flavor: Flavor, tasks: list[str]) -> tuple[dict[str, Any], list[str]]:
    """MFTCoder values for the run settings (data paths and split are added by the caller)."""
    notes: list[str] = []
    m, d, p, o, lp, ls, la = (
        run["model"],
        run["data"],
        run["peft"],
        run["optim"],
        run["loop"],
        run["loss"],
        run["launch"],
    )
    out: dict[str, Any] = {}
    out["pretrained_model_path"] = m["path"]
    out["model_type"] = guess_model_type(m["path"], flavor)
    out["seq_length"] = d["seq_length"]
    out["padding_mode"] = "pack" if d.get("packing") else "padding"
    method = p.get("method", "lora")
    if method == "none":
        out["peft_type"] = None
        if flavor == "competition":
            notes.append("full fine-tuning (peft.method none) needs MFTCoder's main branch (--flavor main)")
    else:
        out["peft_type"] = method
    out["quantization"] = "4bit" if method == "qlora" else ("16bit" if flavor == "competition" else None)
    out["lora_rank"], out["lora_alpha"], out["lora_dropout"] = p["lora_rank"], _num(p["lora_alpha"]), p["lora_dropout"]
    if flavor == "main":
        out["target_modules"] = list(p.get("target_modules") or []) or None
    elif p.get("target_modules"):
        notes.append("the competition branch hard-codes LoRA target modules; peft.target_modules is not exported")
    out["per_device_train_batch_size"] = lp["micro_batch_size"]
    out["per_device_eval_batch_size"] = lp["micro_batch_size"]
    out["learning_rate"], out["min_lr"], out["weight_decay"] = o["lr"], o["min_lr"], o["weight_decay"]
    out["gradient_accumulation_steps"] = lp["grad_accum"]
    out["lr_scheduler_type"] = o["scheduler"]
    out["num_warmup_steps"] = o["warmup_steps"]
    out["num_train_epochs"] = lp["epochs"]
    out["max_train_steps"] = lp["max_steps"] or None
    out["seed"] = lp["seed"]
    out["log_interval"] = lp["log_every"]
    out["checkpointing_steps"] = lp["save_every"]
    out["evalation_steps" if flavor == "competition" else "evaluation_steps"] = lp["eval_every"]
    patience = int(lp.get("early_stopping_patience") or 0)
    out["early_stopping"] = patience > 0
    out["early_stopping_stall_num"] = patience if patience > 0 else 2
    mode = ls.get("mode", "case3")
    if mode.startswith("focal"):
        notes.append(f"MFTCoder has no {mode} loss; exported as case3")
        mode = "case3"
    if mode == "coba" and flavor == "competition":
        notes.append("coba needs MFTCoder's main branch (--flavor main)")
    out["weighted_loss_mode"] = mode
    weights = ls.get("task_weights") or {}
    if flavor == "main":
        out["saving_limit"] = lp.get("keep_last") or None
        out["task_weights"] = (
            ("[" + ",".join(f"{float(weights.get(t, 1.0)):g}" for t in tasks) + "]") if weights else None
        )
        if mode == "coba":
            out.update({k: ls.get(k, v) for k, v in COBA_DEFAULTS.items()})
        if m.get("attn_implementation") in ("eager", "sdpa", "flash_attention_2"):
            out["attn_implementation"] = m["attn_implementation"]
    else:
        out["trust_remote_code"] = m.get("trust_remote_code", False)
        out["vocab_file"] = m["path"]
        out["world_size"] = int(la.get("num_gpus", 1)) * int(la.get("num_machines", 1))
        if weights:
            notes.append("the competition branch has no task_weights; use --flavor main to export them")
    if list(o.get("betas", [0.9, 0.95])) != ([0.9, 0.95] if flavor == "competition" else [0.9, 0.999]):
        notes.append(f"MFTCoder's optimizer betas are fixed; optim.betas {o.get('betas')} is not exported")
    if d.get("packing"):
        notes.append("MFTCoder's pack mode lets samples attend across pack neighbours (workbench's packing does not)")
    if d.get("overlong", "truncate") == "truncate":
        notes.append("MFTCoder drops samples longer than seq_length (workbench would truncate them)")
    return out, notes


def run_from_mft(
    cfg: MftcoderConfig, raw: dict[str, Any], *, name: str, mixture: str, tasks: list[str], flavor: Flavor
) -> tuple[dict[str, Any], list[str]]:
    notes: list[str] = []
    method = cfg.peft_type or "none"
    if method == "lora" and str(cfg.quantization or "").lower() == "4bit":
        method = "qlora"
        notes.append("peft_type lora with quantization 4bit is QLoRA: peft.method = qlora")
    if str(cfg.quantization or "").lower() == "8bit":
        notes.append("8-bit loading is not supported; the base model loads in bf16")
    warmup = cfg.num_warmup_steps
    if 0 < warmup < 1:
        notes.append(
            f"num_warmup_steps {warmup} is a fraction of all steps (main branch); "
            f"set optim.warmup_steps once the step count is known (0 for now)"
        )
        warmup_steps = 0
    else:
        warmup_steps = int(warmup)
    mode = cfg.weighted_loss_mode
    if mode == "selfpaced":
        notes.append("selfpaced (v0.4.dev) is superseded by coba; loss.mode = coba")
        mode = "coba"
    if mode not in LOSS_MODES:
        raise ValueError(f"weighted_loss_mode {mode!r} is not one of {', '.join(LOSS_MODES)}")
    evals = cfg.evalation_steps if flavor == "competition" else cfg.evaluation_steps
    evals = evals or cfg.evaluation_steps or cfg.evalation_steps or 100
    tw = parse_list(cfg.task_weights)
    if tw and len(tw) != len(tasks):
        raise ValueError(f"task_weights has {len(tw)} entries but data_paths has {len(tasks)} tasks")
    if cfg.padding_mode == "concat":
        notes.append("padding_mode concat (pretraining windows) is imported as packing")
    world = cfg.world_size or 1
    run = merged_run(
        {
            "name": name,
            "model": {
                "path": cfg.pretrained_model_path or IMPORT_MODEL,
                "trust_remote_code": bool(cfg.trust_remote_code),
                "template": "chatml",
            },
            "data": {
                "mixture": mixture,
                "seq_length": cfg.seq_length,
                "packing": cfg.padding_mode != "padding",
                "overlong": "drop",
            },
            "peft": {
                "method": method,
                "lora_rank": cfg.lora_rank,
                "lora_alpha": _num(cfg.lora_alpha),
                "lora_dropout": cfg.lora_dropout,
                "target_modules": parse_list(cfg.target_modules),
            },
            "optim": {
                "lr": cfg.learning_rate,
                "min_lr": cfg.min_lr,
                "weight_decay": cfg.weight_decay,
                "warmup_steps": warmup_steps,
                "betas": [0.9, 0.95] if flavor == "competition" else [0.9, 0.999],
                "max_grad_norm": 1.0,
                "scheduler": cfg.lr_scheduler_type,
            },
            "loop": {
                "epochs": cfg.num_train_epochs,
                "max_steps": cfg.max_train_steps or 0,
                "micro_batch_size": cfg.per_device_train_batch_size,
                "grad_accum": cfg.gradient_accumulation_steps,
                "log_every": cfg.log_interval,
                "eval_every": evals,
                "save_every": cfg.checkpointing_steps,
                "keep_last": cfg.saving_limit or default("loop.keep_last"),
                "early_stopping_patience": cfg.early_stopping_stall_num if cfg.early_stopping else 0,
                "seed": cfg.seed,
            },
            "loss": {"mode": mode, "task_weights": {t: float(w) for t, w in zip(tasks, tw)}},
            "launch": {"num_gpus": world, "num_machines": 1},
        }
    )
    for k in COBA_DEFAULTS:
        if k in raw:
            run["loss"][k] = raw[k]
    if raw.get("attn_implementation"):
        run["model"]["attn_implementation"] = raw["attn_implementation"]
    run.setdefault("export", {})["tensorboard"] = True  # MFTCoder always writes TensorBoard logs (tb_dir)
    if cfg.saving_limit is None:
        notes.append(f"MFTCoder keeps every checkpoint; loop.keep_last = {run['loop']['keep_last']} here")
    if cfg.world_size:
        notes.append(f"world_size {cfg.world_size} (ignored by MFTCoder itself) is taken as launch.num_gpus")
    return run, notes


def guess_model_type(path: str, flavor: Flavor) -> str:
    """MFTCoder's model_type for a model folder (config.json) or hub id."""
    cfg = read_json_or(Path(path) / "config.json") if path else None
    mt = str((cfg or {}).get("model_type") or "").lower()
    low = (mt or path).lower()
    if "qwen" in low:
        if re.search(r"qwen2|qwen1\.5|qwen-?2|qwen2\.5|qwen3", low) or mt.startswith("qwen2"):
            return "qwen2_moe" if "moe" in low else "qwen2"
        return "qwen"
    for known in (
        "deepseek_v2",
        "deepseek",
        "starcoder2",
        "starcoder",
        "code_llama",
        "llama",
        "mistral",
        "mixtral",
        "gemma",
        "phi",
        "chatglm3",
        "chatglm2",
        "baichuan",
        "gpt_neox",
        "aquila2",
    ):
        if known.replace("_", "") in low.replace("_", "").replace("-", ""):
            return known
    return mt or "qwen"


# -- run config file -------------------------------------------------------------------------------


def run_config_toml(run: dict[str, Any]) -> str:
    from engine.config import dump_toml

    head = (
        "# workbench run config (engine/train/config.py: TrainConfig), written by `workbench mix import-mftcoder`.\n"
        "# Sections: " + " ".join(f"[{k}]" for k in TrainConfig.model_fields if k in run) + "\n\n"
    )
    order = [k for k in TrainConfig.model_fields if k in run]
    ordered = {**{k: run[k] for k in order}, **{k: v for k, v in run.items() if k not in order}}
    return head + dump_toml(ordered)


# Run-config field -> the MFTCoder key it came from (to locate problems in the imported file).
RUN_TO_MFT = {
    "model.path": "pretrained_model_path",
    "model.attn_implementation": "attn_implementation",
    "data.seq_length": "seq_length",
    "peft.method": "peft_type",
    "peft.lora_rank": "lora_rank",
    "peft.lora_alpha": "lora_alpha",
    "peft.lora_dropout": "lora_dropout",
    "peft.target_modules": "target_modules",
    "optim": "min_lr",
    "optim.lr": "learning_rate",
    "optim.min_lr": "min_lr",
    "optim.weight_decay": "weight_decay",
    "optim.warmup_steps": "num_warmup_steps",
    "optim.scheduler": "lr_scheduler_type",
    "loop.epochs": "num_train_epochs",
    "loop.max_steps": "max_train_steps",
    "loop.micro_batch_size": "per_device_train_batch_size",
    "loop.grad_accum": "gradient_accumulation_steps",
    "loop.log_every": "log_interval",
    "loop.eval_every": "evalation_steps",
    "loop.save_every": "checkpointing_steps",
    "loop.keep_last": "saving_limit",
    "loop.early_stopping_patience": "early_stopping_stall_num",
    "loop.seed": "seed",
    "loss.mode": "weighted_loss_mode",
    "loss.task_weights": "task_weights",
    "launch.num_gpus": "world_size",
    **{f"loss.{k}": k for k in COBA_DEFAULTS},
}


def check_run_config(
    run: dict[str, Any],
    *,
    file: str | Path | None = None,
    source: Path | None = None,
    source_text: str | None = None,
    eval_key: str = "evalation_steps",
) -> None:
    """Validate a generated run config with TrainConfig. A problem is reported against the
    MFTCoder key it came from when `source` (the imported config) is given."""
    from pydantic import ValidationError

    if source is None:
        validate(TrainConfig, run, file=file)
        return
    try:
        TrainConfig.model_validate(run)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()) if not isinstance(p, int))
        key = RUN_TO_MFT.get(loc) or RUN_TO_MFT.get(loc.rsplit(".", 1)[0])
        if key == "evalation_steps":
            key = eval_key
        msg = first.get("msg", "invalid value")
        if key:
            raise InputError(
                f"{msg} (as run config {loc})",
                file=source,
                line=_locate(source_text or "", (key,)) if source_text else None,
                field=key,
            ) from None
        raise InputError(f"the run config made from it is invalid: {loc}: {msg}", file=source) from None
