"""Benchmark problem sets in the layouts peers publish them (docs/problems.md): HumanEvalPack,
human-eval, evalplus, MultiPL-E, MBPP (full, sanitized, MBPP+), LeetCodeDataset, APPS,
CodeContests, LiveCodeBench and the generic workbench schema, read into typed `Problem`s, plus
reference program assembly.

    from engine.problems import load_problems, assemble
    problems = load_problems("humanevalpack:go", data_dir="../shared/data")
    program = assemble(problems[0], completion)          # .text is what the harness runs
"""

from engine.problems.assemble import Program, assemble, generation, stdio_unsupported
from engine.problems.evalplus import base_only
from engine.problems.model import JUDGES, LANGUAGES, IOCase, Problem, Reference, normalize_language
from engine.problems.oracle import prepare
from engine.problems.schemas import KNOWN_LAYOUTS, detect_schema, problem_from_row
from engine.problems.sources import BUILTINS, load_file, load_problems, read_rows

__all__ = [
    "BUILTINS",
    "JUDGES",
    "KNOWN_LAYOUTS",
    "LANGUAGES",
    "IOCase",
    "Problem",
    "Program",
    "Reference",
    "assemble",
    "base_only",
    "detect_schema",
    "generation",
    "load_file",
    "load_problems",
    "normalize_language",
    "prepare",
    "problem_from_row",
    "read_rows",
    "stdio_unsupported",
]
