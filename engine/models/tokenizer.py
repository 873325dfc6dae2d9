"""The one tokenizer loader (training, validation, token counts). What differs between callers
is explicit: `pad` says whether a tokenizer without a pad token gets eos as its pad token
(batched generation needs one; the trainer pads by id and saves the tokenizer untouched)."""

from __future__ import annotations

from typing import Any, Literal

PadRule = Literal["keep", "eos"]


def load_tokenizer(source: str, *, trust_remote_code: bool = False, pad: PadRule = "keep") -> Any:
    """AutoTokenizer of a folder or hub id, remote code checked first (one-line errors), with
    ChatML as its chat template when it has none (engine.models.families)."""
    from transformers import AutoTokenizer

    from engine.models.families import ensure_chat_template
    from engine.models.remote import explain_load_error, preflight

    preflight(source, trust_remote_code=trust_remote_code, what="tokenizer")
    try:
        tok = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except Exception as e:  # noqa: BLE001 - hub, offline, format, remote-code problems: one line naming the source
        raise explain_load_error(source, e) from None
    if pad == "eos" and tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return ensure_chat_template(tok)


def pad_id(tok: Any) -> int:
    """The id rows are padded with: pad, else eos, else 0."""
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    return int(pad if pad is not None else 0)
