"""The warnings a processed dataset's report carries (`report.json` "warnings"), in plain words:
what the pipeline could not do that a user would otherwise take for done. Today that is
decontamination: skipped (no benchmark text could be read), partial (some benchmarks asked for
were not checked) or turned off. `data process`, `data stats` and the Datasets screen show them.
"""

from __future__ import annotations

from typing import Any

from engine.data.benchmarks import HUMANEVAL_LANGS

SKIPPED_HELP = (
    "rows that overlap the benchmarks are kept. Set [benchmarks] data_dir in workspace.toml to a "
    "folder with humanevalpack/<lang>.jsonl, mbpp/mbpp.jsonl and leetcode/*.jsonl.gz, or put the "
    "hub's copies in the [hub] mirror folder"
)


def decontamination_warnings(decon: dict[str, Any]) -> list[str]:
    """Warnings for the report's "decontamination" part (empty when every benchmark was checked)."""
    if decon.get("skipped") == "disabled":
        return ["decontamination was turned off for this run: rows that overlap the benchmarks are kept"]
    if decon.get("skipped"):
        return [f"decontamination skipped: {decon['skipped']}; {SKIPPED_HELP}"]
    by_reason: dict[str, list[str]] = {}
    for part, why in (decon.get("missing") or {}).items():
        by_reason.setdefault(why, []).append(part)
    return [f"decontamination did not check {_part_names(ps)}: {why}" for why, ps in by_reason.items()]


def report_warnings(report: dict[str, Any]) -> list[str]:
    """A report's warnings; a report written before they were recorded gets them derived."""
    if isinstance(report.get("warnings"), list):
        return [str(w) for w in report["warnings"]]
    return decontamination_warnings(report.get("decontamination") or {})


def _part_names(parts: list[str]) -> str:
    """Benchmark parts, with all six HumanEvalPack languages said as one name."""
    hep = [p for p in parts if p.startswith("humanevalpack/")]
    if len(hep) == len(HUMANEVAL_LANGS):
        parts = ["humanevalpack"] + [p for p in parts if p not in hep]
    return ", ".join(parts)
