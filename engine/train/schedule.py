"""Learning-rate schedules with warmup and a real `min_lr` floor inside the schedule (not a
clamp applied afterwards, as MFTCoder did): the decay runs from `lr` down to `min_lr`.

    step s < warmup:   lr * (s + 1) / warmup
    then, progress p = (s - warmup) / max(1, total - warmup) in [0, 1]:
      cosine    min_lr + (lr - min_lr) * (1 + cos(pi p)) / 2
      linear    min_lr + (lr - min_lr) * (1 - p)
      constant  lr
"""

from __future__ import annotations

import math
from typing import Any


def lr_at(step: int, *, lr: float, min_lr: float, warmup: int, total: int, kind: str = "cosine") -> float:
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if kind == "constant":
        return lr
    p = min(1.0, max(0.0, (step - warmup) / max(1, total - warmup)))
    if kind == "linear":
        return min_lr + (lr - min_lr) * (1.0 - p)
    if kind == "cosine":
        return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))
    raise ValueError(f"unknown scheduler {kind!r}")


def make_scheduler(optimizer: Any, *, lr: float, min_lr: float, warmup: int, total: int, kind: str) -> Any:
    """A LambdaLR over `optimizer` (state_dict-able, so it checkpoints with the run)."""
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, lambda s: lr_at(s, lr=lr, min_lr=min_lr, warmup=warmup, total=total, kind=kind) / lr)


def apply_lr(optimizer: Any, scheduler: Any) -> None:
    """Put the scheduler's current lr into the optimizer (after restoring either from a checkpoint)."""
    for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
        group["lr"] = base * scheduler.lr_lambdas[0](scheduler.last_epoch)
