"""The workspace's [models] as rows: cheap file reads only (no transformers, no torch), so the
app's Models view lists them instantly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.fsutil import read_json_or
from engine.models.checkpoint_files import ADAPTER_CONFIG
from engine.models.families import detect_family
from engine.models.qwen1_convert import is_qwen1_config
from engine.workspace import Workspace

IMPORT_RECORD = "workbench-import.json"  # what `model import` wrote: source, kind, details, warnings
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def _state(folder: Path | None, cfg: dict[str, Any], is_adapter: bool) -> str:
    if folder is None:
        return "hub id"
    if not folder.exists():
        return "missing"
    if is_adapter:
        return "adapter"
    if not cfg:
        return "no config"
    if is_qwen1_config(cfg):
        return "needs import"  # original Qwen-1: remote code that does not run on transformers 5
    return "ready"


def model_rows(ws: Workspace) -> list[dict[str, Any]]:
    rows = []
    for name, entry in ws.config.models.items():
        local = ws.resolve_path(entry.path)
        # "models/NAME" is where `model import` writes: a missing one is a missing import, not a hub id
        folder = (
            None if not local.exists() and HUB_ID.match(entry.path) and not entry.path.startswith("models/") else local
        )
        cfg = read_json_or(folder / "config.json", {}) if folder is not None else {}
        cfg = cfg if isinstance(cfg, dict) else {}
        is_adapter = folder is not None and (folder / ADAPTER_CONFIG).is_file() and not cfg
        rec = read_json_or(folder / IMPORT_RECORD, {}) if folder is not None else {}
        rec = rec if isinstance(rec, dict) else {}
        family = rec.get("family") or (detect_family(cfg, names=(entry.path, name)) if cfg else None)
        rows.append(
            {
                "name": name,
                "path": entry.path,
                "default": name == ws.config.defaults.model,
                "family": family or ("Qwen-1 adapter" if is_adapter and rec else None),
                "model_type": cfg.get("model_type"),
                "state": _state(folder, cfg, is_adapter),
                "trust_remote_code": entry.trust_remote_code,
                "description": entry.description,
                "imported_from": rec.get("source"),
            }
        )
    return rows


def show_model(ws: Workspace, name: str) -> dict[str, Any]:
    """A [models] entry (or a folder) described in full (reads config and tokenizer files)."""
    from engine.models.detect import describe

    entry = ws.config.models.get(name)
    spec = entry.path if entry else name
    folder = ws.resolve_path(spec)
    if not folder.is_dir():
        folder = Path(spec).expanduser()
    if not folder.is_dir():
        from engine.models.remote import local_folder

        cached = local_folder(spec)
        if cached is None:
            raise WorkbenchError(
                f"{name}: not a [models] name, and {spec} is not a folder nor a hub id in the local Hugging Face cache"
            )
        folder = cached
    info = describe(folder, name_hints=(spec, name))
    rec = read_json_or(folder / IMPORT_RECORD, {}) or {}
    if rec.get("family"):
        info.family = rec["family"] if rec.get("kind") != "adapter" else info.family
    return {
        "name": name,
        "path": spec,
        "folder": str(folder),
        "info": info.to_json(),
        "import": rec,
        "entry": entry.model_dump() if entry else None,
    }


def trusts_remote_code(ws: Workspace, model: str, *, run: str | None = None) -> bool:
    """Whether the workspace said this model may run its remote code: its [models] entry has
    trust_remote_code, or the run a checkpoint comes from was configured with it."""

    def norm(p: str) -> str:
        q = Path(p).expanduser()
        return str(q.resolve()) if q.exists() else p

    target = norm(model)
    for name, entry in ws.config.models.items():
        if entry.trust_remote_code and target in (entry.path, name, norm(ws.model_path(name))):
            return True
    if run:
        cfg = read_json_or(ws.runs_dir / run / "config.json", {}) or {}
        return bool((cfg.get("model") or {}).get("trust_remote_code"))
    return False
