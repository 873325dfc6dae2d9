"""Scores of a validation: pass@k (unbiased estimator, mean over problems), the per-problem
test-case pass rate (round 2's metric: share of a problem's test cases passed), verdict counts;
per task, per language and overall; the predicted contest score (mean pass@1 over the 13
contest tasks); which problems flip between two sets of results."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable

from engine.execute.passk import pass_at_k
from engine.execute.verdicts import VERDICTS
from engine.validate.tasks import CONTEST_TASKS


def per_problem(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """uid -> {task, task_id, language, n, c, test_pass_rate, verdicts, infra_errors}.
    infra_error samples are the machine's fault: left out of n, counted apart."""
    out: dict[str, dict[str, Any]] = {}
    rates: dict[str, list[float]] = defaultdict(list)
    for r in records:
        p = out.setdefault(r["uid"], {"uid": r["uid"], "task": r["task"], "task_id": r["task_id"],
                                      "language": r["language"], "n": 0, "c": 0, "verdicts": Counter(),
                                      "infra_errors": 0, "duration": 0.0})
        p["verdicts"][r["verdict"]] += 1
        p["duration"] += float(r.get("duration") or 0.0)
        if r["verdict"] == "infra_error":
            p["infra_errors"] += 1
            continue
        p["n"] += 1
        p["c"] += r["verdict"] == "passed"
        if r.get("tests_total"):
            rates[r["uid"]].append(r["tests_passed"] / r["tests_total"])
    for uid, p in out.items():
        p["verdicts"] = dict(p["verdicts"])
        p["test_pass_rate"] = sum(rates[uid]) / len(rates[uid]) if rates[uid] else None
        p["pass_rate"] = p["c"] / p["n"] if p["n"] else None
    return out


def aggregate(problems: Iterable[dict[str, Any]]) -> dict[str, Any]:
    probs = list(problems)
    scored = [p for p in probs if p["n"] > 0]
    verdicts: Counter[str] = Counter()
    for p in probs:
        verdicts.update(p["verdicts"])
    out: dict[str, Any] = {"problems": len(probs), "scored": len(scored), "samples": sum(verdicts.values()),
                           "verdicts": {v: verdicts.get(v, 0) for v in VERDICTS},
                           "infra_errors": sum(p["infra_errors"] for p in probs)}
    if scored:
        kmax = min(p["n"] for p in scored)
        out["pass@k"] = {f"pass@{k}": sum(pass_at_k(p["n"], p["c"], k) for p in scored) / len(scored)
                         for k in _ks(kmax)}
        out["pass@1"] = out["pass@k"]["pass@1"]
        rates = [p["test_pass_rate"] for p in scored if p["test_pass_rate"] is not None]
        out["test_pass_rate"] = sum(rates) / len(rates) if rates else None
    else:
        out.update({"pass@k": {}, "pass@1": None, "test_pass_rate": None})
    return out


def _ks(kmax: int) -> list[int]:
    """k values reported: 1, 2, 5, 10, 20, 50, 100 up to n (and n itself)."""
    ks = [k for k in (1, 2, 5, 10, 20, 50, 100) if k <= kmax]
    if kmax not in ks:
        ks.append(kmax)
    return ks


def summarize(records: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """`tasks`: [{"name", "kind", "languages"}] in order. The predicted contest score is the mean
    pass@1 over the 13 contest tasks, given only when all 13 were scored (a subset's mean is
    reported as `contest_partial`)."""
    probs = per_problem(records)
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in probs.values():
        by_task[p["task"]].append(p)
        by_lang[p["language"]].append(p)
    task_out = {}
    for t in tasks:
        agg = aggregate(by_task.get(t["name"], []))
        task_out[t["name"]] = {"kind": t["kind"], "languages": t.get("languages", []), **agg}
    lang_out = {lang: aggregate(ps) for lang, ps in sorted(by_lang.items())}
    overall = aggregate(probs.values())
    contest = [task_out[n]["pass@1"] for n in CONTEST_TASKS if n in task_out and task_out[n]["pass@1"] is not None]
    out = {**overall, "n_problems": overall["problems"], "tasks": task_out, "languages": lang_out,
           "contest_tasks": len(contest),
           "contest_score": sum(contest) / len(contest) if len(contest) == len(CONTEST_TASKS) else None,
           "contest_partial": sum(contest) / len(contest) if contest and len(contest) < len(CONTEST_TASKS) else None}
    return out


def flips(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    """Problems solved (per-problem pass rate >= 0.5; pass/fail at n = 1) in one set of results
    and not the other: `gained` = solved in b only, `lost` = solved in a only."""
    pa, pb = per_problem(a), per_problem(b)
    gained, lost = [], []
    for uid in pa:
        if uid not in pb or pa[uid]["pass_rate"] is None or pb[uid]["pass_rate"] is None:
            continue
        sa, sb = pa[uid]["pass_rate"] >= 0.5, pb[uid]["pass_rate"] >= 0.5
        if sb and not sa:
            gained.append(uid)
        elif sa and not sb:
            lost.append(uid)
    both = [u for u in pa if u in pb]
    return {"common": len(both), "gained": gained, "lost": lost, "net": len(gained) - len(lost)}


def compare(a_summary: dict[str, Any], b_summary: dict[str, Any], a_records: list[dict[str, Any]],
            b_records: list[dict[str, Any]]) -> dict[str, Any]:
    """Two validations side by side: pass@1 per task (a, b, delta) and the problems that flip."""
    tasks = [t for t in a_summary.get("tasks", {}) if t in b_summary.get("tasks", {})]
    per_task = {}
    for t in tasks:
        x, y = a_summary["tasks"][t].get("pass@1"), b_summary["tasks"][t].get("pass@1")
        per_task[t] = {"a": x, "b": y, "delta": (y - x) if x is not None and y is not None else None}
    f = flips(a_records, b_records)
    return {"tasks": per_task, "a_contest_score": a_summary.get("contest_score"),
            "b_contest_score": b_summary.get("contest_score"), **f}
