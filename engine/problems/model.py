"""The typed problem record every benchmark schema is read into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import WorkbenchError

LANGUAGES = ("python", "javascript", "java", "go", "cpp", "rust")

# Accepted spellings -> canonical language id.
_ALIASES = {
    "python": "python", "py": "python", "python3": "python",
    "javascript": "javascript", "js": "javascript", "node": "javascript", "nodejs": "javascript",
    "java": "java",
    "go": "go", "golang": "go",
    "cpp": "cpp", "c++": "cpp", "cxx": "cpp",
    "rust": "rust", "rs": "rust",
}

# HumanEvalPack task-id prefixes (`Python/0`, `CPP/3`, ...).
TASK_PREFIX = {"python": "python", "javascript": "javascript", "js": "javascript", "java": "java",
               "go": "go", "cpp": "cpp", "rust": "rust"}

# File / hub-config name per language in HumanEvalPack (humanevalpack/<name>.jsonl).
HEP_FILE = {"python": "python", "javascript": "js", "java": "java", "go": "go", "cpp": "cpp", "rust": "rust"}


def normalize_language(name: str) -> str:
    """Canonical language id for any accepted spelling; WorkbenchError for an unknown one."""
    key = str(name).strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    raise WorkbenchError(f"unknown language {name!r} (known: {', '.join(LANGUAGES)})")


@dataclass(frozen=True)
class Problem:
    """One benchmark problem, whatever schema it came from.

    `prompt` is the code a completion continues (empty when the schema has none); `test` is the
    test code the reference harness appends after the program; `tests` lists separable test
    statements where the schema has them (MBPP `test_list`, the workbench schema's `test_list`),
    run after `test_setup`. `canonical_solution` / `buggy_solution` continue `prompt` when
    `solution_kind` is "completion", and are whole programs when it is "solution".
    """

    task_id: str
    language: str
    suite: str                       # humanevalpack | mbpp | leetcode | workbench
    prompt: str = ""
    entry_point: str = ""
    test: str = ""
    tests: tuple[str, ...] = ()
    test_setup: str = ""
    instruction: str = ""
    declaration: str = ""
    imports: str = ""                # Go: the prompt's import block (HumanEvalPack `import`)
    canonical_solution: str | None = None
    buggy_solution: str | None = None
    solution_kind: str = "completion"
    source: str = ""                 # file (or hub id) it was read from
    line: int | None = None          # 1-based line in that file
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def reference(self, which: str) -> str | None:
        """The set's own solution: which = "canonical" or "buggy"."""
        if which == "canonical":
            return self.canonical_solution
        if which == "buggy":
            return self.buggy_solution
        raise WorkbenchError(f"unknown reference solution {which!r} (canonical or buggy)")
