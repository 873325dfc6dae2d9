"""Processed datasets on disk: the contract between engine/data (writes) and engine/mixture
(reads).

    datasets/<name>/
      data.parquet    canonical records, one row per sample:
                        id (str), source (str), row (int),
                        chat_rounds (list<struct<role: str, content: str>>),
                        languages (list<str>)  contest languages of its code ([] if none),
                        n_tokens (int)         tokens under the workspace tokenizer (-1 if unknown)
                        plus any extra columns the pipeline keeps
      report.json     what was done: inputs, filters and drops, dedup clusters, stats, fingerprint
      dropped/        (optional) dropped rows by reason, for browsing

The Parquet file loads with `datasets.Dataset.from_parquet` as well as with pyarrow.

What "processed" means is decided here only (`is_processed`: the records and the report that is
written after them); the catalog, the Datasets screen, export and engine/mixture all ask it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from engine.fsutil import atomic_write_json, file_fingerprint, read_json_or

DATA_FILE = "data.parquet"
REPORT_FILE = "report.json"


def processed_dir(datasets_dir: str | Path, name: str) -> Path:
    return Path(datasets_dir) / name


def is_processed(folder: str | Path) -> bool:
    """A processed dataset: its records (data.parquet) and the report written after them
    (report.json). A folder with only one of them is a process that did not finish."""
    f = Path(folder)
    return (f / DATA_FILE).is_file() and (f / REPORT_FILE).is_file()


def processed_names(datasets_dir: str | Path) -> list[str]:
    """The names of the processed datasets under `datasets_dir`, sorted."""
    d = Path(datasets_dir)
    return sorted(p.name for p in d.iterdir() if is_processed(p)) if d.is_dir() else []


def not_processed(folder: str | Path, name: str | None = None) -> str:
    """The one-line error for a dataset that is not processed (yet)."""
    name = name or Path(folder).name
    return f"{name!r} is not a processed dataset (no {Path(folder) / DATA_FILE}); run `workbench data process {name}`"


def write_processed(
    folder: str | Path, records: Iterable[dict[str, Any]], report: dict[str, Any], *, batch_rows: int = 10_000
) -> dict[str, Any]:
    """Write records (streamed in batches) and the report; report gets rows + fingerprint."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (DATA_FILE + ".tmp")
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("row", pa.int64()),
            ("chat_rounds", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("languages", pa.list_(pa.string())),
            ("n_tokens", pa.int64()),
        ]
    )
    writer = None
    n = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal writer
        if not batch:
            return
        cols = {f.name: [r.get(f.name) for r in batch] for f in schema}
        cols["languages"] = [r.get("languages") or [] for r in batch]
        cols["n_tokens"] = [int(r["n_tokens"]) if r.get("n_tokens") is not None else -1 for r in batch]
        cols["chat_rounds"] = [[{"role": m["role"], "content": m["content"]} for m in r["chat_rounds"]] for r in batch]
        table = pa.table(cols, schema=schema)
        if writer is None:
            writer = pq.ParquetWriter(tmp, schema)
        writer.write_table(table)
        batch.clear()

    for rec in records:
        batch.append(rec)
        n += 1
        if len(batch) >= batch_rows:
            flush()
    flush()
    if writer is None:
        pq.write_table(pa.table({f.name: [] for f in schema}, schema=schema), tmp)
    else:
        writer.close()
    tmp.replace(folder / DATA_FILE)
    report = {**report, "rows": n, "fingerprint": file_fingerprint(folder / DATA_FILE)}
    atomic_write_json(folder / REPORT_FILE, report)
    return report


def read_report(folder: str | Path) -> dict[str, Any] | None:
    return read_json_or(Path(folder) / REPORT_FILE)


def iter_processed(
    folder: str | Path, *, columns: list[str] | None = None, batch_size: int = 4096
) -> Iterator[dict[str, Any]]:
    """Stream records of a processed dataset (dicts with the columns above)."""
    import pyarrow.parquet as pq

    if not is_processed(folder):
        raise FileNotFoundError(not_processed(folder))
    pf = pq.ParquetFile(Path(folder) / DATA_FILE)
    for b in pf.iter_batches(batch_size=batch_size, columns=columns):
        yield from b.to_pylist()


def processed_fingerprint(folder: str | Path) -> str:
    rep = read_report(folder) or {}
    return rep.get("fingerprint") or file_fingerprint(Path(folder) / DATA_FILE)


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n
