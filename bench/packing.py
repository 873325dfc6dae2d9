"""Useful-token fraction of training rows: workbench packing vs MFTCoder's padding mode.

A realistic three-task mixture is built from ../shared/data/instruct/ (Code Alpaca, Evol
CodeAlpaca, OASST-CommitPackFT; converted with engine.data.formats), tokenised with the
trainer's own path (engine.tokens.tokenize_build), and laid out into rows of the same sequence
length by
  - workbench: per-task best-fit-decreasing packing, rows trimmed per micro-batch
    (engine.train.data: what the loop feeds the model), and
  - MFTCoder "padding" mode (the contest baseline): one sample per row, padded to seq_length
    (its stored arrays), and with its `use_dynamic_padding` (each random micro-batch trimmed to
    its longest row); samples longer than seq_length are dropped, as MFTCoder does.
Useful = real sample tokens; the fraction is useful / (rows x row length). Both layouts are
computed in this process on the same tokens. Goal: workbench >= 97 %.

    .venv/bin/python bench/packing.py [--seq 2048 4096] [--micro 8] [--tokenizer PATH]

The default tokenizer is the demo byte-level BPE (built offline); pass a real model folder's
tokenizer (e.g. Qwen) with --tokenizer for its token counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "instruct"
SOURCES = {
    "code_alpaca": "code_alpaca_2k.json",
    "evol_codealpaca": "evol_codealpaca_2k.json",
    "oasst_commitpackft": "oasst_commitpackft.jsonl",
}


def load_rows(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return json.loads(path.read_text(encoding="utf-8"))


def build_mixture(dest: Path, valid_every: int = 20) -> Path:
    from engine.data.formats import convert_row, detect

    manifest: dict[str, Any] = {
        "id": "bench",
        "name": "instruct",
        "seed": 0,
        "spec": {},
        "created": time.time(),
        "tasks": {},
    }
    for task, fname in SOURCES.items():
        rows = load_rows(DATA / fname)
        fmt = detect(rows[:50])
        recs = [
            {"id": f"{task}-{i}", "source": task, "row": i, "chat_rounds": convert_row(r, fmt)}
            for i, r in enumerate(rows)
        ]
        (dest / task).mkdir(parents=True, exist_ok=True)
        train = [r for i, r in enumerate(recs) if i % valid_every]
        valid = [r for i, r in enumerate(recs) if not i % valid_every]
        for split, part in (("train", train), ("valid", valid)):
            with open(dest / task / f"{split}.jsonl", "w", encoding="utf-8") as f:
                for r in part:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
        manifest["tasks"][task] = {"train_rows": len(train), "valid_rows": len(valid)}
    (dest / "mixture.json").write_text(json.dumps(manifest))
    return dest


def tokenizer(path: str | None):
    if path:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path)
    from engine.demo.assets import tokenizer_corpus, train_tokenizer

    return train_tokenizer(tokenizer_corpus())


def ours(plan, seq: int, micro: int) -> dict[str, float]:
    """What the loop feeds the model over one epoch: rows trimmed to each micro-batch's longest."""
    from engine.train.data import collate

    useful = slots = 0
    for step in range(plan.steps_per_epoch(micro)):
        packs = plan.global_batch(step, micro)
        for rank_batches in plan.split_global(packs, 1, 1, micro):
            for mb in rank_batches:
                if mb:
                    b = collate(mb, plan.splits, seq_length=seq, pad_id=0, packed=True)
                    useful += b.n_tokens
                    slots += b.input_ids.size
    full = sum(p.tokens for p in plan.train_packs) / (len(plan.train_packs) * seq)
    return {"rows": len(plan.train_packs), "trimmed": useful / slots, "full_rows": full}


def mftcoder_padding(lengths: np.ndarray, seq: int, micro: int, seed: int = 0) -> dict[str, float]:
    kept = lengths[lengths <= seq]  # MFTCoder drops longer samples
    static = kept.sum() / (len(kept) * seq)
    order = np.random.default_rng(seed).permutation(len(kept))
    slots = 0
    for i in range(0, len(order), micro):
        b = kept[order[i : i + micro]]
        slots += len(b) * int(b.max())
    return {"rows": len(kept), "dropped": int((lengths > seq).sum()), "static": static, "dynamic": kept.sum() / slots}


def mftcoder_pack(lengths_by_task: list[np.ndarray], seq: int) -> float:
    """MFTCoder's greedy sequential pack (samples attend across neighbours; for reference)."""
    rows, used, cur = 0, 0, 0
    for lengths in lengths_by_task:
        for n in lengths:
            if n > seq:
                continue
            if cur + n > seq:
                rows += 1
                cur = 0
            cur += int(n)
            used += int(n)
    return used / (rows * seq) if rows else 0.0  # its last buffer is never emitted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seq", type=int, nargs="+", default=[2048, 4096])
    ap.add_argument("--micro", type=int, default=8, help="micro-batch size (rows)")
    ap.add_argument("--tokenizer", help="a model folder whose tokenizer to use (default: the demo BPE)")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"shared data not found: {DATA}")
    from engine.tokens import tokenize_build
    from engine.train.data import build_plan

    t0 = time.time()
    tok = tokenizer(args.tokenizer)
    with tempfile.TemporaryDirectory() as tmp:
        build = build_mixture(Path(tmp) / "build")
        shards = tokenize_build(build, tok, template="chatml")
        tasks = list(SOURCES)
        lengths_by_task = [shards[t]["train"].lengths() for t in tasks]
        lengths = np.concatenate(lengths_by_task)
        print(
            f"mixture: {len(tasks)} tasks, {len(lengths)} train samples, tokens/sample median "
            f"{int(np.median(lengths))}, p95 {int(np.percentile(lengths, 95))}, max {int(lengths.max())} "
            f"({'demo BPE' if not args.tokenizer else args.tokenizer}); prepared in {time.time() - t0:.1f}s\n"
        )
        print(f"{'seq':>5}  {'layout':44} {'rows':>6}  {'useful':>7}")
        for seq in args.seq:
            plan = build_plan(shards, tasks, seq_length=seq, packing=True, overlong="truncate", pad_id=0, seed=0)
            o = ours(plan, seq, args.micro)
            m = mftcoder_padding(lengths, seq, args.micro)
            pk = mftcoder_pack(lengths_by_task, seq)
            print(f"{seq:>5}  {'workbench packing (as fed, per micro-batch)':44} {o['rows']:>6}  {o['trimmed']:7.2%}")
            print(f"{'':>5}  {'workbench packing (full rows)':44} {o['rows']:>6}  {o['full_rows']:7.2%}")
            print(f"{'':>5}  {'MFTCoder padding (rows padded to seq)':44} {m['rows']:>6}  {m['static']:7.2%}")
            print(f"{'':>5}  {'MFTCoder padding + dynamic padding':44} {m['rows']:>6}  {m['dynamic']:7.2%}")
            print(f"{'':>5}  {'MFTCoder pack (leaks across samples)':44} {'':>6}  {pk:7.2%}")
            trunc = plan.report["truncated"]
            print(
                f"{'':>5}  ratio vs padding: {o['trimmed'] / m['static']:.2f}x (static), "
                f"{o['trimmed'] / m['dynamic']:.2f}x (dynamic); goal >= 97%: "
                f"{'met' if o['trimmed'] >= 0.97 else 'NOT met'}; overlong: workbench truncated {trunc}, "
                f"MFTCoder dropped {m['dropped']}\n"
            )


if __name__ == "__main__":
    main()
