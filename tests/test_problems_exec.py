"""Peer problem files through the executor: each layout's canonical solutions pass under
`eval exec --samples canonical`, its buggy samples fail, evalplus's expected outputs come from the
sandbox (cached, transferable in parts). (stdin/stdout sets: tests/test_execute_stdio.py)"""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.execute import execute
from engine.problems import load_problems, oracle, prepare
from engine.problems.oracle import OracleGroup
from tests.conftest import run_cli

FIX = Path(__file__).parent / "fixtures" / "problems"


def exec_cli(tmp_path: Path, problems: str, samples: str, *extra: str) -> tuple[dict[tuple[str, int], dict], str]:
    out = tmp_path / f"out-{abs(hash((problems, samples, extra)))}"
    r = run_cli("eval", "exec", "-p", str(FIX / problems), "-s", samples if samples in ("canonical", "buggy")
                else str(FIX / samples), "-o", str(out), "--timeout", "5", "--fresh", *extra, timeout=300)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    return {(x["task_id"], x["sample"]): x for x in recs}, r.stdout.strip().splitlines()[-1]


def verdicts(recs: dict[tuple[str, int], dict]) -> dict[tuple[str, int], str]:
    return {k: v["verdict"] for k, v in recs.items()}


# -- human-eval, MBPP ---------------------------------------------------------------------------

def test_human_eval_canonical_solutions_pass_and_buggy_ones_fail(tmp_path: Path) -> None:
    recs, last = exec_cli(tmp_path, "HumanEval.jsonl.gz", "canonical")
    assert last.startswith("pass@1 1.0000 | tests 1.0000 | passed 3")
    assert [recs[(f"HumanEval/{i}", 0)]["tests_total"] for i in range(3)] == [4, 3, 3]    # check()'s asserts
    recs, _ = exec_cli(tmp_path, "HumanEval.jsonl.gz", "HumanEval.buggy.jsonl")
    assert set(verdicts(recs).values()) == {"failed"}
    assert recs[("HumanEval/0", 0)]["tests_passed"] == 3       # case-sensitive vowels: only AEIOU fails


@pytest.mark.parametrize("problems, buggy", [("sanitized-mbpp.json", "sanitized-mbpp.buggy.jsonl"),
                                             ("mbppplus-hub.jsonl", None)])
def test_mbpp_sanitized_and_hub_mbpp_plus_self_tests(tmp_path: Path, problems: str, buggy: str | None) -> None:
    recs, last = exec_cli(tmp_path, problems, "canonical")
    assert set(verdicts(recs).values()) == {"passed"} and last.startswith("pass@1 1.0000")
    if buggy:
        recs, _ = exec_cli(tmp_path, problems, buggy)
        assert set(verdicts(recs).values()) == {"failed"}


# -- evalplus -----------------------------------------------------------------------------------

@pytest.mark.parametrize("problems, samples, n_cases", [
    ("HumanEvalPlus.jsonl.gz", "HumanEvalPlus.samples.jsonl", {"HumanEval/0": 7, "HumanEval/2": 7, "HumanEval/32": 5}),
    ("MbppPlus.jsonl", "MbppPlus.samples.jsonl", {"Mbpp/2": 7, "Mbpp/3": 9, "Mbpp/787": 7}),
])
def test_evalplus_base_and_plus_inputs_are_separate_cases_judged_as_evalplus(
        tmp_path: Path, problems: str, samples: str, n_cases: dict[str, int]) -> None:
    recs, last = exec_cli(tmp_path, problems, "canonical")
    assert last.startswith("pass@1 1.0000 | tests 1.0000")
    assert {t: recs[(t, 0)]["tests_total"] for t in n_cases} == n_cases
    recs, _ = exec_cli(tmp_path, problems, samples)
    # sample 0 is right by evalplus's rules (tolerance, another root, set order, bool for a match);
    # sample 1 is wrong on plus inputs only
    assert {k: v for k, v in verdicts(recs).items() if k[1] == 0} == {(t, 0): "passed" for t in n_cases}
    assert {k: v for k, v in verdicts(recs).items() if k[1] == 1} == {(t, 1): "failed" for t in n_cases}
    fail = recs[(next(iter(n_cases)), 1)]["failed_tests"][0]
    assert fail["test"].startswith("assert _ep_case(") and ("plus" in fail["detail"] or "base" in fail["detail"])
    base, _ = exec_cli(tmp_path, problems, samples, "--base-only")
    plus_only_wrong = [t for t in n_cases if recs[(t, 1)]["failed_tests"][0]["detail"].startswith(
        "AssertionError: plus")]
    assert plus_only_wrong and all(base[(t, 1)]["verdict"] == "passed" for t in plus_only_wrong)


