"""Answer quality checks: empty, truncated and refusal answers (and empty prompts).

Each check returns None (fine) or a short detail for the drop report.
"""

from __future__ import annotations

import re

from engine.data.code import fenced_blocks, prose

# Refusals and model disclaimers, checked on the prose (code removed) near the start.
_REFUSAL = re.compile(
    r"(\bI(?:'m| am) (?:sorry|afraid)\b.{0,60}\b(?:can(?:no|')t|unable|not able|won't)"
    r"|\bI (?:can(?:no|')t|am unable to|'m unable to|am not able to|won't be able to|will not) "
    r"(?:help|assist|provide|fulfil+|comply|complete|write|create|generate|do that|answer|support)"
    r"|\bas an AI(?: language model)?\b|\bI apologi[sz]e,? but\b"
    r"|\bI(?:'m| am) (?:just )?an AI\b|\bI do not have the (?:ability|capability)\b"
    r"|\b(?:this|that|your) request (?:is|goes) against\b"
    r"|\bviolates? (?:the |my |our )?(?:policy|policies|guidelines)\b)",
    re.I | re.S,
)
REFUSAL_WINDOW = 300
# A last character that cannot end a finished answer.
_DANGLING = set(",([{\\:")


def empty_answer(bot_texts: list[str]) -> str | None:
    if all(not t.strip() for t in bot_texts):
        return "the answer is empty"
    return None


def empty_prompt(human_texts: list[str]) -> str | None:
    if all(not t.strip() for t in human_texts):
        return "the prompt is empty"
    return None


def truncated(answer: str) -> str | None:
    blocks = fenced_blocks(answer)
    if blocks and not blocks[-1].closed:
        return "ends inside an unclosed code block"
    tail = answer.rstrip()
    if tail and tail[-1] in _DANGLING and not tail.endswith(("::", ":)", ":(")):
        return f"ends with {tail[-1]!r} (cut off)"
    return None


_REFUSAL_WORDS = (
    "sorry",
    "afraid",
    "can't",
    "cannot",
    "unable",
    "not able",
    "won't",
    "will not",
    " ai",
    "apologi",
    "do not have the",
    "request",
    "violat",
)


def refusal(answer: str) -> str | None:
    low = answer.lower()
    if not any(w in low for w in _REFUSAL_WORDS):
        return None
    text = prose(answer).strip()
    m = _REFUSAL.search(text[:REFUSAL_WINDOW])
    if m is None and not fenced_blocks(answer) and len(text) < 1200:
        m = _REFUSAL.search(text)  # short prose-only answers: anywhere
    if m is not None:
        snippet = text[max(0, m.start() - 20) : m.end() + 40].replace("\n", " ")
        return f"refusal/disclaimer: ...{snippet}..."
    return None
