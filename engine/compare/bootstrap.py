"""Paired bootstrap of a pass@1 difference: is B really better than A, or is it noise?

The same problems are scored in both validations, so the unit of resampling is the problem:
each resample draws N problems with replacement and takes the mean of their differences
(per-problem pass rate of B minus that of A). The 2.5th and 97.5th percentiles of 2,000 such
means are the 95 % interval. With `strata` (the task of each problem) and `macro=True` the
problems are resampled within each task and the statistic is the mean over tasks of the
per-task mean difference: the predicted contest score's difference (mean pass@1 over tasks).
Seeded, so the same two validations always give the same interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
_CHUNK_CELLS = 4_000_000  # resample matrix cells per chunk (keeps memory ~32 MB)


@dataclass(frozen=True)
class Interval:
    mean: float  # observed difference (B - A), as a fraction (0.031 = 3.1 points)
    low: float
    high: float
    n: int  # problems compared
    changed: int  # problems whose pass rate differs
    resamples: int
    confidence: float
    seed: int

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def verdict(self) -> str:
        """'+3.1 points, 95% CI [-1.2, 7.4]: within noise' (points = percentage points)."""
        if self.n == 0:
            return "no problem in common: nothing to compare"
        pts = f"{self.mean * 100:+.1f} points"
        if self.changed == 0:
            return f"{pts}: the same problems pass in both"
        ci = f"{self.confidence * 100:g}% CI [{self.low * 100:.1f}, {self.high * 100:.1f}]"
        if not self.excludes_zero:
            word = "within noise"
        else:
            word = "a real gain" if self.low > 0 else "a real loss"
        return f"{pts}, {ci}: {word}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "excludes_zero": self.excludes_zero, "verdict": self.verdict()}


def paired_bootstrap(
    diffs: Sequence[float],
    *,
    strata: Sequence[str] | None = None,
    macro: bool = False,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Percentile interval of the mean difference. `diffs[i]` = B's pass rate minus A's on
    problem i. With `strata` and `macro`, the statistic is the mean over strata of the stratum
    means, each stratum resampled on its own."""
    import numpy as np

    if resamples < 1:
        raise ValueError("resamples must be >= 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    d = np.asarray(list(diffs), dtype=np.float64)
    n = int(d.size)
    changed = int(np.count_nonzero(d))
    if n == 0:
        return Interval(0.0, 0.0, 0.0, 0, 0, resamples, confidence, seed)
    rng = np.random.default_rng(seed)
    if strata is not None and macro:
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(strata):
            groups.setdefault(str(s), []).append(i)
        parts = [d[idx] for idx in groups.values()]
        observed = float(np.mean([p.mean() for p in parts]))
        stats = np.zeros(resamples)
        for p in parts:
            stats += _resampled_means(p, resamples, rng)
        stats /= len(parts)
    else:
        observed = float(d.mean())
        stats = _resampled_means(d, resamples, rng)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    # float noise must not turn "all differences are +1" into an interval that misses the mean
    return Interval(
        observed, float(min(lo, observed)), float(max(hi, observed)), n, changed, resamples, confidence, seed
    )


def _resampled_means(values: Any, resamples: int, rng: Any) -> Any:
    import numpy as np

    n = values.size
    out = np.empty(resamples)
    step = max(1, _CHUNK_CELLS // max(1, n))
    for b0 in range(0, resamples, step):
        b1 = min(resamples, b0 + step)
        idx = rng.integers(0, n, size=(b1 - b0, n))
        out[b0:b1] = values[idx].mean(axis=1)
    return out
