"""Create, list and summarise runs in a workspace's runs/ folder."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.fsutil import atomic_write_json
from engine.runs.layout import RunDir, RunState, git_sha, new_run_id
from engine.runs.metrics import MetricsReader


def create_run(
    runs_dir: str | Path,
    *,
    name: str,
    kind: str = "train",
    config: dict[str, Any] | None = None,
    mixture: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> RunDir:
    """Make runs/<id>/ with run.json (+ config.json, mixture.json when given). No process yet."""
    rid = run_id or new_run_id(name)
    run = RunDir(Path(runs_dir) / rid)
    if run.path.exists() and run.exists():
        raise FileExistsError(f"run {rid} already exists")
    (run.path / "control").mkdir(parents=True, exist_ok=True)
    run.checkpoints_dir.mkdir(exist_ok=True)
    run.write_info(
        {
            "id": rid,
            "name": name,
            "kind": kind,
            "created": time.time(),
            "host": socket.gethostname(),
            "git_sha": git_sha(Path(__file__).parent),
            "command": None,
            "pid": None,
            "pgid": None,
            "status": RunState.PENDING.value,
        }
    )
    if config is not None:
        atomic_write_json(run.config_json, config)
    if mixture is not None:
        atomic_write_json(run.mixture_json, mixture)
    run.write_status(RunState.PENDING, step=0, total_steps=None)
    return run


def open_run(runs_dir: str | Path, run_id: str) -> RunDir:
    """A run by id or unique id prefix/suffix."""
    runs_dir = Path(runs_dir)
    exact = RunDir(runs_dir / run_id)
    if exact.exists():
        return exact
    matches = (
        [d for d in runs_dir.iterdir() if d.is_dir() and (d.name.startswith(run_id) or run_id in d.name)]
        if runs_dir.is_dir()
        else []
    )
    matches = [m for m in matches if (m / "run.json").exists()]
    if len(matches) == 1:
        return RunDir(matches[0])
    if not matches:
        raise FileNotFoundError(f"no run '{run_id}' in {runs_dir}")
    raise LookupError(f"'{run_id}' matches several runs: {', '.join(sorted(m.name for m in matches))}")


def list_runs(runs_dir: str | Path) -> list[RunDir]:
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = [RunDir(d) for d in runs_dir.iterdir() if d.is_dir() and (d / "run.json").exists()]
    return sorted(runs, key=lambda r: r.read_info().get("created", 0), reverse=True)


@dataclass
class RunSummary:
    id: str
    name: str
    kind: str
    state: RunState
    step: int
    total_steps: int | None
    loss: float | None
    eta_s: float | None
    created: float
    updated: float | None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def progress(self) -> float | None:
        if self.total_steps:
            return min(1.0, self.step / self.total_steps)
        return None


def fmt_eta(s: Any) -> str:
    """Seconds left as '4m05s' / '2h07m'; '-' when unknown."""
    import math

    if not isinstance(s, (int, float)) or isinstance(s, bool) or not math.isfinite(s):
        return "-"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _last_metric(run: RunDir, key: str) -> tuple[Any, dict[str, Any] | None]:
    """Value of `key` in the last record that has it, reading only the file's tail."""
    path = run.metrics_path
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None, None
    import json

    with open(path, "rb") as f:
        f.seek(max(0, size - 64 * 1024))
        lines = f.read().split(b"\n")
    last = None
    for raw in reversed(lines):
        try:
            rec = json.loads(raw)
        except ValueError:  # a torn or non-JSON line (UnicodeDecodeError is a ValueError too)
            continue
        if isinstance(rec, dict):
            last = last or rec
            if rec.get(key) is not None:
                return rec[key], last
    return None, last


def run_summary(run: RunDir) -> RunSummary:
    info, status = run.read_info(), run.read_status()
    loss, last = _last_metric(run, "loss")
    step = int(status.get("step") or (last or {}).get("step") or 0)
    return RunSummary(
        id=run.id,
        name=info.get("name", run.id),
        kind=info.get("kind", "train"),
        state=run.state(),
        step=step,
        total_steps=status.get("total_steps"),
        loss=loss,
        eta_s=status.get("eta_s", (last or {}).get("eta_s")),
        created=info.get("created", 0.0),
        updated=status.get("updated"),
        message=status.get("message", ""),
    )


def read_metrics(run: RunDir) -> MetricsReader:
    reader = MetricsReader(run.metrics_path)
    reader.read_new()
    return reader
