"""Probes of an edit: plain numpy functions that say whether an edit did what was asked.

Two kinds (``amgan evaluate-edits`` runs both; classifiers are only the second opinion):

**Against the truth (SynthFashion).** Every ground-truth edit comes with the TRUE edited image
and the region maps of source and truth (0 background, > 0 garment parts).

- :func:`colour_hit`: the mean CIELAB colour of the edit over the truth's garment region is
  closer to the truth's mean there than to the source's mean there (Euclidean in Lab, or
  CIEDE2000).
- :func:`shape_hit`: on the pixels the true edit changes (:func:`changed_pixels`, mean
  channel difference above :data:`CHANGE_THRESHOLD`), the edit is closer (mean L1) to the
  truth than to the source. Made for sleeve and neckline edits; it applies to any edit.
- :func:`l1`, :func:`ssim` (scikit-image) to the truth; :func:`outside_change`: the mean
  |edit - source| over pixels that are background in both region maps.
- :func:`kept_change`: the mean |edit - source| over the garment the true edit keeps (garment in
  both region maps, not changed by the truth); :func:`kept_shape_hit`: a shape hit whose kept
  garment changed by at most :data:`KEPT_MAX`, so an edit that wipes out the garment with its
  sleeves (its pixels there are then closer to the truth's floor than the source's) is not a hit.

**Training-free, on photos** (no truth; the garment mask comes from the annotator).

- :func:`colour_name_hit`: the project's annotator (:func:`amgan.data.annotate.annotate_photo`,
  CIELAB/CIEDE2000 palette) reads the edited garment as the requested colour name.
- :func:`anchor_hit`: the edited garment's mean colour (exposure normalised as the annotator
  does) is closer (CIEDE2000) to the target name's nearest anchor than to the source name's.
- :func:`detail_kept`: Pearson correlation of the luminance high-pass (L* minus a Gaussian
  blur of L*, sigma :data:`DETAIL_SIGMA` px at the photo's own resolution) of photo and edit
  over the garment mask. References (:func:`round_trip`, :func:`hue_rotate`): a 64-px round
  trip of a photo scores about 0.24, 128 px 0.53, 256 px 0.86, an exact recolour 0.98.
  :func:`detail_kept_interior`: the same on the garment's interior (:func:`interior`, the mask
  less its outer 3 sigma), where the high-pass sees only the garment: near the outline it also
  sees the floor, and the garment-against-floor contrast is what a colour edit changes (a white
  shirt on a wooden floor turned blue flips that edge's sign; the fabric's folds stay).
- :func:`background_change`: mean |edit - photo| over the outer :data:`BORDER_BAND` band of
  the photo, and over the pixels outside the garment mask dilated by :data:`DILATE` of the
  photo's long side.

Conventions: images are [H, W, 3], uint8 or float in [0, 1] (both accepted, compared in
[0, 1]); masks and region maps are [H, W] (bool, or ints where > 0 is garment). A hit is
strict: a tie (equal distances, to :data:`TIE_TOL`) is a miss. A probe that cannot be
measured (an empty region, no pixel changed by the true edit) gives ``hit=None``; callers
leave it out of rates and count it. Averages over no pixels are ``nan``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "CHANGE_THRESHOLD", "DETAIL_SIGMA", "BORDER_BAND", "DILATE", "TIE_TOL", "Hit",
    "as_float", "to_lab", "region_mean_lab", "colour_distance", "colour_hit", "changed_pixels", "shape_hit",
    "l1", "ssim", "outside_change", "kept_change", "kept_shape_hit", "KEPT_MAX", "colour_reading", "colour_name_hit", "garment_lab", "anchor_distances", "anchor_hit",
    "lightness", "luminance_highpass", "detail_kept", "interior", "detail_kept_interior", "hue_rotate", "round_trip", "border_band", "dilate_mask",
    "background_change", "colour_change",
]

CHANGE_THRESHOLD = 0.05  # mean |truth - source| over channels (in [0, 1]) above which a pixel is changed
DETAIL_SIGMA = 2.0  # px, at the photo's own resolution
BORDER_BAND = 0.05  # the outer band of a photo, fraction of its short side
DILATE = 0.03  # garment mask dilation for "outside the garment", fraction of the long side
KEPT_MAX = 0.05  # a shape hit keeps the garment the truth keeps when its mean |edit - source| there is at most this
TIE_TOL = 1e-9  # distances this close (relative and absolute) are a tie: a miss


class Hit(NamedTuple):
    """``hit``: True / False, None when not measurable; the two distances it compared."""

    hit: bool | None
    to_target: float  # distance of the edit to the truth (or the target colour)
    to_source: float  # distance of the edit to the source (or the source colour)


def _decide(d_target: float, d_source: float) -> bool | None:
    if not (np.isfinite(d_target) and np.isfinite(d_source)):
        return None
    if np.isclose(d_target, d_source, rtol=TIE_TOL, atol=TIE_TOL):
        return False
    return bool(d_target < d_source)


def as_float(img, name: str = "image") -> np.ndarray:
    """[H, W, 3] uint8 or float in [0, 1] -> float64 in [0, 1] (a PIL image works too)."""
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"{name} must be [H, W, 3]; got {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    a = a.astype(np.float64)
    if a.size and (a.min() < -1e-6 or a.max() > 1 + 1e-6):
        raise ValueError(f"{name} must be uint8 or float in [0, 1]; got values in [{a.min():.3g}, {a.max():.3g}]")
    return np.clip(a, 0.0, 1.0)


def _as_uint8(img) -> np.ndarray:
    a = np.asarray(img)
    return a if a.dtype == np.uint8 else (as_float(a) * 255 + 0.5).astype(np.uint8)


def _mask(m, shape, name: str = "mask") -> np.ndarray:
    m = np.asarray(m)
    if m.shape != tuple(shape):
        raise ValueError(f"{name} must be {tuple(shape)}; got {m.shape}")
    return m > 0 if m.dtype != bool else m


def _same(*imgs, names=("edit", "source", "truth")) -> list[np.ndarray]:
    arrs = [as_float(x, n) for x, n in zip(imgs, names)]
    if any(a.shape != arrs[0].shape for a in arrs):
        raise ValueError(f"{', '.join(names[:len(arrs)])} must share a shape; got {[a.shape for a in arrs]}")
    return arrs


# ---------------------------------------------------------------------------- colour
def to_lab(rgb) -> np.ndarray:
    """sRGB ([..., 3], uint8 or [0, 1]) -> CIELAB (D65), scikit-image's conversion."""
    from skimage.color import rgb2lab

    a = np.asarray(rgb)
    a = a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else np.clip(a.astype(np.float64), 0, 1)
    return rgb2lab(a.reshape(-1, 1, 3)).reshape(a.shape)


