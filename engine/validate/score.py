"""Scores of a validation: pass@k (unbiased estimator, mean over problems), the per-problem
test-case pass rate (round 2's metric: share of a problem's test cases passed), verdict counts;
per task, per language and overall; the predicted contest score (mean pass@1 over the contest
tasks). Two validations compared (flips, side by side, bootstrap): engine.compare.pairwise.

Scores never flatter: an `infra_error` sample (the machine could not judge it) counts as a
failure, as the contest counted it, and its count travels with every score. The contest score
is given only for the full set (every problem of every contest task); anything less is a
`ContestScore` whose label says "subset (N of M problems)"."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.execute.passk import mean_pass_at_k, mean_test_pass_rate, verdict_counts
from engine.execute.verdicts import VERDICTS
from engine.validate.tasks import CONTEST_TASKS, contest_task_size


def per_problem(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """uid -> {task, task_id, language, n, c, test_pass_rate, verdicts, infra_errors}.
    An infra_error sample is a failure (no test passed), as the contest scored it; it is also
    counted apart so that a broken toolchain shows."""
    out: dict[str, dict[str, Any]] = {}
    rates: dict[str, list[float]] = defaultdict(list)
    for r in records:
        p = out.setdefault(
            r["uid"],
            {
                "uid": r["uid"],
                "task": r["task"],
                "task_id": r["task_id"],
                "language": r["language"],
                "n": 0,
                "c": 0,
                "verdicts": Counter(),
                "infra_errors": 0,
                "duration": 0.0,
            },
        )
        p["verdicts"][r["verdict"]] += 1
        p["duration"] += float(r.get("duration") or 0.0)
        p["n"] += 1
        p["c"] += r["verdict"] == "passed"
        if r["verdict"] == "infra_error":
            p["infra_errors"] += 1
            rates[r["uid"]].append(0.0)
        elif r.get("tests_total"):
            rates[r["uid"]].append(r["tests_passed"] / r["tests_total"])
    for uid, p in out.items():
        p["verdicts"] = dict(p["verdicts"])
        p["test_pass_rate"] = sum(rates[uid]) / len(rates[uid]) if rates[uid] else None
        p["pass_rate"] = p["c"] / p["n"] if p["n"] else None
    return out


def aggregate(problems: Iterable[dict[str, Any]]) -> dict[str, Any]:
    probs = list(problems)
    scored = [p for p in probs if p["n"] > 0]
    verdicts = verdict_counts(probs)
    out: dict[str, Any] = {
        "problems": len(probs),
        "scored": len(scored),
        "samples": sum(verdicts.values()),
        "verdicts": {v: verdicts.get(v, 0) for v in VERDICTS},
        "infra_errors": sum(p["infra_errors"] for p in probs),
    }
    if scored:
        kmax = min(p["n"] for p in scored)
        out["pass@k"] = mean_pass_at_k(scored, _ks(kmax))
        out["pass@1"] = out["pass@k"]["pass@1"]
        out["test_pass_rate"] = mean_test_pass_rate(scored)
    else:
        out.update({"pass@k": {}, "pass@1": None, "test_pass_rate": None})
    return out


def _ks(kmax: int) -> list[int]:
    """k values reported: 1, 2, 5, 10, 20, 50, 100 up to n (and n itself)."""
    ks = [k for k in (1, 2, 5, 10, 20, 50, 100) if k <= kmax]
    if kmax not in ks:
        ks.append(kmax)
    return ks


def validation_summary(
    records: list[dict[str, Any]], tasks: list[dict[str, Any]], *, profile: str | None = None
) -> dict[str, Any]:
    """`tasks`: [{"name", "kind", "languages", "total"}] in order (`total`: the task's problems
    before any subset; the scored count when absent). `contest` describes the contest score
    (ContestScore fields); `contest_score` is set only for the full set, `contest_subset`
    otherwise. `profile`: the limits profile the programs were judged under, when known."""
    probs = per_problem(records)
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in probs.values():
        by_task[p["task"]].append(p)
        by_lang[p["language"]].append(p)
    task_out = {}
    for t in tasks:
        agg = aggregate(by_task.get(t["name"], []))
        task_out[t["name"]] = {
            "kind": t["kind"],
            "languages": t.get("languages", []),
            "total": int(t.get("total") or agg["problems"]),
            **agg,
            **({"profile": t["profile"]} if t.get("profile") else {}),
        }
    lang_out = {lang: aggregate(ps) for lang, ps in sorted(by_lang.items())}
    overall = aggregate(probs.values())
    # the contest score's profile is its tasks' (a run may judge other sets under per-case)
    contest_profiles = {task_out[t].get("profile") for t in CONTEST_TASKS if t in task_out} - {None}
    contest = contest_of(task_out, contest_profiles.pop() if len(contest_profiles) == 1 else profile)
    return {
        **overall,
        "n_problems": overall["problems"],
        "tasks": task_out,
        "languages": lang_out,
        "profile": profile,
        "contest": contest.to_dict() if contest else None,
        "contest_tasks": contest.tasks if contest else 0,
        "contest_score": contest.score if contest and contest.full else None,
        "contest_subset": contest.score if contest and not contest.full else None,
    }


def infra_note(n: int) -> str:
    """How many samples the machine could not judge, and what the score made of them."""
    return f"{n} infra error counted as a failure" if n == 1 else f"{n} infra errors counted as failures"


@dataclass(frozen=True)
class ContestScore:
    """The contest score of a validation, or what it has of it: the mean pass@1 over the
    contest tasks it scored, on the problems it scored."""

    score: float
    full: bool  # every problem of every contest task
    tasks: int  # contest tasks scored
    problems: int  # contest problems scored
    of: int  # problems of the full contest set
    infra_errors: int  # samples the machine could not judge (counted as failures)
    profile: str | None = None  # the limits profile the programs were judged under

    @property
    def scope(self) -> str:
        return "full" if self.full else f"subset ({self.problems} of {self.of} problems)"

    def headline(self, digits: int = 4) -> str:
        """The one line that says what this score is: the contest score only for the full set."""
        n = len(CONTEST_TASKS)
        if self.full:
            text = f"contest score {self.score:.{digits}f} (mean pass@1 over the {n} contest tasks)"
        else:
            text = (
                f"{self.scope}: mean pass@1 {self.score:.{digits}f} over {self.tasks} of {n} contest tasks "
                "(not the contest score)"
            )
        return text + self.notes()

    def notes(self) -> str:
        out = f"; {infra_note(self.infra_errors)}" if self.infra_errors else ""
        if self.profile:
            out += f"; judged under the {self.profile} limits profile"
        return out

    def cell(self, digits: int = 4) -> str:
        """Short, for a table cell: the score, its scope when a subset, its infra errors."""
        text = f"{self.score:.{digits}f}"
        if not self.full:
            text += f" subset {self.problems}/{self.of}"
        if self.infra_errors:
            text += f" ({self.infra_errors} infra)"
        if self.profile and self.profile != "contest":  # not judged as the contest judged it
            text += f" {self.profile}"
        return text

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContestScore:
        return cls(
            float(d["score"]),
            bool(d.get("full")),
            int(d.get("tasks") or 0),
            int(d.get("problems") or 0),
            int(d.get("of") or 0),
            int(d.get("infra_errors") or 0),
            d.get("profile"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "full": self.full,
            "scope": self.scope,
            "tasks": self.tasks,
            "of_tasks": len(CONTEST_TASKS),
            "problems": self.problems,
            "of": self.of,
            "infra_errors": self.infra_errors,
            "profile": self.profile,
            "label": self.headline(),
        }


def contest_of(task_out: dict[str, dict[str, Any]], profile: str | None = None) -> ContestScore | None:
    """The contest score from per-task scores ({task: {pass@1, problems, total, infra_errors}});
    None when no contest task was scored."""
    present = [t for t in CONTEST_TASKS if (task_out.get(t) or {}).get("pass@1") is not None]
    if not present:
        return None
    problems = sum(int(task_out[t].get("problems") or 0) for t in present)
    of = sum(int(task_out[t].get("total") or 0) if t in task_out else contest_task_size(t) for t in CONTEST_TASKS)
    full = len(present) == len(CONTEST_TASKS) and problems == of
    return ContestScore(
        score=sum(task_out[t]["pass@1"] for t in present) / len(present),
        full=full,
        tasks=len(present),
        problems=problems,
        of=max(of, problems),
        infra_errors=sum(int(task_out[t].get("infra_errors") or 0) for t in present),
        profile=profile,
    )


def contest_view(summary: dict[str, Any], meta: dict[str, Any] | None = None) -> ContestScore | None:
    """The contest score of a stored validation, from its summary.json (and validation.json for
    summaries written before `contest` existed: their task totals are in the task set)."""
    block = summary.get("contest")
    if isinstance(block, dict) and isinstance(block.get("score"), (int, float)):
        return ContestScore.from_dict(block)
    totals = {name: t.get("total") for name, t in (((meta or {}).get("taskset") or {}).get("tasks") or {}).items()}
    tasks = {
        name: {**t, "total": t.get("total") or totals.get(name) or t.get("problems")}
        for name, t in (summary.get("tasks") or {}).items()
    }
    return contest_of(tasks, summary.get("profile"))


def contest_from_meta(meta: dict[str, Any]) -> ContestScore | None:
    """The contest score a validation.json records, without reading summary.json (listings).
    Older files have only `contest_score`, which they also gave a subset of all contest tasks:
    the task set's problem counts tell which it was."""
    block = meta.get("contest")
    if isinstance(block, dict) and isinstance(block.get("score"), (int, float)):
        return ContestScore.from_dict(block)
    score = meta.get("contest_score")
    if not isinstance(score, (int, float)):
        return None
    tasks = (meta.get("taskset") or {}).get("tasks") or {}
    problems = sum(int((tasks.get(t) or {}).get("problems") or 0) for t in CONTEST_TASKS)
    of = sum(int((tasks.get(t) or {}).get("total") or contest_task_size(t)) for t in CONTEST_TASKS)
    return ContestScore(float(score), problems == of, len(CONTEST_TASKS), problems, of, 0)
