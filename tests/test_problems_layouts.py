"""Peer problem layouts (docs/problems.md), without running anything: per-row detection, the
Problem each layout is read into, located errors, MultiPL-E assembly, the stdin/stdout
representation and its judges' comparison rules."""

from __future__ import annotations

import base64
import gzip
import json
import pickle
import zlib
from pathlib import Path

import pytest

from engine.errors import InputError, WorkbenchError
from engine.problems import Problem, assemble, detect_schema, judges, load_problems, problem_from_row
from engine.problems.evalplus import mbpp_deserialize_inputs
from engine.problems.stdio import decode_lcb_tests

FIX = Path(__file__).parent / "fixtures" / "problems"


def _ref(p: Problem) -> str:
    assert p.canonical_solution is not None
    return p.canonical_solution


def _rows(name: str) -> list[dict]:
    path = FIX / name
    if name.endswith(".json"):
        return json.loads(path.read_text())
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


# -- detection --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, layout", [
    ("HumanEval.jsonl.gz", "human-eval"), ("HumanEvalPlus.jsonl.gz", "evalplus"), ("MbppPlus.jsonl", "evalplus"),
    ("sanitized-mbpp.json", "mbpp-sanitized"), ("mbppplus-hub.jsonl", "mbpp+"), ("apps.jsonl", "apps"),
    ("codecontests.jsonl", "codecontests"), ("livecodebench.jsonl", "livecodebench"),
    ("multipl-e/humaneval-py.jsonl", "multipl-e"), ("multipl-e/humaneval-java.json", "multipl-e"),
])
def test_each_fixture_row_is_detected_as_its_layout(name: str, layout: str) -> None:
    assert {detect_schema(r) for r in _rows(name)} == {layout}
    assert {p.layout for p in load_problems(str(FIX / name))} == {layout}


def test_a_file_mixing_layouts_is_read_row_by_row(tmp_path: Path) -> None:
    rows = [_rows("HumanEval.jsonl.gz")[0], _rows("multipl-e/humaneval-rs.json")[0], _rows("sanitized-mbpp.json")[0],
            _rows("MbppPlus.jsonl")[0], _rows("livecodebench.jsonl")[0]]
    f = tmp_path / "mixed.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ps = load_problems(str(f))
    assert [(p.layout, p.language, p.line) for p in ps] == [
        ("human-eval", "python", 1), ("multipl-e", "rust", 2), ("mbpp-sanitized", "python", 3),
        ("evalplus", "python", 4), ("livecodebench", "python", 5)]


def test_an_unknown_layout_names_its_fields_the_known_layouts_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "odd.json"
    f.write_text('[\n  {"task_id": "HumanEval/0", "prompt": "x", "test": "y", "entry_point": "f"},\n'
                 '  {"id": 7,\n   "question_text": "?", "answers": []}\n]\n')
    with pytest.raises(InputError) as e:
        load_problems(str(f))
    msg = str(e.value)
    assert (e.value.file, e.value.line) == (str(f), 3)
    assert "the row has the fields answers, id, question_text" in msg
    for layout in ("human-eval", "evalplus", "multipl-e", "mbpp-sanitized", "apps", "codecontests", "livecodebench"):
        assert layout in msg
    assert "\n" not in msg


def test_json_array_rows_carry_their_line_and_bad_json_is_located(tmp_path: Path) -> None:
    assert [p.line for p in load_problems(str(FIX / "sanitized-mbpp.json"))] == [2, 14, 26]
    f = tmp_path / "bad.json"
    row = '{"task_id": "a", "language": "python", "test": "assert True"}'
    f.write_text(f'[\n {row},\n {{"task_id": 2,, }}\n]\n')
    with pytest.raises(InputError, match="invalid JSON") as e:
        load_problems(str(f))
    assert e.value.line == 3
    f.write_text('{"task_id": 1}\n')
    with pytest.raises(InputError, match="expected a JSON array"):
        load_problems(str(f))


# -- human-eval, MBPP ------------------------------------------------------------------------

