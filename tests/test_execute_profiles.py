"""Limits profiles (issue 12, item 1), on real sandbox runs: `contest` judges a whole program
under the harness's wall-clock limit per task family with no memory cap but the safety net and
MBPP on test_list alone; `per-case` is this project's own CPU budget per test case and 2 GiB.
Every result, summary and CLI line names the profile; the result cache keeps them apart."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.errors import WorkbenchError
from engine.execute import Limits, Sample, execute
from engine.execute.profiles import CONTEST_WALL_S, get_profile, safety_net_mb
from engine.problems import Problem, problem_from_row
from tests.conftest import run_cli

# Correct, but each call burns 1.2 s of CPU: 3.6 s for three asserts. Under per-case each case
# has 10 s; under contest the MBPP program has 3 s of wall clock in all.
SLOW = (
    "import time\n"
    "def add_one(x):\n"
    "    t = time.process_time()\n"
    "    while time.process_time() - t < 1.2:\n"
    "        pass\n"
    "    return x + 1\n"
)
SLOW_TESTS = ["assert add_one(1) == 2", "assert add_one(2) == 3", "assert add_one(3) == 4"]

# Correct, but it writes 2.5 GiB: over per-case's 2 GiB address space, far under the contest
# profile's safety net (half the machine's memory).
BIG = "def total(n):\n    buf = bytearray(b'\\x01') * (2560 << 20)\n    return buf[-1] + n\n"


def hep(tid: str, code: str, tests: list[str]):
    """A HumanEvalPack-Python-like problem (the contest gives a whole program 10 s)."""
    return problem_from_row(
        {
            "task_id": tid,
            "language": "python",
            "prompt": "",
            "test": "\n".join(tests),
            "canonical_solution": code,
            "solution_kind": "solution",
        }
    )


def mbpp(tid: int, code: str, tests: list[str], setup: str = ""):
    return problem_from_row(
        {"task_id": tid, "text": "a task", "code": code, "test_list": tests, "test_setup_code": setup}
    )


def test_a_slow_correct_program_passes_per_case_and_times_out_under_contest() -> None:
    p = mbpp(901, SLOW, SLOW_TESTS)
    per_case = execute([p], "canonical", limits=get_profile("per-case"), cache=False, workers=1).results[0]
    contest = execute([p], "canonical", limits=get_profile("contest"), cache=False, workers=1).results[0]
    assert (per_case["verdict"], per_case["tests_passed"], per_case["profile"]) == ("passed", 3, "per-case")
    # one run of the whole program, cut off by the 3 s wall clock (the third call at the latest;
    # sooner on a busy machine) and never restarted at a later case
    assert (contest["verdict"], contest["profile"]) == ("timeout", "contest")
    assert contest["tests_passed"] < 3 and contest["tests_total"] == 3
    statuses = [f["status"] for f in contest["failed_tests"]]
    assert statuses[0] == "timeout" and set(statuses[1:]) <= {"not_run"}
    assert 2.9 < contest["duration"] < 8.0


def test_a_program_using_more_than_2_gib_passes_under_contest_and_is_oom_per_case() -> None:
    if safety_net_mb() < 4096:
        pytest.skip("this machine's safety net is under 4 GiB")
    p = hep("Python/902", BIG, ["assert total(1) == 2"])  # (writing 2.5 GiB takes seconds here)
    per_case = execute([p], "canonical", limits=get_profile("per-case"), cache=False, workers=1).results[0]
    contest = execute([p], "canonical", limits=get_profile("contest"), cache=False, workers=1).results[0]
    assert per_case["verdict"] == "oom"
    assert contest["verdict"] == "passed", contest["detail"]


def test_the_safety_net_stops_a_runaway_program_as_oom() -> None:
    # the same watch that lets 2.5 GiB through stops what passes the (here lowered) safety net
    p = hep("Python/903", BIG, ["assert total(1) == 2"])
    low = Limits(profile="contest", whole_program=True, timeout=10.0, memory_mb=512, mbpp_setup=False)
    r = execute([p], "canonical", limits=low, cache=False, workers=1).results[0]
    assert r["verdict"] == "oom" and "memory limit exceeded" in r["detail"]


def test_contest_judges_mbpp_on_test_list_alone() -> None:
    # a test_setup_code that would break the program (MBPP/367's kind of case)
    p = mbpp(904, "def f(x):\n    return x * 2\n", ["assert f(2) == 4"], setup="def f(x):\n    return None\n")
    per_case = execute([p], "canonical", limits=get_profile("per-case"), cache=False, workers=1).results[0]
    contest = execute([p], "canonical", limits=get_profile("contest"), cache=False, workers=1).results[0]
    assert per_case["verdict"] == "failed" and "return None" in per_case["program"]
    assert contest["verdict"] == "passed" and "return None" not in contest["program"]


def test_each_family_gets_its_own_wall_limit_in_one_run(tmp_path: Path) -> None:
    # the same program, 3.9 s of wall clock (sleeping: the same on a busy machine): over MBPP's
    # 3 s, under HumanEvalPack Python's 10 s
    sleepy = "import time\ndef add_one(x):\n    time.sleep(1.3)\n    return x + 1\n"
    p = mbpp(905, sleepy, SLOW_TESTS)
    rep = execute(
        [p, hep("Python/900", sleepy, SLOW_TESTS)],
        "canonical",
        limits=get_profile("contest"),
        cache=False,
        workers=2,
        out_dir=tmp_path,
    )
    verdicts = {r["task_id"]: r["verdict"] for r in rep.results}
    assert verdicts == {"905": "timeout", "Python/900": "passed"}
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["profile"] == "contest" and s["profiles"] == {"contest": 2}
    walls = {tuple(lim["applies_to"]): lim["timeout"] for lim in s["limits"]}
    assert walls == {("mbpp",): CONTEST_WALL_S["mbpp"], ("python",): CONTEST_WALL_S["python"]}
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {x["profile"] for x in lines} == {"contest"}


def test_a_cached_per_case_verdict_is_not_served_under_contest(tmp_path: Path) -> None:
    assert Limits().signature() != get_profile("contest")(mbpp(1, "", ["assert 1"])).signature()
    p = mbpp(906, SLOW, SLOW_TESTS)
    first = execute([p], "canonical", limits=get_profile("per-case"), cache=tmp_path, workers=1).results[0]
    again = execute([p], "canonical", limits=get_profile("per-case"), cache=tmp_path, workers=1).results[0]
    contest = execute([p], "canonical", limits=get_profile("contest"), cache=tmp_path, workers=1).results[0]
    assert first["verdict"] == "passed"
    if not again["cached"]:
        pytest.skip("no bubblewrap here: verdicts are not cached")
    assert contest["cached"] is False and contest["verdict"] == "timeout"


def test_contest_refuses_per_case_flags() -> None:
    with pytest.raises(WorkbenchError, match="--timeout: the contest profile's limits are the harness's"):
        get_profile("contest", timeout=5.0)
    with pytest.raises(WorkbenchError, match="unknown limits profile 'fast'"):
        get_profile("fast")
    assert get_profile("per-case", timeout=4.0, memory_mb=512)(mbpp(1, "", ["assert 1"])).memory_mb == 512


def test_cli_exec_names_the_profile_and_defaults_to_per_case(tmp_path: Path) -> None:
    probs = tmp_path / "p.jsonl"
    probs.write_text(
        json.dumps({"task_id": 907, "text": "t", "code": SLOW, "test_list": SLOW_TESTS, "test_setup_code": ""}) + "\n"
    )
    r = run_cli("eval", "exec", "-p", str(probs), "-s", "canonical", "-o", str(tmp_path / "a"), "--no-cache")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].endswith("| profile per-case")
    r = run_cli(
        "eval",
        "exec",
        "-p",
        str(probs),
        "-s",
        "canonical",
        "-o",
        str(tmp_path / "b"),
        "--no-cache",
        "--profile",
        "contest",
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip().splitlines()
    assert out[-1].startswith("pass@1 0.0000") and out[-1].endswith("| profile contest")
    assert any(x.startswith("limits contest: 3 s wall clock per whole program") for x in out)
    r = run_cli(
        "eval",
        "exec",
        "-p",
        str(probs),
        "-s",
        "canonical",
        "-o",
        str(tmp_path / "c"),
        "--profile",
        "contest",
        "--timeout",
        "5",
    )
    assert r.returncode != 0 and "contest profile's limits are the harness's" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_validation_judges_contest_tasks_under_contest_and_custom_sets_per_case(tmp_path: Path) -> None:
    from engine.validate import run_validation
    from engine.validate.generate import GenSettings
    from engine.validate.run import judging_profiles
    from engine.validate.tasks import taskset_from_problems
    from tests.validate_support import ReplayBackend

    # the same slow, correct program as the task `mbpp` (a contest task) and as a custom set
    ts = taskset_from_problems({"mbpp": [mbpp(908, SLOW, SLOW_TESTS)], "mine": [mbpp(909, SLOW, SLOW_TESTS)]})
    assert {k: v.name for k, v in judging_profiles(ts).items()} == {"mbpp": "contest", "mine": "per-case"}
    assert {v.name for v in judging_profiles(ts, "per-case").values()} == {"per-case"}
    answer = "```python\n" + SLOW + "```\n"
    res = run_validation(
        loaded=ReplayBackend(lambda _prompt: answer),
        tasks=ts,
        fmt="contest",
        out=tmp_path / "v",
        settings=GenSettings(max_new_tokens=16),
        compare_modes=False,
        ground_truth=False,
        exec_cache=False,
    )
    s = res.summary
    assert {r["task"]: (r["verdict"], r["profile"]) for r in res.records} == {
        "mbpp": ("timeout", "contest"),
        "mine": ("passed", "per-case"),
    }
    assert s["profile"] == "mixed"
    assert (s["tasks"]["mbpp"]["profile"], s["tasks"]["mine"]["profile"]) == ("contest", "per-case")
    # the contest score (a subset: one of 13 tasks) names the profile its tasks were judged under
    assert s["contest"]["profile"] == "contest" and "judged under the contest limits profile" in s["contest"]["label"]
    stored = json.loads((tmp_path / "v" / "summary.json").read_text())
    assert stored["profile"] == "mixed" and {x["profile"] for x in stored["limits"]} == {"contest", "per-case"}
    lines = [json.loads(x) for x in (tmp_path / "v" / "results.jsonl").read_text().splitlines()]
    assert sorted(x["profile"] for x in lines) == ["contest", "per-case"]


def test_a_program_whose_files_do_not_fit_its_scratch_space_gets_a_located_verdict() -> None:
    from engine.execute.sandbox import detect

    if detect().mode != "bwrap":
        pytest.skip("the scratch cap needs bubblewrap")
    # a 6 MiB program (its staged main.py) into 4 MiB of scratch: the program's verdict, no traceback
    big = "def f(x):\n    return x + 1\n" + ("# " + "x" * 1000 + "\n") * 6000
    p = hep("Python/910", big, ["assert f(1) == 2"])
    r = execute([p], "canonical", limits=Limits(timeout=5.0, scratch_mb=4), cache=False, workers=1).results[0]
    assert r["verdict"] == "runtime_error", r
    assert "do not fit its scratch space" in r["detail"] and "Traceback" not in r["detail"]


@pytest.mark.parametrize("profile", ["per-case", "contest"])
def test_go_tests_without_testify_statements_are_judged_whole(profile: str) -> None:
    # (no separable cases: the program is one case; its exit decides, under either profile)
    row = {
        "task_id": "Go/911",
        "prompt": "\nfunc F(x int) int {\n",
        "declaration": "",
        "entry_point": "F",
        "test_setup": 'package main\n\nimport (\n    "testing"\n)\n',
        "test": "func TestF(t *testing.T) {\n    if F(1) != 2 {\n        t.Fatal(\"F(1)\")\n    }\n}\n",
    }
    p = problem_from_row(row)
    rep = execute(
        [p],
        [Sample("Go/911", "    return x + 1\n}\n", index=0), Sample("Go/911", "    return x\n}\n", index=1)],
        limits=get_profile(profile),
        cache=False,
        workers=1,
    )
    assert [(r["verdict"], r["tests_passed"], r["tests_total"]) for r in rep.results] == [
        ("passed", 1, 1),
        ("failed", 0, 1),
    ], [r["detail"] for r in rep.results]


# -- small follow-ups of issue 12 ------------------------------------------------------------------


def _sum_product() -> tuple[Problem, str, str]:
    """MultiPL-E's HumanEval_8 in Java: its header imports org.javatuples and the answer is a Pair."""
    src = json.loads((Path(__file__).parent / "fixtures/problems/multipl-e/humaneval-java.json").read_text())[0]
    head = src["prompt"].split("class Problem")[0]  # MultiPL-E's Java header: import org.javatuples.*;
    row = {
        **src,
        "name": "HumanEval_8_sumProduct",
        "prompt": head + "class Problem {\n    public static Pair<Long, Long> sumProduct(ArrayList<Long> numbers) {\n",
        "tests": "    }\n    public static void main(String[] args) {\n    assert(sumProduct((new ArrayList<Long>("
        "Arrays.asList((long)1l, (long)2l)))).equals((Pair.with(3l, 2l))));\n    }\n\n}\n",
    }
    body = "        for (long x : numbers) { s += x; q *= x; }\n        return Pair.with(s, q);\n"
    right, wrong = "        long s = 0, q = 1;\n" + body, "        long s = 0, q = 0;\n" + body
    return problem_from_row(row), right, wrong


