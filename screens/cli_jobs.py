"""Run a `workbench … --progress-jsonl` command from a screen's worker thread.

Heavy work (generation, merging, training set-up) runs in a subprocess so torch never enters the
app. The command prints one JSON event per line on stdout — `{"event": "progress", ...}`,
`{"event": "error", "message"}`, `{"event": "done", ...}` — and this streams them to the caller.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable


def workbench_argv(ws_root: object, *args: str) -> list[str]:
    """argv of `workbench --workspace WS ARGS` with this interpreter (the app's own venv)."""
    return [sys.executable, "-m", "workbench", "--workspace", str(ws_root), *args]


@dataclass
class CommandResult:
    rc: int
    done: dict[str, Any] = field(default_factory=dict)  # the "done" event, if one came
    error: str = ""                                     # the "error" event's message, if one came
    stderr_tail: str = ""


def run_progress_command(argv: list[str], *, on_progress: Callable[[dict[str, Any]], None],
                         on_start: Callable[[subprocess.Popen], None] | None = None) -> CommandResult:
    """Run argv (blocking: call it in a thread worker); `on_progress` gets each progress event,
    `on_start` the process (to cancel it). Its own session: a cancel kills the whole group."""
    err = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM", "false")}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
                            env=env, start_new_session=True)
    if on_start is not None:
        on_start(proc)
    result = CommandResult(rc=0)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(ev, dict):
                continue
            if ev.get("event") == "progress":
                on_progress(ev)
            elif ev.get("event") == "error":
                result.error = str(ev.get("message", ""))
            elif ev.get("event") == "done":
                result.done = ev
        result.rc = proc.wait()
    finally:
        err.seek(0)
        result.stderr_tail = err.read()[-3000:]
        err.close()
    return result
