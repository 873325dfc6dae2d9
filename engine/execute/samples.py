"""Samples to execute: JSONL lines `{"task_id", "completion"}` (continues the prompt, the
human-eval convention) or `{"task_id", "solution"}` (a whole function or program); several per
task for pass@k. A sample for a stdin/stdout problem may name its `language` (any of the six: its
judge is language-neutral); without one it is in the problem's. `canonical` / `buggy` stand for
the problem set's own reference solutions.

Text rules, at the executor's boundary:
* the assembled program is normalised once (`clean_program`): a lone surrogate (half of a
  UTF-16 pair, what a model's split emoji becomes after a JSON round trip) is no character and no
  source file can hold it, so it becomes U+FFFD, as a UTF-8 decoder turns the model's broken
  bytes into; everything else (NUL bytes, any length) is kept as it is;
* results, caches and reports are written with `json_text`, which never fails on any text;
* a samples file must be UTF-8: a bad byte is an error naming its line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InputError, WorkbenchError
from engine.problems.assemble import Program
from engine.problems.model import JUDGE_CALL, JUDGE_PROGRAM, LANGUAGES, Problem, normalize_language
from engine.problems.sources import read_rows

REFERENCES = ("canonical", "buggy")


@dataclass(frozen=True)
class Sample:
    task_id: str
    code: str
    kind: str = "completion"  # completion | solution
    index: int = 0  # per task, in file order
    line: int | None = None  # where it was read from
    source: str = ""
    language: str = ""  # stdio/call problems: the sample's own language ("": the problem's)


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (a surrogate pair left as two code
    points becomes its character); any other text comes back as it is."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def clean_program(prog: Program) -> Program:
    code, test = clean_text(prog.code), clean_text(prog.test)
    return prog if (code, test) == (prog.code, prog.test) else Program(prog.language, code, test)


def json_text(obj: Any, *, indent: int | None = None) -> str:
    """JSON for results, caches and reports: readable UTF-8 when the text allows it, else
    escaped (a lone surrogate, from a problem file or a caller, then reads back unchanged)."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, indent=indent)


def _norm_id(v: Any) -> str:
    return str(v).strip()


def samples_from_rows(
    rows: Iterable[tuple[int | None, Any]], problems: dict[str, Problem], *, file: str = ""
) -> list[Sample]:
    out: list[Sample] = []
    counts: Counter[str] = Counter()
    for line, row in rows:
        where: dict[str, Any] = {"file": file or None, "line": line}
        if not isinstance(row, dict):
            raise InputError(f"expected a JSON object, got {type(row).__name__}", **where)
        if "task_id" not in row:
            raise InputError("missing field", field="task_id", **where)
        tid = _norm_id(row["task_id"])
        if tid not in problems:
            example = next(iter(problems), "")
            raise InputError(
                f"task {tid!r} is not in the problem set (ids look like {example!r})", field="task_id", **where
            )
        has_c, has_s = isinstance(row.get("completion"), str), isinstance(row.get("solution"), str)
        if has_c == has_s:
            if "completion" in row or "solution" in row:
                bad = "completion" if "completion" in row and not has_c else "solution"
                if has_c and has_s:
                    raise InputError("give either 'completion' or 'solution', not both", field="solution", **where)
                raise InputError("expected text", field=bad, **where)
            raise InputError(
                "a sample needs 'completion' (continues the prompt) or 'solution' (whole program)",
                field="completion",
                **where,
            )
        kind = "completion" if has_c else "solution"
        out.append(Sample(tid, row[kind], kind, counts[tid], line, file, _language(row, problems[tid], where)))
        counts[tid] += 1
    return out


def _language(row: dict[str, Any], problem: Problem, where: dict[str, Any]) -> str:
    """A sample's own language: only stdin/stdout and call problems run a sample in another
    language than the problem's."""
    lang = row.get("language")
    if lang is None or problem.judge == JUDGE_PROGRAM:
        return ""
    try:
        out = normalize_language(str(lang)) if isinstance(lang, str) else normalize_language(repr(lang))
    except WorkbenchError as e:
        raise InputError(str(e), field="language", **where) from None
    if problem.judge == JUDGE_CALL and out != "python":
        raise InputError(
            f"{problem.task_id} is call-based ({problem.fn_name}): judged for Python samples only, not {out}",
            field="language",
            **where,
        )
    return out


def read_samples(path: str | Path, problems: dict[str, Problem]) -> list[Sample]:
    out = samples_from_rows(read_rows(path), problems, file=str(path))
    if not out:
        raise InputError(
            "no samples in the file (expected JSON lines with task_id and completion or solution)", file=path
        )
    return out


def reference_samples(problems: Iterable[Problem], which: str) -> list[Sample]:
    """One sample per problem from the set's own solutions; problems without one are skipped."""
    if which not in REFERENCES:
        raise WorkbenchError(f"unknown reference {which!r} (canonical or buggy)")
    out = []
    for p in problems:
        code = p.reference(which)
        if code is not None:
            # (a stdio set's solution is in its reference's language, which may not be the set's)
            lang = next((r.language for r in p.references if r.code == code and r.language in LANGUAGES), "")
            out.append(
                Sample(
                    p.task_id,
                    code,
                    p.solution_kind,
                    0,
                    p.line,
                    f"{which}:{p.source}",
                    lang if lang != p.language else "",
                )
            )
    return out


def resolve_samples(spec: str | Path | list[Any], problems: list[Problem]) -> list[Sample]:
    """`canonical`, `buggy`, a JSONL path, or a list of Sample / dicts."""
    index = {p.task_id: p for p in problems}
    if isinstance(spec, list):
        if all(isinstance(s, Sample) for s in spec):
            return list(spec)
        return samples_from_rows(((i + 1, r) for i, r in enumerate(spec)), index, file="<samples>")
    if isinstance(spec, str) and spec in REFERENCES and not Path(spec).exists():
        out = reference_samples(problems, spec)
        if not out:
            raise WorkbenchError(f"the problem set has no {spec} solutions")
        return out
    return read_samples(spec, index)
