"""Errors that name where bad input came from: file, line and field."""

from __future__ import annotations

from pathlib import Path


class WorkbenchError(Exception):
    """An error a user can act on. The message is shown as is by the CLI and the app."""


class InputError(WorkbenchError):
    """Bad user input, located as precisely as we can: file, line, field."""

    def __init__(
        self, reason: str, *, file: str | Path | None = None, line: int | None = None, field: str | None = None
    ):
        self.reason = reason
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.file:
            where.append(self.file + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field '{self.field}'")
        return (", ".join(where) + ": " if where else "") + self.reason


# What the CLI and the app's entry report as one line and exit 1, instead of a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (WorkbenchError, FileNotFoundError, FileExistsError, LookupError)
