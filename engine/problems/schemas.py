"""Row readers: one dict from a benchmark file -> a `Problem`, its layout detected per row (a
file that mixes layouts is read row by row).

Layouts (docs/problems.md): HumanEvalPack, human-eval, evalplus (HumanEval+ / MBPP+), MultiPL-E,
MBPP (full, sanitized, MBPP+ as on the hub), LeetCodeDataset, the workbench schema, and the
stdin/stdout layouts of APPS, CodeContests and LiveCodeBench.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from engine.errors import InputError, WorkbenchError
from engine.problems import evalplus, multiple, stdio
from engine.problems.fields import Where, optional_text, source_of, task_id, text, text_list
from engine.problems.model import TASK_PREFIX, Problem, normalize_language

# layout -> the fields that identify it (for the unknown-layout message)
KNOWN_LAYOUTS = {
    "humanevalpack": "task_id Python/N..Rust/N, prompt, declaration, test, entry_point",
    "human-eval": "task_id, prompt, canonical_solution, test (defines check), entry_point",
    "evalplus": "task_id, prompt, canonical_solution, entry_point, base_input, plus_input, atol",
    "multipl-e": "name, language, prompt, tests, stop_tokens",
    "mbpp": "task_id, text, code, test_list, test_setup_code",
    "mbpp-sanitized": "source_file, task_id, prompt, code, test_imports, test_list",
    "mbpp+": "the sanitized fields plus test (the hub's evalplus/mbppplus)",
    "leetcode": "task_id, prompt, entry_point (Solution().m), test, query, meta",
    "workbench": "task_id, language, test_list or test",
    "apps": "question, solutions, input_output, starter_code",
    "codecontests": "name, description, public_tests, private_tests, generated_tests, solutions",
    "livecodebench": "question_content, starter_code, public_test_cases, private_test_cases, metadata",
}


def detect_schema(row: dict[str, Any]) -> str | None:
    """The layout a row is in (a KNOWN_LAYOUTS key), or None when it matches none."""
    keys = set(row)
    if {"base_input", "plus_input", "entry_point", "prompt", "canonical_solution"} <= keys:
        return "evalplus"
    if {"name", "language", "prompt", "tests"} <= keys:
        return "multipl-e"
    if {"question_content", "public_test_cases"} <= keys:
        return "livecodebench"
    if {"description", "public_tests"} <= keys:
        return "codecontests"
    if {"question", "input_output"} <= keys:
        return "apps"
    if {"code", "test_list"} <= keys and keys & {"text", "prompt"} and "language" not in keys:
        if keys & {"test_imports", "source_file"}:
            hub_plus = isinstance(row.get("test"), str) and bool(row["test"].strip())
            return "mbpp+" if hub_plus else "mbpp-sanitized"
        return "mbpp"
    if "test_list" in keys and "language" in keys:
        return "workbench"
    if {"prompt", "test", "entry_point"} <= keys:
        return _humaneval_family(row, keys)
    if "language" in keys and ("test" in keys or "test_list" in keys):
        return "workbench"
    return None


def _humaneval_family(row: dict[str, Any], keys: set[str]) -> str:
    tid = str(row.get("task_id", ""))
    head = tid.split("/", 1)[0].lower() if "/" in tid else ""
    if head in TASK_PREFIX or "declaration" in keys:
        return "humanevalpack"
    if "Solution()" in str(row.get("entry_point")) or {"query", "meta", "completion"} & keys:
        return "leetcode"
    if "language" in keys:
        return "humanevalpack"
    return "human-eval"


def _language_of(row: dict[str, Any], tid: str, where: Where) -> str:
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
    raise InputError(
        "cannot tell the language: no 'language' field and the task id has no "
        "language prefix (Python/, JavaScript/, Java/, Go/, CPP/, Rust/)",
        field="task_id",
        **where,
    )


def _humanevalpack(row: dict[str, Any], where: Where) -> Problem:
    tid = text(row, "task_id", where=where, required=True)
    return Problem(
        task_id=tid,
        language=_language_of(row, tid, where),
        suite="humanevalpack",
        layout="humanevalpack",
        prompt=text(row, "prompt", where=where, required=True),
        entry_point=text(row, "entry_point", where=where, required=True),
        test=text(row, "test", where=where, required=True),
        test_setup=text(row, "test_setup", where=where),
        instruction=text(row, "instruction", where=where),
        declaration=text(row, "declaration", where=where),
        imports=text(row, "import", where=where),
        canonical_solution=optional_text(row, "canonical_solution"),
        buggy_solution=optional_text(row, "buggy_solution"),
        solution_kind="completion",
        raw=row,
        **source_of(where),
    )


def _human_eval(row: dict[str, Any], where: Where) -> Problem:
    """OpenAI human-eval: the test defines `check(candidate)`; the harness calls it."""
    tid = task_id(row, where=where)
    return Problem(
        task_id=tid,
        language="python",
        suite="humaneval",
        layout="human-eval",
        prompt=text(row, "prompt", where=where, required=True),
        entry_point=_identifier(row, "entry_point", where),
        test=text(row, "test", where=where, required=True),
        canonical_solution=optional_text(row, "canonical_solution"),
        buggy_solution=optional_text(row, "buggy_solution"),
        solution_kind="completion",
        raw=row,
        **source_of(where),
    )


def _identifier(row: dict[str, Any], key: str, where: Where) -> str:
    name = text(row, key, where=where, required=True).strip()
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise InputError(f"expected a function name, got {name!r}", field=key, **where)
    return name


def _mbpp(row: dict[str, Any], where: Where) -> Problem:
    """MBPP full (`text`, `test_setup_code`), sanitized (`prompt`, `test_imports`) and MBPP+ as
    the hub has it (sanitized fields plus `test`, which then replaces `test_list`)."""
    tid = task_id(row, where=where)
    tests = text_list(row, "test_list", where=where)
    if not tests:
        raise InputError("empty test_list", field="test_list", **where)
    setup = text(row, "test_setup_code", where=where)
    if "test_imports" in row:  # sanitized MBPP
        setup = "\n".join(text_list(row, "test_imports", where=where) + ((setup,) if setup else ()))
    layout = detect_schema(row) or "mbpp"
    if layout == "mbpp+":  # bigcode's mbppplus: code + "\n" + test
        tests, setup = (text(row, "test", where=where),), ""
    code = text(row, "code", where=where)
    return Problem(
        task_id=tid,
        language="python",
        suite="mbpp",
        layout=layout,
        prompt="",
        entry_point=_entry_from_asserts(text_list(row, "test_list", where=where)),
        test="\n".join(tests),
        tests=tests,
        test_setup=setup,
        instruction=text(row, "text", where=where) or text(row, "prompt", where=where),
        canonical_solution=code or None,
        solution_kind="solution",
        raw=row,
        **source_of(where),
    )


def _leetcode(row: dict[str, Any], where: Where) -> Problem:
    tid = task_id(row, where=where)
    meta: dict[str, Any] = row["meta"] if isinstance(row.get("meta"), dict) else {}
    instruction = (
        text(row, "problem_description", where=where)
        or str(meta.get("question_title") or "")
        or text(row, "query", where=where)
    )
    return Problem(
        task_id=tid,
        language="python",
        suite="leetcode",
        layout="leetcode",
        prompt=text(row, "prompt", where=where),
        entry_point=text(row, "entry_point", where=where, required=True),
        test=text(row, "test", where=where, required=True),
        instruction=instruction,
        declaration=text(row, "starter_code", where=where) or str(meta.get("lang_code") or ""),
        canonical_solution=optional_text(row, "completion"),
        solution_kind="completion",
        raw=row,
        **source_of(where),
    )


def _workbench(row: dict[str, Any], where: Where) -> Problem:
    tid = task_id(row, where=where)
    try:
        lang = normalize_language(str(row.get("language")))
    except WorkbenchError as e:
        raise InputError(str(e), field="language", **where) from None
    tests = text_list(row, "test_list", where=where)
    setup = text(row, "test_setup", where=where)
    test = text(row, "test", where=where)
    if not test and tests:
        test = "\n".join(([setup] if setup else []) + list(tests)) + "\n"
    if not test and not tests:
        raise InputError("a problem needs 'test' or 'test_list'", field="test", **where)
    return Problem(
        task_id=tid,
        language=lang,
        suite="workbench",
        layout="workbench",
        prompt=text(row, "prompt", where=where),
        entry_point=text(row, "entry_point", where=where),
        test=test,
        tests=tests,
        test_setup=setup,
        instruction=text(row, "instruction", where=where),
        declaration=text(row, "declaration", where=where),
        canonical_solution=optional_text(row, "canonical_solution"),
        buggy_solution=optional_text(row, "buggy_solution"),
        solution_kind="completion" if row.get("prompt") and row.get("solution_kind") == "completion" else "solution",
        raw=row,
        **source_of(where),
    )


READERS: dict[str, Callable[[dict[str, Any], Where], Problem]] = {
    "humanevalpack": _humanevalpack,
    "human-eval": _human_eval,
    "evalplus": evalplus.read_row,
    "multipl-e": multiple.read_row,
    "mbpp": _mbpp,
    "mbpp-sanitized": _mbpp,
    "mbpp+": _mbpp,
    "leetcode": _leetcode,
    "workbench": _workbench,
    "apps": stdio.read_apps,
    "codecontests": stdio.read_codecontests,
    "livecodebench": stdio.read_livecodebench,
}


def problem_from_row(
    row: Any, *, file: str | None = None, line: int | None = None, schema: str | None = None
) -> Problem:
    """Read one row; `schema` forces a layout, otherwise it is detected. Errors name file/line/field."""
    where: Where = {"file": file, "line": line}
    if not isinstance(row, dict):
        raise InputError(f"expected a JSON object, got {type(row).__name__}", **where)
    kind = schema or detect_schema(row)
    if kind is None:
        raise InputError(unknown_layout_message(row), **where)
    if kind not in READERS:
        raise WorkbenchError(f"unknown problem layout {kind!r} (known: {', '.join(READERS)})")
    return READERS[kind](row, where)


def unknown_layout_message(row: dict[str, Any]) -> str:
    found = ", ".join(sorted(map(str, row))) or "none"
    known = "; ".join(f"{name} ({fields})" for name, fields in KNOWN_LAYOUTS.items())
    return f"unknown problem layout: the row has the fields {found}; known layouts: {known} (docs/problems.md)"


def _entry_from_asserts(tests: tuple[str, ...]) -> str:
    """MBPP has no entry point: the first function called in the first assert."""
    if not tests:
        return ""
    m = re.search(
        r"assert\s+(?:not\s+)?\(?\s*(?:set\(|sorted\(|math\.isclose\(|abs\()?\s*([A-Za-z_]\w*)\s*\(", tests[0]
    )
    return m.group(1) if m else ""
