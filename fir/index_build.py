"""Building faiss indexes for :class:`fir.index.GalleryIndex`: parameters per kind (flat, IVF,
HNSW, OPQ+IVF+PQ), their defaults for a gallery's size, training, and the calibration of the
search effort (``nprobe`` / ``efSearch``) to a target leave-one-out recall against exact search.
"""
from __future__ import annotations

import logging
import math
from typing import Any

import faiss
import numpy as np

log = logging.getLogger("fir.index")

KINDS = ("flat", "ivf", "hnsw", "ivfpq")

_PARAM_DEFAULTS: dict[str, dict[str, Any]] = {
    "flat": {},
    "ivf": {"nlist": None, "nprobe": 16, "train_size": None, "niter": 10},
    "hnsw": {"M": 32, "ef_construction": 80, "ef_search": 64},
    "ivfpq": {"nlist": None, "nprobe": 16, "m": None, "nbits": None, "train_size": None,
              "niter": 10},
}
_AUTO_ONLY = {"target_recall": 0.95, "calibration_queries": 500}
_NPROBE_STEPS = (1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024)
_EF_STEPS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


def _default_nlist(n: int) -> int:
    return int(max(1, min(round(4 * math.sqrt(n)), n // 39)))


def _set_search_param(index, kind: str, params: dict) -> None:
    ps = faiss.ParameterSpace()
    if kind in ("ivf", "ivfpq"):
        ps.set_index_parameter(index, "nprobe", int(params["nprobe"]))
    elif kind == "hnsw":
        ps.set_index_parameter(index, "efSearch", int(params["ef_search"]))


def _resolve_params(kind: str, n: int, d: int, given: dict) -> dict:
    allowed = _PARAM_DEFAULTS[kind]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for kind {kind!r}; "
                         f"allowed: {sorted(allowed) or 'none'}")
    p = {**allowed, **{key: v for key, v in given.items() if v is not None}}
    if kind in ("ivf", "ivfpq"):
        p["nlist"] = int(p["nlist"] or _default_nlist(n))
        if not 1 <= p["nlist"] <= n:
            raise ValueError(f"nlist must be in [1, {n}] for {n} vectors; got {p['nlist']}")
        p["nprobe"] = int(min(max(1, p["nprobe"]), p["nlist"]))
        p["train_size"] = int(min(n, p["train_size"] or max(40 * p["nlist"], 10_000)))
    if kind == "ivfpq":
        if p["m"] is None:
            p["m"] = max(m for m in range(1, min(64, max(1, d // 4)) + 1) if d % m == 0)
        if d % p["m"]:
            raise ValueError(f"PQ m={p['m']} must divide the dimension {d}")
        if p["nbits"] is None:
            p["nbits"] = int(min(8, max(4, math.floor(math.log2(max(1, p["train_size"]) / 39)))))
        if p["train_size"] < 2 ** p["nbits"] or p["train_size"] < p["nlist"]:
            raise ValueError(f"ivfpq needs at least {max(2 ** p['nbits'], p['nlist'])} "
                             f"training vectors; got {p['train_size']} (use kind='flat')")
    return p


def _train_sample(x: np.ndarray, size: int, seed: int) -> np.ndarray:
    if size >= x.shape[0]:
        return x
    rows = np.sort(np.random.default_rng(seed).choice(x.shape[0], size, replace=False))
    return np.ascontiguousarray(x[rows])


def _make_index(kind: str, x: np.ndarray, p: dict, seed: int):
    d = x.shape[1]
    ip = faiss.METRIC_INNER_PRODUCT
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, int(p["M"]), ip)
        index.hnsw.efConstruction = int(p["ef_construction"])
    elif kind == "ivf":
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, p["nlist"], ip)
    elif kind == "ivfpq":
        index = faiss.index_factory(d, f"OPQ{p['m']},IVF{p['nlist']},PQ{p['m']}x{p['nbits']}", ip)
    else:
        raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS + ('auto',)}")
    if kind in ("ivf", "ivfpq"):
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.seed, ivf.cp.niter, ivf.cp.spherical = seed, int(p["niter"]), True
        opq_pq = None
        if kind == "ivfpq":  # OPQ trains its rotation with an 8-bit PQ unless given one
            opq = faiss.downcast_VectorTransform(index.chain.at(0))
            opq_pq = faiss.ProductQuantizer(d, int(p["m"]), int(p["nbits"]))
            opq.pq = opq_pq
        index.train(_train_sample(x, p["train_size"], seed))
        if opq_pq is not None:
            opq.pq = None  # the temporary PQ is freed with opq_pq; drop the dangling pointer
    index.add(x)
    _set_search_param(index, kind, p)
    return index


def _calibrate(index, kind: str, x: np.ndarray, p: dict, target: float, n_queries: int,
               seed: int, k: int = 10) -> dict:
    """Smallest nprobe/efSearch whose leave-one-out recall@k reaches ``target``."""
    n = x.shape[0]
    rows = np.sort(np.random.default_rng(seed + 1).choice(n, min(n_queries, n), replace=False))
    q = np.ascontiguousarray(x[rows])

    def drop_self(found):  # leave-one-out: the query row itself is not a neighbour
        keep = found != rows[:, None]
        return np.array([r[m][:k] for r, m in zip(found, keep)])

    _, gt = faiss.knn(q, x, k + 1, metric=faiss.METRIC_INNER_PRODUCT)
    gt = drop_self(gt)
    key, steps = ("nprobe", _NPROBE_STEPS) if kind == "ivf" else ("ef_search", _EF_STEPS)
    if kind == "ivf":
        steps = [s for s in steps if s < p["nlist"]] + [p["nlist"]]
    recall = 0.0
    for value in steps:
        _set_search_param(index, kind, {**p, key: value})
        _, found = index.search(q, k + 1)
        found = drop_self(found)
        recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found, gt)]))
        if recall >= target:
            break
    else:
        log.warning("auto index: recall@%d %.3f below target %.3f even at %s=%s",
                    k, recall, target, key, value)
    log.info("auto index: %s=%s gives leave-one-out recall@%d %.3f", key, value, k, recall)
    return {key: int(value), "calibrated_recall_at_10": round(recall, 4),
            "target_recall": target, "calibration_queries": int(q.shape[0])}
