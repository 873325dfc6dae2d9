"""Local data files row by row: JSON arrays, JSONL, CSV/TSV and Parquet (optionally gzipped),
and globs over them.

Every row comes back as a `RawRow` that knows its file and line. A bad row (invalid JSON, bytes
that are not UTF-8, a value that is not an object) comes back with `error` set instead of
`data`, so the caller can quarantine it and keep every good row. A file that cannot be read at
all (a corrupt or truncated gzip archive, binary data where text is expected, UTF-16 text, a
file that is not Parquet) raises one InputError naming the file instead.
"""

from __future__ import annotations

import codecs
import csv
import functools
import glob
import gzip
import io
import json
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InputError

SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}
EXCERPT = 240
SNIFF_BYTES = 8192  # how much of a text file is looked at for binary data
_SURROGATE = re.compile("[\udc80-\udcff]")


@dataclass
class RawRow:
    file: str
    line: int | None  # 1-based line where the row starts (None for Parquet)
    index: int  # 0-based row index within the file
    data: dict[str, Any] | None = None
    error: str | None = None
    raw: str | None = None  # excerpt of the bad input, for the quarantine file

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else f"{self.file} row {self.index}"


def file_kind(path: str | Path) -> str:
    """'jsonl' | 'json' | 'csv' | 'tsv' | 'parquet' from the name (a trailing .gz is allowed)."""
    name = str(path).lower().removesuffix(".gz")
    for suf, kind in SUFFIXES.items():
        if name.endswith(suf):
            return kind
    raise InputError(f"unsupported file type; expected one of {', '.join(SUFFIXES)} (optionally .gz)", file=path)


def expand(pattern: str | Path) -> list[Path]:
    """Files named by a path, a folder (its data files) or a glob, sorted."""
    pattern = os.path.expanduser(str(pattern))
    if any(c in pattern for c in "*?["):
        paths = [Path(p) for p in sorted(glob.glob(pattern, recursive=True)) if os.path.isfile(p)]
        if not paths:
            raise InputError("no file matches this pattern", file=pattern)
        return paths
    p = Path(pattern)
    if p.is_dir():
        paths = sorted(q for q in p.rglob("*") if q.is_file() and _is_data_file(q))
        if not paths:
            raise InputError(f"folder has no data files ({', '.join(SUFFIXES)})", file=p)
        return paths
    if not p.exists():
        raise InputError("file not found", file=p)
    return [p]


def _is_data_file(p: Path) -> bool:
    try:
        file_kind(p)
        return not p.name.startswith(".")
    except InputError:
        return False


def _gzipped(path: Path) -> bool:
    return str(path).lower().endswith(".gz")


def _open_bytes(path: Path) -> gzip.GzipFile | io.BufferedReader:
    return gzip.open(path, "rb") if _gzipped(path) else open(path, "rb")


def read_rows(path: str | Path, *, limit: int | None = None) -> Iterator[RawRow]:
    """Rows of one file; bad rows are yielded with `error` set. A file that cannot be read at
    all raises an InputError naming it (when iteration reaches the problem)."""
    path = Path(path)
    kind = file_kind(path)
    n = 0
    try:
        if kind != "parquet":
            _check_text(path)
        for row in _READERS[kind](path):
            yield row
            n += 1
            if limit is not None and n >= limit:
                return
    except (OSError, EOFError, zlib.error, csv.Error) as e:
        raise InputError(_read_failure(path, e), file=path) from None


def _read_failure(path: Path, e: BaseException) -> str:
    """One line for an error raised while reading a file (gzip raises three kinds)."""
    if isinstance(e, csv.Error):
        return f"not readable as {file_kind(path).upper()}: {e}"
    if _gzipped(path) and not (isinstance(e, OSError) and e.errno is not None):
        if isinstance(e, EOFError):
            return "truncated gzip archive: it ends before the end-of-stream marker"
        return f"corrupt gzip archive: {_first_line(e)}"
    return f"cannot read: {e.strerror if isinstance(e, OSError) and e.strerror else _first_line(e)}"


