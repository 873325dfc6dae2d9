"""Sandboxed execution of model code in six languages: verdicts, per-test-case pass rates,
pass@k, result files, a result cache and resume (docs/executor.md).

    from engine.problems import load_problems
    from engine.execute import execute
    report = execute(load_problems("humanevalpack:python", data_dir=...), "canonical", out_dir="out")
    report.summary["pass@k"]["pass@1"], report.results[0]["verdict"]
"""

from engine.execute.api import ExecReport, execute, program_key
from engine.execute.core import Limits
from engine.execute.passk import execution_summary, pass_at_k
from engine.execute.samples import Sample, read_samples, reference_samples, resolve_samples
from engine.execute.verdicts import VERDICTS

__all__ = [
    "execute",
    "ExecReport",
    "Limits",
    "Sample",
    "VERDICTS",
    "pass_at_k",
    "execution_summary",
    "read_samples",
    "reference_samples",
    "resolve_samples",
    "program_key",
]
