"""Materialise a mixture: write the build folder of docs/mixture-layout.md, then its token cache.

    mixtures/<name>/builds/<id>/mixture.json     manifest (written last: a build without it is incomplete)
    mixtures/<name>/builds/<id>/<task>/train.jsonl, valid.jsonl
    mixtures/<name>/builds/<id>/tokens/<tokenizer-fp>-<template>/<task>/<split>/

A build is written into a temporary folder and renamed into place, so readers never see half
of one; an existing complete build with the same id is reused as is, and so is its token cache
for the same tokenizer and template.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.store import DATA_FILE
from engine.fsutil import atomic_write_json
from engine.mixture.balance import Balance, compute_balance
from engine.mixture.manifest import is_build, manifest_path, read_manifest
from engine.mixture.plan import Plan, task_train_order, task_valid_order
from engine.mixture.spec import FORMAT_VERSION, MixtureSpec, spec_to_dict
from engine.workspace import Workspace

Progress = Callable[[str, int, int], None]  # (stage, done, total)
PHASES = {"plan": "planning the build", "write": "writing train/valid files", "tokenize": "tokenizing"}
CHUNK = 2048


@dataclass
class BuildResult:
    name: str
    id: str
    build_dir: Path
    cached: bool
    manifest: dict[str, Any]
    token_cache: Path | None = None
    tokens_cached: bool | None = None
    shards: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "build_dir": str(self.build_dir),
            "cached": self.cached,
            "tasks": {t: {k: v for k, v in d.items() if k != "sources"} for t, d in self.manifest["tasks"].items()},
            "token_cache": str(self.token_cache) if self.token_cache else None,
            "tokens_cached": self.tokens_cached,
            "shards": self.shards,
            "notes": self.notes,
        }


def _records(table: Any, rows: np.ndarray, dataset: str) -> list[dict[str, Any]]:
    recs = table.take(rows).to_pylist()
    for r in recs:
        r.setdefault("dataset", dataset)
    return recs


def _write_split(
    path: Path,
    plan: Plan,
    task: str,
    order: tuple[np.ndarray, np.ndarray],
    tables: dict[str, Any],
    tick: Callable[[int], None],
) -> int:
    src, rows = order
    sources = plan.tasks[task].sources
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for a in range(0, len(rows), CHUNK):
            s_chunk, r_chunk = src[a : a + CHUNK], rows[a : a + CHUNK]
            out: list[Any] = [None] * len(r_chunk)
            for si in np.unique(s_chunk):
                pos = np.nonzero(s_chunk == si)[0]
                ds = sources[int(si)].dataset
                for p, rec in zip(pos, _records(tables[ds], r_chunk[pos], ds)):
                    out[int(p)] = rec
            f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out))
            n += len(out)
            tick(len(out))
    return n


def manifest_for(name: str, plan: Plan, balance: Balance, ws: Workspace) -> dict[str, Any]:
    tasks = {}
    for t in balance.tasks:
        tasks[t["task"]] = {
            "train_rows": t["train_rows"],
            "valid_rows": t["valid_rows"],
            "train_tokens": t["train_tokens"],
            "valid_tokens": t["valid_tokens"],
            "valid_fraction": t["valid_fraction"],
            "overlong": t["overlong"],
            "languages": t["languages"],
            "sources": t["sources"],
        }
    return {
        "id": plan.id,
        "name": name,
        "seed": plan.spec.seed,
        "format": FORMAT_VERSION,
        "spec": spec_to_dict(plan.spec),
        "created": time.time(),
        "seq_length": balance.seq_length,
        "inputs": {
            ds: {"fingerprint": t.fingerprint, "path": str(t.folder), "rows": len(t)} for ds, t in plan.tables.items()
        },
        "tasks": tasks,
        "languages": balance.languages,
        "tokens_estimated": balance.estimated,
        "warnings": [w.to_dict() for w in balance.warnings],
    }


def write_build(
    ws: Workspace, name: str, plan: Plan, balance: Balance, dest: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Write the build into `dest` (a fresh folder) and return its manifest."""
    import pyarrow.parquet as pq

    total = sum(tp.n_train + tp.n_valid for tp in plan.tasks.values())
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress("write", done, total)

    tables = {ds: pq.read_table(t.folder / DATA_FILE) for ds, t in plan.tables.items()}
    for task in plan.tasks:
        _write_split(dest / task / "train.jsonl", plan, task, task_train_order(plan, task), tables, tick)
        _write_split(dest / task / "valid.jsonl", plan, task, task_valid_order(plan, task), tables, tick)
    manifest = manifest_for(name, plan, balance, ws)
    atomic_write_json(manifest_path(dest), manifest)
    return manifest


