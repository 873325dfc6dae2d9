"""Stdin/stdout and call-based problems through the executor (engine/execute/iocases.py): small
problems in the CodeContests, APPS and LiveCodeBench layouts, a right and a wrong program in each
of the six languages, all in one executor call so that the compilers' cost is shared. A case is a
process of its own: exact per-case fractions, a hang on one input costs that case only, the
judges' whitespace rules, call-based Python, the sandbox, and a result cache keyed by the cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.errors import InputError
from engine.execute import execute
from engine.execute.iocases import java_main
from engine.execute.samples import resolve_samples
from engine.execute.sandbox import detect
from engine.problems import load_problems
from tests.conftest import run_cli

FIX = Path(__file__).parent / "fixtures" / "problems"

# Sum of n integers; the third case overflows 32 bits, which every wrong program truncates to.
CASES = [("3\n1 2 3\n", "6\n"), ("1\n-5\n", "-5\n"), ("2\n2000000000 2000000000\n", "4000000000\n")]
RIGHT = {
    "python": "import sys\nd = sys.stdin.read().split()\nprint(sum(map(int, d[1:1 + int(d[0])])))\n",
    "cpp": "#include <bits/stdc++.h>\nusing namespace std;\nint main() { int n; cin >> n; long long s = 0, x;\n"
    "  for (int i = 0; i < n; i++) { cin >> x; s += x; }\n  auto [a, b] = make_pair(s, 0);\n"
    "  cout << a + b << endl; }\n",
    "java": "import java.util.*;\n\npublic class Sum {\n  public static void main(String[] a) {\n"
    "    Scanner sc = new Scanner(System.in); int n = sc.nextInt(); long s = 0;\n"
    "    for (int i = 0; i < n; i++) s += sc.nextLong();\n    System.out.println(s);\n  }\n}\n",
    "go": "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tvar n int\n\tfmt.Scan(&n)\n\tvar s int64\n"
    "\tfor i := 0; i < n; i++ {\n\t\tvar x int64\n\t\tfmt.Scan(&x)\n\t\ts += x\n\t}\n\tfmt.Println(s)\n}\n",
    "rust": "use std::io::Read;\nfn main() {\n    let mut t = String::new();\n"
    "    std::io::stdin().read_to_string(&mut t).unwrap();\n"
    "    let v: Vec<i64> = t.split_whitespace().map(|x| x.parse().unwrap()).collect();\n"
    "    let s: i64 = v[1..=v[0] as usize].iter().sum();\n    println!(\"{}\", s);\n}\n",
    "javascript": "const t = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
    "let s = 0;\nfor (let i = 1; i <= t[0]; i++) s += t[i];\nconsole.log(String(s));\n",
}
# the same programs printing the sum as a 32-bit integer: right on 2 of the 3 cases
WRONG = {
    "python": RIGHT["python"].replace(
        "print(sum(map(int, d[1:1 + int(d[0])])))",
        "s = sum(map(int, d[1:1 + int(d[0])]))\nprint(s if s < 2**31 else s - 2**32)",
    ),
    "cpp": RIGHT["cpp"].replace("cout << a + b", "cout << (int) (a + b)"),
    # (no public class: the class declaring main is run)
    "java": RIGHT["java"].replace("public class Sum", "class Solution").replace("println(s)", "println((int) s)"),
    "go": RIGHT["go"].replace("fmt.Println(s)", "fmt.Println(int32(s))"),
    "rust": RIGHT["rust"].replace("println!(\"{}\", s)", "println!(\"{}\", s as i32)"),
    "javascript": RIGHT["javascript"].replace("String(s)", "String(s | 0)"),
}
LANGS = tuple(RIGHT)


def _cc_row(name: str, cases: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    """deepmind/code_contests: public / private / generated tests, solutions by language id."""
    split = [cases[:1], cases[1:2], cases[2:]]
    row = {
        "name": name,
        "description": "Print the sum of the n numbers.",
        "time_limit": {"seconds": 1, "nanos": 0},
        "memory_limit_bytes": 256 << 20,
        "solutions": {"language": [3, 2], "solution": [RIGHT["python"], RIGHT["cpp"]]},
        "incorrect_solutions": {"language": [2], "solution": [WRONG["cpp"]]},
    }
    for key, part in zip(("public_tests", "private_tests", "generated_tests"), split):
        row[key] = {"input": [i for i, _ in part], "output": [o for _, o in part]}
    return {**row, **extra}


def _write(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("stdio")
    cc = _write(
        d / "cc.jsonl",
        [
            _cc_row("1_A. Sum", CASES),
            _cc_row("2_A. Peek", [("\n", "nothing\n")] * 3),
        ],
    )
    apps = _write(
        d / "apps.jsonl",
        [
            {
                "problem_id": 10,
                "question": "Sum.",
                "solutions": json.dumps([RIGHT["python"]]),
                "starter_code": "",
                "input_output": json.dumps({"inputs": [i for i, _ in CASES], "outputs": [o for _, o in CASES]}),
            },
            {
                "problem_id": 11,
                "question": "Count distinct values.",
                "starter_code": "def count_distinct(xs):\n",
                "solutions": json.dumps(["def count_distinct(xs):\n    return len(set(xs))\n"]),
                "input_output": json.dumps(
                    {
                        "fn_name": "count_distinct",
                        "inputs": [[[1, 2, 2]], [[]], [[5, 5, 5, 1]]],
                        "outputs": [[2], [0], [2]],
                    }
                ),
            },
        ],
    )
    lcb = _write(
        d / "lcb.jsonl",
        [
            {
                "question_title": "Double",
                "question_content": "Print 2N.",
                "platform": "atcoder",
                "question_id": "abc1_a",
                "starter_code": "",
                "metadata": "{}",
                "public_test_cases": json.dumps([{"input": "3\n", "output": "6\n", "testtype": "stdin"}]),
                "private_test_cases": json.dumps(
                    [
                        {"input": "0\n", "output": "0\n", "testtype": "stdin"},
                        {"input": "-21\n", "output": "-42\n", "testtype": "stdin"},
                    ]
                ),
            },
            {
                "question_title": "Max pair",
                "question_content": "Largest sum of two elements.",
                "platform": "leetcode",
                "question_id": "9001",
                "starter_code": "class Solution:\n    def maxPairSum(self, nums):\n        ",
                "metadata": json.dumps({"func_name": "maxPairSum"}),
                "public_test_cases": json.dumps([{"input": "[1, 5, 3]", "output": "8", "testtype": "functional"}]),
                "private_test_cases": json.dumps(
                    [
                        {"input": "[2, 2]", "output": "4", "testtype": "functional"},
                        {"input": "[-1, -2, -3]", "output": "-3", "testtype": "functional"},
                    ]
                ),
            },
        ],
    )
    problems = load_problems(cc) + load_problems(apps) + load_problems(lcb)
    hidden = (cc, __file__, str(FIX / "apps.jsonl"))  # its problem file, the checkout
    peek = (
        f"import os\nseen = [p for p in {hidden!r} if os.path.exists(p)]\n"
        "print('seen', *seen) if seen else print('nothing')\n"
    )
    samples: list[dict[str, Any]] = []

    def add(name: str, task: str, code: str, lang: str = "python") -> None:
        samples.append({"task_id": task, "solution": code, "language": lang, "name": name})

    for lang in LANGS:
        add(f"right/{lang}", "1_A. Sum", RIGHT[lang], lang)
        add(f"wrong/{lang}", "1_A. Sum", WRONG[lang], lang)
    add("hang", "1_A. Sum", RIGHT["python"].replace("print(", "while int(d[0]) == 1:\n    pass\nprint("))
    add("spaces", "1_A. Sum", RIGHT["python"].replace("print(sum", "print('\\n  ', sum").replace(")))", ")), '  \\n')"))
    add("syntax/python", "1_A. Sum", "print(1 +\n")
    add("syntax/cpp", "1_A. Sum", "int main() { return x; }\n", "cpp")
    add("crash", "1_A. Sum", "raise ValueError('no')\n")
    # Java: one javac for the batch; a program that does not compile is taken out of it, one
    # with a package of its own builds alone
    add(
        "syntax/java",
        "1_A. Sum",
        "public class Main { public static void main(String[] a) { int x = \"s\"; } }\n",
        "java",
    )
    add("java/package", "1_A. Sum", "package contest;\n" + RIGHT["java"], "java")
    add("syntax/go", "1_A. Sum", "package main\n\nfunc main() { x := 1 }\n", "go")  # (one go build for the batch)
    add("peek", "2_A. Peek", peek)
    add("apps/right", "10", RIGHT["python"])
    add("apps/spaces", "10", RIGHT["python"].replace("print(sum", "print(' ', sum").replace(")))", ")), ' ')"))
    add("apps/call-right", "11", "def count_distinct(xs):\n    return len(set(xs))\n")
    add("apps/call-wrong", "11", "def count_distinct(xs):\n    return len(xs)\n")
    add("lcb/right", "abc1_a", "print(2 * int(input()))\n")
    add("lcb/spaces", "abc1_a", "print('  ', 2 * int(input()), '  ')\nprint()\nprint()\n")
    add("lcb/lines", "abc1_a", "n = int(input())\nprint(n)\nprint(n)\n")
    add(
        "lcb/call-right",
        "9001",
        "class Solution:\n    def maxPairSum(self, nums):\n        s = sorted(nums)\n        return s[-1] + s[-2]\n",
    )
    add("lcb/call-wrong", "9001", "class Solution:\n    def maxPairSum(self, nums):\n        return 2 * max(nums)\n")
    add("lcb/call-raises", "9001", "class Solution:\n    def maxPairSum(self, nums):\n        return nums[7]\n")
    # the harnesses' own Python headers: LiveCodeBench's `from typing import *`, APPS's numpy as np
    add(
        "lcb/call-typing",
        "9001",
        "class Solution:\n    def maxPairSum(self, nums: List[int]) -> int:\n        return sum(nlargest(2, nums))\n",
    )
    add("apps/numpy", "10", "d = sys.stdin.read().split()\nprint(int(np.array(d[1:], dtype=np.int64).sum()))\n")
    add("cc/no-header", "1_A. Sum", "d = sys.stdin.read().split()\nprint(sum(map(int, d[1:])))\n")
    names = [s.pop("name") for s in samples]
    rep = execute(problems, samples, cache=False)
    by_index: dict[tuple[str, int], dict[str, Any]] = {(r["task_id"], r["sample"]): r for r in rep.results}
    counts: dict[str, int] = {}
    out = {}
    for name, s in zip(names, samples):
        i = counts.get(s["task_id"], 0)
        counts[s["task_id"]] = i + 1
        out[name] = by_index[(s["task_id"], i)]
    return {"results": out, "cc": cc, "apps": apps, "dir": d}


def _got(r: dict[str, Any]) -> tuple[str, int, int]:
    return r["verdict"], r["tests_passed"], r["tests_total"]


def test_right_programs_pass_every_case_in_all_six_languages(sets: dict[str, Any]) -> None:
    res = sets["results"]
    assert {lang: _got(res[f"right/{lang}"]) for lang in LANGS} == {lang: ("passed", 3, 3) for lang in LANGS}
    assert {res[f"right/{lang}"]["language"] for lang in LANGS} == set(LANGS)  # the sample's language


def test_wrong_programs_fail_with_the_exact_fraction_of_cases_they_get_right(sets: dict[str, Any]) -> None:
    res = sets["results"]
    assert {lang: _got(res[f"wrong/{lang}"]) for lang in LANGS} == {lang: ("failed", 2, 3) for lang in LANGS}
    (case,) = res["wrong/cpp"]["failed_tests"]
    assert (case["case"], case["test"], case["status"]) == (2, "generated 0", "failed")
    assert (case["input"], case["expected"], case["got"].strip()) == (CASES[2][0], CASES[2][1], "-294967296")
    assert res["wrong/cpp"]["detail"].startswith("generated 0: wrong answer")


def test_a_hang_on_one_input_times_out_that_case_alone(sets: dict[str, Any]) -> None:
    r = sets["results"]["hang"]
    assert _got(r) == ("timeout", 2, 3)
    assert [(f["case"], f["status"]) for f in r["failed_tests"]] == [(1, "timeout")]


def test_each_judge_normalises_whitespace_its_own_way(sets: dict[str, Any]) -> None:
    res = sets["results"]
    assert _got(res["spaces"]) == ("passed", 3, 3)  # codecontests: tokens
    assert _got(res["apps/spaces"]) == ("passed", 3, 3)  # apps: stripped lines
    assert _got(res["lcb/spaces"]) == ("passed", 3, 3)  # lcb: stripped output, stripped lines
    assert _got(res["lcb/lines"]) == ("failed", 0, 3)  # (two lines where one is expected: every case)


def test_programs_that_do_not_build_or_crash_are_told_apart(sets: dict[str, Any]) -> None:
    res = sets["results"]
    assert _got(res["syntax/python"]) == ("compile_error", 0, 3)
    assert _got(res["syntax/cpp"]) == ("compile_error", 0, 3) and "error" in res["syntax/cpp"]["detail"]
    assert _got(res["crash"]) == ("runtime_error", 0, 3) and "ValueError: no" in res["crash"]["detail"]
    r = res["syntax/java"]
    assert _got(r) == ("compile_error", 0, 3) and "Main.java:1: error: incompatible types" in r["detail"]
    assert _got(res["java/package"]) == ("passed", 3, 3)
    r = res["syntax/go"]
    assert _got(r) == ("compile_error", 0, 3) and "./main.go:3:15: x declared" in r["detail"]


def test_call_based_problems_call_the_function_or_the_solution_method(sets: dict[str, Any]) -> None:
    res = sets["results"]
    assert _got(res["apps/call-right"]) == ("passed", 3, 3)  # top-level fn, APPS's list-wrapped outputs
    assert _got(res["apps/call-wrong"]) == ("failed", 1, 3)
    assert _got(res["lcb/call-right"]) == ("passed", 3, 3)  # Solution().maxPairSum
    assert _got(res["lcb/call-wrong"]) == ("failed", 1, 3)
    assert res["lcb/call-wrong"]["failed_tests"][0]["detail"] == "got 10, expected 8"
    r = res["lcb/call-raises"]
    assert _got(r) == ("runtime_error", 0, 3) and "IndexError" in r["failed_tests"][0]["detail"]


def test_python_samples_get_the_harness_header_of_their_set(sets: dict[str, Any]) -> None:
    res = sets["results"]
    assert _got(res["lcb/call-typing"]) == ("passed", 3, 3)  # List, nlargest: LiveCodeBench's imports
    assert _got(res["apps/numpy"]) == ("passed", 3, 3)  # sys, np: APPS's header
    r = res["cc/no-header"]  # CodeContests runs programs as written
    assert _got(r) == ("runtime_error", 0, 3) and "NameError" in r["detail"]


def test_a_program_sees_no_file_outside_its_folder(sets: dict[str, Any]) -> None:
    if detect().mode != "bwrap":
        pytest.skip("the file-system allowlist needs bubblewrap")
    assert _got(sets["results"]["peek"]) == ("passed", 3, 3), sets["results"]["peek"]["failed_tests"]


def test_the_result_cache_is_keyed_by_the_cases(tmp_path: Path) -> None:
    """The same program against the same problem with one expected output changed is judged
    again, not served the first verdict."""
    rows = [_cc_row("3_A. Sum", CASES)]
    first = execute(load_problems(_write(tmp_path / "a.jsonl", rows)), "canonical", cache=tmp_path / "c").results[0]
    changed = [_cc_row("3_A. Sum", CASES[:2] + [(CASES[2][0], "-294967296\n")])]
    again = execute(load_problems(_write(tmp_path / "b.jsonl", changed)), "canonical", cache=tmp_path / "c").results[0]
    same = execute(load_problems(_write(tmp_path / "a.jsonl", rows)), "canonical", cache=tmp_path / "c").results[0]
    assert (_got(first), _got(again), _got(same)) == (("passed", 3, 3), ("failed", 2, 3), ("passed", 3, 3))
    assert (first["cached"], again["cached"], same["cached"]) == (False, False, True)


def test_eval_exec_self_tests_the_sets_own_solutions(tmp_path: Path) -> None:
    """`--samples canonical` passes and `buggy` fails on the checked-in CodeContests and APPS
    fixtures (CodeContests' wrong solution is Python; the shared fixture sets' own rows)."""
    for name, which, verdicts in (
        ("codecontests.jsonl", "canonical", {"passed"}),
        ("codecontests.jsonl", "buggy", {"failed"}),
        ("apps.jsonl", "canonical", {"passed"}),
    ):
        out = tmp_path / f"{name}-{which}"
        r = run_cli("eval", "exec", "-p", str(FIX / name), "-s", which, "-o", str(out), "--no-cache", timeout=300)
        assert r.returncode == 0, r.stderr
        recs = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
        assert {x["verdict"] for x in recs} == verdicts, recs


def test_a_sample_language_the_judge_cannot_run_is_a_located_error(sets: dict[str, Any]) -> None:
    problems = load_problems(sets["apps"])
    with pytest.raises(InputError, match="call-based .*Python samples only, not javascript") as e:
        resolve_samples(
            [
                {"task_id": "10", "solution": "x", "language": "cpp"},
                {"task_id": "11", "solution": "x", "language": "js"},
            ],
            problems,
        )
    assert (e.value.line, e.value.field) == (2, "language")
    with pytest.raises(InputError, match="unknown language 'cobol'"):
        resolve_samples([{"task_id": "10", "solution": "x", "language": "cobol"}], problems)


def test_java_runs_the_class_that_declares_main() -> None:
    assert java_main(RIGHT["java"]) == ("Sum", "Sum")
    assert java_main(WRONG["java"]) == ("Solution", "Solution")
    nested = (
        "package a.b;\npublic class Main {\n  static class Reader { void main() {} }\n"
        "  public static void main(String[] x) {}\n}\n"
    )
    assert java_main(nested) == ("Main", "a.b.Main")
    assert java_main(
        "class A { }\nclass B { public static void main(String[] a) { String s = \"class C {\"; } }\n"
    ) == ("B", "B")
