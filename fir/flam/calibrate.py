"""After training: how well FLAM edits (:func:`evaluate_flam`) and which edit strength
retrieves best (:func:`calibrate_strength`), both on single-attribute edits."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from fir.flam.nets import FlamNet

__all__ = ["single_edit_targets", "evaluate_flam", "calibrate_strength"]


def single_edit_targets(labels: Tensor, manip: list[int], sizes: list[int], gen: torch.Generator) -> Tensor:
    """One manipulable group per row moved to another value, uniformly."""
    b = len(labels)
    which = torch.tensor(manip)[torch.randint(len(manip), (b,), generator=gen)]
    sz = torch.tensor(sizes)[which]
    shift = (torch.rand(b, generator=gen) * (sz - 1)).long() + 1
    out = labels.clone()
    rows = torch.arange(b)
    out[rows, which] = (labels[rows, which] + shift) % sz
    return out


@torch.no_grad()
def evaluate_flam(net: FlamNet, f: Tensor, y: Tensor, manip: list[int], seed: int = 0, strength: float = 1.0) -> dict:
    """Attribute accuracy of the embedders on real features, and of single-attribute edits.

    Unknown labels (-1) are left out of the attribute accuracy (``attribute_known``: how many
    were known per group) and of preservation; an edit starts from FLAM's reading where a
    source value is unknown.
    ``edit_success``: fraction of edits whose edited group reads as the target;
    ``edit_preservation``: fraction of the other (known) groups still read as before;
    ``cycle_cos`` / ``identity_cos``: mean cosine of ``G(G(f,s->t),t->s)`` and ``G(f,s->s)`` to ``f``.
    """
    net.eval()
    g = torch.Generator().manual_seed(seed)
    pred = torch.stack([lg.argmax(1) for lg in net.attr_logits(f)], 1)
    known = y >= 0

    def rate(hit: Tensor):
        return round(float(hit.float().mean()), 4) if hit.numel() else None

    out = {"attribute_accuracy": {str(i): rate((pred[:, i] == y[:, i])[known[:, i]]) for i in range(y.shape[1])},
           "attribute_known": {str(i): int(known[:, i].sum()) for i in range(y.shape[1])}}
    y = torch.where(known, y, pred)  # unknown source values: FLAM's own reading (as the product does)
    t = single_edit_targets(y, manip, net.group_sizes, g)
    f2 = net.generate(f, y, t, strength)
    p2 = torch.stack([lg.argmax(1) for lg in net.attr_logits(f2)], 1)
    changed = t != y
    out["edit_success"] = rate((p2 == t)[changed])
    out["edit_preservation"] = rate((p2 == y)[~changed & known])
    out["cycle_cos"] = round(float(F.cosine_similarity(net.generate(f2, t, y, strength), f).mean()), 4)
    out["identity_cos"] = round(float(F.cosine_similarity(net.generate(f, y, y, strength), f).mean()), 4)
    out["edit_cos_to_source"] = round(float(F.cosine_similarity(f2, f).mean()), 4)
    return out


@torch.no_grad()
def calibrate_strength(net: FlamNet, f_q: Tensor, y_q: Tensor, f_gal: Tensor, y_gal: Tensor, manip: list[int],
                       grid, max_k: int = 30, seed: int = 0) -> dict:
    """Pick the edit strength ``a`` of ``f' = normalize(f + a R)`` by retrieval, as the product uses it.

    Each query feature gets one single-attribute edit (a random other value of a manipulable
    group); the source labels are FLAM's own prediction (as in :meth:`fir.Retriever.flam_search`)
    and the target is the query's TRUE attribute vector with that group changed. Each strength is
    scored by the mean top-k attribute retrieval accuracy over k = 1..max_k against the gallery
    (a hit: an item whose full attribute vector is the target), over the queries whose target
    vector the gallery holds. The best score wins; ties go to the smaller strength. A one-value
    grid is taken as is; when no query can hit, the strength is 1 (the training condition), or the
    smallest of the grid without 1, and ``note`` says why.
    Returns ``{"strength", "scores": {a: score}, "top1": {a: ..}, "top30": {a: ..}, "valid_queries"}``.
    """
    from fir.metrics import topk_attribute_accuracy_curve, valid_query_mask

    net.eval()
    g = torch.Generator().manual_seed(seed)
    t_true = single_edit_targets(y_q, manip, net.group_sizes, g)
    pred = torch.stack([lg.argmax(1) for lg in net.attr_logits(f_q)], 1)
    t_in = torch.where(t_true != y_q, t_true, pred)
    valid = valid_query_mask(y_gal.numpy(), t_true.numpy())
    grid = sorted({float(x) for x in grid})
    if len(grid) == 1 or not valid.any():
        a = grid[0] if len(grid) == 1 else (1.0 if 1.0 in grid else grid[0])
        why = "one strength given" if len(grid) == 1 else "no query's target attribute vector is in the gallery"
        return {"strength": a, "note": f"not calibrated: {why}", "valid_queries": int(valid.sum()),
                "queries": int(len(f_q)), "gallery": int(len(f_gal))}
    r = net.residual(f_q, pred, t_in)
    k = min(max_k, len(f_gal))
    scores, top1, topk = {}, {}, {}
    for a in grid:
        e = F.normalize(f_q + a * r, dim=1)
        ids = (e @ f_gal.t()).topk(k, dim=1).indices
        curve = topk_attribute_accuracy_curve(y_gal[ids].numpy(), t_true.numpy(), valid)
        scores[a], top1[a], topk[a] = float(curve.mean()), float(curve[0]), float(curve[-1])
    best = max(scores, key=lambda a: (round(scores[a], 6), -a))
    return {"strength": best, "scores": {str(a): round(v, 4) for a, v in scores.items()},
            "top1": {str(a): round(v, 4) for a, v in top1.items()},
            f"top{k}": {str(a): round(v, 4) for a, v in topk.items()}, "valid_queries": int(valid.sum()),
            "queries": int(len(f_q)), "gallery": int(len(f_gal))}
