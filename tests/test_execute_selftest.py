"""The self-test on the real benchmarks (../shared/data): every canonical HumanEvalPack solution
passes in all six languages, every buggy one fails (JavaScript included: the reference harness
passes 153 of 164 of them), MBPP's reference code and LeetCodeDataset v0.2.0's completions
pass. Each language's batch runs once per session; the tests assert on the shared results."""

from __future__ import annotations

import pytest

from engine.execute import Limits, execute
from engine.problems import load_problems
from tests.conftest import shared_data

LANGS = ("python", "javascript", "java", "go", "cpp", "rust")

# Canonical HumanEvalPack solutions that cannot pass in any harness (upstream data bugs):
UPSTREAM_BROKEN = {
    # The prompt imports "strings"; the canonical solution never uses it, and Go rejects an
    # unused import at compile time (bigcode's assembly keeps the prompt's import block).
    "Go/27": "compile_error",
}
# Passes or fails by chance in every harness: the canonical solution `break`s out of a `range`
# over a map after the second key, so the verdict depends on Go's randomised iteration order.
UPSTREAM_FLAKY = {"Go/95"}


@pytest.fixture(scope="session")
def benchmarks():
    data = shared_data("humanevalpack").parent
    hep = load_problems("humanevalpack", data)
    mbpp = load_problems("mbpp", data)
    leet = load_problems("leetcode:v0.2.0", data)
    canonical = execute(hep + mbpp + leet, "canonical", limits=Limits(timeout=10.0), cache=False)
    # buggy solutions loop forever now and then: short budgets, one timeout ends a sample
    buggy = execute(hep, "buggy", limits=Limits(timeout=3.0, max_timeouts=1), cache=False)
    return {"canonical": canonical, "buggy": buggy}


@pytest.mark.parametrize("lang", LANGS)
def test_canonical_humanevalpack_passes(benchmarks, lang: str) -> None:
    rs = [r for r in benchmarks["canonical"].results if r["language"] == lang and "/" in r["task_id"]]
    assert len(rs) == 164
    bad = {r["task_id"]: r["verdict"] for r in rs
           if r["verdict"] != "passed" and r["task_id"] not in UPSTREAM_FLAKY}
    expected = {k: v for k, v in UPSTREAM_BROKEN.items() if k.split("/")[0].lower() == lang}
    assert bad == expected, {t: next(r["detail"][:300] for r in rs if r["task_id"] == t) for t in bad}
    # every separable test case of a passing solution passed
    assert all(r["tests_passed"] == r["tests_total"] for r in rs if r["verdict"] == "passed")


@pytest.mark.parametrize("lang", LANGS)
def test_buggy_humanevalpack_fails(benchmarks, lang: str) -> None:
    rs = [r for r in benchmarks["buggy"].results if r["language"] == lang]
    assert len(rs) == 164
    assert [r["task_id"] for r in rs if r["verdict"] == "passed"] == []
    assert not [r for r in rs if r["verdict"] == "infra_error"]
    # most buggy solutions are wrong on some cases only: the pass rate sits strictly between 0 and 1
    rate = sum(r["tests_passed"] / r["tests_total"] for r in rs) / len(rs)
    assert 0.05 < rate < 0.9


def test_mbpp_reference_code_passes(benchmarks) -> None:
    rs = [r for r in benchmarks["canonical"].results if r["task_id"].isdigit()]
    assert len(rs) == 500
    assert {r["task_id"]: r["verdict"] for r in rs if r["verdict"] != "passed"} == {}
    assert sum(r["tests_total"] for r in rs) == 1500   # three asserts each, counted separately


def test_leetcode_completions_pass(benchmarks) -> None:
    rs = [r for r in benchmarks["canonical"].results if "/" not in r["task_id"] and not r["task_id"].isdigit()]
    assert len(rs) == 200
    assert {r["task_id"]: r["detail"][:200] for r in rs if r["verdict"] != "passed"} == {}


def test_summary_counts(benchmarks) -> None:
    s = benchmarks["buggy"].summary
    assert s["pass@k"] == {"pass@1": 0.0}
    assert sum(s["verdicts"].values()) == 984 and s["verdicts"]["infra_error"] == 0
    c = benchmarks["canonical"].summary
    assert c["languages"]["python"]["pass@k"]["pass@1"] == 1.0
