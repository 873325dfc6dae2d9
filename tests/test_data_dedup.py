"""Near-duplicate clustering (MinHash + LSH + exact Jaccard) and benchmark decontamination."""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest

from engine.data.benchmarks import benchmark_files, load_items
from engine.data.decontam import build_index, find_matches
from engine.data.dedup import MinHasher, exact_duplicates, lsh_params, near_duplicates
from engine.data.shingles import reference_tokens, token_hashes
from tests.conftest import SHARED_DATA, shared_data


def _alpaca_texts() -> list[str]:
    rows = json.loads(shared_data("instruct", "code_alpaca_2k.json").read_text())
    return [r["instruction"] + "\n" + r["input"] + "\n" + r["output"] for r in rows]


def _shingles(text: str, n: int = 5) -> set[bytes]:
    t = reference_tokens(text)
    return {b" ".join(t[i:i + n]) for i in range(max(1, len(t) - n + 1))}


def _jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb)


def test_vectorised_tokens_match_the_reference() -> None:
    texts = ["Hello, World!  foo_bar==baz", "", "def f(x):\n\treturn x+1  # 你好，世界", "   ", "a", "ÉÉ y"] + \
        _alpaca_texts()[:300]
    h, off = token_hashes(texts)
    for i, t in enumerate(texts):
        ref = reference_tokens(t)
        assert off[i + 1] - off[i] == len(ref)
        # equal tokens hash equal, different ones (almost surely) differ
        toks = h[off[i]:off[i + 1]]
        by_tok: dict[bytes, int] = {}
        for tok, hv in zip(ref, toks.tolist()):
            assert by_tok.setdefault(tok, hv) == hv
        assert len(set(by_tok.values())) == len(by_tok)
    a, _ = token_hashes(["Return VALUE"])
    b, _ = token_hashes(["return value"])
    assert (a == b).all()


def test_planted_near_duplicates_are_clustered() -> None:
    texts = _alpaca_texts()
    rnd = random.Random(7)
    planted = []
    for i in rnd.sample(range(len(texts)), 400):
        words = texts[i].split(" ")
        if len(words) < 60:
            continue
        for _ in range(max(1, len(words) // 80)):  # a light edit: rename a word, swap a line's spacing
            j = rnd.randrange(len(words))
            words[j] = words[j] + "_v2"
        planted.append((i, len(texts)))
        texts.append(" ".join(words).replace("\n", "\n ", 1))
    assert len(planted) >= 40
    res = near_duplicates(texts, threshold=0.85)
    cluster_of = {m: ci for ci, c in enumerate(res.clusters) for m in c}
    should = [(a, b) for a, b in planted if _jaccard(texts[a], texts[b]) >= 0.85]
    assert len(should) >= 30
    missed = [(a, b) for a, b in should if a not in cluster_of or cluster_of[a] != cluster_of.get(b)]
    assert not missed, missed[:5]
    # every confirmed member really is that similar to its cluster's kept row (no false merges)
    for c in res.clusters:
        for m in c[1:]:
            assert res.similarity[m] >= 0.85
    assert all(res.duplicate_of[b] == a for a, b in should)  # keep rule "first": the original stays
    assert res.bands * res.rows <= 128 and (res.bands, res.rows) == lsh_params(0.85, 128)


def test_keep_rules_and_exact_duplicates() -> None:
    base = " ".join(f"token{i}" for i in range(200))
    longer = base + " extra words at the end"
    texts = ["unrelated text " * 20, base, longer]
    first = near_duplicates(texts, threshold=0.8)
    assert first.clusters == [[1, 2]]
    longest = near_duplicates(texts, threshold=0.8, keep="longest", answer_lengths=[len(t) for t in texts])
    assert longest.clusters == [[2, 1]] and longest.duplicate_of == {1: 2}
    assert exact_duplicates(["A  b\nc", "a b c", "a b d"]) == {1: 0}
    with pytest.raises(ValueError):
        near_duplicates(texts, keep="random")


def test_minhash_signature_is_a_set_property() -> None:
    mh = MinHasher(128, 5)
    cycle = "one two three four five "
    sig, _, _ = mh.signatures([cycle * 2, (cycle * 3).upper().replace(" ", "\n  "), "completely other words here now"])
    assert (sig[0] == sig[1]).all()          # same shingle set: repeats, case and spacing do not matter
    assert (sig[0] != sig[2]).mean() > 0.9
    assert sig.dtype == np.uint32 and sig.shape == (3, 128)


def test_benchmark_files_skip_training_splits() -> None:
    files = benchmark_files(SHARED_DATA)
    if not files:
        pytest.skip("shared benchmark data not present")
    assert "leetcode" in files and all("train" not in p.name for p in files["leetcode"])
    assert {f"humanevalpack/{x}" for x in ("python", "js", "java", "go", "cpp", "rust")} <= set(files)


def test_planted_benchmark_leaks_are_caught() -> None:
    shared_data("humanevalpack", "python.jsonl")
    items = load_items(SHARED_DATA)
    index = build_index(items, ngram=10)
    clean = _alpaca_texts()
    hep_py = [json.loads(x) for x in shared_data("humanevalpack", "python.jsonl").read_text().splitlines()]
    hep_rs = [json.loads(x) for x in shared_data("humanevalpack", "rust.jsonl").read_text().splitlines()]
    hep_go = [json.loads(x) for x in shared_data("humanevalpack", "go.jsonl").read_text().splitlines()]
    mbpp = [json.loads(x) for x in shared_data("mbpp", "mbpp.jsonl").read_text().splitlines()]
    lc = [json.loads(x) for x in gzip.open(shared_data("leetcode", "LeetCodeDataset-v0.2.0-test.jsonl.gz"), "rt")]
    leaks = {
        "humanevalpack/python:Python/12": "Complete this:\n" + hep_py[12]["prompt"] + "\n```python\n"
                                          + hep_py[12]["prompt"] + hep_py[12]["canonical_solution"] + "```",
        "humanevalpack/rust:Rust/40": "Here is my answer:\n```rust\n" + hep_rs[40]["declaration"]
                                      + hep_rs[40]["canonical_solution"] + "```",
        "humanevalpack/go:Go/77": hep_go[77]["instruction"],  # the task text alone
        f"mbpp:{mbpp[300]['task_id']}": mbpp[300]["text"] + "\n" + mbpp[300]["code"],
        f"leetcode:{lc[5]['task_id']}": lc[5]["query"] + "\n" + lc[5]["response"],
    }
    texts = clean + list(leaks.values())
    found = find_matches(index, texts)
    for k, (item, _) in enumerate(leaks.items()):
        i = len(clean) + k
        assert i in found, item
        assert found[i][0].item == item, (item, found[i][0])
    false = [i for i in found if i < len(clean)]
    assert len(false) <= len(clean) // 100  # real overlap is rare in a clean instruction set
    assert index.stopped > 100  # boilerplate (Java/C++/Rust prompt headers) is not evidence
