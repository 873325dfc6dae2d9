"""Start a process detached from the caller: its own session and process group, stdin from
/dev/null, stdout+stderr appended to the run's stdout.log. Nothing pipes back to the app, so
the process neither dies nor stalls when the app (or the SSH session) goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from engine.runs.layout import RunDir, RunState


def spawn_detached(
    run: RunDir, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | Path | None = None
) -> int:
    """Launch `argv` for `run`; record pid/pgid/start time in run.json; return the pid."""
    run.path.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    full_env["WORKBENCH_RUN_DIR"] = str(run.path)
    with open(run.stdout_log, "ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(
            list(argv),
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(cwd) if cwd else None,
            env=full_env,
            start_new_session=True,  # setsid: no SIGHUP from our terminal, own process group
            close_fds=True,
        )
    try:
        import psutil

        start = psutil.Process(proc.pid).create_time()
    except Exception:  # noqa: BLE001 - psutil missing or the process already gone: no start time to record
        start = None
    run.update_info(
        pid=proc.pid,
        pgid=proc.pid,
        proc_start=start,
        command=list(argv),
        cwd=str(cwd or os.getcwd()),
        status=RunState.RUNNING.value,
    )
    # We do not wait for it; reap it in the background if we live long enough, so it
    # does not linger as a zombie of a long-lived parent (the app).
    import threading

    threading.Thread(target=proc.wait, daemon=True).start()
    return proc.pid


def python_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