def region_mean_lab(rgb, mask) -> np.ndarray:
    """Mean CIELAB colour [3] of the pixels in ``mask``; nan [3] when the mask is empty."""
    a = as_float(rgb)
    m = _mask(mask, a.shape[:2])
    if not m.any():
        return np.full(3, np.nan)
    return to_lab(a[m]).mean(axis=0)


def colour_distance(lab_a, lab_b, metric: str = "euclidean") -> float:
    """Distance of two CIELAB colours: ``euclidean`` (CIE76) or ``ciede2000``."""
    a, b = np.asarray(lab_a, np.float64).reshape(3), np.asarray(lab_b, np.float64).reshape(3)
    if metric == "euclidean":
        return float(np.linalg.norm(a - b))
    if metric == "ciede2000":
        from skimage.color import deltaE_ciede2000

        return float(deltaE_ciede2000(a[None], b[None])[0])
    raise ValueError(f"metric must be 'euclidean' or 'ciede2000'; got {metric!r}")


def colour_hit(edit, source, truth, truth_regions, metric: str = "euclidean") -> Hit:
    """Colour edit against its truth: on the TRUE target garment region (``truth_regions`` > 0),
    is the edit's mean Lab colour closer to the truth's than to the source's? None: empty region."""
    e, s, t = _same(edit, source, truth)
    region = _mask(truth_regions, e.shape[:2], "truth_regions")
    if not region.any():
        return Hit(None, float("nan"), float("nan"))
    me, ms, mt = (region_mean_lab(x, region) for x in (e, s, t))
    d_t, d_s = colour_distance(me, mt, metric), colour_distance(me, ms, metric)
    return Hit(_decide(d_t, d_s), d_t, d_s)


