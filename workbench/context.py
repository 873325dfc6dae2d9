"""CLI state shared by every command: the selected workspace (opened lazily) and output mode."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import typer

from engine.errors import USER_ERRORS


@dataclass
class State:
    workspace_arg: str | None = None
    _ws: Any = field(default=None, repr=False)

    def workspace(self, *, create_demo: bool = True) -> Any:
        if self._ws is None:
            from engine.workspace import open_workspace

            self._ws = open_workspace(self.workspace_arg, create_demo=create_demo)
        return self._ws


STATE = State()


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def emit_result(out: Any, writer: Any, as_json: bool) -> bool:
    """A command's result as its --progress-jsonl done event or as --json; True when written so
    (the command prints nothing more)."""
    if writer is not None:
        writer.done(out)
        return True
    if as_json:
        emit_json(out)
        return True
    return False


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: WorkbenchError / file errors become a one-line message and exit code 1,
    instead of a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except USER_ERRORS as e:
            fail(str(e).strip("'\""))

    return wrapper
