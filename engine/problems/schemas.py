"""Row readers: one dict from a benchmark file -> a `Problem`, schema detected per row.

Schemas (docs/problems.md): HumanEvalPack (and plain HumanEval), MBPP (full and sanitized),
LeetCodeDataset, and the generic "workbench" schema the demo curriculum writes.
"""

from __future__ import annotations

from typing import Any, Callable

from engine.errors import InputError, WorkbenchError
from engine.problems.model import TASK_PREFIX, Problem, normalize_language


def detect_schema(row: dict[str, Any]) -> str | None:
    """Which schema a row is in, or None when it matches none."""
    keys = set(row)
    if {"code", "test_list"} <= keys and ({"text"} & keys or {"prompt"} & keys) and "language" not in keys:
        return "mbpp"
    if "test_list" in keys and "language" in keys:
        return "workbench"
    if {"prompt", "test", "entry_point"} <= keys:
        tid = str(row.get("task_id", ""))
        head = tid.split("/", 1)[0].lower() if "/" in tid else ""
        if head in TASK_PREFIX or head == "humaneval" or "declaration" in keys:
            return "humanevalpack"
        if "Solution()" in str(row.get("entry_point")) or {"query", "meta", "completion"} & keys:
            return "leetcode"
        if "language" in keys:
            return "humanevalpack"
    if "language" in keys and ("test" in keys or "test_list" in keys):
        return "workbench"
    return None


def _str(row: dict[str, Any], key: str, *, where: dict[str, Any], required: bool = False) -> str:
    v = row.get(key)
    if v is None:
        if required:
            raise InputError("missing field", field=key, **where)
        return ""
    if not isinstance(v, str):
        raise InputError(f"expected text, got {type(v).__name__}", field=key, **where)
    return v


def _str_list(row: dict[str, Any], key: str, *, where: dict[str, Any]) -> tuple[str, ...]:
    v = row.get(key)
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InputError("expected a list of strings", field=key, **where)
    return tuple(v)


def _language_of(row: dict[str, Any], tid: str, where: dict[str, Any]) -> str:
    if row.get("language"):
        try:
            return normalize_language(str(row["language"]))
        except WorkbenchError as e:
            raise InputError(str(e), field="language", **where) from None
    head = tid.split("/", 1)[0].lower() if "/" in tid else ""
    if head in TASK_PREFIX:
        return TASK_PREFIX[head]
    if head == "humaneval":
        return "python"
    raise InputError("cannot tell the language: no 'language' field and the task id has no "
                     "language prefix (Python/, JavaScript/, Java/, Go/, CPP/, Rust/)", field="task_id", **where)


def _humanevalpack(row: dict[str, Any], where: dict[str, Any]) -> Problem:
    tid = _str(row, "task_id", where=where, required=True)
    lang = _language_of(row, tid, where)
    return Problem(
        task_id=tid, language=lang, suite="humanevalpack",
        prompt=_str(row, "prompt", where=where, required=True),
        entry_point=_str(row, "entry_point", where=where, required=True),
        test=_str(row, "test", where=where, required=True),
        test_setup=_str(row, "test_setup", where=where),
        instruction=_str(row, "instruction", where=where),
        declaration=_str(row, "declaration", where=where),
        imports=_str(row, "import", where=where),
        canonical_solution=row.get("canonical_solution") if isinstance(row.get("canonical_solution"), str) else None,
        buggy_solution=row.get("buggy_solution") if isinstance(row.get("buggy_solution"), str) else None,
        solution_kind="completion", raw=row, **_src(where))


def _mbpp(row: dict[str, Any], where: dict[str, Any]) -> Problem:
    tid = row.get("task_id")
    if tid is None:
        raise InputError("missing field", field="task_id", **where)
    tests = _str_list(row, "test_list", where=where)
    if not tests:
        raise InputError("empty test_list", field="test_list", **where)
    setup = _str(row, "test_setup_code", where=where)
    if "test_imports" in row:                           # sanitized MBPP
        setup = "\n".join(_str_list(row, "test_imports", where=where) + ((setup,) if setup else ()))
    text = _str(row, "text", where=where) or _str(row, "prompt", where=where)
    code = _str(row, "code", where=where)
    entry = _entry_from_asserts(tests)
    return Problem(
        task_id=str(tid), language="python", suite="mbpp", prompt="", entry_point=entry,
        test="\n".join(tests), tests=tests, test_setup=setup, instruction=text,
        canonical_solution=code or None, solution_kind="solution", raw=row, **_src(where))


