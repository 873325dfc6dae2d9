"""Run a `workbench … --progress-jsonl` command from a worker thread and stream its events.

Heavy work (generation, merging, model import, training set-up) runs in a subprocess so torch
and transformers never enter the app (docs/app.md, "Threads and subprocesses"). The command
speaks the protocol of `engine/progress.py`; this is its reader. Textual-free: the job
component (`screens/jobs.py`) turns what it reads into messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.progress import DoneEvent, ErrorEvent, Event, ProgressEvent, Unreadable, WarningEvent, parse


def workbench_argv(ws_root: object, *args: str) -> list[str]:
    """argv of `workbench --workspace WS ARGS` with this interpreter (the app's own venv)."""
    return [sys.executable, "-m", "workbench", "--workspace", str(ws_root), *args]


@dataclass
class CommandResult:
    rc: int
    done: dict[str, Any] = field(default_factory=dict)  # the "done" event's result, if one came
    error: str = ""  # the "error" event's message, if one came
    warnings: list[str] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)  # stdout lines that were no event
    stderr_tail: str = ""

    def failure(self, what: str) -> str:
        """Why the command failed, in a line or a few (its error event, else its stderr tail)."""
        tail = "\n".join(self.stderr_tail.strip().splitlines()[-8:])
        return self.error or tail or f"`{what}` exited with code {self.rc}"


def subprocess_env() -> dict[str, str]:
    """The environment of a child: one thread per library unless the user said otherwise."""
    return {
        **os.environ,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM", "false"),
    }


def run_progress_command(
    argv: list[str],
    *,
    on_event: Callable[[Event | Unreadable], None] | None = None,
    on_start: Callable[[subprocess.Popen], None] | None = None,
    json_result: bool = False,
) -> CommandResult:
    """Run argv (blocking: call it in a thread worker). `on_event` gets every event as it comes,
    unreadable lines included; `on_start` the process (to cancel it). The child has its own
    session, so a cancel (`os.killpg`) stops the whole group. `json_result`: a `--json` command
    (no events; its whole stdout is one JSON object, which becomes `done`)."""
    err = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=err,
        stdin=subprocess.DEVNULL,
        text=True,
        env=subprocess_env(),
        start_new_session=True,
    )
    if on_start is not None:
        on_start(proc)
    result = CommandResult(rc=0)
    try:
        assert proc.stdout is not None
        if json_result:
            text = proc.stdout.read()
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict):
                result.done = obj
            elif text.strip():
                result.unreadable = [Unreadable(text.strip()[-500:], "not one JSON object")]
        for line in proc.stdout:
            if not line.strip():
                continue
            ev = parse(line)
            if isinstance(ev, DoneEvent):
                result.done = dict(ev.result)
            elif isinstance(ev, ErrorEvent):
                result.error = ev.message
            elif isinstance(ev, WarningEvent):
                result.warnings.append(ev.message)
            elif isinstance(ev, Unreadable):
                result.unreadable = [*result.unreadable[-19:], ev]
            if on_event is not None and not isinstance(ev, DoneEvent):
                on_event(ev)
        result.rc = proc.wait()
    finally:
        err.seek(0)
        result.stderr_tail = err.read()[-3000:]
        err.close()
    return result


__all__ = ["CommandResult", "ProgressEvent", "run_progress_command", "subprocess_env", "workbench_argv"]
