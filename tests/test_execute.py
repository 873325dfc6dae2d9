"""The executor on small crafted problems: verdicts, exact test-case fractions in every language,
pass@k, result files, resume, the result cache, deduplication, infra errors and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.execute import Limits, Sample, execute, pass_at_k, execution_summary
from engine.problems import Problem, problem_from_row
from tests.conftest import run_cli

FAST = Limits(timeout=2.0, max_timeouts=1)


def py_problem(tid: str, tests: list[str], setup: str = "") -> Problem:
    return problem_from_row({"task_id": tid, "language": "python", "test_setup": setup, "test_list": tests})


# -- pass@k and summaries ---------------------------------------------------------------------

def test_pass_at_k_matches_the_combinatorial_definition() -> None:
    for n in range(1, 12):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1.0 - (math.comb(n - c, k) / math.comb(n, k))
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)
    assert pass_at_k(200, 1, 1) == pytest.approx(0.005)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_summary_scores_every_k_up_to_n_and_counts_infra_errors_as_failures() -> None:
    rs = [{"task_id": "a", "language": "python", "verdict": v, "tests_passed": p, "tests_total": 4}
          for v, p in (("passed", 4), ("failed", 2))]
    rs += [{"task_id": "b", "language": "go", "verdict": "passed", "tests_passed": 1, "tests_total": 1}] * 2
    rs += [{"task_id": "b", "language": "go", "verdict": "infra_error", "tests_passed": 0, "tests_total": 1}]
    s = execution_summary(rs)
    # b: 2 of 3 samples pass (the infra error is a failure, as the contest counted it)
    assert s["pass@k"] == {"pass@1": pytest.approx((0.5 + 2 / 3) / 2), "pass@2": pytest.approx(1.0)}
    assert s["test_pass_rate"] == pytest.approx((0.75 + 2 / 3) / 2)
    assert s["verdicts"]["infra_error"] == 1 and s["tasks"]["b"]["n"] == 3 and s["infra_errors"] == 1
    assert s["languages"]["go"]["pass@k"]["pass@1"] == pytest.approx(2 / 3)


# -- verdicts (Python and JavaScript: no compiler, fast) ------------------------------------------

VERDICT_CASES = [
    ("def f(x):\n    return x + 1\n", "passed", 2),
    ("def f(x):\n    return x\n", "failed", 0),
    ("def f(x):\n    return x + 1 if x == 1 else None\n", "failed", 1),
    ("def f(x):\n    return [][x]\n", "runtime_error", 0),
    ("def f(x):\n    while True:\n        pass\n", "timeout", 0),
    ("def f(x)\n    return x\n", "compile_error", 0),
    ("def f(x):\n    return len(bytearray(8 * 2**30))\n", "oom", 0),
    ("import sys\ndef f(x):\n    while True:\n        sys.stdout.write('x' * 65536)\n", "output_limit", 0),
    ("import os\ndef f(x):\n    os._exit(0)\n", "runtime_error", 0),
]


@pytest.fixture(scope="module")
def verdict_report():
    probs = [py_problem(f"v{i}", ["assert f(1) == 2", "assert f(2) == 3"]) for i in range(len(VERDICT_CASES))]
    samples = [Sample(f"v{i}", code, "solution") for i, (code, _, _) in enumerate(VERDICT_CASES)]
    return execute(probs, samples, workers=2, limits=FAST, cache=False)


@pytest.mark.parametrize("i", range(len(VERDICT_CASES)))
def test_python_verdicts(verdict_report, i: int) -> None:
    r = verdict_report.results[i]
    code, verdict, npass = VERDICT_CASES[i]
    assert (r["verdict"], r["tests_passed"], r["tests_total"]) == (verdict, npass, 2), r["detail"]


def test_javascript_console_assert_failures_fail_and_count() -> None:
    """Judged by exit code, `console.assert` never fails (the reference's JavaScript bug)."""
    row = {"task_id": "JavaScript/0", "prompt": "const f = (x) => {\n", "declaration": "", "entry_point": "f",
           "test": "const t = () => {\n  console.assert(f(1) === 2)\n  console.assert(f(2) === 3)\n"
                   "  console.assert(f(3) === 4)\n}\nt()\n"}
    p = problem_from_row(row)
    samples = [Sample(p.task_id, "  return x + 1\n}\n", index=0), Sample(p.task_id, "  return x === 2 ? 0 : x + 1\n}\n", index=1),
               Sample(p.task_id, "  return x\n}\n", index=2), Sample(p.task_id, "  return x.y.z\n}\n", index=3),
               Sample(p.task_id, "  return x +\n}\n", index=4), Sample(p.task_id, "  while (true) {}\n}\n", index=5),
               # needs real Node (promises): runs in its own process, judged the same way
               Sample(p.task_id, "  Promise.resolve(1); return x === 1 ? 2 : 0\n}\n", index=6)]
    rep = execute([p], samples, workers=2, limits=FAST, cache=False)
    got = [(r["verdict"], r["tests_passed"]) for r in rep.results]
    assert got == [("passed", 3), ("failed", 2), ("failed", 0), ("runtime_error", 0), ("compile_error", 0),
                   ("timeout", 0), ("failed", 1)]
    assert rep.summary["pass@k"]["pass@1"] == pytest.approx(1 / 7)


# -- exact fractions in all six languages ---------------------------------------------------------

PARTIAL = {  # language: (problem row, a solution right on exactly 2 of its 3 test cases)
    "python": ({"task_id": "Python/900", "prompt": "def f(x):\n", "declaration": "def f(x):\n", "entry_point": "f",
                "test": "def check(f):\n    assert f(1) == 2\n    assert f(2) == 3\n    assert f(3) == 4\n\ncheck(f)\n"},
               "    return x + 1 if x < 3 else 0\n"),
    "javascript": ({"task_id": "JavaScript/900", "prompt": "const f = (x) => {\n", "declaration": "", "entry_point": "f",
                    "test": "const t = () => {\n  console.assert(f(1) === 2)\n  console.assert(f(2) === 3)\n"
                            "  console.assert(f(3) === 4)\n}\nt()\n"},
                   "  if (x == 3) throw new Error('boom');\n  return x + 1\n}\n"),
    "java": ({"task_id": "Java/900", "prompt": "import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n"
              "    public int f(int x) {\n", "declaration": "", "entry_point": "f",
              "test": "public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n"
                      "        List<Boolean> correct = Arrays.asList(\n                s.f(1) == 2,\n"
                      "                s.f(2) == 3,\n                s.f(3) == 4\n        );\n"
                      "        if (correct.contains(false)) {\n            throw new AssertionError();\n        }\n    }\n}\n"},
             "        if (x == 2) { while (true) { } }\n        return x + 1;\n    }\n}"),
    "cpp": ({"task_id": "CPP/900", "prompt": "#include<stdio.h>\nusing namespace std;\nint f(int x){\n", "declaration": "",
             "entry_point": "f", "test": "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (f(1) == 2);\n"
                                         "    assert (f(2) == 3);\n    assert (f(3) == 4);\n}\n"},
            "    if (x == 2) { int* p = 0; return *p; }\n    return x + 1;\n}\n"),
    "go": ({"task_id": "Go/900", "prompt": "\nfunc F(x int) int {\n", "declaration": "", "entry_point": "F",
            "test_setup": 'package main\n\nimport (\n    "testing"\n    "github.com/stretchr/testify/assert"\n)\n',
            "test": "func TestF(t *testing.T) {\n    assert := assert.New(t)\n    assert.Equal(2, F(1))\n"
                    "    assert.Equal(3, F(2))\n    assert.Equal(4, F(3))\n}\n"},
           "    if x == 1 {\n        var m map[int]int\n        m[0] = 1\n    }\n    return x + 1\n}\n"),
    "rust": ({"task_id": "Rust/900", "prompt": "fn main(){}\nfn f(x: i32) -> i32 {\n", "declaration": "\nfn f(x: i32) -> i32 {\n",
              "entry_point": "f", "test": "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn test_f() {\n"
                                          "        assert_eq!(f(1), 2);\n        assert_eq!(f(2), 3);\n        assert!(f(3) == 4);\n    }\n}\n"},
             "    if x == 3 { let v: Vec<i32> = vec![]; return v[5]; }\n    x + 1\n}\n"),
}


# per compiled language: a correct solution and one that does not compile, batched with the
# partly-right one above
RIGHT_AND_BROKEN = {
    "java": ("        return x + 1;\n    }\n}", "        return x + ;\n    }\n}"),
    "cpp": ("    return x + 1;\n}\n", "    return x + ;\n}\n"),
    "go": ("    return x + 1\n}\n", "    y := 2\n    return x + 1\n}\n"),       # declared and not used
    "rust": ("    x + 1\n}\n", "    x + \"1\"\n}\n"),                          # type error
}


@pytest.fixture(scope="module")
def partial_report():
    probs = [problem_from_row(row) for row, _ in PARTIAL.values()]
    samples = [Sample(p.task_id, code) for p, (_, code) in zip(probs, PARTIAL.values())]
    for p in probs:
        if p.language in RIGHT_AND_BROKEN:
            right, broken = RIGHT_AND_BROKEN[p.language]
            samples += [Sample(p.task_id, broken, index=1), Sample(p.task_id, right, index=2)]
    return execute(probs, samples, workers=2, limits=Limits(timeout=2.0, max_timeouts=0), cache=False)


def test_a_program_that_does_not_compile_fails_only_itself(partial_report) -> None:
    """A batch that does not build is rebuilt without the program the compiler blames."""
    for lang in RIGHT_AND_BROKEN:
        rs = sorted((r for r in partial_report.results if r["language"] == lang), key=lambda r: r["sample"])
        assert [r["verdict"] for r in rs[1:]] == ["compile_error", "passed"], (lang, rs[1]["detail"])
        assert rs[2]["tests_passed"] == rs[2]["tests_total"] == 3
        assert rs[1]["detail"], lang                      # the compiler's message is kept


def test_partly_right_solutions_get_the_exact_fraction_in_every_language(partial_report) -> None:
    """A failing, crashing or hanging case does not stop the other cases of the sample."""
    got = {r["language"]: (r["tests_passed"], r["tests_total"], r["verdict"]) for r in partial_report.results
           if r["sample"] == 0}
    assert got == {"python": (2, 3, "failed"), "javascript": (2, 3, "runtime_error"), "java": (2, 3, "timeout"),
                   "cpp": (2, 3, "runtime_error"), "go": (2, 3, "runtime_error"), "rust": (2, 3, "runtime_error")}
    java = next(r for r in partial_report.results if r["language"] == "java")
    assert [f["case"] for f in java["failed_tests"]] == [1] and java["failed_tests"][0]["test"] == "s.f(2) == 3"


# -- files, resume, cache, dedupe ------------------------------------------------------------------

def test_result_files_resume_and_cache(tmp_path: Path) -> None:
    probs = [py_problem(f"t{i}", [f"assert f({i}) == {i + 1}"]) for i in range(3)]
    samples = [Sample(f"t{i}", "def f(x):\n    return x + 1\n", "solution") for i in range(3)] + \
        [Sample("t0", "def f(x):\n    return x + 1\n", "solution", index=1)]      # a duplicate program
    out = tmp_path / "out"
    rep = execute(probs, samples, out_dir=out, workers=2, limits=FAST, cache=tmp_path / "cache")
    assert rep.summary["programs_run"] == 3 and len(rep.results) == 4          # identical program: once
    lines = (out / "results.jsonl").read_text().splitlines()
    assert [json.loads(x)["task_id"] for x in lines] == ["t0", "t0", "t1", "t2"]
    rec = json.loads(lines[0])
    assert {"task_id", "language", "sample", "verdict", "tests_passed", "tests_total", "duration", "detail",
            "program"} <= set(rec) and "def f(x)" in rec["program"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass@k"] == {"pass@1": 1.0} and summary["languages"]["python"]["verdicts"]["passed"] == 4

    # interrupted: one whole line and half of the next survive; the rest is run again
    (out / "results.jsonl").write_text(lines[0] + "\n" + lines[1][:40])
    rep2 = execute(probs, samples, out_dir=out, workers=2, limits=FAST, cache=False)
    assert rep2.summary["resumed"] == 1 and rep2.summary["programs_run"] == 3
    assert len((out / "results.jsonl").read_text().splitlines()) == 4

    # the result cache: a new output folder, nothing executed
    rep3 = execute(probs, samples, out_dir=tmp_path / "out3", workers=2, limits=FAST, cache=tmp_path / "cache")
    assert rep3.summary["cache_hits"] == 3 and all(r["cached"] for r in rep3.results)
    # other limits are another key
    rep4 = execute(probs, samples[:1], workers=1, limits=Limits(timeout=3.0), cache=tmp_path / "cache")
    assert rep4.summary["cache_hits"] == 0


def test_samples_file_errors_are_located(tmp_path: Path) -> None:
    probs = [py_problem("t0", ["assert True"])]
    f = tmp_path / "s.jsonl"
    f.write_text('{"task_id": "t0", "completion": "x = 1"}\n{"task_id": "nope", "completion": ""}\n')
    with pytest.raises(InputError) as e:
        execute(probs, str(f), cache=False)
    assert (e.value.line, e.value.field) == (2, "task_id")
    f.write_text('{"task_id": "t0", "completion": "a", "solution": "b"}\n')
    with pytest.raises(InputError, match="not both"):
        execute(probs, str(f), cache=False)
    f.write_text('{"task_id": "t0"}\n')
    with pytest.raises(InputError, match="needs 'completion'"):
        execute(probs, str(f), cache=False)


@pytest.mark.parametrize("lang,missing", [("go", "go (golang-go)"), ("javascript", "node")])
def test_a_missing_toolchain_is_an_infra_error_counted_as_a_failure(monkeypatch: pytest.MonkeyPatch, lang: str,
                                                             missing: str) -> None:
    from engine.execute import toolchains

    real = toolchains.probe
    broken = toolchains.Tool(lang, {}, "", (missing,))
    monkeypatch.setattr(toolchains, "probe", lambda lg: broken if lg == lang else real(lg))
    p = problem_from_row({**PARTIAL[lang][0]})
    rep = execute([p], [Sample(p.task_id, PARTIAL[lang][1])], cache=False)
    r = rep.results[0]
    assert r["verdict"] == "infra_error" and f"toolchain incomplete: missing {missing}" in r["detail"]
    assert rep.summary["pass@k"] == {"pass@1": 0.0} and rep.summary["infra_errors"] == 1


# -- CLI -------------------------------------------------------------------------------------------

def test_cli_exec_writes_results_and_ends_with_a_one_line_summary(tmp_path: Path) -> None:
    probs = tmp_path / "p.jsonl"
    probs.write_text(json.dumps({"task_id": "a", "language": "python", "test_list": ["assert f(1) == 2", "assert f(2) == 5"]})
                     + "\n")
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "a", "solution": "def f(x):\n    return x + 1\n"}) + "\n")
    out = tmp_path / "o"
    r = run_cli("eval", "exec", "--problems", str(probs), "--samples", str(samples), "--out", str(out),
                "--timeout", "3", "--no-cache")
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("pass@1 0.0000 | tests 0.5000 | failed 1 | 1 samples"), last
    assert json.loads((out / "results.jsonl").read_text())["tests_passed"] == 1
    r = run_cli("eval", "exec", "-p", str(probs), "-s", str(samples), "-o", str(out), "--timeout", "3", "--json")
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    assert doc["test_pass_rate"] == 0.5 and doc["resumed"] == 1
    r = run_cli("eval", "exec", "-p", str(probs), "-s", str(tmp_path / "missing.jsonl"), "-o", str(out))
    assert r.returncode == 1 and "missing.jsonl" in r.stderr and "Traceback" not in r.stderr
    # --limit / --language narrow the problems; a samples file for the whole set still applies
    with probs.open("a") as f:
        f.write(json.dumps({"task_id": "b", "language": "python", "test_list": ["assert f(1) == 2"]}) + "\n")
    with samples.open("a") as f:
        f.write(json.dumps({"task_id": "b", "solution": "def f(x):\n    return x + 1\n"}) + "\n")
    r = run_cli("eval", "exec", "-p", str(probs), "-s", str(samples), "-o", str(tmp_path / "o2"), "--limit", "1",
                "--language", "python", "--timeout", "3", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["task_id"] for x in (tmp_path / "o2" / "results.jsonl").read_text().splitlines()] == ["a"]
    r = run_cli("eval", "exec", "-p", str(probs), "-s", str(samples), "-o", str(tmp_path / "o3"), "-l", "go")
    assert r.returncode == 1 and "no problems" in r.stderr and "Traceback" not in r.stderr


