"""The training loop, top to bottom: the recipe that strings together the trainer's parts
(engine/train/trainer.py). Every rank runs `train(run_dir)`; the main process owns the run
directory (metrics.jsonl, status.json heartbeats, checkpoint.json, retention).

    setup     config, accelerator, tokenizer + the mixture's shards, model (LoRA / QLoRA / full),
              optimizer, packing probe, data plan, schedule
    resume    full state + data position; metrics cut back
    begin     a fresh run's step-0 validation and at-start hooks
    steps     control requests, one optimizer step, the non-finite guard, the step's metrics
              (log window, validation, hooks), saves (periodic, best, requested, early stop)
    finish    final checkpoint, terminal state

Signals: SIGTERM = stop (save, then exit `stopped`); SIGUSR1 = save now. The same requests
arrive as files in control/ (engine.runs.control). `train stop --kill` leaves a `kill` request
before its SIGTERM: the run then exits at once and starts no save.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.runs import RunDir, RunState, control
from engine.train.trainer import Killed, Trainer, TrainState


class _Requests:
    """stop / save requests from signals (any rank) and control files (main process); a SIGTERM
    that comes with a kill request raises Killed wherever the process is, a save included."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self.stop = False
        self.save = False
        self.killed = False
        self._previous: dict[int, Any] = {}

    def _on_term(self, *_: Any) -> None:
        if self.killed:  # already leaving: the kill request's own SIGTERM must not interrupt that
            return
        if control.kill_requested(self.run):
            self.killed = True
            raise Killed()
        self.stop = True

    def install(self) -> None:
        try:
            self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_term)
            self._previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, lambda *_: setattr(self, "save", True))
        except ValueError:  # not the main thread (e.g. called from a test runner thread)
            pass

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def train(run_dir: str | Path, *, resume: bool = False, echo: Callable[[str], None] = log) -> RunState:
    requests = _Requests(RunDir(run_dir))
    requests.install()
    trainer: Trainer | None = None
    state: TrainState | None = None
    try:
        trainer = Trainer.open(run_dir, echo=echo)
        trainer.setup()
        state = trainer.resume() if resume else TrainState()
        trainer.begin(state)
        t_start, step_start = time.time(), state.step
        while state.step < trainer.total:
            stop, save_requested = trainer.poll_requests(requests)
            if stop:
                trainer.stop_requested(state)
                break
            trainer.step(state)
            if trainer.nonfinite_stop(state):
                break
            _, valid, hooked, kinds = trainer.record(state, time.time() - t_start, state.step - step_start)
            early = trainer.due_saves(state, kinds, save_requested, valid is not None, requests)
            if kinds:
                trainer.save(state, kinds, {**(valid or {}), **hooked})
            if early:
                trainer.say(state.end_message)
                break
        return trainer.finish(state)
    except Killed:
        if trainer is None:
            raise
        return trainer.killed(state)
    except BaseException as e:
        if trainer is not None:
            trainer.fail(e)
        raise
    finally:
        requests.restore()
        if trainer is not None:
            trainer.end()


def main(argv: list[str] | None = None) -> int:
    """Entry point of one rank (see engine/train/run.py)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m engine.train.run", description="Train one run directory.")
    ap.add_argument("run_dir")
    ap.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint")
    args = ap.parse_args(argv)
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    try:
        state = train(args.run_dir, resume=args.resume)
    except WorkbenchError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    return 0 if state in (RunState.COMPLETED, RunState.STOPPED) else 1
