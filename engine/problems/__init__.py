"""Benchmark problem sets: HumanEvalPack, MBPP, LeetCodeDataset and the generic workbench schema
(docs/problems.md), read into typed `Problem`s, plus reference program assembly.

    from engine.problems import load_problems, assemble
    problems = load_problems("humanevalpack:go", data_dir="../shared/data")
    program = assemble(problems[0], completion)          # .text is what the harness runs
"""

from engine.problems.assemble import Program, assemble, generation
from engine.problems.model import LANGUAGES, Problem, normalize_language
from engine.problems.schemas import detect_schema, problem_from_row
from engine.problems.sources import BUILTINS, load_file, load_problems, read_rows

__all__ = ["LANGUAGES", "BUILTINS", "Problem", "Program", "assemble", "generation", "normalize_language",
           "detect_schema", "problem_from_row", "load_problems", "load_file", "read_rows"]
