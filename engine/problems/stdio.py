"""Stdin/stdout (and call-based) problems: APPS, CodeContests and LiveCodeBench rows, read into
`Problem(judge="stdio" | "call", io_cases=..., compare=..., time_limit=...)`.

Reading them checks every case; engine.execute.iocases runs them, once per case
(`assemble()` has no single program for them and says so in one line):

    APPS            `input_output` (a JSON string): {"inputs", "outputs", "fn_name"?}; stdio
                    inputs/outputs are strings or lists of lines (joined with "\\n"), call inputs
                    are argument lists; `solutions` a JSON string list of Python programs. The
                    harness gives each case 4 s.
    CodeContests    `public_tests` / `private_tests` / `generated_tests`: {"input": [...],
                    "output": [...]}; `solutions` / `incorrect_solutions`: {"language": [ids],
                    "solution": [...]} (1 Python 2, 2 C++, 3 Python 3, 4 Java);
                    `time_limit` {"seconds", "nanos"}, `memory_limit_bytes`.
    LiveCodeBench   code_generation(_lite): `public_test_cases` a JSON string of {"input",
                    "output", "testtype": "stdin" | "functional"}; `private_test_cases` the same,
                    or base64 of zlib of a pickled JSON string; `metadata` a JSON string whose
                    `func_name` makes the problem call-based. The harness gives each case 6 s.

LiveCodeBench's pickles are read with an unpickler that refuses every global (a pickle can run
code when it names one), and their decompressed size is capped.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import zlib
from typing import Any

from engine.errors import InputError
from engine.problems.fields import Where, json_field, source_of, task_id, text
from engine.problems.model import JUDGE_CALL, JUDGE_STDIO, LANGUAGES, IOCase, Problem, Reference

APPS_TIMEOUT = 4.0  # hendrycks/apps eval/testing_util.py `timeout = 4`
LCB_TIMEOUT = 6.0  # LiveCodeBench run_test(timeout=6)
MAX_DECOMPRESSED = 1 << 30  # a compressed test-case field may not inflate beyond this
CC_LANGUAGES = {
    0: "unknown",
    1: "python2",
    2: "cpp",
    3: "python",
    4: "java",
    "UNKNOWN_LANGUAGE": "unknown",
    "PYTHON": "python2",
    "CPP": "cpp",
    "PYTHON3": "python",
    "JAVA": "java",
}


# -- APPS ---------------------------------------------------------------------------------------


def read_apps(row: dict[str, Any], where: Where) -> Problem:
    tid = task_id(row, "problem_id" if "problem_id" in row else "id", where=where)
    io_spec = json_field(row, "input_output", where=where)
    if not isinstance(io_spec, dict):
        raise InputError(
            "expected a JSON object with inputs and outputs (a problem without tests cannot be judged)",
            field="input_output",
            **where,
        )
    fn_name = io_spec.get("fn_name")
    if fn_name is not None and (not isinstance(fn_name, str) or not fn_name.strip()):
        raise InputError(f"expected a function name, got {fn_name!r}", field="input_output.fn_name", **where)
    inputs, outputs = _pair(io_spec, "inputs", "outputs", "input_output", where)
    cases = tuple(
        _apps_call_case(i, o) if fn_name else _apps_stdio_case(i, o, k, where)
        for k, (i, o) in enumerate(zip(inputs, outputs))
    )
    refs = tuple(Reference("python", s) for s in _solutions(row, "solutions", where))
    return _problem(
        row,
        where,
        tid,
        layout="apps",
        judge=JUDGE_CALL if fn_name else JUDGE_STDIO,
        cases=cases,
        compare="apps-call" if fn_name else "apps",
        time_limit=APPS_TIMEOUT,
        fn_name=fn_name or "",
        instruction=text(row, "question", where=where),
        starter=text(row, "starter_code", where=where),
        refs=refs,
    )


def _apps_stdio_case(inp: Any, out: Any, k: int, where: Where) -> IOCase:
    return IOCase(_lines(inp, f"input_output.inputs[{k}]", where), _lines(out, f"input_output.outputs[{k}]", where))


def _lines(v: Any, field: str, where: Where) -> str:
    """APPS joins a list of lines with "\\n"."""
    if isinstance(v, str):
        return v
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return "\n".join(v)
    raise InputError(f"expected text or a list of lines, got {type(v).__name__}", field=field, **where)


def _apps_call_case(args: Any, out: Any) -> IOCase:
    args = args if isinstance(args, list) else [args]
    return IOCase("\n".join(json.dumps(a) for a in args), json.dumps(out))


def _solutions(row: dict[str, Any], key: str, where: Where) -> list[str]:
    v = json_field(row, key, where=where)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InputError("expected a list of programs", field=key, **where)
    return v


# -- CodeContests -------------------------------------------------------------------------------


def read_codecontests(row: dict[str, Any], where: Where) -> Problem:
    tid = task_id(row, "name", where=where)
    cases: list[IOCase] = []
    for key in ("public_tests", "private_tests", "generated_tests"):
        spec = json_field(row, key, where=where) or {"input": [], "output": []}
        if not isinstance(spec, dict):
            raise InputError("expected {\"input\": [...], \"output\": [...]}", field=key, **where)
        inputs, outputs = _pair(spec, "input", "output", key, where, allow_empty=True)
        for k, (i, o) in enumerate(zip(inputs, outputs)):
            if not isinstance(i, str) or not isinstance(o, str):
                raise InputError("expected text", field=f"{key}[{k}]", **where)
            cases.append(IOCase(i, o, key.split("_")[0]))
    if not cases:
        raise InputError(
            "no test cases in public_tests, private_tests or generated_tests", field="public_tests", **where
        )
    refs = _cc_solutions(row, "solutions", True, where) + _cc_solutions(row, "incorrect_solutions", False, where)
    return _problem(
        row,
        where,
        tid,
        layout="codecontests",
        judge=JUDGE_STDIO,
        cases=tuple(cases),
        compare="codecontests",
        time_limit=_cc_time_limit(row, where),
        memory_mb=_cc_memory(row, where),
        instruction=text(row, "description", where=where),
        starter="",
        refs=refs,
    )


def _cc_solutions(row: dict[str, Any], key: str, correct: bool, where: Where) -> tuple[Reference, ...]:
    spec = json_field(row, key, where=where)
    if not spec:
        return ()
    langs, codes = (spec.get("language"), spec.get("solution")) if isinstance(spec, dict) else (None, None)
    if (
        not isinstance(langs, list)
        or not isinstance(codes, list)
        or len(langs) != len(codes)
        or not all(isinstance(c, str) for c in codes)
    ):
        raise InputError("expected {\"language\": [...], \"solution\": [...]} of the same length", field=key, **where)
    return tuple(Reference(CC_LANGUAGES.get(lang, str(lang)), code, correct) for lang, code in zip(langs, codes))


def _cc_time_limit(row: dict[str, Any], where: Where) -> float | None:
    tl = row.get("time_limit")
    if tl is None:
        return None
    if not isinstance(tl, dict) or not all(isinstance(tl.get(k, 0) or 0, (int, float)) for k in ("seconds", "nanos")):
        raise InputError("expected {\"seconds\": int, \"nanos\": int}", field="time_limit", **where)
    seconds = float(tl.get("seconds") or 0) + float(tl.get("nanos") or 0) / 1e9
    return seconds or None


def _cc_memory(row: dict[str, Any], where: Where) -> int | None:
    v = row.get("memory_limit_bytes")
    if v in (None, 0):
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise InputError(f"expected a number of bytes, got {v!r}", field="memory_limit_bytes", **where)
    return max(1, v >> 20)


# -- LiveCodeBench ------------------------------------------------------------------------------


def read_livecodebench(row: dict[str, Any], where: Where) -> Problem:
    tid = task_id(row, "question_id", where=where)
    meta = json_field(row, "metadata", where=where) or {}
    if not isinstance(meta, dict):
        raise InputError("expected a JSON object", field="metadata", **where)
    fn_name = meta.get("func_name") or ""
    cases = _lcb_cases(row, "public_test_cases", "public", where) + _lcb_cases(
        row, "private_test_cases", "private", where
    )
    if not cases:
        raise InputError("no test cases", field="public_test_cases", **where)
    kinds = {kind for _, kind in cases}
    expected_kind = "functional" if fn_name else "stdin"
    if kinds != {expected_kind}:
        raise InputError(
            f"test types {sorted(kinds)} do not fit a {'call-based' if fn_name else 'stdin'} problem "
            f"(metadata func_name {fn_name!r})",
            field="public_test_cases",
            **where,
        )
    return _problem(
        row,
        where,
        tid,
        layout="livecodebench",
        judge=JUDGE_CALL if fn_name else JUDGE_STDIO,
        cases=tuple(c for c, _ in cases),
        compare="lcb-call" if fn_name else "lcb",
        time_limit=LCB_TIMEOUT,
        fn_name=fn_name,
        instruction=text(row, "question_content", where=where),
        starter=text(row, "starter_code", where=where),
        refs=(),
    )


def _lcb_cases(row: dict[str, Any], key: str, visibility: str, where: Where) -> list[tuple[IOCase, str]]:
    raw = row.get(key)
    data = decode_lcb_tests(raw, key, where) if isinstance(raw, str) else raw
    if data is None:
        return []
    if not isinstance(data, list):
        raise InputError("expected a list of test cases", field=key, **where)
    out = []
    for k, t in enumerate(data):
        if (
            not isinstance(t, dict)
            or not isinstance(t.get("input"), str)
            or not isinstance(t.get("output"), str)
            or t.get("testtype") not in ("stdin", "functional")
        ):
            raise InputError(
                "expected {\"input\": text, \"output\": text, \"testtype\": \"stdin\"|\"functional\"}",
                field=f"{key}[{k}]",
                **where,
            )
        out.append((IOCase(t["input"], t["output"], visibility), t["testtype"]))
    return out


def decode_lcb_tests(value: str, key: str, where: Where) -> Any:
    """A LiveCodeBench test-case field: JSON, else base64(zlib(pickle(JSON string)))."""
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        pass
    try:
        packed = base64.b64decode(value.encode("ascii"), validate=False)
        d = zlib.decompressobj()
        blob = d.decompress(packed, MAX_DECOMPRESSED)
        if d.unconsumed_tail:
            raise InputError(f"test cases inflate beyond {MAX_DECOMPRESSED >> 20} MiB", field=key, **where)
        inner = _NoGlobals(io.BytesIO(blob)).load()
    except (binascii.Error, UnicodeEncodeError, zlib.error, pickle.UnpicklingError, EOFError, ValueError) as e:
        raise InputError(
            f"neither JSON nor LiveCodeBench's compressed test cases ({type(e).__name__}: {e})", field=key, **where
        ) from None
    if not isinstance(inner, str):
        raise InputError(f"compressed test cases hold a {type(inner).__name__}, not a JSON string", field=key, **where)
    try:
        return json.loads(inner)
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON in the compressed test cases: {e.msg}", field=key, **where) from None


class _NoGlobals(pickle.Unpickler):
    """Builds plain data only: a pickle that names any class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"the pickle names {module}.{name}; only plain data is accepted")


