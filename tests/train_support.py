"""Helpers shared by the training tests: a materialised two-task mixture build made from the toy
curriculum (the layout of docs/mixture-layout.md) and small run configs for the tiny model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_BUILDS: dict[str, Path] = {}


def write_build(folder: Path, tasks: dict[str, tuple[list[dict], list[dict]]]) -> Path:
    """mixture.json + <task>/train.jsonl + <task>/valid.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"id": folder.name, "name": folder.name, "seed": 0, "spec": {}, "created": 0,
                                "tasks": {}}
    for task, (train, valid) in tasks.items():
        (folder / task).mkdir(exist_ok=True)
        for split, rows in (("train", train), ("valid", valid)):
            with open(folder / task / f"{split}.jsonl", "w", encoding="utf-8") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
        manifest["tasks"][task] = {"train_rows": len(train), "valid_rows": len(valid)}
    (folder / "mixture.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def toy_build(base: Path, *, n_valid: int = 24, n_train: int | None = None) -> Path:
    """Python and JavaScript toy tasks (validation = the first n_valid records of each)."""
    from engine.demo.curriculum import train_records

    key = f"{base}:{n_valid}:{n_train}"
    if key in _BUILDS:
        return _BUILDS[key]
    tasks = {}
    for lang in ("python", "javascript"):
        recs = train_records(lang)
        train = recs[n_valid:] if n_train is None else recs[n_valid:n_valid + n_train]
        tasks[lang] = (train, recs[:n_valid])
    _BUILDS[key] = write_build(base / f"toy-build-{n_valid}-{n_train}", tasks)
    return _BUILDS[key]


def tiny_config(model_dir: Path, build: Path, **overrides: Any):
    """A small CPU run config; overrides are dotted keys ("loop.max_steps": 10)."""
    from engine.train.config import TrainConfig, apply_overrides

    base = TrainConfig.model_validate({
        "name": "tiny-test",
        "model": {"path": str(model_dir), "template": "chatml"},
        "data": {"mixture": str(build), "seq_length": 128, "packing": True, "overlong": "truncate"},
        "peft": {"method": "lora", "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.0},
        "optim": {"lr": 2e-3, "min_lr": 1e-4, "weight_decay": 0.0, "warmup_steps": 2},
        "loop": {"max_steps": 10, "micro_batch_size": 4, "grad_accum": 1, "log_every": 1, "eval_every": 0,
                 "save_every": 0, "keep_last": 2, "keep_best": 1, "early_stopping_patience": 0, "bf16": False,
                 "gradient_checkpointing": False, "seed": 7},
        "loss": {"mode": "case3"},
        "launch": {"num_gpus": 0, "deepspeed_stage": 0, "offload_optimizer": False},
    })
    return apply_overrides(base, overrides) if overrides else base


def read_metrics(run) -> list[dict]:
    if not run.metrics_path.exists():
        return []
    out = []
    for line in run.metrics_path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written right now
            pass
    return out
