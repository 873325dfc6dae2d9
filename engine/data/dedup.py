"""Deduplication: exact (hash of whitespace/case-normalised text) and near-duplicate
(MinHash signatures + LSH banding for candidates, exact Jaccard to confirm).

Near-duplicates, step by step (all numpy, batch at a time):
  shingles   word 5-grams of the conversation text (engine/data/shingles.py), 64-bit hashes
  signature  one-permutation MinHash: each shingle hash picks one of `num_perm` bins by its top
             bits and the bin keeps the minimum of the remaining bits (one hash per shingle
             instead of `num_perm`); empty bins are filled by optimal densification
             (Shrivastava 2017) so that equal sets give equal signatures
  LSH        `bands` x `rows` split of the signature chosen so that a pair at the threshold
             is a candidate with probability >= 0.99; texts sharing any band are candidates
  confirm    exact Jaccard of the two shingle sets >= threshold; clusters are the connected
             components of confirmed pairs (union-find)
  keep       one member per cluster by the stated rule: "first" (input order: sources in the
             order given, then rows) or "longest" (longest answer, ties → first)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.data.shingles import mix64, ngram_hashes, token_hashes

KEEP_RULES = ("first", "longest")


def normalized_key(text: str) -> bytes:
    """Hash of text with whitespace collapsed and case folded: equal keys are exact duplicates."""
    return hashlib.blake2b(" ".join(text.split()).lower().encode("utf-8", "surrogatepass"), digest_size=12).digest()


def exact_duplicates(texts: Sequence[str]) -> dict[int, int]:
    """{index: index of the first equal text} for every repeated text."""
    seen: dict[bytes, int] = {}
    dup: dict[int, int] = {}
    for i, t in enumerate(texts):
        k = normalized_key(t)
        j = seen.setdefault(k, i)
        if j != i:
            dup[i] = j
    return dup


def lsh_params(threshold: float, num_perm: int, recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows): the longest bands (fewest false candidates) that still make a pair at the
    threshold a candidate with probability >= `recall`. Candidates are confirmed with exact
    Jaccard, so a false candidate costs a comparison while a missed one is lost for good."""
    best = (num_perm, 1)
    for r in range(1, num_perm + 1):
        b = num_perm // r
        if 1 - (1 - threshold**r) ** b >= recall:
            best = (b, r)
    return best