# ---------------------------------------------------------------------------- shape and fidelity
def changed_pixels(source, truth, threshold: float = CHANGE_THRESHOLD) -> np.ndarray:
    """Bool [H, W]: pixels the true edit changes (mean channel |truth - source| > ``threshold``)."""
    s, t = _same(source, truth, names=("source", "truth"))
    return np.abs(t - s).mean(axis=2) > threshold


def shape_hit(edit, source, truth, threshold: float = CHANGE_THRESHOLD) -> Hit:
    """Shape edit against its truth: on the pixels the true edit changes, is the edit closer
    (mean L1 over those pixels and the channels) to the truth than to the source?
    None: the true edit changes no pixel."""
    e, s, t = _same(edit, source, truth)
    ch = changed_pixels(s, t, threshold)
    if not ch.any():
        return Hit(None, float("nan"), float("nan"))
    d_t = float(np.abs(e[ch] - t[ch]).mean())
    d_s = float(np.abs(e[ch] - s[ch]).mean())
    return Hit(_decide(d_t, d_s), d_t, d_s)


def l1(a, b) -> float:
    """Mean absolute difference of two images in [0, 1] (all pixels, all channels)."""
    x, y = _same(a, b, names=("a", "b"))
    return float(np.abs(x - y).mean())


def ssim(a, b) -> float:
    """SSIM (scikit-image ``structural_similarity``, channel_axis=-1, data_range=1); sides >= 7."""
    from skimage.metrics import structural_similarity

    x, y = _same(a, b, names=("a", "b"))
    if min(x.shape[:2]) < 7:
        raise ValueError(f"ssim needs images at least 7x7; got {x.shape[:2]}")
    return float(structural_similarity(x, y, channel_axis=-1, data_range=1.0))


def outside_change(edit, source, source_regions, truth_regions) -> float:
    """Mean |edit - source| (over channels) on pixels that are background (0) in both the source's
    and the truth's region maps; nan when there are none."""
    e, s = _same(edit, source, names=("edit", "source"))
    bg = ~_mask(source_regions, e.shape[:2], "source_regions") & ~_mask(truth_regions, e.shape[:2], "truth_regions")
    return float(np.abs(e - s).mean(axis=2)[bg].mean()) if bg.any() else float("nan")


def kept_change(edit, source, truth, source_regions, truth_regions, threshold: float = CHANGE_THRESHOLD) -> float:
    """Mean |edit - source| (over channels) on the garment the true edit keeps: pixels that are garment (> 0)
    in both region maps and that the truth does not change (:func:`changed_pixels`); nan when there are none
    (a colour edit changes the whole garment)."""
    e, s, t = _same(edit, source, truth)
    kept = (_mask(source_regions, e.shape[:2], "source_regions") & _mask(truth_regions, e.shape[:2], "truth_regions")
            & ~changed_pixels(s, t, threshold))
    return float(np.abs(e - s).mean(axis=2)[kept].mean()) if kept.any() else float("nan")


def kept_shape_hit(edit, source, truth, source_regions, truth_regions, threshold: float = CHANGE_THRESHOLD,
                   kept_max: float = KEPT_MAX, *, hit: Hit | None = None, kept: float | None = None) -> bool | None:
    """:func:`shape_hit` that also keeps the rest of the garment: a hit only when the garment the truth keeps
    changed by at most ``kept_max`` (:func:`kept_change`; no such garment: the shape hit alone). None where the
    shape hit cannot be measured. ``hit``, ``kept``: the two already measured (else measured here)."""
    hit = (hit if hit is not None else shape_hit(edit, source, truth, threshold)).hit
    if hit is None:
        return None
    if kept is None:
        kept = kept_change(edit, source, truth, source_regions, truth_regions, threshold)
    return bool(hit and (np.isnan(kept) or kept <= kept_max))


