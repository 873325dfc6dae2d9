"""Two validations side by side, problem by problem: which problems B solves that A did not
(gains), which it lost, and whether the pass@1 difference is more than noise (a paired
bootstrap over the problems both scored; per task too, and for the predicted contest score
when both scored every contest task — over every problem of them, else labelled as a subset).
The one owner of "compare two validations": the Compare screen, `submit diff`, `eval compare`,
`eval ab` and a validation's format A/B (`flips`) all go through here.

    cmp = compare_validations(open_validation(d, "a"), open_validation(d, "b"))
    cmp.overall.verdict()   # '+3.1 points, 95% CI [-1.2, 7.4]: within noise'
    cmp.gains, cmp.losses   # [Change(uid, task, task_id, language, before, after), ...]
    flips(a_records, b_records)                     # {common, gained, lost, net}: uids only
    side_by_side(a_summary, b_summary, a_records, b_records)   # pass@1 per task + flips (eval compare)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.compare.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, Interval, paired_bootstrap
from engine.errors import WorkbenchError
from engine.validate.tasks import CONTEST_TASKS


@dataclass(frozen=True)
class Change:
    uid: str
    task: str
    task_id: str
    language: str
    before: str  # A's verdict (n = 1) or "c/n passed"
    after: str
    rate_before: float
    rate_after: float


@dataclass
class Comparison:
    a: str  # validation ids
    b: str
    a_label: str
    b_label: str
    common: int  # problems scored in both
    only_a: int  # problems only A scored (other task set / subset)
    only_b: int
    overall: Interval  # mean over common problems of (B - A)
    tasks: dict[str, Interval] = field(default_factory=dict)
    contest: Interval | None = None  # difference of the contest score (every contest task, macro)
    contest_problems: int = 0  # contest problems both scored
    contest_of: int = 0  # problems of the full contest set
    gains: list[Change] = field(default_factory=list)
    losses: list[Change] = field(default_factory=list)
    pass_a: float | None = None  # pass@1 of each over the common problems
    pass_b: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "a_label": self.a_label,
            "b_label": self.b_label,
            "common": self.common,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "pass_a": self.pass_a,
            "pass_b": self.pass_b,
            "overall": self.overall.to_dict(),
            "tasks": {t: i.to_dict() for t, i in self.tasks.items()},
            "contest": self.contest.to_dict() if self.contest else None,
            "contest_scope": self.contest_scope if self.contest else None,
            "gains": [asdict(c) for c in self.gains],
            "losses": [asdict(c) for c in self.losses],
        }

    @property
    def contest_full(self) -> bool:
        return self.contest_problems >= self.contest_of > 0

    @property
    def contest_scope(self) -> str:
        """What the contest interval is over, as every score says it."""
        if self.contest_full:
            return "contest score"
        return f"contest subset ({self.contest_problems} of {self.contest_of} problems)"


def _shown(p: dict[str, Any]) -> str:
    if p["n"] == 1:
        return next((v for v, c in p["verdicts"].items() if c and v != "infra_error"), "?")
    return f"{p['c']}/{p['n']} passed"


def _label(meta: dict[str, Any], vid: str) -> str:
    ck = meta.get("checkpoint") or {}
    return str(ck.get("label") or ck.get("model") or vid)


SOLVED_AT = 0.5  # a problem counts as solved at this pass rate (pass/fail at n = 1)


def _scored_in_both(pa: dict[str, dict[str, Any]], pb: dict[str, dict[str, Any]]) -> list[str]:
    return [u for u in pa if u in pb and pa[u]["pass_rate"] is not None and pb[u]["pass_rate"] is not None]


def _flipped(
    pa: dict[str, dict[str, Any]], pb: dict[str, dict[str, Any]], uids: list[str]
) -> tuple[list[str], list[str]]:
    """(gained, lost): the uids solved in B only, and in A only."""
    gained: list[str] = []
    lost: list[str] = []
    for u in uids:
        sa, sb = pa[u]["pass_rate"] >= SOLVED_AT, pb[u]["pass_rate"] >= SOLVED_AT
        if sa != sb:
            (gained if sb else lost).append(u)
    return gained, lost


def flips(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    """Problems solved in one set of results and not the other: `gained` = solved in b only,
    `lost` = solved in a only; `common` = problems in both."""
    from engine.validate.score import per_problem

    pa, pb = per_problem(a), per_problem(b)
    gained, lost = _flipped(pa, pb, _scored_in_both(pa, pb))
    return {"common": sum(1 for u in pa if u in pb), "gained": gained, "lost": lost, "net": len(gained) - len(lost)}


def side_by_side(
    a_summary: dict[str, Any],
    b_summary: dict[str, Any],
    a_records: list[dict[str, Any]],
    b_records: list[dict[str, Any]],
) -> dict[str, Any]:
    """Two validations' summaries side by side: pass@1 per task (a, b, delta), the contest
    scores, and the problems that flip (`flips`)."""
    from engine.validate.score import contest_view

    tasks = [t for t in a_summary.get("tasks", {}) if t in b_summary.get("tasks", {})]
    per_task = {}
    for t in tasks:
        x, y = a_summary["tasks"][t].get("pass@1"), b_summary["tasks"][t].get("pass@1")
        per_task[t] = {"a": x, "b": y, "delta": (y - x) if x is not None and y is not None else None}
    ca, cb = contest_view(a_summary), contest_view(b_summary)
    return {
        "tasks": per_task,
        "a_contest_score": a_summary.get("contest_score"),
        "b_contest_score": b_summary.get("contest_score"),
        "a_contest": ca.to_dict() if ca else None,
        "b_contest": cb.to_dict() if cb else None,
        **flips(a_records, b_records),
    }


def compare_validations(
    a: Any,
    b: Any,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    labels: tuple[str, str] | None = None,
) -> Comparison:
    """A = before, B = after. Problems are matched by uid (task/task_id); a problem counts
    as solved at a pass rate >= 0.5 (pass/fail at n = 1). Infra errors count as failures, as in
    the scores. `labels` name the two sides (default: the checkpoints' labels)."""
    from engine.validate.score import contest_view, per_problem

    for v in (a, b):
        if v.status() != "completed":
            raise WorkbenchError(f"validation {v.id} is {v.status()}: compare completed validations only")
    pa, pb = per_problem(a.results()), per_problem(b.results())
    if not pa or not pb:
        empty = a.id if not pa else b.id
        raise WorkbenchError(f"validation {empty} has no per-problem results (results.jsonl)")
    common = _scored_in_both(pa, pb)
    diffs = [pb[u]["pass_rate"] - pa[u]["pass_rate"] for u in common]
    tasks_of = [pa[u]["task"] for u in common]

    def boot(ds: list[float], strata: list[str] | None = None) -> Interval:
        return paired_bootstrap(
            ds, strata=strata, macro=strata is not None, resamples=resamples, seed=seed, confidence=confidence
        )

    overall = boot(diffs)
    per_task: dict[str, Interval] = {}
    order = list(dict.fromkeys(tasks_of))
    for t in order:
        per_task[t] = boot([d for d, tt in zip(diffs, tasks_of) if tt == t])
    contest, contest_n, contest_of = None, 0, 0
    if all(t in per_task for t in CONTEST_TASKS):
        idx = [i for i, t in enumerate(tasks_of) if t in CONTEST_TASKS]
        contest = boot([diffs[i] for i in idx], strata=[tasks_of[i] for i in idx])
        views = [contest_view(v.summary(), v.meta()) for v in (a, b)]
        contest_n, contest_of = len(idx), max((c.of for c in views if c), default=len(idx))

    def change(u: str) -> Change:
        x, y = pa[u], pb[u]
        return Change(
            u, x["task"], str(x["task_id"]), x["language"], _shown(x), _shown(y), x["pass_rate"], y["pass_rate"]
        )

    gained, lost = _flipped(pa, pb, common)
    rank = {t: i for i, t in enumerate(order)}

    def key(c: Change) -> tuple[Any, ...]:
        return (rank.get(c.task, 0), _natural(c.task_id))

    gains, losses = [change(u) for u in gained], [change(u) for u in lost]
    n = len(common)
    return Comparison(
        a=a.id,
        b=b.id,
        a_label=labels[0] if labels else _label(a.meta(), a.id),
        b_label=labels[1] if labels else _label(b.meta(), b.id),
        common=n,
        only_a=sum(1 for u in pa if u not in pb),
        only_b=sum(1 for u in pb if u not in pa),
        overall=overall,
        tasks=per_task,
        contest=contest,
        contest_problems=contest_n,
        contest_of=contest_of,
        gains=sorted(gains, key=key),
        losses=sorted(losses, key=key),
        pass_a=sum(pa[u]["pass_rate"] for u in common) / n if n else None,
        pass_b=sum(pb[u]["pass_rate"] for u in common) / n if n else None,
    )


def _natural(s: str) -> tuple[Any, ...]:
    """'Python/10' after 'Python/9'."""
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s))
