"""Catalog entries as streams of canonical records.

Where rows come from, in order:
  local entry (`path`)  the files it names (file, folder or glob), read by engine/data/readers.py
  hub entry (`hub`)     the workspace's hub mirror folder <mirror>/<owner>/<name>/ when it exists
                        (data files found like the hub does: splits from file names), else
                        `datasets.load_dataset(hub, config, split=, streaming=)`; when the hub
                        cannot be reached the error says "not available offline".

Rows that cannot be read or converted are collected as `BadRow`s (file, line, field, reason)
for the quarantine file; every good row becomes a record.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.data.catalog import hub_cache_dirs, mirror_dir
from engine.data.formats import RowError, check_format, convert_row, detect, record_id
from engine.data.readers import RawRow, expand, file_kind, read_rows
from engine.errors import InputError, WorkbenchError
from engine.fsutil import file_fingerprint, stable_hash
from engine.workspace import DatasetEntry, Workspace

DETECT_ROWS = 50


@dataclass
class BadRow:
    source: str
    file: str
    line: int | None
    index: int
    reason: str
    field: str | None = None
    raw: str | None = None

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else f"{self.file} row {self.index}"
        return f"{where}: " + (f"field '{self.field}': " if self.field else "") + self.reason

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class NotAvailable(WorkbenchError):
    """A hub dataset that cannot be reached from here (offline, no mirror, not cached)."""


def get_entry(ws: Workspace, name: str) -> DatasetEntry:
    entry = ws.config.datasets.get(name)
    if entry is None:
        known = ", ".join(sorted(ws.config.datasets)) or "(empty)"
        raise WorkbenchError(
            f"no dataset '{name}' in the catalog ({ws.config_path}); known: {known}. "
            "Add one with `workbench data add NAME PATH_OR_HUB_ID`."
        )
    return entry


def local_files(ws: Workspace, entry: DatasetEntry) -> list[Path]:
    assert entry.path is not None
    return expand(ws.resolve_path(entry.path))


def _mirror_files(base: Path, config: str | None, split: str) -> list[Path] | None:
    """Data files of one split in a mirror folder, found with the hub's own naming rules;
    None when the folder's files are not ones we read ourselves."""
    from datasets.data_files import DataFilesDict, get_data_patterns

    if config and (base / config).is_dir():
        base = base / config
    try:
        patterns = get_data_patterns(str(base))
        files = DataFilesDict.from_patterns(patterns, base_path=str(base))
    except Exception:  # noqa: BLE001 - datasets' pattern resolution raises many types: the mirror is not used
        return None
    chosen = files.get(split)
    if chosen is None:
        raise InputError(
            f"split '{split}' not found in the mirror; splits there: {sorted(map(str, files))}",
            file=base,
            field="split",
        )
    paths = [Path(p) for p in chosen]
    try:
        for p in paths:
            file_kind(p)
    except InputError:
        return None
    return paths


def hub_offline(ws: Workspace) -> bool:
    return (
        ws.config.hub.offline or os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
    )


def hub_copy_state(ws: Workspace, hub_id: str) -> str:
    """Where a hub dataset would be read from now: "mirror" (the workspace's [hub] mirror),
    "cached" (the Hugging Face cache), "online" (the hub answers) or "offline"."""
    m = mirror_dir(ws, hub_id)
    if m is not None and m.is_dir():
        return "mirror"
    if any(d.exists() for d in hub_cache_dirs(hub_id)):
        return "cached"
    return "online" if not hub_offline(ws) and hub_reachable() else "offline"


def _hub_dataset(ws: Workspace, entry: DatasetEntry, where: str) -> Any:
    try:
        if where == entry.hub and hub_copy_state(ws, entry.hub) == "offline":
            raise ConnectionError("the hub cannot be reached from here")
        import datasets
    except ConnectionError as e:
        return _not_available(ws, entry, f"{type(e).__name__}: {e}")
    kw: dict[str, Any] = {
        "split": entry.split,
        "streaming": entry.streaming,
        "download_config": datasets.DownloadConfig(max_retries=1),
    }
    if entry.config:
        kw["name"] = entry.config
    try:
        return datasets.load_dataset(where, **kw)
    except Exception as e:  # noqa: BLE001 - datasets/hub raise many types; all mean "cannot load this here"
        reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if where == entry.hub and (hub_offline(ws) or _looks_offline(e)):
            _not_available(ws, entry, reason)
        raise WorkbenchError(
            f"could not load '{where}' (split {entry.split}"
            f"{', config ' + entry.config if entry.config else ''}): {reason}"
        ) from None


def _not_available(ws: Workspace, entry: DatasetEntry, reason: str) -> Any:
    m = mirror_dir(ws, entry.hub or "")
    mirror = f"no copy at {m}" if m is not None else "no [hub] mirror folder set in workspace.toml"
    raise NotAvailable(
        f"hub dataset '{entry.hub}' is not available offline ({mirror}, not in the Hugging Face cache). "
        f"Put a copy in the mirror folder (<mirror>/{entry.hub}/...), or load it once online. ({reason})"
    )


