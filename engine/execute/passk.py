"""Unbiased pass@k (Chen et al. 2021) in the numerically stable product form, and summaries."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from engine.execute.verdicts import VERDICTS


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k) = 1 - prod_{i=n-c+1..n} (1 - k/i); 1.0 when n - c < k."""
    if k <= 0 or n <= 0:
        raise ValueError("pass@k needs n > 0 and k > 0")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per task (n={n})")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def verdict_counts(problems: list[dict[str, Any]]) -> Counter[str]:
    """Samples per verdict over problems that each carry their `verdicts` counts."""
    verdicts: Counter[str] = Counter()
    for p in problems:
        verdicts.update(p["verdicts"])
    return verdicts


def mean_pass_at_k(scored: list[dict[str, Any]], ks: Iterable[int]) -> dict[str, float]:
    """{"pass@k": mean over `scored` problems} for each k; each problem has its `n` samples and
    `c` passes (n >= k). The one pass@k arithmetic of eval exec and of a validation's scores."""
    return {f"pass@{k}": sum(pass_at_k(p["n"], p["c"], k) for p in scored) / len(scored) for k in ks}


def mean_test_pass_rate(scored: list[dict[str, Any]]) -> float | None:
    """Mean per-problem test-case pass rate over the problems that have one."""
    rates = [p["test_pass_rate"] for p in scored if p["test_pass_rate"] is not None]
    return sum(rates) / len(rates) if rates else None


def execution_summary(results: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Summary of result records: pass@k for every k up to the smallest per-task sample count,
    mean test-case pass rate, verdict counts; overall, per language and per task.

    An infra_error sample (the machine could not judge it) counts as a failure, with no test
    passed, as the contest counted it, and is also counted apart (`infra_errors`) so that a
    broken toolchain shows next to the score and never flatters it."""
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_task[r["task_id"]].append(r)
    tasks: dict[str, dict[str, Any]] = {}
    for tid, rs in sorted(by_task.items(), key=lambda kv: _task_sort_key(kv[0])):
        n, c = len(rs), sum(r["verdict"] == "passed" for r in rs)
        rates = [
            0.0 if r["verdict"] == "infra_error" else r["tests_passed"] / r["tests_total"]
            for r in rs
            if r["verdict"] == "infra_error" or r.get("tests_total")
        ]
        tasks[tid] = {
            "language": rs[0].get("language"),
            "n": n,
            "c": c,
            "test_pass_rate": (sum(rates) / len(rates)) if rates else None,
            "verdicts": dict(Counter(r["verdict"] for r in rs)),
            "infra_errors": sum(r["verdict"] == "infra_error" for r in rs),
        }
    overall = _aggregate(tasks.values())
    langs: dict[str, Any] = {}
    for lang in sorted({t["language"] for t in tasks.values()}):
        langs[lang] = _aggregate([t for t in tasks.values() if t["language"] == lang])
    return {**overall, "languages": langs, "tasks": tasks}


def _aggregate(tasks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    tasks = list(tasks)
    scored = [t for t in tasks if t["n"] > 0]
    verdicts = verdict_counts(tasks)
    out: dict[str, Any] = {
        "task_count": len(tasks),
        "scored_tasks": len(scored),
        "samples": sum(verdicts.values()),
        "verdicts": {v: verdicts.get(v, 0) for v in VERDICTS},
        "infra_errors": verdicts.get("infra_error", 0),
    }
    if scored:
        kmax = min(t["n"] for t in scored)
        out["pass@k"] = mean_pass_at_k(scored, range(1, kmax + 1))
        out["test_pass_rate"] = mean_test_pass_rate(scored)
    else:
        out["pass@k"] = {}
        out["test_pass_rate"] = None
    return out


def _task_sort_key(tid: str) -> tuple:
    head, _, tail = tid.rpartition("/")
    return (head, int(tail)) if tail.isdigit() else (tid, 0) if not tid.isdigit() else ("", int(tid))