def _first_line(e: BaseException) -> str:
    """An exception's message on one line (pyarrow's end in a newline, some run on)."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def _check_text(path: Path) -> None:
    """Refuse binary data and UTF-16/32 text in a JSON/CSV file: read line by line it would
    only give a quarantine full of undecodable "rows"."""
    with _open_bytes(path) as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise InputError("the file is UTF-32 text; save it as UTF-8", file=path)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(head):
        raise InputError("the file is UTF-16 text; save it as UTF-8", file=path)
    if b"\x00" in head:
        raise InputError(f"not a text file (binary data where {file_kind(path).upper()} text was expected)", file=path)


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a byte-order mark: ASCII text with a NUL in every other byte."""
    if len(head) < 16:
        return False
    even, odd = head[0::2].count(0) / len(head[0::2]), head[1::2].count(0) / len(head[1::2])
    return (even > 0.9 and odd < 0.1) or (odd > 0.9 and even < 0.1)


def _excerpt(s: str | bytes) -> str:
    if isinstance(s, bytes):
        s = s.decode("utf-8", errors="backslashreplace")
    s = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", s)
    return s[:EXCERPT] + ("..." if len(s) > EXCERPT else "")


def _json_type(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return {int: "a number", float: "a number", str: "a string", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _not_object(value: Any) -> str:
    return f"expected a JSON object per row, got {_json_type(value)}"


def _read_jsonl(path: Path) -> Iterator[RawRow]:
    f = str(path)
    index = 0
    with _open_bytes(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):  # Windows tools write one
                raw = raw[len(codecs.BOM_UTF8) :]
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield RawRow(f, lineno, index, error=f"not valid UTF-8 (byte {e.start}: {e.reason})", raw=_excerpt(raw))
                index += 1
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as e:
                yield RawRow(f, lineno, index, error=f"invalid JSON: {e.msg} (column {e.colno})", raw=_excerpt(text))
                index += 1
                continue
            except RecursionError:
                yield RawRow(f, lineno, index, error="invalid JSON: nested too deeply", raw=_excerpt(text))
                index += 1
                continue
            if isinstance(value, dict):
                yield RawRow(f, lineno, index, data=value)
            else:
                yield RawRow(f, lineno, index, error=_not_object(value), raw=_excerpt(text))
            index += 1


def _read_json(path: Path) -> Iterator[RawRow]:
    """A JSON array of objects (parsed element by element, so one bad element costs one row),
    a JSON object holding one such array, a single object, or JSON Lines saved as .json."""
    with _open_bytes(path) as fh:
        text = fh.read().decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    f = str(path)
    dec = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if pos >= len(text):
        return
    if text[pos] == "{":
        try:
            first, end = dec.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            first, end = None, pos
        rest = _skip_ws(text, end)
        if first is not None and rest < len(text) and text[rest] == "{":
            yield from _read_jsonl(path)  # JSON Lines in a .json file
            return
        if first is not None and rest >= len(text):
            arrays = [v for v in first.values() if isinstance(v, list)] if isinstance(first, dict) else []
            if len(arrays) == 1 and all(isinstance(x, dict) for x in arrays[0][:10]) and arrays[0]:
                for i, v in enumerate(arrays[0]):  # {"data": [...]}: positions inside are not tracked
                    yield (
                        RawRow(f, None, i, data=v)
                        if isinstance(v, dict)
                        else RawRow(f, None, i, error=_not_object(v), raw=_excerpt(json.dumps(v)[:EXCERPT]))
                    )
                return
            yield _checked(f, text, pos, end, 0, first)
            return
        yield from _read_jsonl(path)
        return
    if text[pos] != "[":
        yield RawRow(
            f, 1 + text.count("\n", 0, pos), 0, error=_not_rows(text[pos:]), raw=_excerpt(text[pos : pos + EXCERPT])
        )
        return
    pos = _skip_ws(text, pos + 1)
    index = 0
    line, line_pos = 1, 0
    indent = None
    while pos < len(text) and text[pos] != "]":
        line += text.count("\n", line_pos, pos)
        line_pos = pos
        if indent is None:
            indent = pos - (text.rfind("\n", 0, pos) + 1)
        try:
            value, end = dec.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as e:
            nxt = _resync(text, pos, indent)
            if isinstance(e, RecursionError):
                what = "nested too deeply"
            else:
                what = f"{e.msg} (line {1 + text.count(chr(10), 0, e.pos)}, column {e.colno})"
            yield RawRow(
                f,
                line,
                index,
                error=f"invalid JSON: {what}",
                raw=_excerpt(text[pos : (nxt if nxt is not None else pos + EXCERPT)]),
            )
            index += 1
            if nxt is None:
                rest_lines = text.count("\n", pos) + 1
                yield RawRow(
                    f,
                    line,
                    index,
                    error=f"the rest of the array ({rest_lines} lines) could not be read after the error above",
                    raw=None,
                )
                return
            pos = nxt
            continue
        yield _checked(f, text, pos, end, index, value, line)
        index += 1
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)


def _not_rows(text: str) -> str:
    """Why a .json file that starts with neither [ nor { holds no rows."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return "invalid JSON: expected an array of objects, an object or JSON Lines"
    return f"expected a JSON array of objects (or an object, or JSON Lines), got {_json_type(value)}"


def _checked(f: str, text: str, start: int, end: int, index: int, value: Any, line: int | None = None) -> RawRow:
    if line is None:
        line = 1 + text.count("\n", 0, start)
    chunk = text[start:end]
    if _SURROGATE.search(chunk):
        return RawRow(f, line, index, error="not valid UTF-8 (undecodable bytes in this element)", raw=_excerpt(chunk))
    if not isinstance(value, dict):
        return RawRow(f, line, index, error=_not_object(value), raw=_excerpt(chunk))
    return RawRow(f, line, index, data=value)


def _skip_ws(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _resync(text: str, pos: int, indent: int | None) -> int | None:
    """After a broken element: the next line that starts a new element at the same indentation."""
    pat = re.compile(r"\n" + (" " * indent if indent else r"[ \t]*") + r"\{")
    for m in pat.finditer(text, pos + 1):
        start = m.end() - 1
        try:
            json.JSONDecoder().raw_decode(text, start)
            return start
        except (json.JSONDecodeError, RecursionError):
            continue
    return None


def _read_csv(path: Path, *, kind: str) -> Iterator[RawRow]:
    csv.field_size_limit(sys.maxsize)
    f = str(path)
    with _open_bytes(path) as fb:
        fh = io.TextIOWrapper(fb, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(fh, delimiter="\t" if kind == "tsv" else ",")
        header: list[str] | None = None
        index = 0
        start_line = 1
        for rec in reader:
            line = start_line
            start_line = reader.line_num + 1
            if header is None:
                header = rec
                if any(_SURROGATE.search(h) for h in header):
                    raise InputError("header is not valid UTF-8", file=path, line=1)
                continue
            if not rec or all(not c for c in rec):
                continue
            if any(_SURROGATE.search(c) for c in rec):
                yield RawRow(f, line, index, error="not valid UTF-8", raw=_excerpt(",".join(rec)))
            elif len(rec) != len(header):
                yield RawRow(
                    f,
                    line,
                    index,
                    error=f"has {len(rec)} fields, the header has {len(header)}",
                    raw=_excerpt(",".join(rec)),
                )
            else:
                yield RawRow(f, line, index, data=dict(zip(header, rec)))
            index += 1


def _read_parquet(path: Path) -> Iterator[RawRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = str(path)
    index = 0
    try:
        # Parquet reads its footer first: a gzipped file is decompressed whole, which also makes
        # a corrupt archive fail as one (pyarrow would report "magic bytes not found")
        source: Any = path
        if _gzipped(path):
            with gzip.open(path, "rb") as fh:
                source = pa.BufferReader(fh.read())
        for batch in pq.ParquetFile(source).iter_batches(batch_size=2048):
            for rec in batch.to_pylist():
                yield RawRow(f, None, index, data=rec)
                index += 1
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise InputError(_read_failure(path, e), file=path) from None
    except (pa.ArrowException, OSError, ValueError) as e:
        where = f" (at row {index})" if index else ""
        raise InputError(f"not a readable Parquet file{where}: {_first_line(e)}", file=path) from None


_READERS: dict[str, Callable[[Path], Iterator[RawRow]]] = {
    "jsonl": _read_jsonl,
    "json": _read_json,
    "parquet": _read_parquet,
    "csv": functools.partial(_read_csv, kind="csv"),
    "tsv": functools.partial(_read_csv, kind="tsv"),
}
