"""Intervals, judged groups, paired differences and KID for ``fir evaluate`` (see :mod:`fir.evaluate`).

Per-query arrays in, summaries out: ``rank`` / ``exact_rank`` (1-based first hit, K+1: none),
``valid``, ``edit_ok`` and ``preserve`` of each method, over the same queries, so every interval
is a bootstrap over queries (:mod:`amgan.intervals`) and every difference a paired one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from amgan.errors import UserError
from fir.evaluate_data import Queries

__all__ = ["add_intervals", "differences", "kid_references", "kid_for_view", "clusters_of"]


def clusters_of(q: Queries, cfg) -> np.ndarray | None:
    """Each query's bootstrap unit: its source product (``bootstrap_unit: product``: the edits of one
    product, and a garment's street photos, are resampled together) or None (``query``: one by one)."""
    if cfg.bootstrap_unit == "query" or not q.src_products:
        return None
    return np.asarray(q.src_products)


def add_intervals(methods: dict, per_query: dict, q: Queries, cfg, judged: dict) -> None:
    """Put 95% intervals beside every retrieval and evaluator number; the means over measurable groups."""
    from amgan.intervals import accuracy_with_ci, mean_with_ci

    K = cfg.max_k
    groups = np.array(q.groups)
    measurable = np.isin(groups, [g for g, v in judged.items() if v["measurable"]])
    B = cfg.bootstrap
    cl = clusters_of(q, cfg)

    def acc(hit, sel=None):  # a rate with its interval over the selected queries' bootstrap units
        return accuracy_with_ci(hit, B, clusters=None if cl is None else cl if sel is None else cl[sel])

    for name, m in methods.items():
        pq = per_query[name]
        r, v = m["retrieval"], pq["valid"]
        r["ci95"] = {f"top{k}": acc(pq["rank"][v] <= k, v)["ci95"] for k in cfg.ks}
        r["ci95"][f"exact_item@{K}"] = acc(pq["exact_rank"][v] <= K, v)["ci95"]
        for g, pg in r["per_group"].items():
            sel = v & (groups == g)
            pg["ci95"] = {f"top{k}": acc(pq["rank"][sel] <= k, sel)["ci95"] for k in cfg.ks}
            pg["measurable"] = judged[g]["measurable"]
        sel = v & measurable
        mg = {"groups": [g for g in dict.fromkeys(q.groups) if judged[g]["measurable"]], "valid_queries": int(sel.sum()),
              "ci95": {}}
        for k in cfg.ks:
            a = acc(pq["rank"][sel] <= k, sel)
            mg[f"top{k}"], mg["ci95"][f"top{k}"] = a["acc"], a["ci95"]
        a = acc(pq["exact_rank"][sel] <= K, sel)
        mg[f"exact_item@{K}"], mg["ci95"][f"exact_item@{K}"] = a["acc"], a["ci95"]
        if cl is not None:
            mg["products"] = a.get("clusters", 0)
        r["measurable_groups"] = mg
        if "edit_quality" in m:
            e = m["edit_quality"]
            e["ci95"] = {"edit_acc": acc(pq["edit_ok"])["ci95"],
                         "preserve_acc": mean_with_ci(pq["preserve"], B, clusters=cl)["ci95"]}
            for g, pg in e["per_group"].items():
                pg["edit_acc_ci95"] = acc(pq["edit_ok"][groups == g], groups == g)["ci95"]


