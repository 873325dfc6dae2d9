"""The workspace tokenizer (the default model's) for token counts and the loss-mask preview.

Loaded with `transformers.AutoTokenizer`, exactly as the trainer loads it: a model's tokenizer
class may rebuild the pipeline stored in tokenizer.json (Qwen2's pre-tokenizer regex and NFC
normaliser, for one), so reading tokenizer.json alone would count differently. Counting
then goes straight to the fast backend in batches. Importing transformers costs seconds:
callers in the app do this in a worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.chat import render_text
from engine.errors import WorkbenchError
from engine.fsutil import file_fingerprint
from engine.workspace import Workspace


def load_tokenizer(ws: Workspace, model: str | None = None) -> Any:
    """The tokenizer of `model` (default: the workspace's default model), loaded by the same
    loader as the trainer's (engine.models.tokenizer), so counts and cache keys match."""
    from engine.models.tokenizer import load_tokenizer as load

    try:
        where = ws.model_path(model)
    except WorkbenchError as e:
        raise WorkbenchError(f"{e}; token counts need a tokenizer") from None
    entry = ws.config.models.get(model or ws.config.defaults.model or "")
    return load(where, trust_remote_code=bool(entry and entry.trust_remote_code), pad="keep")


def tokenizer_identity(ws: Workspace, model: str | None = None) -> Any:
    """A cheap cache key for `model`'s tokenizer (default: the workspace's default model): its
    tokenizer files' fingerprints, or the hub id. None when no model is configured. Loading the
    tokenizer itself takes seconds; this does not."""
    try:
        where = ws.model_path(model)
    except WorkbenchError:
        return None
    p = Path(where)
    if p.is_dir():
        files = sorted(
            f
            for f in p.iterdir()
            if f.is_file()
            and ("token" in f.name or f.suffix in (".jinja", ".txt") or f.name in ("vocab.json", "merges.txt"))
        )
        return {"path": str(p), "files": [file_fingerprint(f) for f in files]}
    return {"hub": where}


def token_lengths(
    tokenizer: Any, conversations: Sequence[list[dict[str, str]]], *, template: str = "chatml"
) -> list[int]:
    """Tokens of each conversation as the trainer sees it (rendered with the chat template,
    the whole text tokenised at once, as engine/chat.py's `encode` does)."""
    texts = [render_text(c, template=template, tokenizer=tokenizer) for c in conversations]
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return [len(e.ids) for e in backend.encode_batch(texts, add_special_tokens=False)]
    enc = tokenizer(texts, add_special_tokens=False)
    return [len(x) for x in enc["input_ids"]]
