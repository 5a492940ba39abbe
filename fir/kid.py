"""Realism of edits: KID (kernel inception distance) on ImageNet EfficientNet-Lite0 features.

KID (Binkowski et al., ICLR 2018, "Demystifying MMD GANs") is the squared maximum mean discrepancy
between two image sets' features with the cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``
(d: the feature width), estimated without bias::

    KID = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (n (n-1))
          - 2 sum_{i, j} k(x_i, y_j) / (m n)

for independent sets (:func:`kid`). It can be slightly negative when the two sets come from the same
distribution.

**Features.** The original uses Inception-v3's pool features; no Inception weights are on this
machine (nothing is downloaded), so the features here are the global-average-pooled 1280-channel
head of the one ImageNet-pretrained trunk available offline, EfficientNet-Lite0
(:func:`amgan.nets.classifier.load_efficientnet_lite0`), on the images resized to ``size`` px
(bilinear) and ImageNet-normalised. The numbers are therefore **"KID (EfficientNet-Lite0 ImageNet
features)"**: comparable between methods of one report, not with published FID/KID-Inception values.

**Pairing.** The edit set X and the reference set Y are built one item per query (a query's edit
and a real render chosen for that query's target), so ``x_i`` and ``y_i`` are not independent
draws: they share the target attributes. The cross term therefore leaves out the paired
``k(x_i, y_i)`` like the within-set terms leave out ``k(x_i, x_i)``; every kept pair is one of
independent items, and the estimator stays unbiased::

    KID = [sum_{i != j} k(x_i, x_j) + sum_{i != j} k(y_i, y_j) - 2 sum_{i != j} k(x_i, y_j)] / (n (n-1))

**Interval.** A paired bootstrap over queries: a draw gives each query a multiplicity ``c_i``, and
each term keeps its form by leaving out the pairs of copies of the same query::

    term = (c' K c - sum_i c_i^2 K_ii) / (S^2 - sum_i c_i^2),   S = sum_i c_i

(for Kxx, Kyy and Kxy alike). With every ``c_i = 1`` this is the estimator above. Differences
between methods use the same draws (paired).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["FEATURE_NAME", "KidFeatures", "polynomial_kernel", "kid", "kid_weighted", "kid_bootstrap"]

FEATURE_NAME = "KID (EfficientNet-Lite0 ImageNet features)"


class KidFeatures:
    """Pooled EfficientNet-Lite0 ImageNet features of images: ``feats(x)`` for float [N,3,H,W] in [0,1]
    (or uint8) -> float64 [N, 1280]. The network loads on first use."""

    def __init__(self, size: int = 128, batch_size: int = 64, device="cpu"):
        if size % 32:
            raise ValueError(f"KID feature size must be a multiple of 32, got {size}")
        self.size, self.batch_size, self.device = size, batch_size, torch.device(device)
        self._net = None

    def _load(self):
        from amgan.nets.classifier import IMAGENET_MEAN, IMAGENET_STD, load_efficientnet_lite0

        self._net = load_efficientnet_lite0(pretrained=True).eval().requires_grad_(False).to(self.device)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> np.ndarray:
        if self._net is None:
            self._load()
        out = []
        for s in range(0, len(x), self.batch_size):
            b = x[s:s + self.batch_size].to(self.device)
            b = b.float().div(255) if b.dtype == torch.uint8 else b.float()
            if b.shape[-1] != self.size or b.shape[-2] != self.size:
                b = F.interpolate(b, size=(self.size, self.size), mode="bilinear", align_corners=False,
                                  antialias=b.shape[-1] > self.size)
            f = self._net.extract_features((b - self._mean) / self._std).mean(dim=(2, 3))
            out.append(f.double().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, 1280))


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(x y' / d + 1)^3 for feature rows x [m, d], y [n, d] -> [m, n]."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be [m, d] and [n, d]; got {x.shape} and {y.shape}")
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid(fx: np.ndarray, fy: np.ndarray) -> float:
    """The unbiased KID estimate between feature sets fx [m, d] and fy [n, d] (m, n >= 2)."""
    m, n = len(fx), len(fy)
    if m < 2 or n < 2:
        raise ValueError(f"KID needs at least 2 items per set; got {m} and {n}")
    kxx, kyy, kxy = polynomial_kernel(fx, fx), polynomial_kernel(fy, fy), polynomial_kernel(fx, fy)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kid_weighted(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray, c: np.ndarray) -> np.ndarray:
    """KID of paired sets (row i of X and of Y belong to query i) under multiplicities c [B, n], one
    row per bootstrap draw -> [B]; pairs of copies of one query are left out of every term (module
    doc). c of all ones: the paired estimator, which is :func:`kid` without the paired cross terms."""
    c = np.atleast_2d(np.asarray(c, np.float64))
    s = c.sum(1)
    s2 = (c ** 2).sum(1)

    def within(k):
        return (np.einsum("bi,ij,bj->b", c, k, c, optimize=True) - (c ** 2) @ np.diag(k)) / (s ** 2 - s2)

    return within(kxx) + within(kyy) - 2 * within(kxy)


def kid_bootstrap(feats: dict[str, np.ndarray], ref: np.ndarray, n_boot: int = 500, seed: int = 0,
                  pairs=(), digits: int = 5) -> dict:
    """KID of every set in ``feats`` ({name: [n, d]}, row i = query i) against ``ref`` [n, d] (row i:
    the real render chosen for query i), each with a paired-bootstrap 95% interval over queries; and
    the differences KID(a) - KID(b) for each (a, b) in ``pairs`` on the same draws.

    -> {"methods": {name: {"kid", "ci95", "n"}}, "differences": {"a-b": {"diff", "ci95", "n"}}}."""
    n = len(ref)
    for name, f in feats.items():
        if len(f) != n:
            raise ValueError(f"KID set {name!r} has {len(f)} rows for {n} reference rows (they pair by query)")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    c = np.zeros((n_boot, n))
    np.add.at(c, (np.arange(n_boot)[:, None], idx), 1.0)
    kyy = polynomial_kernel(ref, ref)
    point, draws = {}, {}
    ones = np.ones((1, n))
    for name, f in feats.items():
        kxx, kxy = polynomial_kernel(f, f), polynomial_kernel(f, ref)
        point[name] = float(kid_weighted(kxx, kyy, kxy, ones)[0])
        draws[name] = kid_weighted(kxx, kyy, kxy, c)

    def ci(v):
        return [round(float(np.quantile(v, 0.025)), digits), round(float(np.quantile(v, 0.975)), digits)]

    out = {"methods": {k: {"kid": round(point[k], digits), "ci95": ci(draws[k]), "n": n} for k in feats},
           "differences": {}}
    for a, b in pairs:
        if a in feats and b in feats:
            out["differences"][f"{a}-{b}"] = {"diff": round(point[a] - point[b], digits),
                                              "ci95": ci(draws[a] - draws[b]), "n": n}
    return out
