"""Conversations: MFTCoder's `chat_rounds` rendered with a chat template, and tokenised with a
loss mask (only assistant turns and their end token are trained).

Canonical record (what every converter produces, see engine/data):
    {"id": str, "source": str, "row": int,
     "chat_rounds": [{"role": "system"|"human"|"bot", "content": str}, ...]}

Templates
- "chatml" (Qwen, MFTCoder's competition branch): each round is
  `<|im_start|>{system|user|assistant}\\n{content}<|im_end|>\\n`; the loss covers the bot
  content plus its `<|im_end|>`; the trailing newline of the last round is dropped.
- "tokenizer": the model tokenizer's own Jinja `chat_template`; trained spans are found by
  rendering the prefix before each assistant turn and the text after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ROLES = ("system", "human", "bot")
CHATML_ROLE = {"system": "system", "human": "user", "bot": "assistant"}
OPENAI_ROLE = CHATML_ROLE
IM_START, IM_END, ENDOFTEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
TEMPLATES = ("chatml", "tokenizer")


@dataclass(frozen=True)
class Segment:
    text: str
    trained: bool


def validate_rounds(rounds: Any) -> list[dict[str, str]]:
    """Check a chat_rounds value; raise ValueError naming the first problem."""
    if not isinstance(rounds, list) or not rounds:
        raise ValueError("chat_rounds must be a non-empty list")
    for i, r in enumerate(rounds):
        if not isinstance(r, dict):
            raise ValueError(f"chat_rounds[{i}] is not an object")
        if r.get("role") not in ROLES:
            raise ValueError(f"chat_rounds[{i}].role is {r.get('role')!r}; expected one of {ROLES}")
        if not isinstance(r.get("content"), str):
            raise ValueError(f"chat_rounds[{i}].content must be a string")
    if not any(r["role"] == "bot" for r in rounds):
        raise ValueError("chat_rounds has no bot (assistant) turn")
    return rounds


def render_chatml(rounds: Sequence[dict[str, str]], *, add_generation_prompt: bool = False) -> list[Segment]:
    segs: list[Segment] = []
    for r in rounds:
        role = CHATML_ROLE[r["role"]]
        segs.append(Segment(f"{IM_START}{role}\n", False))
        if r["role"] == "bot":
            segs.append(Segment(r["content"] + IM_END, True))
            segs.append(Segment("\n", False))
        else:
            segs.append(Segment(r["content"] + IM_END + "\n", False))
    if add_generation_prompt:
        segs.append(Segment(f"{IM_START}assistant\n", False))
    elif segs and segs[-1].text == "\n" and not segs[-1].trained:
        segs.pop()  # MFTCoder drops the final newline
    return segs


def to_messages(rounds: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": OPENAI_ROLE[r["role"]], "content": r["content"]} for r in rounds]


def render_with_tokenizer(
    tokenizer: Any, rounds: Sequence[dict[str, str]], *, add_generation_prompt: bool = False
) -> list[Segment]:
    """Segments from the tokenizer's own chat template (prefix-consistent templates)."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("the tokenizer has no chat_template; use template 'chatml'")
    msgs = to_messages(rounds)
    segs: list[Segment] = []
    done = ""
    for i, m in enumerate(msgs):
        if m["role"] != "assistant":
            continue
        prefix = tokenizer.apply_chat_template(msgs[:i], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(msgs[: i + 1], tokenize=False)
        if not prefix.startswith(done) or not full.startswith(prefix):
            raise ValueError("the tokenizer's chat template is not prefix-consistent; use template 'chatml'")
        if len(prefix) > len(done):
            segs.append(Segment(prefix[len(done) :], False))
        # Train on the assistant content and the template's end marker, not on what follows it.
        body = full[len(prefix) :]
        cut = body.find(m["content"]) + len(m["content"]) if m["content"] in body else len(body)
        tail = body[cut:]
        end_tok = getattr(tokenizer, "eos_token", None) or IM_END
        keep = cut + (tail.find(end_tok) + len(end_tok) if end_tok in tail else 0)
        segs.append(Segment(body[:keep], True))
        if keep < len(body):
            segs.append(Segment(body[keep:], False))
        done = full
    rest = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=add_generation_prompt)
    if len(rest) > len(done) and rest.startswith(done):
        segs.append(Segment(rest[len(done) :], False))
    return segs


