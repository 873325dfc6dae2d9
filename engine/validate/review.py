"""Reviewing a validation's per-problem results: filter, sort, step through failing cases.
(The Validation screen and `workbench eval show` use these; no UI code here.)

Filter syntax: space-separated terms, all must match.
    lang:python  language:js   task:mbpp   verdict:compile_error   (prefix match on the value)
    fail / failing             any verdict but passed          pass / passed   only passing
    flip                       a different verdict under the other post-processing mode
    anything else              a substring of the task, problem id, language or verdict
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    key: str  # "<uid>#<sample>"
    uid: str
    task: str
    task_id: str
    language: str
    sample: int
    verdict: str
    tests_passed: int
    tests_total: int
    duration: float
    alt_verdict: str | None = None

    @property
    def pass_rate(self) -> float:
        return self.tests_passed / self.tests_total if self.tests_total else 0.0

    @property
    def failing(self) -> bool:
        return self.verdict != "passed"


def rows_from_results(results: Iterable[dict[str, Any]]) -> list[Row]:
    return [
        Row(
            f"{r['uid']}#{int(r.get('sample', 0))}",
            r["uid"],
            r["task"],
            str(r["task_id"]),
            r["language"],
            int(r.get("sample", 0)),
            r["verdict"],
            int(r.get("tests_passed") or 0),
            int(r.get("tests_total") or 0),
            float(r.get("duration") or 0.0),
            r.get("alt_verdict"),
        )
        for r in results
    ]


def _language(val: str) -> str:
    """Any accepted spelling ("js", "c++", "golang") as its canonical id; a prefix stays as typed."""
    from engine.errors import WorkbenchError
    from engine.problems import normalize_language

    try:
        return normalize_language(val)
    except WorkbenchError:
        return val


def _term_matches(row: Row, term: str) -> bool:
    t = term.lower()
    if ":" in t:
        field, _, val = t.partition(":")
        if field in ("lang", "language", "l"):
            return row.language.startswith(_language(val))
        if field in ("task", "t"):
            return row.task.lower().startswith(val) or val in row.task.lower()
        if field in ("verdict", "v", "status"):
            return row.verdict.startswith(val)
        if field in ("id", "problem"):
            return val in row.task_id.lower()
    if t in ("fail", "failing", "failed?", "!pass"):
        return row.failing
    if t in ("pass", "passed", "passing"):
        return not row.failing
    if t in ("flip", "flips", "flipped"):
        return row.alt_verdict is not None and (row.alt_verdict == "passed") != (row.verdict == "passed")
    return any(t in s.lower() for s in (row.task, row.task_id, row.uid, row.language, row.verdict))


def filter_rows(rows: Iterable[Row], query: str) -> list[Row]:
    terms = [t for t in (query or "").split() if t]
    return [r for r in rows if all(_term_matches(r, t) for t in terms)]


SORTS = ("none", "pass rate ↑", "pass rate ↓")


def sort_rows(rows: list[Row], mode: str) -> list[Row]:
    """none keeps task order; 'pass rate ↑' puts the worst (lowest test-case pass rate) first."""
    if mode == SORTS[1]:
        return sorted(rows, key=lambda r: (r.pass_rate, r.verdict == "passed", r.key))
    if mode == SORTS[2]:
        return sorted(rows, key=lambda r: (-r.pass_rate, r.verdict != "passed", r.key))
    return list(rows)


def next_failing(rows: list[Row], current: str | None, step: int = 1) -> str | None:
    """The key of the next (step=1) or previous (step=-1) failing row after `current`,
    wrapping around; None when nothing fails."""
    if not rows:
        return None
    idx = next((i for i, r in enumerate(rows) if r.key == current), -1 if step > 0 else 0)
    n = len(rows)
    for k in range(1, n + 1):
        r = rows[(idx + step * k) % n]
        if r.failing:
            return r.key
    return None


@dataclass(frozen=True)
class LanguageScore:
    """One language of a validation's summary (what the Validation screen draws as a bar)."""

    language: str
    pass_at_1: float | None
    test_pass_rate: float | None
    problems: int

    def bar_cells(self, width: int = 24) -> tuple[int, int, int]:
        """(passed, partly, rest) cells of a bar `width` wide: pass@1, then the test pass rate
        beyond it (never less than pass@1), then the remainder."""
        full = int(round((self.pass_at_1 or 0.0) * width))
        part = max(full, int(round((self.test_pass_rate or 0.0) * width)))
        return full, part - full, width - part


def language_scores(summary: dict[str, Any]) -> list[LanguageScore]:
    """Per language, in the summary's order."""
    return [
        LanguageScore(lang, s.get("pass@1"), s.get("test_pass_rate"), int(s.get("problems", 0)))
        for lang, s in (summary.get("languages") or {}).items()
    ]
