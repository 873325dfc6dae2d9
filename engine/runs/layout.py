"""Paths and small state files of one run directory.

runs/<id>/
  run.json        identity: id, name, kind, created, command, cwd, pid, pgid, host, git_sha, status
  config.json     the resolved, validated run config (what the trainer actually used)
  mixture.json    the mixture manifest the run trains on
  data.json       the trainer's data report (samples kept, truncated, dropped; fill; packing)
  metrics.jsonl   append-only, one JSON object per logged step (`step`, `time`, metric keys)
  status.json     heartbeat, replaced atomically (state, step, total_steps, updated, ...)
  stdout.log      the process's stdout+stderr (the trainer never writes to a pipe)
  control/        requests from outside: a file named `stop` or `save` (see control.py)
  checkpoints/    step-NNNNNNN/ folders, each with checkpoint.json
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from enum import Enum
from pathlib import Path
from typing import Any

from engine.fsutil import atomic_write_json, read_json_or


class RunState(str, Enum):
    PENDING = "pending"  # created, process not started yet
    RUNNING = "running"
    STOPPING = "stopping"  # a stop was requested; saving then exiting
    COMPLETED = "completed"  # reached its end
    STOPPED = "stopped"  # stopped on request (resumable)
    FAILED = "failed"  # exited with an error (see stdout.log / status message)
    LOST = "lost"  # says running, but the process is gone (killed, machine rebooted)


TERMINAL_STATES = {RunState.COMPLETED, RunState.STOPPED, RunState.FAILED, RunState.LOST}

# A live run heartbeats every few seconds; after this long without one *and* with its process
# gone, it is reported LOST. A slow step alone never makes a run LOST while its pid lives.
HEARTBEAT_STALE_S = 60.0


def new_run_id(name: str = "run") -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-")[:40] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-{secrets.token_hex(2)}"


def git_sha(cwd: str | Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def process_alive(pid: int | None, start_time: float | None = None) -> bool:
    """True if pid is alive (and, when known, is the same process: its start time matches)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        import psutil

        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        if start_time is not None and abs(p.create_time() - start_time) > 2.0:
            return False  # the pid was reused by another process
    except Exception:  # noqa: BLE001 - psutil missing or denied: the pid check above decides
        pass
    return True


class RunDir:
    """One run directory. Cheap to construct; reads files on demand."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def id(self) -> str:
        return self.path.name

    # files
    run_json = property(lambda self: self.path / "run.json")
    config_json = property(lambda self: self.path / "config.json")
    mixture_json = property(lambda self: self.path / "mixture.json")
    data_json = property(lambda self: self.path / "data.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    status_json = property(lambda self: self.path / "status.json")
    stdout_log = property(lambda self: self.path / "stdout.log")
    control_dir = property(lambda self: self.path / "control")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")

    def exists(self) -> bool:
        return self.run_json.exists()

    # run.json ------------------------------------------------------------------------------
    def read_info(self) -> dict[str, Any]:
        return read_json_or(self.run_json, {}) or {}

    def write_info(self, info: dict[str, Any]) -> None:
        atomic_write_json(self.run_json, info)

    def update_info(self, **changes: Any) -> dict[str, Any]:
        info = self.read_info()
        info.update(changes)
        self.write_info(info)
        return info

    # mixture.json --------------------------------------------------------------------------
    def read_mixture(self) -> dict[str, Any] | None:
        """The run's copy of its mixture's manifest; None when the run has none (yet)."""
        got = read_json_or(self.mixture_json)
        return got if isinstance(got, dict) else None

    # data.json -----------------------------------------------------------------------------
    def read_data_report(self) -> dict[str, Any] | None:
        """The trainer's data report; None before the trainer has planned its data."""
        got = read_json_or(self.data_json)
        return got if isinstance(got, dict) else None

    def write_data_report(self, report: dict[str, Any]) -> None:
        atomic_write_json(self.data_json, report)

    # status.json ---------------------------------------------------------------------------
    def read_status(self) -> dict[str, Any]:
        return read_json_or(self.status_json, {}) or {}

    def write_status(self, state: RunState | str, **fields: Any) -> dict[str, Any]:
        """Heartbeat: replace status.json atomically (readers never see half a file)."""
        status = {
            "state": RunState(state).value,
            "updated": time.time(),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            **fields,
        }
        atomic_write_json(self.status_json, status)
        return status

    def state(self) -> RunState:
        """The run's state, with LOST detected from a dead process behind a 'live' status."""
        status = self.read_status()
        info = self.read_info()
        raw = status.get("state") or info.get("status") or RunState.PENDING.value
        try:
            state = RunState(raw)
        except ValueError:
            state = RunState.FAILED
        if state in (RunState.RUNNING, RunState.STOPPING, RunState.PENDING):
            pid = info.get("pid") or status.get("pid")
            if info.get("host") and info.get("host") != socket.gethostname():
                return state  # running elsewhere; trust the heartbeat
            if pid and not process_alive(pid, info.get("proc_start")):
                return RunState.LOST
            if not pid and state != RunState.PENDING:
                age = time.time() - float(status.get("updated", 0))
                if age > HEARTBEAT_STALE_S:
                    return RunState.LOST
        return state

    # checkpoints ---------------------------------------------------------------------------
    def checkpoints(self) -> list[dict[str, Any]]:
        """Checkpoint folders with their checkpoint.json, oldest step first."""
        out = []
        if self.checkpoints_dir.is_dir():
            for d in self.checkpoints_dir.iterdir():
                meta = read_json_or(d / "checkpoint.json")
                if d.is_dir() and isinstance(meta, dict) and "step" in meta:
                    out.append({**meta, "path": str(d), "name": d.name})
        return sorted(out, key=lambda m: m["step"])

    def checkpoint_dir(self, step: int) -> Path:
        return self.checkpoints_dir / f"step-{step:07d}"

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"
