"""Sleeve-length edits of photos by the garment's outline: sleeves cut back or taken off, or drawn longer.

The generator reshapes SynthFashion renders but seldom a photo: on the test photos the independent
reader saw the requested sleeve length on 7% of the default editor's sleeve edits (README, "Editing").
A photo's garment mask (GrabCut, :mod:`amgan.data.garment_mask`) and its sleeves from the outline
(:func:`amgan.data.sleeve_region.sleeve_mask`) are enough to make the change geometrically, at the
photo's own resolution. GrabCut takes the photo's outer 3% as background, so where the mask comes up to that
frame the garment is followed into it by colour before sleeves are cut back or taken off (:func:`_into_frame`):
a sleeve that runs off the photo goes up to the photo's edge.

- **shorter** ("long" -> "short"): each protruding sleeve keeps the part nearest the torso, up to
  :data:`SHORT_SHARE` of its own length measured *along* the sleeve (geodesic distance inside the
  sleeve from where it meets the torso, :class:`skimage.graph.MCP_Geometric`), so the cut runs across
  the sleeve whatever its angle; the rest becomes floor;
- **off** (any -> "sleeveless"): every protruding sleeve becomes floor; for both, a piece of the garment the
  cut leaves apart from the body (a cuff hanging below the hem, which the sleeve finder counts as torso) goes
  with its sleeve;
- long sleeves that **lie along the body** (no protrusion: :func:`sleeve_mask` reads them as "bands", the
  outer :data:`~amgan.data.sleeve_region.OUTER` of each row's width on either side): the outline cannot see
  where a sleeve meets the torso, so each band's inner edge, a straight line fitted to it, stands for that
  seam (:func:`_band_cut`): shorter keeps the band's top :data:`BAND_SHORT` of its rows, off keeps none
  (and cuts the armhole in), and below that everything beyond the line goes, down to the hem, so no cuff
  lying beside the waistband is left standing out (on a dress, only down to :data:`BAND_DRESS` of its
  height, so the skirt keeps its flare). A long sleeve that stands out on one side only has its
  partner lying along the body: that side is cut at its band too (:data:`ONE_SIDE_BAND`). A removed band is
  filled from the floor beyond the garment's old edge, mirrored row by row into its place
  (:func:`_mirrored`, :data:`MIRROR`), so a carpet's or a wall's pattern runs on where the smooth fill
  smeared it. The plan says so (``bands``), and the editor's caveat;
- **longer** ("short" -> "long"): from the middle of each short sleeve's end a new part runs down and
  outwards (:data:`DROP`) to :data:`LONG_LENGTH` of the garment's height, tapering by :data:`TAPER`,
  drawn only on the floor. Its fabric is the garment's own: a square of the torso's plainest fabric
  (:func:`_fabric_patch`) mirrored back and forth over it, so its weave, shading and texture are the photo's
  (large folds and prints are not carried over);
- **on** ("sleeveless" -> "short" / "long"): from each armhole (the garment's side just below
  :data:`ARMHOLE` of its height) a short sleeve (:data:`SHORT_LENGTH`, :data:`SHORT_DROP`) or a long one
  as above, in the same fabric.

"Becomes floor": the floor under a removed sleeve is OpenCV's Telea inpainting (Telea, J. Graphics Tools
2004) of the photo with the whole garment masked out, so only floor colours flow in, at most
:data:`INPAINT_SIDE` px long (smooth), plus the floor's own texture: the high frequencies of a box of floor
beside the sleeve, mirrored onto it (:func:`_with_texture`), so a carpet's pattern runs on instead of a smudge.

What it cannot do, and says so (:class:`ReshapeError`; the editor then leaves the sleeves as they are, with
a caveat): a short sleeve or an armhole at the photo's frame, or sleeves that were not found.

Geometry is planned on the garment mask's grid (160 px, the editor's GrabCut) and drawn at the photo's
resolution: the removed area as an alpha upsampled from that grid (grown by :data:`GROW` of the long
side onto the floor, so no fringe of the old sleeve stays), the added sleeve analytically per output
pixel (its edge anti-aliased to a pixel), so a 12-megapixel photo gets a 12-megapixel edit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SHORT_SHARE", "LONG_LENGTH", "TAPER", "LENGTHS", "SLEEVE_METHODS", "SleevePlan", "plan_sleeves",
           "reshape_photo", "ReshapeError"]

SHORT_SHARE = 0.25  # a long sleeve cut to short keeps this share of its length (along the sleeve)
LONG_LENGTH = 0.65  # a sleeve made long reaches this share of the garment's height (from the short sleeve's end)
TAPER = 0.25  # ... its width at the cuff is (1 - TAPER) of the short sleeve's width at its end
DROP = (70.0, 80.0, 89.0)  # a lengthened sleeve's new part runs down and outwards at the first of these angles
# (degrees below the horizontal) at which its cuff stays inside the photo (the last one if none)
ARMHOLE = (0.06, 0.3)  # a sleeveless garment's armhole spans these shares of its height (from its top)
SHORT_LENGTH = 0.2  # a sleeve grown on a sleeveless garment: short, this share of the height ...
SHORT_DROP = 35.0  # ... this many degrees below the horizontal
EDGE = 0.03  # a short sleeve whose end is this close to the photo's frame (share of the long side) runs out of it
PATCH = 0.2  # new sleeves are tiled from a square of the torso's plain fabric up to this share of its height
CUFF_REACH = 0.05  # what lies this near a removed sleeve (share of the long side), apart from the garment mask and
# coloured like the sleeve, goes with it (a cuff the mask cut off)
CUFF_CONTRAST = 0.08  # ... unless sleeve and floor differ by less than this (mean RGB share): then colour cannot tell
TEXTURE_SIGMA = 0.01  # the floor's texture above this scale (share of the long side) is put back on the fill ...
TEXTURE_GARMENT = 0.5  # ... from a box of floor beside it with at most this share of garment
INPAINT_SIDE = 160  # the floor under removed sleeves is inpainted at most this long (px), then upsampled
GROW = 0.012  # the removed area grows onto the floor by this share of the photo's long side (the old edge's fringe)
FEATHER = 0.004  # Gaussian sigma of the removed area's alpha, share of the long side
MIN_PIECE = 0.005  # a sleeve piece under this share of the garment is an edge, not a sleeve
LOPSIDED = 0.4  # sleeve pieces on one side under this share of the other side's area: only one sleeve stood out
ARMHOLE_INSET = 0.15  # a sleeve taken off: its armhole is cut into the shoulder this share of the torso's width
ONE_SIDE_BAND = True  # a long sleeve standing out on one side only: the other side is cut at its band
ONE_SHORT = False  # a short sleeve standing out on one side only is changed (True), or the edit declined (False):
# short sleeves do not lie along the body, so the mask lost the other (cut by the frame, taken for the floor), and the
# garment came back with one sleeve taken off or one drawn long (val photos, 28 of 300 sleeve edits: lopsided on
# all 11 looked at; the judge read the requested length on 8, most of them one long sleeve)
MIRROR = True  # a removed band is filled from the floor beside it, mirrored (else the smooth fill alone)
BAND_DRESS = 0.6  # ... on a dress, it is cut only down to this share of the garment's height (not the skirt)
BAND_SHORT = 0.3  # a long sleeve lying along the body, cut to short, keeps this top share of its rows
ARMPIT_LOW = 0.4  # ... from an armpit at most this share of the garment's height below the sleeve's top
LENGTHS = ("sleeveless", "short", "long")
SLEEVE_METHODS = ("outline", "outline+generator", "generator")  # Editor.edit's ways to make a sleeve-length edit


class ReshapeError(ValueError):
    """The outline cannot make this sleeve edit on this photo (the message says why, for a caveat)."""


@dataclass
class SleevePlan:
    """What to change, on the garment mask's grid (``shape`` = (h, w)).

    ``removed``: bool [h, w], garment pixels that become floor; ``extend``: one dict per sleeve made
    longer, in grid pixels: ``root`` (the middle of the short sleeve's end, x, y), ``down`` (unit
    vector along the new part), ``half`` (half its width at the root), ``length`` (of the new part),
    ``patch`` ((x0, y0, side) of the square of torso fabric it is tiled from)."""

    shape: tuple[int, int]
    removed: np.ndarray
    extend: list[dict] = field(default_factory=list)
    sleeves: int = 2  # on how many sides of the body the plan changes a sleeve (one: the other was not found, or
    # only its top stood out: :data:`LOPSIDED`)
    bands: bool = False  # a sleeve lay along the body: cut at a share of the garment's width, not at a seam seen

    def empty(self) -> bool:
        return not self.removed.any() and not self.extend


def _geodesic(piece: np.ndarray, torso: np.ndarray) -> np.ndarray:
    """Distance (px) inside ``piece`` from where it meets ``torso`` (8-connected steps); inf outside."""
    import cv2
    from skimage.graph import MCP_Geometric

    touch = piece & (cv2.dilate(torso.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    if not touch.any():  # a sleeve lying apart from the body (a gap in the mask): start nearest the torso
        dist = cv2.distanceTransform((~torso).astype(np.uint8), cv2.DIST_L2, 3)
        d = np.where(piece, dist, np.inf)
        touch = piece & (d <= d.min() + 1)
    cost = np.where(piece, 1.0, np.inf)
    dist, _ = MCP_Geometric(cost, fully_connected=True).find_costs(np.argwhere(touch))
    dist = np.asarray(dist, np.float64)
    dist[~piece] = np.inf
    return dist


def _pieces(sleeves: np.ndarray, garment_area: int) -> list[np.ndarray]:
    import cv2

    n, lab, stats, _ = cv2.connectedComponentsWithStats(sleeves.astype(np.uint8), connectivity=8)
    return [lab == k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= MIN_PIECE * garment_area]


def plan_sleeves(garment: np.ndarray, source: str, target: str, image: np.ndarray | None = None,
                 category: str | None = None) -> SleevePlan:
    """The change that turns the garment (bool mask [h, w]) with ``source`` sleeves into ``target``
    sleeves (values of :data:`LENGTHS`). ``image``: the photo (uint8 [H, W, 3], any size with the mask's
    aspect), so new sleeves are drawn from plain fabric rather than a print. ``category``: the garment's
    ("dress": a sleeve lying along the body is cut only down to :data:`BAND_DRESS` of its height, not through
    the skirt). Raises :class:`ReshapeError` where the outline cannot do it."""
    from amgan.data.sleeve_region import _largest, garment_frame, side_bands, sleeve_mask

    for name, v in (("source", source), ("target", target)):
        if v not in LENGTHS:
            raise ValueError(f"{name} sleeve length {v!r} is not one of {', '.join(LENGTHS)}")
    g = np.asarray(garment, bool)
    if g.ndim != 2:
        raise ValueError(f"a garment mask is 2-D, got shape {g.shape}")
    if image is not None:
        image = _on_grid(image, g.shape)
    if source == target:
        raise ReshapeError(f"the sleeves already read as {source}")
    if source == "sleeveless":
        return _grow(g, target, image)
    if image is not None and target != "long":  # (a longer sleeve is drawn beside the photo's garment)
        g = g | _into_frame(g, image)
    sleeves, how = sleeve_mask(g, source)
    area = int(g.sum())
    pieces = _pieces(sleeves, area)
    if not pieces:
        raise ReshapeError("no sleeves stand out from the garment's outline (a photo with the sleeves spread out "
                           "from the body works)")
    torso = g & ~sleeves
    body = _largest(g)
    centre = garment_frame(body)[2]
    side_area = {False: 0, True: 0}  # the pieces' area left and right of the body's centre
    for p in pieces:
        side_area[bool(np.nonzero(p)[1].mean() > centre)] += int(p.sum())
    # a sleeve on each side changed, or one: a side with much less than the other holds a shoulder or the top of a
    # sleeve lying along the body, not a sleeve
    sides = sum(a > 0 and a >= LOPSIDED * max(side_area.values()) for a in side_area.values())
    if source == "short" and sides == 1 and not ONE_SHORT:
        raise ReshapeError("only one sleeve stands out from the garment's outline, so changing it would leave the "
                           "garment lopsided (the other sleeve may run off the photo or look like the floor; a photo "
                           "with both sleeves spread out and some floor around the garment works)")
    plan = SleevePlan(shape=g.shape, removed=np.zeros(g.shape, bool), sleeves=sides, bands=how == "bands")
    banded = [how == "bands"] * len(pieces)
    if how == "protrusion" and source == "long" and sides == 1 and ONE_SIDE_BAND:
        # one long sleeve stood out; the other lies along the body: cut that one at its band
        weak = side_area[True] < side_area[False]  # True: the right side is the one lying along the body
        band = side_bands(g)[int(weak)] & ~sleeves
        if band.sum() >= MIN_PIECE * area:
            pieces, banded = pieces + [band], banded + [True]
            plan.sleeves, plan.bands = 2, True
    ys, xs_all = np.nonzero(g)
    height = float(ys.max() - ys.min() + 1)
    patch = None
    for piece, in_band in zip(pieces, banded):
        if in_band:  # a sleeve lying along the body
            plan.removed |= _band_cut(g, piece, centre, target, BAND_DRESS if category == "dress" else None)
            if target == "sleeveless":
                plan.removed |= _armhole(g & ~sleeves, piece, centre, height)
            continue
        if target == "sleeveless":
            plan.removed |= piece | _armhole(g & ~sleeves, piece, centre, height)
            continue
        d = _geodesic(piece, torso)
        finite = np.isfinite(d)
        length = float(d[finite].max()) if finite.any() else 0.0
        if target == "short":  # from long: keep the part nearest the torso
            plan.removed |= piece & ~(finite & (d <= SHORT_SHARE * length))
            continue
        # target long, from short: a new part from the middle of the sleeve's end, down and outwards
        if length < 1:
            continue
        yy, xx = np.nonzero(piece & finite)
        dv = d[yy, xx]
        start = np.array([xx[dv <= 0.2 * length].mean(), yy[dv <= 0.2 * length].mean()])
        tip = dv >= 0.8 * length
        end = np.array([xx[tip].mean(), yy[tip].mean()])
        axis = end - start
        if np.hypot(*axis) < 1:
            continue
        axis /= np.hypot(*axis)
        normal = np.array([-axis[1], axis[0]])
        rel = np.stack([xx - end[0], yy - end[1]], 1).astype(np.float64)
        s, t = rel @ axis, rel @ normal
        near = np.abs(s) <= 0.15 * length + 1  # the sleeve's cross-section at its end
        if not near.any():
            near = dv >= 0.8 * length
        half = 0.5 * float(np.ptp(t[near]) + 1)
        root = end + float(np.median(t[near])) * normal
        edge = EDGE * max(g.shape)
        if not (edge <= root[0] <= g.shape[1] - 1 - edge and edge <= root[1] <= g.shape[0] - 1 - edge):
            raise ReshapeError("a sleeve runs out of the photo, so the outline cannot see where to lengthen it (a "
                               "photo with some floor around the garment works)")
        new = LONG_LENGTH * height
        out_x = float(np.sign(axis[0])) if abs(axis[0]) > 0.2 else (float(np.sign(root[0] - np.median(xs_all))) or 1.0)
        down = _down(root, out_x, new, g.shape, DROP)  # down and outwards, as far out as the frame allows
        patch = patch if patch is not None else _fabric_patch(torso, image, PATCH * height)
        if patch is None:
            raise ReshapeError("the torso has no room for a patch of its fabric to draw a longer sleeve from")
        plan.extend.append({"root": root, "down": down, "half": half, "length": new, "patch": patch})
    if plan.removed.any():  # a cuff the mask holds apart from the garment goes with its sleeve
        import cv2

        r = max(1, round(CUFF_REACH * max(g.shape)))
        near = cv2.dilate(plan.removed.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
        plan.removed |= _touching(g & ~body, near)
        # what the cut leaves floating apart from the body goes too (a cuff hanging below the hem, which the
        # sleeve finder counts as torso)
        left = g & ~plan.removed
        cut = cv2.dilate(plan.removed.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        plan.removed |= _touching(left & ~_largest(left), cut)
    if plan.empty():
        raise ReshapeError("the sleeves found are too small to change")
    return plan


def _band_cut(g: np.ndarray, piece: np.ndarray, centre: float, target: str, lowest: float | None = None) -> np.ndarray:
    """The garment outside a sleeve that lies along the body (a band of :func:`sleeve_mask`): below the part
    kept (short: the band's top :data:`BAND_SHORT`; sleeveless: none), everything beyond the band's inner
    edge (a straight line fitted to it) down to the hem, so no cuff or waistband is left standing out; with
    ``lowest`` (a dress) only down to that share of the garment's height, where its sleeves end."""
    from amgan.data.sleeve_region import _side_line

    ys, xs = np.nonzero(piece)
    right = xs.mean() > centre
    rows = np.unique(ys)
    inner = np.array([xs[ys == y].min() - 1 if right else xs[ys == y].max() + 1 for y in rows], float)
    a, b = _side_line(rows, inner)
    top = ys.min() + (BAND_SHORT * (ys.max() - ys.min() + 1) if target == "short" else 0)
    yy, xx = np.mgrid[0:g.shape[0], 0:g.shape[1]]
    line = a + b * yy
    cut = g & (yy >= top) & ((xx >= line) if right else (xx <= line))
    if lowest is not None:
        gy = np.nonzero(g)[0]
        cut &= yy <= gy.min() + lowest * (gy.max() - gy.min() + 1)
    return cut


def _armhole(torso: np.ndarray, piece: np.ndarray, centre: float, height: float) -> np.ndarray:
    """The shoulder outside a sleeveless garment's armhole, on the side of a sleeve taken off (bool, the grid).

    Taking a sleeve off at the seam leaves a T-shirt's square shoulder, which reads as "sleeves cut off",
    not as a sleeveless top. So the armhole is cut in as a tailor would: a quarter ellipse from the armpit
    (the lowest point where the sleeve met the torso, at most :data:`ARMPIT_LOW` of the garment's height
    below the sleeve's top), leaving it level and rising to the shoulder's top :data:`ARMHOLE_INSET` of the
    torso's width further in, where it meets the shoulder upright (the strap's outer edge)."""
    import cv2

    near = cv2.dilate(torso.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    jy, jx = np.nonzero(piece & near)  # where the sleeve met the torso
    out = np.zeros(torso.shape, bool)
    if jy.size == 0:
        return out
    top = int(np.nonzero(piece)[0].min())
    ya = int(min(jy.max(), top + ARMPIT_LOW * height))
    side = 1.0 if np.nonzero(piece)[1].mean() > centre else -1.0  # +1: the sleeve was on the right
    at = jy >= ya - 1
    xa = float(np.median(jx[at])) if at.any() else float(np.median(jx))
    row = np.flatnonzero(torso[min(ya + 1, torso.shape[0] - 1)])
    if row.size < 2:
        return out
    inset = ARMHOLE_INSET * float(row.max() - row.min() + 1)
    strap = int(round(xa - side * inset))
    if not 0 <= strap < torso.shape[1]:
        return out
    col = np.flatnonzero(torso[:, strap])
    if col.size == 0 or col.min() >= ya - 1:
        return out
    yt = int(col.min())
    yy, xx = np.mgrid[0:torso.shape[0], 0:torso.shape[1]]
    u = side * (xa - xx)  # how far in from the armpit's column
    e = np.clip((yy - yt) / float(ya - yt), 0, 1)
    return torso & (yy <= ya) & (u < inset * np.sqrt(1 - e ** 2))


def _touching(mask: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The 8-connected pieces of ``mask`` that meet ``region`` (bool arrays of one shape)."""
    import cv2

    n, lab = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    hit = np.unique(lab[mask & region])
    return np.isin(lab, hit[hit > 0])


def _into_frame(g: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The garment's pixels in GrabCut's certain-background frame (bool, the mask's grid): where the mask comes
    up to that frame, the frame's pixels whose colour is nearer the garment's than the floor's beside them
    (:func:`amgan.composite.snap_mask`), joined to the mask; so a sleeve that runs off the photo is found to
    the photo's edge instead of stopping short of it."""
    from amgan.composite import GRABCUT_BORDER, snap_mask

    frame = int(np.ceil(GRABCUT_BORDER * min(g.shape)))
    if frame < 1:
        return np.zeros_like(g)
    inner = np.zeros(g.shape, bool)
    inner[frame: g.shape[0] - frame, frame: g.shape[1] - frame] = True
    snapped = snap_mask(image.astype(np.float32) / 255, g.astype(np.float32), band=1, frame=frame) > 0.5
    extra = snapped & ~inner & ~g
    return extra & _touching(extra | g, g)


def _on_grid(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The photo (uint8 [H, W, 3]) area-averaged onto the mask's grid."""
    import cv2

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")
    if image.shape[:2] == shape:
        return image
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def _down(root: np.ndarray, out_x: float, length: float, shape: tuple[int, int], angles) -> np.ndarray:
    """The unit vector down and outwards at the first of ``angles`` (degrees below the horizontal) at which a
    part of ``length`` from ``root`` ends inside the grid (the last one if none does)."""
    for deg in angles:
        rad = np.deg2rad(deg)
        down = np.array([out_x * np.cos(rad), np.sin(rad)])
        cuff = root + length * down
        if 0 <= cuff[0] <= shape[1] - 1 and 0 <= cuff[1] <= shape[0] - 1:
            break
    return down


def _grow(g: np.ndarray, target: str, image: np.ndarray | None) -> SleevePlan:
    """Sleeves for a sleeveless garment: from each armhole (spanning :data:`ARMHOLE` of the garment's height,
    on the garment's side just below it), a short sleeve (:data:`SHORT_LENGTH`, :data:`SHORT_DROP` degrees down) or a
    long one (:data:`LONG_LENGTH`, :data:`DROP`), in the torso's fabric."""
    from amgan.data.sleeve_region import _central_runs, _largest, garment_frame

    if target == "sleeveless":
        raise ReshapeError("the sleeves already read as sleeveless")
    m = _largest(g)
    if m.sum() < 50:
        raise ReshapeError("the garment is too small to find its armholes")
    y0, h, centre = garment_frame(m)
    h = float(h)
    top, bottom = y0 + ARMHOLE[0] * h, y0 + ARMHOLE[1] * h
    rows = np.arange(int(round(y0 + ARMHOLE[1] * h)), int(round(y0 + (ARMHOLE[1] + 0.1) * h)) + 1)
    left, right = _central_runs(m, rows, centre)  # the garment's sides just below the armholes
    if np.isfinite(left).sum() < 2:
        raise ReshapeError("the garment's sides were not found, so neither were its armholes")
    plan = SleevePlan(shape=g.shape, removed=np.zeros(g.shape, bool))
    edge = EDGE * max(g.shape)
    patch = None
    for side, out_x in ((left, -1.0), (right, 1.0)):
        root = np.array([float(np.nanmedian(side)), (top + bottom) / 2])
        if not (edge <= root[0] <= g.shape[1] - 1 - edge):
            raise ReshapeError("an armhole is at the photo's frame, so there is no room for a sleeve (a photo with "
                               "some floor around the garment works)")
        length = (SHORT_LENGTH if target == "short" else LONG_LENGTH) * h
        down = _down(root, out_x, length, g.shape, (SHORT_DROP,) if target == "short" else DROP)
        patch = patch if patch is not None else _fabric_patch(m, image, PATCH * h)
        if patch is None:
            raise ReshapeError("the torso has no room for a patch of its fabric to draw a sleeve from")
        plan.extend.append({"root": root, "down": down, "half": (bottom - top) / 2, "length": length, "patch": patch})
    return plan


def _extension(part: dict, scale: float, H: int, W: int, maps: bool = True):
    """The new part of one lengthened sleeve, ``scale`` output pixels per grid pixel, on an [H, W] image:
    (box, alpha [h,w], map_x, map_y), or (box, alpha) without ``maps``, or None off the image. The part
    runs from ``root`` along ``down``, tapering, joined to the old sleeve by a disc; its fabric is the
    torso's: ``patch`` (x0, y0, side in grid px, :func:`_fabric_patch`) mirrored back and forth over it."""
    f32 = np.float32
    root = (part["root"] + 0.5) * scale - 0.5
    down = part["down"]
    across = np.array([-down[1], down[0]])
    half, length = part["half"] * scale, part["length"] * scale
    cs = np.array([root + s * down + t * across for s in (0.0, length) for t in (-half, half)]
                  + [root + np.array([dx, dy]) * half for dx in (-1, 1) for dy in (-1, 1)])
    c0, c1 = int(np.floor(max(0, cs[:, 0].min() - 2))), int(np.ceil(min(W, cs[:, 0].max() + 3)))
    r0, r1 = int(np.floor(max(0, cs[:, 1].min() - 2))), int(np.ceil(min(H, cs[:, 1].max() + 3)))
    if r1 <= r0 or c1 <= c0:
        return None
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(f32)
    rx, ry = xx - f32(root[0]), yy - f32(root[1])
    s = rx * f32(down[0]) + ry * f32(down[1])
    t = rx * f32(across[0]) + ry * f32(across[1])
    hw = f32(half) * (1 - f32(TAPER) * np.clip(s / f32(length), 0, 1))
    body = np.clip(hw - np.abs(t) + 0.5, 0, 1) * np.clip(s + 0.5, 0, 1) * np.clip(f32(length) - s + 0.5, 0, 1)
    joint = np.clip(f32(half) - np.hypot(rx, ry) + 0.5, 0, 1)  # the elbow between the old end and the new part
    alpha = np.maximum(body, joint).astype(f32)
    if not maps:
        return (r0, r1, c0, c1), alpha
    x0, y0, side = (v * scale for v in part["patch"])
    side = f32(max(side - 1, 1))  # mirrored back and forth over the patch: along the sleeve and across it

    def tri(v):
        return side - np.abs(np.mod(v, 2 * side) - side)

    return (r0, r1, c0, c1), alpha, f32(x0 - 0.5 + 0.5 * scale) + tri(t + f32(half)), f32(y0 - 0.5 + 0.5 * scale) + tri(s)


def _fabric_patch(torso: np.ndarray, image: np.ndarray | None, size: float) -> tuple[float, float, float] | None:
    """A square of the torso's own fabric the new sleeves are tiled from: (x0, y0, side) in grid px. The
    largest square up to ``size`` px that fits inside the torso; with ``image`` (the photo on the grid,
    uint8 [h, w, 3]) the one of those whose pixels are closest to the torso's median colour (plain fabric,
    not a print or a logo), else the most inward one. None if the torso has no room for a 3-px square."""
    import cv2

    inner = torso.astype(np.uint8)
    dist = cv2.distanceTransform(np.pad(inner, 1), cv2.DIST_C, 3)[1:-1, 1:-1]  # chessboard: squares fit
    side = int(min(size, 2 * dist.max() - 1))
    if side < 3:
        return None
    r = side / 2
    fits = dist >= r
    if image is None:
        y, x = np.unravel_index(np.argmax(dist), dist.shape)
    else:
        ref = np.median(image[torso].reshape(-1, 3), 0).astype(np.float32)
        cost = np.abs(image.astype(np.float32) - ref).sum(-1)
        cost = cv2.blur(cost, (side, side), borderType=cv2.BORDER_REPLICATE)
        cost[~fits] = np.inf
        y, x = np.unravel_index(np.argmin(cost), cost.shape)
    return float(x - r + 0.5), float(y - r + 0.5), float(side)


def _inpaint_floor(work: np.ndarray, hole: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The floor inside ``box`` (r0, r1, c0, c1) of the working image with ``hole`` (the garment and what
    is removed) inpainted away (Telea), so only floor colours flow in. uint8 [r1-r0, c1-c0, 3]. Inpainted
    at most :data:`INPAINT_SIDE` px long (Telea's time grows with the hole; the fill is smooth anyway)."""
    import cv2

    r0, r1, c0, c1 = box
    sub = np.ascontiguousarray(work[r0:r1, c0:c1])
    m = cv2.dilate(hole[r0:r1, c0:c1].astype(np.uint8), np.ones((5, 5), np.uint8))
    if m.all():  # no floor in the box: the photo's border is the best guess of it
        border = np.concatenate([work[[0, -1]].reshape(-1, 3), work[:, [0, -1]].reshape(-1, 3)])
        return np.broadcast_to(np.median(border, 0).astype(np.uint8), sub.shape).copy()
    h, w = sub.shape[:2]
    f = min(1.0, INPAINT_SIDE / max(h, w))
    if f == 1.0:
        return cv2.inpaint(sub, m, 5, cv2.INPAINT_TELEA)
    sh, sw = max(2, round(h * f)), max(2, round(w * f))
    small = cv2.resize(sub, (sw, sh), interpolation=cv2.INTER_AREA)
    ms = (cv2.resize(m.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    if ms.all():
        ms[0, 0] = 0
    filled = cv2.inpaint(small, ms, 3, cv2.INPAINT_TELEA)
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)


def _with_texture(work: np.ndarray, hole: np.ndarray, box: tuple[int, int, int, int], smooth: np.ndarray,
                  side: int) -> np.ndarray:
    """The inpainted floor of ``box`` with the floor's own texture put back: the high frequencies (above a
    Gaussian of :data:`TEXTURE_SIGMA` of the long side) of a box of floor beside it, added to the smooth
    fill, whose low frequencies stay. The box: of the eight one box-size away (sideways, up, down and
    diagonally; slid back into the photo where they leave it), the one with the least garment, if at most
    :data:`TEXTURE_GARMENT`; its garment pixels give no texture. Without one, the smooth fill."""
    import cv2

    r0, r1, c0, c1 = box
    h, w = r1 - r0, c1 - c0
    H, W = hole.shape
    best = None
    for dy in (-h, 0, h):
        for dx in (-w, 0, w):
            if (dy, dx) == (0, 0):
                continue
            a0, b0 = min(max(r0 + dy, 0), H - h), min(max(c0 + dx, 0), W - w)  # slid back into the photo
            if (a0, b0) == (r0, c0):
                continue
            garment = hole[a0:a0 + h, b0:b0 + w].mean()
            if best is None or garment < best[0]:
                best = (garment, a0, b0)
    if best is None or best[0] > TEXTURE_GARMENT:
        return smooth
    _, a0, b0 = best
    patch = work[a0:a0 + h, b0:b0 + w].astype(np.float32)
    floor = (~hole[a0:a0 + h, b0:b0 + w]).astype(np.float32)
    if b0 != c0:  # mirrored towards the hole, so the texture runs on from the edge of the box it came from
        patch, floor = patch[:, ::-1], floor[:, ::-1]
    if a0 != r0:
        patch, floor = patch[::-1], floor[::-1]
    sigma = max(1.0, TEXTURE_SIGMA * side)
    weight = cv2.GaussianBlur(floor, (0, 0), sigma) + 1e-3  # the floor's own local mean, garment left out
    mean = cv2.GaussianBlur(patch * floor[..., None], (0, 0), sigma) / weight[..., None]
    detail = (patch - mean) * cv2.erode(floor, np.ones((5, 5), np.uint8))[..., None]
    return np.clip(smooth.astype(np.float32) + detail + 0.5, 0, 255).astype(np.uint8)


def _mirrored(work: np.ndarray, hole: np.ndarray, piece: np.ndarray, box: tuple[int, int, int, int],
              fill: np.ndarray, side: int) -> np.ndarray:
    """The fill of a removed band (a sleeve that lay along the body) from the floor beside it: row by row, the
    floor beyond the piece's outer end mirrored back into it, so the floor's own pattern and light run on
    instead of a smooth smear. Where the mirror falls on garment or off the photo, ``fill`` stays (blended
    over a few pixels)."""
    import cv2

    r0, r1, c0, c1 = box
    H, W = hole.shape
    sub = piece[r0:r1, c0:c1]
    xs = np.arange(c0, c1)
    centre = float(np.nonzero(piece)[1].mean())
    right = centre > float(np.nonzero(hole)[1].mean())
    out = fill.astype(np.float32)
    ok = np.zeros(sub.shape, np.float32)
    src = np.zeros(sub.shape + (3,), np.float32)
    for i, row in enumerate(sub):
        cols = np.flatnonzero(row)
        if cols.size == 0:
            continue
        e = c0 + (cols.max() if right else cols.min())  # the piece's outer end on this row
        x2 = 2 * e - xs + (1 if right else -1)  # mirrored across it
        inside = (x2 >= 0) & (x2 < W)
        x2c = np.clip(x2, 0, W - 1)
        good = inside & ~hole[r0 + i, x2c]
        src[i] = work[r0 + i, x2c]
        ok[i] = good
    # a mirrored pixel coloured like the sleeve (nearer it than half the way to the floor's median) is garment the
    # mask left out, not floor
    if ok.any():
        sleeve = np.median(work[piece].astype(np.float32), 0)
        floor = np.median(src[ok > 0], 0)
        ok *= (np.abs(src - sleeve).sum(-1) > 0.5 * np.abs(floor - sleeve).sum()).astype(np.float32)
    ok = cv2.GaussianBlur(cv2.erode(ok, np.ones((3, 3), np.uint8)), (0, 0), max(1.0, 0.004 * side))
    out = out + ok[..., None] * (src - out)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _beyond_mask(work: np.ndarray, removed: np.ndarray, garment: np.ndarray, kept: np.ndarray, grow: int,
                 side: int) -> np.ndarray:
    """What of a removed sleeve the garment mask left out (a cuff at the frame, a hem the mask cut off):
    pixels within :data:`CUFF_REACH` of the removed area, away from the kept garment, whose colour is nearer
    the removed sleeve's (median) than the floor's (the median of a ring around the garment), joined to the
    removed area. bool on the working grid."""
    import cv2

    r = max(1, round(CUFF_REACH * side))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    near = (cv2.dilate(removed.astype(np.uint8), disc) > 0) & ~garment
    near &= ~(cv2.dilate(kept.astype(np.uint8), np.ones((4 * grow + 1, 4 * grow + 1), np.uint8)) > 0)
    ring = ((cv2.dilate(garment.astype(np.uint8), np.ones((4 * grow + 1, 4 * grow + 1), np.uint8)) > 0)
            & ~(cv2.dilate(garment.astype(np.uint8), np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0))
    if not near.any() or not ring.any():
        return np.zeros_like(removed)
    px = work.astype(np.float32)
    sleeve, floor = np.median(px[removed], 0), np.median(px[ring], 0)
    if np.abs(sleeve - floor).sum() < 3 * 255 * CUFF_CONTRAST:  # the floor looks like the sleeve: no telling
        return np.zeros_like(removed)
    like = near & (np.abs(px - sleeve).sum(-1) < np.abs(px - floor).sum(-1))
    return like & _touching(like | removed, removed)


def _box(mask: np.ndarray, pad: int) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    h, w = mask.shape
    return (max(0, int(rows[0]) - pad), min(h, int(rows[-1]) + 1 + pad),
            max(0, int(cols[0]) - pad), min(w, int(cols[-1]) + 1 + pad))


def _blend(out: np.ndarray, changed: np.ndarray, box, alpha: np.ndarray, src: np.ndarray) -> None:
    """``out[box] += alpha * (src - out[box])`` in place; ``changed[box]`` gets the alpha (max)."""
    r0, r1, c0, c1 = box
    alpha = np.where(alpha < 0.5 / 255, 0, alpha).astype(np.float32)
    x = out[r0:r1, c0:c1].astype(np.float32)
    out[r0:r1, c0:c1] = np.clip(x + alpha[..., None] * (src.astype(np.float32) - x) + 0.5, 0, 255).astype(np.uint8)
    changed[r0:r1, c0:c1] = np.maximum(changed[r0:r1, c0:c1], (alpha * 255 + 0.5).astype(np.uint8))


def reshape_photo(photo: np.ndarray, garment: np.ndarray, plan: SleevePlan) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``plan`` (made on ``garment``'s grid) on the photo at its own resolution.

    ``photo``: uint8 [H, W, 3]; ``garment``: the bool mask the plan was made from (a grid with the
    photo's aspect). -> (edit uint8 [H, W, 3], changed uint8 [H, W]: the alpha of the change, 0-255).
    Where ``changed`` is 0 the photo's pixels are returned bit for bit."""
    import cv2

    photo = np.ascontiguousarray(photo)
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 photo [H, W, 3], got {photo.dtype} {photo.shape}")
    H, W = photo.shape[:2]
    g = np.asarray(garment, bool)
    if g.shape != plan.shape:
        raise ValueError(f"the plan was made on a {plan.shape} grid, the garment mask is {g.shape}")
    out, changed = photo.copy(), np.zeros((H, W), np.uint8)
    if plan.removed.any():
        # on a working grid of at most 640 px: the removed area grown onto the floor, less the kept garment
        side = min(max(H, W), 640)
        wh, ww = max(1, round(H * side / max(H, W))), max(1, round(W * side / max(H, W)))
        work = cv2.resize(photo, (ww, wh), interpolation=cv2.INTER_AREA) if (wh, ww) != (H, W) else photo

        def up(m):  # the grid's mask on the working grid, its staircase smoothed (a blur of half a grid pixel)
            u = cv2.resize(m.astype(np.float32), (ww, wh), interpolation=cv2.INTER_LINEAR)
            return cv2.GaussianBlur(u, (0, 0), max(0.5, 0.5 * ww / g.shape[1])) >= 0.5

        removed_w, kept_w, g_w = up(plan.removed), up(g & ~plan.removed), up(g)
        grow = max(1, round(GROW * side))
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        removed_w = removed_w | _beyond_mask(work, removed_w, g_w, kept_w, grow, side)
        area = (cv2.dilate(removed_w.astype(np.uint8), k) > 0) & ~kept_w
        alpha = cv2.GaussianBlur(area.astype(np.float32), (0, 0), max(0.5, FEATHER * side))
        alpha[kept_w] = 0  # the kept garment keeps its pixels
        n, lab = cv2.connectedComponents((alpha > 0.5 / 255).astype(np.uint8), connectivity=8)
        hole = g_w | area
        for piece in range(1, n):  # each removed sleeve on its own: its box, its floor
            r0, r1, c0, c1 = _box(lab == piece, pad=3 * grow)
            floor = _inpaint_floor(work, hole, (r0, r1, c0, c1))
            floor = _with_texture(work, hole, (r0, r1, c0, c1), floor, side)
            if MIRROR and plan.bands:
                floor = _mirrored(work, hole, lab == piece, (r0, r1, c0, c1), floor, side)
            # to full resolution, bilinear: the box's alpha and floor
            R0, R1 = int(np.floor(r0 * H / wh)), min(H, int(np.ceil(r1 * H / wh)))
            C0, C1 = int(np.floor(c0 * W / ww)), min(W, int(np.ceil(c1 * W / ww)))
            gx = (np.arange(C0, C1, dtype=np.float32) + 0.5) * np.float32(ww / W) - np.float32(0.5 + c0)
            gy = (np.arange(R0, R1, dtype=np.float32) + 0.5) * np.float32(wh / H) - np.float32(0.5 + r0)
            mx, my = (m.astype(np.float32) for m in np.meshgrid(gx, gy))
            a_box = np.where(lab[r0:r1, c0:c1] == piece, alpha[r0:r1, c0:c1], 0).astype(np.float32)
            a = cv2.remap(a_box, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            f = cv2.remap(floor, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            _blend(out, changed, (R0, R1, C0, C1), a, f)
    if plan.extend:
        scale = max(H, W) / max(g.shape)
        g_full = cv2.resize(g.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
        for part in plan.extend:
            ext = _extension(part, scale, H, W)
            if ext is None:
                continue
            (r0, r1, c0, c1), a, mx, my = ext
            a = a * (1 - np.clip(g_full[r0:r1, c0:c1] * 2 - 0.5, 0, 1))  # on the floor, not over the garment
            if not (a >= 0.5 / 255).any():
                continue
            src = cv2.remap(photo, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            _blend(out, changed, (r0, r1, c0, c1), a, src)
    return out, changed
