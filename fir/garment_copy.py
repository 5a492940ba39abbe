"""Garment-only data sets: what the photo search embedder trains on (``data.input_view: garment``).

    fir garment-copy --data data/clothing --out data/clothing_garments

A copy of a data set in which every image is :func:`amgan.image.garment_view` of the original: the
background beyond the row's garment mask whited out and the image cropped to the garment. A row
without a mask is copied whole in an annotated data set (the annotator found no garment) and cut by
GrabCut's mask otherwise (:func:`row_masks`). The manifest keeps every row, split and label; the
images are PNGs; the masks are left out (the crop moved them). A marker file,
``garment_view.json``, names the source and the view's parameters; :func:`check_input_view` (used by
``fir train-photo`` and ``fir train-flam``) refuses to mix garment-only and whole photo sets.

Why (``docs/real_photos.md``, stop 38): an embedder trained on whole photos keys on the floor or
wall behind the garment, so a query's first match often comes from its own contributor; trained
and queried on the garment alone it finds the requested category, colour and sleeve more often.
The doors (``fir index``, the Retriever, ``fir evaluate-photos``, the demo) cut the photos the same
way at query time: the embedder's saved :class:`amgan.image.ImageProcessor` has ``view="garment"``.
"""
from __future__ import annotations

import json
from pathlib import Path

from amgan.errors import UserError

__all__ = ["MARKER", "check_input_view", "garment_copy", "is_garment_copy", "row_masks"]

MARKER = "garment_view.json"


def is_garment_copy(root: str | Path) -> bool:
    return (Path(root) / MARKER).is_file()


def check_input_view(view: str, roots, key: str, photo_views=("photo",)) -> None:
    """``view`` "garment": every one of ``roots`` that holds photos (rows of ``photo_views``) is a garment-only copy
    (``fir garment-copy``); renders may be whole (their plain or street backgrounds are no contributor's floor)
    or copies. "whole": no root is a copy."""
    from amgan.data.manifest import read_manifest

    for r in roots:
        if view == "whole" and is_garment_copy(r):
            raise UserError(f"{key}: {r} is a garment-only copy, but the input view is 'whole'; set "
                            "data.input_view=garment or use the whole data set")
        if view == "garment" and not is_garment_copy(r) and (Path(r) / "manifest.csv").is_file() and \
                set(read_manifest(Path(r) / "manifest.csv", check_files=False).views) & set(photo_views):
            raise UserError(f"{key}: {r} holds photos but is not a garment-only copy (no {MARKER}), and the input "
                            f"view is 'garment'; make one with `fir garment-copy --data {r} --out {r}_garments`")


def row_masks(m, rows) -> list:
    """The garment masks :func:`amgan.image.garment_view` uses for manifest ``m``'s ``rows``: each row's mask
    file; for a row without one, False in an annotated data set (``amgan data annotate`` wrote
    ``annotations.csv``: it found no garment, so the photo is used whole), else None (not looked for yet: GrabCut
    finds it, as the annotator would)."""
    none = False if (Path(m.root) / "annotations.csv").is_file() else None
    return [m.mask_path(i) or none for i in rows]


def garment_copy(data: str | Path, out: str | Path, *, progress: bool = True) -> dict:
    """Write the garment-only copy of the data set ``data`` to ``out`` (a new or empty folder); -> a summary."""
    from PIL import Image
    from tqdm import tqdm

    from amgan import image as image_path
    from amgan.data.manifest import read_manifest, write_manifest
    from amgan.io import atomic_save_image, atomic_write_text

    data, out = Path(data), Path(out)
    if not (data / "manifest.csv").is_file():
        raise UserError(f"--data: {data} has no manifest.csv (a data set folder is expected)")
    if is_garment_copy(data):
        raise UserError(f"--data: {data} is already a garment-only copy")
    if out.resolve() == data.resolve():
        raise UserError("--out must be another folder than --data")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out: {out} exists and is not empty; choose a new folder or empty it")
    m = read_manifest(data / "manifest.csv")
    masks = row_masks(m, range(len(m)))
    rows, whole, found = [], 0, 0
    for i in tqdm(range(len(m)), desc="garment-only images", disable=not progress):
        name = f"images/{Path(m.paths[i]).stem}.png"
        if (out / name).exists():
            raise UserError(f"{data}: two images would both be written as {name}; their file names must differ")
        whole += masks[i] is False
        found += masks[i] is None
        with Image.open(m.image_path(i)) as im:
            view = image_path.garment_view(im, masks[i])
        atomic_save_image(out / name, view)
        rows.append({"path": name, "product_id": m.product_ids[i], "view": m.views[i], "split": m.splits[i],
                     "label": m.labels[i]})
    write_manifest(out, m.schema, rows, with_mask=False)
    summary = {"source": str(data), "rows": len(rows), "without_mask": int(whole), "cut_by_grabcut": int(found),
               "pad": image_path.GARMENT_PAD, "edge": image_path.GARMENT_EDGE, "side": image_path.GARMENT_SIDE}
    atomic_write_text(out / MARKER, json.dumps(summary, indent=2) + "\n")
    return summary
