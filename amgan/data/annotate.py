"""Colour labels and garment masks for photos: ``amgan data annotate DIR``.

For every row of ``DIR/manifest.csv``:

1. **Mask.** A row without a mask gets one from :func:`amgan.data.garment_mask.garment_mask`
   (GrabCut), written to ``DIR/masks/<name>.png`` at the photo's size as a region map:
   0 background, 1 garment (the schema's "torso" region stands for the whole garment:
   GrabCut does not tell sleeves from torso). A row that already has a mask of its own
   (SynthFashion's exact region maps) keeps it and its colour is read on it.
2. **Colour** (:func:`read_colour`), at GrabCut's working size (long side 256 px):
   the garment pixels less a 2-px rim (edge pixels mix with the floor) are converted to
   CIELAB (D65); the darkest and brightest :data:`TRIM` of them (by L*) are set aside as
   shadows, folds and highlights; every remaining pixel is named by its nearest anchor of
   :data:`PALETTE` (CIEDE2000); the colour is the name most pixels get, and its
   **confidence** is the fraction of pixels that get it. Below :data:`MIN_CONFIDENCE` the
   colour is unknown (an empty cell): a garment with two colours in equal parts, a
   colour between two names (teal-blue, coral), or a mask that took in the floor.
3. **Pattern** is left unknown: telling solid from striped/checked/dotted/floral needs
   more than colour statistics (prints and logos on a plain T-shirt look like a pattern to
   them), and a wrong label is worse than none.

The anchors (:data:`PALETTE`) describe real fabric colours as a phone photographs them,
several per name, and follow the colour names' everyday use: navy, denim and sky blue are
``blue``; burgundy is ``red``; olive and khaki green are ``green``; beige, camel and tan
are ``brown``; lavender is ``purple``; coral and salmon are ``pink``; mustard is ``yellow``;
turquoise is ``teal``; charcoal and heather grey are ``gray``; cream and ivory are
``white``. They are fixed values (sRGB hex, see the table), not fitted to any photo.

Outputs, written atomically, re-running gives the same files:

- ``DIR/manifest.csv``: the ``mask`` column, and the ``color`` cell of every row whose
  colour is unknown there (``overwrite_labels=True``: of every row, so an annotator's
  "unknown" then replaces a known colour too);
- ``DIR/annotations.csv``: ``path, mask, color, confidence, runner_up, mask_fraction``
  (the annotator's own reading, known or not, whatever the manifest keeps).
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from amgan.attributes import SYNTH_COLORS
from amgan.errors import UserError
from amgan.io import atomic_save_image, atomic_write_text

__all__ = [
    "PALETTE", "MIN_CONFIDENCE", "TRIM", "ColourReading", "PhotoAnnotation", "read_colour", "annotate_photo",
    "annotate", "AnnotateError", "mask_name",
]

# name -> (shade, sRGB hex): real fabric colours as a phone photo renders them
PALETTE: dict[str, tuple[tuple[str, str], ...]] = {
    "black": (("black", "#1c1c1e"), ("washed black", "#2e2e32")),
    "white": (("white", "#ececea"), ("cream / ivory", "#e9e2cf"), ("shaded white", "#d6d8da")),
    "gray": (("charcoal", "#4a4b4f"), ("grey", "#7d7e80"), ("heather / light grey", "#a9aaab")),
    "red": (("red", "#c0202a"), ("bright red", "#e0342c"), ("burgundy", "#6e1a26"), ("dark red", "#9a1c24")),
    "orange": (("orange", "#ee7a22"), ("burnt orange / rust", "#c0561c"), ("apricot", "#f5a05a")),
    "yellow": (("yellow", "#f2d22e"), ("mustard", "#cfa22a"), ("pale yellow", "#f0e48a")),
    "green": (("green", "#2e8b45"), ("dark / bottle green", "#1f4a30"), ("olive / khaki green", "#6b6e3e"),
              ("light / lime green", "#8cc65a"), ("mint", "#a6dcb4")),
    "teal": (("teal", "#0f7b7b"), ("turquoise", "#2cb8b8"), ("dark teal", "#1c5558")),
    "blue": (("royal blue", "#2a4fb4"), ("navy", "#1e2640"), ("insignia / faded navy", "#2f3e55"), ("chambray / dusty blue", "#7f94b2"), ("denim", "#45648c"), ("sky / light blue", "#8db2dc"),
             ("cobalt", "#1f5fae"), ("pale blue", "#bfd2e6")),
    "purple": (("purple", "#6a2c8e"), ("dark purple / aubergine", "#3c2046"), ("lavender / lilac", "#a890c8"),
               ("violet", "#8a4fb8"), ("dusty lavender", "#8e80a8")),
    "pink": (("pink", "#f09ab8"), ("hot pink / fuchsia", "#d8307a"), ("pale / blush pink", "#efc6cc"),
             ("dusty pink / mauve", "#c08894"), ("coral / salmon", "#f08070")),
    "brown": (("brown", "#6a4228"), ("chocolate / dark brown", "#4a2f1f"), ("camel / tan", "#b0845a"),
              ("beige / khaki", "#cdb896")),
}
assert tuple(PALETTE) == SYNTH_COLORS  # the SynthFashion colour names, in schema order

MIN_CONFIDENCE = 0.6  # a clear majority: a two-colour garment in equal parts reads about 0.5
TRIM = 0.10  # darkest and brightest fraction (by L*) set aside
RIM = 2  # px (at working size) of the mask's edge left out
MIN_PIXELS = 200
WHITE_L = 95.0  # the L* the photo's brightest part (99th percentile) is taken to have
MAX_GAIN = 1.3  # at most this much lighter (a dim photo stays dimmer)  # fewer garment pixels than this: unknown


class AnnotateError(UserError):
    """The data set cannot be annotated (no colour group, a bad image); one line each."""


# ---------------------------------------------------------------------------
# colour naming
# ---------------------------------------------------------------------------
def _hex(h: str) -> tuple[float, float, float]:
    h = h.lstrip("#")
    return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))


_LUT_CACHE: dict = {}


def _lut(names: tuple[str, ...]):
    """Lookup tables over RGB quantised to 64 levels per channel (step 4): nearest name index
    (CIEDE2000 to every anchor, the name of the nearest), the distance to the nearest
    anchor of every name, and L*. Built once per process (~1 s)."""
    if names in _LUT_CACHE:
        return _LUT_CACHE[names]
    from skimage.color import deltaE_ciede2000, rgb2lab

    levels = (np.arange(64, dtype=np.float64) * 4 + 1.5) / 255
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    grid = np.stack([r, g, b], -1).reshape(-1, 1, 3)
    lab = rgb2lab(grid).reshape(-1, 3)
    dist = np.empty((len(lab), len(names)), np.float32)
    for k, n in enumerate(names):
        anchors = rgb2lab(np.array([[_hex(h) for _, h in PALETTE[n]]])).reshape(-1, 3)
        d = np.stack([deltaE_ciede2000(lab, a[None, :]) for a in anchors], 1)
        dist[:, k] = d.min(1)
    out = (dist.argmin(1).astype(np.int16), dist, lab[:, 0].astype(np.float32))
    _LUT_CACHE[names] = out
    return out


def _bins(rgb: np.ndarray) -> np.ndarray:
    q = (rgb.astype(np.int32) >> 2).reshape(-1, 3)
    return (q[:, 0] * 64 + q[:, 1]) * 64 + q[:, 2]


@dataclass(frozen=True)
class ColourReading:
    color: str | None  # None: unknown (confidence below the threshold, or too few pixels)
    confidence: float  # fraction of the trimmed garment pixels named ``best``
    best: str  # the majority name, known or not
    runner_up: str
    pixels: int  # garment pixels used


def exposure_gain(rgb: np.ndarray, *, white_l: float = WHITE_L, max_gain: float = MAX_GAIN) -> float:
    """Lightness gain undoing the camera's auto-exposure (the white-patch assumption: the
    photo's brightest part, its 99th percentile of L*, is white, L* = ``white_l``); never
    below 1 and at most ``max_gain``."""
    _, _, L = _lut(tuple(PALETTE))
    l99 = float(np.quantile(L[_bins(rgb)], 0.99))
    return float(np.clip(white_l / max(l99, 1e-3), 1.0, max_gain))


def _gain_rgb(rgb: np.ndarray, gain: float) -> np.ndarray:
    """Scale L* by ``gain`` keeping a*, b* (exactly: in linear RGB, Y ~ L^3 near white)."""
    if gain == 1.0:
        return rgb
    from skimage.color import lab2rgb, rgb2lab

    lab = rgb2lab(rgb.reshape(-1, 1, 3))
    lab[..., 0] = np.clip(lab[..., 0] * gain, 0, 100)
    return (np.clip(lab2rgb(lab), 0, 1) * 255 + 0.5).astype(np.uint8).reshape(rgb.shape)


def read_colour(rgb: np.ndarray, mask: np.ndarray, *, min_confidence: float = MIN_CONFIDENCE,
                trim: float = TRIM, rim: int = RIM, normalise: bool = True) -> ColourReading:
    """The garment's colour name from its pixels (RGB uint8 [H, W, 3], mask bool [H, W]).

    ``normalise``: first scale L* by :func:`exposure_gain` of the whole photo.
    """
    import cv2

    names = tuple(PALETTE)
    mask = np.asarray(mask, bool)
    if rim > 0 and mask.any():
        k = np.ones((2 * rim + 1, 2 * rim + 1), np.uint8)
        inner = cv2.erode(mask.astype(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
        if inner.sum() >= MIN_PIXELS:
            mask = inner
    px = np.asarray(rgb)[mask]
    if len(px) < MIN_PIXELS:
        return ColourReading(None, 0.0, "", "", int(len(px)))
    if normalise:
        px = _gain_rgb(px, exposure_gain(np.asarray(rgb)))
    nearest, _, L = _lut(names)
    bins = _bins(px)
    lum = L[bins]
    lo, hi = np.quantile(lum, [trim, 1 - trim])
    keep = (lum >= lo) & (lum <= hi)
    if keep.sum() < MIN_PIXELS // 2:
        keep = np.ones_like(keep)
    votes = np.bincount(nearest[bins[keep]], minlength=len(names)).astype(np.float64)
    share = votes / votes.sum()
    order = np.argsort(-share, kind="stable")
    best, second = names[order[0]], names[order[1]]
    conf = float(share[order[0]])
    return ColourReading(best if conf >= min_confidence else None, conf, best, second, int(keep.sum()))


# ---------------------------------------------------------------------------
# one photo
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PhotoAnnotation:
    mask: np.ndarray  # uint8 [H, W] at the photo's size: 0 background, 1 garment
    colour: ColourReading
    mask_fraction: float  # garment pixels / all pixels


def annotate_photo(image, mask: np.ndarray | None = None) -> PhotoAnnotation:
    """Mask (GrabCut unless ``mask`` is given: a region map, > 0 = garment) and colour."""
    from amgan.data.garment_mask import _as_rgb, segment, to_work_size, upsample_mask

    import cv2

    rgb = _as_rgb(image)
    small = to_work_size(rgb)
    if mask is None:
        fg_small = segment(small)
        full = upsample_mask(fg_small, rgb.shape[:2])
    else:
        full = np.asarray(mask) > 0
        if full.shape != rgb.shape[:2]:
            raise ValueError(f"mask {full.shape} and image {rgb.shape[:2]} differ in size")
        h, w = small.shape[:2]
        fg_small = cv2.resize(full.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    return PhotoAnnotation(full.astype(np.uint8), read_colour(small, fg_small), float(full.mean()))


# ---------------------------------------------------------------------------
# a data set
# ---------------------------------------------------------------------------
def mask_name(path: str) -> str:
    """``images/a/b.jpg`` -> ``masks/a/b.png``; any other ``x/y.jpg`` -> ``masks/x/y.png``."""
    p = Path(path)
    parts = p.parts[1:] if p.parts and p.parts[0] == "images" else p.parts
    return Path("masks", *parts).with_suffix(".png").as_posix()


def _init_worker():
    import cv2
    import torch

    cv2.setNumThreads(1)
    try:
        torch.set_num_threads(1)
    except RuntimeError:
        pass


def _annotate_one(job: tuple[str, str, str, bool]) -> tuple[str, str | None, float, str, float, str]:
    """(root, path, mask cell, own mask) -> (path, colour, confidence, runner_up, fraction, error)."""
    root, path, mask_cell, own = job
    root_p = Path(root)
    try:
        with Image.open(root_p / path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as e:
        return path, None, 0.0, "", 0.0, f"cannot read {path}: {type(e).__name__}: {e}"
    given = None
    if not own:
        try:
            with Image.open(root_p / mask_cell) as m:
                given = np.asarray(m)
        except (OSError, SyntaxError, ValueError) as e:
            return path, None, 0.0, "", 0.0, f"cannot read mask {mask_cell}: {type(e).__name__}: {e}"
    ann = annotate_photo(rgb, given)
    if own:
        atomic_save_image(root_p / mask_cell, Image.fromarray(ann.mask))
    c = ann.colour
    return path, c.color, c.confidence, c.runner_up, ann.mask_fraction, ""


def annotate(folder, *, overwrite_labels: bool = False, workers: int | None = None, progress: bool = True) -> dict:
    """Annotate the data set ``folder`` (see the module docstring); returns a summary dict.

    ``workers``: processes (default: up to 2, the cores there are); 1 runs in this process.
    """
    from tqdm import tqdm

    from amgan.data.manifest import read_manifest, write_manifest

    folder = Path(folder)
    m = read_manifest(folder)
    if "color" not in m.schema.names or set(m.schema.group("color").values) != set(PALETTE):
        raise AnnotateError(
            f"{folder}: annotate names colours {', '.join(PALETTE)}; the schema's 'color' group must have exactly"
            " these values (the SynthFashion schema)")
    own_masks = set(_read_annotations(folder))  # masks this tool wrote before
    jobs = []
    for i in range(len(m)):
        path, cell = m.paths[i], m.masks[i]
        own = not cell or cell == mask_name(path) and cell in own_masks
        jobs.append((str(folder), path, mask_name(path) if own else cell, own))
    n_workers = max(1, min(workers or min(2, os.cpu_count() or 1), len(jobs)))
    results = []
    bar = dict(total=len(jobs), desc="annotate", unit="photo", disable=not progress)
    if n_workers == 1:
        _init_worker()
        results = [_annotate_one(j) for j in tqdm(jobs, **bar)]
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(n_workers, initializer=_init_worker) as pool:
            results = list(tqdm(pool.imap(_annotate_one, jobs, chunksize=8), **bar))
    errors = [r[5] for r in results if r[5]]
    if errors:
        head = f"{len(errors)} of {len(jobs)} photos could not be annotated"
        raise AnnotateError(head + ": " + errors[0] if len(errors) == 1 else "\n".join([head + ":", *errors]))

    rows = m.rows
    ci = m.schema.group_index("color")
    changed = 0
    for i, (row, job, res) in enumerate(zip(rows, jobs, results)):
        row["mask"] = job[2]
        if overwrite_labels or m.labels[i, ci] < 0:
            new = res[1] or ""
            changed += new != row["color"]
            row["color"] = new
    write_manifest(folder, m.schema, rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "mask", "color", "confidence", "runner_up", "mask_fraction"])
    for job, res in zip(jobs, results):
        w.writerow([res[0], job[2], res[1] or "", f"{res[2]:.3f}", res[3], f"{res[4]:.3f}"])
    atomic_write_text(folder / "annotations.csv", buf.getvalue())
    known = sum(1 for r in results if r[1])
    counts = {n: sum(1 for r in results if r[1] == n) for n in PALETTE}
    return {"photos": len(jobs), "color_known": known, "color_unknown": len(jobs) - known,
            "coverage": round(known / len(jobs), 4), "cells_changed": changed,
            "by_color": {k: v for k, v in counts.items() if v}, "workers": n_workers}


def _read_annotations(folder: Path) -> dict[str, str]:
    """mask -> path from a previous run's ``annotations.csv`` (empty when there is none)."""
    f = folder / "annotations.csv"
    if not f.is_file():
        return {}
    with open(f, newline="", encoding="utf-8") as fh:
        return {r["mask"]: r["path"] for r in csv.DictReader(fh) if r.get("mask")}
