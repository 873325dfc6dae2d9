"""Typed, validated configuration files (TOML/JSON). Unknown keys are errors.

Every config in the project is a `StrictModel`; `load_model` turns TOML/JSON syntax errors and
pydantic validation errors into an `InputError` that names the file, the line and the field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TypeVar

import tomllib
from pydantic import BaseModel, ConfigDict, ValidationError

from engine.errors import InputError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _locate(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number (1-based) of a key path inside TOML or JSON text."""
    lines = text.splitlines()
    keys = [str(k) for k in loc if not isinstance(k, int)]
    if not keys:
        return None
    # Walk the path: find the deepest key we can, searching after the previous hit.
    start, found = 0, None
    for key in keys:
        pat = re.compile(
            r'^\s*(\[+\s*)?("?)([\w.\-]*\.)?' + re.escape(key) + r'\2\s*(=|\]|")|"' + re.escape(key) + r'"\s*:'
        )
        for i in range(start, len(lines)):
            if pat.search(lines[i]):
                found, start = i + 1, i + 1
                break
    return found


def format_validation_error(err: ValidationError, *, file: str | Path | None, text: str | None) -> InputError:
    first = err.errors()[0]
    loc = tuple(first.get("loc", ()))
    field = ".".join(str(p) for p in loc) or None
    msg = first.get("msg", "invalid value")
    if first.get("type") == "extra_forbidden":
        msg = "unknown key (not allowed here)"
    more = len(err.errors()) - 1
    if more > 0:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    line = _locate(text, loc) if text else None
    return InputError(msg, file=file, line=line, field=field)


def validate(model: type[M], data: dict[str, Any], *, file: str | Path | None = None, text: str | None = None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise format_validation_error(e, file=file, text=text) from None


def read_text(path: Path) -> str:
    """A config file's text; a missing or non-UTF-8 file is an InputError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except UnicodeDecodeError as e:
        raise InputError(f"not valid UTF-8 ({e.reason})", file=path) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from None


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    text = read_text(path)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise InputError(f"invalid TOML: {e}", file=path, line=int(m.group(1)) if m else None) from None


def read_json(path: Path) -> tuple[Any, str]:
    text = read_text(path)
    try:
        return json.loads(text), text
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg}", file=path, line=e.lineno) from None


def load_model(model: type[M], path: str | Path) -> M:
    """Load a TOML or JSON file into a validated model, with located errors."""
    path = Path(path)
    if path.suffix == ".json":
        data, text = read_json(path)
    else:
        data, text = read_toml(path)
    if not isinstance(data, dict):
        raise InputError("expected a table/object at the top level", file=path, line=1)
    return validate(model, data, file=path, text=text)


def dump_toml(data: dict[str, Any]) -> str:
    import tomli_w

    def clean(v: Any) -> Any:  # TOML has no null: drop None values
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return tomli_w.dumps(clean(data))
