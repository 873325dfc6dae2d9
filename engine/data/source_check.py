"""What `data add` (and the screen's add form) checks before a local source enters the catalog:
its first rows must give at least one record. A source that cannot be a dataset (an empty file,
random bytes, text that is not UTF-8, JSON that is not rows of objects, a Parquet or CSV file
that does not parse, a folder without data files, a path that does not exist) is refused with
one line naming the file, and the line where one applies.

Only the first rows are judged: a file whose first rows are good is accepted, and its later bad
rows are quarantined when it is processed.
"""

from __future__ import annotations

from typing import Any

from engine.data.sources import DETECT_ROWS, BadRow, Loaded, get_entry, local_files
from engine.data.summary import peek
from engine.errors import InputError
from engine.workspace import Workspace

UTF8_HINT = (
    "the file is not UTF-8 text (Latin-1 or another code page?): convert it, e.g. with `iconv -f latin1 -t utf-8`"
)
OBJECT_HINT = "rows must be JSON objects: one per line (JSONL), or a JSON array of objects"


def check_local_source(ws: Workspace, name: str) -> dict[str, Any]:
    """The first rows of catalog entry `name` (as `summary.peek` gives them) when at least one of
    the first DETECT_ROWS rows converts; an InputError saying why not otherwise."""
    entry = get_entry(ws, name)
    loaded = Loaded(ws, name, entry, limit=DETECT_ROWS)
    if next(iter(loaded), None) is None:
        raise _refusal(ws, name, loaded)
    peeked = peek(ws, name, rows=2)
    if peeked["format"] is None:  # the first two rows are bad, a later one is fine
        peeked["format"] = loaded.format
    return peeked


def _refusal(ws: Workspace, name: str, loaded: Loaded) -> InputError:
    if not loaded.bad:
        return _no_rows(ws, loaded)
    first = loaded.bad[0]
    n = len(loaded.bad)
    why = first.reason if first.line is not None else f"row {first.index}: {first.reason}"
    why += "; it is the only row" if n == 1 else f"; none of the first {n} rows can be read"
    hint = _hint(loaded.bad)
    return InputError(why + (f"; {hint}" if hint else ""), file=first.file, line=first.line, field=first.field)


def _no_rows(ws: Workspace, loaded: Loaded) -> InputError:
    files = local_files(ws, loaded.entry)
    if len(files) > 1:
        return InputError(f"no rows in any of its {len(files)} files", file=loaded.entry.path)
    path = files[0]
    if path.stat().st_size == 0:
        return InputError("the file is empty", file=path)
    return InputError("the file holds no rows", file=path)


def _hint(bad: list[BadRow]) -> str | None:
    if all("UTF-8" in b.reason for b in bad):
        return UTF8_HINT
    if all("expected a JSON object" in b.reason for b in bad):
        return OBJECT_HINT
    return None