def test_human_eval_calls_check_on_the_entry_point_as_its_harness_does() -> None:
    p = load_problems(str(FIX / "HumanEval.jsonl.gz"))[1]
    assert (p.suite, p.solution_kind, p.entry_point) == ("humaneval", "completion", "running_max")
    prog = assemble(p, _ref(p))
    # human-eval execution.py: prompt + completion + "\n" + test + "\n" + f"check({entry_point})"
    assert prog.text == p.prompt + _ref(p) + "\n" + p.test + "\n" + "check(running_max)"
    assert "import numpy" not in prog.text            # no HumanEvalPack prelude
    assert assemble(p, "def running_max(x):\n    return x\n", "solution").code == "def running_max(x):\n    return x\n"
    with pytest.raises(InputError, match="expected a function name") as e:
        problem_from_row({**_rows("HumanEval.jsonl.gz")[0], "entry_point": "f(x)"}, file="h.jsonl", line=4)
    assert (e.value.line, e.value.field) == (4, "entry_point")


def test_mbpp_sanitized_runs_test_imports_then_test_list_and_the_hub_mbpp_plus_its_test() -> None:
    san = load_problems(str(FIX / "sanitized-mbpp.json"))
    circle = san[2]
    assert (circle.task_id, circle.test_setup, circle.entry_point) == ("57", "import math", "circle_area")
    text = assemble(circle, _ref(circle), "solution").text
    assert text == _ref(circle) + "\nimport math\n" + "\n".join(circle.tests)
    hub = load_problems(str(FIX / "mbppplus-hub.jsonl"))[0]
    prog = assemble(hub, _ref(hub), "solution")
    assert prog.test == hub.raw["test"] and "assert square_perimeter(10)==40" not in prog.text


# -- evalplus ----------------------------------------------------------------------------------

def test_evalplus_rows_keep_base_and_plus_inputs_and_deserialize_mbpp_plus_as_evalplus() -> None:
    he = load_problems(str(FIX / "HumanEvalPlus.jsonl.gz"))
    add, zero = he[0].plus, he[2].plus
    assert add is not None and zero is not None and add.dataset == "humaneval"
    assert (len(add.base), len(add.plus), add.atol) == (3, 4, 0.0)
    assert zero.atol == 1e-4 and add.group is zero.group      # one oracle per file
    mbpp = load_problems(str(FIX / "MbppPlus.jsonl"))[0].plus
    assert mbpp is not None and mbpp.dataset == "mbpp" and mbpp.base[0] == [(3, 4, 5, 6), (5, 7, 4, 10)]  # tuples
    assert mbpp_deserialize_inputs("Mbpp/124", [[1, "(1+2j)"]]) == [(1.0, 1 + 2j)]
    assert mbpp_deserialize_inputs("Mbpp/115", [[[[1, 2], []]]]) == [[[{1, 2}, {}]]]
    assert mbpp_deserialize_inputs("Mbpp/999", [[[1, 2]]]) == [[[1, 2]]]


@pytest.mark.parametrize("field, value, reason", [
    ("base_input", [1, 2], "expected a list of argument lists"), ("atol", -1, "expected a number >= 0"),
    ("entry_point", "", "expected a function name"), ("canonical_solution", None, "missing field"),
])
def test_bad_evalplus_rows_are_located(field: str, value: object, reason: str) -> None:
    row = {**_rows("HumanEvalPlus.jsonl.gz")[0], field: value}
    with pytest.raises(InputError, match=reason) as e:
        problem_from_row(row, file="HumanEvalPlus.jsonl", line=9)
    assert (e.value.file, e.value.line, e.value.field) == ("HumanEvalPlus.jsonl", 9, field)


# -- MultiPL-E ----------------------------------------------------------------------------------

def _ml(ext: str, i: int = 0):
    name = f"multipl-e/humaneval-{ext}"
    return load_problems(str(FIX / name))[i]


