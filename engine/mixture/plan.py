"""The draw: which rows of which dataset go to each task's train and valid sets.

Per task
1. Split first, on unique rows: the task's rows (all its sources, after language filters) are
   ranked by a seeded per-row key; the `valid_fraction` with the smallest keys (at least one
   row, at most `max_valid_rows`) are the valid set. A row's key depends on (seed, dataset,
   row id) only, so the split is the same on any number of GPUs, for any source weights, and
   rows never move between train and valid when weights change.
2. Then sample each source's remaining rows (its train pool), in a seeded permutation of the
   pool: weight w = floor(w) full copies plus the first (w - floor(w)) of the permutation
   (up-sampling repeats, down-sampling draws without replacement); a token budget = full
   copies while the budget allows, then permutation rows until the budget is reached.
   Draws are nested: raising a weight only adds rows.
3. The task's train rows are shuffled with a seeded permutation.
Everything is numpy over the per-row facts of `sources.py`; nothing reads conversations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.fsutil import stable_hash
from engine.mixture.sources import SourceTable, load_source
from engine.mixture.spec import MixtureSpec, SourceSpec, mixture_id


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(int(stable_hash(list(parts), n=16), 16))


@dataclass
class SourceDraw:
    spec: SourceSpec
    table: SourceTable
    rows: np.ndarray  # rows of the table that belong to the task (language filter)
    valid: np.ndarray  # table rows in the task's valid set
    pool: np.ndarray  # train pool (table rows), in its seeded permutation order
    repeats: int  # full copies of the pool
    extra: int  # then this many rows from the start of `pool`

    @property
    def dataset(self) -> str:
        return self.table.name

    def train_rows(self) -> np.ndarray:
        """Table rows drawn for training (with repeats)."""
        return np.concatenate([np.tile(self.pool, self.repeats), self.pool[: self.extra]]).astype(np.int64)

    @property
    def n_train(self) -> int:
        return self.repeats * len(self.pool) + self.extra

    @property
    def train_tokens(self) -> int:
        t = self.table.tokens
        return int(self.repeats * t[self.pool].sum() + t[self.pool[: self.extra]].sum())

    @property
    def effective_weight(self) -> float:
        """Drawn rows / pool rows: the ratio a token budget amounts to."""
        return self.n_train / len(self.pool) if len(self.pool) else 0.0

    def per_row_count(self) -> tuple[np.ndarray, np.ndarray]:
        """(table rows, times drawn) without materialising repeats."""
        counts = np.full(len(self.pool), self.repeats, dtype=np.int64)
        counts[: self.extra] += 1
        keep = counts > 0
        return self.pool[keep], counts[keep]


@dataclass
class TaskPlan:
    name: str
    sources: list[SourceDraw]
    valid_fraction: float

    @property
    def n_train(self) -> int:
        return sum(s.n_train for s in self.sources)

    @property
    def n_valid(self) -> int:
        return sum(len(s.valid) for s in self.sources)

    @property
    def n_unique(self) -> int:
        return sum(len(s.rows) for s in self.sources)


@dataclass
class Plan:
    spec: MixtureSpec
    tasks: dict[str, TaskPlan]
    tables: dict[str, SourceTable]
    id: str
    fingerprints: dict[str, str] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)  # tasks whose every source has weight 0


def draw_source(
    spec: SourceSpec, table: SourceTable, rows: np.ndarray, valid_mask: np.ndarray, seed: int, task: str
) -> SourceDraw:
    """Sample one source's train pool (rows not in the valid set)."""
    pool = rows[~valid_mask]
    perm = _rng(seed, task, table.name, "draw").permutation(len(pool))
    pool = pool[perm]
    n = len(pool)
    if n == 0:
        return SourceDraw(spec, table, rows, rows[valid_mask], pool, 0, 0)
    if spec.tokens is not None:
        tok = table.tokens[pool]
        total = int(tok.sum())
        if total <= 0:
            repeats, extra = 1, 0
        else:
            repeats, rest = divmod(int(spec.tokens), total)
            extra = 0
            if rest > 0:
                cum = np.cumsum(tok)
                extra = int(np.searchsorted(cum, rest, side="left")) + 1  # first prefix reaching `rest`
                extra = min(extra, n)
    else:
        w = spec.effective_weight
        repeats = int(np.floor(w + 1e-9))
        extra = int(round((w - repeats) * n))
        extra = min(max(extra, 0), n)
    return SourceDraw(spec, table, rows, rows[valid_mask], pool, repeats, extra)


