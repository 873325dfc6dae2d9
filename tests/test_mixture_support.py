"""Shared test data for the mixture tests (no tests here): processed datasets made from
../shared/data/instruct/ and ../shared/data/leetcode/ with the tiny tokenizer, built once per
process and linked into each test's workspace."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import shared_data

_BUILT: dict[str, Path] = {}

# Plain-keyword language guesses for un-fenced alpaca answers (test data only).
_GUESS = [
    ("cpp", re.compile(r"#include|std::|cout\s*<<")),
    ("java", re.compile(r"public\s+(static|class)|System\.out")),
    ("rust", re.compile(r"\bfn\s+\w+\(|println!|let\s+mut\b")),
    ("go", re.compile(r"\bfunc\s+\w+\(|fmt\.Print|package\s+main")),
    ("javascript", re.compile(r"\bfunction\s+\w*\(|console\.log|=>\s*\{|\bconst\s+\w+\s*=")),
    ("python", re.compile(r"\bdef\s+\w+\(|\bprint\(|^import\s+\w+|\bself\.", re.M)),
]


def guess_languages(text: str) -> list[str]:
    from engine.mixture.mftcoder_records import fence_languages

    langs = fence_languages(text)
    if langs:
        return langs
    for lang, pat in _GUESS:
        if pat.search(text):
            return [lang]
    return []


def alpaca_records(path: Path, source: str) -> list[dict[str, Any]]:
    out = []
    for i, r in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        prompt = r["instruction"] + (("\n\n" + r["input"]) if r.get("input") else "")
        out.append({"id": f"{source}-{i}", "source": source, "row": i,
                    "chat_rounds": [{"role": "human", "content": prompt}, {"role": "bot", "content": r["output"]}],
                    "languages": guess_languages(r["output"])})
    return out


def leetcode_records(path: Path, source: str) -> list[dict[str, Any]]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            out.append({"id": r["task_id"], "source": source, "row": i,
                        "chat_rounds": [{"role": "human", "content": r["query"]},
                                        {"role": "bot", "content": r["response"]}],
                        "languages": ["python"]})
    return out


def add_token_counts(records: list[dict[str, Any]], tokenizer: Any) -> None:
    from engine.mixture.mftcoder import count_tokens

    count_tokens(records, tokenizer, "chatml")


def processed_root(tmp_root: Path, tiny_model_dir: Path) -> Path:
    """datasets/ with code_alpaca, evol_alpaca, leetcode (tiny-tokenizer n_tokens); built once."""
    key = str(tiny_model_dir)
    if key in _BUILT:
        return _BUILT[key]
    from transformers import AutoTokenizer

    from engine.data.store import write_processed

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    root = tmp_root / "processed"
    sets = {
        "code_alpaca": alpaca_records(shared_data("instruct", "code_alpaca_2k.json"), "code_alpaca_2k.json"),
        "evol_alpaca": alpaca_records(shared_data("instruct", "evol_codealpaca_2k.json"), "evol_codealpaca_2k.json"),
        "leetcode": leetcode_records(shared_data("leetcode", "LeetCodeDataset-v0.2.0-train.jsonl.gz"),
                                     "LeetCodeDataset-v0.2.0-train"),
    }
    for name, recs in sets.items():
        add_token_counts(recs, tok)
        write_processed(root / name, recs, {"name": name, "made_by": "tests/test_mixture_support.py"})
    _BUILT[key] = root
    return root


def link_datasets(ws: Any, root: Path, names: list[str] | None = None) -> None:
    """Make processed datasets visible in a workspace (symlinks: nothing is copied)."""
    for d in sorted(root.iterdir()):
        if names is None or d.name in names:
            (ws.datasets_dir / d.name).symlink_to(d, target_is_directory=True)


def tiny_tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)