def differences(pairs, per_query: dict, q: Queries, cfg, judged: dict) -> dict:
    """Paired bootstrap intervals of method a minus method b over the same queries."""
    from amgan.intervals import paired_difference_ci

    K = cfg.max_k
    measurable = np.isin(np.array(q.groups), [g for g, v in judged.items() if v["measurable"]])
    cl = clusters_of(q, cfg)
    out = {}
    for a, b in pairs:
        if a not in per_query or b not in per_query:
            continue
        pa, pb = per_query[a], per_query[b]
        v = pa["valid"] & pb["valid"]
        d = {"all": {}, "measurable_groups": {}}
        for scope, sel in (("all", v), ("measurable_groups", v & measurable)):
            c = None if cl is None else cl[sel]
            for k in cfg.ks:
                d[scope][f"top{k}"] = paired_difference_ci(pa["rank"][sel] <= k, pb["rank"][sel] <= k, cfg.bootstrap,
                                                           clusters=c)
            d[scope][f"exact_item@{K}"] = paired_difference_ci(pa["exact_rank"][sel] <= K, pb["exact_rank"][sel] <= K,
                                                               cfg.bootstrap, clusters=c)
        if "edit_ok" in pa and "edit_ok" in pb:
            d["edit_acc"] = paired_difference_ci(pa["edit_ok"], pb["edit_ok"], cfg.bootstrap, clusters=cl)
            d["preserve_acc"] = paired_difference_ci(pa["preserve"], pb["preserve"], cfg.bootstrap, clusters=cl)
        out[f"{a}-{b}"] = d
    return out


# ---------------------------------------------------------------- realism (KID)
def kid_references(root: Path, split: str, view: str, q: Queries, idx: np.ndarray, schema,
                   seed: int = 0) -> tuple[list[str], float]:
    """One real render per query in ``idx``: a ``split`` image of ``view`` with the query's category
    and requested value, and the most other target values in common (ties: seeded choice, images
    not yet used first). -> (paths, fraction whose whole attribute vector is the target)."""
    from amgan.data.manifest import read_manifest

    m = read_manifest(root / "manifest.csv")
    rows = m.indices(split, view)
    if len(rows) == 0:
        raise UserError(f"KID: {root} has no {split} images of view {view!r} to compare edits with")
    L = m.labels[rows]
    rng = np.random.default_rng(seed)
    used = np.zeros(len(rows), bool)
    cat = schema.group_index("category") if "category" in schema.names else None
    out, full = [], 0
    for i in idx:
        t = q.tgt_labels[i]
        gi = schema.group_index(q.groups[i])
        ok = L[:, gi] == t[gi]
        if cat is not None:
            ok &= L[:, cat] == t[cat]
        if not ok.any():
            ok = L[:, gi] == t[gi]
        score = np.where(ok, (L == t).sum(1) * 2 + ~used, -1)
        best = np.flatnonzero(score == score.max())
        j = best[rng.integers(len(best))]
        used[j] = True
        full += bool((L[j] == t).all())
        out.append(str(m.image_path(rows[j])))
    return out, full / max(1, len(idx))


def kid_for_view(cfg, q: Queries, images: dict[str, torch.Tensor], schema, feats_fn, proc, progress: bool) -> dict:
    """KID of each image method on ``kid_images`` queries (seeded) against their references, the
    references read through ``proc`` (the queries' image processor)."""
    from amgan.data.memory import load_image
    from fir.kid import FEATURE_NAME, kid_bootstrap

    n = min(cfg.kid_images, len(q.rows))
    if n < 2:
        return {}
    idx = np.sort(np.random.default_rng(0).choice(len(q.rows), n, replace=False))
    ref_paths, full = kid_references(Path(cfg.data.root), cfg.data.reference_split, q.view, q, idx, schema)
    ref = torch.from_numpy(np.stack([load_image(p, proc) for p in ref_paths])).permute(0, 3, 1, 2)
    f_ref = feats_fn(ref)
    feats = {}
    for name, y in tqdm(images.items(), desc=f"KID features {q.view}", disable=not progress):
        feats[name] = feats_fn(y[torch.from_numpy(idx)])
    pairs = [tuple(d.split("-")) for d in cfg.differences] + [(k, "truth") for k in images if k != "truth"]
    res = kid_bootstrap(feats, f_ref, n_boot=cfg.bootstrap, pairs=list(dict.fromkeys(pairs)))
    res.update(feature=FEATURE_NAME, queries=n, reference=f"{cfg.data.reference_split} split, {q.view} view",
               reference_unique_images=len(set(ref_paths)), reference_full_target_match=round(full, 4),
               image_size=proc.size, feature_input_px=cfg.kid_size)
    return res
