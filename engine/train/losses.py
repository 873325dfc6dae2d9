"""MFT objectives, reduced over a whole optimizer step (all ranks, all micro-batches).

Notation for one optimizer step: samples b (over every rank and micro-batch), task t(b), token
cross-entropy l_bk on the trained targets k of b, N_b = #trained targets of b, S_b = sum_k l_bk,
P_bk = exp(-l_bk) (the probability of the target token). Per task: N_t = sum_{b in t} N_b,
S_t = sum_{b in t} S_b, B_t = #samples of t; T = tasks present in the step; alpha_t = static task
weight (`[loss] task_weights`, default 1).

    case1         L = sum_b S_b / sum_b N_b                               (token mean)
    case2         L = (1/B) sum_b S_b / N_b                               (sample mean)
    case3         L = sum_{t in T} alpha_t S_t / N_t  /  sum_{t in T} alpha_t        (task mean)
    case4         L = sum_{t in T} alpha_t (1/B_t) sum_{b in t} S_b / N_b  /  sum_{t in T} alpha_t
    coba          case3 with alpha_t * w_t, w_t from the CoBa convergence balancer (coba.py)
    focal_sample  L = sum_b alpha_t(b) (1 - P_b)^gamma S_b / N_b  /  sum_b alpha_t(b),
                  P_b = (1/N_b) sum_k P_bk       (sample-level focal loss; gamma=0 gives case2)
    focal_task    L = sum_{t in T} alpha_t (1 - P_t)^gamma S_t / N_t  /  sum_{t in T} alpha_t,
                  P_t = (1/N_t) sum_{b in t} sum_k P_bk   (task-level focal loss; gamma=0: case3)

(MFTCoder's case1-4 computed these inside one micro-batch on one GPU; here every sum runs over
the whole step, so task balance does not depend on the micro-batch size or the GPU count.
`[loss] scope = "micro_batch"` computes them MFTCoder's way instead, for a team that must match
its baseline: `micro_batch_part`.)

How the sums become per-micro-batch losses: the denominators (N_t, B_t, B, sum alpha) are token
and sample counts, known before any forward pass; they are summed across ranks first
(`StepTotals`). Every mode but focal_task is then a plain sum of per-sample terms over
denominators that are already global, so each micro-batch contributes its own part and the
parts add up to L exactly. focal_task is not linear in the per-task sums; its gradient is

    dL = sum_t alpha_t [(1-P_t)^gamma dS_t/N_t - gamma (1-P_t)^(gamma-1) (S_t/N_t) dQ_t/N_t] / sum alpha,
    Q_t = sum_{b in t} sum_k P_bk,

so once P_t and S_t/N_t of the whole step are known (`FocalCoefficients`, from a no-grad
forward of the step's micro-batches when there are several, or from the same forward when there
is one), each micro-batch backpropagates a surrogate whose gradients sum to the exact dL.

Backward scaling: the loop multiplies each part by grad_accum x world_size, because accelerate
divides by grad_accum and data parallelism averages gradients over ranks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class StepTotals:
    """Global per-task counts of one optimizer step and the task weights in force."""

    tokens: np.ndarray  # N_t, float64 [T]
    samples: np.ndarray  # B_t, float64 [T]
    alpha: np.ndarray  # task weights in force (static x CoBa), float64 [T]

    @property
    def present(self) -> np.ndarray:
        return self.tokens > 0

    @property
    def alpha_present_sum(self) -> float:
        return float((self.alpha * self.present).sum())


def local_counts(micro_batches: Sequence[Any], n_tasks: int) -> np.ndarray:
    """[2, T] (trained targets per task, samples per task) of this rank's micro-batches."""
    out = np.zeros((2, n_tasks), dtype=np.float64)
    for mb in micro_batches:
        if not mb.n_rows:
            continue
        sel = mb.loss_mask
        samples = mb.token_sample[sel]
        per_sample = np.bincount(samples, minlength=len(mb.sample_task)).astype(np.float64)
        np.add.at(out[0], mb.sample_task, per_sample)
        np.add.at(out[1], mb.sample_task, (per_sample > 0).astype(np.float64))
    return out


def effective_weights(mode: str, totals: StepTotals, focal_factor: np.ndarray | None = None) -> np.ndarray:
    """Each task's share of the step objective's weighting (sums to 1 over tasks present)."""
    present = totals.present.astype(np.float64)
    if mode == "case1":
        w = totals.tokens.copy()
    elif mode == "case2":
        w = totals.samples.copy()
    elif mode == "focal_sample":
        w = totals.alpha * (focal_factor if focal_factor is not None else totals.samples)
    elif mode == "focal_task":
        w = totals.alpha * present * (focal_factor if focal_factor is not None else 1.0)
    else:
        w = totals.alpha * present
    s = w.sum()
    return w / s if s > 0 else w


