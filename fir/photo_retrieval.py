"""Retrieval among real photos, attribute level (the AMGAN paper's protocol), with unknown labels.

Real photos have no street/shop pairs, so a hit is not "the same item" but an item with the
requested attributes: a query photo retrieves photos of the gallery (photos of other
contributors' test/val splits, never train), and a retrieved photo is a hit when it has every
attribute value the query asks for among ``groups`` (by default category, colour and sleeve).

Unknown labels (-1): a query asks only for the values it has (a photo whose colour the
annotator could not name asks for its category and sleeve), and a gallery photo whose value
is unknown in an asked-for group is never a hit there (it cannot be confirmed). A query whose
asked-for values no other gallery photo has can never hit and is left out (counted: the
``valid`` queries are reported). The query itself is never among its results.

Edited queries (FLAM, or an edited photo re-embedded): the request changes one group to another
value; the target is the query's known values with that group set to the requested value.
:func:`edit_requests` lists every such request whose target some gallery photo has.

Plain numpy functions (``fir.metrics`` style), each tested against a naive reference.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amgan.intervals import accuracy_with_ci

__all__ = ["DEFAULT_GROUPS", "masked_target_hits", "masked_valid_queries", "search_without_self", "EditRequest",
           "edit_requests", "hit_rates"]

DEFAULT_GROUPS = ("category", "color", "sleeve")


def _matches(gallery_labels: np.ndarray, targets: np.ndarray, groups) -> np.ndarray:
    """Bool [Q, N]: gallery item n has every known target value of query q in ``groups``."""
    g = np.asarray(gallery_labels)[:, list(groups)]
    t = np.asarray(targets)[:, list(groups)]
    asked = t >= 0
    return np.all((g[None, :, :] == t[:, None, :]) | ~asked[:, None, :], axis=2)


def masked_target_hits(retrieved_ids, gallery_labels, targets, groups) -> np.ndarray:
    """Bool [Q, K]: the k-th retrieved gallery item (ids index ``gallery_labels`` [N, G]; -1 =
    missing) has every value ``targets`` [Q, G] asks for in ``groups`` (target -1: not asked;
    an item's -1 never matches an asked value)."""
    ids = np.asarray(retrieved_ids)
    t = np.asarray(targets)
    if ids.ndim != 2 or t.ndim != 2 or ids.shape[0] != t.shape[0]:
        raise ValueError(f"retrieved_ids must be [Q, K] and targets [Q, G]; got {ids.shape} and {t.shape}")
    gl = np.asarray(gallery_labels)
    rows = gl[np.clip(ids, 0, None)][:, :, list(groups)]  # [Q, K, g]
    tt = t[:, None, list(groups)]
    hit = np.all((rows == tt) | (tt < 0), axis=2)
    return hit & (ids >= 0)


def masked_valid_queries(gallery_labels, targets, groups, self_ids=None) -> np.ndarray:
    """Bool [Q]: the query asks for at least one value in ``groups`` and some gallery item other
    than ``self_ids[q]`` (the query's own gallery row, -1 = none) has every value it asks for."""
    t = np.asarray(targets)
    m = _matches(gallery_labels, t, groups)
    if self_ids is not None:
        s = np.asarray(self_ids)
        rows = np.nonzero(s >= 0)[0]
        m[rows, s[rows]] = False
    return m.any(1) & (t[:, list(groups)] >= 0).any(1)


def search_without_self(gallery_emb, query_emb, k: int, self_ids=None) -> np.ndarray:
    """Ranked gallery ids [Q, k] by exact cosine search (ties by id), each query's own gallery
    row (``self_ids[q]``, -1 = none) removed; -1 pads when the gallery has fewer than k others."""
    from fir.index import exact_search_numpy

    g = np.asarray(gallery_emb, np.float32)
    q = np.asarray(query_emb, np.float32)
    kk = min(k + 1, len(g))
    _, ids = exact_search_numpy(g, q, kk)
    s = np.full(len(q), -1) if self_ids is None else np.asarray(self_ids)
    out = np.full((len(q), k), -1, np.int64)
    for r in range(len(q)):
        row = ids[r][ids[r] != s[r]][:k]
        out[r, :len(row)] = row
    return out


@dataclass(frozen=True)
class EditRequest:
    query: int  # query row
    group: int  # the group asked to change
    value: int  # the requested value
    target: np.ndarray  # [G] the query's known values with group := value (-1 where unknown)


def edit_requests(query_labels, gallery_labels, groups, edit_groups, sizes) -> tuple[list[EditRequest], dict]:
    """Every single-group edit "this, but <value>" of every query: for each group in
    ``edit_groups`` whose value the query has, each other value (``sizes[group]`` values) whose
    target some gallery item has (the rest are counted as left out: no photo to find).
    Returns (requests, counts {"requests", "left_out_no_target", "left_out_unknown_source"})."""
    q = np.asarray(query_labels)
    gl = np.asarray(gallery_labels)
    out, left, unknown = [], 0, 0
    for gi in edit_groups:
        for r in range(len(q)):
            if q[r, gi] < 0:
                unknown += 1
                continue
            for v in range(int(sizes[gi])):
                if v == q[r, gi]:
                    continue
                t = q[r].copy()
                t[gi] = v
                if _matches(gl, t[None], sorted(set(groups) | {gi}))[0].any():
                    out.append(EditRequest(r, int(gi), int(v), t))
                else:
                    left += 1
    return out, {"requests": len(out), "left_out_no_target": left, "left_out_unknown_source": unknown}


def hit_rates(hits, valid, ks=(1, 10, 30), clusters=None) -> dict:
    """{"top{k}": accuracy_with_ci} over the ``valid`` rows of ``hits`` [Q, K] (hit within the
    first k), plus ``queries`` (all rows) and ``valid`` (rows counted). ``clusters`` [Q]: each row's
    bootstrap unit (e.g. the photo an edit request starts from), resampled whole."""
    h = np.asarray(hits, bool)
    v = np.asarray(valid, bool)
    cum = np.logical_or.accumulate(h, axis=1) if h.size else h
    cl = None if clusters is None else np.asarray(clusters)[v]
    out = {f"top{k}": accuracy_with_ci(cum[v, min(k, h.shape[1]) - 1] if h.shape[1] else np.zeros(0), clusters=cl)
           for k in ks}
    out.update(queries=int(len(h)), valid=int(v.sum()))
    return out
