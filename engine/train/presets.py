"""Run-config presets shipped as package data in `configs/` (read through importlib.resources,
so they work from an installed wheel as well as from a checkout)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import tomllib

from engine.config import validate
from engine.errors import InputError
from engine.train.config import TrainConfig


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("configs").iterdir() if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    f = resources.files("configs").joinpath(f"{name}.toml")
    if not f.is_file():
        raise InputError(f"no preset '{name}'; presets: {', '.join(preset_names())}")
    return f.read_text(encoding="utf-8")


def load_preset(name: str) -> TrainConfig:
    text = preset_text(name)
    return validate(TrainConfig, tomllib.loads(text), file=f"configs/{name}.toml", text=text)


def preset_summaries() -> list[dict[str, Any]]:
    out = []
    for n in preset_names():
        c = load_preset(n)
        out.append(
            {
                "name": n,
                "description": c.description,
                "model": c.model.path,
                "method": c.peft.method,
                "gpus": c.launch.num_gpus,
                "machines": c.launch.num_machines,
                "deepspeed_stage": c.launch.deepspeed_stage if c.launch.num_gpus else 0,
            }
        )
    return out
