"""Dataset statistics: rows, token lengths (percentiles, histogram, over the sequence length),
language share, turns per sample, characters. `Accumulator` takes records one at a time, so
a pass over a large set never holds it in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

NO_LANGUAGE = "none"


def histogram_edges(max_value: int) -> list[int]:
    """Powers of two from 16 up to past `max_value`: readable bins for long-tailed lengths."""
    edges = [0, 16]
    while edges[-1] <= max_value:
        edges.append(edges[-1] * 2)
    return edges


def distribution(values: Iterable[int]) -> dict[str, Any]:
    arr = np.fromiter(values, dtype=np.int64)
    if arr.size == 0:
        return {"count": 0}
    edges = histogram_edges(int(arr.max()))
    counts, _ = np.histogram(arr, bins=edges)
    p50, p90, p99 = np.percentile(arr, [50, 90, 99], method="nearest")
    return {
        "count": int(arr.size),
        "min": int(arr.min()),
        "mean": round(float(arr.mean()), 1),
        "p50": int(p50),
        "p90": int(p90),
        "p99": int(p99),
        "max": int(arr.max()),
        "total": int(arr.sum()),
        "histogram": {"edges": edges, "counts": counts.tolist()},
    }


class Accumulator:
    def __init__(self, seq_length: int | None = None):
        self.seq_length = seq_length
        self.rows = 0
        self.tokens: list[int] = []
        self.chars: list[int] = []
        self.turns: Counter[int] = Counter()
        self.languages: Counter[str] = Counter()
        self.multi_language = 0
        self.sources: Counter[str] = Counter()

    def add(self, rec: dict[str, Any]) -> None:
        self.rows += 1
        n = rec.get("n_tokens")
        if n is not None and n >= 0:
            self.tokens.append(int(n))
        rounds = rec["chat_rounds"]
        self.chars.append(sum(len(r["content"]) for r in rounds))
        self.turns[sum(1 for r in rounds if r["role"] == "bot")] += 1
        langs = rec.get("languages") or []
        for lang in langs:
            self.languages[lang] += 1
        if not langs:
            self.languages[NO_LANGUAGE] += 1
        if len(langs) > 1:
            self.multi_language += 1
        self.sources[rec.get("source", "?")] += 1

    def result(self) -> dict[str, Any]:
        tok = distribution(self.tokens)
        if self.seq_length and self.tokens:
            tok["seq_length"] = self.seq_length
            tok["over_seq_length"] = int(sum(1 for t in self.tokens if t > self.seq_length))
        share = {k: round(v / self.rows, 4) for k, v in self.languages.most_common()} if self.rows else {}
        return {
            "rows": self.rows,
            "tokens": tok if self.tokens else {"count": 0, "note": "token counts unknown (no tokenizer)"},
            "chars": distribution(self.chars),
            "languages": dict(self.languages.most_common()),
            "language_share": share,
            "multi_language_rows": self.multi_language,
            "turns": {str(k): v for k, v in sorted(self.turns.items())},
            "turns_mean": round(sum(k * v for k, v in self.turns.items()) / self.rows, 2) if self.rows else 0,
            "sources": dict(self.sources.most_common()),
        }


def compute(records: Iterable[dict[str, Any]], *, seq_length: int | None = None) -> dict[str, Any]:
    acc = Accumulator(seq_length)
    for r in records:
        acc.add(r)
    return acc.result()