def split_task(
    task: str,
    sources: list[tuple[SourceSpec, SourceTable, np.ndarray]],
    fraction: float,
    max_valid: int | None,
    seed: int,
    *,
    file: str | None = None,
) -> list[np.ndarray]:
    """Valid masks (one per source, over its task rows): the k rows with the smallest keys."""
    keys = [t.split_keys(seed)[rows] for _, t, rows in sources]
    n = sum(len(k) for k in keys)
    if n < 2:
        raise InputError(
            f"task {task!r} has {n} row{'s' if n != 1 else ''}; a task needs at least 2 "
            f"(one for training, one for validation)",
            file=file,
            field=f"tasks.{task}",
        )
    k = max(1, int(round(fraction * n)))
    if max_valid is not None:
        k = min(k, max_valid)
    k = min(k, n - 1)  # keep at least one training row
    allk = np.concatenate(keys)
    cut = np.partition(allk, k - 1)[k - 1]
    return [kk <= cut for kk in keys]


def load_tables(
    datasets_dir: str | Path,
    spec: MixtureSpec,
    *,
    file: str | None = None,
    loader: Callable[[Path, str], SourceTable] = load_source,
) -> dict[str, SourceTable]:
    tables: dict[str, SourceTable] = {}
    for tname, t in spec.tasks.items():
        for i, s in enumerate(t.sources):
            if s.dataset in tables or not s.enabled:
                continue
            folder = Path(datasets_dir) / s.dataset
            try:
                tables[s.dataset] = loader(folder, s.dataset)
            except FileNotFoundError as e:
                raise InputError(str(e), file=file, field=f"tasks.{tname}.sources[{i}].dataset") from None
    return tables


def make_plan(spec: MixtureSpec, tables: dict[str, SourceTable], *, file: str | None = None) -> Plan:
    if not spec.tasks:
        raise InputError("the mixture has no tasks", file=file, field="tasks")
    tasks: dict[str, TaskPlan] = {}
    disabled: list[str] = []
    for tname, t in spec.tasks.items():
        chosen = []
        for s in t.sources:
            if not s.enabled:
                continue
            table = tables[s.dataset]
            rows = table.rows_with_languages([x.lower() for x in s.languages])
            chosen.append((s, table, rows))
        if not chosen:
            disabled.append(tname)
            continue
        # canonical order: the draw does not depend on how sources are listed
        chosen.sort(key=lambda c: (c[1].name, sorted(c[0].languages)))
        masks = split_task(
            tname, chosen, spec.task_valid_fraction(tname), spec.task_max_valid(tname), spec.seed, file=file
        )
        draws = [draw_source(s, table, rows, m, spec.seed, tname) for (s, table, rows), m in zip(chosen, masks)]
        tasks[tname] = TaskPlan(tname, draws, spec.task_valid_fraction(tname))
    if not tasks:
        raise InputError("every task is empty or has only weight-0 sources", file=file, field="tasks")
    fps = {name: t.fingerprint for name, t in tables.items()}
    return Plan(spec, tasks, tables, mixture_id(spec, fps), fps, disabled)


def task_train_order(plan: Plan, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(source index, table row) of every train sample of a task, in the written (shuffled) order."""
    tp = plan.tasks[task]
    src = [np.full(s.n_train, i, dtype=np.int32) for i, s in enumerate(tp.sources)]
    rows = [s.train_rows() for s in tp.sources]
    src_a = np.concatenate(src) if src else np.zeros(0, np.int32)
    rows_a = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    perm = _rng(plan.spec.seed, task, "order").permutation(len(rows_a))
    return src_a[perm], rows_a[perm]


def task_valid_order(plan: Plan, task: str) -> tuple[np.ndarray, np.ndarray]:
    tp = plan.tasks[task]
    src = [np.full(len(s.valid), i, dtype=np.int32) for i, s in enumerate(tp.sources)]
    rows = [np.sort(s.valid) for s in tp.sources]
    return np.concatenate(src), np.concatenate(rows)
