"""Garment masks for photos: which pixels belong to the garment.

The photos this is for (``clothing-dataset``, shoppers' phone photos) show one garment,
roughly centred, laid flat on a floor, bed or table or hung on a door. There is no
trained segmenter for them here, so the mask comes from OpenCV's GrabCut (Rother et al.,
SIGGRAPH 2004): two colour models (Gaussian mixtures, 5 components each), one for the
garment and one for the background, and a graph cut that balances them against edges.

Initialisation (the only prior; nothing is learned from the photos):

- a border band (:data:`BORDER` of the short side) is *certain background*: the garment
  is inside the frame, and where a sleeve runs off the edge only that strip is lost;
- a centred box (:data:`CENTRE` of each side) is *certain garment*: the photographer
  centred it;
- everything else starts as *probable garment* and GrabCut decides.

Then the largest connected component is kept (a garment is one piece), its holes are
filled (prints and logos are garment), and a 3x3 opening removes one-pixel threads.
GrabCut runs at :data:`WORK_SIZE` px (long side, :data:`ITERATIONS` iterations) and the
mask is upsampled to the photo. About 40 ms of one core per 400x533 photo. OpenCV's
random generator is reseeded on every call, so a mask does not depend on what ran before.

``frame_rescue`` (the editor's masks; not the annotator's): where a side of the band has the
garment's colours and not the background's (:func:`frame_like`), the garment runs off the frame
there; a second pass starts those band pixels as probable garment, so the background model does
not learn the garment's colour and the mask reaches the edge.

Measured (``docs/real_photos.md``): mask IoU against SynthFashion's exact region maps
(street views: cluttered backgrounds that touch the garment, rotation, occluders) and a
contact sheet of real photos. Known failures: a hung garment against a door or wall of
its own colour takes in part of it; a large high-contrast print in the centre can become
the whole "garment" (:mod:`amgan.data.annotate` then reports no garment found); without the
frame rescue a garment that runs off the frame can lose more than the border strip (the strip
is the garment's colour there, and the background model learns it; ``docs/real_photos.md``).

Tried and not kept: a head trained on SynthFashion's region maps over the frozen
ImageNet EfficientNet-Lite0 trunk, alone or as GrabCut's seeds. It lifts the SynthFashion
street IoU from about 0.6 to 0.87-0.88 but on real photos it loses plain fabric that looks
like the bed under it and keeps salient prints: no better than GrabCut alone there, for
+30 ms a photo and a shipped model.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["garment_mask", "segment", "to_work_size", "upsample_mask", "mask_iou", "WORK_SIZE", "BORDER", "CENTRE"]

WORK_SIZE = 160  # GrabCut's working resolution (long side, px)
BORDER = 0.03  # certain-background band, fraction of the short side
CENTRE = 0.12  # certain-garment centred box, fraction of each side
ITERATIONS = 3  # GrabCut iterations
# frame rescue (``segment(frame_rescue=True)``, docs/real_photos.md): a side of the certain-background band whose
# pixels are mostly the garment's colours (within FRAME_DE CIE76 of one of FRAME_COLOURS k-means colours of a first
# GrabCut pass's garment, and nearer them than the background's colours in the half of the photo away from that
# side, on at least FRAME_SHARE of it) is the garment running off the frame: those pixels start a second pass as "probable
# garment", so its background model does not learn the garment's colour
FRAME_DE = 12.0
FRAME_COLOURS = 3
FRAME_SHARE = 0.25
FRAME_REST = 30  # fewer background pixels in that half than this: the garment fills it


def _cv2():
    try:
        import cv2
    except ImportError as e:  # pragma: no cover - a dependency of the project
        raise ImportError("garment masks need OpenCV: pip install opencv-python-headless") from e
    cv2.setNumThreads(1)
    return cv2


def _as_rgb(image) -> np.ndarray:
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def _init_mask(h: int, w: int, border: float, centre: float, inner: float | None = None) -> np.ndarray:
    cv2 = _cv2()
    m = np.full((h, w), cv2.GC_PR_FGD, np.uint8)
    if inner is not None:
        yy, xx = np.mgrid[0:h, 0:w]
        r = ((yy - (h - 1) / 2) / (inner * h / 2)) ** 2 + ((xx - (w - 1) / 2) / (inner * w / 2)) ** 2
        m[r > 1] = cv2.GC_PR_BGD
    b = max(1, int(round(border * min(h, w))))
    m[:b, :] = m[-b:, :] = m[:, :b] = m[:, -b:] = cv2.GC_BGD
    if centre > 0:
        ch, cw = max(1, int(round(centre * h / 2))), max(1, int(round(centre * w / 2)))
        m[h // 2 - ch : h // 2 + ch, w // 2 - cw : w // 2 + cw] = cv2.GC_FGD
    return m


def _clean(fg: np.ndarray) -> np.ndarray:
    """Largest connected component, holes filled, 3x3 opening (uint8 0/1 in, bool out)."""
    cv2 = _cv2()
    fg = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 1:
        return np.zeros(fg.shape, bool)
    keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    comp = (lab == keep).astype(np.uint8)
    # fill holes: flood the background from a padded border; what is not reached is inside
    pad = np.pad(comp, 1)
    flood = pad.copy()
    ffmask = np.zeros((pad.shape[0] + 2, pad.shape[1] + 2), np.uint8)
    cv2.floodFill(flood, ffmask, (0, 0), 1)
    holes = (flood[1:-1, 1:-1] == 0)
    return comp.astype(bool) | holes


def to_work_size(image, work_size: int = WORK_SIZE) -> np.ndarray:
    """The photo as RGB uint8 with its long side ``work_size`` px (area-averaged down)."""
    cv2 = _cv2()
    rgb = _as_rgb(image)
    H, W = rgb.shape[:2]
    s = work_size / max(H, W)
    h, w = max(8, round(H * s)), max(8, round(W * s))
    if (h, w) == (H, W):
        return rgb
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


def _kmeans_lab(lab: np.ndarray, k: int, most: int = 2000) -> np.ndarray:
    """``k`` k-means colours (CIELAB) of the pixels ``lab`` [N, 3], from at most ``most`` of them (evenly strided)."""
    cv2 = _cv2()
    x = lab[:: max(1, len(lab) // most)]
    cv2.setRNGSeed(0)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, _, colours = cv2.kmeans(np.ascontiguousarray(x, np.float32), min(k, len(x)), None, crit, 1,
                               cv2.KMEANS_PP_CENTERS)
    return colours


def _nearest(lab: np.ndarray, colours: np.ndarray) -> np.ndarray:
    return np.min(np.linalg.norm(lab[:, None, :] - colours[None], axis=-1), -1)


def frame_like(small: np.ndarray, first: np.ndarray, m: np.ndarray, border: float = BORDER) -> np.ndarray:
    """The pixels of the certain-background band (``m == GC_BGD``, an :func:`_init_mask`) that look like the
    garment, on the sides where the garment seems to run off the frame (bool [h, w]; none when no side or every
    side does). ``first``: the garment mask of a first GrabCut pass. A band pixel looks like the garment when it
    is within :data:`FRAME_DE` of one of the garment's :data:`FRAME_COLOURS` colours (k-means over ``first``)
    and nearer them than the background's in the half of the photo away from that side (k-means over what
    ``first`` left out there, inside the band), so a wall or a floor of about the garment's colour all round it
    is not taken in, while garment the first pass lost beside that side does not count as background."""
    cv2 = _cv2()
    h, w = small.shape[:2]
    frame = m == cv2.GC_BGD
    out = np.zeros((h, w), bool)
    rest = ~first & ~frame
    if first.sum() < FRAME_COLOURS:
        return out
    lab = cv2.cvtColor(np.ascontiguousarray(small, np.float32) * (1 / 255), cv2.COLOR_RGB2Lab)
    colours = _kmeans_lab(lab[first], FRAME_COLOURS)
    b = max(1, int(round(border * min(h, w))))
    # each side of the band, and the half of the photo away from it, where a garment running off that side is not
    sides = [(np.s_[:b, :], np.s_[h // 2:, :]), (np.s_[h - b:, :], np.s_[:h // 2, :]),
             (np.s_[:, :b], np.s_[:, w // 2:]), (np.s_[:, w - b:], np.s_[:, :w // 2])]
    fire = []
    for side, away in sides:
        px = lab[side].reshape(-1, 3)
        d_garment = _nearest(px, colours)
        if (d_garment < FRAME_DE).mean() < FRAME_SHARE:
            continue  # too few of the garment's colours on this side to fire whatever the background is
        far = rest[away]
        d_rest = (_nearest(px, _kmeans_lab(lab[away][far], FRAME_COLOURS)) if far.sum() >= FRAME_REST
                  else np.full(len(px), np.inf))  # the garment fills that half: no background to compare with
        like = ((d_garment < FRAME_DE) & (d_garment < d_rest)).reshape(lab[side].shape[:2])
        if like.mean() >= FRAME_SHARE:
            fire.append((side, like))
    if 0 < len(fire) < 4:
        for side, like in fire:
            out[side] |= like
    return out


def segment(
    small: np.ndarray,
    *,
    border: float = BORDER,
    centre: float = CENTRE,
    iterations: int = ITERATIONS,
    inner: float | None = None,
    frame_rescue: bool = False,
) -> np.ndarray:
    """Boolean garment mask of an RGB uint8 image at working size (see :func:`to_work_size`).
    ``frame_rescue``: a garment running off the frame keeps the part beside that edge (:func:`frame_like`).

    Deterministic: OpenCV's random generator (GrabCut's k-means) is reseeded every call.
    """
    cv2 = _cv2()
    h, w = small.shape[:2]
    bgr = np.ascontiguousarray(small[:, :, ::-1])

    def grabcut(m: np.ndarray) -> np.ndarray:
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)
        cv2.grabCut(bgr, m, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
        return _clean((m == cv2.GC_FGD) | (m == cv2.GC_PR_FGD))

    m = _init_mask(h, w, border, centre, inner)
    first = grabcut(m.copy())
    if not frame_rescue:
        return first
    like = frame_like(small, first, m, border)
    if not like.any():
        return first
    m[like] = cv2.GC_PR_FGD  # a second pass whose background model does not learn the garment's colour
    return grabcut(m)


def upsample_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A boolean mask resized to ``size`` = (H, W) (bilinear, then thresholded at 0.5)."""
    cv2 = _cv2()
    H, W = size
    if mask.shape == (H, W):
        return mask.astype(bool)
    return cv2.resize(mask.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR) >= 0.5


def garment_mask(image, *, work_size: int = WORK_SIZE, full_size: bool = True, **kw) -> np.ndarray:
    """Boolean garment mask of an RGB photo (PIL image or uint8 [H, W, 3]).

    ``full_size=False`` returns it at the working resolution (long side ``work_size``);
    ``kw`` go to :func:`segment`.
    """
    rgb = _as_rgb(image)
    fg = segment(to_work_size(rgb, work_size), **kw)
    return upsample_mask(fg, rgb.shape[:2]) if full_size else fg


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
