"""Full-state checkpoints and their retention.

    checkpoints/step-NNNNNNN/
      state/               accelerate save_state: trainable weights, optimizer, lr scheduler, RNG
                           (DeepSpeed: its own checkpoint, frozen weights excluded)
      adapter/ | model/    the weights in Hugging Face format (peft adapter, or the full model)
      trainer_state.json   data position (step), best metric, early-stopping and CoBa state
      checkpoint.json      written last: {"step", "kind", "valid_loss", "valid_loss/<task>", ...}

A folder without checkpoint.json was interrupted mid-save: it is never resumed from and is
removed by the next retention pass.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from engine.fsutil import atomic_write_json, read_json_or
from engine.runs import RunDir


def complete_checkpoints(run: RunDir) -> list[dict[str, Any]]:
    return [c for c in run.checkpoints() if (Path(c["path"]) / "state").is_dir()]


def latest_checkpoint(run: RunDir) -> dict[str, Any] | None:
    done = complete_checkpoints(run)
    return done[-1] if done else None


def write_meta(ckpt: Path, meta: dict[str, Any], trainer_state: dict[str, Any]) -> None:
    atomic_write_json(ckpt / "trainer_state.json", trainer_state)
    atomic_write_json(ckpt / "checkpoint.json", {**meta, "time": round(time.time(), 3)})


def read_trainer_state(ckpt: str | Path) -> dict[str, Any]:
    return read_json_or(Path(ckpt) / "trainer_state.json", {}) or {}


def select_to_keep(ckpts: list[dict[str, Any]], *, keep_last: int, keep_best: int, metric_key: str) -> set[str]:
    """Names to keep: the newest `keep_last` and the `keep_best` lowest by `metric_key`.
    The newest checkpoint is always kept (it is where a resume starts)."""
    keep: set[str] = set()
    by_step = sorted(ckpts, key=lambda c: c["step"])
    if by_step:
        keep.add(by_step[-1]["name"])
    for c in by_step[-keep_last:] if keep_last else []:
        keep.add(c["name"])
    scored = [c for c in ckpts if isinstance(c.get(metric_key), (int, float))]
    for c in sorted(scored, key=lambda c: (c[metric_key], -c["step"]))[:keep_best]:
        keep.add(c["name"])
    return keep


def apply_retention(run: RunDir, *, keep_last: int, keep_best: int, metric_key: str) -> list[str]:
    """Delete checkpoints outside the policy and interrupted saves; return what was removed."""
    ckpts = run.checkpoints()
    keep = select_to_keep(ckpts, keep_last=keep_last, keep_best=keep_best, metric_key=metric_key)
    removed = []
    for c in ckpts:
        if c["name"] not in keep:
            shutil.rmtree(c["path"], ignore_errors=True)
            removed.append(c["name"])
    if run.checkpoints_dir.is_dir():
        for d in run.checkpoints_dir.iterdir():
            if d.is_dir() and not (d / "checkpoint.json").exists() and d.name.startswith("step-"):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d.name)
    return removed


def best_checkpoint(run: RunDir, metric_key: str = "valid_loss") -> dict[str, Any] | None:
    scored = [c for c in run.checkpoints() if isinstance(c.get(metric_key), (int, float))]
    return min(scored, key=lambda c: (c[metric_key], -c["step"])) if scored else None


def find_checkpoint(run: RunDir, which: str | int | None = None) -> dict[str, Any]:
    """'best' (lowest valid loss), 'last'/None (newest), or a step number."""
    ckpts = run.checkpoints()
    if not ckpts:
        raise FileNotFoundError(f"run {run.id} has no checkpoint yet")
    if which in (None, "last", "latest"):
        return ckpts[-1]
    if which == "best":
        c = best_checkpoint(run) or best_checkpoint(run, "valid_loss_weighted")
        if c is None:
            raise FileNotFoundError(f"run {run.id} has no checkpoint with a validation loss")
        return c
    try:
        step = int(which)
    except (TypeError, ValueError):
        raise LookupError(f"checkpoint '{which}': give 'best', 'last' or a step number") from None
    for c in ckpts:
        if c["step"] == step:
            return c
    raise FileNotFoundError(
        f"run {run.id} has no checkpoint at step {step} (have {', '.join(str(c['step']) for c in ckpts)})"
    )
