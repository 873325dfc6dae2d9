"""Benchmark: the data pipeline on ~100k rows built from the shared instruction sets, with
mutated near-duplicates planted, against a straightforward `datasketch` MinHashLSH loop on the
same rows in the same run.

    .venv/bin/python bench/data_pipeline.py [--rows 100000] [--plant 1000] [--skip-pipeline]

Prints: rows/s and peak memory of the whole pipeline (convert, normalise, quality, language,
syntax, token lengths, decontamination, exact + near dedup, stats, write), then near-dedup
alone vs the datasketch loop (time, rows/s, peak memory, the ratio), and how many planted
duplicates each finds. Needs ../shared/data (instruction sets + benchmarks) and datasketch
(`pip install -e .[dev]`). The tokenizer is the demo's tiny one (built into a temp folder).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
THRESHOLD, NUM_PERM, SHINGLE = 0.85, 128, 5


class PeakRSS:
    """Peak resident memory of this process while the block runs (sampled every 20 ms)."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRSS:
        self.start = self.proc.memory_info().rss
        self.peak = self.start
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    def mib(self) -> str:
        return f"{self.peak / 2**20:.0f} MiB peak ({(self.peak - self.start) / 2**20:+.0f} MiB in the step)"


def base_pairs() -> list[tuple[str, str]]:
    """(prompt, answer) pairs of the shared instruction sets, exact duplicates (after whitespace
    and case normalisation) removed."""
    pairs = []
    for name in ("code_alpaca_2k.json", "evol_codealpaca_2k.json"):
        for r in json.loads((SHARED / "instruct" / name).read_text()):
            pairs.append((r["instruction"] + ("\n\n" + r["input"] if r.get("input", "").strip() else ""), r["output"]))
    for line in (SHARED / "instruct" / "oasst_commitpackft.jsonl").read_text().splitlines():
        r = json.loads(line)
        pairs.append((r["prompt"], r["completion"]))
    for line in gzip.open(SHARED / "leetcode" / "LeetCodeDataset-v0.2.0-train.jsonl.gz", "rt"):
        r = json.loads(line)
        pairs.append((r["query"], r["response"]))
    from engine.data.code import fenced_blocks
    from engine.data.dedup import normalized_key
    from engine.data.langs import classify, looks_like_code

    seen, out = set(), []
    for q, a in pairs:
        key = normalized_key(q + "\n" + a)
        if key in seen:
            continue
        seen.add(key)
        if not fenced_blocks(a) and looks_like_code(a):  # bare code answers get a fence, so that
            lang = classify(a) or ""  # two answers can share a row as markdown
            a = f"```{lang.replace('other:', '')}\n{a.strip()}\n```"
        out.append((q, a))
    return out


# Words a variant keeps as they are, so that its code stays code.
KEYWORDS = set(
    """
and as assert async await break case catch char class const continue def default defer del delete do double elif
else enum except export extends false final finally float fn for from func function go if impl import in int
interface is lambda let long loop map match mod mut new nil none not null or package pass print println private
protected public pub raise range return self static std string struct super switch this throw throws true try
type typeof use var vec void while with yield len list dict set str bool auto include using namespace vector
console log math system out fmt java util solution def main args the a an of to is it this that for with
""".split()
)


_POOL_RND = random.Random(1)
# A bounded vocabulary of made-up words (like a real corpus, words repeat across rows).
WORD_POOL = [
    "".join(_POOL_RND.choice("bcdfghjklmnprstvz") + _POOL_RND.choice("aeiou") for _ in range(3)) for _ in range(20_000)
]


def _variant(text: str, rnd: random.Random, names: dict[str, str], rate: float) -> str:
    """The text with a share of its words renamed consistently (same word -> same new word)."""
    parts = re.split(r"([A-Za-z]{3,})", text)
    for i in range(1, len(parts), 2):
        w = parts[i]
        if w.lower() in KEYWORDS:
            continue
        new = names.get(w)
        if new is None:
            if rnd.random() < rate:
                new = WORD_POOL[rnd.randrange(len(WORD_POOL))]
            else:
                new = w
            names[w] = new
        parts[i] = new
    return "".join(parts)


