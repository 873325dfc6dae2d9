"""Vectorised word tokens and n-gram hashes for many texts at once (numpy, no Python loop per
token). Used by near-duplicate detection (word 5-gram shingles) and decontamination (word
10-grams).

Tokens: the text's bytes (UTF-8), ASCII-lowercased; a token is a run of [a-z0-9_] or non-ASCII
bytes, or a single other non-space byte (punctuation). The same definition in plain Python is
`reference_tokens` (used by tests and the benchmark's baseline).
All arithmetic is uint64 with wrap-around, which numpy does natively.
"""

from __future__ import annotations

import re

import numpy as np

_SPACE, _WORD, _PUNCT = 0, 1, 2
_CLASS = np.full(256, _PUNCT, dtype=np.uint8)
for _c in b" \t\n\r\x0b\x0c":
    _CLASS[_c] = _SPACE
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _CLASS[_c] = _WORD
_CLASS[0x80:] = _WORD
_LOWER = np.arange(256, dtype=np.uint64)
_LOWER[65:91] += 32
_LOWER += 1  # so that byte 0 still changes the hash
_LOWER0 = _LOWER.copy()
_LOWER0[_CLASS == _SPACE] = 0

_M = np.uint64(0x9E3779B97F4A7C15)
_POW_CACHE: dict[int, np.ndarray] = {}
_REF_TOKEN = re.compile(rb"[A-Za-z0-9_\x80-\xff]+|[^A-Za-z0-9_\x80-\xff \t\n\r\x0b\x0c]")


def reference_tokens(text: str) -> list[bytes]:
    """The token definition in plain Python (slow; for tests and baselines)."""
    return [t.lower() for t in _REF_TOKEN.findall(text.encode("utf-8", errors="surrogatepass"))]


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads bits so that low and high bits are all usable."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


def _powers(n: int) -> np.ndarray:
    size = 1 << max(6, int(n - 1).bit_length())
    p = _POW_CACHE.get(size)
    if p is None:
        p = np.empty(size, dtype=np.uint64)
        p[0] = 1
        with np.errstate(over="ignore"):
            p[1:] = _M
            p = np.cumprod(p, dtype=np.uint64)
        _POW_CACHE[size] = p
    return p


def token_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, offsets): hashes[offsets[i]:offsets[i+1]] are the token hashes of texts[i].

    Every byte gets its position inside the token that started last; a token's hash is the sum
    of its bytes times powers of a fixed odd constant (space bytes weigh 0, so the spaces after
    a token do not change it), summed per token with one `reduceat`."""
    if not texts:
        return np.zeros(0, np.uint64), np.zeros(1, np.int64)
    encoded = [t.encode("utf-8", errors="surrogatepass") for t in texts]
    starts_b = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=len(encoded)), out=starts_b[1:])
    buf = np.frombuffer(b"\n".join(encoded) + b"\n", dtype=np.uint8)
    cls = _CLASS[buf]
    start = cls == _PUNCT
    start[1:] |= (cls[1:] == _WORD) & (cls[:-1] != _WORD)
    start[0] |= cls[0] == _WORD
    first = np.flatnonzero(start)
    if first.size == 0:
        return np.zeros(0, np.uint64), np.zeros(len(texts) + 1, np.int64)
    idx = np.arange(buf.size, dtype=np.int64 if buf.size >= 2**31 else np.int32)
    within = idx - np.maximum.accumulate(np.where(start, idx, np.zeros((), idx.dtype)))
    pw = _powers(int(within.max()) + 1)
    with np.errstate(over="ignore"):
        contrib = _LOWER0[buf] * pw[within]
    h = mix64(np.add.reduceat(contrib, first))
    doc = np.searchsorted(starts_b, first, side="right") - 1
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc, minlength=len(texts)), out=offsets[1:])
    return h, offsets


def ngram_hashes(
    hashes: np.ndarray, offsets: np.ndarray, n: int, *, short: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(ngrams, doc): hashes of every run of n consecutive tokens inside one text, and the text
    each belongs to. With `short`, a text of fewer than n tokens (but some) gets one hash of all
    its tokens, so that it still has a shingle."""
    total = hashes.size
    lengths = np.diff(offsets)
    doc_of_tok = np.repeat(np.arange(lengths.size), lengths)
    if total >= n:
        m = total - n + 1
        acc = hashes[:m].copy()
        with np.errstate(over="ignore"):
            for k in range(1, n):
                acc = acc * _M + hashes[k : k + m]
        valid = doc_of_tok[:m] == doc_of_tok[n - 1 : n - 1 + m]
        grams, docs = mix64(acc[valid]), doc_of_tok[:m][valid]
    else:
        grams, docs = np.zeros(0, np.uint64), np.zeros(0, np.int64)
    if short:
        few = np.flatnonzero((lengths > 0) & (lengths < n))
        if few.size:
            extra = np.empty(few.size, dtype=np.uint64)
            for j, d in enumerate(few):  # rare: texts shorter than one n-gram
                acc_s = np.uint64(0)
                with np.errstate(over="ignore"):
                    for v in hashes[offsets[d] : offsets[d + 1]]:
                        acc_s = acc_s * _M + v
                extra[j] = acc_s
            grams = np.concatenate([grams, mix64(extra)])
            docs = np.concatenate([docs, few])
            order = np.argsort(docs, kind="stable")
            grams, docs = grams[order], docs[order]
    return grams, docs.astype(np.int64)
