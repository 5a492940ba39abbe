"""Pattern edits of photos drawn on the garment ("this, but striped"), at the photo's own resolution.

The generator draws patterns on SynthFashion renders but not on a photo: asked for stripes, dots or flowers it
tints the garment purple and green and draws none (the ground-truth probe finds the requested pattern on 6% of
the shop renders' edits through the photo path; README, "Pattern edits of photos"). A pattern is a print on the
garment's fabric, so it is drawn there instead, like the sleeves of :mod:`amgan.reshape`:

- **where**: the garment's edge-aware matte (:func:`amgan.composite.matte_coefficients` of the editor's GrabCut
  mask, the one colour edits use), so the pattern ends at the garment's edge and the floor keeps its pixels bit for
  bit; the photo's own prints and logos stay on top (a pixel that is not a shade of the garment's ground colour is
  not painted: :func:`ground_like`);
- **what**: an ink colour that stands out from the garment's ground (:func:`ink_colour`: navy on a light garment,
  off-white on a dark one; flowers get a second colour for their centres), laid out in the garment's upright box:
  horizontal stripes (:data:`PERIOD` of the garment's height, :data:`STRIPE_DUTY` inked), a gingham check (the
  stripes both ways, half-inked where one crosses, fully where both do), dots on a staggered grid, or five-petal
  flowers on the same grid, larger (:data:`FLORAL_PERIOD`). Edges are anti-aliased to one photo pixel (the layout is computed per output
  pixel, so a 12-megapixel photo gets 12-megapixel stripes);
- **how it looks like fabric**: the ink takes the photo's shading, ``ink * Y / Y_ground`` (Y: BT.601 luma,
  Y_ground: the median of the garment's ground), so folds, creases and the weave's texture run through the
  pattern as they run through the fabric.

What it does not do: follow the garment's folds geometrically (the stripes are straight in the photo's plane), or
read the wanted ink colour from the request (a "red striped" request is a red garment by the generator, then the
stripes drawn on it in the ink that stands out from red). "solid" (taking a pattern away) stays the generator's.
"""
from __future__ import annotations

import numpy as np

__all__ = ["DRAWN_PATTERNS", "PATTERN_METHODS", "PatternError", "ink_colour", "ground_like", "layout", "draw_pattern"]

DRAWN_PATTERNS = ("striped", "checked", "dotted", "floral")  # patterns drawn on a photo's garment
PATTERN_METHODS = ("drawn", "generator")  # Editor.edit's ways to make a pattern edit of a photo
PERIOD = 1 / 12  # the pattern repeats this share of the garment's height (twelve stripes from collar to hem) ...
FLORAL_PERIOD = 1 / 5.5  # ... flowers are larger (chosen on the val photos by the independent judge's reading of
# "floral": 1/12 0.28, 1/9 0.52, 1/7 0.70, 1/5.5 0.82 of 60 drawn edits)
STRIPE_DUTY = 0.4  # share of a period inked, stripes and checks
DOT_RADIUS = 0.2  # dots: radius, share of the period
FLOWER_RADIUS = 0.36  # flowers: petals' reach, share of the period ...
FLOWER_CENTRE = 0.1  # ... and the centre's radius
PRINT_CHROMA = 0.14  # a garment pixel whose chromaticity (r, g, b shares, nudged to grey in the dark) is farther
# than this (L1) from the ground's is a print, and so is one lighter or darker than PRINT_SHADE allows of a shade of
# the ground: the pattern goes under it (a shadow or a fold of the fabric is a shade, not a print)
PRINT_SHADE = (0.15, 1.8)
LIGHT = 0.55  # a ground lighter than this (luma in [0,1]) gets dark ink, else light ink
DARK_INK = (32, 42, 88)  # navy
LIGHT_INK = (238, 235, 226)  # off-white
ACCENT = (232, 188, 52)  # flower centres
SHADE_RANGE = (0.25, 1.6)  # the ink's shading factor Y / Y_ground is kept in this range
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # BT.601 luma (Y) of RGB


class PatternError(ValueError):
    """What a drawn pattern cannot do (no garment on the photo); the editor then uses the generator."""


