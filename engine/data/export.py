"""Export a processed dataset: JSONL in MFTCoder's chat_rounds layout (what its trainer reads),
OpenAI messages, or ShareGPT conversations; or a copy of the Parquet file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from engine.chat import to_messages
from engine.data.store import DATA_FILE, is_processed, iter_processed, not_processed
from engine.errors import InputError
from engine.workspace import Workspace

EXPORT_FORMATS = ("chat_rounds", "messages", "sharegpt", "parquet")
_SHAREGPT_ROLE = {"system": "system", "human": "human", "bot": "gpt"}


def convert_out(rec: dict[str, Any], fmt: str) -> dict[str, Any]:
    meta = {
        "id": rec["id"],
        "source": rec["source"],
        "languages": rec.get("languages") or [],
        "n_tokens": rec.get("n_tokens", -1),
    }
    rounds = rec["chat_rounds"]
    if fmt == "chat_rounds":
        return {**meta, "chat_rounds": rounds}
    if fmt == "messages":
        return {**meta, "messages": to_messages(rounds)}
    if fmt == "sharegpt":
        return {**meta, "conversations": [{"from": _SHAREGPT_ROLE[r["role"]], "value": r["content"]} for r in rounds]}
    raise InputError(f"unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}", field="format")


def export(ws: Workspace, name: str, out: str | Path, *, fmt: str = "chat_rounds", limit: int | None = None) -> int:
    """Write the processed dataset `name` to `out`; returns the rows written."""
    from engine.data.catalog import check_name

    folder = ws.datasets_dir / check_name(name)
    if not is_processed(folder):
        raise InputError(not_processed(folder, name))
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}", field="format")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        if limit is not None:
            raise InputError("--limit is not supported with the parquet format", field="limit")
        shutil.copyfile(folder / DATA_FILE, out)
        import pyarrow.parquet as pq

        return pq.ParquetFile(out).metadata.num_rows
    n = 0
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in iter_processed(folder):
            if limit is not None and n >= limit:
                break
            f.write(json.dumps(convert_out(rec, fmt), ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(out)
    return n