def tokenize(
    build_dir: Path, tokenizer: Any, template: str, progress: Progress | None = None
) -> tuple[Path, bool, dict[str, dict[str, dict[str, int]]]]:
    from engine.tokens import TokenShard, build_tasks, token_cache_dir, tokenize_build

    cache = token_cache_dir(build_dir, tokenizer, template)
    cached = all(TokenShard.is_complete(cache / t / s) for t in build_tasks(build_dir) for s in ("train", "valid"))
    shards = tokenize_build(
        build_dir,
        tokenizer,
        template=template,
        progress=(lambda d, t: progress("tokenize", d, t)) if progress else None,
    )
    info = {
        t: {
            s: {"samples": len(sh), "tokens": int(sh.meta["n_tokens"]), "trained": int(sh.meta["n_trained"])}
            for s, sh in d.items()
        }
        for t, d in shards.items()
    }
    return cache, cached, info


def materialize(
    ws: Workspace,
    name: str,
    *,
    spec: MixtureSpec | None = None,
    tokenize_cache: bool = True,
    tokenizer: Any = None,
    template: str | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Build (or reuse) the mixture's files, then (optionally) its token cache."""
    from engine.mixture.store import builds_dir, open_spec, plan_for, seq_length_for

    spec = spec or open_spec(ws, name)
    if progress:
        progress("plan", 0, 1)
    plan = plan_for(ws, spec, name)
    root = builds_dir(ws, name)
    final = root / plan.id
    cached = is_build(final)
    if cached:
        manifest = read_manifest(final)
    else:
        balance = compute_balance(plan, seq_length=seq_length_for(ws, spec))
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{plan.id}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            manifest = write_build(ws, name, plan, balance, tmp, progress)
            try:
                os.rename(tmp, final)
            except OSError:
                if not is_build(final):  # lost a race to nothing: retry after clearing
                    shutil.rmtree(final, ignore_errors=True)
                    os.rename(tmp, final)
                else:  # another process finished the same build first
                    shutil.rmtree(tmp, ignore_errors=True)
                    manifest = read_manifest(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    result = BuildResult(name, plan.id, final, cached, manifest)
    if tokenize_cache and tokenizer is None and not ws.config.defaults.model:
        result.notes.append(
            "no default model in workspace.toml ([defaults] model): token cache not built; "
            "the trainer builds it with its model's tokenizer on first use"
        )
        tokenize_cache = False
    if tokenize_cache:
        from engine.data.tokenizer import load_tokenizer

        tok = tokenizer if tokenizer is not None else load_tokenizer(ws)
        result.token_cache, result.tokens_cached, result.shards = tokenize(
            final, tok, template or ws.config.defaults.chat_template, progress
        )
    if progress:
        progress("done", 1, 1)
    return result


def build_for_training(ws: Workspace, mixture: str) -> Path:
    """`[data] mixture` of a run config -> the build folder a run trains on (engine.mixture.resolve)."""
    from engine.mixture.resolve import materialized, resolve_mixture

    return materialized(resolve_mixture(mixture, ws.root), ws.root)