# -- shared -------------------------------------------------------------------------------------


def _pair(
    spec: dict[str, Any], ikey: str, okey: str, field: str, where: Where, allow_empty: bool = False
) -> tuple[list[Any], list[Any]]:
    inputs, outputs = spec.get(ikey), spec.get(okey)
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise InputError(f"expected lists '{ikey}' and '{okey}'", field=field, **where)
    if len(inputs) != len(outputs):
        raise InputError(f"{len(inputs)} {ikey} but {len(outputs)} {okey}", field=field, **where)
    if not inputs and not allow_empty:
        raise InputError("no test cases", field=field, **where)
    return inputs, outputs


def _problem(
    row: dict[str, Any],
    where: Where,
    tid: str,
    *,
    layout: str,
    judge: str,
    cases: tuple[IOCase, ...],
    compare: str,
    time_limit: float | None,
    instruction: str,
    starter: str,
    refs: tuple[Reference, ...],
    fn_name: str = "",
    memory_mb: int | None = None,
) -> Problem:
    # `language` is the set's own: APPS and LiveCodeBench are Python sets (starter code, solutions);
    # CodeContests takes the language of its first runnable reference, Python first. The stdio
    # judge itself is language-neutral: a sample may be in any of LANGUAGES.
    good = sorted((r for r in refs if r.correct and r.language in LANGUAGES), key=lambda r: r.language != "python")
    bad = sorted((r for r in refs if not r.correct and r.language in LANGUAGES), key=lambda r: r.language != "python")
    language = good[0].language if good else "python"
    return Problem(
        task_id=tid,
        language=language,
        suite="stdio",
        layout=layout,
        judge=judge,
        io_cases=cases,
        compare=compare,
        time_limit=time_limit,
        memory_limit_mb=memory_mb,
        fn_name=fn_name,
        instruction=instruction,
        prompt=starter,
        declaration=starter,
        references=refs,
        canonical_solution=good[0].code if good else None,
        buggy_solution=bad[0].code if bad else None,
        solution_kind="solution",
        raw=row,
        **source_of(where),
    )