def test_multipl_e_rows_map_languages_stop_tokens_and_entry_points() -> None:
    langs = {ext: _ml(ext).language for ext in ("py.jsonl", "js.jsonl", "java.json", "go.jsonl", "cpp.jsonl", "rs.json")}
    assert langs == {"py.jsonl": "python", "js.jsonl": "javascript", "java.json": "java", "go.jsonl": "go",
                     "cpp.jsonl": "cpp", "rs.json": "rust"}
    go = _ml("go.jsonl", 1)
    assert go.entry_point == "filter_by_prefix" and go.stop_tokens == ("\nfunc", "struct", "\n// ")
    assert _ml("java.json").entry_point == "add" and _ml("py.jsonl").entry_point == "add"
    row = {**_rows("multipl-e/humaneval-py.jsonl")[0], "language": "lua"}
    with pytest.raises(InputError, match="'lua' is not one the executor runs") as e:
        problem_from_row(row, file="humaneval-lua.jsonl", line=1)
    assert e.value.field == "language"


def test_multipl_e_tests_that_could_never_run_are_refused() -> None:
    row = _rows("multipl-e/humaneval-rs.json")[0]
    with pytest.raises(InputError, match="no test of this problem would run") as e:
        problem_from_row({**row, "tests": row["tests"].replace("fn main()", "fn helper()")}, file="rs.json", line=2)
    assert (e.value.line, e.value.field) == (2, "tests")


def test_multipl_e_assembly_adapts_only_the_harness_parts() -> None:
    py = _ml("py.jsonl")
    assert assemble(py, "    return x + y\n").text == py.prompt + "    return x + y\n" + "\n" + py.test
    java = _ml("java.json")
    prog = assemble(java, "        return x + y;\n")
    assert "import org.javatuples" not in prog.code and "import java.util.*;" in prog.code
    assert prog.test.startswith(java.test) and "setPackageAssertionStatus" in prog.test and "Problem.main(args)" in prog.test
    uses_pair = assemble(java, "        Pair<Long, Long> p = Pair.with(x, y);\n        return p.getValue0() + y;\n")
    assert "import org.javatuples.*;" in uses_pair.code
    go = assemble(_ml("go.jsonl"), "    return x + y\n}\n")
    assert go.code.startswith("package main\n") and "add_test" not in go.code
    rs = assemble(_ml("rs.json"), "    x + y\n")
    assert rs.test.startswith(_ml("rs.json").test) and "#[test]\nfn multipl_e_main() {\n    main();\n}" in rs.test
    cpp = _ml("cpp.jsonl")
    assert assemble(cpp, "    return x + y;\n").text == cpp.prompt + "    return x + y;\n" + "\n" + cpp.test


# -- stdin/stdout ---------------------------------------------------------------------------------

def test_apps_rows_become_io_cases_with_the_harness_time_limit() -> None:
    stdin_p, call_p = load_problems(str(FIX / "apps.jsonl"))
    assert (stdin_p.judge, stdin_p.compare, stdin_p.time_limit, stdin_p.language) == ("stdio", "apps", 4.0, "python")
    assert [(c.input, c.output) for c in stdin_p.io_cases] == [("1 2\n", "3\n"), ("-5 5\n", "0\n"), ("100 23", "123")]
    assert _ref(stdin_p).startswith("a, b = map(int") and stdin_p.references[0].language == "python"
    assert (call_p.judge, call_p.compare, call_p.fn_name) == ("call", "apps-call", "count_distinct")
    assert [(c.input, c.output) for c in call_p.io_cases] == [("[1, 2, 2]", "[2]"), ("[]", "[0]")]


def test_codecontests_rows_keep_every_split_time_and_memory_limits_and_solutions() -> None:
    (p,) = load_problems(str(FIX / "codecontests.jsonl"))
    assert [c.visibility for c in p.io_cases] == ["public", "private", "private", "generated"]
    assert (p.time_limit, p.memory_limit_mb, p.compare) == (2.5, 256, "codecontests")
    assert [(r.language, r.correct) for r in p.references] == [("python", True), ("cpp", True), ("python", False)]
    assert _ref(p).startswith("a, b") and (p.buggy_solution or "").endswith("print(a - b)\n")