@dataclass
class MinHasher:
    num_perm: int = 128
    ngram: int = 5
    seed: int = 1

    def __post_init__(self) -> None:
        if self.num_perm & (self.num_perm - 1) or not 8 <= self.num_perm <= 1024:
            raise ValueError("num_perm must be a power of two between 8 and 1024")
        self.bits = int(self.num_perm).bit_length() - 1
        rng = np.random.default_rng(self.seed)
        self._salt = rng.integers(1, 2**63, dtype=np.uint64)
        # Densification: for empty bin j, attempt t looks at bin _probe[j, t].
        self._probe = rng.integers(0, self.num_perm, size=(self.num_perm, 64)).astype(np.int64)

    def signatures(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(signatures [n, num_perm] uint32, shingle hashes, shingle doc index) of a batch."""
        return self.signatures_from_tokens(*token_hashes(texts))

    def signatures_from_tokens(
        self, hashes: np.ndarray, offsets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, k = offsets.size - 1, self.num_perm
        g, d = ngram_hashes(hashes, offsets, self.ngram, short=True)
        g = mix64(g ^ self._salt)
        sig = np.full(n * k, np.uint64(0xFFFFFFFF), dtype=np.uint64)
        if g.size:
            bins = (g >> np.uint64(64 - self.bits)).astype(np.int64)
            vals = (g >> np.uint64(32 - self.bits)) & np.uint64(0xFFFFFFFF)
            np.minimum.at(sig, d * k + bins, vals)
        sig2d = sig.reshape(n, k)
        self._densify(sig2d, np.bincount(d, minlength=n) > 0)
        return sig2d.astype(np.uint32), g, d

    def _densify(self, sig: np.ndarray, nonempty: np.ndarray) -> None:
        empty = sig == np.uint64(0xFFFFFFFF)
        empty[~nonempty] = False
        if not empty.any():
            return
        rows, cols = np.nonzero(empty)
        filled = np.zeros(rows.size, dtype=bool)
        out = np.zeros(rows.size, dtype=np.uint64)
        for t in range(self._probe.shape[1]):
            todo = ~filled
            if not todo.any():
                break
            src = self._probe[cols[todo], t]
            ok = ~empty[rows[todo], src]
            idx = np.flatnonzero(todo)[ok]
            out[idx] = sig[rows[idx], src[ok]]
            filled[idx] = True
        # Any bin still empty (astronomically unlikely) takes the first non-empty bin.
        for i in np.flatnonzero(~filled):
            out[i] = sig[rows[i]][~empty[rows[i]]][0]
        sig[rows, cols] = out


@dataclass
class NearDupResult:
    clusters: list[list[int]]  # each sorted by the keep rule: [kept, dropped...]
    duplicate_of: dict[int, int]  # dropped index -> kept index
    similarity: dict[int, float]  # dropped index -> Jaccard with the member it joined through
    bands: int = 0
    rows: int = 0
    candidate_pairs: int = 0
    confirmed_pairs: int = 0


class _UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, x: int) -> int:
        p = self.parent
        root = x
        while p[root] != root:
            root = p[root]
        while p[x] != root:
            p[x], x = root, p[x]
        return int(root)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


class NearDupIndex:
    """MinHash signatures and shingle sets, added batch by batch (from texts, or from token
    hashes already computed for another pass), then clustered once."""

    def __init__(self, *, num_perm: int = 128, ngram: int = 5, seed: int = 1):
        self.hasher = MinHasher(num_perm, ngram, seed)
        self.seed = seed
        self._sigs: list[np.ndarray] = []
        self._sh: list[np.ndarray] = []
        self._doc: list[np.ndarray] = []
        self.n = 0

    def add_texts(self, texts: list[str]) -> None:
        self.add_tokens(*token_hashes(texts))

    def add_tokens(self, hashes: np.ndarray, offsets: np.ndarray) -> None:
        sig, g, d = self.hasher.signatures_from_tokens(hashes, offsets)
        self._sigs.append(sig)
        self._sh.append(g)
        self._doc.append(d + self.n)
        self.n += sig.shape[0]

    def clusters(
        self,
        *,
        threshold: float = 0.85,
        keep: str = "first",
        answer_lengths: Sequence[int] | None = None,
        alive: np.ndarray | None = None,
    ) -> NearDupResult:
        """Clusters among the `alive` texts (all by default)."""
        if not 0 < threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        if keep not in KEEP_RULES:
            raise ValueError(f"keep rule must be one of {KEEP_RULES}")
        n, k = self.n, self.hasher.num_perm
        sigs = np.concatenate(self._sigs) if self._sigs else np.zeros((0, k), np.uint32)
        shingles = np.concatenate(self._sh) if self._sh else np.zeros(0, np.uint64)
        sh_doc = np.concatenate(self._doc) if self._doc else np.zeros(0, np.int64)
        sh_off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(sh_doc, minlength=n), out=sh_off[1:])
        live_mask = np.diff(sh_off) > 0
        if alive is not None:
            live_mask &= np.asarray(alive, dtype=bool)
        live = np.flatnonzero(live_mask)
        b, r = lsh_params(threshold, k)
        pairs = _candidate_pairs(sigs, live, b, r, self.seed)
        return _confirm(pairs, sigs, shingles, sh_off, n, threshold, keep, answer_lengths, b, r)


def _candidate_pairs(sigs: np.ndarray, live: np.ndarray, b: int, r: int, seed: int) -> np.ndarray:
    """Distinct pairs [k, 2] (a < b) of texts that share at least one LSH band."""
    mult = np.random.default_rng(seed + 7).integers(1, 2**63, size=r, dtype=np.uint64) | np.uint64(1)
    firsts: list[np.ndarray] = []
    seconds: list[np.ndarray] = []
    for band in range(b):
        block = sigs[live, band * r : (band + 1) * r].astype(np.uint64)
        with np.errstate(over="ignore"):
            key = mix64((block * mult).sum(axis=1, dtype=np.uint64) + np.uint64(band))
        order = np.argsort(key, kind="stable")
        ks = key[order]
        same_next = ks[1:] == ks[:-1]
        if not same_next.any():
            continue
        members = live[order]
        run_start = np.ones(ks.size, dtype=bool)
        run_start[1:] = ~same_next
        starts = np.flatnonzero(run_start)
        sizes = np.diff(np.append(starts, ks.size))
        # buckets of two (by far the most common): vectorised
        two = starts[sizes == 2]
        firsts.append(members[two])
        seconds.append(members[two + 1])
        for st, sz in zip(starts[sizes > 2].tolist(), sizes[sizes > 2].tolist()):
            grp = np.sort(members[st : st + sz])
            if sz <= 32:
                i, j = np.triu_indices(sz, 1)
                firsts.append(grp[i])
                seconds.append(grp[j])
            else:  # a huge bucket (many copies of one text): link each to the first
                firsts.append(np.full(sz - 1, grp[0]))
                seconds.append(grp[1:])
    if not firsts:
        return np.zeros((0, 2), dtype=np.int64)
    a = np.concatenate(firsts).astype(np.int64)
    c = np.concatenate(seconds).astype(np.int64)
    lo, hi = np.minimum(a, c), np.maximum(a, c)
    keys = np.unique(lo * (int(sigs.shape[0]) + 1) + hi)
    return np.stack([keys // (sigs.shape[0] + 1), keys % (sigs.shape[0] + 1)], axis=1)


# Signature agreement far below the threshold rules a pair out before the exact check. The
# estimate's standard deviation is <= 0.5/sqrt(k), k = num_perm, or fewer for texts with fewer
# shingles than bins (densified bins are copies); the margin is 5 sd of that.
PRUNE_SD = 5.0


def _confirm(
    pairs: np.ndarray,
    sigs: np.ndarray,
    shingles: np.ndarray,
    sh_off: np.ndarray,
    n: int,
    threshold: float,
    keep: str,
    answer_lengths: Sequence[int] | None,
    b: int,
    r: int,
) -> NearDupResult:
    """Exact Jaccard for each candidate pair, union-find over confirmed ones, keep rule."""
    n_candidates = len(pairs)
    if n_candidates:
        est = np.empty(n_candidates)
        for s in range(0, n_candidates, 50_000):  # bounded memory
            p = pairs[s : s + 50_000]
            est[s : s + 50_000] = (sigs[p[:, 0]] == sigs[p[:, 1]]).mean(axis=1)
        sizes = np.diff(sh_off)
        k_eff = np.clip(np.minimum(sizes[pairs[:, 0]], sizes[pairs[:, 1]]), 1, sigs.shape[1])
        margin = PRUNE_SD * 0.5 / np.sqrt(k_eff)
        pairs = pairs[est >= threshold - margin]
    uf = _UnionFind(n)
    cache: dict[int, np.ndarray] = {}

    def shingle_set(i: int) -> np.ndarray:
        u = cache.get(i)
        if u is None:
            u = cache[i] = np.unique(shingles[sh_off[i] : sh_off[i + 1]])
        return u

    best_sim: dict[int, float] = {}
    confirmed = 0
    for a, c in pairs.tolist():
        sa, sc = shingle_set(a), shingle_set(c)
        inter = np.intersect1d(sa, sc, assume_unique=True).size
        jac = inter / (sa.size + sc.size - inter)
        if jac >= threshold:
            uf.union(a, c)
            confirmed += 1
            best_sim[a] = max(best_sim.get(a, 0.0), jac)
            best_sim[c] = max(best_sim.get(c, 0.0), jac)
    groups: dict[int, list[int]] = {}
    for x in sorted(best_sim):
        groups.setdefault(uf.find(x), []).append(x)
    clusters: list[list[int]] = []
    duplicate_of: dict[int, int] = {}
    similarity: dict[int, float] = {}
    for ms in groups.values():
        if keep == "longest" and answer_lengths is not None:
            kept = max(ms, key=lambda i: (answer_lengths[i], -i))
        else:
            kept = ms[0]
        ordered = [kept] + [m for m in ms if m != kept]
        clusters.append(ordered)
        for m in ordered[1:]:
            duplicate_of[m] = kept
            similarity[m] = round(best_sim[m], 4)
    clusters.sort(key=lambda c: min(c))
    return NearDupResult(clusters, duplicate_of, similarity, b, r, n_candidates, confirmed)


def near_duplicates(
    texts: Sequence[str],
    *,
    threshold: float = 0.85,
    num_perm: int = 128,
    ngram: int = 5,
    keep: str = "first",
    answer_lengths: Sequence[int] | None = None,
    batch: int = 2000,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 1,
) -> NearDupResult:
    """Clusters of near-duplicate texts (Jaccard of word `ngram` shingle sets >= threshold)."""
    index = NearDupIndex(num_perm=num_perm, ngram=ngram, seed=seed)
    n = len(texts)
    for s in range(0, n, batch):
        index.add_texts(list(texts[s : s + batch]))
        if progress:
            progress(min(n, s + batch), n)
    return index.clusters(threshold=threshold, keep=keep, answer_lengths=answer_lengths)
