"""The training run config: a TOML file validated by `TrainConfig` (unknown keys are errors).

Section and key names are shared with other modules (the MFTCoder importer writes these
files), so keys are only ever added, never renamed:

    name = "qwen1_8b-lora"
    [model]   path, trust_remote_code, template, attn_implementation
    [data]    mixture, seq_length, packing, overlong, valid_max_samples
    [peft]    method (lora|qlora|none), lora_rank, lora_alpha, lora_dropout, target_modules
    [optim]   lr, min_lr, weight_decay, warmup_steps, betas, eps, max_grad_norm, scheduler
    [loop]    epochs, max_steps, micro_batch_size, grad_accum, log_every, eval_every, save_every,
              keep_last, keep_best, best_metric, early_stopping_patience, max_nonfinite_steps,
              seed, bf16, gradient_checkpointing
    [loss]    mode, scope, task_weights, focal_gamma, coba_*
    [launch]  num_gpus, num_machines, machine_rank, main_process_ip, main_process_port,
              deepspeed_stage, offload_optimizer, offload_params
    [export]  tensorboard, wandb, wandb_project
    [[hooks]] name, every, options          (in-training evaluation hooks, see hooks.py)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import Field, field_validator, model_validator

from engine.config import StrictModel, dump_toml, load_model, validate

LossMode = Literal["case1", "case2", "case3", "case4", "coba", "focal_sample", "focal_task"]
LOSS_MODES: tuple[str, ...] = get_args(LossMode)
MICRO_BATCH_MODES = ("case1", "case2", "case3", "case4", "coba")  # what MFTCoder has
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class ModelSection(StrictModel):
    path: str = Field(description="local folder (absolute or workspace-relative) or hub id")
    trust_remote_code: bool = False
    template: Literal["chatml", "tokenizer"] = "chatml"
    attn_implementation: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"

    @field_validator("path")
    @classmethod
    def _nonempty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("model path is empty")
        return v.strip()


class DataSection(StrictModel):
    mixture: str = Field(description="mixture name (mixtures/<name>.toml) or a materialised build folder")
    seq_length: int = Field(4096, ge=16, le=1 << 20)
    packing: bool = True
    overlong: Literal["truncate", "drop"] = "truncate"
    valid_max_samples: int = Field(0, ge=0, description="per task; 0 = the whole valid split")


class PeftSection(StrictModel):
    method: Literal["lora", "qlora", "none"] = "lora"
    lora_rank: int = Field(96, ge=1, le=4096)
    lora_alpha: float = Field(32, gt=0)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=list)


class OptimSection(StrictModel):
    lr: float = Field(5e-5, gt=0, le=1)
    min_lr: float = Field(1e-6, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    warmup_steps: int = Field(300, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = Field(1e-8, gt=0)
    max_grad_norm: float = Field(1.0, ge=0, description="0 = no clipping")
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in v):
            raise ValueError("betas must be two numbers in [0, 1)")
        return v

    @model_validator(mode="after")
    def _floor(self) -> OptimSection:
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr}) is larger than lr ({self.lr})")
        return self


class LoopSection(StrictModel):
    epochs: int = Field(10, ge=1)
    max_steps: int = Field(0, ge=0, description="0 -> derived from epochs")
    micro_batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    log_every: int = Field(10, ge=1)
    eval_every: int = Field(100, ge=0, description="optimizer steps; 0 = no periodic validation")
    save_every: int = Field(1000, ge=0, description="optimizer steps; 0 = only best/final/requested saves")
    keep_last: int = Field(2, ge=0)
    keep_best: int = Field(1, ge=0)
    best_metric: Literal["mean", "weighted"] = "mean"
    early_stopping_patience: int = Field(2, ge=0, description="evaluations without improvement; 0 = off")
    max_nonfinite_steps: int = Field(5, ge=1, description="stop after this many non-finite steps in a row")
    seed: int = 1234
    bf16: bool = True
    gradient_checkpointing: bool = True


class LossSection(StrictModel):
    mode: LossMode = "case3"
    scope: Literal["global", "micro_batch"] = Field(
        "global",
        description="global: the objective over the whole optimizer step (all ranks, all micro-batches); "
        "micro_batch: MFTCoder's, computed in each micro-batch on each GPU and averaged",
    )
    task_weights: dict[str, float] = Field(default_factory=dict)
    focal_gamma: float = Field(2.0, ge=0)
    coba_warmup_steps: int = Field(100, ge=1)
    coba_history_length: int = Field(200, ge=2)
    coba_tau: float = Field(5.0, gt=0)
    coba_update_interval: int = Field(1, ge=1)
    coba_sample_valid_num: int = Field(1, ge=1)

    @field_validator("task_weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if w < 0:
                raise ValueError(f"task weight of '{k}' is negative ({w})")
        if v and not any(w > 0 for w in v.values()):
            raise ValueError("every task weight is 0")
        return v

    @model_validator(mode="after")
    def _scope(self) -> LossSection:
        if self.scope == "micro_batch" and self.mode not in MICRO_BATCH_MODES:
            raise ValueError(
                f"scope = \"micro_batch\" reproduces MFTCoder, which has {', '.join(MICRO_BATCH_MODES)}; "
                f"mode = \"{self.mode}\" needs scope = \"global\""
            )
        return self


class LaunchSection(StrictModel):
    num_gpus: int = Field(1, ge=0, description="GPUs per machine; 0 = a plain CPU process")
    num_machines: int = Field(1, ge=1)
    machine_rank: int = Field(0, ge=0)
    main_process_ip: str = "127.0.0.1"
    main_process_port: int = Field(29500, ge=1, le=65535)
    deepspeed_stage: int = Field(2, ge=0, le=3, description="0 = no DeepSpeed")
    offload_optimizer: bool = True
    offload_params: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> LaunchSection:
        if self.machine_rank >= self.num_machines:
            raise ValueError(f"machine_rank {self.machine_rank} is not below num_machines {self.num_machines}")
        if self.offload_params and self.deepspeed_stage != 3:
            raise ValueError("offload_params needs deepspeed_stage = 3")
        if self.num_machines > 1 and self.num_gpus == 0:
            raise ValueError("several machines need GPUs (num_gpus >= 1)")
        return self

    @property
    def world_size(self) -> int:
        return self.num_gpus * self.num_machines if self.num_gpus else 1


class ExportSection(StrictModel):
    tensorboard: bool = False
    wandb: bool = False
    wandb_project: str = "workbench"


class ValidationSection(StrictModel):
    """In-training generate-and-execute validation: every `every` steps (and once before the first
    step), greedy generation for a fixed problem subset with the current weights, executed in the
    sandbox; logs `pass@1`, `pass@1/<task or language>` and its cost `validate_s`."""

    every: int = Field(0, ge=0, description="optimizer steps between evaluations; 0 = off")
    problems: str = Field("", description="a task set of the workspace (e.g. toy) or a problem file")
    limit: int = Field(48, ge=1, description="the first N problems of each task: a fixed subset")
    max_new_tokens: int = Field(128, ge=1)
    format: str = "chat"
    at_start: bool = True

    @model_validator(mode="after")
    def _needs_problems(self) -> ValidationSection:
        if self.every and not self.problems.strip():
            raise ValueError("problems: give a task set or problem file (every > 0 turns validation on)")
        return self


class HookSpec(StrictModel):
    """One in-training evaluation hook (registered name or `package.module:function`)."""

    name: str
    every: int = Field(0, ge=0, description="optimizer steps; 0 = at every validation ([loop] eval_every)")
    options: dict[str, Any] = Field(default_factory=dict)


class TrainConfig(StrictModel):
    name: str
    description: str = ""
    model: ModelSection
    data: DataSection
    peft: PeftSection = Field(default_factory=PeftSection)
    optim: OptimSection = Field(default_factory=OptimSection)
    loop: LoopSection = Field(default_factory=LoopSection)
    loss: LossSection = Field(default_factory=LossSection)
    launch: LaunchSection = Field(default_factory=LaunchSection)
    export: ExportSection = Field(default_factory=ExportSection)
    validation: ValidationSection = Field(default_factory=ValidationSection)
    hooks: list[HookSpec] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("name: letters, digits, '.', '-' and '_' only (it names the run)")
        return v

    @model_validator(mode="after")
    def _cross(self) -> TrainConfig:
        if self.peft.method == "qlora" and self.launch.deepspeed_stage == 3:
            raise ValueError("qlora with deepspeed_stage = 3 is not supported; use deepspeed_stage = 2 (or 0)")
        if (self.hooks or self.validation.every) and self.launch.deepspeed_stage == 3 and self.launch.num_gpus:
            raise ValueError(
                "evaluation hooks and [validation] run on the main process only, which ZeRO-3 "
                "cannot do (parameters are sharded); use deepspeed_stage <= 2 or remove them"
            )
        return self

    # conveniences ---------------------------------------------------------------------------
    @property
    def uses_deepspeed(self) -> bool:
        return self.launch.num_gpus > 0 and self.launch.deepspeed_stage > 0

    def global_batch(self, world_size: int | None = None) -> int:
        """Rows (packs or samples) per optimizer step across all ranks."""
        return self.loop.micro_batch_size * self.loop.grad_accum * (world_size or self.launch.world_size)

    def to_toml(self) -> str:
        return dump_toml(self.model_dump(mode="json"))


def check_task_weights(cfg: TrainConfig, tasks: list[str], *, file: str | Path | None = None) -> None:
    """[loss] task_weights may only name tasks of the mixture the run trains on."""
    from engine.errors import InputError

    unknown = sorted(set(cfg.loss.task_weights) - set(tasks))
    if unknown:
        raise InputError(
            f"task_weights names tasks not in the mixture: {', '.join(unknown)} (tasks: {', '.join(tasks)})",
            file=file,
            field="loss.task_weights",
        )


# -- the schema as data: what forms and importers offer, derived from the models above ------------


def _field(dotted: str) -> Any:
    """The pydantic FieldInfo of `section.key` (or a top-level key) of TrainConfig."""
    model: Any = TrainConfig
    parts = dotted.split(".")
    for p in parts[:-1]:
        model = model.model_fields[p].annotation
    return model.model_fields[parts[-1]]


def choices(dotted: str) -> list[Any]:
    """The values a key allows: its Literal's, or every int between its bounds (ge/le)."""
    info = _field(dotted)
    if get_origin(info.annotation) is Literal:
        return list(get_args(info.annotation))
    if info.annotation is int:
        lo = next((m.ge for m in info.metadata if getattr(m, "ge", None) is not None), None)
        hi = next((m.le for m in info.metadata if getattr(m, "le", None) is not None), None)
        if lo is not None and hi is not None:
            return list(range(lo, hi + 1))
    raise ValueError(f"{dotted} has no fixed set of values")


