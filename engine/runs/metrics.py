"""metrics.jsonl: an append-only writer and an incremental reader (toolong-style tailing).

The reader remembers its byte offset, buffers a partial last line until its newline arrives,
skips and counts corrupt lines, and starts over if the file was truncated or replaced.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _clean(v: Any) -> Any:
    # JSON has no NaN/Inf: write them as null so every line stays valid JSON.
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def series(records: Iterable[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) for one metric key, skipping records without it (null, NaN, inf)."""
    xs, ys = [], []
    for r in records:
        v = r.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            xs.append(r["step"])
            ys.append(float(v))
    return xs, ys


class MetricsWriter:
    """Appends one JSON object per logged step. Each line is written with a single write()
    call and flushed, so a reader sees whole lines (or a partial last line it can buffer)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")

    def log(self, step: int, metrics: dict[str, Any], *, time_s: float | None = None) -> dict[str, Any]:
        rec = {"step": int(step), "time": round(time_s if time_s is not None else time.time(), 3)}
        rec.update({k: _clean(v) for k, v in metrics.items()})
        self._f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._f.flush()
        return rec

    def sync(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Tail:
    """Incremental line reader over a growing file."""

    CHUNK = 1 << 16

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.offset = 0
        self._partial = b""
        self._ino: int | None = None

    def _new_lines(self) -> list[bytes]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        if self._ino is not None and (st.st_ino != self._ino or st.st_size < self.offset):
            # replaced or truncated: start again from the top
            self.offset, self._partial = 0, b""
            self.on_reset()
        self._ino = st.st_ino
        if st.st_size == self.offset:
            return []
        lines: list[bytes] = []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            while True:
                chunk = f.read(self.CHUNK)
                if not chunk:
                    break
                self.offset += len(chunk)
                data = self._partial + chunk
                parts = data.split(b"\n")
                self._partial = parts.pop()  # b"" when data ended with a newline
                lines.extend(parts)
        return lines

    def on_reset(self) -> None:
        pass


class MetricsReader(_Tail):
    """Reads new complete records from metrics.jsonl since the last call.

    `read_new()` returns the records appended since the previous call; `records` keeps all of
    them (for charts); `corrupt` counts lines that were not a JSON object with a `step`.
    """

    def __init__(self, path: str | Path, *, keep: int | None = None):
        super().__init__(path)
        self.records: deque[dict[str, Any]] | list[dict[str, Any]] = deque(maxlen=keep) if keep else []
        self.corrupt = 0
        self.resets = 0

    def on_reset(self) -> None:
        self.records.clear()
        self.corrupt = 0
        self.resets += 1

    def read_new(self) -> list[dict[str, Any]]:
        out = []
        for raw in self._new_lines():
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                self.corrupt += 1
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("step"), int):
                self.corrupt += 1
                continue
            out.append(rec)
        self.records.extend(out)
        return out

    def read_all(self) -> list[dict[str, Any]]:
        self.read_new()
        return list(self.records)

    def last(self) -> dict[str, Any] | None:
        return self.records[-1] if self.records else None

    def series(self, key: str) -> tuple[list[int], list[float]]:
        return series(self.records, key)

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.records:
            for k in r:
                if k not in ("step", "time"):
                    seen.setdefault(k, None)
        return list(seen)


class TextTail(_Tail):
    """Tail of a text log (stdout.log): keeps the last `keep` complete lines."""

    def __init__(self, path: str | Path, *, keep: int = 500, start_near_end: int = 256 * 1024):
        super().__init__(path)
        self.lines: deque[str] = deque(maxlen=keep)
        # Do not read a multi-GB log from the top: start near its end.
        try:
            size = self.path.stat().st_size
            if size > start_near_end:
                self.offset = size - start_near_end
                self._skip_first = True
            else:
                self._skip_first = False
        except FileNotFoundError:
            self._skip_first = False

    def on_reset(self) -> None:
        self.lines.clear()

    def read_new(self) -> list[str]:
        raw = self._new_lines()
        if self._skip_first and raw:
            raw = raw[1:]  # the first line read from mid-file is a fragment
            self._skip_first = False
        new = [r.decode("utf-8", "replace").rstrip("\r") for r in raw]
        # a carriage-return progress bar keeps only its last state
        new = [ln.rsplit("\r", 1)[-1] for ln in new]
        self.lines.extend(new)
        return new
