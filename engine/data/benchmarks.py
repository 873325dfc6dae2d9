"""The validation benchmarks' text, for decontamination. Read straight from the workspace's
`[benchmarks] data_dir`:

    humanevalpack/<lang>.jsonl   prompt, instruction, canonical_solution, buggy_solution
    mbpp/mbpp.jsonl              text, code, test_list
    leetcode/*.jsonl[.gz]        query, response, completion (files with "train" in the name
                                 are training data, not a benchmark, and are skipped)

Each item keeps its text per field so that a match can say which part of which item it hit.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from engine.errors import InputError, WorkbenchError
from engine.fsutil import file_fingerprint, stable_hash

BENCHMARKS = ("humanevalpack", "mbpp", "leetcode")
HUMANEVAL_LANGS = ("python", "js", "java", "go", "cpp", "rust")
FIELDS = {
    "humanevalpack": ("prompt", "instruction", "canonical_solution", "buggy_solution"),
    "mbpp": ("text", "code", "test_list"),
    "leetcode": ("query", "response", "completion"),
}


@dataclass
class BenchmarkItem:
    benchmark: str               # "humanevalpack/python", "mbpp", "leetcode"
    item_id: str                 # task id within it
    fields: dict[str, str]

    @property
    def key(self) -> str:
        return f"{self.benchmark}:{self.item_id}"


def benchmark_files(data_dir: Path, which: tuple[str, ...] | list[str] = BENCHMARKS) -> dict[str, list[Path]]:
    """{benchmark name: files} present under data_dir (missing ones are simply absent)."""
    unknown = [w for w in which if w not in BENCHMARKS]
    if unknown:
        raise InputError(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}", field="decontaminate")
    out: dict[str, list[Path]] = {}
    if "humanevalpack" in which:
        for lang in HUMANEVAL_LANGS:
            p = data_dir / "humanevalpack" / f"{lang}.jsonl"
            if p.exists():
                out[f"humanevalpack/{lang}"] = [p]
    if "mbpp" in which:
        p = data_dir / "mbpp" / "mbpp.jsonl"
        if p.exists():
            out["mbpp"] = [p]
    if "leetcode" in which:
        d = data_dir / "leetcode"
        files = sorted(f for f in d.glob("*.jsonl*") if f.suffix in (".jsonl", ".gz") and "train" not in f.name.lower()) \
            if d.is_dir() else []
        if files:
            out["leetcode"] = files
    return out


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield i, json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"invalid JSON in a benchmark file: {e.msg}", file=path, line=i) from None


def _as_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "\n".join(x for x in v if isinstance(x, str))
    return ""


def load_items(data_dir: str | Path, which: tuple[str, ...] | list[str] = BENCHMARKS) -> list[BenchmarkItem]:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise WorkbenchError(f"benchmark folder not found: {data_dir} (workspace [benchmarks] data_dir)")
    items: list[BenchmarkItem] = []
    for name, files in benchmark_files(data_dir, which).items():
        kind = name.split("/")[0]
        for path in files:
            for line, row in _rows(path):
                ident = str(row.get("task_id", row.get("id", f"{path.name}:{line}")))
                fields = {f: _as_text(row.get(f)) for f in FIELDS[kind]}
                fields = {k: v for k, v in fields.items() if v.strip()}
                if fields:
                    items.append(BenchmarkItem(name, ident, fields))
    return items


def benchmarks_fingerprint(data_dir: str | Path, which: tuple[str, ...] | list[str] = BENCHMARKS) -> str:
    files = benchmark_files(Path(data_dir), which) if Path(data_dir).is_dir() else {}
    return stable_hash({k: [file_fingerprint(p) for p in v] for k, v in files.items()})
