"""Bootstrap intervals for evaluation numbers: a rate or a mean with the n behind it.

Shared by every evaluation (``amgan evaluate-edits``, ``fir evaluate``, ``fir evaluate-photos``);
``fir.metrics`` re-exports them. Percentile bootstrap of the mean, deterministic for a seed.

**Clustered items** (``clusters``): when several items share a unit (the edits of one product, two
street photos of one garment) they are not independent, and resampling items one by one makes the
interval too narrow. Given each item's cluster id, the bootstrap resamples whole clusters with
replacement (the cluster, or block, bootstrap: Davison and Hinkley, *Bootstrap Methods and their
Application*, 1997, section 3.8) and the statistic is the mean over the items of the drawn clusters.
"""
from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_ci", "accuracy_with_ci", "mean_with_ci", "paired_difference_ci"]


def bootstrap_ci(values, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                 clusters=None) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement: items, or
    whole ``clusters`` when each item's cluster id is given); (nan, nan) for an empty array.
    Deterministic for a seed."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    if clusters is None:
        means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    else:
        ids = _cluster_ids(clusters, v.size)
        sums, counts = np.bincount(ids, weights=v), np.bincount(ids).astype(np.float64)
        draw = rng.integers(0, sums.size, size=(n_boot, sums.size))
        means = sums[draw].sum(axis=1) / counts[draw].sum(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def _cluster_ids(clusters, n: int) -> np.ndarray:
    """Cluster labels (any hashable values) of n items -> dense ids 0..C-1."""
    c = np.asarray(clusters).ravel()
    if c.size != n:
        raise ValueError(f"clusters must give one id per item; got {c.size} ids for {n} items")
    return np.unique(c, return_inverse=True)[1].ravel()


def _kept(clusters, keep: np.ndarray):
    """The cluster ids of the items kept (one id per item, checked); None without clusters."""
    if clusters is None:
        return None
    _cluster_ids(clusters, keep.size)
    return np.asarray(clusters).ravel()[keep]


def _with_clusters(out: dict, clusters) -> dict:
    if clusters is not None and out.get("n"):
        out["clusters"] = int(np.unique(np.asarray(clusters).ravel()).size)
    return out


def accuracy_with_ci(correct, n_boot: int = 1000, seed: int = 0, clusters=None) -> dict:
    """{"acc", "n", "ci95": [lo, hi]} of a 0/1 array (None for an empty one); with ``clusters`` the
    interval resamples clusters and the dict also has "clusters" (how many)."""
    c = np.asarray(correct, dtype=np.float64).ravel()
    if c.size == 0:
        return {"acc": None, "n": 0, "ci95": None}
    lo, hi = bootstrap_ci(c, n_boot, seed, clusters=clusters)
    return _with_clusters({"acc": round(float(c.mean()), 4), "n": int(c.size), "ci95": [round(lo, 4), round(hi, 4)]},
                          clusters)


def mean_with_ci(values, n_boot: int = 1000, seed: int = 0, digits: int = 4, clusters=None) -> dict:
    """{"mean", "n", "ci95": [lo, hi]} of real values; nan entries are left out (and not counted);
    None for none left. ``clusters``: as :func:`accuracy_with_ci`."""
    v = np.asarray(values, dtype=np.float64).ravel()
    keep = np.isfinite(v)
    v = v[keep]
    if v.size == 0:
        return {"mean": None, "n": 0, "ci95": None}
    cl = _kept(clusters, keep)
    lo, hi = bootstrap_ci(v, n_boot, seed, clusters=cl)
    return _with_clusters({"mean": round(float(v.mean()), digits), "n": int(v.size),
                           "ci95": [round(lo, digits), round(hi, digits)]}, cl)


def paired_difference_ci(a, b, n_boot: int = 1000, seed: int = 0, digits: int = 4, clusters=None) -> dict:
    """Paired bootstrap of mean(a) - mean(b) over the same items (queries): ``a[i]`` and ``b[i]`` are
    two methods' scores on item i, resampled together (with ``clusters``: whole clusters of items).
    {"diff", "n", "ci95": [lo, hi]}; items where either is nan are left out; None for none left."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values must have the same length; got {a.size} and {b.size}")
    d = a - b
    keep = np.isfinite(d)
    d = d[keep]
    if d.size == 0:
        return {"diff": None, "n": 0, "ci95": None}
    cl = _kept(clusters, keep)
    lo, hi = bootstrap_ci(d, n_boot, seed, clusters=cl)
    return _with_clusters({"diff": round(float(d.mean()), digits), "n": int(d.size),
                           "ci95": [round(lo, digits), round(hi, digits)]}, cl)
