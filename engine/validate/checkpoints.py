"""What to score: a model folder, a LoRA adapter (with its base), a run checkpoint.

Accepted specs (`workbench eval run --model SPEC [--adapter PATH]`):
    RUN_ID@STEP | RUN_ID@best | RUN_ID@last    a checkpoint of a run in the workspace
    runs/<id>/checkpoints/step-NNNNNNN          a checkpoint folder (checkpoint.json)
    runs/<id>                                   its newest checkpoint
    a folder with adapter_config.json           a peft adapter; the base from its config
    a folder with config.json                   a full model
    a [models] name of the workspace, or a hub id
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError


@dataclass
class Checkpoint:
    model: str  # the (base) model folder or hub id
    adapter: str | None = None  # a peft adapter folder, applied without merging
    label: str = "model"  # short name for ids and tables
    run: str | None = None
    step: int | None = None
    path: str | None = None  # the checkpoint folder, when it is one

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def _base_of_adapter(adapter: Path) -> str | None:
    try:
        cfg = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    base = cfg.get("base_model_name_or_path")
    return str(base) if base else None


def run_base_model(run_path: Path) -> str | None:
    """The model path a training run started from (its config.json), or None."""
    try:
        cfg = json.loads((run_path / "config.json").read_text(encoding="utf-8"))
        return cfg["model"]["path"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        return None


def _resolve_base(base: str | None, ws: Any) -> str | None:
    if not base:
        return None
    if ws is not None:
        p = ws.resolve_path(base)
        if p.exists():
            return str(p)
        if base in ws.config.models:
            return ws.model_path(base)
    return base


def _from_checkpoint_dir(d: Path, ws: Any) -> Checkpoint:
    meta = json.loads((d / "checkpoint.json").read_text(encoding="utf-8"))
    run_path = d.parent.parent if d.parent.name == "checkpoints" else None
    run_id = run_path.name if run_path is not None else None
    step = meta.get("step")
    label = f"{run_id or d.parent.name}-step{step}" if step is not None else d.name
    weights = meta.get("weights") or ("model" if (d / "model").is_dir() else "adapter")
    if weights == "model" and (d / "model").is_dir():
        return Checkpoint(str(d / "model"), None, label, run_id, step, str(d))
    if (d / "adapter").is_dir():
        base = _resolve_base(
            meta.get("base_model")
            or (run_base_model(run_path) if run_path else None)
            or _base_of_adapter(d / "adapter"),
            ws,
        )
        if not base:
            raise WorkbenchError(
                f"{d}: cannot tell the base model of this adapter (checkpoint.json has no "
                "base_model); pass --model BASE --adapter {d}/adapter"
            )
        return Checkpoint(base, str(d / "adapter"), label, run_id, step, str(d))
    raise WorkbenchError(f"{d}: checkpoint has neither adapter/ nor model/ (interrupted save?)")


def resolve_checkpoint(spec: str, ws: Any = None, *, adapter: str | None = None) -> Checkpoint:
    spec = spec.strip()
    if not spec:
        raise WorkbenchError("no model given (--model PATH, RUN_ID@STEP, or a [models] name)")
    if "@" in spec and ws is not None and not Path(spec).exists():
        run_id, _, which = spec.rpartition("@")
        from engine.runs import open_run
        from engine.train.checkpoints import find_checkpoint

        run = open_run(ws.runs_dir, run_id)
        ck = find_checkpoint(run, which or "last")
        c = _from_checkpoint_dir(Path(ck["path"]), ws)
        return _with_adapter(c, adapter, ws)
    p = Path(spec).expanduser()
    if not p.exists() and ws is not None and ws.resolve_path(spec).exists():
        p = ws.resolve_path(spec)
    if p.is_dir():
        p = p.resolve()
        if (p / "checkpoint.json").is_file():
            return _with_adapter(_from_checkpoint_dir(p, ws), adapter, ws)
        if (p / "run.json").is_file() and (p / "checkpoints").is_dir():
            from engine.runs import RunDir

            cks = RunDir(p).checkpoints()
            if not cks:
                raise WorkbenchError(f"run {p.name} has no checkpoint yet")
            return _with_adapter(_from_checkpoint_dir(Path(cks[-1]["path"]), ws), adapter, ws)
        if (p / "adapter_config.json").is_file():
            base = _resolve_base(_base_of_adapter(p), ws)
            if not base:
                raise WorkbenchError(f"{p}: adapter_config.json names no base model; pass --model BASE --adapter {p}")
            return Checkpoint(base, str(p), p.parent.name + "-" + p.name if p.name == "adapter" else p.name)
        if (p / "config.json").is_file():
            return _with_adapter(Checkpoint(str(p), None, p.name), adapter, ws)
        raise WorkbenchError(
            f"{p}: not a model folder (no config.json), adapter (adapter_config.json), "
            "checkpoint (checkpoint.json) or run directory"
        )
    if ws is not None and spec in ws.config.models:
        where = Path(ws.model_path(spec))
        if (where / "adapter_config.json").is_file() and not (where / "config.json").is_file():
            c = resolve_checkpoint(str(where), ws)  # an imported adapter: its base from adapter_config.json
            return _with_adapter(Checkpoint(c.model, c.adapter, spec), adapter, ws)
        return _with_adapter(Checkpoint(ws.model_path(spec), None, spec), adapter, ws)
    if p.suffix or spec.startswith((".", "/", "~")):
        raise WorkbenchError(f"model path not found: {spec}")
    return _with_adapter(Checkpoint(spec, None, spec.split("/")[-1]), adapter, ws)  # a hub id


def _with_adapter(c: Checkpoint, adapter: str | None, ws: Any) -> Checkpoint:
    if not adapter:
        return c
    a = Path(adapter).expanduser()
    if not a.exists() and ws is not None:
        a = ws.resolve_path(adapter)
    if not (a / "adapter_config.json").is_file():
        raise WorkbenchError(f"--adapter {adapter}: not a peft adapter folder (no adapter_config.json)")
    if c.adapter:
        raise WorkbenchError(f"{c.path or c.model} is already an adapter checkpoint; give its base with --model")
    return Checkpoint(c.model, str(a.resolve()), f"{c.label}+{a.name}", c.run, c.step, c.path)


def list_choices(ws: Any) -> list[tuple[str, str]]:
    """(label, spec) of everything in the workspace that can be scored: its models, then every
    run checkpoint (newest run first, newest step first)."""
    from engine.runs import list_runs

    out: list[tuple[str, str]] = []
    for name, entry in ws.config.models.items():
        out.append((f"model {name} ({entry.path})", name))
    for run in list_runs(ws.runs_dir):
        info = run.read_info()
        for ck in reversed(run.checkpoints()):
            if not (Path(ck["path"]) / "adapter").is_dir() and not (Path(ck["path"]) / "model").is_dir():
                continue
            loss = ck.get("valid_loss")
            extra = f", valid loss {loss:.4f}" if isinstance(loss, (int, float)) else ""
            out.append((f"{info.get('name') or run.id} step {ck['step']}{extra}", f"{run.id}@{ck['step']}"))
    return out