def test_livecodebench_private_cases_are_decompressed_without_running_any_pickle_code() -> None:
    stdin_p, call_p = load_problems(str(FIX / "livecodebench.jsonl"))
    assert [(c.input, c.visibility) for c in stdin_p.io_cases] == [("3\n", "public"), ("0\n", "private"),
                                                                 ("-21\n", "private")]
    assert (stdin_p.compare, stdin_p.time_limit) == ("lcb", 6.0)
    assert (call_p.judge, call_p.fn_name, call_p.compare) == ("call", "maxPairSum", "lcb-call")
    assert call_p.declaration.startswith("class Solution:")

    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    hostile = base64.b64encode(zlib.compress(pickle.dumps(Boom()))).decode()
    with pytest.raises(InputError, match="only plain data is accepted") as e:
        decode_lcb_tests(hostile, "private_test_cases", {"file": "lcb.jsonl", "line": 7})
    assert (e.value.line, e.value.field) == (7, "private_test_cases")
    row = {**_rows("livecodebench.jsonl")[0], "public_test_cases": json.dumps([{"input": "1", "output": "2",
                                                                               "testtype": "functional"}])}
    with pytest.raises(InputError, match="do not fit a stdin problem"):
        problem_from_row(row, file="lcb.jsonl", line=1)


def test_stdio_rows_without_cases_or_with_uneven_ones_are_located() -> None:
    row = {**_rows("apps.jsonl")[0], "input_output": json.dumps({"inputs": ["1"], "outputs": []})}
    with pytest.raises(InputError, match="1 inputs but 0 outputs") as e:
        problem_from_row(row, file="apps.jsonl", line=3)
    assert (e.value.line, e.value.field) == (3, "input_output")
    with pytest.raises(InputError, match="invalid JSON in the field"):
        problem_from_row({**_rows("apps.jsonl")[0], "input_output": "{oops"}, file="apps.jsonl", line=1)
    empty = {**_rows("codecontests.jsonl")[0], "public_tests": {"input": [], "output": []}, "private_tests": None,
             "generated_tests": None}
    with pytest.raises(InputError, match="no test cases"):
        problem_from_row(empty, file="cc.jsonl", line=1)


def test_assembling_a_stdio_problem_is_one_clear_line() -> None:
    p = load_problems(str(FIX / "codecontests.jsonl"))[0]
    with pytest.raises(WorkbenchError) as e:
        assemble(p, _ref(p), "solution")
    assert str(e.value).startswith("1500_A. Sum of two (codecontests) has no single program to assemble")
    assert "engine.execute.execute()" in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("rule, got, want, ok", [
    ("lcb", "6\n", "6", True), ("lcb", "  1 2 \n3\n\n", "1 2\n3", True), ("lcb", "1.0 2\n", "1 2.00", True),
    ("lcb", "1.000001\n", "1", False), ("lcb", "1\n2\n", "1 2", False), ("lcb", "YES", "yes", False),
    ("codecontests", "1 2\n3", "1\n2 3\n", True), ("codecontests", "YES", "yes", True),
    ("codecontests", "0.333333", "0.3333333333", True), ("codecontests", "0.3333", "0.3334", False),
    ("codecontests", "1", "2", False), ("codecontests", "a b", "a", False),
    ("apps", "3\n", "3\n", True), ("apps", "1 2\n\n3", "1 2\n3", True), ("apps", "2.0000001", "2.0", True),
    ("apps", "b a\nc", "a b\nc", True), ("apps", "1\n2", "2\n1", True), ("apps", "1 2", "1 3", False),
])
def test_stdio_output_rules_are_the_judges_own(rule: str, got: str, want: str, ok: bool) -> None:
    assert judges.outputs_match(rule, got, want) is ok


def test_call_rules_turn_tuples_into_lists_and_apps_unwraps_its_list() -> None:
    assert judges.lcb_call((1, 2), [1, 2]) and not judges.lcb_call([1], [[1]])
    assert judges.apps_call(2, [2]) and judges.apps_call((1, 2), [1, 2]) and judges.apps_call([(1, 2)], [[[1, 2]]])
    assert not judges.apps_call(3, [2])