def test_multipl_e_java_runs_with_javatuples_on_the_class_path() -> None:
    from engine.execute.langs.java import JAVATUPLES_JAR

    if not os.path.isfile(JAVATUPLES_JAR):
        pytest.skip("javatuples is not installed (scripts/system-deps.sh installs libjavatuples-java)")
    p, right, wrong = _sum_product()
    rep = execute([p], [Sample(p.task_id, right), Sample(p.task_id, wrong, index=1)], cache=False, workers=1)
    assert [r["verdict"] for r in rep.results] == ["passed", "failed"], [r["detail"] for r in rep.results]


def test_multipl_e_java_without_javatuples_is_an_infra_error_naming_the_jar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.execute.langs.java.JAVATUPLES_JAR", "/nonexistent/javatuples.jar")
    p, right, _ = _sum_product()
    r = execute([p], [Sample(p.task_id, right)], cache=False, workers=1).results[0]
    assert r["verdict"] == "infra_error"
    assert r["detail"].startswith("MultiPL-E Java needs javatuples on the class path")
    assert "libjavatuples-java" in r["detail"]


def test_the_doctor_says_whether_lld_is_there() -> None:
    import shutil

    from engine.execute.doctor import linker_report

    lk = linker_report()
    assert lk["system"] == shutil.which("ld.lld") and lk["found"] == bool(lk["system"] or lk["rust_toolchain"])
    r = run_cli("eval", "doctor", "--language", "python", timeout=300)
    line = next(x for x in r.stdout.splitlines() if x.startswith("linker"))
    assert line.startswith("linker   ok   ld.lld" if lk["found"] else "linker   MISSING ld.lld")
    assert ("C++ links with" in line) == lk["found"]


def test_ground_truth_under_contest_lists_mbpp_367_apart() -> None:
    from engine.validate.groundtruth import check_ground_truth
    from engine.validate.run import judging_profiles
    from engine.validate.tasks import taskset_from_problems
    from tests.conftest import shared_data

    rows = [json.loads(x) for x in shared_data("mbpp", "mbpp.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["task_id"] == 367)
    ts = taskset_from_problems({"mbpp": [problem_from_row(row)]})
    (contest,) = check_ground_truth(ts, limits=judging_profiles(ts), cache=False)
    (per_case,) = check_ground_truth(ts, limits=judging_profiles(ts, "per-case"), cache=False)
    assert contest.ok and [f.task_id for f in contest.known] == ["367"] and contest.known[0].verdict == "runtime_error"
    assert per_case.ok and not per_case.known
