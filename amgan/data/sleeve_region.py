"""Where a photo's sleeves are: the region of a region-specific edit ("red sleeves") on photos.

The paper finds the sleeves from the generator's own attention: the mask of a "sleeveless" edit,
thresholded at 0.9 (:meth:`amgan.editor.Editor.sleeve_region`). That works on SynthFashion renders,
where the generator has learnt to remove sleeves, and not on photos: the default generator seldom
removes a sleeve from a photo, its "sleeveless" attention covers the whole garment, and the part above
0.9 is a print or a logo in the middle of the chest. "Make the sleeves red" painted a red blot on the
chest, and "make the torso blue" left that blot and dyed the sleeves.

So on photos the sleeves come from the garment's outline (the GrabCut mask the edit computes anyway)
and the sleeve length the editor reads (or the person gives):

- **the torso's sides** are two lines fitted (least squares, outliers trimmed, slope at most 0.35) to
  the left and right ends of the central run of the mask's rows between 45% and 85% of the garment's
  height (the run that holds the garment's median column there);
- **protruding sleeves** (a T-shirt laid flat, sleeves spread out or hung apart from the body) are the
  garment's pixels outside those lines (less a margin of 2% of the garment's width), above 92% of its
  height, in pieces of at least 0.5% of the garment;
- **long sleeves lying along the body** make no protrusion (the silhouette is one block): when the
  reading is "long" and the protrusions cover under 4% of the garment, the sleeves are the outer
  :data:`OUTER` of each row's central run on either side, from 10% to 92% of the height;
- a "sleeveless" reading has no sleeves (empty mask).

It is an outline rule, not a learned segmenter: sleeves folded over the chest, a garment photographed
at an angle, or a wrong sleeve reading (a person can correct it: ``source={"sleeve": ...}``) give a
wrong region. Measured by eye on the val photos (README, "Region edits of photos").
"""
from __future__ import annotations

import numpy as np

__all__ = ["sleeve_mask", "side_bands", "BAND", "OUTER"]

BAND = (0.45, 0.85)  # rows (fraction of the garment's height from its top) the torso's sides are fitted on
MARGIN = 0.02  # of the garment's width: pixels this close outside a side line are still torso
LOWEST = 0.92  # sleeves end above this fraction of the garment's height
MIN_PIECE = 0.005  # a protrusion smaller than this share of the garment is an edge, not a sleeve
OUTER = 0.22  # long sleeves along the body: this outer share of each row's width, on either side
TOP = 0.10  # ... from this fraction of the height (below the shoulders' top)
FEW = 0.04  # protrusions under this share of the garment count as none (a long reading then uses the bands)
MAX_SLOPE = 0.35  # the torso's sides lean at most this much (px per row)


def _largest(mask: np.ndarray) -> np.ndarray:
    import cv2

    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    return lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _central_runs(mask: np.ndarray, rows: np.ndarray, centre: float) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) ends of each row's run that holds ``centre`` (or comes nearest to it); NaN for an empty row."""
    left, right = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    for i, y in enumerate(rows):
        d = np.diff(np.concatenate([[0], mask[y].astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1
        if len(starts) == 0:
            continue
        inside = np.flatnonzero((starts <= centre) & (ends >= centre))
        j = int(inside[0]) if len(inside) else int(np.argmin(np.minimum(abs(starts - centre), abs(ends - centre))))
        left[i], right[i] = starts[j], ends[j]
    return left, right


def _side_line(rows: np.ndarray, ends: np.ndarray) -> tuple[float, float]:
    """x = a + b * y fitted to a side's run ends: least squares, twice trimmed of points beyond 3 robust
    standard deviations, then the slope clipped to :data:`MAX_SLOPE` and the offset re-taken as a median."""
    ok = np.isfinite(ends)
    y, v = rows[ok].astype(np.float64), ends[ok]
    keep = np.ones(len(v), bool)
    b = 0.0
    for _ in range(2):
        if keep.sum() < 3 or np.ptp(y[keep]) == 0:
            break
        b, a = np.polyfit(y[keep], v[keep], 1)
        r = v - (a + b * y)
        med = np.median(r[keep])
        mad = np.median(np.abs(r[keep] - med)) + 1e-6
        keep = np.abs(r - med) <= 3 * 1.4826 * mad + 1
    if not keep.any():
        keep[:] = True
    b = float(np.clip(b, -MAX_SLOPE, MAX_SLOPE))
    return float(np.median(v[keep] - b * y[keep])), b


def garment_frame(m: np.ndarray) -> tuple[int, int, float]:
    """(top row, height, centre column) of a non-empty garment mask; the centre is the median column of its
    body (the rows between 40% and 90% of its height), where a sleeve does not pull it aside."""
    ys, xs = np.nonzero(m)
    y0, h = int(ys.min()), int(ys.max() - ys.min() + 1)
    body = (ys >= y0 + 0.4 * h) & (ys <= y0 + 0.9 * h)
    return y0, h, float(np.median(xs[body] if body.any() else xs))


def sleeve_mask(garment: np.ndarray, sleeve: str) -> tuple[np.ndarray, str]:
    """The sleeves of a garment mask (bool [H, W]) whose sleeve length is ``sleeve`` ("sleeveless",
    "short", "long"). -> (bool [H, W] inside the garment, how: "none" | "protrusion" | "bands")."""
    import cv2

    g = np.asarray(garment, bool)
    if g.ndim != 2:
        raise ValueError(f"a garment mask is 2-D, got shape {g.shape}")
    out = np.zeros(g.shape, bool)
    if sleeve == "sleeveless" or g.sum() < 50:
        return out, "none"
    m = _largest(g)
    ys, xs = np.nonzero(m)
    y0, h, centre = garment_frame(m)
    rows = np.arange(y0 + int(BAND[0] * h), y0 + int(BAND[1] * h) + 1)
    left, right = _central_runs(m, rows, centre)
    if np.isfinite(left).sum() < 5:
        return out, "none"
    (al, bl), (ar, br) = _side_line(rows, left), _side_line(rows, right)
    yy, xx = np.mgrid[0:m.shape[0], 0:m.shape[1]]
    margin = MARGIN * (xs.max() - xs.min() + 1)
    outside = m & ((xx < al + bl * yy - margin) | (xx > ar + br * yy + margin)) & (yy <= y0 + LOWEST * h)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(outside.astype(np.uint8), connectivity=8)
    area = m.sum()
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_AREA] >= MIN_PIECE * area:
            out |= lab == k
    if sleeve != "long" or out.sum() >= FEW * area:
        return out, "protrusion" if out.any() else "none"
    left, right = side_bands(m)
    return left | right, "bands"


def side_bands(garment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where long sleeves lying along the body would be: the outer :data:`OUTER` of each row's central run on
    the left and on the right, from :data:`TOP` to :data:`LOWEST` of the garment's height (bool [H, W] each,
    inside the garment's largest piece)."""
    m = _largest(np.asarray(garment, bool))
    left, right = np.zeros(m.shape, bool), np.zeros(m.shape, bool)
    if not m.any():
        return left, right
    y0, h, centre = garment_frame(m)
    rows = np.arange(y0 + int(TOP * h), y0 + int(LOWEST * h) + 1)
    for y, lo, hi in zip(rows, *_central_runs(m, rows, centre)):
        if np.isfinite(lo):
            k = OUTER * (hi - lo + 1)
            left[y, int(lo): int(np.ceil(lo + k))] = True
            right[y, int(hi - k) + 1: int(hi) + 1] = True
    return m & left, m & right
