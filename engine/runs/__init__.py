"""The run-directory contract (docs/run-directory.md). Trainer, screens and CLI all go through here."""

from engine.runs.layout import TERMINAL_STATES, RunDir, RunState, new_run_id
from engine.runs.metrics import MetricsReader, MetricsWriter, TextTail
from engine.runs.registry import RunSummary, create_run, list_runs, open_run, run_summary

__all__ = [
    "RunDir",
    "RunState",
    "TERMINAL_STATES",
    "new_run_id",
    "MetricsReader",
    "MetricsWriter",
    "TextTail",
    "RunSummary",
    "create_run",
    "list_runs",
    "open_run",
    "run_summary",
]