def ink_colour(ground: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ink, accent) RGB float32 in [0, 255] for a garment whose ground colour is ``ground`` (RGB 0-255): dark ink
    on a light garment, light ink on a dark one; the accent (flower centres) is yellow unless the ground is."""
    g = np.asarray(ground, np.float32)
    luma = float(g @ LUMA) / 255
    ink = np.array(DARK_INK if luma > LIGHT else LIGHT_INK, np.float32)
    accent = np.array(ACCENT, np.float32)
    if np.sqrt(np.mean(((accent - g) / 255) ** 2)) < 0.2:  # a yellow garment: its flowers' centres in the ink
        accent = ink.copy()
    return ink, accent


def ground_like(x: np.ndarray, ground: np.ndarray, y_ground: float) -> np.ndarray:
    """How much each pixel of ``x`` (float RGB 0-255, [..., 3]) is a shade of the ground colour (0-1): its
    chromaticity within :data:`PRINT_CHROMA` of the ground's and its luma within :data:`PRINT_SHADE` of the ground's
    ``y_ground``, each with a soft edge."""
    chroma = (x + 20) / (x.sum(-1, keepdims=True) + 60)
    c_ground = (np.asarray(ground, np.float32) + 20) / (float(np.sum(ground)) + 60)
    d = np.abs(chroma - c_ground).sum(-1)
    ratio = (x @ LUMA) / y_ground
    lo, hi = PRINT_SHADE
    return (np.clip((PRINT_CHROMA - d) / (0.25 * PRINT_CHROMA) + 0.5, 0, 1)
            * np.clip((ratio - lo) / (0.1 * lo) + 0.5, 0, 1) * np.clip((hi - ratio) / (0.1 * hi) + 0.5, 0, 1))


def _ramp(d: np.ndarray) -> np.ndarray:
    """Signed distance (photo pixels, negative inside) -> coverage in [0, 1], anti-aliased over one pixel."""
    return np.clip(0.5 - d, 0.0, 1.0)


def layout(pattern: str, yy: np.ndarray, xx: np.ndarray, box: tuple[float, float, float, float]
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """The pattern's coverage at photo pixels (``yy``, ``xx``: float32 coordinates of pixel centres, any shape) for a
    garment in ``box`` (top, bottom, left, right, photo pixels). -> (ink coverage in [0, 1], accent coverage or None)."""
    if pattern not in DRAWN_PATTERNS:
        raise ValueError(f"pattern {pattern!r} is not drawn; drawn: {', '.join(DRAWN_PATTERNS)}")
    top, bottom, left, right = box
    p = max(2.0, (FLORAL_PERIOD if pattern == "floral" else PERIOD) * (bottom - top))  # the period, photo pixels
    cx = 0.5 * (left + right)
    v, u = (yy - top) / p, (xx - cx) / p  # in periods, from the garment's top centre
    if pattern in ("striped", "checked"):
        half = 0.5 * STRIPE_DUTY * p

        def band(t):  # distance from the nearest stripe's centre line, minus its half width
            return np.abs((t - np.floor(t) - 0.5) * p) - half

        rows = _ramp(band(v))
        if pattern == "striped":
            return rows, None
        return 0.5 * (rows + _ramp(band(u))), None  # gingham: half where one stripe runs, full where two cross
    # dots and flowers: a staggered grid (every other row shifted by half a period)
    row = np.floor(v)
    du = u + 0.5 * (np.mod(row, 2) == 1) - 0.5
    dx, dy = (du - np.round(du)) * p, (v - row - 0.5) * p  # offset from the nearest cell centre, photo pixels
    r = np.hypot(dx, dy)
    if pattern == "dotted":
        return _ramp(r - DOT_RADIUS * p), None
    theta = np.arctan2(dy, dx)
    reach = FLOWER_RADIUS * p * (0.45 + 0.55 * np.abs(np.cos(2.5 * theta)))  # five round petals
    centre = _ramp(r - FLOWER_CENTRE * p)
    return _ramp(r - reach) * (1 - centre), centre


def draw_pattern(photo: np.ndarray, work: np.ndarray, garment: np.ndarray, pattern: str,
                 canvas: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``pattern`` (one of :data:`DRAWN_PATTERNS`) drawn on the garment of ``photo`` (uint8 [H, W, 3]).

    ``work``: the photo on the editor's working grid (uint8 [h, w, 3], the same aspect); ``garment``: the garment
    mask (bool, any grid with the photo's aspect: the editor's GrabCut at 160 px), whose matte is
    :func:`amgan.composite.matte_coefficients` on ``work``; ``canvas``: what to draw on, when not
    the photo itself (the photo after a colour edit, the same size: the garment's place and edges are the photo's,
    its ground colour and shading the canvas's). -> (edit uint8 [H, W, 3], changed uint8 [H, W]: where the pattern
    was drawn, 0-255). Where ``changed`` is 0 the canvas's pixels are returned bit for bit. Raises
    :class:`PatternError` when the mask holds no garment."""
    import cv2

    from amgan.composite import PARALLEL_PIXELS, STRIP_PIXELS, _warp, matte_coefficients, pool_size, worker_pool

    photo = np.ascontiguousarray(photo)
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 photo [H, W, 3], got {photo.dtype} {photo.shape}")
    g = np.asarray(garment, bool)
    if g.ndim != 2 or not g.any():
        raise PatternError("no garment was found on the photo to draw a pattern on")
    H, W = photo.shape[:2]
    h, w = work.shape[:2]
    canvas = photo if canvas is None else np.ascontiguousarray(canvas)
    if canvas.shape != photo.shape or canvas.dtype != np.uint8:
        raise ValueError(f"the canvas must be a uint8 image the photo's size {photo.shape}, got {canvas.dtype} "
                         f"{canvas.shape}")
    paint = work if canvas is photo else cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    a, b = matte_coefficients(work, g)
    coef = np.concatenate([a, b], -1).astype(np.float32)  # [h, w, 4]: the matte is clip(rgb/255 . a + b)
    wm = np.clip(np.einsum("hwc,hwc->hw", work.astype(np.float32) / 255, coef[..., :3]) + coef[..., 3], 0, 1)
    inside = wm > 0.5
    if inside.sum() < 16:
        raise PatternError("no garment was found on the photo to draw a pattern on")
    px = paint[inside].astype(np.float32)
    ground = np.median(px, 0)
    member = ground_like(px, ground, max(float(ground @ LUMA), 8.0)) > 0.5
    ground = np.median(px[member], 0) if member.sum() >= 16 else ground  # the ground fabric, prints left out
    y_ground = max(float(ground @ LUMA), 8.0)
    ink, accent = ink_colour(ground)
    ys, xs = np.nonzero(inside)  # the garment's upright box at the photo's resolution
    box = (ys.min() * H / h, (ys.max() + 1) * H / h, xs.min() * W / w, (xs.max() + 1) * W / w)
    r0, r1 = max(0, int(box[0]) - 1), min(H, int(np.ceil(box[1])) + 1)
    c0, c1 = max(0, int(box[2]) - 1), min(W, int(np.ceil(box[3])) + 1)
    out, changed = canvas.copy(), np.zeros((H, W), np.uint8)
    step = max(1, STRIP_PIXELS // max(1, c1 - c0))
    if (r1 - r0) * (c1 - c0) >= PARALLEL_PIXELS:  # every core gets a strip (numpy and OpenCV release the GIL)
        step = min(step, -(-(r1 - r0) // pool_size()))
    xx_row = np.arange(c0, c1, dtype=np.float32) + 0.5

    def strip(s0: int) -> None:
        s1 = min(r1, s0 + step)
        cf = _warp(coef, H, W, s0, s1, c0, c1)
        m = np.clip(np.einsum("hwc,hwc->hw", photo[s0:s1, c0:c1].astype(np.float32) / 255, cf[..., :3])
                    + cf[..., 3], 0, 1)
        x = canvas[s0:s1, c0:c1].astype(np.float32)
        m[m < 0.5 / 255] = 0
        if not m.any():
            return
        m *= ground_like(x, ground, y_ground)  # prints stay on top
        yy, xx = np.meshgrid(np.arange(s0, s1, dtype=np.float32) + 0.5, xx_row, indexing="ij")
        cover, centre = layout(pattern, yy, xx, box)
        shade = np.clip((x @ LUMA) / y_ground, *SHADE_RANGE)[..., None]
        target = ink * shade
        alpha = cover * m
        d = (target - x) * alpha[..., None]
        if centre is not None:
            d += (accent * shade - x - d) * (centre * m)[..., None]
            alpha = np.maximum(alpha, centre * m)
        out[s0:s1, c0:c1] = np.clip(x + d + 0.5, 0, 255).astype(np.uint8)
        changed[s0:s1, c0:c1] = (alpha * 255 + 0.5).astype(np.uint8)

    starts = list(range(r0, r1, step))
    if len(starts) > 1:  # disjoint rows of out and changed: the strips run at once
        list(worker_pool().map(strip, starts))
    else:
        for s0 in starts:
            strip(s0)
    return out, changed
