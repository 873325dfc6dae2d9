"""Balance of a mixture after sampling: rows and tokens per task, per language and per
task x language, and warnings for the imbalances the contest team learned to avoid.

A row counts toward its primary (first) language; rows without code count as "none".
Token figures are the datasets' `n_tokens` (the workspace tokenizer); where a dataset has none
they are estimated from characters and the balance says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.mixture.plan import Plan
from engine.mixture.sources import NO_LANGUAGE


@dataclass
class BalanceWarning:
    kind: str
    message: str
    task: str | None = None
    dataset: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in {"kind": self.kind, "task": self.task, "dataset": self.dataset, "message": self.message}.items()
            if v is not None
        }


@dataclass
class Balance:
    id: str
    seq_length: int
    estimated: bool
    totals: dict[str, int]
    tasks: list[dict[str, Any]]
    languages: dict[str, dict[str, float]]
    warnings: list[BalanceWarning] = field(default_factory=list)

    def task(self, name: str) -> dict[str, Any]:
        for t in self.tasks:
            if t["task"] == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq_length": self.seq_length,
            "tokens_estimated": self.estimated,
            "totals": self.totals,
            "tasks": self.tasks,
            "languages": self.languages,
            "warnings": [w.to_dict() for w in self.warnings],
        }


def _share(part: float, whole: float) -> float:
    return round(part / whole, 6) if whole else 0.0


def _lang_stats(pairs: list[tuple[Any, np.ndarray, np.ndarray]]) -> dict[str, list[float]]:
    """{language: [rows, tokens]} over (table, rows, counts) triples."""
    out: dict[str, list[float]] = {}
    for table, rows, counts in pairs:
        if not len(rows):
            continue
        codes = table.lang[rows]
        n = len(table.languages)
        r = np.bincount(codes, weights=counts, minlength=n)
        tk = np.bincount(codes, weights=counts * table.tokens[rows], minlength=n)
        for i, name in enumerate(table.languages):
            if r[i]:
                acc = out.setdefault(name, [0, 0])
                acc[0] += int(r[i])
                acc[1] += int(tk[i])
    return out


def _lang_table(stats: dict[str, list[float]], total_tokens: int) -> dict[str, dict[str, float]]:
    items = sorted(stats.items(), key=lambda kv: (-kv[1][1], kv[0]))
    return {k: {"rows": int(v[0]), "tokens": int(v[1]), "share": _share(v[1], total_tokens)} for k, v in items}


def compute_balance(plan: Plan, *, seq_length: int) -> Balance:
    spec = plan.spec
    th = spec.balance
    tasks: list[dict[str, Any]] = []
    warnings: list[BalanceWarning] = []
    all_pairs: list[tuple[Any, np.ndarray, np.ndarray]] = []
    total_tokens = sum(s.train_tokens for tp in plan.tasks.values() for s in tp.sources)
    total_rows = sum(tp.n_train for tp in plan.tasks.values())
    for name, tp in plan.tasks.items():
        pairs = []
        overlong = 0
        srcs = []
        t_tokens = 0
        v_tokens = 0
        for s in tp.sources:
            rows, counts = s.per_row_count()
            pairs.append((s.table, rows, counts))
            overlong += int(counts[s.table.tokens[rows] > seq_length].sum())
            tt = s.train_tokens
            t_tokens += tt
            v_tokens += int(s.table.tokens[s.valid].sum())
            srcs.append(
                {
                    "dataset": s.dataset,
                    "mode": s.spec.mode,
                    "weight": s.spec.effective_weight if s.spec.mode == "weight" else None,
                    "tokens_budget": s.spec.tokens,
                    "languages": list(s.spec.languages),
                    "rows_available": len(s.rows),
                    "valid_rows": int(len(s.valid)),
                    "pool_rows": int(len(s.pool)),
                    "train_rows": s.n_train,
                    "train_tokens": tt,
                    "repeats": s.repeats,
                    "effective_weight": round(s.effective_weight, 4),
                    "tokens_estimated": bool(s.table.estimated[s.rows].any()) if len(s.rows) else False,
                }
            )
            if s.n_train == 0:
                why = "its language filter matches no row" if not len(s.rows) else "all its rows are in the valid set"
                warnings.append(
                    BalanceWarning(
                        "empty_source",
                        f"task '{name}': source '{s.dataset}' draws no training rows ({why})",
                        name,
                        s.dataset,
                    )
                )
            ratio = s.effective_weight
            if ratio > th.max_repeats:
                warnings.append(
                    BalanceWarning(
                        "heavy_repeats",
                        f"task '{name}': '{s.dataset}' is repeated {ratio:.1f}x "
                        f"(over {th.max_repeats:g}x risks memorising it)",
                        name,
                        s.dataset,
                    )
                )
        all_pairs.extend(pairs)
        langs = _lang_table(_lang_stats(pairs), t_tokens)
        tasks.append(
            {
                "task": name,
                "train_rows": tp.n_train,
                "train_tokens": t_tokens,
                "valid_rows": tp.n_valid,
                "valid_tokens": v_tokens,
                "unique_rows": tp.n_unique,
                "valid_fraction": tp.valid_fraction,
                "share_tokens": _share(t_tokens, total_tokens),
                "share_rows": _share(tp.n_train, total_rows),
                "overlong": overlong,
                "languages": langs,
                "sources": srcs,
            }
        )
        if overlong:
            warnings.append(
                BalanceWarning(
                    "overlong",
                    f"task '{name}': {overlong} training samples "
                    f"({100 * overlong / max(tp.n_train, 1):.1f}%) are longer than "
                    f"seq_length {seq_length} (they will be truncated or dropped)",
                    name,
                )
            )
    languages = _lang_table(_lang_stats(all_pairs), total_tokens)
    code_langs = [k for k in languages if k != NO_LANGUAGE]

    # -- warnings over the whole mixture ---------------------------------------------------------
    if len(tasks) > 1:
        for t in tasks:
            if t["share_tokens"] < th.min_task_share:
                warnings.append(
                    BalanceWarning(
                        "task_share_low",
                        f"task '{t['task']}' has {100 * t['share_tokens']:.1f}% "
                        f"of the training tokens (under "
                        f"{100 * th.min_task_share:g}%)",
                        t["task"],
                    )
                )
    dominant: dict[str, str] = {}
    if len(code_langs) > 1:
        for t in tasks:
            code_tokens = sum(v["tokens"] for k, v in t["languages"].items() if k != NO_LANGUAGE)
            for lang, v in t["languages"].items():
                if lang != NO_LANGUAGE and code_tokens and v["tokens"] / code_tokens > th.max_language_share:
                    dominant[t["task"]] = lang
                    warnings.append(
                        BalanceWarning(
                            "language_dominates",
                            f"task '{t['task']}': {lang} is {100 * v['tokens'] / code_tokens:.0f}% of its code tokens",
                            t["task"],
                        )
                    )
        all_code = sum(languages[k]["tokens"] for k in code_langs)
        for lang in code_langs:
            if all_code and languages[lang]["tokens"] / all_code > th.max_language_share:
                warnings.append(
                    BalanceWarning(
                        "language_dominates_mixture",
                        f"{lang} is {100 * languages[lang]['tokens'] / all_code:.0f}% of all code "
                        f"tokens; the other languages get little training",
                    )
                )
    code_tasks = [t["task"] for t in tasks if any(k != NO_LANGUAGE for k in t["languages"])]
    if (
        len(code_tasks) > 1
        and all(t in dominant for t in code_tasks)
        and len({dominant[t] for t in code_tasks}) == len(code_tasks)
    ):
        warnings.append(
            BalanceWarning(
                "tasks_by_language",
                "every task is a single language: tasks organised by language made the contest "
                "model worse (languages constrained each other); group tasks by kind instead "
                "and mix languages within them",
            )
        )
    # rows shared by two tasks: one task may validate on another's training rows
    by_ds: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, tp in plan.tasks.items():
        for s in tp.sources:
            by_ds.setdefault(s.dataset, []).append((name, s.rows))
    for ds, uses in by_ds.items():
        for i in range(len(uses)):
            for j in range(i + 1, len(uses)):
                shared = len(np.intersect1d(uses[i][1], uses[j][1], assume_unique=True))
                if shared:
                    warnings.append(
                        BalanceWarning(
                            "shared_rows",
                            f"{shared} rows of '{ds}' are in both task '{uses[i][0]}' and task '{uses[j][0]}'",
                            None,
                            ds,
                        )
                    )
    for name in plan.disabled:
        why = "no sources yet" if not spec.tasks[name].sources else "only sources with weight 0"
        warnings.append(BalanceWarning("task_disabled", f"task '{name}' has {why}: it is left out", name))
    estimated = any(t.any_estimated for t in plan.tables.values())
    if estimated:
        names = sorted(n for n, t in plan.tables.items() if t.any_estimated)
        warnings.append(
            BalanceWarning(
                "tokens_estimated",
                f"no token counts in {', '.join(names)}: token figures are estimated from characters",
            )
        )
    totals = {
        "train_rows": total_rows,
        "train_tokens": total_tokens,
        "valid_rows": sum(t["valid_rows"] for t in tasks),
        "valid_tokens": sum(t["valid_tokens"] for t in tasks),
    }
    return Balance(plan.id, seq_length, estimated, totals, tasks, languages, warnings)


def human_count(n: float) -> str:
    """1234 -> '1.2k', 2_500_000 -> '2.5M' (for tables and bars)."""
    n = float(n)
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            v = n / div
            return f"{v:.1f}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return f"{n:.0f}"


def bar(share: float, width: int = 24) -> str:
    """A text bar for a share in [0, 1] (eighth blocks; never empty for a non-zero share)."""
    blocks = " ▏▎▍▌▋▊▉█"
    eighths = int(round(max(0.0, min(1.0, share)) * width * 8))
    if share > 0 and eighths == 0:
        eighths = 1
    full, part = divmod(eighths, 8)
    return ("█" * full + (blocks[part] if part else "")).ljust(width)
