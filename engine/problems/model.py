"""The typed problem record every benchmark layout is read into (docs/problems.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import WorkbenchError

LANGUAGES = ("python", "javascript", "java", "go", "cpp", "rust")

# Accepted spellings -> canonical language id.
_ALIASES = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "javascript": "javascript",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "java": "java",
    "go": "go",
    "golang": "go",
    "cpp": "cpp",
    "c++": "cpp",
    "cxx": "cpp",
    "rust": "rust",
    "rs": "rust",
}

# HumanEvalPack task-id prefixes (`Python/0`, `CPP/3`, ...).
TASK_PREFIX = {
    "python": "python",
    "javascript": "javascript",
    "js": "javascript",
    "java": "java",
    "go": "go",
    "cpp": "cpp",
    "rust": "rust",
}

# File / hub-config name per language in HumanEvalPack (humanevalpack/<name>.jsonl).
HEP_FILE = {"python": "python", "javascript": "js", "java": "java", "go": "go", "cpp": "cpp", "rust": "rust"}


def normalize_language(name: str) -> str:
    """Canonical language id for any accepted spelling; WorkbenchError for an unknown one."""
    key = str(name).strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    raise WorkbenchError(f"unknown language {name!r} (known: {', '.join(LANGUAGES)})")


# How a sample of a problem is judged.
JUDGE_PROGRAM = "program"  # the sample plus the set's test code, run as one program (asserts, check())
JUDGE_STDIO = "stdio"  # the sample reads each case's stdin; its stdout is compared with the expected one
JUDGE_CALL = "call"  # a named function (or `Solution` method) is called on each case's arguments
JUDGES = (JUDGE_PROGRAM, JUDGE_STDIO, JUDGE_CALL)


@dataclass(frozen=True)
class IOCase:
    """One input/output test case of a stdin/stdout or call-based problem.

    stdio: `input` is the whole standard input, `output` the expected standard output (compared
    under the problem's `compare` rule, engine.problems.judges). call: `input` holds the
    arguments, one JSON value per line, `output` the expected return value as JSON (LiveCodeBench's
    own encoding; APPS call cases are converted to it)."""

    input: str
    output: str
    visibility: str = "public"  # public | private | generated (where the set says)


@dataclass(frozen=True)
class Reference:
    """A reference solution of a stdin/stdout set, in its own language (a whole program)."""

    language: str  # a LANGUAGES id, or the set's own name when it is none (python2)
    code: str
    correct: bool = True


@dataclass(frozen=True)
class PlusInputs:
    """evalplus test inputs. Expected outputs are not in the file: they are computed from the
    canonical solution in the sandbox (engine.problems.oracle) and cached by the file's content."""

    dataset: str  # humaneval | mbpp | "" : which of evalplus's special oracles apply
    base: tuple[Any, ...]  # argument lists, deserialized as evalplus does
    plus: tuple[Any, ...]
    atol: float = 0.0
    base_only: bool = False  # judge the base inputs alone (evalplus --base-only)
    group: Any = field(default=None, compare=False, repr=False)  # oracle.OracleGroup: the file's outputs


@dataclass(frozen=True)
class Problem:
    """One benchmark problem, whatever layout it came from.

    `prompt` is the code a completion continues (empty when the layout has none); `test` is the
    test code the reference harness appends after the program; `tests` lists separable test
    statements where the layout has them (MBPP `test_list`, the workbench schema's `test_list`),
    run after `test_setup`. `canonical_solution` / `buggy_solution` continue `prompt` when
    `solution_kind` is "completion", and are whole programs when it is "solution".

    `judge` says how a sample is judged: "program" problems run `assemble()`'s program;
    "stdio" and "call" problems are judged case by case on `io_cases` (engine.execute.iocases:
    one sandboxed run per case), with `compare` naming the output rule and `time_limit` the
    seconds per case.
    A stdio problem's `language` is its set's (that of its reference solutions), but the judge is
    language-neutral: a sample may be in any of LANGUAGES.
    """

    task_id: str
    language: str
    suite: str  # humanevalpack | humaneval | evalplus | multiple | mbpp | leetcode | workbench | stdio
    prompt: str = ""
    entry_point: str = ""
    test: str = ""
    tests: tuple[str, ...] = ()
    test_setup: str = ""
    instruction: str = ""
    declaration: str = ""
    imports: str = ""  # Go: the prompt's import block (HumanEvalPack `import`)
    canonical_solution: str | None = None
    buggy_solution: str | None = None
    solution_kind: str = "completion"
    source: str = ""  # file (or hub id) it was read from
    line: int | None = None  # 1-based line in that file
    layout: str = ""  # the file layout it was read in (docs/problems.md)
    judge: str = JUDGE_PROGRAM
    io_cases: tuple[IOCase, ...] = ()
    compare: str = ""  # stdio/call output rule (engine.problems.judges)
    time_limit: float | None = None  # seconds per test case, where the set or its harness gives one
    memory_limit_mb: int | None = None
    fn_name: str = ""  # call judge: the function or `Solution` method called
    references: tuple[Reference, ...] = ()
    stop_tokens: tuple[str, ...] = ()
    plus: PlusInputs | None = field(default=None, compare=False, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def reference(self, which: str) -> str | None:
        """The set's own solution: which = "canonical" or "buggy"."""
        if which == "canonical":
            return self.canonical_solution
        if which == "buggy":
            return self.buggy_solution
        raise WorkbenchError(f"unknown reference solution {which!r} (canonical or buggy)")
