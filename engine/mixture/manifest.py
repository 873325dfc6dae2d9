"""`mixture.json`, the manifest of a materialised build (docs/mixture-layout.md): the one module
that reads it. A folder is a build when it holds this file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import InputError

MANIFEST = "mixture.json"


def manifest_path(build: str | Path) -> Path:
    return Path(build) / MANIFEST


def is_build(folder: str | Path) -> bool:
    return manifest_path(folder).is_file()


def read_manifest(build: str | Path) -> dict[str, Any]:
    """The manifest as a dict; an unreadable or non-object file is an InputError naming it."""
    p = manifest_path(build)
    try:
        got = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"unreadable mixture manifest: {e}", file=p) from None
    if not isinstance(got, dict):
        raise InputError("a mixture manifest is a JSON object", file=p)
    return got


def read_manifest_or(build: str | Path) -> dict[str, Any] | None:
    """The manifest, or None when the folder holds no readable one (listing builds)."""
    try:
        return read_manifest(build) if is_build(build) else None
    except InputError:
        return None


def task_names(manifest: dict[str, Any], *, file: str | Path | None = None) -> list[str]:
    """The build's tasks in order: a {"<task>": {...}} mapping (what engine.mixture writes) or a
    list of names / {"name": ...} objects."""
    tasks = manifest.get("tasks")
    if isinstance(tasks, dict):
        return list(tasks)
    if isinstance(tasks, list):
        return [t["name"] if isinstance(t, dict) else str(t) for t in tasks]
    raise InputError("the mixture manifest has no 'tasks'", file=file, field="tasks")


def build_tasks(build: str | Path) -> list[str]:
    """The task names of a build folder."""
    return task_names(read_manifest(build), file=manifest_path(build))
