"""What the trainer sums between two log lines, and the per-micro-batch tensors it sums from.

`Window` keeps local sums (this rank) and reduces them across ranks only when a metrics record
is due, so logging costs one collective per `log_every` steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.train.losses import token_sums


def to_device(mb: Any, device: Any) -> dict[str, Any]:
    """A numpy micro-batch (engine.train.data.MicroBatch) as the tensors the masked LM takes."""
    import torch

    sel = np.flatnonzero(mb.loss_mask.reshape(-1))
    return {
        "input_ids": torch.from_numpy(mb.input_ids).to(device),
        "position_ids": torch.from_numpy(mb.position_ids).to(device),
        "sel": torch.from_numpy(sel).to(device),
        "targets": torch.from_numpy(mb.targets.reshape(-1)[sel]).to(device),
        "token_sample": torch.from_numpy(mb.token_sample.reshape(-1)[sel]).to(device),
        "sample_task": torch.from_numpy(mb.sample_task).to(device),
    }


def batch_sums(model: Any, b: dict[str, Any], n_tasks: int, *, with_q: bool = False) -> np.ndarray:
    """[2 or 3, T] of a micro-batch already on the device (to_device): per-task summed CE, trained
    targets (and summed target probability)."""
    tl = model(b["input_ids"], b["position_ids"], b["sel"], b["targets"])
    s = token_sums(tl, b["token_sample"], b["sample_task"], n_tasks)
    rows = [s["S_t"], s["N_t"]] + ([s["Q_t"]] if with_q else [])
    return np.stack([r.detach().double().cpu().numpy() for r in rows])


def stats_of(sums: dict[str, Any], b: dict[str, Any], gamma: float, n_tasks: int) -> Any:
    """[4, T] on the device: summed CE, trained targets, summed target probability, and the sum of
    (1 - P_b)^gamma over each task's samples (the focal_sample weight)."""
    import torch

    N_b = sums["N_b"].detach().clamp_min(1.0)
    fac_b = (1.0 - sums["Q_b"].detach() / N_b).clamp_min(0.0) ** gamma
    fac_t = torch.zeros(n_tasks, dtype=fac_b.dtype, device=fac_b.device).index_add(0, b["sample_task"], fac_b)
    return torch.stack([x.detach().double() for x in (sums["S_t"], sums["N_t"], sums["Q_t"], fac_t)])


class Window:
    """Sums over the steps since the last log line (local; reduced across ranks at flush)."""

    def __init__(self, n_tasks: int, mode: str):
        self.n, self.mode = n_tasks, mode
        self.reset()

    def reset(self) -> None:
        self.value = 0.0
        self.stats = np.zeros((4, self.n))
        self.weights = np.zeros(self.n)
        self.grad_norms: list[float] = []
        self.tokens = 0
        self.steps = 0
        self.skipped = 0
        self.lr = 0.0
        self.t0 = time.time()

    def add(
        self,
        value: float,
        stats: np.ndarray,
        weights: np.ndarray | None,
        grad_norm: float,
        tokens: int,
        skipped: bool,
        lr: float,
    ) -> None:
        if not skipped:  # a skipped step's numbers are not finite: they would poison the window
            self.value += value
            self.stats += stats
            if weights is not None:
                self.weights += weights
        if math.isfinite(grad_norm):
            self.grad_norms.append(grad_norm)
        self.tokens += tokens
        self.steps += 1
        self.skipped += int(skipped)
        self.lr = lr

    def flush(
        self, reduce_sum: Callable[[np.ndarray], np.ndarray], tasks: list[str], alpha: np.ndarray
    ) -> dict[str, Any]:
        head = np.array([self.value, float(self.tokens)])
        packed = reduce_sum(np.concatenate([head, self.stats.reshape(-1)]))
        value, tokens = packed[0], packed[1]
        stats = packed[2:].reshape(4, self.n)
        dt = max(1e-9, time.time() - self.t0)
        good = self.steps - self.skipped
        if self.mode == "focal_sample":  # alpha_t * sum over the task's samples of (1 - P_b)^gamma
            w = alpha * stats[3]
            weights = w / w.sum() if w.sum() > 0 else w
        else:
            weights = self.weights / max(1, good)
        rec: dict[str, Any] = {"loss": float(value / good) if good > 0 else None}
        for t, name in enumerate(tasks):
            rec[f"loss/{name}"] = float(stats[0, t] / stats[1, t]) if stats[1, t] > 0 else None
        for t, name in enumerate(tasks):
            rec[f"weight/{name}"] = round(float(weights[t]), 6)
        rec["lr"] = float(self.lr)
        rec["grad_norm"] = float(np.mean(self.grad_norms)) if self.grad_norms else None
        rec["tokens_per_s"] = round(float(tokens / dt), 1)
        rec["nonfinite_steps"] = self.skipped
        self.reset()
        return rec
