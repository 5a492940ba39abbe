"""Bootstrap intervals for evaluation numbers: a rate or a mean with the n behind it.

Shared by every evaluation (``amgan evaluate-edits``, ``fir evaluate-photos``); ``fir.metrics``
re-exports them. Percentile bootstrap of the mean, deterministic for a seed.
"""
from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_ci", "accuracy_with_ci", "mean_with_ci", "paired_difference_ci"]


def bootstrap_ci(values, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement);
    (nan, nan) for an empty array. Deterministic for a seed."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def accuracy_with_ci(correct, n_boot: int = 1000, seed: int = 0) -> dict:
    """{"acc", "n", "ci95": [lo, hi]} of a 0/1 array (None for an empty one)."""
    c = np.asarray(correct, dtype=np.float64).ravel()
    if c.size == 0:
        return {"acc": None, "n": 0, "ci95": None}
    lo, hi = bootstrap_ci(c, n_boot, seed)
    return {"acc": round(float(c.mean()), 4), "n": int(c.size), "ci95": [round(lo, 4), round(hi, 4)]}


def mean_with_ci(values, n_boot: int = 1000, seed: int = 0, digits: int = 4) -> dict:
    """{"mean", "n", "ci95": [lo, hi]} of real values; nan entries are left out (and not counted);
    None for none left."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": None, "n": 0, "ci95": None}
    lo, hi = bootstrap_ci(v, n_boot, seed)
    return {"mean": round(float(v.mean()), digits), "n": int(v.size), "ci95": [round(lo, digits), round(hi, digits)]}


def paired_difference_ci(a, b, n_boot: int = 1000, seed: int = 0, digits: int = 4) -> dict:
    """Paired bootstrap of mean(a) - mean(b) over the same items (queries): ``a[i]`` and ``b[i]`` are
    two methods' scores on item i, resampled together. {"diff", "n", "ci95": [lo, hi]}; items where
    either is nan are left out; None for none left."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values must have the same length; got {a.size} and {b.size}")
    d = a - b
    d = d[np.isfinite(d)]
    if d.size == 0:
        return {"diff": None, "n": 0, "ci95": None}
    lo, hi = bootstrap_ci(d, n_boot, seed)
    return {"diff": round(float(d.mean()), digits), "n": int(d.size), "ci95": [round(lo, digits), round(hi, digits)]}