@dataclass
class FocalCoefficients:
    """focal_task: per-task coefficients from the step's global S_t, Q_t, N_t."""

    a: np.ndarray  # (1 - P_t)^gamma
    b: np.ndarray  # -gamma (1 - P_t)^(gamma - 1) L_t
    value: float  # the step objective L
    factor: np.ndarray  # (1 - P_t)^gamma, for the weight metric

    @staticmethod
    def from_sums(S: np.ndarray, Q: np.ndarray, totals: StepTotals, gamma: float) -> FocalCoefficients:
        N = np.maximum(totals.tokens, 1.0)
        L = S / N
        one_minus_p = np.clip(1.0 - Q / N, 1e-6, 1.0)
        a = one_minus_p**gamma
        b = -gamma * one_minus_p ** (gamma - 1.0) * L if gamma > 0 else np.zeros_like(L)
        denom = totals.alpha_present_sum
        value = float((totals.alpha * totals.present * a * L).sum() / denom) if denom > 0 else 0.0
        return FocalCoefficients(a=a, b=b, value=value, factor=a)


def token_sums(token_loss: Any, token_sample: Any, sample_task: Any, n_tasks: int) -> dict[str, Any]:
    """Per-sample and per-task sums of one micro-batch (torch tensors, differentiable)."""
    import torch

    n_samples = int(sample_task.numel())
    f = token_loss if token_loss.dtype in (torch.float32, torch.float64) else token_loss.float()
    S_b = torch.zeros(n_samples, dtype=f.dtype, device=f.device).index_add(0, token_sample, f)
    Q_b = torch.zeros(n_samples, dtype=f.dtype, device=f.device).index_add(0, token_sample, torch.exp(-f))
    N_b = torch.bincount(token_sample, minlength=n_samples).to(f.dtype)
    S_t = torch.zeros(n_tasks, dtype=f.dtype, device=f.device).index_add(0, sample_task, S_b)
    Q_t = torch.zeros(n_tasks, dtype=f.dtype, device=f.device).index_add(0, sample_task, Q_b)
    N_t = torch.zeros(n_tasks, dtype=f.dtype, device=f.device).index_add(0, sample_task, N_b)
    return {"S_b": S_b, "Q_b": Q_b, "N_b": N_b, "S_t": S_t, "Q_t": Q_t, "N_t": N_t}


def objective_part(
    mode: str,
    sums: dict[str, Any],
    sample_task: Any,
    totals: StepTotals,
    *,
    gamma: float = 2.0,
    focal: FocalCoefficients | None = None,
) -> Any:
    """This micro-batch's share of the step objective (see the module docstring). Summed over
    every micro-batch of every rank it equals the objective (or, for focal_task, has the
    objective's gradient)."""
    import torch

    S_b, N_b, S_t, Q_t = sums["S_b"], sums["N_b"], sums["S_t"], sums["Q_t"]
    dev, dt = S_b.device, S_b.dtype
    T = lambda a: torch.as_tensor(a, dtype=dt, device=dev)  # noqa: E731 - a short local tensor helper
    alpha, present = T(totals.alpha), T(totals.present.astype(np.float64))
    A = totals.alpha_present_sum
    if S_b.numel() == 0 or A <= 0 and mode not in ("case1", "case2"):
        return S_b.sum() * 0.0
    if mode == "case1":
        return S_b.sum() / max(float(totals.tokens.sum()), 1.0)
    per_sample_mean = S_b / N_b.clamp_min(1.0)
    if mode == "case2":
        return per_sample_mean.sum() / max(float(totals.samples.sum()), 1.0)
    if mode in ("case3", "coba"):
        return (alpha * present * S_t / T(np.maximum(totals.tokens, 1.0))).sum() / A
    if mode == "case4":
        per_task = torch.zeros_like(alpha).index_add(0, sample_task, per_sample_mean)
        return (alpha * present * per_task / T(np.maximum(totals.samples, 1.0))).sum() / A
    if mode == "focal_sample":
        P_b = sums["Q_b"] / N_b.clamp_min(1.0)
        a_b = alpha[sample_task]
        denom = float((totals.alpha * totals.samples).sum())
        return (a_b * (1.0 - P_b).clamp_min(0.0) ** gamma * per_sample_mean).sum() / max(denom, 1e-12)
    if mode == "focal_task":
        if focal is None:
            raise ValueError("focal_task needs the step's focal coefficients")
        N = T(np.maximum(totals.tokens, 1.0))
        return (alpha * present * (T(focal.a) * S_t + T(focal.b) * Q_t) / N).sum() / A
    raise ValueError(f"unknown loss mode {mode!r}")


def micro_batch_part(
    mode: str, sums: dict[str, Any], sample_task: Any, micro_batch: Any, alpha: np.ndarray, *, n_micro_batches: int
) -> Any:
    """MFTCoder's scope: the objective of this micro-batch alone (its own task and sample
    counts), divided by the number of micro-batches in the step over all ranks (grad_accum x
    world). The loop's backward scaling undoes that division, so the update is the mean of the
    micro-batch losses, as accelerate's gradient accumulation and DDP's averaging make it in
    MFTCoder (exact when rows are samples, i.e. packing off: MFTCoder counts a pack as one sample)."""
    counts = local_counts([micro_batch], len(alpha))
    totals = StepTotals(tokens=counts[0], samples=counts[1], alpha=alpha)
    return objective_part(mode, sums, sample_task, totals) / n_micro_batches
