"""Row layouts of instruction data and their conversion to the canonical record
(engine/chat.py): {"id", "source", "row", "chat_rounds": [{"role", "content"}]}.

Formats (the `format=` of a catalog entry):
    alpaca             instruction, input (optional), output        (+ system optional)
    evol               instruction, output | response               (+ system optional)
    prompt_completion  prompt, completion | response                (+ system optional)
    prompt_answer      prompt, answer                               (+ system optional)
    sharegpt           conversations: [{from: human|user|gpt|assistant|system, value}]
    messages           messages: [{role: user|assistant|system (human|bot accepted), content}]
    chat_rounds        chat_rounds: [{role: human|bot|system (user|assistant accepted), content}]
    leetcode           query, response                              (LeetCodeDataset)
    auto               detected from the fields of the first rows

An explicit column mapping `{field: column}` (catalog `columns`) reads a format's field from
another column, e.g. {"instruction": "text", "output": "code"}; with format auto, detection
runs on the mapped fields.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from engine.errors import InputError

FORMATS = ("alpaca", "evol", "prompt_completion", "prompt_answer", "sharegpt", "messages", "chat_rounds", "leetcode")
FORMAT_CHOICES = ("auto",) + FORMATS

ROLE_ALIASES = {
    "system": "system",
    "human": "human",
    "user": "human",
    "prompter": "human",
    "question": "human",
    "bot": "bot",
    "assistant": "bot",
    "gpt": "bot",
    "chatgpt": "bot",
    "model": "bot",
    "ai": "bot",
    "answer": "bot",
}

# What each format needs: required field groups (any alias of a group will do).
SIGNATURES: dict[str, list[tuple[str, ...]]] = {
    "chat_rounds": [("chat_rounds",)],
    "messages": [("messages",)],
    "sharegpt": [("conversations",)],
    "leetcode": [("query",), ("response",)],
    "alpaca": [("instruction",), ("input",), ("output",)],
    "evol": [("instruction",), ("output", "response")],
    "prompt_completion": [("prompt",), ("completion", "response")],
    "prompt_answer": [("prompt",), ("answer",)],
}
# Detection order: the most specific layout first (alpaca before evol: both have instruction/output).
DETECT_ORDER = (
    "chat_rounds",
    "messages",
    "sharegpt",
    "leetcode",
    "alpaca",
    "evol",
    "prompt_completion",
    "prompt_answer",
)


class RowError(ValueError):
    """A row that cannot be converted; `field` names the culprit."""

    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.field = field


def check_format(fmt: str) -> str:
    if fmt not in FORMAT_CHOICES:
        raise InputError(f"unknown format {fmt!r}; supported: {', '.join(FORMAT_CHOICES)}", field="format")
    return fmt


def apply_columns(row: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    """Read each format field from its mapped column."""
    if not columns:
        return row
    out = dict(row)
    for field, col in columns.items():
        if col not in row:
            raise RowError(f"mapped column '{col}' (for field '{field}') is missing", field=col)
        out[field] = row[col]
    return out


def matches(fmt: str, keys: Iterable[str]) -> bool:
    keys = set(keys)
    return all(any(k in keys for k in group) for group in SIGNATURES[fmt])


def detect(rows: list[dict[str, Any]], *, where: str | None = None) -> str:
    """The format most of these rows match; an InputError naming the fields found otherwise."""
    votes: Counter[str] = Counter()
    for r in rows:
        for fmt in DETECT_ORDER:
            if matches(fmt, r.keys()):
                votes[fmt] += 1
                break
    if votes:
        best = max(votes.values())
        return next(f for f in DETECT_ORDER if votes.get(f) == best)
    fields = sorted({k for r in rows for k in r})
    raise InputError(
        f"unknown data layout: fields found {fields or '(none)'}; supported formats: "
        + "; ".join(f"{f} ({'+'.join('|'.join(g) for g in SIGNATURES[f])})" for f in DETECT_ORDER)
        + ". Map your columns with `workbench data add ... --column FIELD=COLUMN`.",
        file=where,
        field="format",
    )


def _text(row: dict[str, Any], field: str, *, required: bool = True) -> str:
    if field not in row or row[field] is None:
        if required:
            raise RowError(f"missing field '{field}'", field=field)
        return ""
    v = row[field]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    if not isinstance(v, str):
        raise RowError(f"field '{field}' must be a string, got {type(v).__name__}", field=field)
    return v


def _first(row: dict[str, Any], names: tuple[str, ...]) -> str:
    for n in names:
        if n in row and row[n] is not None:
            return n
    return names[0]


def _with_system(row: dict[str, Any], rounds: list[dict[str, str]]) -> list[dict[str, str]]:
    sys_text = _text(row, "system", required=False)
    return ([{"role": "system", "content": sys_text}] if sys_text.strip() else []) + rounds


def _pair(prompt_field: tuple[str, ...], answer_field: tuple[str, ...]) -> Callable[[dict[str, Any]], list]:
    def conv(row: dict[str, Any]) -> list[dict[str, str]]:
        p = _text(row, _first(row, prompt_field))
        a = _text(row, _first(row, answer_field))
        return _with_system(row, [{"role": "human", "content": p}, {"role": "bot", "content": a}])

    return conv


def _alpaca(row: dict[str, Any]) -> list[dict[str, str]]:
    ins = _text(row, "instruction")
    inp = _text(row, "input", required=False)
    out = _text(row, "output")
    human = ins + ("\n\n" + inp if inp.strip() else "")
    return _with_system(row, [{"role": "human", "content": human}, {"role": "bot", "content": out}])


def _content(v: Any, field: str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, list):  # OpenAI content parts: keep the text parts
        parts = []
        for p in v:
            if isinstance(p, dict) and p.get("type", "text") == "text" and isinstance(p.get("text"), str):
                parts.append(p["text"])
            else:
                raise RowError(f"{field} has a non-text content part", field=field)
        return "".join(parts)
    raise RowError(f"{field} must be a string, got {type(v).__name__}", field=field)


def _turns(row: dict[str, Any], list_field: str, role_keys: tuple[str, ...], content_keys: tuple[str, ...]) -> list:
    turns = row.get(list_field)
    if turns is None:
        raise RowError(f"missing field '{list_field}'", field=list_field)
    if hasattr(turns, "tolist"):  # numpy arrays from Parquet via datasets
        turns = turns.tolist()
    if not isinstance(turns, list):
        raise RowError(f"field '{list_field}' must be a list, got {type(turns).__name__}", field=list_field)
    rounds: list[dict[str, str]] = []
    for i, t in enumerate(turns):
        where = f"{list_field}[{i}]"
        if not isinstance(t, dict):
            raise RowError(f"{where} must be an object, got {type(t).__name__}", field=where)
        rk = next((k for k in role_keys if k in t), None)
        ck = next((k for k in content_keys if k in t), None)
        if rk is None:
            raise RowError(f"{where} has no '{role_keys[0]}'", field=f"{where}.{role_keys[0]}")
        if ck is None:
            raise RowError(f"{where} has no '{content_keys[0]}'", field=f"{where}.{content_keys[0]}")
        role = ROLE_ALIASES.get(str(t[rk]).strip().lower()) if isinstance(t[rk], str) else None
        if role is None:
            raise RowError(
                f"{where}.{rk} is {t[rk]!r}; expected system, human/user or bot/assistant/gpt", field=f"{where}.{rk}"
            )
        rounds.append({"role": role, "content": _content(t[ck], f"{where}.{ck}")})
    sys_text = row.get("system")  # some sets keep the system prompt beside the turns
    if isinstance(sys_text, str) and sys_text.strip() and not any(r["role"] == "system" for r in rounds):
        rounds.insert(0, {"role": "system", "content": sys_text})
    return rounds


CONVERTERS: dict[str, Callable[[dict[str, Any]], list[dict[str, str]]]] = {
    "alpaca": _alpaca,
    "evol": _pair(("instruction",), ("output", "response")),
    "prompt_completion": _pair(("prompt",), ("completion", "response")),
    "prompt_answer": _pair(("prompt",), ("answer",)),
    "leetcode": _pair(("query",), ("response",)),
    "sharegpt": lambda r: _turns(r, "conversations", ("from", "role"), ("value", "content")),
    "messages": lambda r: _turns(r, "messages", ("role", "from"), ("content", "value")),
    "chat_rounds": lambda r: _turns(r, "chat_rounds", ("role",), ("content",)),
}


def convert_row(row: dict[str, Any], fmt: str, columns: dict[str, str] | None = None) -> list[dict[str, str]]:
    """chat_rounds of one row; RowError (with the field) when it cannot be converted."""
    if not isinstance(row, dict):
        raise RowError(f"expected an object, got {type(row).__name__}")
    row = apply_columns(row, columns or {})
    rounds = CONVERTERS[fmt](row)
    if not rounds:
        raise RowError("the conversation is empty")
    if not any(r["role"] == "bot" for r in rounds):
        raise RowError("the conversation has no bot (assistant) turn")
    if not any(r["role"] == "human" for r in rounds):
        raise RowError("the conversation has no human (user) turn")
    for i, r in enumerate(rounds):
        if r["role"] == "system" and i != 0:
            raise RowError(f"a system turn is only allowed first (found at turn {i})")
        try:
            r["content"].encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\\ud800" in JSON): cannot be stored or tokenised
            raise RowError(f"turn {i} has invalid Unicode (a lone surrogate)") from None
    return rounds


def record_id(source: str, row: int) -> str:
    return f"{source}:{row}"
