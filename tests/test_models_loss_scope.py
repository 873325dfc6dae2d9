"""`[loss] scope = "micro_batch"` reproduces MFTCoder's loss: case3 / case4 computed inside each
micro-batch on each GPU, then averaged (gradient accumulation and DDP); "global" (the default)
balances over the whole step. Checked against a hand computation of MFTCoder's formulas."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from engine.errors import InputError


def _micro_batch(samples: list[tuple[int, list[float]]]) -> SimpleNamespace:
    """A micro-batch as the loop sees it: per-token CE of the trained targets, the sample of each
    token, the task of each sample (one row per sample: packing off)."""
    tokens = [(s, ce) for s, (_t, ces) in enumerate(samples) for ce in ces]
    return SimpleNamespace(
        n_rows=len(samples), loss=np.array([ce for _, ce in tokens]),
        token_sample=np.array([s for s, _ in tokens]), sample_task=np.array([t for t, _ in samples]),
        loss_mask=np.ones(len(tokens), dtype=bool))


def _mftcoder(mode: str, samples: list[tuple[int, list[float]]], weights: list[float]) -> float:
    """MFTCoder loss_func_mft for one micro-batch, written out from its definition."""
    tasks = sorted({t for t, _ in samples})
    per_task = []
    for t in tasks:
        rows = [ces for tt, ces in samples if tt == t]
        if mode == "case3":    # token mean inside the task
            per_task.append(sum(sum(r) for r in rows) / sum(len(r) for r in rows))
        else:                  # case4: mean over the task's samples of their token means
            per_task.append(sum(sum(r) / len(r) for r in rows) / len(rows))
    w = [weights[t] for t in tasks]
    return sum(wi * li for wi, li in zip(w, per_task)) / sum(w)


# 2 ranks x grad_accum 2: four micro-batches of 2-3 samples over 3 tasks, different lengths
STEP = [
    [(0, [1.0, 2.0, 3.0]), (1, [0.5])],
    [(2, [4.0, 4.0]), (2, [1.0]), (0, [2.5, 0.5])],
    [(1, [3.0, 1.0, 2.0, 2.0])],
    [(0, [0.2]), (1, [1.5, 2.5]), (2, [3.5])],
]


@pytest.mark.parametrize("mode", ["case3", "case4"])
def test_micro_batch_scope_is_mftcoder_per_micro_batch_per_gpu(mode: str) -> None:
    import torch

    from engine.train.losses import StepTotals, local_counts, micro_batch_part, objective_part, token_sums

    alpha = np.array([1.0, 2.0, 0.5])     # static task weights (MFTCoder main's task_weights)
    parts, global_parts = [], []
    mbs = [_micro_batch(s) for s in STEP]
    counts = sum(local_counts([mb], 3) for mb in mbs)   # what reduce_sum gives the global scope
    totals = StepTotals(tokens=counts[0], samples=counts[1], alpha=alpha)
    for mb in mbs:
        sums = token_sums(torch.tensor(mb.loss, dtype=torch.float64), torch.tensor(mb.token_sample),
                          torch.tensor(mb.sample_task), 3)
        sample_task = torch.tensor(mb.sample_task)
        parts.append(float(micro_batch_part(mode, sums, sample_task, mb, alpha, n_micro_batches=len(mbs))))
        global_parts.append(float(objective_part(mode, sums, sample_task, totals)))
    # the loop backpropagates each part x (grad_accum x world); accelerate / DDP then divide by it:
    # the update follows sum(parts) = the mean of MFTCoder's per-micro-batch losses
    want = float(np.mean([_mftcoder(mode, s, list(alpha)) for s in STEP]))
    assert sum(parts) == pytest.approx(want, abs=1e-12)
    # the global scope is a different objective on the same step (task balance over the whole step)
    assert abs(sum(global_parts) - want) > 1e-3


def test_global_is_the_default_and_micro_batch_is_limited_to_mftcoders_modes() -> None:
    from engine.train.config import LossSection, TrainConfig

    assert LossSection().scope == "global"
    assert LossSection(mode="case4", scope="micro_batch").scope == "micro_batch"
    with pytest.raises(ValueError, match="reproduces MFTCoder"):
        LossSection(mode="focal_task", scope="micro_batch")
    from engine.config import validate

    with pytest.raises(InputError) as e:
        validate(TrainConfig, {"name": "x", "model": {"path": "m"}, "data": {"mixture": "b"},
                               "loss": {"scope": "per_gpu"}})
    assert e.value.field == "loss.scope"
