"""CoBa, the convergence balancer (Gong et al., EMNLP 2024, arXiv 2410.06741; MFTCoder v0.5).

Task weights follow how fast each task's validation loss is still falling:

1. at step 0 the per-task validation loss L_t^0 is the normaliser;
2. every `update_interval` steps a few validation micro-batches give a per-task loss, divided by
   L_t^0 and appended to the history;
3. from `warmup_steps` on, over the last `history_length` points:
   s_t   = least-squares slope of task t's normalised loss; s_max = slope of max_t (the worst task)
   RCS   = softmax(N s_t / sum_j |s_j|)                     (relative convergence: slower -> more)
   ACS   = softmax over tasks of -K s_t(now) / sum_k |s_t(k)| over the task's last K slopes
   DF    = min(1, K' softmax(-tau K' s_max / sum |s_max|)[now])   (divergence factor, K' slopes)
   w     = softmax(N (DF RCS + (1 - DF) ACS)); if some w_t < 1/(10N): w <- w (1 - N w_min) + w_min
Before `warmup_steps` the weights are uniform. The state is plain lists (saved with checkpoints).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - np.max(x))
    return z / z.sum()


def slope(y: list[float | None]) -> float:
    """Least-squares slope over the points that exist (x = their index in the window)."""
    pts = [(i, v) for i, v in enumerate(y) if v is not None and np.isfinite(v) and v != 0]
    if len(pts) < 2:
        return 0.0
    x = np.array([p[0] for p in pts], dtype=np.float64)
    v = np.array([p[1] for p in pts], dtype=np.float64)
    xm = x - x.mean()
    d = float((xm * xm).sum())
    return float((xm * (v - v.mean())).sum() / d) if d > 0 else 0.0


class CoBa:
    def __init__(
        self,
        n_tasks: int,
        *,
        warmup_steps: int = 100,
        history_length: int = 200,
        tau: float = 5.0,
        update_interval: int = 1,
        sample_valid_num: int = 1,
    ):
        self.n = n_tasks
        self.warmup_steps = warmup_steps
        self.history_length = history_length
        self.tau = tau
        self.update_interval = update_interval
        self.sample_valid_num = sample_valid_num
        self.baseline: list[float | None] | None = None
        self.history: list[list[float | None]] = []  # one row per update: normalised loss per task
        self.task_slopes: list[list[float]] = []  # one row per weight computation
        self.total_slopes: list[float] = []
        self.updates = 0  # validation samples drawn so far (data position)
        self.last_weights: list[float] = [1.0 / n_tasks] * n_tasks

    # -- recording ------------------------------------------------------------------------------
    def set_baseline(self, valid_loss: list[float | None]) -> None:
        self.baseline = [v if v is not None and v > 0 else None for v in valid_loss]

    def due(self, step: int) -> bool:
        return step % self.update_interval == 0

    def record(self, valid_loss: list[float | None]) -> None:
        """Append a normalised per-task validation loss (None where a task was not sampled)."""
        base = self.baseline or [None] * self.n
        row: list[float | None] = []
        for t, v in enumerate(valid_loss):
            if v is None or not np.isfinite(v):
                row.append(None)
            else:
                b = base[t]
                row.append(v / b if b else v)
        self.history.append(row)
        if len(self.history) > 4 * self.history_length:
            self.history = self.history[-2 * self.history_length :]

    # -- weights --------------------------------------------------------------------------------
    def weights(self, step: int) -> np.ndarray:
        """Task weights for optimizer step `step` (uniform during warm-up)."""
        N = self.n
        if step < self.warmup_steps or len(self.history) < 2 or N == 1:
            w = np.full(N, 1.0 / N)
            self.last_weights = w.tolist()
            return w
        window = self.history[-self.history_length :]
        s = np.array([slope([row[t] for row in window]) for t in range(N)])
        worst = [max((v for v in row if v is not None), default=None) for row in window]
        s_max = slope(worst)
        self.task_slopes.append(s.tolist())
        self.total_slopes.append(s_max)
        self.task_slopes = self.task_slopes[-self.history_length :]
        self.total_slopes = self.total_slopes[-self.history_length :]

        denom = np.abs(s).sum()
        rcs = _softmax(N * s / denom) if denom > 0 else np.full(N, 1.0 / N)

        hist = np.array(self.task_slopes).T  # [N, K]
        K = hist.shape[1]
        row_abs = np.abs(hist).sum(axis=1)
        rn = np.where(row_abs > 0, -K * hist[:, -1] / np.where(row_abs > 0, row_abs, 1.0), 0.0)
        acs = _softmax(rn)

        tot = np.array(self.total_slopes)
        Kt = len(tot)
        tabs = np.abs(tot).sum()
        if tabs > 0:
            df = float(min(1.0, Kt * _softmax(-Kt * tot / tabs * self.tau)[-1]))
        else:
            df = 1.0
        logits = df * rcs + (1.0 - df) * acs
        w = _softmax(N * logits)
        w_min = 1.0 / (10 * N)
        if (w < w_min).any():
            w = w * (1 - N * w_min) + w_min
        self.last_weights = w.tolist()
        return w

    # -- state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "history": self.history,
            "task_slopes": self.task_slopes,
            "total_slopes": self.total_slopes,
            "updates": self.updates,
            "last_weights": self.last_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.baseline = state.get("baseline")
        self.history = state.get("history", [])
        self.task_slopes = state.get("task_slopes", [])
        self.total_slopes = state.get("total_slopes", [])
        self.updates = int(state.get("updates", 0))
        self.last_weights = state.get("last_weights", self.last_weights)
