"""Problem sets: schemas, built-in names, located errors, reference program assembly, and the
test-case instrumentation the executor applies to the (trusted) test code."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from engine.errors import InputError, WorkbenchError
from engine.execute import instrument as ins
from engine.problems import Problem, assemble, load_problems, problem_from_row
from engine.problems.assemble import PYTHON_PRELUDE
from tests.conftest import shared_data


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


HEP_PY = {"task_id": "Python/7", "prompt": "def f(x):\n    \"\"\"doc\"\"\"\n", "declaration": "def f(x):\n",
          "canonical_solution": "    return x + 1\n", "buggy_solution": "    return x\n",
          "test": "def check(f):\n    assert f(1) == 2\n    assert f(2) == 3\n\ncheck(f)\n", "entry_point": "f"}
MBPP = {"task_id": 11, "text": "add one", "code": "def f(x):\r\n    return x + 1", "test_setup_code": "",
        "test_list": ["assert f(1) == 2", "assert f(2) == 3"], "challenge_test_list": []}
LEET = {"task_id": "two-sum", "prompt": "from typing import *\n", "entry_point": "Solution().f",
        "completion": "class Solution:\n    def f(self, x):\n        return x + 1\n",
        "test": "def check(candidate):\n    assert candidate(x = 1) == 2\n", "query": "q", "meta": {}}
TOY = {"task_id": "toy-javascript/add/7", "language": "javascript", "instruction": "add 7",
       "entry_point": "add7", "canonical_solution": "function add7(x) {\n  return x + 7;\n}\n",
       "test_setup": "const assert = require('node:assert');",
       "test_list": ["assert.deepStrictEqual(add7(1), 8);", "assert.deepStrictEqual(add7(2), 9);"]}


# -- schemas ----------------------------------------------------------------------------------

def test_each_schema_is_detected_and_read(tmp_path: Path) -> None:
    f = _jsonl(tmp_path / "mixed.jsonl", [HEP_PY, MBPP, LEET, TOY])
    ps = load_problems(str(f))
    assert [(p.suite, p.language) for p in ps] == [("humanevalpack", "python"), ("mbpp", "python"),
                                                   ("leetcode", "python"), ("workbench", "javascript")]
    hep, mbpp, leet, toy = ps
    assert hep.canonical_solution == "    return x + 1\n" and hep.buggy_solution == "    return x\n"
    assert mbpp.task_id == "11" and mbpp.tests == tuple(MBPP["test_list"]) and mbpp.entry_point == "f"
    assert mbpp.solution_kind == "solution" and hep.solution_kind == "completion"
    assert leet.entry_point == "Solution().f" and leet.canonical_solution.startswith("class Solution")
    assert toy.tests == tuple(TOY["test_list"]) and "require('node:assert')" in toy.test
    assert (hep.source, hep.line) == (str(f), 1) and toy.line == 4


def test_language_from_task_prefix_or_field() -> None:
    for tid, lang in [("JavaScript/3", "javascript"), ("CPP/3", "cpp"), ("Go/1", "go"), ("Rust/9", "rust"),
                      ("Java/0", "java"), ("HumanEval/5", "python")]:
        assert problem_from_row({**HEP_PY, "task_id": tid}).language == lang
    assert problem_from_row({**HEP_PY, "task_id": "x-1", "language": "c++"}).language == "cpp"


def test_bad_rows_name_file_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(HEP_PY) + "\n{not json\n")
    with pytest.raises(InputError) as e:
        load_problems(str(f))
    assert e.value.file == str(f) and e.value.line == 2 and "invalid JSON" in str(e.value)
    _jsonl(f, [HEP_PY, {"task_id": "Python/8", "prompt": "x", "test": 5, "entry_point": "f", "declaration": ""}])
    with pytest.raises(InputError) as e:
        load_problems(str(f))
    assert (e.value.line, e.value.field) == (2, "test")
    _jsonl(f, [{"task_id": "q", "hello": 1}])
    with pytest.raises(InputError, match="unknown problem layout"):
        load_problems(str(f))
    _jsonl(f, [HEP_PY, HEP_PY])
    with pytest.raises(InputError) as e:
        load_problems(str(f))
    assert e.value.field == "task_id" and e.value.line == 2 and "duplicate" in str(e.value)
    _jsonl(f, [{**HEP_PY, "task_id": "Cobol/1"}])
    with pytest.raises(InputError, match="cannot tell the language"):
        load_problems(str(f))


def test_builtin_names_resolve_against_a_local_mirror(tmp_path: Path) -> None:
    (tmp_path / "humanevalpack").mkdir()
    _jsonl(tmp_path / "humanevalpack" / "python.jsonl", [HEP_PY])
    (tmp_path / "mbpp").mkdir()
    _jsonl(tmp_path / "mbpp" / "mbpp.jsonl", [{**MBPP, "task_id": i} for i in (5, 11, 510, 600)])
    (tmp_path / "leetcode").mkdir()
    for ver, tid in (("v0.1.0", "old"), ("v0.2.0", "new")):
        with gzip.open(tmp_path / "leetcode" / f"LeetCodeDataset-{ver}-test.jsonl.gz", "wt") as g:
            g.write(json.dumps({**LEET, "task_id": tid}) + "\n")
    assert [p.task_id for p in load_problems("humanevalpack:python", tmp_path)] == ["Python/7"]
    assert [p.task_id for p in load_problems("mbpp", tmp_path)] == ["11", "510"]          # the test split
    assert [p.task_id for p in load_problems("mbpp:full", tmp_path)] == ["5", "11", "510", "600"]
    assert [p.task_id for p in load_problems("leetcode", tmp_path)] == ["new"]            # newest version
    assert [p.task_id for p in load_problems("leetcode:v0.1.0", tmp_path)] == ["old"]
    assert len(load_problems("mbpp,leetcode", tmp_path)) == 3
    with pytest.raises(WorkbenchError, match="offline"):
        load_problems("humanevalpack:go", tmp_path, offline=True)
    with pytest.raises(InputError, match="not a built-in"):
        load_problems(str(tmp_path / "nope.jsonl"))


def test_offline_hub_error_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("WORKBENCH_BENCHMARKS", raising=False)
    with pytest.raises(WorkbenchError) as e:
        load_problems("mbpp")
    msg = str(e.value)
    assert "\n" not in msg and "--data-dir" in msg and "mbpp/mbpp.jsonl" in msg


def test_shared_humanevalpack_mbpp_leetcode_load() -> None:
    data = shared_data("humanevalpack").parent
    ps = load_problems("humanevalpack", data)
    assert len(ps) == 984 and {p.language for p in ps} == {"python", "javascript", "java", "go", "cpp", "rust"}
    assert all(p.canonical_solution and p.buggy_solution and p.test for p in ps)
    assert len(load_problems("mbpp", data)) == 500
    assert len(load_problems("leetcode:v0.2.0", data)) == 200


# -- assembly -----------------------------------------------------------------------------------

def _hep(lang: str, **kw: str) -> Problem:
    return Problem(task_id=f"X/{lang}", language=lang, suite="humanevalpack", **kw)


def test_python_assembly_is_prelude_generation_then_test() -> None:
    p = problem_from_row(HEP_PY)
    prog = assemble(p, p.canonical_solution)
    assert prog.text == ("\n".join(PYTHON_PRELUDE) + "\n" + p.prompt + p.canonical_solution).strip() + "\n\n" + p.test
    # a whole-function solution keeps the declaration's imports it lacks
    p2 = problem_from_row({**HEP_PY, "declaration": "from typing import List\n\ndef f(x):\n"})
    assert "from typing import List\ndef f(x): return 1" in assemble(p2, "def f(x): return 1", "solution").code


def test_cpp_java_js_assembly_rules() -> None:
    cpp = _hep("cpp", prompt="#include<stdio.h>\nint f(){\n", test="int main(){ assert(f()==1); }")
    code = assemble(cpp, "  return 1;\n}\nint main(){ return 3; }\n").code
    assert code.startswith("using namespace std;\n#include<stdlib.h>") and "return 3" not in code
    java = _hep("java", prompt="class Solution {\n", test="public class Main {}")
    assert "public class Main {\n    }" not in assemble(java, "}\npublic class Main {\n    }\n").code
    js = _hep("javascript", prompt="const f = () => {\n", test="f()")
    assert assemble(js, "  return 1\n}\n").text == "const f = () => {\n  return 1\n}\n\n\nf()"


def test_go_assembly_dedupes_imports_and_adds_used_helpers() -> None:
    setup = 'package main\n\nimport (\n    "testing"\n    "math"\n    "github.com/stretchr/testify/assert"\n)\n'
    p = _hep("go", prompt='import (\n    "math"\n)\nfunc F() float64 {\n', test_setup=setup,
             test="func TestF(t *testing.T) {\n    assert := assert.New(t)\n    assert.Equal(1.0, F())\n}\n")
    code = assemble(p, "    // strings. in a comment only\n    return math.Abs(strconv.Itoa(1) == \"1\")\n}\n").code
    assert code.count('"math"') == 1                       # dropped from test_setup: the prompt has it
    assert 'import (\n    "strconv"\n)' in code           # used, not imported: added
    assert '"strings"' not in code                         # only in a comment: not added


def test_rust_assembly_adds_main_and_missing_declaration_lines() -> None:
    p = _hep("rust", prompt="fn main(){}\nuse regex::Regex;\nfn f() -> i32 {\n",
             declaration="\nuse regex::Regex;\nuse md5;\nfn f() -> i32 {\n", test="#[cfg(test)]\nmod tests {}\n")
    code = assemble(p, "fn f() -> i32 { 1 }\n", "solution").code
    assert code == "fn main(){}\nuse regex::Regex;\nuse md5;\nfn f() -> i32 { 1 }\n"
    code = assemble(p, "fn main(){}\nfn f() -> i32 { 1 }\nfn main(){}\nfn junk(){}", "solution").code
    assert "junk" not in code and code.count("fn main()") == 1 and code.count("fn f()") == 1


def test_mbpp_and_leetcode_assembly() -> None:
    m = problem_from_row({**MBPP, "test_setup_code": "root = 1"})
    assert assemble(m, m.canonical_solution, "solution").text == m.canonical_solution + "\nroot = 1\n" + \
        "\n".join(MBPP["test_list"])
    lc = problem_from_row(LEET)
    assert assemble(lc, lc.canonical_solution).text.endswith(LEET["test"] + "\ncheck(Solution().f)")


# -- instrumentation ----------------------------------------------------------------------------

def test_python_cases_inside_check_and_at_module_level() -> None:
    plan = ins.python_cases("def check(c):\n    import math\n    x = 2\n    assert c(1) == x\n"
                            "    for i in range(3):\n        assert c(i) >= 0\n    assert c(3) == 4, 'msg'\n\ncheck(f)\n")
    assert plan.labels == ("assert c(1) == x", "for i in range(3): assert c(i) >= 0", "assert c(3) == 4, 'msg'")
    assert "__wb__.begin(0)" in plan.test and "import math" in plan.test
    assert ins.python_cases("assert f(1) == 2\nassert f(2) == 3\n").n == 2
    assert ins.python_cases("print(1)\n").n == 0 and ins.python_cases("def (:").n == 0


def test_javascript_console_assert_becomes_a_thunk() -> None:
    t = "const t = () => {\n  console.assert(f(\"a,b\") === 'x)', 'm')\n  console.assert(\n    g([1, 2]) === 3\n  )\n}\nt()\n"
    plan = ins.javascript_cases(t)
    assert plan.labels == ('f("a,b") === \'x)\'', "g([1, 2]) === 3")
    assert "__wb.ca(0, () => (f(\"a,b\") === 'x)'), 'm')" in plan.test and "console.assert" not in plan.test
    node = ins.javascript_cases("const assert = require('node:assert');\nassert.deepStrictEqual(f(1), 2);\n"
                                "assert.strictEqual(\n  f(2), 3);\n")
    assert node.n == 2 and node.test.startswith("const assert = require('node:assert');")


def test_java_list_elements_split_at_top_level_commas_only() -> None:
    t = ("public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n"
         "        List<Boolean> correct = Arrays.asList(\n            s.f(new HashMap<String, Integer>(), \"a,b\"),\n"
         "            !s.g(Arrays.asList(1, 2), 'x')\n        );\n        if (correct.contains(false)) {\n"
         "            throw new AssertionError();\n        }\n    }\n}\n")
    plan = ins.java_cases(t)
    assert plan.labels == ('s.f(new HashMap<String, Integer>(), "a,b")', "!s.g(Arrays.asList(1, 2), 'x')")
    assert "wbrt.WB.c(1, () -> (!s.g(Arrays.asList(1, 2), 'x')))" in plan.test


def test_cpp_go_rust_cases() -> None:
    cpp = ins.cpp_cases("int main(){\n    assert (f({1,2}, \"assert(\") == 3);\n    // assert(0);\n}\n")
    assert cpp.n == 1 and "__WB_ASSERT(0, f({1,2}, \"assert(\") == 3)" in cpp.test
    assert "return 0;" in ins.cpp_rename_main(cpp.test) and "__wb_main" in ins.cpp_rename_main(cpp.test)
    go = ins.go_cases("func TestF(t *testing.T) {\n    assert := assert.New(t)\n    x := 1\n"
                      "    assert.Equal(1, F(x))\n    for i := 0; i < 3; i++ {\n        assert.True(F(i) >= 0)\n    }\n}\n")
    assert go.n == 2 and "assert.New(__wbT(t))" in go.test and "defer __wbDone()" in go.test
    assert "__wbCase(1, func() { for i := 0; i < 3; i++ {" in go.test and "    x := 1\n" in go.test
    rs = ins.rust_cases("#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {\n        assert_eq!(f(vec![1, 2]), 3, \"m {}\", 1);\n"
                        "        assert!(g(\"assert!(\"));\n    }\n}\n")
    assert rs.n == 2 and "__wb_assert_eq!(0, f(vec![1, 2]), 3, \"m {}\", 1)" in rs.test
    assert "let __wb_done = crate::__wb::Done;" in rs.test


def test_instrumenting_every_humanevalpack_test_finds_its_cases() -> None:
    """Every language's HumanEval-X test layout is separable (a few random-loop tests are one case)."""
    data = shared_data("humanevalpack").parent
    from engine.execute.langs import instrument

    for lang in ("python", "javascript", "java", "go", "cpp", "rust"):
        ps = load_problems(f"humanevalpack:{lang}", data)
        ns = [instrument(lang, assemble(p, p.canonical_solution).test).n for p in ps]
        assert sum(n > 1 for n in ns) >= 150, lang
        assert all(n >= 1 for n in ns) or lang == "java", lang   # Java/32, 38, 50 throw from a loop
