"""MFT objectives against hand computations on a fixed batch, their independence from how a step
is split into micro-batches / ranks, the CoBa balancer and the learning-rate schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.train.coba import CoBa
from engine.train.losses import FocalCoefficients, StepTotals, effective_weights, objective_part, token_sums
from engine.train.schedule import lr_at

# Fixed batch: task A (id 0) has samples s0 = [1, 2, 3] and s1 = [0.5]; task B (id 1) has
# s2 = [4, 2]; task C (id 2) is absent. Values are per-token cross-entropies.
SAMPLES = [(0, [1.0, 2.0, 3.0]), (0, [0.5]), (1, [4.0, 2.0])]
ALPHA = [1.0, 3.0, 1.0]
GAMMA = 2.0


def _hand(mode: str, alpha: list[float]) -> float:
    """Written from the formulas in engine/train/losses.py, independently of its code."""
    toks = [l for _, ls in SAMPLES for l in ls]
    if mode == "case1":
        return sum(toks) / len(toks)
    if mode == "case2":
        return sum(sum(ls) / len(ls) for _, ls in SAMPLES) / len(SAMPLES)
    tasks = sorted({t for t, _ in SAMPLES})
    by = {t: [ls for tt, ls in SAMPLES if tt == t] for t in tasks}
    wsum = sum(alpha[t] for t in tasks)
    if mode == "case3":
        return sum(alpha[t] * sum(map(sum, by[t])) / sum(map(len, by[t])) for t in tasks) / wsum
    if mode == "case4":
        return sum(alpha[t] * sum(sum(ls) / len(ls) for ls in by[t]) / len(by[t]) for t in tasks) / wsum
    if mode == "focal_sample":
        num = sum(alpha[t] * (1 - sum(math.exp(-l) for l in ls) / len(ls)) ** GAMMA * sum(ls) / len(ls)
                  for t, ls in SAMPLES)
        return num / sum(alpha[t] for t, _ in SAMPLES)
    if mode == "focal_task":
        tot = 0.0
        for t in tasks:
            flat = [l for ls in by[t] for l in ls]
            p = sum(math.exp(-l) for l in flat) / len(flat)
            tot += alpha[t] * (1 - p) ** GAMMA * sum(flat) / len(flat)
        return tot / wsum
    raise AssertionError(mode)


def _tensors(samples, requires_grad=True):
    import torch

    losses = torch.tensor([l for _, ls in samples for l in ls], dtype=torch.float64, requires_grad=requires_grad)
    token_sample = torch.tensor([i for i, (_, ls) in enumerate(samples) for _ in ls])
    sample_task = torch.tensor([t for t, _ in samples])
    return losses, token_sample, sample_task


def _totals(alpha):
    tokens = np.zeros(3)
    counts = np.zeros(3)
    for t, ls in SAMPLES:
        tokens[t] += len(ls)
        counts[t] += 1
    return StepTotals(tokens=tokens, samples=counts, alpha=np.array(alpha))


def _value(mode, alpha, parts):
    """Objective value and d(objective)/d(token losses) from micro-batch `parts`
    (lists of sample indices), through the same code path as the training loop."""
    import torch

    totals = _totals(alpha)
    losses, tsamp, stask = _tensors(SAMPLES)
    focal = None
    if mode == "focal_task":  # the loop's coefficient pass: global S_t, Q_t of the step
        s = token_sums(losses.detach(), tsamp, stask, 3)
        focal = FocalCoefficients.from_sums(s["S_t"].numpy(), s["Q_t"].numpy(), totals, GAMMA)
    total = 0.0
    for part in parts:
        idx = [i for i, (si, _) in enumerate([(k, None) for k, s in enumerate(SAMPLES) for _ in s[1]]) if si in part]
        sub_samples = [SAMPLES[k] for k in part]
        remap = {k: j for j, k in enumerate(part)}
        sel = torch.tensor(idx)
        sums = token_sums(losses[sel], torch.tensor([remap[int(tsamp[i])] for i in idx]),
                          torch.tensor([t for t, _ in sub_samples]), 3)
        total = total + objective_part(mode, sums, torch.tensor([t for t, _ in sub_samples]), totals,
                                       gamma=GAMMA, focal=focal)
    total.backward()
    value = focal.value if mode == "focal_task" else float(total.detach())
    return value, losses.grad.clone()


MODES = ["case1", "case2", "case3", "case4", "focal_sample", "focal_task"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("alpha", [[1.0, 1.0, 1.0], ALPHA], ids=["equal", "weighted"])
def test_mode_matches_hand_computation(mode: str, alpha: list[float]) -> None:
    value, _ = _value(mode, alpha, [[0, 1, 2]])
    expect = _hand(mode, alpha if mode not in ("case1", "case2") else [1, 1, 1])
    assert value == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_split_into_micro_batches_changes_nothing(mode: str) -> None:
    """The same global batch cut into micro-batches / ranks in any way gives the same objective
    and the same gradients: balancing is over the step, not inside each micro-batch."""
    whole_v, whole_g = _value(mode, ALPHA, [[0, 1, 2]])
    for parts in ([[0], [1], [2]], [[0, 2], [1]], [[1, 2], [0]]):
        v, g = _value(mode, ALPHA, parts)
        assert v == pytest.approx(whole_v, rel=1e-12)
        assert np.allclose(g.numpy(), whole_g.numpy(), rtol=1e-10, atol=1e-12)


def test_focal_task_gradient_is_the_true_gradient() -> None:
    """The per-micro-batch surrogate of focal_task has the gradient of the real objective."""
    import torch

    losses, tsamp, stask = _tensors(SAMPLES)
    alpha = torch.tensor(ALPHA, dtype=torch.float64)
    L = 0.0
    present = [0, 1]
    for t in present:
        m = stask[tsamp] == t
        p = torch.exp(-losses[m]).mean()
        L = L + alpha[t] * (1 - p) ** GAMMA * losses[m].mean()
    L = L / alpha[present].sum()
    L.backward()
    _, g = _value("focal_task", ALPHA, [[0], [1, 2]])
    assert np.allclose(g.numpy(), losses.grad.numpy(), rtol=1e-10)


def test_per_micro_batch_balancing_would_differ() -> None:
    """Guard: MFTCoder's case3 (balanced inside each micro-batch, then averaged) is a different
    number on this batch, so the invariance above is a real property, not a tautology."""
    local = np.mean([_hand_case3_of([SAMPLES[0], SAMPLES[2]]), _hand_case3_of([SAMPLES[1]])])
    assert abs(local - _hand("case3", [1, 1, 1])) > 0.1


def _hand_case3_of(samples) -> float:
    tasks = sorted({t for t, _ in samples})
    vals = []
    for t in tasks:
        flat = [l for tt, ls in samples if tt == t for l in ls]
        vals.append(sum(flat) / len(flat))
    return sum(vals) / len(vals)


def test_effective_weights() -> None:
    totals = _totals(ALPHA)
    assert effective_weights("case3", totals).tolist() == pytest.approx([0.25, 0.75, 0.0])
    assert effective_weights("case1", totals).tolist() == pytest.approx([4 / 6, 2 / 6, 0.0])
    assert effective_weights("case2", totals).tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])


def test_coba_weights() -> None:
    c = CoBa(2, warmup_steps=5, history_length=20)
    c.set_baseline([2.0, 2.0])
    assert c.weights(0).tolist() == [0.5, 0.5]  # uniform in warm-up
    # task 0 converges fast, task 1 hardly moves: CoBa shifts weight to the slow task
    for i in range(20):
        c.record([2.0 - 0.08 * i, 2.0 - 0.005 * i])
    w = c.weights(20)
    assert w.sum() == pytest.approx(1.0) and w[1] > w[0] + 0.2
    # state survives a checkpoint round trip and gives the same weights
    d = CoBa(2, warmup_steps=5, history_length=20)
    d.load_state_dict(c.state_dict())
    c2 = CoBa(2, warmup_steps=5, history_length=20)
    c2.load_state_dict(c.state_dict())
    assert d.weights(21).tolist() == pytest.approx(c2.weights(21).tolist())


def test_coba_damps_a_diverging_task() -> None:
    c = CoBa(2, warmup_steps=5, history_length=12)
    c.set_baseline([1.0, 1.0])
    for i in range(12):
        c.record([1.0 - 0.03 * i, 1.0 - 0.03 * i])
        c.weights(i + 5)
    for i in range(12):  # task 1 starts over-fitting: its validation loss rises
        c.record([0.64 - 0.03 * i, 0.64 + 0.05 * i])
        w = c.weights(20 + i)
    assert w[1] < w[0]
    assert min(w) >= 1 / 20 - 1e-12  # the floor 1/(10N)


def test_schedule_warmup_cosine_floor() -> None:
    kw = dict(lr=1e-3, min_lr=1e-4, warmup=10, total=110)
    assert lr_at(0, **kw) == pytest.approx(1e-4)
    assert lr_at(9, **kw) == pytest.approx(1e-3)
    assert lr_at(60, **kw) == pytest.approx((1e-3 + 1e-4) / 2)
    assert lr_at(110, **kw) == pytest.approx(1e-4)
    assert lr_at(500, **kw) == pytest.approx(1e-4)  # the floor is part of the schedule
    assert lr_at(60, kind="linear", **kw) == pytest.approx((1e-3 + 1e-4) / 2)
    assert lr_at(60, kind="constant", **kw) == pytest.approx(1e-3)
