"""MultiPL-E (nuprl/MultiPL-E prompts: `name`, `language`, `prompt`, `tests`, `stop_tokens`, ...)
for the six languages the executor runs, assembled as MultiPL-E's `evaluation/src/main.py` does,
`prompt + completion + "\\n" + tests`, and judged as its `eval_<lang>.py` judges.

The runners were built for HumanEvalPack's layouts, so where MultiPL-E's way of running a program
differs, the harness-owned parts are adapted (never the model's code):

    py, js, cpp  as they are (`python3 f.py`, `node f.js`, `g++ f.cpp && ./a.out`)
    java         MultiPL-E runs `java -ea Problem`: a `Main` class is appended to the tests that
                 turns assertions on for the program's own package, then calls `Problem.main`
                 (assertions off would pass every test); the prompt's `import org.javatuples.*;`
                 is left out when no javatuples class is named (the toolchain has no javatuples)
    go           `go test f_test.go` of a `package <name>_test` file: the package clause becomes
                 `package main`, which the runner builds and whose Test function it runs
    rs           MultiPL-E compiles a binary whose `fn main` holds the asserts: a `#[test]`
                 function that calls `main()` is appended, so the asserts really run
"""

from __future__ import annotations

import re
from typing import Any

from engine.errors import InputError
from engine.problems.assemble import Program
from engine.problems.fields import Where, optional_text, source_of, task_id, text, text_list
from engine.problems.model import Problem

# MultiPL-E's language names (its dataset's `language` field) -> ours
LANGUAGE = {
    "py": "python",
    "python": "python",
    "js": "javascript",
    "javascript": "javascript",
    "java": "java",
    "go_test.go": "go",
    "go": "go",
    "cpp": "cpp",
    "rs": "rust",
    "rust": "rust",
}
# What a test part must hold to run at all (else every sample would "pass" on a test that never ran).
ENTRY = {
    "java": r"public\s+static\s+void\s+main\s*\(\s*String\s*\[\s*\]\s*\w+\s*\)",
    "go": r"\bfunc\s+Test\w*\s*\(",
    "rust": r"\bfn\s+main\s*\(\s*\)",
    "cpp": r"\bint\s+main\s*\(",
}
JAVATUPLES = re.compile(
    r"\b(Unit|Pair|Triplet|Quartet|Quintet|Sextet|Septet|Octet|Ennead|Decade|KeyValue|"
    r"LabelValue)\b"
)

JAVA_MAIN = """
// MultiPL-E runs `java -ea Problem`: assertions on for this program's own classes, then its main.
public class Main {
    public static void main(String[] args) throws Exception {
        String pkg = Main.class.getPackageName();
        Main.class.getClassLoader().setPackageAssertionStatus(pkg.isEmpty() ? null : pkg, true);
        Problem.main(args);
    }
}
"""
RUST_MAIN_TEST = """
// MultiPL-E runs the binary: its asserts are in `fn main`.
#[test]
fn multipl_e_main() {
    main();
}
"""


def read_row(row: dict[str, Any], where: Where) -> Problem:
    tid = task_id(row, "name", where=where)
    raw_lang = text(row, "language", where=where, required=True).strip()
    lang = LANGUAGE.get(raw_lang.lower())
    if lang is None:
        raise InputError(
            f"MultiPL-E language {raw_lang!r} is not one the executor runs (known: {', '.join(sorted(LANGUAGE))})",
            field="language",
            **where,
        )
    prompt = text(row, "prompt", where=where, required=True)
    tests = text(row, "tests", where=where, required=True)
    _check_tests(lang, tests, where)
    return Problem(
        task_id=tid,
        language=lang,
        suite="multiple",
        layout="multipl-e",
        prompt=prompt,
        entry_point=_entry_point(lang, prompt, tests),
        test=tests,
        stop_tokens=text_list(row, "stop_tokens", where=where),
        canonical_solution=optional_text(row, "canonical_solution"),
        buggy_solution=optional_text(row, "buggy_solution"),
        solution_kind="completion",
        raw=row,
        **source_of(where),
    )


def _check_tests(lang: str, tests: str, where: Where) -> None:
    from engine.execute.instrument import mask

    pattern = ENTRY.get(lang)
    if pattern and not re.search(pattern, mask(tests, lang)):
        raise InputError(
            f"MultiPL-E {lang} tests without the entry point its harness runs "
            f"(/{pattern}/): no test of this problem would run",
            field="tests",
            **where,
        )


def _entry_point(lang: str, prompt: str, tests: str) -> str:
    m = re.search(r"\bcandidate\s*(?::=|=)\s*([A-Za-z_]\w*)", tests) or re.search(
        r"^\s*check\(\s*([A-Za-z_]\w*)\s*\)", tests, re.MULTILINE
    )
    if m:
        return m.group(1)
    if lang == "java":
        found = re.findall(r"public\s+static\s+[\w<>\[\], .?]+?\s+(\w+)\s*\(", prompt)
        return found[-1] if found else ""
    return ""


def assemble(problem: Problem, generation: str) -> Program:
    """The program MultiPL-E would run: prompt + completion (`generation`), "\\n", tests."""
    lang, test = problem.language, problem.test
    if lang == "java":
        return Program(lang, _without_unused_javatuples(generation, test), test + "\n" + JAVA_MAIN)
    if lang == "go":
        return Program(lang, _package_main(generation), test)
    if lang == "rust":
        return Program(lang, generation, test + "\n" + RUST_MAIN_TEST)
    return Program(lang, generation, test)


def _without_unused_javatuples(code: str, test: str) -> str:
    from engine.execute.instrument import mask

    if JAVATUPLES.search(mask(code + "\n" + test, "java")):
        return code
    return re.sub(r"^[ \t]*import\s+org\.javatuples\.\*\s*;[ \t]*\n?", "", code, count=1, flags=re.MULTILINE)


def _package_main(code: str) -> str:
    """`package <name>_test` -> `package main` (the name changes nothing a single-file test does)."""
    from engine.execute.instrument import mask

    m = re.search(r"^\s*package\s+(\w+)", mask(code, "go"))
    if not m or m.group(1) == "main":
        return code
    return code[: m.start(1)] + "main" + code[m.end(1) :]
