"""Code inside conversation text: fenced blocks (``` or ~~~, with their info string), whole
answers that are bare code, and the full-width → ASCII normalisation the contest baseline
applied to code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# An opening fence at line start (up to 3 spaces of indent), its info string, then the body up
# to a closing fence of the same character and at least the same length, or the end of text.
_FENCE = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n", re.M)


@dataclass(frozen=True)
class Block:
    info: str  # the fence's info string ("" when none or not fenced)
    code: str
    start: int  # offsets of `code` inside the text
    end: int
    fenced: bool = True
    closed: bool = True


@lru_cache(maxsize=256)
def _fenced(text: str) -> tuple[Block, ...]:
    return tuple(_scan(text))


def fenced_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a markdown text, in order (the last may be unclosed)."""
    if "```" not in text and "~~~" not in text:
        return []
    return list(_fenced(text))


def _scan(text: str) -> list[Block]:
    blocks: list[Block] = []
    pos = 0
    while True:
        m = _FENCE.search(text, pos)
        if m is None:
            return blocks
        fence = m.group("fence")
        close = re.compile(r"^[ \t]{0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.M)
        c = close.search(text, m.end())
        info = m.group("info").strip()
        if c is None:
            blocks.append(Block(info, text[m.end() :], m.end(), len(text), closed=False))
            return blocks
        body_end = c.start() - 1 if c.start() > m.end() else m.end()  # drop the newline before the fence
        blocks.append(Block(info, text[m.end() : max(body_end, m.end())], m.end(), max(body_end, m.end())))
        pos = c.end()


def prose(text: str) -> str:
    """The text with its fenced blocks removed."""
    out, pos = [], 0
    for b in fenced_blocks(text):
        out.append(text[pos : b.start])
        pos = b.end
    out.append(text[pos:])
    return "".join(out)


# Full-width ASCII variants (U+FF01..U+FF5E) and the CJK punctuation the contest baseline
# rewrote, plus non-breaking spaces. Applied to code only.
FULLWIDTH: dict[int, int | str] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
FULLWIDTH.update(
    {
        0x3000: " ",
        0x00A0: " ",
        0x202F: " ",
        0x2002: " ",
        0x2003: " ",
        0x3001: ",",
        0x3002: ".",
        0x201C: '"',
        0x201D: '"',
        0x2018: "'",
        0x2019: "'",
        0x3010: "[",
        0x3011: "]",
        0x300A: "<",
        0x300B: ">",
        0x3008: "<",
        0x3009: ">",
        0xFF5F: "(",
        0xFF60: ")",
        0x2026: "...",
        0xFFE5: "$",
    }
)
_FULLWIDTH_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(FULLWIDTH)) + "]")


def normalize_code(code: str) -> tuple[str, int]:
    """(code with full-width characters as ASCII, how many were changed)."""
    n = len(_FULLWIDTH_RE.findall(code))
    return (code.translate(FULLWIDTH), n) if n else (code, 0)


def normalize_text_code(text: str, *, bare_code: bool = False) -> tuple[str, int]:
    """Normalise inside the fenced blocks of `text` (or all of it when it is bare code)."""
    if bare_code:
        return normalize_code(text)
    blocks = fenced_blocks(text)
    if not blocks:
        return text, 0
    out, pos, total = [], 0, 0
    for b in blocks:
        out.append(text[pos : b.start])
        fixed, n = normalize_code(b.code)
        out.append(fixed)
        total += n
        pos = b.end
    out.append(text[pos:])
    return ("".join(out), total) if total else (text, 0)
