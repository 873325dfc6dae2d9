"""The workspace's dataset catalog: entries and their availability state (cheap checks only,
no network, no `datasets` import), plus the processed datasets under datasets/."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.data.store import is_processed, processed_names, read_report
from engine.workspace import DatasetEntry, Workspace


@dataclass
class CatalogRow:
    name: str
    kind: str  # "hub" | "local"
    location: str  # hub id (+config/split) or path/glob
    format: str
    state: str  # short human state
    ok: bool  # can be loaded now
    processed: bool  # datasets/<name>/ exists with a report
    description: str = ""


def hub_cache_dirs(hub_id: str) -> list[Path]:
    """Where a hub dataset may already be on disk (hub cache, datasets cache)."""
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    hub = Path(os.environ.get("HF_HUB_CACHE", home / "hub"))
    dsc = Path(os.environ.get("HF_DATASETS_CACHE", home / "datasets"))
    owner_name = hub_id.replace("/", "--")
    return [hub / f"datasets--{owner_name}", dsc / hub_id.replace("/", "___")]


def mirror_dir(ws: Workspace, hub_id: str) -> Path | None:
    if not ws.config.hub.mirror:
        return None
    return ws.resolve_path(ws.config.hub.mirror) / hub_id


def entry_state(ws: Workspace, entry: DatasetEntry) -> tuple[str, bool]:
    if entry.path is not None:
        pattern = str(ws.resolve_path(entry.path))
        matches = (
            glob.glob(pattern, recursive=True)
            if any(c in pattern for c in "*?[")
            else ([pattern] if os.path.exists(pattern) else [])
        )
        if not matches:
            return "missing: no file matches", False
        return (f"local, {len(matches)} files" if len(matches) > 1 else "local"), True
    assert entry.hub is not None
    m = mirror_dir(ws, entry.hub)
    if m is not None and m.exists():
        return "hub (local mirror)", True
    if any(d.exists() for d in hub_cache_dirs(entry.hub)):
        return "hub (cached)", True
    offline = (
        ws.config.hub.offline or os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
    )
    return ("not available offline" if offline else "hub (not downloaded)"), not offline


def catalog_rows(ws: Workspace) -> list[CatalogRow]:
    rows = []
    for name, e in ws.config.datasets.items():
        state, ok = entry_state(ws, e)
        loc = e.path if e.path is not None else f"{e.hub}" + (f" [{e.config}]" if e.config else "") + f" :{e.split}"
        processed = is_processed(ws.datasets_dir / name)
        rows.append(
            CatalogRow(
                name, "local" if e.path is not None else "hub", loc or "", e.format, state, ok, processed, e.description
            )
        )
    return rows


def processed_datasets(ws: Workspace) -> list[dict]:
    """Processed datasets (engine.data.store.is_processed), with their report."""
    out = []
    for name in processed_names(ws.datasets_dir):
        d = ws.datasets_dir / name
        rep = read_report(d)
        if isinstance(rep, dict):
            out.append({"name": name, "path": str(d), "report": rep})
    return out


def looks_local(source: str) -> bool:
    """Whether a source string names local files rather than a hub id."""
    from engine.data.readers import SUFFIXES

    s = source.strip()
    name = s.lower()[:-3] if s.lower().endswith(".gz") else s.lower()
    return (
        s.startswith(("/", ".", "~"))
        or os.path.exists(os.path.expanduser(s))
        or any(c in s for c in "*?[")
        or any(name.endswith(ext) for ext in SUFFIXES)
    )


def check_name(name: str) -> str:
    """A dataset name: also a folder name under datasets/, so no paths, no hidden names."""
    from engine.errors import InputError

    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise InputError(f"dataset name {name!r}: use letters, digits, '-', '_' and '.' (not first)", field="name")
    return name


def add_entry(
    ws: Workspace,
    name: str,
    source: str,
    *,
    format: str = "auto",
    config: str | None = None,
    split: str = "train",
    columns: dict[str, str] | None = None,
    streaming: bool = False,
    description: str = "",
    kind: str = "auto",
    replace: bool = False,
    check: bool = False,
) -> tuple[DatasetEntry, dict[str, Any] | None]:
    """Add (or with `replace`, overwrite) a catalog entry and save workspace.toml. With `check`, a
    local source's first rows are read first (the entry and what was detected come back); one that
    cannot be a dataset (engine/data/source_check.py) is not added, nothing is written and the
    previous entry, if any, stays."""
    from engine.data.formats import check_format
    from engine.errors import InputError

    check_name(name)
    if name in ws.config.datasets and not replace:
        raise InputError(f"'{name}' is already in the catalog (use --replace to overwrite it)", field="name")
    check_format(format)
    if kind not in ("auto", "hub", "local"):
        raise InputError("kind must be auto, hub or local", field="kind")
    local = looks_local(source) if kind == "auto" else kind == "local"
    fields: dict = {
        "format": format,
        "split": split,
        "columns": dict(columns or {}),
        "streaming": streaming,
        "description": description,
    }
    if local:
        fields["path"] = source
    else:
        fields["hub"] = source
        fields["config"] = config
    from engine.config import validate

    entry = validate(DatasetEntry, fields)
    previous = ws.config.datasets.get(name)
    ws.config.datasets[name] = entry
    peeked = None
    if check and entry.path is not None:
        from engine.data.source_check import check_local_source

        try:
            peeked = check_local_source(ws, name)
        except Exception:
            if previous is None:
                del ws.config.datasets[name]
            else:
                ws.config.datasets[name] = previous
            raise
    ws.save()
    return entry, peeked


def remove_entry(ws: Workspace, name: str) -> None:
    from engine.errors import InputError

    if name not in ws.config.datasets:
        raise InputError(f"no dataset '{name}' in the catalog", field="name")
    del ws.config.datasets[name]
    ws.save()