_REACHABLE: dict[str, tuple[float, bool]] = {}
REACHABLE_TTL = 60.0  # seconds an answer is reused: one slow lookup, not one per dataset


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub's host name resolves (a quick test before the hub client's long retries)."""
    import socket
    import time
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    seen = _REACHABLE.get(host)
    if seen is not None and time.monotonic() - seen[0] < REACHABLE_TTL:
        return seen[1]
    old = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(timeout)
        socket.getaddrinfo(host, 443)
        ok = True
    except OSError:
        ok = False
    finally:
        socket.setdefaulttimeout(old)
    _REACHABLE[host] = (time.monotonic(), ok)
    return ok


def _looks_offline(e: Exception) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return any(
        w in text
        for w in (
            "offline",
            "connection",
            "resolve",
            "network",
            "couldn't reach",
            "max retries",
            "timed out",
            "name or service",
        )
    )


def raw_rows(ws: Workspace, entry: DatasetEntry, *, limit: int | None = None) -> Iterator[RawRow]:
    """Rows of an entry in order, bad ones included (with `error`)."""
    if entry.path is not None:
        files = local_files(ws, entry)
    else:
        assert entry.hub is not None
        mirror = mirror_dir(ws, entry.hub)
        mirrored = _mirror_files(mirror, entry.config, entry.split) if mirror is not None and mirror.is_dir() else None
        if mirrored is None:
            where = str(mirror) if mirror is not None and mirror.is_dir() else entry.hub
            ds = _hub_dataset(ws, entry, where)
            label = f"hub:{entry.hub}" if where == entry.hub else where
            for i, rec in enumerate(ds):
                if limit is not None and i >= limit:
                    return
                yield RawRow(label, None, i, data=dict(rec))
            return
        files = mirrored
    n = 0
    for f in files:
        for r in read_rows(f, limit=None if limit is None else limit - n):
            yield r
            n += 1
        if limit is not None and n >= limit:
            return


def source_fingerprint(ws: Workspace, entry: DatasetEntry) -> str:
    """Changes when the entry's data or its settings change (cheap: names, sizes, mtimes)."""
    settings = entry.model_dump(mode="json")
    if entry.path is not None:
        try:
            files = local_files(ws, entry)
        except InputError:
            files = []
        return stable_hash([settings, [(str(p), file_fingerprint(p)) for p in files]])
    assert entry.hub is not None
    m = mirror_dir(ws, entry.hub)
    where = (
        [file_fingerprint(m)]
        if m is not None and m.is_dir()
        else [file_fingerprint(d) for d in hub_cache_dirs(entry.hub) if d.exists()]
    )
    return stable_hash([settings, where])


@dataclass
class Loaded:
    """Records of one source, converted lazily; `bad` fills up while iterating."""

    ws: Workspace
    name: str
    entry: DatasetEntry
    limit: int | None = None
    format: str | None = None
    bad: list[BadRow] = field(default_factory=list)
    n_read: int = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        fmt = check_format(self.entry.format)
        columns = dict(self.entry.columns)
        rows = raw_rows(self.ws, self.entry, limit=self.limit)
        buffered: list[RawRow] = []
        if fmt == "auto":
            good: list[dict[str, Any]] = []
            for r in rows:
                buffered.append(r)
                if r.data is not None:
                    try:
                        good.append(_mapped(r.data, columns))
                    except RowError:
                        pass
                if len(good) >= DETECT_ROWS:
                    break
            if not good:
                readable = [r for r in buffered if r.data is not None]
                if readable:  # rows are fine but the column mapping does not fit them
                    try:
                        _mapped(readable[0].data or {}, columns)
                    except RowError as e:
                        raise InputError(e.reason, file=readable[0].where, field=e.field) from None
                for r in buffered:
                    self._bad(r, r.error or "unreadable row")
                return
            fmt = detect(good, where=self._where())
        self.format = fmt
        for r in _chain(buffered, rows):
            self.n_read += 1
            if r.error is not None or r.data is None:
                self._bad(r, r.error or "empty row")
                continue
            try:
                rounds = convert_row(r.data, fmt, columns)
            except RowError as e:
                self._bad(r, e.reason, e.field)
                continue
            pos = self.n_read - 1  # position in the source (bad rows count), stable across runs
            yield {
                "id": record_id(self.name, pos),
                "source": self.name,
                "row": pos,
                "chat_rounds": rounds,
                "_file": r.file,
                "_line": r.line if r.line is not None else r.index,
            }

    def _where(self) -> str:
        return self.entry.path or self.entry.hub or self.name

    def _bad(self, r: RawRow, reason: str, fld: str | None = None) -> None:
        self.bad.append(BadRow(self.name, r.file, r.line, r.index, reason, fld, r.raw))


def _mapped(data: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    from engine.data.formats import apply_columns

    return apply_columns(data, columns)


def _chain(first: list[RawRow], rest: Iterator[RawRow]) -> Iterator[RawRow]:
    yield from first
    yield from rest


def load(ws: Workspace, name: str, *, limit: int | None = None) -> Loaded:
    return Loaded(ws, name, get_entry(ws, name), limit)