def render(
    rounds: Sequence[dict[str, str]],
    *,
    template: str = "chatml",
    tokenizer: Any = None,
    add_generation_prompt: bool = False,
) -> list[Segment]:
    if template == "chatml":
        return render_chatml(rounds, add_generation_prompt=add_generation_prompt)
    if template == "tokenizer":
        return render_with_tokenizer(tokenizer, rounds, add_generation_prompt=add_generation_prompt)
    raise ValueError(f"unknown chat template {template!r}; expected one of {TEMPLATES}")


def render_text(rounds: Sequence[dict[str, str]], **kw: Any) -> str:
    return "".join(s.text for s in render(rounds, **kw))


@dataclass
class Encoded:
    input_ids: list[int]
    loss_mask: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def n_trained(self) -> int:
        return sum(self.loss_mask)


def _spans(segs: Iterable[Segment]) -> tuple[str, list[tuple[int, int]]]:
    text, spans, pos = [], [], 0
    for s in segs:
        if s.trained and s.text:
            spans.append((pos, pos + len(s.text)))
        text.append(s.text)
        pos += len(s.text)
    return "".join(text), spans


def encode_segments(tokenizer: Any, segs: Sequence[Segment]) -> Encoded:
    """Tokenise the whole text at once (so merges are as at inference) and mark a token trained
    when it starts inside a trained span. Tokenizers without offsets: per-segment encoding."""
    text, spans = _spans(segs)
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
    except (NotImplementedError, TypeError, ValueError, KeyError):
        ids, mask = [], []
        for s in segs:
            part = tokenizer(s.text, add_special_tokens=False)["input_ids"]
            ids.extend(part)
            mask.extend([int(s.trained)] * len(part))
        return Encoded(ids, mask)
    ids, offsets = _split_at_boundaries(tokenizer, text, list(enc["input_ids"]), list(offsets), spans)
    mask = [0] * len(ids)
    j = 0
    for i, (a, b) in enumerate(offsets):
        while j < len(spans) and spans[j][1] <= a:
            j += 1
        if j < len(spans) and spans[j][0] <= a < spans[j][1] and b > a:
            mask[i] = 1
    return Encoded(ids, mask)


def _split_at_boundaries(
    tokenizer: Any, text: str, ids: list[int], offsets: list[tuple[int, int]], spans: list[tuple[int, int]]
) -> tuple[list[int], list[tuple[int, int]]]:
    """A token that crosses the edge of a trained span (Qwen's `\\s*[\\r\\n]+` joins the newline
    after `assistant` with an answer's leading newline) is re-encoded as the pieces on each side,
    so exactly the span is trained, as MFTCoder's per-segment tokenisation does."""
    edges = sorted({e for sp in spans for e in sp})
    if not edges:
        return ids, offsets
    out_ids: list[int] = []
    out_off: list[tuple[int, int]] = []
    for tid, (a, b) in zip(ids, offsets):
        cuts = [e for e in edges if a < e < b]
        if not cuts:
            out_ids.append(tid)
            out_off.append((a, b))
            continue
        for lo, hi in zip([a, *cuts], [*cuts, b]):
            part = tokenizer(text[lo:hi], add_special_tokens=False, return_offsets_mapping=True)
            out_ids.extend(part["input_ids"])
            out_off.extend((lo + x, lo + y) for x, y in part["offset_mapping"])
    return out_ids, out_off


def encode(tokenizer: Any, rounds: Sequence[dict[str, str]], *, template: str = "chatml") -> Encoded:
    return encode_segments(tokenizer, render(rounds, template=template, tokenizer=tokenizer))