def value_type(dotted: str) -> type:
    """int, float, bool or str for a scalar key (what a form field parses its text as)."""
    ann = _field(dotted).annotation
    return ann if ann in (int, float, bool) else str


def default(dotted: str) -> Any:
    """A key's default value (the factory's result for lists and tables)."""
    info = _field(dotted)
    return info.get_default(call_default_factory=True)


def load_train_config(path: str | Path) -> TrainConfig:
    """Load a run config file (TOML or JSON) with located errors (file, line, field)."""
    return load_model(TrainConfig, path)


def load_run_config(run: Any) -> TrainConfig:
    """The resolved config a run directory (engine.runs.RunDir) was launched with."""
    from engine.config import read_json

    data, text = read_json(run.config_json)
    return validate(TrainConfig, data, file=run.config_json, text=text)


def parse_train_config(data: dict[str, Any], *, file: str | Path | None = None, text: str | None = None) -> TrainConfig:
    return validate(TrainConfig, data, file=file, text=text)


def apply_overrides(cfg: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """`{"optim.lr": 1e-4, "loop.max_steps": 50}` -> a new, re-validated config."""
    data = cfg.model_dump(mode="json")
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = data
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                from engine.errors import InputError

                raise InputError(f"unknown section '{p}'", field=dotted)
            node = node[p]
        node[parts[-1]] = value
    return validate(TrainConfig, data)


def parse_override(text: str) -> tuple[str, Any]:
    """`section.key=value` with the value parsed as TOML (so numbers, bools, lists work)."""
    import tomllib

    from engine.errors import InputError

    if "=" not in text:
        raise InputError(f"override '{text}' is not KEY=VALUE (e.g. optim.lr=1e-4)")
    key, raw = text.split("=", 1)
    key, raw = key.strip(), raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare string
    return key, value