def test_expected_outputs_come_from_the_sandbox_once_and_are_cached_by_file_content(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    row = json.loads(_first_line(FIX / "MbppPlus.jsonl"))
    # a canonical solution with a side effect: run in this process, it would leave a mark here
    row["canonical_solution"] = "\nimport builtins\nbuiltins.WB_LEAK = 1\n" + row["canonical_solution"]
    f = tmp_path / "MbppPlus.jsonl"
    f.write_text(json.dumps(row) + "\n")
    cache = tmp_path / "cache.json"
    monkeypatch.setattr(OracleGroup, "_cache_path", lambda self: cache)
    rounds = _count_rounds(monkeypatch)
    problems = load_problems(str(f))
    prepare(problems)
    assert rounds == [1] and not hasattr(builtins, "WB_LEAK") and cache.is_file()
    again = load_problems(str(f))
    prepare(again)
    assert rounds == [1]                                   # read back, nothing run
    rep = execute(again, "canonical", cache=False)
    assert rep.results[0]["verdict"] == "passed" and rounds == [1]
    f.write_text(json.dumps({**row, "plus_input": row["plus_input"][:2]}) + "\n")     # new content, new key
    rep = execute(load_problems(str(f)), "canonical", cache=False)       # computed on demand, as validation does
    assert rounds == [1, 1] and rep.results[0]["verdict"] == "passed" and rep.results[0]["tests_total"] == 5


def test_large_expected_outputs_travel_in_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs larger than what one program may report come back block by block, and a single
    output too large for one report in parts (sets serialized alike in every run)."""
    monkeypatch.setattr(oracle, "BUDGET", 160)
    monkeypatch.setattr(OracleGroup, "_cache_path", lambda self: tmp_path / "cache.json")
    row = {"task_id": "HumanEval/900", "prompt": "def spread(n):\n", "entry_point": "spread",
           "canonical_solution": "    return [n * i for i in range(n)], {f'w{i}' for i in range(n // 4)}\n",
           "base_input": [[3], [5]], "plus_input": [[k] for k in (40, 1, 300, 2, 7, 250)], "atol": 0}
    f = tmp_path / "plus.jsonl"
    f.write_text(json.dumps(row) + "\n")
    problems = load_problems(str(f))
    rounds = _count_rounds(monkeypatch)
    prepare(problems)
    group = problems[0].plus.group if problems[0].plus else None
    assert len(rounds) >= 2 and group is not None and len(group.expected(problems[0])) > 3
    good = {"task_id": "HumanEval/900", "completion": "    return [i * n for i in range(n)], set(f'w{i}' for i in range(n // 4))\n"}
    bad = {"task_id": "HumanEval/900", "completion": "    return [n * i for i in range(min(n, 100))], {f'w{i}' for i in range(n // 4)}\n"}
    rep = execute(problems, [good, bad], cache=False)
    assert [r["verdict"] for r in rep.results] == ["passed", "failed"]
    assert rep.results[1]["tests_passed"] == 6              # the inputs 300 and 250 fail


def test_a_canonical_solution_that_fails_on_its_inputs_is_a_located_error(tmp_path: Path) -> None:
    row = json.loads(_first_line(FIX / "MbppPlus.jsonl"))
    row["plus_input"] = row["plus_input"] + [[[[1], [2]], [[1]]]]        # unhashable: set() raises
    f = tmp_path / "MbppPlus.jsonl"
    f.write_text("\n" + json.dumps(row) + "\n")
    r = run_cli("eval", "exec", "-p", str(f), "-s", "canonical", "-o", str(tmp_path / "o"), timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{f}:2, field 'canonical_solution': Mbpp/2: the canonical solution fails on its own inputs" in r.stderr
    with pytest.raises(InputError):
        prepare(load_problems(str(f)))


# -- MultiPL-E ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["py.jsonl", "js.jsonl", "java.json", "go.jsonl", "cpp.jsonl", "rs.json"])
def test_multipl_e_completions_run_as_multipl_e_runs_them(name: str) -> None:
    """Sample 0 of each problem is right, sample 1 wrong: a wrong one passing would mean its tests
    never ran (Java without assertions, a Rust `fn main` nobody calls, a Go file with no test)."""
    problems = load_problems(str(FIX / "multipl-e" / f"humaneval-{name}"))
    samples = FIX / "multipl-e" / f"humaneval-{name.split('.')[0]}.completions.jsonl"
    rep = execute(problems, str(samples), cache=False)
    got = {(r["task_id"], r["sample"]): r["verdict"] for r in rep.results}
    assert {k: v for k, v in got.items() if k[1] == 0} == {(p.task_id, 0): "passed" for p in problems}, rep.results
    assert all(v != "passed" for k, v in got.items() if k[1] == 1), rep.results
    assert {k: v for k, v in got.items() if k[1] == 1} == {(p.task_id, 1): "failed" for p in problems}
    if name == "rs.json":
        assert [r["tests_total"] for r in rep.results if r["sample"] == 0] == [3, 2]    # main's asserts, one by one


def _count_rounds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Programs per round of expected-output computation, as they run."""
    rounds: list[int] = []
    real = oracle._run_round

    def counted(jobs: list[oracle.Job], by_id: dict) -> list:
        rounds.append(len(jobs))
        return real(jobs, by_id)

    monkeypatch.setattr(oracle, "_run_round", counted)
    return rounds


def _first_line(path: Path) -> str:
    return next(x for x in path.read_text().splitlines() if x.strip())