def build_rows(n: int, n_plant: int, seed: int = 0) -> tuple[list[dict], list[tuple[int, int]]]:
    """n rows: variants of the base pairs (40% of the words of each renamed consistently, so
    variants of one pair share few 5-grams), plus n_plant lightly edited copies of random rows.
    Returns rows and the planted pairs (original index, copy index), each with a true Jaccard
    >= 0.9, clearly over the 0.85 threshold."""
    from engine.data.shingles import reference_tokens

    rnd = random.Random(seed)
    base = base_pairs()
    rows = []
    for k in range(n - n_plant):
        q, a = base[k % len(base)] if k < len(base) else base[rnd.randrange(len(base))]
        if k >= len(base):
            names: dict[str, str] = {}
            q, a = _variant(q, rnd, names, 0.4), _variant(a, rnd, names, 0.4)
        rows.append({"instruction": q, "output": a})

    def shingles(t: str) -> set[bytes]:
        tok = reference_tokens(t)
        return {b" ".join(tok[i : i + SHINGLE]) for i in range(max(1, len(tok) - SHINGLE + 1))}

    planted: list[tuple[int, int]] = []
    while len(planted) < n_plant:
        i = rnd.randrange(len(rows))
        src = rows[i]
        words = src["output"].split(" ")
        if len(words) < 150:
            continue
        for _ in range(max(1, len(words) // 150)):  # rename a word here and there
            j = rnd.randrange(len(words))
            words[j] = words[j] + "_x"
        copy = {"instruction": src["instruction"].replace("\n", "  \n", 1), "output": " ".join(words)}
        ta = src["instruction"] + "\n" + src["output"]
        tb = copy["instruction"] + "\n" + copy["output"]
        sa, sb = shingles(ta), shingles(tb)
        if len(sa & sb) / len(sa | sb) < 0.9:  # keep only true near-duplicates, clearly over the threshold
            continue
        planted.append((i, len(rows)))
        rows.append(copy)
    return rows, planted


def datasketch_baseline(texts: list[str], bands: int, rows_per_band: int) -> tuple[float, list[set[int]], PeakRSS]:
    """The straightforward loop: shingles in Python, one MinHash per row, insert, then query."""
    from datasketch import MinHash, MinHashLSH

    from engine.data.shingles import reference_tokens

    with PeakRSS() as mem:
        t0 = time.perf_counter()
        lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, params=(bands, rows_per_band))
        sigs = []
        for i, t in enumerate(texts):
            tok = reference_tokens(t)
            sh = {b" ".join(tok[k : k + SHINGLE]) for k in range(max(1, len(tok) - SHINGLE + 1))}
            m = MinHash(num_perm=NUM_PERM)
            m.update_batch(list(sh))
            lsh.insert(i, m)
            sigs.append(m)
        candidates = [set(lsh.query(m)) - {i} for i, m in enumerate(sigs)]
        elapsed = time.perf_counter() - t0
    return elapsed, candidates, mem


def language_accuracy() -> str:
    """Language tagging on HumanEvalPack: each canonical solution as a complete function
    (prompt + canonical_solution), and the bare solution body (harder: often a few lines)."""
    from engine.data.langs import classify

    langs = {"python": "python", "js": "javascript", "java": "java", "go": "go", "cpp": "cpp", "rust": "rust"}
    full = body = body_unsure = total = 0
    for f, lang in langs.items():
        for line in (SHARED / "humanevalpack" / f"{f}.jsonl").read_text().splitlines():
            r = json.loads(line)
            total += 1
            full += classify(r["prompt"] + r["canonical_solution"]) == lang
            got = classify(r["canonical_solution"])
            body += got == lang
            body_unsure += got is None
    return (
        f"language tagging, HumanEvalPack canonical solutions: complete functions {full}/{total} "
        f"({full / total:.1%}); bodies alone {body}/{total} right, {body_unsure} untagged (too little "
        f"evidence), {total - body - body_unsure} wrong"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--plant", type=int, default=1000)
    ap.add_argument("--skip-pipeline", action="store_true", help="only near-dedup vs datasketch")
    args = ap.parse_args()
    if not (SHARED / "instruct").is_dir():
        sys.exit(f"shared data not found at {SHARED}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    print(language_accuracy())
    t0 = time.perf_counter()
    rows, planted = build_rows(args.rows, args.plant)
    print(
        f"built {len(rows)} rows ({len(planted)} planted near-duplicates, true Jaccard >= 0.9) "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    texts = [r["instruction"] + "\n" + r["output"] for r in rows]
    print(f"text: {sum(map(len, texts)) / 1e6:.1f} M characters")

    if not args.skip_pipeline:
        from engine.data.pipeline import ProcessOptions, process
        from engine.demo.assets import build_demo_assets
        from engine.workspace import DatasetEntry, ModelEntry, Workspace

        tmp_dir = tempfile.TemporaryDirectory(prefix="wb-bench-")
        tmp = Path(tmp_dir.name)
        build_demo_assets(tmp / "demo")
        ws = Workspace.init(tmp / "ws", catalog=False)
        ws.config.models["tiny"] = ModelEntry(path=str(tmp / "demo" / "models" / "tiny"))
        ws.config.defaults.model = "tiny"
        ws.config.defaults.seq_length = 4096
        ws.config.benchmarks.data_dir = str(SHARED)
        src = tmp / "rows.jsonl"
        with open(src, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        ws.config.datasets["bench"] = DatasetEntry(path=str(src))
        ws.save()
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            rep = process(ws, "bench", ProcessOptions(inputs=["bench"]), force=True)
            elapsed = time.perf_counter() - t0
        print(
            "\npipeline (convert + normalise + quality + language + syntax + tokens + decontaminate "
            "+ exact/near dedup + stats + write):"
        )
        print(f"  {len(rows)} rows in {elapsed:.1f}s = {len(rows) / elapsed:,.0f} rows/s; {mem.mib()}")
        print("  stage seconds: " + ", ".join(f"{k} {v}" for k, v in rep["seconds"].items()))
        print(f"  kept {rep['kept']}; dropped " + ", ".join(f"{k} {v}" for k, v in rep["dropped"].items() if v))
        tmp_dir.cleanup()

    from engine.data.dedup import lsh_params, near_duplicates

    bands, rpb = lsh_params(THRESHOLD, NUM_PERM)
    with PeakRSS() as mem_ours:
        t0 = time.perf_counter()
        res = near_duplicates(texts, threshold=THRESHOLD, num_perm=NUM_PERM, ngram=SHINGLE)
        ours = time.perf_counter() - t0
    cluster = {m: ci for ci, c in enumerate(res.clusters) for m in c}
    ours_found = sum(1 for a, b in planted if a in cluster and cluster[a] == cluster.get(b))

    base_s, cands, mem_base = datasketch_baseline(texts, bands, rpb)
    base_found = sum(1 for a, b in planted if b in cands[a])
    base_pairs_n = sum(len(c) for c in cands) // 2

    print(
        f"\nnear-dedup, same rows, same shingles (word {SHINGLE}-grams), {NUM_PERM} permutations, "
        f"LSH {bands} bands x {rpb} rows, threshold {THRESHOLD}:"
    )
    print(f"  workbench  {ours:7.2f}s  {len(texts) / ours:>9,.0f} rows/s  {mem_ours.mib()}")
    print(
        f"             {res.candidate_pairs} candidate pairs, {res.confirmed_pairs} confirmed (exact Jaccard), "
        f"{len(res.clusters)} clusters"
    )
    print(f"  datasketch {base_s:7.2f}s  {len(texts) / base_s:>9,.0f} rows/s  {mem_base.mib()}")
    print(f"             {base_pairs_n} candidate pairs (unverified)")
    print(f"  ratio: workbench is {base_s / ours:.1f}x the datasketch loop (goal >= 3x)")
    print(
        f"  planted duplicates found: workbench {ours_found}/{len(planted)}, datasketch {base_found}/{len(planted)}"
        f" -> {'both find all' if ours_found == base_found == len(planted) else 'DIFFERENT'}"
    )


if __name__ == "__main__":
    main()
