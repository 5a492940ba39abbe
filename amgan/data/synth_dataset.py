"""Write a SynthFashion data set: PNG images and region maps, manifest, schema, edits.

Layout of ``out``::

    images/<pid>_shop.png, images/<pid>_street<k>.png   RGB, size x size
    masks/<same name>.png                               region labels (amgan.data.synth.REGIONS)
    manifest.csv, schema.json                           the manifest format (amgan.data.manifest)
    edits.csv, edits/<pid>-<group>-<value>_<view>.png   with --with-edits: ground-truth targets

Splits are by product (80/10/10). Ground-truth edits are made for every image of the
test split: one target value per manipulable group, the same for all views of a
product, rendered with the same hidden parameters and street scene.
"""
from __future__ import annotations

import csv
import io
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from amgan.attributes import SYNTH_SCHEMA
from amgan.data.synth import ProductSpec, render, sample_specs
from amgan.errors import UserError
from amgan.io import atomic_write_text

EDIT_COLUMNS = ("source", "group", "value", "target", "target_product_id", "view")


DATASET_FILES = ("manifest.csv", "schema.json", "edits.csv", "images", "masks", "edits")


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` that is a file, cannot be created, or holds a data set (unless ``overwrite``)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is an existing file; give a folder for the data set")
    if not out.exists():
        try:
            out.mkdir(parents=True)
        except OSError as e:
            raise UserError(f"--out {out}: cannot create the folder ({e.strerror or e})") from None
        return
    found = [n for n in DATASET_FILES if (out / n).exists()]
    if found and not overwrite:
        raise UserError(f"--out {out} already holds a data set ({', '.join(found)}); pass --overwrite to "
                        "render over it, or choose another folder")


def _split_of(n: int, seed: int, fractions=(0.8, 0.1, 0.1)) -> list[str]:
    order = np.random.default_rng([seed, 99]).permutation(n)
    n_train = int(round(n * fractions[0]))
    n_val = int(round(n * fractions[1]))
    split = np.empty(n, dtype=object)
    split[order[:n_train]] = "train"
    split[order[n_train : n_train + n_val]] = "val"
    split[order[n_train + n_val :]] = "test"
    return list(split)


def _render_task(task):
    spec, view, view_seed, size, out, rel, mask_rel = task
    img, reg = render(spec, view, size, view_seed)
    Image.fromarray(img).save(os.path.join(out, rel), compress_level=1)
    if mask_rel:
        Image.fromarray(reg).save(os.path.join(out, mask_rel), compress_level=1)
    return rel


def _views(street_views: int):
    return [("shop", 0, "shop")] + [("street", k, f"street{k}") for k in range(street_views)]


def generate(
    out: str | Path,
    products: int,
    seed: int = 0,
    size: int = 64,
    street_views: int = 2,
    with_edits: bool = False,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Render the data set into ``out``; returns a summary (counts, seconds).

    ``out`` must be a new or empty folder, or one without data set files
    (:data:`DATASET_FILES`); ``overwrite=True`` renders into an existing data set,
    replacing its manifest, schema, edits and same-named images (others stay).
    """
    if products < 10:
        raise ValueError(f"--products must be at least 10 (one per split at least), got {products}")
    if street_views < 0:
        raise ValueError(f"--street-views must be >= 0, got {street_views}")
    out = Path(out)
    _check_out(out, overwrite)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    specs = sample_specs(products, seed)
    splits = _split_of(products, seed)
    tasks, rows, edit_rows = [], [], []
    rng = np.random.default_rng([seed, 1234])
    for spec, split in zip(specs, splits):
        targets = {}
        if with_edits and split == "test":
            for g in SYNTH_SCHEMA.manipulable:
                cur = getattr(spec, g.name)
                choices = [v for v in g.values if v != cur]
                targets[g.name] = choices[int(rng.integers(len(choices)))]
        for view, vseed, tag in _views(street_views):
            rel, mrel = f"images/{spec.product_id}_{tag}.png", f"masks/{spec.product_id}_{tag}.png"
            tasks.append((spec, view, vseed, size, str(out), rel, mrel))
            rows.append({"path": rel, "product_id": spec.product_id, "view": view, "split": split, "mask": mrel,
                         **spec.attrs()})
            for gname, value in targets.items():
                tspec: ProductSpec = spec.with_(**{gname: value})
                tid = f"{spec.product_id}-{gname}-{value}"
                trel = f"edits/{tid}_{tag}.png"
                tmask = f"edits/masks/{tid}_{tag}.png"
                tasks.append((tspec, view, vseed, size, str(out), trel, tmask))
                edit_rows.append({"source": rel, "group": gname, "value": value, "target": trel,
                                  "target_product_id": tid, "view": view, "target_mask": tmask, **tspec.attrs()})
    if edit_rows:
        (out / "edits" / "masks").mkdir(parents=True, exist_ok=True)
    workers = workers or min(2, os.cpu_count() or 1)
    t0 = time.perf_counter()
    bar = tqdm(total=len(tasks), desc="rendering", unit="img", disable=not progress)
    if workers > 1:
        ctx = mp.get_context("fork")
        with ctx.Pool(workers) as pool:
            for _ in pool.imap_unordered(_render_task, tasks, chunksize=64):
                bar.update()
    else:
        for t in tasks:
            _render_task(t)
            bar.update()
    bar.close()
    seconds = time.perf_counter() - t0

    from amgan.data.manifest import write_manifest

    write_manifest(out, SYNTH_SCHEMA, rows)
    if with_edits:
        buf = io.StringIO()
        cols = list(EDIT_COLUMNS) + ["target_mask"] + list(SYNTH_SCHEMA.names)
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(edit_rows)
        atomic_write_text(out / "edits.csv", buf.getvalue())
    return {"images": len(rows), "edit_targets": len(edit_rows), "products": products,
            "render_seconds": round(seconds, 2), "images_per_second": round(len(tasks) / seconds, 1)}


def read_edits(folder: str | Path) -> list[dict]:
    """Rows of ``edits.csv`` (written by ``generate(..., with_edits=True)``)."""
    p = Path(folder) / "edits.csv"
    if not p.exists():
        raise UserError(f"{p} not found: make the data set with `amgan data synth ... --with-edits`")
    with open(p, newline="") as f:
        return list(csv.DictReader(f))


def ensure_data(data_cfg, progress: bool = True) -> Path:
    """The data set folder of a DataConfig; renders SynthFashion there when it has no manifest."""
    root = Path(data_cfg.root)
    if (root / "manifest.csv").exists():
        return root
    if root.exists() and any(root.iterdir()):
        raise UserError(f"{root} exists but has no manifest.csv; point data.root at a data set folder")
    generate(root, data_cfg.synth_products, seed=data_cfg.synth_seed, size=data_cfg.size,
             street_views=data_cfg.synth_street_views, with_edits=True, progress=progress)
    return root
