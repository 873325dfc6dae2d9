"""Typed field access for row readers: every error names the row's file, line and field."""

from __future__ import annotations

import json
from typing import Any

from engine.errors import InputError

Where = dict[str, Any]  # {"file": ..., "line": ...} of the row being read


def text(row: dict[str, Any], key: str, *, where: Where, required: bool = False) -> str:
    v = row.get(key)
    if v is None:
        if required:
            raise InputError("missing field", field=key, **where)
        return ""
    if not isinstance(v, str):
        raise InputError(f"expected text, got {type(v).__name__}", field=key, **where)
    return v


def optional_text(row: dict[str, Any], key: str) -> str | None:
    v = row.get(key)
    return v if isinstance(v, str) else None


def text_list(row: dict[str, Any], key: str, *, where: Where) -> tuple[str, ...]:
    v = row.get(key)
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InputError("expected a list of strings", field=key, **where)
    return tuple(v)


def task_id(row: dict[str, Any], key: str = "task_id", *, where: Where) -> str:
    v = row.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        raise InputError("missing field", field=key, **where)
    if not isinstance(v, (str, int)) or isinstance(v, bool):
        raise InputError(f"expected text or a number, got {type(v).__name__}", field=key, **where)
    return str(v).strip()


def json_field(row: dict[str, Any], key: str, *, where: Where) -> Any:
    """A field that holds JSON: an object/list as it is, or a JSON string (as APPS and
    LiveCodeBench store theirs) decoded."""
    v = row.get(key)
    if isinstance(v, str):
        try:
            return json.loads(v) if v.strip() else None
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON in the field: {e.msg} (at character {e.pos})", field=key, **where) from None
    return v


def source_of(where: Where) -> dict[str, Any]:
    """Problem(source=..., line=...) of a row."""
    return {"source": where.get("file") or "", "line": where.get("line")}