# ---------------------------------------------------------------------------- photos: colour
def colour_reading(image, mask):
    """The annotator's colour reading of the garment (:func:`amgan.data.annotate.annotate_photo` with
    the given mask): ``color`` when confident (the annotator's threshold), ``best`` the majority name
    whatever the confidence."""
    from amgan.data.annotate import annotate_photo

    e = _as_uint8(image)
    return annotate_photo(e, _mask(mask, e.shape[:2]).astype(np.uint8)).colour


def colour_name_hit(edit, mask, target: str):
    """(hit, reading): the annotator's :func:`colour_reading` of the edited garment and whether its
    (confident) name is ``target``."""
    reading = colour_reading(edit, mask)
    return reading.color == target, reading


def garment_lab(rgb, mask) -> np.ndarray:
    """Mean CIELAB colour [3] of the garment, exposure normalised as the annotator does
    (:func:`amgan.data.annotate.exposure_gain` of the whole photo); nan [3] for an empty mask."""
    from amgan.data.annotate import expose, exposure_gain

    px = _as_uint8(rgb)
    m = _mask(mask, px.shape[:2])
    if not m.any():
        return np.full(3, np.nan)
    return to_lab(expose(px[m], exposure_gain(px))).mean(axis=0)


def anchor_distances(lab) -> dict[str, float]:
    """CIEDE2000 from a Lab colour to each colour name's nearest anchor of the annotator's
    :data:`amgan.data.annotate.PALETTE`."""
    from skimage.color import deltaE_ciede2000

    from amgan.data.annotate import PALETTE

    c = np.asarray(lab, np.float64).reshape(1, 3)
    out = {}
    for name, shades in PALETTE.items():
        anchors = to_lab(np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for _, h in shades], np.uint8))
        out[name] = float(deltaE_ciede2000(np.repeat(c, len(anchors), 0), anchors).min())
    return out


def anchor_hit(edit, mask, target: str, source: str) -> Hit:
    """Is the edited garment's colour (:func:`garment_lab`) closer to ``target``'s nearest anchor
    than to ``source``'s (CIEDE2000)? None: empty mask."""
    if target == source:
        raise ValueError(f"target and source are both {target!r}")
    lab = garment_lab(edit, mask)
    if not np.isfinite(lab).all():
        return Hit(None, float("nan"), float("nan"))
    d = anchor_distances(lab)
    for n in (target, source):
        if n not in d:
            raise ValueError(f"unknown colour name {n!r}; known: {', '.join(d)}")
    return Hit(_decide(d[target], d[source]), d[target], d[source])


# ---------------------------------------------------------------------------- photos: detail
def lightness(rgb) -> np.ndarray:
    """[H, W]: CIE L* of sRGB pixels (D65), the L of :func:`to_lab` computed from luminance alone."""
    a = as_float(rgb)
    lin = np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)
    Y = lin @ np.array([0.212671, 0.715160, 0.072169])
    return np.where(Y > 0.008856, 116.0 * np.cbrt(Y) - 16.0, 903.3 * Y)


def luminance_highpass(rgb, sigma: float = DETAIL_SIGMA) -> np.ndarray:
    """[H, W]: L* minus its Gaussian blur (``sigma`` px, reflected at the border)."""
    from scipy.ndimage import gaussian_filter

    L = lightness(rgb)
    return L - gaussian_filter(L, sigma=sigma, mode="reflect")


