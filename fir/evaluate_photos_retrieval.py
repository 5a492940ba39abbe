"""The real-photo retrieval part of ``fir evaluate-photos`` (protocol: :mod:`fir.photo_retrieval`).

Queries: the photos of the evaluated split (by contributor). Gallery: the photos of
``--gallery-splits`` (test and val by default; never train), each query's own photo left out.
For each embedder (with the FLAM trained on it, when given):

- **plain**: the query photo's embedding; a hit has the query's known category, colour and
  sleeve (``--retrieval-groups``);
- **FLAM-edited**: "this, but <value>" for every other value of colour and sleeve
  (``--edit-groups``) that some gallery photo has with the query's other known values; FLAM
  starts from its own reading of the query (the product's policy) and moves the feature; a hit
  has the requested value and the query's other known values. Beside it, the **unedited** query
  searched for the same targets (the floor FLAM must beat);
- **AMGAN-edited** (``--amgan-editor``, optional, the first ``--amgan-limit`` requests in a
  seeded order): the editor edits the photo (``Editor.edit``, full resolution), the edit is
  embedded and searched.

Every number: top-k accuracy with a bootstrap 95% interval and the number of valid queries
(edits: requests) behind it. Edits of one query are not independent: their interval resamples
query photos, each with all its requests (a cluster bootstrap, :mod:`amgan.intervals`).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from amgan.errors import UserError
from fir.photo_retrieval import (edit_requests, hit_rates, masked_target_hits, masked_valid_queries,
                                 search_without_self)

__all__ = ["retrieval_part", "embed_paths"]


@torch.no_grad()
def embed_paths(net, proc, images, progress: bool = False, desc: str = "embedding", masks=None) -> np.ndarray:
    """Unit embeddings [N, D] of image paths (or PIL images), through the embedder's processor; ``masks``: the
    garment masks of an embedder that reads garments alone (None: each found by GrabCut; see
    :func:`amgan.image.garment_view`)."""
    out = []
    masks = [None] * len(images) if masks is None else masks
    for s in tqdm(range(0, len(images), 32), desc=desc, disable=not progress):
        out.append(net(proc.batch(images[s:s + 32], masks=masks[s:s + 32])).float().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, net.dim), np.float32)


def _by_group(reqs, hits, names, ks) -> dict:
    """Hit rates of edit requests, all and per edited group; the interval resamples query photos (a
    photo's requests together: they are not independent)."""
    photo = np.array([r.query for r in reqs], np.int64)
    out = {"all": hit_rates(hits, np.ones(len(hits), bool), ks, clusters=photo)}
    for g in sorted({r.group for r in reqs}):
        sel = np.array([r.group == g for r in reqs])
        out[names[g]] = hit_rates(hits[sel], np.ones(int(sel.sum()), bool), ks, clusters=photo[sel])
    return out


def _amgan_edits(editor_path: str, paths_q: list[str], reqs, schema, limit: int, progress: bool,
                 int8: bool | None = None):
    """(chosen request indices, edited PIL images, seconds per edit) for the first ``limit`` requests
    in a seeded order."""
    from amgan.editor import Editor

    ed = Editor.from_checkpoint(editor_path, device="cpu", int8=int8)
    order = np.random.default_rng(0).permutation(len(reqs))[:limit] if limit else np.arange(len(reqs))
    order = np.sort(order)
    imgs, t = [], time.perf_counter()
    for i in tqdm(order, desc="AMGAN edits", disable=not progress):
        r = reqs[i]
        g = schema.groups[r.group]
        imgs.append(ed.edit(paths_q[r.query], {g.name: g.values[r.value]}).image)
    return order, imgs, (time.perf_counter() - t) / max(1, len(order))


def retrieval_part(args, m, query_rows: list[int], progress: bool = True) -> dict:
    """{"gallery", "queries", "groups", "edit_groups", "by_embedder": {name: {...}}} (see the module doc)."""
    from amgan.pretrained import model_id
    from fir.flam import load_flam
    from fir.garment_copy import row_masks
    from fir.model import load_embedder

    schema = m.schema
    gal_splits = [s.strip() for s in args.gallery_splits.split(",") if s.strip()]
    if "train" in gal_splits:
        raise UserError("--gallery-splits: the training photos are never a gallery (use test, val)")
    groups = [schema.group_index(g) for g in args.retrieval_groups.split(",")]
    edit_groups = [schema.group_index(g) for g in args.edit_groups.split(",") if g]
    gal_rows = [i for i in range(len(m)) if m.splits[i] in gal_splits]
    pos = {r: j for j, r in enumerate(gal_rows)}
    self_ids = np.array([pos.get(r, -1) for r in query_rows])
    y_g, y_q = m.labels[gal_rows], m.labels[query_rows]
    paths_g = [str(m.image_path(i)) for i in gal_rows]
    paths_q = [str(m.image_path(i)) for i in query_rows]
    k = max(args.ks)
    reqs, counts = edit_requests(y_q, y_g, groups, edit_groups, schema.sizes)
    targets = np.stack([r.target for r in reqs]) if reqs else np.zeros((0, y_q.shape[1]), np.int64)
    req_q = np.array([r.query for r in reqs], np.int64)
    out = {"gallery_splits": gal_splits, "gallery": len(gal_rows), "queries": len(query_rows),
           "groups": [schema.names[g] for g in groups], "edit_groups": [schema.names[g] for g in edit_groups],
           "edit_requests": counts, "by_embedder": {}}
    amgan = None
    if args.amgan_editor and reqs:
        order, imgs, sec = _amgan_edits(args.amgan_editor, paths_q, reqs, schema, args.amgan_limit, progress,
                                       int8=getattr(args, "int8", None))
        amgan = {"order": order, "images": imgs, "seconds_per_edit": round(sec, 3)}
    embedders = args.embedder or []
    flams = list(args.flam or [])
    for j, e_path in enumerate(embedders):
        t0 = time.perf_counter()
        net, ep = load_embedder(e_path)
        name = Path(e_path).name
        emb_g = embed_paths(net, ep.image_processor, paths_g, progress, f"embed gallery ({name})",
                            row_masks(m, gal_rows))
        emb_q = np.stack([emb_g[s] for s in self_ids]) if (self_ids >= 0).all() else \
            embed_paths(net, ep.image_processor, paths_q, progress, f"embed queries ({name})",
                        row_masks(m, query_rows))
        ids = search_without_self(emb_g, emb_q, k, self_ids)
        res = {"embedder": str(e_path), "plain": hit_rates(masked_target_hits(ids, y_g, y_q, groups),
                                                           masked_valid_queries(y_g, y_q, groups, self_ids), args.ks)}
        if reqs:
            ids_u = search_without_self(emb_g, emb_q[req_q], k, self_ids[req_q])
            res["unedited_for_edit_targets"] = _by_group(reqs, masked_target_hits(ids_u, y_g, targets, groups),
                                                         schema.names, args.ks)
        f_path = flams[j] if j < len(flams) else None
        if f_path and reqs:
            flam = load_flam(f_path, expect_embedder_id=model_id(e_path))
            src = flam.predict_labels(emb_q)
            t_in = src[req_q].copy()
            t_in[np.arange(len(reqs)), [r.group for r in reqs]] = [r.value for r in reqs]
            f2 = flam.manipulate(emb_q[req_q], src[req_q], t_in)
            ids_f = search_without_self(emb_g, f2, k, self_ids[req_q])
            res["flam"] = str(f_path)
            res["flam_edited"] = _by_group(reqs, masked_target_hits(ids_f, y_g, targets, groups), schema.names,
                                           args.ks)
            res["flam_strength"] = flam.strength
        if amgan is not None:
            sel = amgan["order"]
            e_ed = embed_paths(net, ep.image_processor, amgan["images"], progress, f"embed AMGAN edits ({name})")
            ids_a = search_without_self(emb_g, e_ed, k, self_ids[req_q[sel]])
            sub = [reqs[i] for i in sel]
            res["amgan_edited"] = _by_group(sub, masked_target_hits(ids_a, y_g, targets[sel], groups),
                                            schema.names, args.ks)
            ids_u = search_without_self(emb_g, emb_q[req_q[sel]], k, self_ids[req_q[sel]])
            res["unedited_for_amgan_targets"] = _by_group(sub, masked_target_hits(ids_u, y_g, targets[sel], groups),
                                                          schema.names, args.ks)
            res["amgan_editor"] = str(args.amgan_editor)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        out["by_embedder"][name] = res
    if amgan is not None:
        out["amgan_seconds_per_edit"] = amgan["seconds_per_edit"]
        out["amgan_edits"] = len(amgan["order"])
    return out