def _leetcode(row: dict[str, Any], where: dict[str, Any]) -> Problem:
    tid = row.get("task_id")
    if tid is None:
        raise InputError("missing field", field="task_id", **where)
    entry = _str(row, "entry_point", where=where, required=True)
    test = _str(row, "test", where=where, required=True)
    meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
    instruction = (_str(row, "problem_description", where=where) or str(meta.get("question_title") or "")
                   or _str(row, "query", where=where))
    return Problem(
        task_id=str(tid), language="python", suite="leetcode",
        prompt=_str(row, "prompt", where=where), entry_point=entry, test=test,
        instruction=instruction,
        declaration=_str(row, "starter_code", where=where) or str(meta.get("lang_code") or ""),
        canonical_solution=row.get("completion") if isinstance(row.get("completion"), str) else None,
        solution_kind="completion", raw=row, **_src(where))


def _workbench(row: dict[str, Any], where: dict[str, Any]) -> Problem:
    tid = row.get("task_id")
    if tid is None:
        raise InputError("missing field", field="task_id", **where)
    try:
        lang = normalize_language(str(row.get("language")))
    except WorkbenchError as e:
        raise InputError(str(e), field="language", **where) from None
    tests = _str_list(row, "test_list", where=where)
    setup = _str(row, "test_setup", where=where)
    test = _str(row, "test", where=where)
    if not test and tests:
        test = "\n".join(([setup] if setup else []) + list(tests)) + "\n"
    if not test and not tests:
        raise InputError("a problem needs 'test' or 'test_list'", field="test", **where)
    return Problem(
        task_id=str(tid), language=lang, suite="workbench",
        prompt=_str(row, "prompt", where=where), entry_point=_str(row, "entry_point", where=where),
        test=test, tests=tests, test_setup=setup, instruction=_str(row, "instruction", where=where),
        declaration=_str(row, "declaration", where=where),
        canonical_solution=row.get("canonical_solution") if isinstance(row.get("canonical_solution"), str) else None,
        buggy_solution=row.get("buggy_solution") if isinstance(row.get("buggy_solution"), str) else None,
        solution_kind="completion" if row.get("prompt") and row.get("solution_kind") == "completion" else "solution",
        raw=row, **_src(where))


READERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Problem]] = {
    "humanevalpack": _humanevalpack, "mbpp": _mbpp, "leetcode": _leetcode, "workbench": _workbench,
}


def problem_from_row(row: Any, *, file: str | None = None, line: int | None = None,
                     schema: str | None = None) -> Problem:
    """Read one row; `schema` forces a reader, otherwise it is detected. Errors name file/line/field."""
    where = {"file": file, "line": line}
    if not isinstance(row, dict):
        raise InputError(f"expected a JSON object, got {type(row).__name__}", **where)
    kind = schema or detect_schema(row)
    if kind is None:
        raise InputError("unknown problem schema (fields: " + ", ".join(sorted(row)) + "); expected "
                         "HumanEvalPack, MBPP, LeetCodeDataset or the workbench schema (docs/problems.md)",
                         **where)
    return READERS[kind](row, where)


def _src(where: dict[str, Any]) -> dict[str, Any]:
    return {"source": where.get("file") or "", "line": where.get("line")}


def _entry_from_asserts(tests: tuple[str, ...]) -> str:
    """MBPP has no entry point: the first function called in the first assert."""
    import re

    m = re.search(r"assert\s+(?:not\s+)?\(?\s*(?:set\(|sorted\(|math\.isclose\(|abs\()?\s*([A-Za-z_]\w*)\s*\(", tests[0])
    return m.group(1) if m else ""