def detail_kept(photo, edit, mask, sigma: float = DETAIL_SIGMA) -> float:
    """Pearson correlation of :func:`luminance_highpass` of photo and edit over the mask: 1 when
    the edit keeps the photo's fine detail (folds, weave, seams), about 0 when it replaced it.
    nan when the mask has under 2 pixels or either high-pass is constant there."""
    p, e = _same(photo, edit, names=("photo", "edit"))
    m = _mask(mask, p.shape[:2])
    if m.sum() < 2:
        return float("nan")
    a, b = luminance_highpass(p, sigma)[m], luminance_highpass(e, sigma)[m]
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def interior(mask, sigma: float = DETAIL_SIGMA) -> np.ndarray:
    """Bool [H, W]: the mask less its outer ``ceil(3 sigma)`` px (an elliptical erosion): the pixels
    whose ``sigma`` high-pass reads the garment only, not the floor beyond its outline."""
    import cv2

    m = np.asarray(mask) > 0
    r = int(np.ceil(3 * sigma))
    if r <= 0:
        return m
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.erode(m.astype(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0


def colour_change(photo, edit, mask) -> float:
    """Mean CIE76 colour difference (CIELAB, per pixel) between photo and edit over ``mask``: how far
    an edit moved the garment's colours. An edit that should not recolour (a sleeve or neckline
    request) scores near 0 on the garment's :func:`interior`; patchy tints of the fabric or of its
    print show here even when the mean colour stays. nan for an empty mask."""
    e, p = _same(edit, photo, names=("edit", "photo"))
    m = _mask(mask, e.shape[:2])
    if not m.any():
        return float("nan")
    return float(np.linalg.norm(to_lab(e[m]) - to_lab(p[m]), axis=-1).mean())


def detail_kept_interior(photo, edit, mask, sigma: float = DETAIL_SIGMA) -> float:
    """:func:`detail_kept` on the garment's :func:`interior`: the fabric's own detail (folds, weave,
    seams, prints), without the outline, whose contrast against the floor a colour edit rightly
    changes. nan as :func:`detail_kept` (a garment thinner than 6 sigma has no interior)."""
    m = np.asarray(mask)
    return detail_kept(photo, edit, interior(m, sigma) if m.ndim == 2 else m, sigma)


def hue_rotate(rgb, mask, shift: float = 0.5) -> np.ndarray:
    """An exact recolour (the reference for :func:`detail_kept`): the garment pixels' HSV hue
    turned by ``shift`` of a full turn, saturation and value kept. Float [H, W, 3] in [0, 1]."""
    from skimage.color import hsv2rgb, rgb2hsv

    a = as_float(rgb)
    m = _mask(mask, a.shape[:2])
    hsv = rgb2hsv(a)
    hsv[..., 0] = np.where(m, (hsv[..., 0] + shift) % 1.0, hsv[..., 0])
    return np.clip(hsv2rgb(hsv), 0, 1)


def round_trip(photo, size: int) -> np.ndarray:
    """The photo through the model's image path at ``size`` px and back to its own grid
    (:class:`amgan.image.ImageProcessor`: padded square, resized; ``restore``: bilinear): what a
    model that changed nothing at that resolution would give. Float [H, W, 3] in [0, 1]."""
    import torch

    from amgan.image import ImageProcessor

    proc = ImageProcessor(size=int(size))
    prep = proc.preprocess(_as_uint8(photo))
    with torch.no_grad():
        back = proc.restore(prep.tensor, prep.geometry)[0]
    return back.permute(1, 2, 0).clamp(0, 1).double().numpy()


# ---------------------------------------------------------------------------- photos: background
def border_band(shape, fraction: float = BORDER_BAND) -> np.ndarray:
    """Bool [H, W]: the outer band, ``fraction`` of the short side wide (at least 1 px)."""
    h, w = int(shape[0]), int(shape[1])
    k = max(1, int(round(fraction * min(h, w))))
    band = np.ones((h, w), bool)
    band[k:h - k, k:w - k] = False
    return band


def dilate_mask(mask, fraction: float = DILATE) -> np.ndarray:
    """The mask grown by ``fraction`` of its long side (a square structuring element)."""
    import cv2

    m = np.asarray(mask) > 0
    r = int(round(fraction * max(m.shape)))
    if r <= 0:
        return m
    return cv2.dilate(m.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0


def background_change(photo, edit, mask, border: float = BORDER_BAND, dilate: float = DILATE) -> dict:
    """{"border": mean |edit - photo| over the outer band, "outside": over the pixels outside the
    dilated garment mask} (means over pixels and channels, images in [0, 1]; nan if empty)."""
    p, e = _same(photo, edit, names=("photo", "edit"))
    m = _mask(mask, p.shape[:2])
    diff = np.abs(e - p).mean(axis=2)
    band = border_band(p.shape, border)
    out = ~dilate_mask(m, dilate)
    return {"border": float(diff[band].mean()) if band.any() else float("nan"),
            "outside": float(diff[out].mean()) if out.any() else float("nan")}
