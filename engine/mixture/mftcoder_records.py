"""Reading MFTCoder task folders: the JSONL record layouts its two branches accept, turned into
canonical records (chat_rounds with system/human/bot roles), with located errors.

Accepted per line (as MFTCoder's `codeqwen_competition` and `main` branches):
  {"chat_rounds": [{"role": "system|human|bot" (also user/assistant/gpt), "content"}, ...]}
  {"prompt", "answer"} (+ optional "system"), and main's pairs: prompt/response,
  input/output, instruction/output, instruction/response, question/response,
  question/answer, query/answer, query/response, prompt/completion.
Pretraining `{"text"}` lines have no assistant turn and are rejected (this is SFT data).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLE_MAP = {"system": "system", "human": "human", "user": "human", "bot": "bot", "assistant": "bot", "gpt": "bot"}
PAIRS = [
    ("prompt", "answer"),
    ("prompt", "response"),
    ("prompt", "completion"),
    ("input", "output"),
    ("instruction", "output"),
    ("instruction", "response"),
    ("question", "response"),
    ("question", "answer"),
    ("query", "answer"),
    ("query", "response"),
]
# Fence info strings -> contest language names (engine/data/langs.py's: python, javascript, java, go,
# cpp, rust); used when that module is not available.
FENCE_LANGS = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "javascript": "javascript",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "java": "java",
    "go": "go",
    "golang": "go",
    "cpp": "cpp",
    "c++": "cpp",
    "cxx": "cpp",
    "cc": "cpp",
    "hpp": "cpp",
    "rust": "rust",
    "rs": "rust",
}
_FENCE = re.compile(r"^\s*```+\s*([A-Za-z0-9_+#.-]*)", re.MULTILINE)


class RecordError(ValueError):
    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.reason, self.field = reason, field


@dataclass
class BadLine:
    file: str
    line: int
    field: str | None
    reason: str

    def describe(self) -> str:
        return f"{self.file}:{self.line}: " + (f"field '{self.field}': " if self.field else "") + self.reason


def fence_languages(*texts: str) -> list[str]:
    """Contest languages named by code fences, in order of first appearance."""
    out: list[str] = []
    for text in texts:
        for m in _FENCE.finditer(text or ""):
            lang = FENCE_LANGS.get(m.group(1).lower())
            if lang and lang not in out:
                out.append(lang)
    return out


def record_languages(rounds: list[dict[str, str]]) -> list[str]:
    """Contest languages of a conversation's code: the datasets pipeline's detector (fences, then
    the code itself)."""
    from engine.data.langs import record_languages as detect

    return list(detect(rounds)[0])


def to_chat_rounds(obj: Any) -> list[dict[str, str]]:
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    if "chat_rounds" in obj:
        rounds = obj["chat_rounds"]
        if not isinstance(rounds, list) or not rounds:
            raise RecordError("must be a non-empty list", "chat_rounds")
        out = []
        for i, r in enumerate(rounds):
            if not isinstance(r, dict):
                raise RecordError("is not an object", f"chat_rounds[{i}]")
            role = ROLE_MAP.get(str(r.get("role", "")).lower())
            if role is None:
                raise RecordError(
                    f"unknown role {r.get('role')!r} (expected system, human/user or bot/assistant)",
                    f"chat_rounds[{i}].role",
                )
            content = r.get("content")
            if not isinstance(content, str):
                raise RecordError("must be a string", f"chat_rounds[{i}].content")
            out.append({"role": role, "content": content})
        if not any(r["role"] == "bot" for r in out):
            raise RecordError("has no bot (assistant) turn", "chat_rounds")
        return out
    for q, a in PAIRS:
        if q in obj and a in obj:
            for k in (q, a):
                if not isinstance(obj[k], str):
                    raise RecordError("must be a string", k)
            if not obj[a].strip():
                raise RecordError("is empty", a)
            rounds = []
            system = obj.get("system")
            if isinstance(system, str) and system:
                rounds.append({"role": "system", "content": system})
            rounds += [{"role": "human", "content": obj[q]}, {"role": "bot", "content": obj[a]}]
            return rounds
    if "text" in obj:
        raise RecordError("pretraining text has no answer to train on; give chat_rounds or prompt/answer", "text")
    fields = ", ".join(sorted(map(str, obj))[:8]) or "none"
    raise RecordError(f"unknown record layout (fields: {fields}); expected chat_rounds or prompt/answer")


def task_files(path: Path) -> list[Path]:
    """The files MFTCoder reads for one data path: the file itself, or a folder's data files."""
    if path.is_file():
        return [path]
    files = [
        p
        for p in sorted(path.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    return [p for p in files if p.suffix in (".jsonl", ".json", ".gz", ".txt") or not p.suffix]


def _lines(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, error) per line; a JSON-array file yields one entry per element."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        first = f.read(4096).lstrip()
        f.seek(0)
        if first.startswith(b"["):
            try:
                arr = json.loads(f.read().decode("utf-8"))
            except UnicodeDecodeError as e:
                yield 1, None, f"not valid UTF-8 ({e.reason})"
                return
            except json.JSONDecodeError as e:
                yield e.lineno, None, f"invalid JSON: {e.msg}"
                return
            for i, item in enumerate(arr if isinstance(arr, list) else [arr], 1):
                yield i, json.dumps(item, ensure_ascii=False), None
            return
        for i, raw in enumerate(f, 1):
            try:
                yield i, raw.decode("utf-8"), None
            except UnicodeDecodeError as e:
                yield i, None, f"not valid UTF-8 ({e.reason})"


def read_task(path: Path, *, source: str) -> tuple[list[dict[str, Any]], list[BadLine]]:
    """Canonical records of one task folder (or file), and the lines that could not be used."""
    records: list[dict[str, Any]] = []
    bad: list[BadLine] = []
    for file in task_files(path):
        try:
            for lineno, line, err in _lines(file):
                if err is not None or line is None:
                    bad.append(BadLine(str(file), lineno, None, err or "unreadable"))
                    continue
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    bad.append(BadLine(str(file), lineno, None, f"invalid JSON: {e.msg}"))
                    continue
                try:
                    rounds = to_chat_rounds(obj)
                except RecordError as e:
                    bad.append(BadLine(str(file), lineno, e.field, e.reason))
                    continue
                rid = obj.get("id") if isinstance(obj.get("id"), (str, int)) else None
                records.append(
                    {
                        "id": str(rid) if rid is not None else f"{file.name}:{lineno}",
                        "source": source,
                        "row": len(records),
                        "chat_rounds": rounds,
                        "languages": record_languages(rounds),
                    }
                )
        except (OSError, EOFError) as e:
            bad.append(BadLine(str(file), 0, None, f"cannot read: {e}"))
    return records, bad
