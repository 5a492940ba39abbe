"""Retrieval and editing metrics: plain numpy functions over arrays (faiss ``contrib`` style).

Conventions used by every function here:

- Retrieval ranking ties are broken by gallery id ascending everywhere in ``fir``
  (:func:`fir.index.exact_search_numpy` and :class:`fir.index.GalleryIndex` return ranked
  lists in that order). The metrics read the ranked lists as given; they never re-rank.
- ``ks`` values larger than the number of retrieved columns K use all K columns: a
  search clamps k to the gallery size, so the top-k of a gallery smaller than k is the
  whole gallery. Retrieved id -1 (a missing result) is never relevant.
- Averages over zero queries / zero pixels are ``nan``, never an exception.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from amgan.intervals import accuracy_with_ci, bootstrap_ci, paired_difference_ci  # noqa: F401  (re-exported: the one copy lives in amgan)

__all__ = [
    "hits_curve",
    "first_hit_rank",
    "judge_groups",
    "recall_at_k",
    "recall_curve",
    "topk_attribute_accuracy",
    "topk_attribute_accuracy_curve",
    "valid_query_mask",
    "attribute_accuracy",
    "masked_mean_abs_diff",
    "iou",
    "psnr",
    "ssim",
]


def _check_ks(ks: Iterable[int]) -> list[int]:
    ks = [ks] if isinstance(ks, (int, np.integer)) else list(ks)
    bad = [k for k in ks if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1]
    if bad or not ks:
        raise ValueError(f"ks must be positive integers; got {ks!r}")
    return [int(k) for k in ks]


def _masked_mean(x: np.ndarray, valid: np.ndarray | None) -> float:
    if valid is not None:
        x = x[np.asarray(valid, dtype=bool)]
    return float(x.mean()) if x.size else float("nan")


def hits_curve(hits, valid=None) -> np.ndarray:
    """Top-k hit rate for k = 1..K from a boolean [Q, K] matrix of ranked hits.

    ``curve[k-1]`` is the fraction of queries (only those where ``valid`` [Q] is true,
    when given) with at least one hit among their first k results. Zero queries: nan.
    """
    hits = np.asarray(hits, dtype=bool)
    if hits.ndim != 2:
        raise ValueError(f"hits must have shape [Q, K]; got {hits.shape}")
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != (hits.shape[0],):
            raise ValueError(f"valid must have shape [{hits.shape[0]}]; got {valid.shape}")
        hits = hits[valid]
    if hits.shape[0] == 0:
        return np.full(hits.shape[1], np.nan)
    return np.logical_or.accumulate(hits, axis=1).mean(axis=0)


def first_hit_rank(hits) -> np.ndarray:
    """1-based rank of each query's first hit in a boolean [Q, K] matrix; K + 1 where none hit.

    ``rank <= k`` is the query's top-k hit, so every top-k number and its interval comes from this
    one array: ``hits_curve(hits)[k-1] == (first_hit_rank(hits) <= k).mean()``.
    """
    hits = np.asarray(hits, dtype=bool)
    if hits.ndim != 2:
        raise ValueError(f"hits must have shape [Q, K]; got {hits.shape}")
    any_hit = hits.any(axis=1)
    return np.where(any_hit, hits.argmax(axis=1) + 1, hits.shape[1] + 1).astype(np.int64)


def judge_groups(groups, floor_hit, ceiling_hit, valid=None, margin: float = 0.10, n_boot: int = 1000,
                 seed: int = 0, clusters=None) -> dict:
    """Which edited attribute groups retrieval can judge: the rule of ``fir evaluate``.

    ``groups`` [Q] (the edited group of each query), ``floor_hit`` / ``ceiling_hit`` [Q] bool: the
    top-k hits of the unedited query (doing nothing) and of the ground-truth render (a perfect edit).
    A method can only score between the two, so a group separates methods only when a perfect edit
    is measurably better than no edit: the group is **measurable** when the lower end of the paired
    bootstrap 95% interval of (ceiling - floor) over its valid queries is at least ``margin``.
    Otherwise (e.g. the unedited query already hits, or even the truth does not) no method can be
    told apart from doing nothing there, and the group is left out of the means. ``clusters`` [Q]:
    each query's bootstrap unit (e.g. its product), resampled whole.

    -> {group: {"n", "floor", "ceiling", "lead": {"diff", "n", "ci95"}, "measurable", "reason"}}.
    """
    groups = np.asarray(groups)
    floor_hit, ceiling_hit = np.asarray(floor_hit, bool), np.asarray(ceiling_hit, bool)
    if not (groups.shape == floor_hit.shape == ceiling_hit.shape) or groups.ndim != 1:
        raise ValueError(f"groups, floor_hit and ceiling_hit must be [Q]; got {groups.shape}, {floor_hit.shape}, "
                         f"{ceiling_hit.shape}")
    valid = np.ones(len(groups), bool) if valid is None else np.asarray(valid, bool)
    out = {}
    for g in dict.fromkeys(groups.tolist()):
        sel = (groups == g) & valid
        lead = paired_difference_ci(ceiling_hit[sel], floor_hit[sel], n_boot, seed,
                                    clusters=None if clusters is None else np.asarray(clusters)[sel])
        fl = float(floor_hit[sel].mean()) if sel.any() else float("nan")
        ce = float(ceiling_hit[sel].mean()) if sel.any() else float("nan")
        ok = lead["ci95"] is not None and lead["ci95"][0] >= margin
        if lead["ci95"] is None:
            reason = "no valid queries"
        else:
            reason = (f"unedited query (floor) {fl:.3f}, ground-truth render (ceiling) {ce:.3f}: a perfect edit "
                      f"leads doing nothing by {lead['diff']:.3f} [{lead['ci95'][0]:.3f}, {lead['ci95'][1]:.3f}], "
                      + ("at least" if ok else "below") + f" the {margin:.2f} margin")
        out[str(g)] = {"n": int(sel.sum()), "floor": round(fl, 4), "ceiling": round(ce, 4), "lead": lead,
                       "measurable": bool(ok), "reason": reason}
    return out


def _at_ks(curve: np.ndarray, ks) -> dict[int, float]:
    if curve.size == 0:
        return {k: float("nan") for k in _check_ks(ks)}
    return {k: float(curve[min(k, curve.size) - 1]) for k in _check_ks(ks)}


def _relevance_hits(retrieved_ids, relevant) -> np.ndarray:
    ret = np.asarray(retrieved_ids)
    if ret.ndim != 2:
        raise ValueError(f"retrieved_ids must have shape [Q, K]; got {ret.shape}")
    if isinstance(relevant, np.ndarray) and relevant.ndim == 1 and relevant.dtype != object:
        rel = relevant.astype(ret.dtype, copy=False)
        if rel.shape[0] != ret.shape[0]:
            raise ValueError(f"relevant has {rel.shape[0]} entries for {ret.shape[0]} queries")
        return (ret == rel[:, None]) & (ret >= 0)
    relevant = list(relevant)
    if len(relevant) != ret.shape[0]:
        raise ValueError(f"relevant has {len(relevant)} entries for {ret.shape[0]} queries")
    sets = [r if isinstance(r, (set, frozenset)) else
            {r} if isinstance(r, (int, np.integer)) else set(r) for r in relevant]
    return np.array([[int(i) in s and i >= 0 for i in row] for row, s in zip(ret, sets)],
                    dtype=bool).reshape(ret.shape)


def recall_curve(retrieved_ids, relevant, valid=None) -> np.ndarray:
    """Consumer-to-shop Recall@k for k = 1..K (see :func:`recall_at_k`)."""
    return hits_curve(_relevance_hits(retrieved_ids, relevant), valid)


def recall_at_k(retrieved_ids, relevant, ks: Sequence[int] = (1, 20, 50), valid=None
                ) -> dict[int, float]:
    """Consumer-to-shop Recall@K: a query is a hit when any of its top-k ids is relevant.

    ``retrieved_ids`` [Q, K] ranked; ``relevant`` is either an int array [Q] (one
    relevant id per query) or a list of Q sets/iterables of ids (a query with an empty
    set can never hit and still counts). Returns ``{k: recall}``.
    """
    return _at_ks(recall_curve(retrieved_ids, relevant, valid), ks)


def _attribute_hits(retrieved_labels, target_labels) -> np.ndarray:
    ret, tgt = np.asarray(retrieved_labels), np.asarray(target_labels)
    if ret.ndim != 3 or tgt.ndim != 2 or ret.shape[0] != tgt.shape[0] or ret.shape[2] != tgt.shape[1]:
        raise ValueError(f"retrieved_labels must be [Q, K, G] and target_labels [Q, G]; got "
                         f"{ret.shape} and {tgt.shape}")
    return np.all(ret == tgt[:, None, :], axis=2)


def topk_attribute_accuracy_curve(retrieved_labels, target_labels, valid=None) -> np.ndarray:
    """Top-k retrieval accuracy for k = 1..K (see :func:`topk_attribute_accuracy`)."""
    return hits_curve(_attribute_hits(retrieved_labels, target_labels), valid)


def topk_attribute_accuracy(retrieved_labels, target_labels, ks: Sequence[int] = (1, 5, 10, 20, 30),
                            valid=None) -> dict[int, float]:
    """AMGAN/ADDE top-k retrieval accuracy: a query is a hit at k when one of its top-k
    retrieved items has a FULL attribute vector equal to the target vector.

    ``retrieved_labels`` [Q, K, G] (attribute vectors of the ranked results; use a label
    no target has, e.g. -1, for missing results), ``target_labels`` [Q, G]; ``valid``
    [Q] restricts the average (see :func:`valid_query_mask`). Returns ``{k: accuracy}``.
    """
    return _at_ks(topk_attribute_accuracy_curve(retrieved_labels, target_labels, valid), ks)


def _row_keys(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.int64)
    return a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()


def valid_query_mask(gallery_labels, target_labels) -> np.ndarray:
    """Bool [Q]: true where some gallery item's attribute vector equals the target's.

    A query whose target vector no gallery item has can never hit; the protocol leaves
    it out of top-k accuracy.
    """
    gal, tgt = np.asarray(gallery_labels), np.asarray(target_labels)
    if gal.ndim != 2 or tgt.ndim != 2 or gal.shape[1] != tgt.shape[1]:
        raise ValueError(f"gallery_labels must be [N, G] and target_labels [Q, G]; got "
                         f"{gal.shape} and {tgt.shape}")
    if gal.shape[0] == 0 or tgt.shape[0] == 0:
        return np.zeros(tgt.shape[0], dtype=bool)
    return np.isin(_row_keys(tgt), _row_keys(gal))


def attribute_accuracy(pred, target, edited_group_mask) -> dict:
    """Attribute accuracy of edits and preservation of the other attributes.

    ``pred`` (the evaluator's predicted value per group), ``target`` (the requested
    vector) [Q, G] ints; ``edited_group_mask`` [Q, G] bool marks the groups each edit
    changed. ``edit_acc`` is accuracy over the (query, group) cells that were edited,
    ``preserve_acc`` over the cells that were not (micro-averaged); the ``*_per_group``
    arrays [G] average over each group's cells (nan where a group has none) and the
    ``*_count`` arrays [G] give the cell counts.
    """
    pred, target = np.asarray(pred), np.asarray(target)
    mask = np.asarray(edited_group_mask)
    if pred.ndim != 2 or pred.shape != target.shape or mask.shape != pred.shape:
        raise ValueError(f"pred, target and edited_group_mask must share shape [Q, G]; got "
                         f"{pred.shape}, {target.shape}, {mask.shape}")
    if mask.dtype != bool:
        raise TypeError(f"edited_group_mask must be bool; got {mask.dtype}")
    correct = pred == target
    out = {}
    for name, sel in (("edit", mask), ("preserve", ~mask)):
        n_g = sel.sum(axis=0)
        hit_g = (correct & sel).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"{name}_acc_per_group"] = np.where(n_g > 0, hit_g / np.maximum(n_g, 1), np.nan)
        out[f"{name}_count"] = n_g.astype(np.int64)
        out[f"{name}_acc"] = float(hit_g.sum() / n_g.sum()) if n_g.sum() else float("nan")
    return out


def _check_images(a, b, name="images") -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim not in (3, 4):
        raise ValueError(f"{name} must share shape [N, H, W, C] or [H, W, C]; got "
                         f"{a.shape} and {b.shape}")
    for x in (a, b):
        if x.size and (np.nanmin(x) < -1e-4 or np.nanmax(x) > 1 + 1e-4):
            raise ValueError(f"{name} must be in [0, 1]; got values in "
                             f"[{np.nanmin(x):.3g}, {np.nanmax(x):.3g}]")
    return a, b


def masked_mean_abs_diff(a, b, mask, per_image: bool = False):
    """Mean absolute change inside ``mask``: (mean, count).

    ``a``, ``b`` [N, H, W, C] in [0, 1]; ``mask`` [N, H, W] bool. The mean is over the
    masked pixels and all channels; ``count`` is the number of masked pixels. An empty
    mask gives (nan, 0). With ``per_image`` both are arrays [N].
    """
    a, b = _check_images(a, b)
    if a.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C]; got {a.shape}")
    m = np.asarray(mask)
    if m.dtype != bool or m.shape != a.shape[:3]:
        raise ValueError(f"mask must be bool [N, H, W] = {a.shape[:3]}; got {m.dtype} {m.shape}")
    diff = np.abs(a - b).mean(axis=3)
    if per_image:
        counts = m.sum(axis=(1, 2))
        sums = (diff * m).sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan), counts
    count = int(m.sum())
    return (float(diff[m].mean()) if count else float("nan")), count


def iou(mask_a, mask_b):
    """Intersection over union of boolean masks [..., H, W], batched over leading axes.

    Two empty masks have an undefined IoU: nan. Soft maps must be thresholded first.
    """
    a, b = np.asarray(mask_a), np.asarray(mask_b)
    if a.dtype != bool or b.dtype != bool:
        raise TypeError(f"iou needs bool masks (threshold soft maps first); got {a.dtype}, {b.dtype}")
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"masks must share shape [..., H, W]; got {a.shape} and {b.shape}")
    inter = (a & b).sum(axis=(-2, -1))
    union = (a | b).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
    return float(out) if out.ndim == 0 else out


def psnr(a, b, data_range: float = 1.0):
    """PSNR in dB per image ([N, H, W, C] -> [N]; [H, W, C] -> float); identical: inf."""
    a, b = _check_images(a, b)
    mse = ((a - b) ** 2).mean(axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        out = 10 * np.log10(data_range ** 2 / mse)
    return float(out) if np.ndim(out) == 0 else out


def ssim(a, b):
    """SSIM per image via ``skimage.metrics.structural_similarity`` (channel_axis=-1,
    data_range=1); [N, H, W, C] -> [N], [H, W, C] -> float. Images need H, W >= 7."""
    from skimage.metrics import structural_similarity

    a, b = _check_images(a, b)
    if min(a.shape[-3:-1]) < 7:
        raise ValueError(f"ssim needs images at least 7x7; got {a.shape[-3:-1]}")
    if a.ndim == 3:
        return float(structural_similarity(a, b, channel_axis=-1, data_range=1.0))
    return np.array([structural_similarity(x, y, channel_axis=-1, data_range=1.0)
                     for x, y in zip(a, b)])
