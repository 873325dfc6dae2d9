"""Tokenised sample shards: the cache between a materialised mixture and the trainer.

A shard is a folder:
    input_ids.bin   int32, all samples' token ids back to back
    loss_mask.bin   uint8, 1 where the token is trained (same length)
    offsets.npy     int64 [n_samples + 1], sample i is [offsets[i], offsets[i+1])
    meta.json       {"n_samples", "n_tokens", "n_trained", "tokenizer", "template", ...}

Written streaming (no whole-dataset arrays in RAM), read with numpy memmaps.
`meta.json` is written last, so a shard without it is incomplete and is rebuilt.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.fsutil import atomic_write_json, stable_hash
from engine.mixture.manifest import build_tasks


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Identity of a tokenizer for cache keys: class, vocab, specials and chat template."""
    try:
        vocab = tokenizer.get_vocab()
        vocab_key = stable_hash(sorted(vocab.items()))
    except Exception:  # noqa: BLE001 - any tokenizer object: one without a usable vocabulary falls back to its size
        vocab_key = str(getattr(tokenizer, "vocab_size", "?"))
    return stable_hash(
        {
            "cls": type(tokenizer).__name__,
            "vocab": vocab_key,
            "len": len(tokenizer),
            "special": sorted(str(t) for t in getattr(tokenizer, "all_special_tokens", [])),
            "template": getattr(tokenizer, "chat_template", None),
        }
    )


class ShardWriter:
    def __init__(self, folder: str | Path, **meta: Any):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "meta.json").unlink(missing_ok=True)
        self._ids = open(self.folder / "input_ids.bin", "wb")
        self._mask = open(self.folder / "loss_mask.bin", "wb")
        self._offsets = array("q", [0])
        self._trained = 0
        self._meta = meta
        self._extra: list[Any] = []

    def add(self, input_ids: Iterable[int], loss_mask: Iterable[int], extra: Any = None) -> None:
        ids = array("i", input_ids)
        mask = array("B", loss_mask)
        if len(ids) != len(mask):
            raise ValueError(f"ids/mask length mismatch: {len(ids)} vs {len(mask)}")
        self._ids.write(ids.tobytes())
        self._mask.write(mask.tobytes())
        self._offsets.append(self._offsets[-1] + len(ids))
        self._trained += sum(mask)
        self._extra.append(extra)

    def close(self) -> dict[str, Any]:
        self._ids.close()
        self._mask.close()
        np.save(self.folder / "offsets.npy", np.frombuffer(self._offsets, dtype=np.int64))
        if any(e is not None for e in self._extra):
            with open(self.folder / "extra.jsonl", "w", encoding="utf-8") as f:
                for e in self._extra:
                    f.write(json.dumps(e, ensure_ascii=False) + "\n")
        meta = {
            "n_samples": len(self._offsets) - 1,
            "n_tokens": int(self._offsets[-1]),
            "n_trained": int(self._trained),
            **self._meta,
        }
        atomic_write_json(self.folder / "meta.json", meta)
        return meta

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self._ids.close()
            self._mask.close()


class TokenShard:
    """Read-only view over a shard folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        meta_path = self.folder / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{self.folder} is not a complete token shard (no meta.json)")
        self.meta = json.loads(meta_path.read_text())
        self.offsets = np.load(self.folder / "offsets.npy")
        n = int(self.offsets[-1])
        self.input_ids = (
            np.memmap(self.folder / "input_ids.bin", dtype=np.int32, mode="r", shape=(n,))
            if n
            else np.zeros(0, np.int32)
        )
        self.loss_mask = (
            np.memmap(self.folder / "loss_mask.bin", dtype=np.uint8, mode="r", shape=(n,))
            if n
            else np.zeros(0, np.uint8)
        )

    @staticmethod
    def is_complete(folder: str | Path) -> bool:
        return (Path(folder) / "meta.json").exists()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return np.asarray(self.input_ids[a:b]), np.asarray(self.loss_mask[a:b])

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(len(self)):
            yield self[i]

    def extra(self) -> list[Any]:
        p = self.folder / "extra.jsonl"
        if not p.exists():
            return [None] * len(self)
        return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]


# -- Materialised mixture builds -> token shards -------------------------------------------------
#
# A materialised mixture build (engine/mixture writes it; docs/mixture-layout.md) is a folder with
# `mixture.json` (its manifest, with a "tasks" mapping) and `<task>/train.jsonl`,
# `<task>/valid.jsonl` in the canonical chat_rounds record format. Its token cache lives in
# `tokens/<tokenizer fingerprint>-<template>/<task>/<split>/`, shared by every run that uses
# the same build with the same tokenizer and template.


def token_cache_dir(build_dir: str | Path, tokenizer: Any, template: str) -> Path:
    return Path(build_dir) / "tokens" / f"{tokenizer_fingerprint(tokenizer)}-{template}"


def tokenize_build(
    build_dir: str | Path, tokenizer: Any, *, template: str = "chatml", progress: Any = None
) -> dict[str, dict[str, TokenShard]]:
    """Token shards for every task and split of a build, built once and reused.

    `progress(done_rows, total_rows)` is called while tokenising (if given).
    """
    from engine.chat import encode

    build_dir = Path(build_dir)
    cache = token_cache_dir(build_dir, tokenizer, template)
    tasks = build_tasks(build_dir)
    todo = []
    for task in tasks:
        for split in ("train", "valid"):
            src = build_dir / task / f"{split}.jsonl"
            if src.exists() and not TokenShard.is_complete(cache / task / split):
                todo.append((task, split, src))
    total = sum(sum(1 for _ in open(src, encoding="utf-8")) for _, _, src in todo)
    done = 0
    for task, split, src in todo:
        with ShardWriter(
            cache / task / split,
            task=task,
            split=split,
            template=template,
            tokenizer=tokenizer_fingerprint(tokenizer),
            source=str(src),
        ) as w:
            with open(src, encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    rec = json.loads(line)
                    enc = encode(tokenizer, rec["chat_rounds"], template=template)
                    w.add(enc.input_ids, enc.loss_mask, extra={"id": rec.get("id")})
                    done += 1
                    if progress is not None and done % 256 == 0:
                        progress(done, total)
    if progress is not None:
        progress(total, total)
    out: dict[str, dict[str, TokenShard]] = {}
    for task in tasks:
        out[task] = {}
        for split in ("train", "valid"):
            if TokenShard.is_complete(cache / task / split):
                out[task][split] = TokenShard(cache / task / split)
    return out
