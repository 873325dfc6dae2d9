"""Requests to a running process through files in `control/` (works across SSH sessions,
app restarts and users; the trainer polls, no socket needed) plus signal fallbacks.

    control/stop   save a checkpoint, then exit with state `stopped`
    control/save   save a checkpoint now and continue
    control/kill   left by kill() before its SIGTERM: exit at once and start no save
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from engine.runs.layout import RunDir, RunState, process_alive

KILL = "kill"
REQUESTS = ("stop", "save", KILL)


def request(run: RunDir, what: str) -> Path:
    if what not in REQUESTS:
        raise ValueError(f"unknown control request {what!r}; expected one of {REQUESTS}")
    run.control_dir.mkdir(parents=True, exist_ok=True)
    p = run.control_dir / what
    p.write_text(f"{time.time()}\n")
    return p


def pending(run: RunDir) -> set[str]:
    d = run.control_dir
    if not d.is_dir():
        return set()
    return {p.name for p in d.iterdir() if p.name in REQUESTS}


def consume(run: RunDir, what: str) -> bool:
    """Remove a request once acted upon; True if it was there."""
    try:
        (run.control_dir / what).unlink()
        return True
    except FileNotFoundError:
        return False


def signal_group(run: RunDir, sig: int = signal.SIGTERM) -> bool:
    """Send a signal to the run's whole process group (launchers and ranks included)."""
    info = run.read_info()
    pgid, pid = info.get("pgid"), info.get("pid")
    if not pid or not process_alive(pid, info.get("proc_start")):
        return False
    try:
        os.killpg(pgid or pid, sig)
        return True
    except ProcessLookupError:
        return False


def kill_requested(run: RunDir) -> bool:
    return (run.control_dir / KILL).exists()


def kill(run: RunDir, *, grace_s: float = 10.0) -> RunState:
    """Hard stop, no save: a `kill` request, then SIGTERM to the group (the trainer sees the
    request and leaves without starting a checkpoint; one it was writing is removed), SIGKILL
    after `grace_s`. For a graceful stop use request('stop')."""
    info = run.read_info()
    if process_alive(info.get("pid"), info.get("proc_start")):
        request(run, KILL)  # before the signal: the handler reads it
    if signal_group(run, signal.SIGTERM):
        deadline = time.time() + grace_s
        while time.time() < deadline and process_alive(info.get("pid"), info.get("proc_start")):
            time.sleep(0.1)
        if process_alive(info.get("pid"), info.get("proc_start")):
            signal_group(run, signal.SIGKILL)
    consume(run, KILL)  # the process is gone: nothing is left to read it
    return run.state()
