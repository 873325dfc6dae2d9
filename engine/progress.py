"""The `--progress-jsonl` protocol: what a long command tells the program that started it.

One JSON object per line on stdout. The CLI writes them (`JsonlWriter`), the app's screens read
them (`screens/cli_jobs.py`, through `parse`); both sides use these dataclasses, and this module
is the only place a line is built or read. Lines:

    {"event": "progress", "phase": "generate", "done": 3, "total": 10, "label": "generating", ...info}
    {"event": "warning", "message": "..."}
    {"event": "error", "message": "..."}
    {"event": "done", ...the command's result}

`label` is what a user reads for the phase; it comes from the module that emits the phase (its
`PHASES` table), so no reader keeps its own copy. Flat `info` keys (tokens_per_s, id, verdict)
ride along. A line that is not one of these parses to `Unreadable` (the reader reports it).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

Scalar = int | float | str


@dataclass(frozen=True)
class ProgressEvent:
    phase: str
    done: int
    total: int  # 0: not known
    label: str = ""  # the phase as the user reads it
    info: Mapping[str, Scalar] = field(default_factory=dict)  # tokens_per_s, id, verdict, ...

    def text(self) -> str:
        """`generating 3/10  12 tok/s`: what a progress line shows."""
        rate = self.info.get("tokens_per_s")
        extra = f"  {rate:.0f} tok/s" if isinstance(rate, (int, float)) else ""
        count = f"{self.done}/{self.total}" if self.total > 0 else f"{self.done}"  # total 0: not known
        return f"{self.label or self.phase} {count}{extra}"


@dataclass(frozen=True)
class WarningEvent:
    message: str


@dataclass(frozen=True)
class ErrorEvent:
    message: str


@dataclass(frozen=True)
class DoneEvent:
    result: Mapping[str, Any]


@dataclass(frozen=True)
class Unreadable:
    """A stdout line that is not an event of this protocol (a stray print, a cut-off line)."""

    line: str
    reason: str


Event = ProgressEvent | WarningEvent | ErrorEvent | DoneEvent
_RESERVED = ("event", "phase", "done", "total", "label")


def serialize(ev: Event) -> str:
    """One line (without the newline)."""
    if isinstance(ev, ProgressEvent):
        obj: dict[str, Any] = {k: v for k, v in ev.info.items() if k not in _RESERVED}
        obj = {"event": "progress", "phase": ev.phase, "done": ev.done, "total": ev.total, "label": ev.label, **obj}
    elif isinstance(ev, WarningEvent):
        obj = {"event": "warning", "message": ev.message}
    elif isinstance(ev, ErrorEvent):
        obj = {"event": "error", "message": ev.message}
    elif isinstance(ev, DoneEvent):
        obj = {"event": "done", **{k: v for k, v in ev.result.items() if k != "event"}}
    else:
        raise TypeError(f"not a progress event: {ev!r}")
    return json.dumps(obj, default=str)


def parse(line: str) -> Event | Unreadable:
    """The event a line holds, or `Unreadable` saying why it is none (never raises)."""
    text = line.strip()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return Unreadable(text, f"not JSON ({e.msg})")
    if not isinstance(obj, dict):
        return Unreadable(text, "not a JSON object")
    kind = obj.get("event")
    if kind == "progress":
        phase, done, total = obj.get("phase"), obj.get("done"), obj.get("total")
        if (
            not isinstance(phase, str)
            or not isinstance(done, int)
            or not isinstance(total, int)
            or isinstance(done, bool)
            or isinstance(total, bool)
        ):
            return Unreadable(text, "a progress event needs phase (text), done and total (integers)")
        info = {k: v for k, v in obj.items() if k not in _RESERVED and isinstance(v, (int, float, str))}
        return ProgressEvent(phase, done, total, str(obj.get("label") or ""), info)
    if kind in ("warning", "error"):
        if not isinstance(obj.get("message"), str):
            return Unreadable(text, f"a {kind} event needs a message")
        return (WarningEvent if kind == "warning" else ErrorEvent)(obj["message"])
    if kind == "done":
        return DoneEvent({k: v for k, v in obj.items() if k != "event"})
    return Unreadable(text, f"unknown event {kind!r}" if kind is not None else "no \"event\" key")


class JsonlWriter:
    """The CLI side: `writer(phase, done, total, info)` is a progress callback (throttled to
    four lines a second per phase; a phase change and a finished phase always go out), and
    `writer.warning / error / done` the other events. `phases` maps a phase to its label."""

    def __init__(
        self,
        phases: Mapping[str, str] | None = None,
        out: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.phases = dict(phases or {})
        self.out, self.clock = out, clock
        self._phase, self._last = "", 0.0

    def __call__(self, phase: str, done: int, total: int | None, info: Mapping[str, Any] | None = None) -> None:
        """A progress callback; `total` None (not known yet) goes out as 0."""
        now = self.clock()
        finished = total is not None and done >= total
        if phase == self._phase and not finished and now - self._last <= 0.25:
            return
        self._phase, self._last = phase, now
        flat = {k: v for k, v in (info or {}).items() if isinstance(v, (int, float, str))}
        self.emit(ProgressEvent(phase, int(done), int(total or 0), self.phases.get(phase, phase), flat))

    def warning(self, message: str) -> None:
        self.emit(WarningEvent(message))

    def error(self, message: str) -> None:
        self.emit(ErrorEvent(message))

    def done(self, result: Mapping[str, Any]) -> None:
        self.emit(DoneEvent(result))

    def emit(self, ev: Event) -> None:
        out = self.out or sys.stdout
        out.write(serialize(ev) + "\n")
        out.flush()


@contextmanager
def errors_reported(writer: JsonlWriter | None) -> Iterator[None]:
    """A command's work: an exception inside becomes an error event (its message, the one line
    the reader shows), then goes on up to the command's own handling. No writer: nothing."""
    try:
        yield
    except Exception as e:
        if writer is not None:
            writer.error(str(e))
        raise