def test_cli_doctor_runs_the_builtin_self_tests() -> None:
    r = run_cli("eval", "doctor", "--language", "python", "--language", "javascript", "--json", timeout=300)
    rep = json.loads(r.stdout)
    assert r.returncode == (0 if rep["ok"] else 1)
    assert rep["sandbox"]["mode"] in ("bwrap", "unshare", "none") and "description" in rep["sandbox"]
    py = rep["languages"]["python"]
    assert (py["canonical_passed"], py["canonical_total"], py["buggy_passed"]) == (2, 2, 0)
    assert rep["languages"]["javascript"]["buggy_passed"] == 0


@pytest.mark.parametrize("mode", ["unshare", "none"])
def test_weaker_sandboxes_still_judge_the_same(mode: str) -> None:
    """Without bubblewrap the executor falls back (unshare as root, else rlimits only) and the
    verdicts do not change; the summary says which sandbox was used."""
    from engine.execute.sandbox import detect

    info = detect(mode)
    if info.mode != mode:
        pytest.skip(f"{mode} is not available here ({info.mode})")
    probs = [py_problem("a", ["assert f(1) == 2", "assert f(2) == 5"])]
    samples = [Sample("a", "def f(x):\n    return x + 1\n", "solution", index=0),
               Sample("a", "def f(x):\n    while True:\n        pass\n", "solution", index=1)]
    rep = execute(probs, samples, workers=2, limits=FAST, cache=False, sandbox=mode)
    assert [(r["verdict"], r["tests_passed"]) for r in rep.results] == [("failed", 1), ("timeout", 0)]
    assert rep.summary["sandbox"].startswith(mode)
