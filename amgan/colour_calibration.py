"""Colour calibration of an editor on photos: ``amgan calibrate-colours``.

    amgan calibrate-colours --editor checkpoints/amgan_photo128 --photos data/clothing [--n 120] [--dry-run]

A generator trained mostly on renders draws each colour name a little off what photos of that name
look like: measured on ``amgan_photo128`` and train-split photos, its "black" has L* 31 where photos
labelled black have 19, its "white" 70 against 83, its red is lighter and less saturated than red
photos (``reports/edits_photo128/colour_calibration.json``); the annotator (and a shopper) read such edits as grey, grey and pink. The calibration
measures, per colour name, on photos of the ``--split`` (train by default; never the test split):

- the **reference**: the median garment colour (CIELAB, exposure-normalised as the annotator does,
  :func:`amgan.probes.garment_lab` over the data set's garment mask) of the photos labelled with that
  name;
- the **edit**: the median garment colour of the editor's edits to that name of other photos of the
  split (``--targets`` names per photo, never the photo's own colour, rotating over the names);

and stores ``strength x (reference - edit)`` as ``editor.colour_calibration`` in the model folder's
``config.json``. :class:`amgan.editor.Editor` adds it to the edit's local colour when a photo is
recoloured to that name (:func:`amgan.composite.recolour_maps`, ``shift``); the photo's shading, folds
and prints are kept as before. A name with fewer than ``--min-refs`` labelled photos or ``--min-edits``
edits gets no offset (its medians are too noisy), and is listed with the reason; so is one whose
offset exceeds 50 CIELAB units (the editor does not draw that colour at all: no offset repairs that).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from amgan.errors import UserError

__all__ = ["fit_colour_calibration", "write_calibration"]

SPLITS = ("train", "val")


def _photo(m, i):
    """(PIL photo, uint8 array, bool mask) of manifest row ``i``, or None without a usable garment mask."""
    from PIL import Image

    from amgan.image import to_rgb

    if not m.masks[i]:
        return None
    photo = to_rgb(m.image_path(i))
    arr = np.asarray(photo)
    with Image.open(m.mask_path(i)) as mk:
        mask = np.asarray(mk) > 0
    if mask.shape != arr.shape[:2] or mask.mean() < 0.01:
        return None
    return photo, arr, mask


def fit_colour_calibration(editor, photos_root, *, split: str = "train", n_photos: int = 120, targets: int = 4,
                           min_refs: int = 20, min_edits: int = 10, strength: float = 1.0, seed: int = 0,
                           progress: bool = True) -> dict:
    """Measure the offsets (see the module doc). -> {"colour_calibration": {name: [dL, da, db]},
    "per_colour": {name: {reference, edit, n_reference, n_edits, shift or skipped}}, ...}. The editor's
    own calibration is switched off while it is measured and put back after."""
    from amgan import probes as P
    from amgan.data.manifest import read_manifest
    from amgan.editor import MAX_SHIFT

    if split not in SPLITS:
        raise UserError(f"--split {split!r}: calibrate on one of {', '.join(SPLITS)} (never the test split)")
    if not 0.0 < strength <= 1.0:
        raise UserError(f"--strength must be in (0, 1], got {strength}")
    if n_photos < 1 or targets < 1:
        raise UserError("--n and --targets must be at least 1")
    root = Path(photos_root)
    if not (root / "manifest.csv").is_file():
        raise UserError(f"--photos: {root}/manifest.csv not found (amgan data convert clothing_dataset, then "
                        "amgan data annotate)")
    m = read_manifest(root / "manifest.csv")
    if "color" not in m.schema.names or "color" not in editor.schema.names:
        raise UserError(f"--photos: {root} and the editor need a 'color' group")
    ci = m.schema.group_index("color")
    names = list(editor.schema.group("color").values)
    rows = [int(i) for i in m.indices(split, None) if m.labels[i, ci] >= 0 and m.masks[i]]
    if not rows:
        raise UserError(f"--photos: {root} has no {split}-split photos with a garment mask and a known colour")
    ref: dict[str, list] = {n: [] for n in names}
    for i in tqdm(rows, desc="reference colours", unit="photo", disable=not progress):
        got = _photo(m, i)
        if got is not None:
            ref[m.schema.group("color").values[m.labels[i, ci]]].append(P.garment_lab(got[1], got[2]))
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(rows)[:n_photos]
    edits: dict[str, list] = {n: [] for n in names}
    saved, editor.colour_calibration = editor.colour_calibration, {}
    try:
        for k, i in enumerate(tqdm(chosen, desc="edits", unit="photo", disable=not progress)):
            got = _photo(m, i)
            if got is None:
                continue
            photo, _, mask = got
            own = m.schema.group("color").values[m.labels[i, ci]]
            for j in range(targets):
                name = names[(k * targets + j) % len(names)]
                if name == own:
                    continue
                e = np.asarray(editor.edit(photo, {"color": name}).image)
                edits[name].append(P.garment_lab(e, mask))
    finally:
        editor.colour_calibration = saved
    per, shifts = {}, {}
    for n in names:
        r = [v for v in ref[n] if np.isfinite(v).all()]
        e = [v for v in edits[n] if np.isfinite(v).all()]
        row = {"n_reference": len(r), "n_edits": len(e),
               "reference": np.median(r, 0).round(2).tolist() if r else None,
               "edit": np.median(e, 0).round(2).tolist() if e else None}
        if len(r) < min_refs:
            row["skipped"] = f"{len(r)} labelled photos (< {min_refs})"
        elif len(e) < min_edits:
            row["skipped"] = f"{len(e)} edits (< {min_edits})"
        else:
            d = [round(float(t), 2) for t in strength * (np.median(r, 0) - np.median(e, 0))]
            if max(abs(t) for t in d) > MAX_SHIFT:  # not a colour slightly off: the editor does not draw this one
                row["skipped"] = f"offset {d} beyond +-{MAX_SHIFT:g} CIELAB units"
            else:
                shifts[n] = row["shift"] = d
        per[n] = row
    return {"colour_calibration": shifts, "per_colour": per, "split": split, "photos_edited": int(len(chosen)),
            "targets_per_photo": targets, "strength": strength, "min_refs": min_refs, "seed": seed}


def write_calibration(folder, shifts: dict) -> Path:
    """Put ``shifts`` into a model folder's ``config.json`` (``model.editor.colour_calibration``) and
    remake its model card, both atomically; the offsets are checked as the editor checks them at load."""
    from amgan.attributes import Schema
    from amgan.editor import _check_calibration
    from amgan.io import atomic_write_text
    from amgan.pretrained import CARD, CONFIG, load_pretrained, render_card

    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise UserError(f"--editor {folder}: the calibration is written into a model folder (config.json + "
                        "weights.pt); convert a single-file checkpoint first (python -m amgan.pretrained convert)")
    cfg = json.loads((folder / CONFIG).read_text())
    try:
        _check_calibration(shifts, Schema.from_dict(cfg["schema"]))
    except ValueError as e:
        raise UserError(f"{folder}: {e}") from None
    settings = cfg["model"].setdefault("editor", {})
    if shifts:
        settings["colour_calibration"] = shifts
    else:
        settings.pop("colour_calibration", None)
    atomic_write_text(folder / CONFIG, json.dumps(cfg, indent=2) + "\n")
    atomic_write_text(folder / CARD, render_card(load_pretrained(folder)))
    return folder / CONFIG
