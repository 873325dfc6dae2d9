"""Language tagging, syntax checks with real parsers, answer-quality checks and full-width
normalisation inside code."""

from __future__ import annotations

import json

import pytest

from engine.data import quality
from engine.data.code import fenced_blocks, normalize_text_code
from engine.data.langs import LANGUAGES, classify, fence_language, record_languages
from engine.data.syntax import syntax_error
from tests.conftest import shared_data

HEP = {"python": "python", "js": "javascript", "java": "java", "go": "go", "cpp": "cpp", "rust": "rust"}


def _hep(lang_file: str) -> list[dict]:
    return [json.loads(x) for x in shared_data("humanevalpack", f"{lang_file}.jsonl").read_text().splitlines()]


def test_language_accuracy_on_humanevalpack_solutions() -> None:
    """The labelled set: each HumanEvalPack canonical solution as a complete function (its
    prompt + canonical_solution), unfenced, in all six languages. Goal: >= 98%."""
    total = right = 0
    for f, lang in HEP.items():
        for r in _hep(f):
            total += 1
            right += classify(r["prompt"] + r["canonical_solution"]) == lang
    assert total == 984
    assert right / total >= 0.98, f"accuracy {right / total:.3f}"


def test_fences_and_other_languages() -> None:
    assert fence_language("py") == "python" and fence_language("C++") == "cpp" and fence_language("golang") == "go"
    assert fence_language("rs {.numberLines}") == "rust" and fence_language("") is None
    assert fence_language("sql") == "other:sql" and fence_language("ts") == "other:ts"
    rounds = [{"role": "human", "content": "Convert this Java to Python:\n```java\nclass A {}\n```"},
              {"role": "bot", "content": "Sure:\n```\ndef f(x):\n    return [y for y in x if y is not None]\n```\n"
                                         "and the query:\n```sql\nSELECT 1;\n```"}]
    assert record_languages(rounds) == (["python", "java"], ["sql"])
    c_code = "#include <stdio.h>\nint main(void) {\n    printf(\"%d\\n\", 1);\n    return 0;\n}\n"
    assert classify(c_code) == "other:c"
    ts = "function add(a: number, b: number): number {\n  return a + b;\n}\nconst xs: string[] = [];\n"
    assert classify(ts) == "other:typescript"
    assert classify("The capital of France is Paris. It is a large city.") is None
    # bare code answers count, prose does not
    bare = [{"role": "human", "content": "Write a Go function"},
            {"role": "bot", "content": "func add(a int, b int) int {\n\treturn a + b\n}\n"}]
    assert record_languages(bare)[0] == ["go"]
    prose = [{"role": "human", "content": "What is 2+2?"}, {"role": "bot", "content": "It is 4."}]
    assert record_languages(prose) == ([], [])


@pytest.mark.parametrize("f", sorted(HEP))
def test_canonical_solutions_parse_and_broken_code_does_not(f: str) -> None:
    lang = HEP[f]
    rows = _hep(f)
    failures = [r["task_id"] for r in rows if syntax_error(lang, r["prompt"] + r["canonical_solution"])]
    # tree-sitter-cpp cannot parse `boost::any_cast<int>(...)` calls (CPP/22, CPP/137): a grammar limit
    assert len(failures) <= (2 if lang == "cpp" else 0), failures
    full = rows[0]["prompt"] + rows[0]["canonical_solution"]
    # cut the last closing brace / mangle a line: must fail
    broken = full.rstrip().rstrip("}") if lang != "python" else full.replace("    for idx", "  for idx", 1)
    assert syntax_error(lang, broken), f"{lang}: a broken program passed"


@pytest.mark.parametrize("lang, good, bad", [
    ("python", ">>> x = [1, 2]\n>>> len(x)\n2", "print 'hello'"),
    ("javascript", "const f = (a) => a * 2;", "function f( { return 1 }"),
    ("java", "public int add(int a, int b) { return a + b; }", "public int add(int a, int b) { return a + b }"),
    ("java", "int x = 1;\nSystem.out.println(x);", "int x = ;"),
    ("go", "x := 1\nfmt.Println(x)", "func f() int { return 1"),
    ("cpp", "std::vector<int> v; v.push_back(1);", "int f(){ return 1 }"),
    ("rust", "let v = vec![1, 2];\nprintln!(\"{:?}\", v);", "fn f() -> i32 { 1 + }"),
])
def test_fragments_pass_and_errors_are_located(lang: str, good: str, bad: str) -> None:
    assert syntax_error(lang, good) is None
    err = syntax_error(lang, bad)
    assert err and err.startswith("line ")


def test_fullwidth_normalised_in_code_only() -> None:
    text = "用法如下：\n```python\nprint（１＋２，\u3000\"ok\"）；\n```\n结果是３。"
    out, n = normalize_text_code(text)
    assert "print(1+2, \"ok\");" in out
    assert out.startswith("用法如下：") and out.endswith("结果是３。")  # prose untouched
    assert n == 8
    assert normalize_text_code("no code here，ok")[1] == 0
    bare, n = normalize_text_code("x＝１", bare_code=True)
    assert bare == "x=1" and n == 2


def test_quality_checks() -> None:
    assert quality.empty_answer(["  \n"]) and quality.empty_answer(["", "x"]) is None
    assert quality.empty_prompt([""]) and quality.empty_prompt(["q"]) is None
    assert "unclosed" in quality.truncated("Here:\n```python\ndef f():\n    return")
    assert quality.truncated("Here is the code:") and quality.truncated("result = compute(a,")
    assert quality.truncated("Done.\n```python\nx = 1\n```") is None and quality.truncated("Use C++::") is None
    for r in ("I'm sorry, but I can't help with that.", "As an AI language model, I cannot write malware.",
              "I cannot assist with that request."):
        assert quality.refusal(r), r
    for ok in ("Sorry for the confusion earlier; here is the fix:\n```python\nx = 1\n```",
               "```python\nprint(\"I'm sorry, I can't do that\")\n```\nThis prints an apology.",
               "The function returns None when the list is empty."):
        assert quality.refusal(ok) is None, ok


def test_fenced_blocks_edge_cases() -> None:
    bl = fenced_blocks("a\n````md\n```py\nx\n```\n````\nb\n~~~rust\nfn f(){}\n~~~\n```go\nunclosed")
    assert [(b.info, b.closed) for b in bl] == [("md", True), ("rust", True), ("go", False)]
    assert bl[0].code == "```py\nx\n```" and bl[1].code == "fn f(){}"
    assert set(LANGUAGES) == {"python", "javascript", "java", "go", "cpp", "rust"}
