"""Per-row facts of a processed dataset, as numpy arrays: what sampling, the split and the
balance need (split keys, token counts, languages), without holding the conversations.

Loaded once per dataset fingerprint and cached in-process, so the Mixtures screen can redraw
the balance on every keystroke.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.store import DATA_FILE, is_processed, not_processed, processed_fingerprint

NO_LANGUAGE = "none"
# Rough characters per token, used only when a dataset has no token counts (n_tokens = -1).
CHARS_PER_TOKEN = 3.5


@dataclass
class SourceTable:
    name: str
    folder: Path
    fingerprint: str
    keys: np.ndarray  # uint64 split key per row (seeded at use: see split_keys)
    tokens: np.ndarray  # int64 tokens per row (estimated where the dataset has none)
    estimated: np.ndarray  # bool per row: tokens estimated from characters
    lang: np.ndarray  # int32 primary language code per row (index into languages)
    languages: list[str]  # code -> name; NO_LANGUAGE is always present
    lang_lists: tuple[np.ndarray, np.ndarray]  # (offsets, codes) of every row's full language list

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def any_estimated(self) -> bool:
        return bool(self.estimated.any())

    def rows_with_languages(self, wanted: list[str]) -> np.ndarray:
        """Indices of rows whose language list meets `wanted` ("none" = rows without code)."""
        if not wanted:
            return np.arange(len(self), dtype=np.int64)
        offs, codes = self.lang_lists
        want = {self.languages.index(w) for w in wanted if w in self.languages}
        hit_val = np.isin(codes, sorted(want)) if len(codes) else np.zeros(0, bool)
        c = np.concatenate([[0], np.cumsum(hit_val, dtype=np.int64)])
        hits = (c[offs[1:]] - c[offs[:-1]]) > 0
        if NO_LANGUAGE in wanted:
            hits |= offs[1:] == offs[:-1]
        return np.nonzero(hits)[0].astype(np.int64)

    def split_keys(self, seed: int) -> np.ndarray:
        """Per-row keys for the split under a seed: a row's key depends only on (seed, dataset,
        row id), so the split never depends on row order, other data or the number of GPUs."""
        mix = np.uint64((seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)
        x = self.keys ^ mix
        # splitmix64 finaliser: a seed change reshuffles every key
        with np.errstate(over="ignore"):
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            x = x ^ (x >> np.uint64(31))
        return x


_cache: dict[tuple[str, str], SourceTable] = {}
_lock = threading.Lock()


def _row_keys(name: str, ids: list) -> np.ndarray:
    seen: dict[str, int] = {}
    dup = len(set(ids)) != len(ids)
    out = np.empty(len(ids), dtype=np.uint64)
    for i, rid in enumerate(ids):
        s = str(rid) if rid is not None else f"#row{i}"
        if dup:  # keep keys unique when a dataset repeats an id
            k = seen.get(s, 0)
            seen[s] = k + 1
            if k:
                s = f"{s}#{k}"
        h = hashlib.blake2b(f"{name}\0{s}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
        out[i] = int.from_bytes(h, "little")
    return out


def _languages(col) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    import pyarrow as pa

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if isinstance(arr, pa.ChunkedArray):  # empty
        arr = pa.array([], type=col.type)
    n = len(arr)
    offs = np.asarray(arr.offsets, dtype=np.int64)
    if arr.null_count:  # a null list counts as no language
        valid = np.asarray(arr.is_valid(), dtype=bool)
        lengths = np.where(valid, np.diff(offs), 0)
        starts = offs[:-1]
        # rebuild compact offsets over the kept values
        take = (
            np.concatenate([np.arange(s, s + n_s) for s, n_s in zip(starts, lengths)]) if n else np.zeros(0, np.int64)
        )
        values = arr.values.take(take.astype(np.int64)) if len(take) else arr.values.slice(0, 0)
        offs = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    else:
        values = arr.values.slice(int(offs[0]), int(offs[-1] - offs[0]))
        offs = offs - offs[0]
    enc = values.dictionary_encode()
    names = [str(x).lower() for x in enc.dictionary.to_pylist()]
    vocab = [NO_LANGUAGE] + sorted(set(names) - {NO_LANGUAGE})
    remap = np.array([vocab.index(x) for x in names], dtype=np.int32) if names else np.zeros(0, np.int32)
    codes = remap[np.asarray(enc.indices.fill_null(0), dtype=np.int64)] if len(values) else np.zeros(0, np.int32)
    has = offs[1:] > offs[:-1]
    primary = np.zeros(n, dtype=np.int32)
    if n:
        primary[has] = codes[offs[:-1][has]]
    return primary, offs, codes, vocab


def _estimate_tokens(table) -> np.ndarray:
    import pyarrow.compute as pc

    rounds = table.column("chat_rounds").combine_chunks()
    n = len(rounds)
    if n == 0:
        return np.zeros(0, np.int64)
    offs = np.asarray(rounds.offsets, dtype=np.int64)
    content = rounds.values.field("content")
    lens = np.asarray(pc.utf8_length(content).fill_null(0), dtype=np.int64)
    c = np.concatenate([[0], np.cumsum(lens)])
    chars = c[offs[1:]] - c[offs[:-1]]
    turns = offs[1:] - offs[:-1]
    return np.ceil(chars / CHARS_PER_TOKEN).astype(np.int64) + 5 * turns  # + chat markup per turn


def load_source(folder: str | Path, name: str | None = None) -> SourceTable:
    """The row facts of one processed dataset folder (cached by its fingerprint)."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    name = name or folder.name
    if not is_processed(folder):
        raise FileNotFoundError(not_processed(folder, name))
    fp = processed_fingerprint(folder)
    key = (str(folder.resolve()), fp)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    pf = pq.ParquetFile(folder / DATA_FILE)
    cols = set(pf.schema_arrow.names)
    want = [c for c in ("id", "languages", "n_tokens") if c in cols]
    table = pf.read(columns=want)
    n = table.num_rows
    ids = table.column("id").to_pylist() if "id" in cols else list(range(n))
    if "n_tokens" in cols:
        tokens = np.asarray(table.column("n_tokens").fill_null(-1), dtype=np.int64)
    else:
        tokens = np.full(n, -1, dtype=np.int64)
    estimated = tokens < 0
    if estimated.any():
        est = _estimate_tokens(pf.read(columns=["chat_rounds"]))
        tokens = np.where(estimated, est, tokens)
    if "languages" in cols:
        primary, offs, codes, vocab = _languages(table.column("languages"))
    else:
        primary, offs, codes, vocab = (
            np.zeros(n, np.int32),
            np.zeros(n + 1, np.int64),
            np.zeros(0, np.int32),
            [NO_LANGUAGE],
        )
    st = SourceTable(
        name=name,
        folder=folder,
        fingerprint=fp,
        keys=_row_keys(name, ids),
        tokens=tokens,
        estimated=estimated,
        lang=primary,
        languages=vocab,
        lang_lists=(offs, codes),
    )
    with _lock:
        _cache[key] = st
    return st
