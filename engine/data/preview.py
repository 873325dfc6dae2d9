"""A conversation as the trainer sees it: rendered with the chat template, tokenised, each token
marked trained (loss mask 1) or not. For the Datasets screen's row preview and
`workbench data inspect --render`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.chat import encode_segments, render


@dataclass
class TokenSpan:
    text: str
    trained: bool


@dataclass
class Preview:
    tokens: list[TokenSpan]  # one per token, in order (their texts concatenate to the rendered text)
    n_tokens: int
    n_trained: int

    def runs(self) -> list[TokenSpan]:
        """Consecutive tokens with the same mask merged."""
        out: list[TokenSpan] = []
        for t in self.tokens:
            if out and out[-1].trained == t.trained:
                out[-1] = TokenSpan(out[-1].text + t.text, t.trained)
            else:
                out.append(TokenSpan(t.text, t.trained))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "n_tokens": self.n_tokens,
            "n_trained": self.n_trained,
            "segments": [{"text": r.text, "trained": r.trained} for r in self.runs()],
        }


def preview(tokenizer: Any, rounds: Sequence[dict[str, str]], *, template: str = "chatml") -> Preview:
    segs = render(rounds, template=template, tokenizer=tokenizer)
    text = "".join(s.text for s in segs)
    enc = encode_segments(tokenizer, segs)
    try:
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    except (NotImplementedError, TypeError, ValueError, KeyError):
        offsets = None
    spans: list[TokenSpan] = []
    if offsets is not None and len(offsets) == len(enc.input_ids):
        pos = 0
        for (a, b), m in zip(offsets, enc.loss_mask):
            start = max(a, pos)
            end = max(b, start)
            if start > pos:  # text no token claims (should not happen): attach it to this token
                start = pos
            spans.append(TokenSpan(text[start:end], bool(m)))
            pos = end
        if pos < len(text) and spans:
            spans[-1] = TokenSpan(spans[-1].text + text[pos:], spans[-1].trained)
    else:  # no offsets: decode token by token
        for i, m in zip(enc.input_ids, enc.loss_mask):
            spans.append(TokenSpan(tokenizer.decode([i]), bool(m)))
    return Preview(spans, len(enc.input_ids), enc.n_trained)


def preview_page(ws: Any, name: str, *, rows: int, offset: int = 0) -> dict[str, Any]:
    """A page of `name` as the trainer sees it: a catalog entry's rows as loaded (or a processed
    dataset's), each with its chat-template preview (`tokens`: (text, trained) per token) by the
    workspace tokenizer. Without a tokenizer the previews are None and `note` says why. Loads
    transformers: the app asks for this through `workbench data preview` (a subprocess)."""
    from engine.data.summary import peek, sample_processed
    from engine.data.tokenizer import load_tokenizer
    from engine.errors import WorkbenchError

    if name in ws.config.datasets:
        got = peek(ws, name, rows=rows, offset=offset)
        records, bad = got["records"], got["bad"]
    else:
        records, bad = sample_processed(ws, name, rows=rows, offset=offset), []
    previews: list[Any] = []
    note = None
    try:
        tok = load_tokenizer(ws)
        template = ws.config.defaults.chat_template
        for r in records:
            pv = preview(tok, r["chat_rounds"], template=template)
            previews.append({**pv.to_json(), "tokens": [(s.text, s.trained) for s in pv.tokens]})
    except WorkbenchError as e:
        note = f"no chat-template preview: {e}"
        previews = [None] * len(records)
    return {"name": name, "offset": offset, "records": records, "previews": previews, "bad": bad, "note": note}
