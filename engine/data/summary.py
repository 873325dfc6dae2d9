"""Looking at datasets without processing them: the first rows of a catalog entry (detected
format, converted records, bad rows) and stats of an entry (cached by its data, tokenizer
and settings under datasets/.cache/), plus the saved stats of processed datasets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from engine.data.langs import record_languages
from engine.data.sources import DETECT_ROWS, Loaded, get_entry, raw_rows, source_fingerprint
from engine.data.stats import Accumulator
from engine.data.store import iter_processed
from engine.data.tokenizer import tokenizer_identity
from engine.errors import WorkbenchError
from engine.fsutil import atomic_write_json, read_json_or, stable_hash
from engine.workspace import Workspace

STATS_VERSION = 1
CACHE_DIR = ".cache"


def public(rec: dict[str, Any]) -> dict[str, Any]:
    """A record without the pipeline's private (underscore) fields."""
    return {k: v for k, v in rec.items() if not k.startswith("_")}


def peek(ws: Workspace, name: str, *, rows: int = 5, offset: int = 0) -> dict[str, Any]:
    """The first rows of a catalog entry, converted (reads offset + rows rows, no more)."""
    entry = get_entry(ws, name)
    loaded = Loaded(ws, name, entry, limit=offset + rows)
    recs = []
    for i, rec in enumerate(loaded):
        if i >= offset:
            rec["languages"], other = record_languages(rec["chat_rounds"])
            if other:
                rec["other_languages"] = other
            recs.append(rec)
    fields: list[str] = []
    for r in raw_rows(ws, entry, limit=DETECT_ROWS):  # the first readable row's fields
        if r.data is not None:
            fields = list(r.data)
            break
    return {
        "name": name,
        "location": entry.path or entry.hub,
        "format": loaded.format,
        "fields": fields,
        "columns": dict(entry.columns),
        "records": [public(r) | {"file": r["_file"], "line": r["_line"]} for r in recs],
        "bad": [b.to_json() | {"where": b.describe()} for b in loaded.bad],
    }


def entry_stats(
    ws: Workspace,
    name: str,
    *,
    limit: int | None = None,
    tokens: bool = True,
    force: bool = False,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Stats of a catalog entry as it is (converted, not filtered); cached."""
    entry = get_entry(ws, name)
    tick = progress or (lambda s, d, t: None)
    tokenizer, note = None, None
    template = ws.config.defaults.chat_template
    # Keyed on the tokenizer's files, not the loaded tokenizer: a cache hit costs no transformers import.
    tok_id = tokenizer_identity(ws) if tokens else None
    key = stable_hash(
        {
            "v": STATS_VERSION,
            "src": source_fingerprint(ws, entry),
            "limit": limit,
            "tok": tok_id,
            "tokens": tokens,
            "template": template,
            "seq": ws.config.defaults.seq_length,
        }
    )
    cache = ws.datasets_dir / CACHE_DIR / f"stats-{name}-{key}.json"
    hit = read_json_or(cache)
    if hit is not None and not force:
        return {**hit, "cached": True}
    if tokens:
        try:
            from engine.data.tokenizer import load_tokenizer

            tick("loading tokenizer", 0, None)
            tokenizer = load_tokenizer(ws)
        except WorkbenchError as e:
            note = str(e)
    t0 = time.time()
    loaded = Loaded(ws, name, entry, limit=limit)
    acc = Accumulator(ws.config.defaults.seq_length)
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        if tokenizer is not None and batch:
            from engine.data.tokenizer import token_lengths

            for r, n in zip(batch, token_lengths(tokenizer, [b["chat_rounds"] for b in batch], template=template)):
                r["n_tokens"] = n
        for r in batch:
            acc.add(r)
        batch.clear()

    n = 0
    for rec in loaded:
        rec["languages"], _ = record_languages(rec["chat_rounds"])
        batch.append(rec)
        n += 1
        if len(batch) >= 1000:
            flush()
            tick(f"stats of {name}", n, limit)
    flush()
    out = {
        "name": name,
        "format": loaded.format,
        "read": loaded.n_read,
        "quarantined": len(loaded.bad),
        "bad_examples": [b.describe() for b in loaded.bad[:5]],
        "limit": limit,
        "stats": acc.result(),
        "tokenizer_note": note,
        "seconds": round(time.time() - t0, 3),
        "key": key,
    }
    # Old cache files of this entry are stale now.
    for old in (ws.datasets_dir / CACHE_DIR).glob(f"stats-{name}-*.json"):
        old.unlink(missing_ok=True)
    atomic_write_json(cache, out)
    return {**out, "cached": False}


def sample_processed(ws: Workspace, name: str, *, rows: int = 5, offset: int = 0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, rec in enumerate(iter_processed(ws.datasets_dir / name)):
        if i < offset:
            continue
        if len(out) >= rows:
            break
        out.append(rec)
    return out
