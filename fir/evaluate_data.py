"""Queries, gallery and the one image path for ``fir evaluate`` (see :mod:`fir.evaluate`).

Every image a model sees goes through an :class:`amgan.image.ImageProcessor`: the queries and
the gallery through the embedder's, each editor's input through its own, and an editor's edit at
another size back through the embedder's (:func:`to_processor`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from amgan.errors import UserError

__all__ = ["Queries", "load_queries", "gallery", "to_processor", "source_images", "load_images"]


@dataclass
class Queries:
    view: str
    rows: list[dict]
    groups: list[str]  # edited group per query
    src_labels: np.ndarray  # [Q, G]
    tgt_labels: np.ndarray  # [Q, G]
    x: torch.Tensor  # [Q,3,S,S] float in [0,1], through the embedder's image processor
    truth: torch.Tensor
    src_regions: np.ndarray  # [Q,S,S] uint8 region ids
    tgt_regions: np.ndarray
    src_paths: list[str]
    tgt_products: list[str]  # the target item's product id (its shop render is in the gallery)
    src_products: list[str] = field(default_factory=list)  # the source's product id (the bootstrap's unit)


def load_images(paths, proc, desc: str, progress: bool) -> torch.Tensor:
    from amgan.data.memory import load_image

    arr = np.stack([load_image(p, proc) for p in tqdm(paths, desc=desc, disable=not progress)])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(255)


def load_queries(root: Path, split: str, view: str, proc, schema, limit: int, progress: bool) -> Queries:
    from amgan.data.manifest import read_manifest
    from amgan.data.memory import load_mask
    from amgan.data.synth_dataset import read_edits

    m = read_manifest(root / "manifest.csv")
    row_of = {p: i for i, p in enumerate(m.paths)}
    rows = [r for r in read_edits(root) if r["view"] == view and r["source"] in row_of
            and m.splits[row_of[r["source"]]] == split]
    if limit:
        rows = rows[:limit]
    if not rows:
        raise UserError(f"{root}/edits.csv has no edits of {split} images of view {view!r}")
    src = np.stack([m.labels[row_of[r["source"]]] for r in rows]).astype(np.int64)
    tgt = np.stack([schema.encode({g: r[g] for g in schema.names}) for r in rows]).astype(np.int64)
    src_masks = [m.masks[row_of[r["source"]]] for r in rows]
    if not all(src_masks) or not all(r.get("target_mask") for r in rows):
        raise UserError(f"{root}: the evaluation needs region masks for sources and edit targets")
    size = proc.size
    return Queries(
        view=view, rows=rows, groups=[r["group"] for r in rows], src_labels=src, tgt_labels=tgt,
        x=load_images([root / r["source"] for r in rows], proc, f"load {view} queries", progress),
        truth=load_images([root / r["target"] for r in rows], proc, f"load {view} truths", progress),
        src_regions=np.stack([load_mask(root / p, size) for p in src_masks]),
        tgt_regions=np.stack([load_mask(root / r["target_mask"], size) for r in rows]),
        src_paths=[str(root / r["source"]) for r in rows], tgt_products=[r["target_product_id"] for r in rows],
        src_products=[m.product_ids[row_of[r["source"]]] for r in rows])


def gallery(root: Path, split: str, schema):
    """The catalogue: shop images of the split + the shop render of every edit of the split:
    (paths, labels, meta)."""
    from amgan.data.manifest import read_manifest
    from amgan.data.synth_dataset import read_edits

    m = read_manifest(root / "manifest.csv")
    paths, labels, meta = [], [], []
    for i in m.indices(split, "shop"):
        paths.append(str(m.image_path(i)))
        labels.append(m.labels[i])
        meta.append({"path": paths[-1], "product_id": m.product_ids[i], "source": "catalogue",
                     "attributes": schema.decode(m.labels[i])})
    row_of = {p: i for i, p in enumerate(m.paths)}
    seen = set()
    for r in read_edits(root):  # every shop edit render of the split (not only the queries kept by `limit`)
        if r["view"] != "shop" or r["source"] not in row_of or m.splits[row_of[r["source"]]] != split:
            continue
        if r["target"] in seen:
            continue
        seen.add(r["target"])
        lab = schema.encode({g: r[g] for g in schema.names})
        paths.append(str(root / r["target"]))
        labels.append(lab)
        meta.append({"path": paths[-1], "product_id": r["target_product_id"], "source": "edit-truth",
                     "attributes": schema.decode(lab)})
    return paths, np.stack(labels).astype(np.int64), meta


def to_processor(y: torch.Tensor, proc) -> torch.Tensor:
    """Edits [B,3,S,S] in [0,1] at an editor's size -> the images another model sees: 8-bit RGB
    through ``proc`` (:class:`amgan.image.ImageProcessor`, the one image path), [B,3,s,s] in [0,1]."""
    from PIL import Image

    u8 = (y.detach().float().cpu().clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
    return proc.batch([Image.fromarray(a) for a in u8])


def source_images(editor, q: Queries, data_root: Path, alt_root: str, proc_q, progress: bool) -> torch.Tensor:
    """The query sources as ``editor`` reads them: q.x when its processor is the queries', else the
    files through its own processor (from ``alt_root`` when given, checked to hold the same products)."""
    if editor.processor == proc_q:
        return q.x
    if alt_root:
        from amgan.data.manifest import read_manifest

        alt = Path(alt_root)
        if not (alt / "manifest.csv").is_file():
            raise UserError(f"extra_editor.data_root: {alt} has no manifest.csv")
        ma, mb = read_manifest(alt / "manifest.csv"), read_manifest(data_root / "manifest.csv")
        la, lb = dict(zip(ma.paths, map(tuple, ma.labels))), dict(zip(mb.paths, map(tuple, mb.labels)))
        bad = [r["source"] for r in q.rows if la.get(r["source"]) != lb.get(r["source"])]
        if bad:
            raise UserError(f"extra_editor.data_root: {alt} does not hold the same products as {data_root} "
                            f"({len(bad)} sources differ, e.g. {bad[0]})")
        root = alt
    else:
        root = data_root
    return load_images([root / r["source"] for r in q.rows], editor.processor, f"load {q.view} sources at "
                   f"{editor.size} px", progress)
