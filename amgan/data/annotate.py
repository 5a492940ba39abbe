"""Colour labels and garment masks for photos: ``amgan data annotate DIR``.

For every row of ``DIR/manifest.csv``:

1. **Mask.** A row without a mask gets one from :func:`amgan.data.garment_mask.garment_mask`
   (GrabCut), written to ``DIR/masks/<name>.png`` at the photo's size as a region map:
   0 background, 1 garment (the schema's "torso" region stands for the whole garment:
   GrabCut does not tell sleeves from torso). A mask covering less than
   :data:`MIN_MASK_FRACTION` of the photo found a print, not the garment: no mask is
   written (an empty cell) and the colour is unknown. A row that already has a mask of its
   own (SynthFashion's exact region maps) keeps it and its colour is read on it.
2. **Colour** (:func:`read_colour`), on the photo itself (at most :data:`COLOUR_SIZE` px):
   - exposure: phones expose a frame filled by a white shirt as grey and one filled by a
     black shirt as dark grey. Under the white-patch assumption (the brightest part of the
     photo, its 99th percentile of L*, is white, L* = :data:`WHITE_L`) the exposure is
     raised (linear RGB scaled) by at most one stop (:data:`MAX_GAIN`), never lowered;
   - the garment pixels less a rim (:data:`RIM` of the long side: edge pixels mix with the
     floor) are taken to CIELAB (D65); the darkest and brightest :data:`TRIM` of them (by
     L*) are set aside as shadows, folds and highlights;
   - every remaining pixel is named by its nearest anchor of :data:`PALETTE` (CIEDE2000);
     the colour is the name most pixels get and its **confidence** the fraction of pixels
     that get it. Below :data:`MIN_CONFIDENCE` the colour is unknown (an empty cell): a
     garment of two colours in equal parts (about 0.5), a colour between two names
     (teal-blue, olive, coral), a print over most of the garment, a mask that took in the
     floor.
   By default :func:`annotate` names the colour with the learned colour namer instead
   (:mod:`amgan.data.colour_namer`, :data:`SHIPPED_NAMER`: the same pixels, summarised, through a
   model fitted to the names people gave the train split's photos); ``namer=None`` (``--namer
   rule``) keeps this rule, which the training-free edit probes (:mod:`amgan.probes`) always use.
3. **Pattern** is left unknown: telling solid from striped/checked/dotted/floral needs
   more than colour statistics (prints and logos on a plain T-shirt look like a pattern to
   them), and a wrong label is worse than none.

The anchors (:data:`PALETTE`, sRGB hex) are fixed values for real fabric colours, several
per name, that follow the names' everyday use: navy, denim, chambray and sky blue are
``blue``; burgundy is ``red``; olive and khaki green are ``green``; beige, camel and tan
are ``brown``; lavender and lilac are ``purple``; coral and salmon are ``pink``; mustard
is ``yellow``; turquoise is ``teal``; charcoal and heather grey are ``gray``; cream and
ivory are ``white``. None is fitted to a photo of the data set. Naming runs through a
lookup table over RGB quantised to 64 levels a channel, filled as photos need it.

Outputs, written atomically; re-running gives the same files:

- ``DIR/manifest.csv``: the ``mask`` column, and the ``color`` cell of every row whose
  colour is unknown there (``overwrite_labels=True``: of every row, so an annotator's
  "unknown" then replaces a known colour too);
- ``DIR/annotations.csv``: ``path, mask, mask_source, color, best, confidence, runner_up,
  mask_fraction`` (the annotator's own reading whatever the manifest keeps: ``mask_source``
  is ``grabcut`` for a mask it wrote, ``given`` for the data set's own; ``color`` is empty
  when unknown, ``best`` is the majority name even then, ``runner_up`` the second).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
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

SHIPPED_NAMER = Path(__file__).resolve().parent / "labels" / "colour_namer.json"  # amgan.data.colour_namer
MIN_CONFIDENCE = 0.6  # a clear majority: a two-colour garment in equal parts reads about 0.5
TRIM = 0.10  # darkest and brightest fraction (by L*) set aside
RIM = 0.01  # the mask's edge left out (edge pixels mix with the floor), fraction of the long side
COLOUR_SIZE = 512  # colours are read on the photo brought down to this long side if larger
MIN_PIXELS = 200  # fewer garment pixels than this: unknown
MIN_MASK_FRACTION = 0.10  # a GrabCut mask smaller than this part of the photo found a print, not the garment
WHITE_L = 95.0  # the L* the photo's brightest part (99th percentile) is taken to have
MAX_GAIN = 2.0  # exposure raised by at most one stop (a dim photo stays dimmer)


class AnnotateError(UserError):
    """The data set cannot be annotated (no colour group, a bad image); one line each."""


# ---------------------------------------------------------------------------
# colour naming
# ---------------------------------------------------------------------------
def _hex(h: str) -> tuple[float, float, float]:
    h = h.lstrip("#")
    return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))


_LUT_CACHE: dict = {}


class _Lut:
    """Lookup tables over RGB quantised to 64 levels per channel (step 4), one entry per bin:
    ``L`` and ``lab`` (CIELAB, D65) for every bin at once (0.3 s); the nearest name (``nearest``,
    CIEDE2000 to every anchor, the name of the nearest) and the nearest anchor among all of
    :data:`PALETTE`'s shades in order (``anchor``). For :data:`PALETTE` itself both come from the shipped
    table (:data:`ANCHOR_TABLE`, every bin, checked against the palette's fingerprint); for other names,
    or a table made for another palette, only for the bins a photo has, as it needs them (:meth:`fill`:
    ~7 ms per 1,000 new bins; a photo has a few thousand, which cost a colour edit 10-45 ms; later photos
    reuse them)."""

    def __init__(self, names: tuple[str, ...], shipped: bool = True):
        from skimage.color import rgb2lab

        levels = (np.arange(64, dtype=np.float64) * 4 + 1.5) / 255
        r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
        lab = rgb2lab(np.stack([r, g, b], -1).reshape(-1, 1, 3)).reshape(-1, 3)
        self.lab = lab.astype(np.float32)
        self.L = self.lab[:, 0].copy()
        self._lab64 = lab
        self.names = names
        self._anchors = [rgb2lab(np.array([[_hex(h) for _, h in PALETTE[n]]])).reshape(-1, 3) for n in names]
        self._owner = np.concatenate([np.full(len(a), k) for k, a in enumerate(self._anchors)]).astype(np.int16)
        self.nearest = np.full(len(lab), -1, np.int16)
        self.anchor = np.full(len(lab), -1, np.int16)
        table = read_anchor_table() if shipped and names == tuple(PALETTE) else None
        if table is not None:
            self.anchor[:] = table
            self.nearest[:] = self._owner[table]

    def fill(self, bins: np.ndarray) -> None:
        """Compute ``nearest`` and ``anchor`` for the bins among ``bins`` that lack them."""
        from skimage.color import deltaE_ciede2000

        todo = np.unique(bins[self.anchor[bins] < 0])
        if not len(todo):
            return
        lab = self._lab64[todo]
        d = np.concatenate([np.stack([deltaE_ciede2000(lab, a[None, :]) for a in anchors], 1)
                            for anchors in self._anchors], 1)
        best = d.argmin(1).astype(np.int16)
        self.nearest[todo] = self._owner[best]
        self.anchor[todo] = best


ANCHOR_TABLE = Path(__file__).resolve().parent / "palette_anchors.npz"  # make palette-table writes it


def palette_fingerprint() -> str:
    """What the anchor table depends on: :data:`PALETTE` (names and shades in order) and the bins' grid."""
    doc = json.dumps({"palette": {k: [list(s) for s in v] for k, v in PALETTE.items()}, "bins": "rgb>>2, centre 4k+1.5",
                      "distance": "skimage deltaE_ciede2000"}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


def anchor_table() -> np.ndarray:
    """The nearest anchor of :data:`PALETTE` (CIEDE2000, index over all shades in order) of every RGB bin,
    int8 [64**3]: computed (~3 s)."""
    lut = _Lut(tuple(PALETTE), shipped=False)
    lut.fill(np.arange(64 ** 3))
    return lut.anchor.astype(np.int8)


def write_anchor_table(path=ANCHOR_TABLE) -> Path:
    """Compute :func:`anchor_table` and write it (atomically) with the palette's fingerprint."""
    from amgan.io import atomic_write_bytes

    buf = io.BytesIO()
    np.savez_compressed(buf, anchor=anchor_table(), fingerprint=np.array(palette_fingerprint()))
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def read_anchor_table(path=ANCHOR_TABLE) -> np.ndarray | None:
    """The shipped anchor table (int16 [64**3]), or None when it is missing, malformed or made for
    another palette (the lookup then computes the bins as photos need them)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["fingerprint"]) != palette_fingerprint():
                return None
            a = z["anchor"].astype(np.int16)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # missing, truncated, not a table
        return None
    n = sum(len(v) for v in PALETTE.values())
    return a if a.shape == (64 ** 3,) and a.min() >= 0 and a.max() < n else None


def _lut(names: tuple[str, ...]) -> _Lut:
    """The process's :class:`_Lut` for ``names``."""
    if names not in _LUT_CACHE:
        _LUT_CACHE[names] = _Lut(names)
    return _LUT_CACHE[names]


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


_LIN = ((np.arange(256) / 255) <= 0.04045) * (np.arange(256) / 255 / 12.92) + \
    ((np.arange(256) / 255) > 0.04045) * (((np.arange(256) / 255 + 0.055) / 1.055) ** 2.4)  # sRGB -> linear


def _to_srgb8(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0, 1)
    s = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return (s * 255 + 0.5).astype(np.uint8)


def exposure_gain(rgb: np.ndarray, *, white_l: float = WHITE_L, max_gain: float = MAX_GAIN) -> float:
    """The exposure change (a factor on linear RGB) that undoes the camera's auto-exposure under
    the white-patch assumption: the photo's brightest part (99th percentile of L*) is white,
    L* = ``white_l``. Never below 1 (nothing is darkened), at most ``max_gain`` (one stop)."""
    L = _lut(tuple(PALETTE)).L
    l99 = float(np.quantile(L[_bins(np.asarray(rgb)[::2, ::2])], 0.99))

    def Y(l):  # CIE lightness -> relative luminance
        return ((l + 16) / 116) ** 3 if l > 8 else l / 903.3

    return float(np.clip(Y(white_l) / max(Y(l99), 1e-4), 1.0, max_gain))


def expose(px: np.ndarray, gain: float) -> np.ndarray:
    """sRGB uint8 pixels with their linear RGB scaled by ``gain`` (clipped at white)."""
    return px if gain == 1.0 else _to_srgb8(_LIN[px] * gain)


def inner_mask(mask: np.ndarray, rim: float = RIM) -> np.ndarray:
    """The garment mask (bool) less its edge, ``rim`` of the image's long side (edge pixels mix with the
    floor); the mask itself when that would leave fewer than :data:`MIN_PIXELS` pixels."""
    import cv2

    r = int(round(rim * max(mask.shape)))
    if r > 0 and mask.any():
        k = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
        inner = cv2.erode(mask.astype(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
        if inner.sum() >= MIN_PIXELS:
            return inner
    return mask


def trim_by_lightness(lum: np.ndarray, trim: float = TRIM) -> np.ndarray:
    """Which pixels to keep (bool) when the darkest and brightest ``trim`` of them by L* (``lum``) are set
    aside as shadows, folds and highlights; all of them when fewer than ``MIN_PIXELS // 2`` would remain."""
    lo, hi = np.quantile(lum, [trim, 1 - trim])
    keep = (lum >= lo) & (lum <= hi)
    return keep if keep.sum() >= MIN_PIXELS // 2 else np.ones_like(keep)


def read_colour(rgb: np.ndarray, mask: np.ndarray, *, min_confidence: float = MIN_CONFIDENCE,
                trim: float = TRIM, rim: float = RIM, normalise: bool = True) -> ColourReading:
    """The garment's colour name from its pixels (RGB uint8 [H, W, 3], mask bool [H, W]).

    ``normalise``: first change the exposure by :func:`exposure_gain` of the whole photo.
    ``rim``: the mask's edge left out, as a fraction of the image's long side.
    """
    names = tuple(PALETTE)
    rgb, mask = np.asarray(rgb), np.asarray(mask, bool)
    px = rgb[inner_mask(mask, rim)]
    if len(px) < MIN_PIXELS:
        return ColourReading(None, 0.0, "", "", int(len(px)))
    if normalise:
        px = expose(px, exposure_gain(rgb))
    lut = _lut(names)
    bins = _bins(px)
    lut.fill(bins)
    nearest, L = lut.nearest, lut.L
    lum = L[bins]
    keep = trim_by_lightness(lum, trim)
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
    found: bool = True  # False: GrabCut's mask covers under MIN_MASK_FRACTION of the photo (colour unknown)


def colour_view(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo and its garment mask (bool, photo size) brought down to :data:`COLOUR_SIZE` px
    if larger: what colours are read on."""
    from amgan.data.garment_mask import to_work_size, upsample_mask

    if max(rgb.shape[:2]) <= COLOUR_SIZE:
        return rgb, mask
    view = to_work_size(rgb, COLOUR_SIZE)
    return view, upsample_mask(mask, view.shape[:2])


def annotate_photo(image, mask: np.ndarray | None = None, *, namer=None) -> PhotoAnnotation:
    """Mask (GrabCut unless ``mask`` is given: a region map, > 0 = garment) and colour.

    The colour is read on the photo itself (down to :data:`COLOUR_SIZE` px if larger), so
    small prints stay prints instead of blurring into a third colour; by the palette rule
    (:func:`read_colour`), or by ``namer`` (a :class:`amgan.data.colour_namer.ColourNamer`)."""
    from amgan.data.garment_mask import _as_rgb, segment, to_work_size, upsample_mask

    rgb = _as_rgb(image)
    if mask is None:
        full = upsample_mask(segment(to_work_size(rgb)), rgb.shape[:2])
    else:
        full = np.asarray(mask) > 0
        if full.shape != rgb.shape[:2]:
            raise ValueError(f"mask {full.shape} and image {rgb.shape[:2]} differ in size")
    view, vmask = colour_view(rgb, full)
    reading = namer.read(view, vmask) if namer is not None else read_colour(view, vmask)
    colour, fraction = reading, float(full.mean())
    found = mask is not None or fraction >= MIN_MASK_FRACTION
    if not found:
        colour = ColourReading(None, colour.confidence, colour.best, colour.runner_up, colour.pixels)
    return PhotoAnnotation(full.astype(np.uint8), colour, fraction, found)


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


_NAMERS: dict = {}


def _namer(path: str):
    """The colour namer at ``path`` (loaded once per process), None for ``""`` (the palette rule)."""
    if not path:
        return None
    if path not in _NAMERS:
        from amgan.data.colour_namer import ColourNamer

        _NAMERS[path] = ColourNamer.load(path, colours=tuple(PALETTE))
    return _NAMERS[path]


def _annotate_one(job: tuple[str, str, str, bool, str]) -> tuple:
    """(root, path, mask cell, own mask, namer path) -> (path, colour, confidence, runner_up, fraction, error,
    mask cell, best)."""
    root, path, mask_cell, own, namer = job
    root_p = Path(root)
    try:
        with Image.open(root_p / path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as e:
        return path, None, 0.0, "", 0.0, f"cannot read {path}: {type(e).__name__}: {e}", mask_cell, ""
    given = None
    if not own:
        try:
            with Image.open(root_p / mask_cell) as m:
                given = np.asarray(m)
        except (OSError, SyntaxError, ValueError) as e:
            return path, None, 0.0, "", 0.0, f"cannot read mask {mask_cell}: {type(e).__name__}: {e}", mask_cell, ""
    ann = annotate_photo(rgb, given, namer=_namer(namer))
    if own and ann.found:
        atomic_save_image(root_p / mask_cell, Image.fromarray(ann.mask))
    elif own:  # no garment found: no mask (an empty cell), and none left from an earlier run
        (root_p / mask_cell).unlink(missing_ok=True)
        mask_cell = ""
    c = ann.colour
    return path, c.color, c.confidence, c.runner_up, ann.mask_fraction, "", mask_cell, c.best


def annotate(folder, *, overwrite_labels: bool = False, workers: int | None = None, progress: bool = True,
             namer=SHIPPED_NAMER) -> dict:
    """Annotate the data set ``folder`` (see the module docstring); returns a summary dict.

    ``workers``: processes (default: up to 2, the cores there are); 1 runs in this process.
    ``namer``: the colour namer file (:mod:`amgan.data.colour_namer`) that names the colours,
    by default the shipped one (:data:`SHIPPED_NAMER`); None: the palette rule (:func:`read_colour`).
    """
    from tqdm import tqdm

    from amgan.data.manifest import read_manifest, write_manifest

    folder = Path(folder)
    m = read_manifest(folder)
    if "color" not in m.schema.names or set(m.schema.group("color").values) != set(PALETTE):
        raise AnnotateError(
            f"{folder}: annotate names colours {', '.join(PALETTE)}; the schema's 'color' group must have exactly"
            " these values (the SynthFashion schema)")
    namer_path = ""
    if namer is not None:
        namer_path = str(Path(namer).resolve())
        _namer(namer_path)  # a bad file is refused here, before any photo is read
    own_masks = _own_masks(folder)  # masks this tool wrote before (a data set's own are never replaced)
    jobs = []
    for i in range(len(m)):
        path, cell = m.paths[i], m.masks[i]
        own = not cell or cell == mask_name(path) and cell in own_masks
        jobs.append((str(folder), path, mask_name(path) if own else cell, own, namer_path))
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
        row["mask"] = res[6]
        if overwrite_labels or m.labels[i, ci] < 0:
            new = res[1] or ""
            changed += new != row["color"]
            row["color"] = new
    write_manifest(folder, m.schema, rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "mask", "mask_source", "color", "best", "confidence", "runner_up", "mask_fraction"])
    for job, res in zip(jobs, results):
        source = "grabcut" if job[3] else "given"
        w.writerow([res[0], res[6], source, res[1] or "", res[7], f"{res[2]:.3f}", res[3], f"{res[4]:.3f}"])
    atomic_write_text(folder / "annotations.csv", buf.getvalue())
    known = sum(1 for r in results if r[1])
    counts = {n: sum(1 for r in results if r[1] == n) for n in PALETTE}
    return {"photos": len(jobs), "color_known": known, "color_unknown": len(jobs) - known,
            "coverage": round(known / len(jobs), 4), "cells_changed": changed,
            "by_color": {k: v for k, v in counts.items() if v}, "workers": n_workers,
            "colours_by": f"namer {namer}" if namer is not None else "palette rule"}


def _own_masks(folder: Path) -> set[str]:
    """The masks a previous run wrote itself (``mask_source`` grabcut in ``annotations.csv``)."""
    f = folder / "annotations.csv"
    if not f.is_file():
        return set()
    with open(f, newline="", encoding="utf-8") as fh:
        return {r["mask"] for r in csv.DictReader(fh) if r.get("mask") and r.get("mask_source") == "grabcut"}
