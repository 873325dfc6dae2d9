"""Decontamination: word n-gram overlap (default 10-grams) between training samples (prompts and
answers) and the validation benchmarks (engine/data/benchmarks.py).

Index: every distinct n-gram of every benchmark field, except boilerplate that occurs in more
than `max_item_freq` items (e.g. `import java.util.*; import java.lang.*; class Solution {`,
shared by all 164 Java prompts; the same problem text in HumanEvalPack's six languages is
kept). A sample hits a field when it contains at least `min_coverage` of that field's
n-grams (and at least `min_hits` of them); the match reports the item, the field, the share
covered and the count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.data.benchmarks import BenchmarkItem
from engine.data.shingles import ngram_hashes, token_hashes

FILTER_BITS = 24


@dataclass
class Match:
    item: str  # "humanevalpack/python:Python/0"
    field: str  # which field of the item was covered
    coverage: float  # share of the field's n-grams found in the sample
    hits: int  # how many of them

    def to_json(self) -> dict:
        return {"item": self.item, "field": self.field, "coverage": round(self.coverage, 3), "hits": self.hits}


@dataclass
class DecontamIndex:
    ngram: int
    keys: np.ndarray  # sorted n-gram hashes (a hash repeats once per field it is in)
    field_of: np.ndarray  # field id of each key
    field_item: list[str]  # item key per field id
    field_name: list[str]  # field name per field id
    field_size: np.ndarray  # distinct indexed n-grams per field
    n_items: int
    stopped: int  # boilerplate n-grams left out
    filter: np.ndarray | None = None  # one flag per top-24-bit prefix: cheap "surely absent" test

    def __post_init__(self) -> None:
        if self.filter is None:
            self.filter = np.zeros(1 << FILTER_BITS, dtype=bool)
            self.filter[(self.keys >> np.uint64(64 - FILTER_BITS)).astype(np.int64)] = True


def build_index(items: Sequence[BenchmarkItem], *, ngram: int = 10, max_item_freq: int = 10) -> DecontamIndex:
    texts: list[str] = []
    field_item: list[str] = []
    field_name: list[str] = []
    item_of_field: list[int] = []
    for i, it in enumerate(items):
        for name, text in it.fields.items():
            texts.append(text)
            field_item.append(it.key)
            field_name.append(name)
            item_of_field.append(i)
    keys_parts, fid_parts = [], []
    for s in range(0, len(texts), 2000):
        h, off = token_hashes(texts[s : s + 2000])
        g, d = ngram_hashes(h, off, ngram)
        keys_parts.append(g)
        fid_parts.append(d + s)
    keys = np.concatenate(keys_parts) if keys_parts else np.zeros(0, np.uint64)
    fids = np.concatenate(fid_parts) if fid_parts else np.zeros(0, np.int64)
    # distinct (key, field)
    order = np.lexsort((fids, keys))
    keys, fids = keys[order], fids[order]
    keep = np.ones(keys.size, dtype=bool)
    keep[1:] = (keys[1:] != keys[:-1]) | (fids[1:] != fids[:-1])
    keys, fids = keys[keep], fids[keep]
    # item frequency of each key (distinct items, not fields)
    items_arr = np.asarray(item_of_field, dtype=np.int64)[fids] if fids.size else np.zeros(0, np.int64)
    o2 = np.lexsort((items_arr, keys))
    k2, i2 = keys[o2], items_arr[o2]
    first_of_pair = np.ones(k2.size, dtype=bool)
    first_of_pair[1:] = (k2[1:] != k2[:-1]) | (i2[1:] != i2[:-1])
    uk, inv = np.unique(k2, return_inverse=True)
    freq = np.bincount(inv, weights=first_of_pair, minlength=uk.size)
    common = uk[freq > max_item_freq]
    drop = np.isin(keys, common)
    keys, fids = keys[~drop], fids[~drop]
    size = np.bincount(fids, minlength=len(texts)).astype(np.int64)
    return DecontamIndex(ngram, keys, fids, field_item, field_name, size, len(items), int(common.size))


def find_matches(
    index: DecontamIndex,
    texts: Sequence[str],
    *,
    min_coverage: float = 0.5,
    min_hits: int = 3,
    batch: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[int, list[Match]]:
    """{text index: matches, best first} for every text that hits some benchmark field."""
    out: dict[int, list[Match]] = {}
    n = len(texts)
    for s in range(0, n, batch):
        found = match_tokens(
            index, *token_hashes(list(texts[s : s + batch])), min_coverage=min_coverage, min_hits=min_hits
        )
        out.update({s + i: m for i, m in found.items()})
        if progress:
            progress(min(n, s + batch), n)
    return out


def match_tokens(
    index: DecontamIndex, hashes: np.ndarray, offsets: np.ndarray, *, min_coverage: float = 0.5, min_hits: int = 3
) -> dict[int, list[Match]]:
    """Matches of a batch of texts given as token hashes (engine/data/shingles.token_hashes)."""
    out: dict[int, list[Match]] = {}
    if index.keys.size == 0:
        return out
    g, d = ngram_hashes(hashes, offsets, index.ngram)
    assert index.filter is not None  # built with the keys (the index is not empty here)
    maybe = index.filter[(g >> np.uint64(64 - FILTER_BITS)).astype(np.int64)]
    g, d = g[maybe], d[maybe]
    lo = np.searchsorted(index.keys, g, side="left")
    hi = np.searchsorted(index.keys, g, side="right")
    hit = hi > lo
    if not hit.any():
        return out
    d_hit, g_hit, lo_h, hi_h = d[hit], g[hit], lo[hit], hi[hit]
    # each distinct (text, n-gram) once, then one row per benchmark field holding that n-gram
    order = np.lexsort((g_hit, d_hit))
    d_hit, g_hit, lo_h, hi_h = d_hit[order], g_hit[order], lo_h[order], hi_h[order]
    first = np.ones(d_hit.size, dtype=bool)
    first[1:] = (d_hit[1:] != d_hit[:-1]) | (g_hit[1:] != g_hit[:-1])
    d_hit, lo_h, hi_h = d_hit[first], lo_h[first], hi_h[first]
    counts = hi_h - lo_h
    post = _ranges(lo_h, counts)
    n_fields = len(index.field_item)
    pair = np.repeat(d_hit, counts) * n_fields + index.field_of[post]
    pair_u, cnt = np.unique(pair, return_counts=True)
    fids = pair_u % n_fields
    cov = cnt / np.maximum(index.field_size[fids], 1)
    ok = (cov >= min_coverage) & (cnt >= min_hits)
    for p, c, hits in zip(pair_u[ok], cov[ok], cnt[ok]):
        doc, f = divmod(int(p), n_fields)
        out.setdefault(doc, []).append(Match(index.field_item[f], index.field_name[f], float(c), int(hits)))
    for ms in out.values():
        ms.sort(key=lambda m: (-m.coverage, -m.hits))
    return out


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(starts[i], starts[i] + counts[i]) without a Python loop."""
    total = int(counts.sum())
    ends = np.cumsum(counts)
    base = np.repeat(starts - (ends - counts), counts)
    return base + np.arange(total)
