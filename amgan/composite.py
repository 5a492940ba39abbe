"""Bringing a model-resolution edit to the photo's own resolution (used by :meth:`amgan.Editor.edit`).

The generator edits a square at the model's resolution (64 or 128 px). On the photo the edit keeps
the photo's fine detail (folds, seams, prints, fabric) and changes only what the edit changes, at
the photo's size:

1. **Colour transform** (colour and pattern edits, :func:`recolour_maps`): at the model's
   resolution, the local mean colour of the garment's ground fabric in the photo (``x``) and in
   the edit (``y``), Gaussian-weighted (:data:`SMOOTH` model pixels) over the garment mask only, so
   the floor does not bleed in, and robust to prints (re-weighted by membership of the ground).
   Luma (BT.601 Y) gets a gain (ratio of the means, within :data:`GAIN_RANGE`) and an offset that
   make the local mean the edit's; chroma (Cb, Cr) becomes the edit's mean chroma scaled by the
   pixel's shading (a fold is a darker shade of the new colour) plus :data:`CHROMA_DETAIL` of the
   fabric's own chroma texture. Per pixel the transform is weighted by how much the pixel looks like
   a shade of the ground (:data:`MEMBER_SIGMA`): prints, logos and stripes of another colour keep
   theirs, and so does what is much lighter than the garment's ground (:data:`MEMBER_LIGHTER`: the
   floor at a dark garment's edge or through its sheer hem, a light print on dark fabric). That
   weight is smoothed over :data:`MEMBER_BLUR` photo pixels, so the pixel-scale noise of a photo's
   chroma does not make it flicker (a flicker times a large change is speckle). Applied to every
   pixel of the photo (:func:`recolour_pixels`): the edit's low frequencies (its colour and
   lightness) on the photo's own high frequencies; the generator's speckle and its pixel grid are
   below the smoothing scale.
2. **Matte** (:func:`matte_coefficients`): where the garment is, following the photo's edges. The
   garment mask (GrabCut at 160 px) is snapped onto the photo's edges on a working grid
   (:func:`work_size`, 320-640 px; :func:`snap_mask`: near the mask's edge a pixel is garment when its
   colour is nearer the garment's than the floor's), then a narrow guided filter (He, Sun and Tang,
   TPAMI 2013, colour guide, the photo as the guide) gives linear coefficients that are upsampled and
   applied to the photo at full resolution (the "fast guided filter", He and Sun 2015): the matte's
   edge is the photo's edge, not a blob.
3. **Apply** (:func:`apply`), at full resolution in row strips (a 12-megapixel photo never holds
   more than a few strips of float maps): ``out = x + matte * change``. Where the matte is 0
   the photo's pixels are returned bit for bit.

Sleeve and neckline edits change the garment's outline (a sleeve is added on the floor or
removed from it): a colour transform of the photo cannot draw a sleeve, so they use the
smoothed change itself, ``x + up(blur(y - x))``, on the garment matte (a sleeve taken off
turns garment to floor there) and, beyond it, where the edit turned floor towards the garment's
colour (:func:`outline_added`: a new sleeve lies outside the photo's garment mask and must not be
cut off); the faint tint the generator's attention leaves on the rest of the floor is not a new
sleeve, and those pixels keep the photo's. A sleeve request keeps, inside the garment, only the
change that brings a pixel towards the floor's colour (:func:`outline_removed`: a sleeve shortened
or taken off); the rest of the generator's change there (tints, speckle, a print washed out) would
recolour a garment the user asked to reshape, and those pixels keep the photo's too.

Maps move between grids by :func:`to_grid` (model square -> the photo's box on a working grid,
bilinear) and :func:`apply` (working grid -> full resolution, bilinear, ``cv2.warpAffine`` per
strip). Everything here is numpy/OpenCV on the CPU, float32.
"""
from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import torch

from amgan.data.garment_mask import BORDER as GRABCUT_BORDER  # the frame GrabCut takes as certain background

__all__ = ["WORK_SIDE", "SMOOTH", "GAIN_RANGE", "Maps", "work_size", "to_grid", "guided_coefficients", "guided_filter",
           "recolour_maps", "recolour_pixels", "member_margin", "outline_added", "outline_removed", "shift_lab", "reshape_maps", "snap_mask", "matte_coefficients", "apply", "composite", "worker_pool"]

WORK_SIDE = 640  # the working grid (matte, maps) is at most this long, long side ...
WORK_MIN = 320  # ... and at least this (or the photo's own size); see work_size
SMOOTH = 2.0  # Gaussian sigma of the colour transform, in model pixels (1/32 of the square at 64 px)
CHROMA_DETAIL = 0.5  # share of the ground fabric's own chroma texture kept
MEMBER_SIGMA = 0.05  # chroma shortfall (RGB in [0,1]) at which membership of the ground falls to exp(-1/2)
MEMBER_SHARE = 0.5  # a shade of the ground keeps at least this share of its chroma
MEMBER_LIGHTER = 2.5  # a pixel this many times lighter (luma) than the garment's ground colour is half a member:
# a highlight on dark fabric is a shade of it, the light floor seen at a dark garment's edge or through its
# tulle hem is not (measured against the whole garment's ground, not the local mean, which a large patch of
# floor inside the mask would pull up to itself). Val photos (246 colour edits), off / 4 / 3 / 2.5 / 2 / 1.75:
# majority name 0.882 / 0.890 / 0.898 / 0.902 / 0.894 / 0.886, detail kept 0.909 / 0.916 / 0.919 / 0.922 / 0.926 / 0.929
MEMBER_ITERS = 2  # re-weightings of the ground's local means by membership
SPREAD_BY_ATTENTION = True  # an evened colour edit: where the generator's attention fades, the garment's colour pair ...
PAINTED = (0.5, 0.9)  # ... wholly below the first local mean attention, not at all above the second (val photos:
# (0, 1) / (0.3, 0.8) / (0.5, 0.9): majority name 0.949 / 0.957 / 0.965, judge 0.799 / 0.795 / 0.835, detail 0.923 /
# 0.920 / 0.911; 0.917 / 0.768 / 0.924 without; the generator's own colour z taken locally instead made pink or
# cyan sides, its hue drifting where it hardly painted)
MEMBER_FLOOR = 0.01  # least weight of a garment pixel in those means
GAIN_RANGE = (0.8, 2.5)  # luma gain limits: keep at least 80% of the photo's local contrast (8-bit shadows of a
# darker target lose their texture to rounding below that: val detail 0.902 at 0.4, 0.905 at 0.6, 0.909 at 0.8), amplify <= 2.5x
MEMBER_BLUR = 3.0  # Gaussian sigma (photo pixels) of the membership map: pixel-scale chroma noise (sensor,
# JPEG's half-resolution chroma) must not make a pixel's weight flicker, which a large luma change (a black
# or white target) turns into speckle over the fabric's own detail
OUTLINE_SIGMA = 4.0  # outline edits: Gaussian sigma (model pixels) of the local garment and floor colours
OUTLINE_MOVE = (0.15, 0.35)  # ... beyond the garment, an edit that moves a floor pixel less than the first share
# of the way towards the garment's colour is drift (val photos, sleeve edits: border change 0.034 -> 0.018; at
# (0.08, 0.2) 0.021), more than the second a new sleeve; a ramp between
REMOVE_MOVE = (0.5, 0.8)  # sleeve edits: inside the garment, a pixel brought closer to the local floor colour by
# less than the first share of the garment-to-floor distance keeps the photo's colour (a tint, not a sleeve taken
# off), by more than the second it is floor. Val photos (206 sleeve edits), off / (0.25, 0.5) / (0.5, 0.8): colour
# change of the garment's interior 20.3 / 8.8 / 4.2 CIE76, colour name unchanged 0.59 / 0.81 / 0.93
OUTLINE_CONTRAST = 0.06  # ... closer than this (RMS, RGB in [0,1]): colour cannot tell garment from floor
MATTE_RADIUS = 0.012  # guided-filter window radius, fraction of the working grid's long side
SNAP_CONTRAST = 0.06  # garment and background colours closer than this (RMS, RGB in [0,1]): not snapped
EDGE_RADIUS = 0.003  # the final, narrow guided filter of the snapped matte (2 px at 640)
MATTE_EPS = 1e-3  # guided-filter regularisation (colour guide in [0,1]); smaller follows weaker edges
STRIP_PIXELS = 1 << 18  # pixels per strip at full resolution, at most ...
PARALLEL_PIXELS = 1 << 15  # ... and a box of at least this many is cut into a strip per worker (a 400x533 photo: 2)
ZERO = 0.5 / 255  # matte values below this are 0: the photo's pixels stay exactly
_Y = np.array([0.299, 0.587, 0.114], np.float32)  # BT.601 luma
_CB = np.array([-0.168736, -0.331264, 0.5], np.float32)
_CR = np.array([0.5, -0.418688, -0.081312], np.float32)
_CBCR = np.stack([_CB, _CR], 1)  # RGB -> [Cb, Cr]
_YCC = np.concatenate([_Y[None], _CBCR.T], 0)  # RGB -> [Y, Cb, Cr] (cv2.transform)
_CBCR_TO_RGB = np.array([[0.0, 1.402], [-0.344136, -0.714136], [1.772, 0.0]], np.float32)  # [Cb, Cr] -> RGB


def _cv2():
    import cv2

    return cv2


def work_size(h: int, w: int, side: int | None = None) -> tuple[int, int]:
    """(h, w) of the working grid: the photo scaled to ``side`` px on its long side; by default a
    quarter of the photo's long side, within :data:`WORK_MIN`..:data:`WORK_SIDE` (a 400x533 photo:
    240x320, a 12-megapixel one: 480x640), never enlarged."""
    long = max(h, w)
    if side is None:
        side = min(WORK_SIDE, max(WORK_MIN, long // 4))
    s = min(1.0, side / long)
    return max(1, round(h * s)), max(1, round(w * s))


def to_grid(t: torch.Tensor, geometry: tuple, size: tuple[int, int]) -> np.ndarray:
    """A [1,C,S,S] map on the model's square -> float32 [h,w,C] on a grid of ``size`` = (h, w) that
    covers the photo's box in the square (``geometry`` from :meth:`ImageProcessor.preprocess`:
    x0, y0, w, h, side): bilinear with the border repeated, the sampling of
    :meth:`ImageProcessor.restore` (``F.interpolate``, ``align_corners=False``)."""
    cv2 = _cv2()
    x0, y0, w, h, side = geometry
    gh, gw = size
    src = t.detach().float().cpu()[0].permute(1, 2, 0).numpy()
    S = src.shape[0]
    sx, sy = w / gw * S / side, h / gh * S / side  # grid pixel -> model pixel (centres at i + 0.5)
    M = np.array([[sx, 0, (0.5 * w / gw + x0) * S / side - 0.5], [0, sy, (0.5 * h / gh + y0) * S / side - 0.5]])
    outs = [cv2.warpAffine(np.ascontiguousarray(src[..., c: c + 4]), M, (gw, gh),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
            .reshape(gh, gw, -1) for c in range(0, src.shape[2], 4)]
    return np.ascontiguousarray(outs[0] if len(outs) == 1 else np.concatenate(outs, -1))


def _dot3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel dot product of two [h,w,3] maps (faster than ``(a * b).sum(-1)``)."""
    return np.einsum("hwc,hwc->hw", a, b)


def _box(a: np.ndarray, r: int) -> np.ndarray:
    return _cv2().boxFilter(a, -1, (2 * r + 1, 2 * r + 1), normalize=True, borderType=4)  # 4 = BORDER_REFLECT_101


def guided_coefficients(guide: np.ndarray, p: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter's linear coefficients (colour guide): per pixel ``q = a . I + b``.

    ``guide``: float32 [H,W,3]; ``p``: float32 [H,W]. Returns a [H,W,3] and b [H,W], already
    averaged over the windows, so ``q = (a * I).sum(-1) + b`` is the filter's output on this grid
    and, with a and b upsampled, on a finer one (the fast guided filter).
    """
    I = np.ascontiguousarray(guide, np.float32)
    p = np.ascontiguousarray(p, np.float32)
    mI = _box(I, radius)
    mp = _box(p, radius)
    cov_Ip = _box(I * p[..., None], radius) - mI * mp[..., None]
    # the 3x3 covariance of the guide per pixel (symmetric: 6 maps) + eps * identity
    prods = np.stack([I[..., i] * I[..., j] for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))], -1)
    mprods = np.concatenate([_box(prods[..., :3], radius), _box(prods[..., 3:], radius)], -1)
    s00, s01, s02, s11, s12, s22 = (mprods[..., k] - mI[..., i] * mI[..., j] for k, (i, j) in
                                    enumerate(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))))
    s00, s11, s22 = s00 + eps, s11 + eps, s22 + eps
    # inverse by cofactors
    c00, c01, c02 = s11 * s22 - s12 * s12, s02 * s12 - s01 * s22, s01 * s12 - s02 * s11
    c11, c12, c22 = s00 * s22 - s02 * s02, s01 * s02 - s00 * s12, s00 * s11 - s01 * s01
    det = s00 * c00 + s01 * c01 + s02 * c02
    v0, v1, v2 = cov_Ip[..., 0], cov_Ip[..., 1], cov_Ip[..., 2]
    a = np.stack([c00 * v0 + c01 * v1 + c02 * v2, c01 * v0 + c11 * v1 + c12 * v2,
                  c02 * v0 + c12 * v1 + c22 * v2], -1) / det[..., None]
    b = mp - _dot3(a, mI)
    return _box(a, radius), _box(b, radius)


def guided_filter(guide: np.ndarray, p: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """The guided filter's output on the guide's own grid."""
    a, b = guided_coefficients(guide, p, radius, eps)
    return _dot3(a, np.asarray(guide, np.float32)) + b


def _gauss(a: np.ndarray, sigma: float) -> np.ndarray:
    return _cv2().GaussianBlur(a, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=4)


@dataclass
class Maps:
    """What :func:`apply` needs, on the working grid: three float32 [h,w,4] maps (4 channels each, the
    most ``cv2.warpAffine`` takes at once)."""

    matte: np.ndarray  # guided-filter coefficients of the matte (guide in [0,1]): a_r, a_g, a_b, b
    change: np.ndarray  # recolour: 1/(255 Yx), Cx_b, Cx_r, g (see recolour_maps); reshape: d_r, d_g, d_b, 0 (0..255)
    aux: np.ndarray  # 0, the attention, a lower bound of the matte (reshape: outline_added), the CAM
    recolour: bool  # True: out = x + m * recolour_pixels(x, change, shift); False: out = x + m * d
    shift: np.ndarray | None = None  # recolour: oY, Cy_b - Cx_b, Cy_r - Cx_r, 1/(255 Yg) [h,w,4] (0..255 units)


def recolour_maps(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, sigma: float = SMOOTH,
                  gain_range: tuple[float, float] = GAIN_RANGE, spread: float = 0.0,
                  shift=None, attention: torch.Tensor | None = None, neutral: bool = False) -> torch.Tensor:
    """The local colour transform from the photo ``x`` to its edit ``y`` at the model's resolution.

    ``x``, ``y``: [1,3,S,S] in [0,1]; ``weight``: [1,1,S,S] in [0,1], the pixels the local means are
    taken over (the garment less its rim). A garment is a **ground fabric** plus what is printed on
    it. Per pixel of the photo (luma Y, chroma C = (Cb, Cr)), with the local means of the ground
    fabric in the photo (``Yx``, ``Cx``) and in the edit (``Yy``, ``Cy``):

    - the pixel's **membership** of the ground ``u`` (:func:`_membership`, ``s = Y / Yx``): a fold or a
      shadow is a darker shade of the ground, a highlight a lighter one (u = 1); a print, a logo or a
      stripe much less coloured than the ground, or of another hue, is not (u -> 0);
    - luma ``Y' = Y + u (g Y + oY - Y)``, ``g = Yy / Yx`` within ``gain_range``, ``oY`` so the mean is ``Yy``;
    - chroma ``C' = C + u (s (Cy - Cx) - (1 - k) (C - s Cx))``: the ground becomes the new colour, shaded
      as the photo is (``C' = s Cy + k (C - s Cx)``), with ``k`` = :data:`CHROMA_DETAIL` of its own chroma
      texture kept; a print (u = 0) keeps its own colour and lightness, so a white logo on a red shirt
      stays white when the shirt turns grey (a linear transform of every pixel would tint it cyan).

    The ground's local means are robust: Gaussian-weighted (``sigma`` model pixels) over ``weight``
    times the membership, iterated (:data:`MEMBER_ITERS`), so a print does not pull the ground's mean
    colour (or the edit's, taken over the same pixels) towards itself.

    ``spread`` in [0, 1] blends these local means towards the garment's single colour pair (1: one
    colour transform for the whole garment, so a patchy edit becomes an even dye while the photo keeps
    its shading and detail). With ``attention`` ([1,1,S,S], the generator's mask a): the mean of ``x``
    and of the generator's own colour ``z = x + (y - x) / a`` over the ground where a > 1/2, weighted by
    a (y = a z + (1 - a) x: where the generator painted, not the blend of old and new colour a partial
    edit leaves). Without it: the means of ``x`` and ``y``, each pixel weighted by how much the edit
    changed it. For whole-garment colour edits only; pattern and region edits need the local maps.

    ``shift``: a CIELAB offset [dL*, da*, db*] added to the edit's local ground colour (the editor's
    colour calibration for the requested colour name, :mod:`amgan.colour_calibration`); None = none.
    ``neutral``: the requested colour has no hue (black, white, grey): the edit's ground chroma is 0,
    its lightness the edit's (the fabric keeps :data:`CHROMA_DETAIL` of its own chroma texture).

    -> [1,8,S,S] maps for :func:`apply` (0..255 units where they are levels): ``1 / (255 Yx)``,
    ``Cx`` (2), ``g``, ``oY``, ``Cy - Cx`` (2), ``1 / (255 Yg)`` (``Yg``: the luma of the whole garment's
    ground, for :data:`MEMBER_LIGHTER`), and where no garment is within reach ``g = 1`` and the rest 0
    (no change). The membership and ``k`` are applied per pixel by :func:`recolour_pixels`.
    """
    xs, ys, w = (t.detach().float().cpu()[0].permute(1, 2, 0).numpy() for t in (x, y, weight))
    w = w[..., 0]
    if not 0.0 <= spread <= 1.0:
        raise ValueError(f"spread must be in [0, 1], got {spread}")
    wsum = _gauss(np.ascontiguousarray(w), sigma)
    ok = wsum > 1e-3
    Yp, Cp = xs @ _Y, xs @ _CBCR

    def member(m, light=None):  # membership of the ground whose colour is m ([..., 3] or [3])
        Ym, Cm = m @ _Y, m @ _CBCR
        s = Yp / np.maximum(Ym, 16 / 255)
        return _membership(Cp[..., 0], Cp[..., 1], s, Cm[..., 0], Cm[..., 1], MEMBER_SIGMA,
                           s if light is None else light)

    # the garment's ground colour: the majority colour (robust mean over the whole garment) ...
    u = np.ones_like(w)
    for _ in range(MEMBER_ITERS + 1):
        wt = w * (MEMBER_FLOOR + u)
        gx = (xs * wt[..., None]).sum((0, 1)) / max(wt.sum(), 1e-6)
        u = member(gx)
    Yg = max(float(gx @ _Y), 16 / 255)  # its luma: what "much lighter than the ground" is measured against
    light = Yp / Yg
    # ... then local (the light and the fabric vary over a garment); where the neighbourhood is mostly
    # print (less than half of it ground), the local mean leans on the garment's
    for _ in range(MEMBER_ITERS):
        wt = w * (MEMBER_FLOOR + u)
        wu = np.ascontiguousarray(w * u)
        gy = (ys * wu[..., None]).sum((0, 1)) / max(wu.sum(), 1e-6)
        den = np.maximum(_gauss(np.ascontiguousarray(wt), sigma), 1e-3)[..., None]
        beta = np.clip(2 * _gauss(wu, sigma) / np.maximum(wsum, 1e-3), 0, 1)[..., None]
        mx = beta * _gauss(np.ascontiguousarray(xs * wt[..., None]), sigma) / den + (1 - beta) * gx
        my = beta * _gauss(np.ascontiguousarray(ys * wt[..., None]), sigma) / den + (1 - beta) * gy
        u = member(mx, light)
    if spread > 0:
        if attention is not None:
            # the generator's own colour z where it painted (y = a z + (1 - a) x, a > 1/2), not y itself: the
            # mean of a partial edit lies between the old colour and the new one (red asked blue reads purple)
            at = attention.detach().float().cpu()[0, 0].numpy()
            wg = w * u * at * (at > 0.5)
            target = np.clip(xs + (ys - xs) / np.maximum(at, 0.5)[..., None], 0, 1)
        else:
            wg = w * u * np.abs(ys - xs).sum(-1)  # where the edit changed the ground, and by how much
            target = ys
        if wg.sum() > 1e-3 * max(1.0, w.sum()):
            wg = (wg / wg.sum())[..., None]
            gx, gy = (xs * wg).sum((0, 1)), (target * wg).sum((0, 1))
            sp = spread
            if attention is not None and SPREAD_BY_ATTENTION:  # where the generator hardly painted, its local
                # pair moves the photo only part of the way (its attention fades towards a garment's sides, which
                # came back half changed): the garment's pair, the generator's own colour, takes over there
                painted = _gauss(np.ascontiguousarray(w * at), sigma) / np.maximum(wsum, 1e-3)
                lo, hi = PAINTED
                sp = np.maximum(spread, 1 - np.clip((painted - lo) / (hi - lo), 0, 1))[..., None]
            mx = (1 - sp) * mx + sp * gx
            my = (1 - sp) * my + sp * gy
    if shift is not None:
        my = shift_lab(my, shift)
    Yx, Yy = mx @ _Y, my @ _Y
    g = np.clip((Yy + 1e-3) / (Yx + 1e-3), *gain_range)
    oY = Yy - g * Yx
    Cx, Cy = mx @ _CBCR, my @ _CBCR
    if neutral:  # black, white, grey: no hue of the generator's own (a bluish black reads navy)
        Cy = np.zeros_like(Cy)
    inv = 1.0 / (255 * np.maximum(Yx, 16 / 255))
    out = np.concatenate([inv[..., None], Cx * 255, g[..., None], oY[..., None] * 255, (Cy - Cx) * 255,
                          np.full_like(inv[..., None], 1.0 / (255 * Yg))], -1)
    out[~ok] = 0.0  # no garment within reach: no change
    out[~ok, 3] = 1.0
    return torch.from_numpy(np.ascontiguousarray(out.astype(np.float32))).permute(2, 0, 1)[None]


def shift_lab(rgb: np.ndarray, shift) -> np.ndarray:
    """sRGB colours [..., 3] in [0, 1] moved by a CIELAB offset [dL*, da*, db*] (D65, scikit-image's
    conversion), clipped to the sRGB gamut."""
    from skimage.color import lab2rgb, rgb2lab

    a = np.clip(np.asarray(rgb, np.float64), 0, 1)
    lab = rgb2lab(a.reshape(-1, 1, 3)) + np.asarray(shift, np.float64).reshape(1, 1, 3)
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    return np.clip(lab2rgb(lab), 0, 1).reshape(a.shape).astype(np.asarray(rgb).dtype)


def _membership(cb, cr, s, gb, gr, sigma: float, light=None) -> np.ndarray:
    """How much pixels of chroma (``cb``, ``cr``) and shading ``s`` = Y / Y_ground look like the ground
    fabric of chroma (``gb``, ``gr``) (maps of the pixels' shape, or scalars), in [0, 1]. A shade of the
    ground (a fold, a shadow, a highlight; the camera's tone curve bends its chroma, and a shadow can
    tint it) keeps at least :data:`MEMBER_SHARE` of the chroma the ground has at that shading along the
    ground's direction; a print that is much less coloured than the ground there (a white or grey logo
    on a red shirt) or of an opposite hue does not. ``sigma``: the shortfall, in the chroma's units, at
    which membership falls to exp(-1/2). ``light``: the pixels' luma over the whole garment's ground luma
    (None: ``s``); a pixel :data:`MEMBER_LIGHTER` times lighter is half a member, much lighter none
    (``1 / (1 + (light / MEMBER_LIGHTER)^8)``)."""
    n = np.hypot(gb, gr)
    along = (cb * gb + cr * gr) / np.maximum(n, 1e-6)
    short = np.minimum(s, 1.0) * (MEMBER_SHARE * n)
    short -= along
    np.maximum(short, 0, out=short)
    short *= short
    short *= -0.5 / sigma ** 2
    u = np.exp(short, out=short)
    if MEMBER_LIGHTER:  # much lighter than the ground
        q = (s if light is None else light) * (1.0 / MEMBER_LIGHTER)
        q *= q
        q *= q
        q *= q
        q += 1.0
        u /= q
    return u


def member_margin(member_blur: float = MEMBER_BLUR) -> int:
    """Pixels of context a block needs on each side for :func:`recolour_pixels`' blurred membership to
    be the same as on the whole photo (to float precision: the kernel's 3-sigma radius)."""
    return int(np.ceil(3 * member_blur)) if member_blur > 0 else 0


def recolour_pixels(xs: np.ndarray, P: np.ndarray, Q: np.ndarray, member_blur: float = MEMBER_BLUR) -> np.ndarray:
    """The change of :func:`recolour_maps`'s transform at pixels ``xs`` (float32 [h,w,3], 0..255), the
    maps brought to those pixels: ``P`` [h,w,4] = (1/(255 Yx), Cx_b, Cx_r, g), ``Q`` [h,w,4] =
    (oY, Cy_b - Cx_b, Cy_r - Cx_r, 1/(255 Yg)). The membership map is blurred by ``member_blur`` px (reflected at the
    block's edge: callers working in blocks give a margin of :func:`member_margin` px and keep the
    inside). -> float32 [h,w,3], 0..255 units."""
    cv2 = _cv2()
    ycc = cv2.transform(xs, _YCC)  # planar maps from here on: a third of the time of [..., c] slices
    Y, Cb, Cr = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    inv, xb, xr, g = cv2.split(P)
    oY, qb, qr, invg = cv2.split(Q)
    s = Y * inv
    invg *= Y
    u = _membership(Cb, Cr, s, xb, xr, 255 * MEMBER_SIGMA, invg)
    if member_blur > 0:
        u = cv2.GaussianBlur(u, (0, 0), member_blur, borderType=cv2.BORDER_REFLECT)
    kk = 1 - CHROMA_DETAIL  # dC = s (Cy - Cx) - (1 - k) (C - s Cx)
    dCb = s * (qb + kk * xb) - kk * Cb
    dCr = s * (qr + kk * xr) - kk * Cr
    dY = (g - 1) * Y + oY
    M = _CBCR_TO_RGB
    d = cv2.merge([dY + M[0, 0] * dCb + M[0, 1] * dCr, dY + M[1, 0] * dCb + M[1, 1] * dCr,
                   dY + M[2, 0] * dCb + M[2, 1] * dCr])
    d *= u[..., None]
    return d


def reshape_maps(x: torch.Tensor, y: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """The smoothed change ``blur(y - x)`` at the model's resolution, [1,4,S,S] (0..255 units, 4th = 0)."""
    d = (y - x).detach().float().cpu()[0].permute(1, 2, 0).numpy()
    d = _gauss(np.ascontiguousarray(d), sigma) * 255
    return torch.from_numpy(np.concatenate([d, np.zeros_like(d[..., :1])], -1)).permute(2, 0, 1)[None]


def snap_mask(guide: np.ndarray, soft: np.ndarray, band: int, frame: int = 0,
              contrast: float | None = None) -> np.ndarray:
    """A coarse mask moved onto the photo's edges. ``soft``: the coarse mask upsampled (float in [0,1]).

    Pixels more than ``band`` px inside (outside) the mask's edge (``soft`` > 0.5) keep their label; in
    the band between, a pixel is garment when its colour is nearer the local mean colour of the sure
    garment than of the sure background (means over a window of radius ``max(2 * band, frame + band)``),
    or when no sure background is within reach. Where the two means differ by less than ``contrast``
    (RMS over RGB in [0,1], default :data:`SNAP_CONTRAST`: the coarse mask cut through one fabric)
    colour cannot tell, and the pixel keeps its ``soft`` value: a soft edge rather than a ragged one.

    ``frame``: the photo's outer ``frame`` px, where the coarse mask is background by construction
    (GrabCut's certain-background border): where the mask comes within ``band`` of it, those pixels
    are decided by colour too, so a garment that runs off the photo is not cut ``frame`` px short.
    ``guide``: float32 [h,w,3]. -> float32 [h,w] in [0,1]."""
    cv2 = _cv2()
    k = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    m8 = (soft > 0.5).astype(np.uint8)
    fg = cv2.erode(m8, k, borderType=cv2.BORDER_REPLICATE).astype(np.float32)
    near = cv2.dilate(m8, k, borderType=cv2.BORDER_REPLICATE)
    if frame > 0:
        h, w = soft.shape
        edge = np.ones((h, w), bool)
        edge[frame: h - frame, frame: w - frame] = False
        kf = np.ones((2 * (frame + band) + 1, 2 * (frame + band) + 1), np.uint8)
        near = np.maximum(near, (cv2.dilate(m8, kf, borderType=cv2.BORDER_REPLICATE) > 0) & edge)
    bg = 1 - near.astype(np.float32)
    r = max(2 * band, frame + band)
    nf, nb = _box(fg, r)[..., None], _box(bg, r)[..., None]
    mf = _box(guide * fg[..., None], r) / np.maximum(nf, 1e-6)
    mbg = _box(guide * bg[..., None], r) / np.maximum(nb, 1e-6)
    df, db = guide - mf, guide - mbg
    nearer = _dot3(df, df) < _dot3(db, db)
    has_f, has_b = nf[..., 0] > 1e-3, nb[..., 0] > 1e-3
    dm = mf - mbg
    contrast = SNAP_CONTRAST if contrast is None else contrast
    distinct = _dot3(dm, dm) > 3 * contrast ** 2
    decided = np.where(has_b, (nearer & has_f).astype(np.float32), has_f.astype(np.float32))
    decided = np.where(has_b & has_f & ~distinct, soft, decided)
    out = m8.astype(np.float32)
    unsure = (fg == 0) & (bg == 0)
    out[unsure] = decided[unsure]
    return out


def matte_coefficients(work: np.ndarray, mask: np.ndarray, radius: float = MATTE_RADIUS, eps: float = MATTE_EPS,
                       snap: bool = True, frame_border: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The garment matte's guided-filter coefficients on the working grid.

    ``work``: the photo on the working grid, uint8 [h,w,3]; ``mask``: the garment, float or bool,
    any size (resized to the grid, bilinear). ``snap`` (a binary mask from a coarser grid, such as
    GrabCut's 160 px): its edge is first moved onto the photo's (:func:`snap_mask`, in a band of two
    coarse pixels, and in GrabCut's certain-background frame where the mask reaches it, unless
    ``frame_border`` is False), then the coefficients are those of a narrow guided filter
    (:data:`EDGE_RADIUS`): a sharp matte, antialiased along the photo's edges. Without ``snap`` (a soft mask such as the
    attention): one guided filter of ``radius``. -> (a [h,w,3], b [h,w,1])."""
    cv2 = _cv2()
    h, w = work.shape[:2]
    scale = max(h / mask.shape[0], w / mask.shape[1])
    m = mask.astype(np.float32)
    if m.shape != (h, w):
        m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
    guide = work.astype(np.float32) / 255
    if snap:
        band = int(np.ceil(2 * max(scale, 1.0)))
        frame = int(np.ceil(GRABCUT_BORDER * min(mask.shape) * max(scale, 1.0))) if frame_border else 0
        m = snap_mask(guide, np.clip(m, 0, 1), band=band, frame=frame)
        r = max(1, round(EDGE_RADIUS * max(h, w)))
    else:
        r = max(1, round(radius * max(h, w)))
    a, b = guided_coefficients(guide, m, r, eps)
    return a, b[..., None]


def _square_colours(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, sigma: float):
    """What the outline maps compare, on the model's square: (xs, ys [S,S,3] the photo and the edit in
    [0,1], G, F [S,S,3] the photo's local garment and floor colours: Gaussian means over the mask
    ``weight`` and over the floor beyond its 2-px rim, leaning on their means over the square where
    little is nearby), or None when the square has no floor (or no garment) to tell them apart by."""
    cv2 = _cv2()
    xs, ys = (t.detach().float().cpu()[0].permute(1, 2, 0).numpy() for t in (x, y))
    w = np.ascontiguousarray(weight.detach().float().cpu()[0, 0].numpy())
    on = (w > 0.5).astype(np.uint8)
    floor = 1.0 - cv2.dilate(on, np.ones((5, 5), np.uint8)).astype(np.float32)  # the floor beyond a 2-px rim

    def local_mean(m):  # -> (local mean colour [S,S,3], whether there is any of m)
        tot = float(m.sum())
        glob = (xs * m[..., None]).sum((0, 1)) / max(tot, 1e-6)
        den = _gauss(np.ascontiguousarray(m), sigma)[..., None]
        loc = _gauss(np.ascontiguousarray(xs * m[..., None]), sigma) / np.maximum(den, 1e-6)
        lean = np.clip(den / 0.25, 0, 1)  # little of it nearby: lean on its mean over the square
        return lean * loc + (1 - lean) * glob, tot > 4

    G, has_g = local_mean(w)
    F, has_f = local_mean(floor)
    return (xs, ys, G, F) if has_g and has_f else None


def _ramp_map(v: np.ndarray, move: tuple[float, float], c2: np.ndarray) -> np.ndarray:
    """``v`` as a ramp from ``move[0]`` to ``move[1]``, 0 where garment and floor colours are closer than
    :data:`OUTLINE_CONTRAST` (colour cannot tell them apart), lightly smoothed."""
    lo, hi = move
    out = np.clip((v - lo) / (hi - lo), 0, 1)
    out[c2 <= 3 * OUTLINE_CONTRAST ** 2] = 0
    return _gauss(np.ascontiguousarray(out.astype(np.float32)), 1.0)


def _added(cols, a: torch.Tensor) -> torch.Tensor:
    """:func:`outline_added` from :func:`_square_colours`' result."""
    at = a.detach().float().cpu()
    if cols is None:  # no floor (or no garment) on the square to tell them apart: the attention
        return at.clone()
    xs, ys, G, F = cols
    dv = F - G
    c2 = (dv * dv).sum(-1)

    def floorness(im):  # the projection of (im - G) on (F - G): 0 at the garment's colour, 1 at the floor's
        return np.clip(((im - G) * dv).sum(-1) / np.maximum(c2, 1e-6), 0, 1)

    added = _ramp_map(floorness(xs) - floorness(ys), OUTLINE_MOVE, c2)
    return torch.from_numpy(np.ascontiguousarray(added))[None, None] * at


def _removed(cols, weight: torch.Tensor) -> torch.Tensor:
    """:func:`outline_removed` from :func:`_square_colours`' result."""
    if cols is None:
        return torch.ones_like(weight.detach().float().cpu())
    xs, ys, G, F = cols
    dv = F - G
    c2 = (dv * dv).sum(-1)
    closer = (np.linalg.norm(xs - F, axis=-1) - np.linalg.norm(ys - F, axis=-1)) / np.sqrt(np.maximum(c2, 1e-6))
    return torch.from_numpy(np.ascontiguousarray(_ramp_map(closer, REMOVE_MOVE, c2)))[None, None]


def outline_added(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, a: torch.Tensor,
                  sigma: float = OUTLINE_SIGMA) -> torch.Tensor:
    """Where an outline edit (sleeve, neckline) adds garment beyond the garment mask: floor that the
    edit turned towards the garment's colour. ``x``, ``y``: the photo and the edit [1,3,S,S];
    ``weight``: the garment mask on the square [1,1,S,S]; ``a``: the attention. Each pixel of ``x``
    and of ``y`` is placed on the line from the photo's local garment colour (``f`` = 0) to its local
    floor colour (``f`` = 1) (Gaussian means, ``sigma`` model pixels, over the mask and over the floor
    beyond its rim); a pixel that the edit moved towards the garment by more than
    :data:`OUTLINE_MOVE` of the way is new garment (a ramp between the two shares), times the
    attention (with no floor on the square to tell by: the attention). The faint tint a generator's
    attention leaves on the floor or the street is not, and keeps the photo's pixels. Where the two colours are closer than :data:`OUTLINE_CONTRAST`
    (RMS over RGB) colour cannot tell them apart: nothing is added. -> [1,1,S,S] in [0,1]."""
    return _added(_square_colours(x, y, weight, sigma), a)


def outline_removed(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor,
                    sigma: float = OUTLINE_SIGMA) -> torch.Tensor:
    """Where a sleeve edit takes garment away inside the garment mask: pixels that the edit brought
    closer to the local floor colour (RGB distance) by more than :data:`REMOVE_MOVE` of the distance
    between the local garment and floor colours (a ramp; arguments as :func:`outline_added`). A sleeve
    request may shorten a sleeve or take it off, which turns garment into floor; it has no business
    recolouring the fabric or its print, which is what the rest of a generator's change inside the
    garment does on photos (a darker or tinted patch is not floor, even when its direction leans
    towards the floor's colour). Without a floor on the square to tell by: 1 (the change is kept).
    -> [1,1,S,S] in [0,1]."""
    return _removed(_square_colours(x, y, weight, sigma), weight)


def _warp(src: np.ndarray, H: int, W: int, r0: int, r1: int, c0: int = 0, c1: int | None = None) -> np.ndarray:
    """Rows r0:r1, columns c0:c1 of ``src`` [h,w,4] resized to [H,W] (bilinear, pixel centres aligned, as
    ``cv2.resize``); ``src`` itself when it is already [H,W]."""
    c1 = W if c1 is None else c1
    h, w = src.shape[:2]
    if (h, w) == (H, W):
        return src[r0:r1, c0:c1]
    cv2 = _cv2()
    sx, sy = w / W, h / H
    M = np.array([[sx, 0, (c0 + 0.5) * sx - 0.5], [0, sy, (r0 + 0.5) * sy - 0.5]], np.float64)
    return cv2.warpAffine(src, M, (c1 - c0, r1 - r0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


_POOL = None


def worker_pool():
    """Threads for the full-resolution strips (at most 4, at most the CPU count), made on first use."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=pool_size(), thread_name_prefix="composite")
    return _POOL


def pool_size() -> int:
    """The threads of :func:`worker_pool`: the CPU count, at most 4."""
    import os

    return max(1, min(4, os.cpu_count() or 1))


def _support(maps: Maps, H: int, W: int) -> tuple[int, int, int, int]:
    """The full-resolution box (r0, r1, c0, c1) outside which the matte is 0: where the matte's
    coefficients (and, for outline edits, its lower bound) are not 0 on the working grid, one working
    pixel wider (bilinear upsampling reaches that far)."""
    h, w = maps.matte.shape[:2]
    live = (np.abs(maps.matte) > 1e-6).any(-1)
    if not maps.recolour:
        live |= maps.aux[..., 2] >= ZERO
    rows, cols = np.flatnonzero(live.any(1)), np.flatnonzero(live.any(0))
    if rows.size == 0:
        return 0, 0, 0, 0
    sy, sx = H / h, W / w
    return (max(0, int((rows[0] - 1) * sy)), min(H, int(np.ceil((rows[-1] + 2) * sy))),
            max(0, int((cols[0] - 1) * sx)), min(W, int(np.ceil((cols[-1] + 2) * sx))))


def apply(photo: np.ndarray, maps: Maps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The composite at the photo's resolution. ``photo``: uint8 [H,W,3].

    -> (edit uint8 [H,W,3], mask uint8 [H,W] (the matte times the attention), CAM uint8 [H,W]). Where
    the matte is 0 the edit's pixels are the photo's, bit for bit. Works in strips of
    :data:`STRIP_PIXELS` inside the box where the matte can be non-zero, and the colour only where it
    is: no full-size float map is made.
    """
    cv2 = _cv2()
    H, W = photo.shape[:2]
    out = photo.copy()
    mask = np.zeros((H, W), np.uint8)
    cam8 = (np.clip(maps.aux[..., 3], 0, 1) * 255 + 0.5).astype(np.uint8)
    cam = cam8 if cam8.shape == (H, W) else cv2.resize(cam8, (W, H), interpolation=cv2.INTER_LINEAR)
    R0, R1, C0, C1 = _support(maps, H, W)

    g = member_margin() if maps.recolour else 0  # photo around a strip for the blurred membership

    def strip(r0: int, r1: int) -> None:
        ra, rb, ca, cb = max(0, r0 - g), min(H, r1 + g), max(0, C0 - g), min(W, C1 + g)
        xe = photo[ra:rb, ca:cb].astype(np.float32)
        x = xe[r0 - ra: r1 - ra, C0 - ca: C1 - ca]
        mt, aux = _warp(maps.matte, H, W, r0, r1, C0, C1), _warp(maps.aux, H, W, r0, r1, C0, C1)
        m = np.einsum("hwc,hwc->hw", x, mt[..., :3])
        m *= 1 / 255
        m += mt[..., 3]
        if not maps.recolour:  # outline edits: the garment, and the floor the edit turned to garment
            np.maximum(m, aux[..., 2], out=m)
        np.clip(m, 0, 1, out=m)
        m[m < ZERO] = 0
        att = aux[..., 1] * m  # the attention is a sigmoid: in [0, 1]
        att *= 255
        att += 0.5
        mask[r0:r1, C0:C1] = att.astype(np.uint8)
        cols = np.flatnonzero(m.any(0))
        if cols.size == 0:
            return
        c0, c1 = int(cols[0]), int(cols[-1]) + 1
        xs, ms = x[:, c0:c1], m[:, c0:c1, None]
        if maps.recolour:  # on the block with its margin, then its inside
            a0, a1 = max(ca, C0 + c0 - g), min(cb, C0 + c1 + g)
            d = recolour_pixels(xe[:, a0 - ca: a1 - ca], _warp(maps.change, H, W, ra, rb, a0, a1),
                                _warp(maps.shift, H, W, ra, rb, a0, a1))
            d = np.ascontiguousarray(d[r0 - ra: r1 - ra, C0 + c0 - a0: C0 + c1 - a0])
        else:
            d = _warp(maps.change, H, W, r0, r1, C0 + c0, C0 + c1)[..., :3].copy()
        d *= ms
        d += xs
        d += 0.5
        np.clip(d, 0, 255, out=d)
        out[r0:r1, C0 + c0: C0 + c1] = d.astype(np.uint8)

    step = max(1, STRIP_PIXELS // max(1, C1 - C0))
    if (R1 - R0) * (C1 - C0) >= PARALLEL_PIXELS:  # every core gets a strip
        step = min(step, -(-(R1 - R0) // pool_size()))
    spans = [(r0, min(R1, r0 + step)) for r0 in range(R0, R1, step)]
    if len(spans) > 1:  # numpy and OpenCV release the GIL: strips run on the CPU's cores at once
        list(worker_pool().map(lambda sp: strip(*sp), spans))
    else:
        for sp in spans:
            strip(*sp)
    return out, mask, cam


def composite(photo: np.ndarray, work: np.ndarray, x: torch.Tensor, y: torch.Tensor, a: torch.Tensor,
              geometry: tuple, garment: np.ndarray | None, *, recolour: bool,
              cam: torch.Tensor | None = None, spread: float = 0.0,
              shift=None, neutral: bool = False, removal_only: bool = False,
              region: np.ndarray | None = None, matte: tuple[np.ndarray, np.ndarray] | Future | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edit at the photo's resolution (see the module doc).

    ``photo``: uint8 [H,W,3]; ``work``: the photo on the working grid (:func:`work_size`), uint8;
    ``x``, ``y``, ``a``: the model input, the edit and its attention, [1,C,S,S]; ``geometry``: where
    the photo sits in the square (in the units of the image the processor was given); ``garment``:
    the garment mask (bool or float, any size; None = none found: the attention is the matte);
    ``recolour``: colour/pattern edits (True) or outline edits (False); ``cam``: a [1,1,S,S] map
    brought to full size too; ``spread``, ``shift``, ``neutral``: see :func:`recolour_maps` (recolour only);
    ``removal_only`` (outline edits with a garment mask: sleeve requests): inside the garment only the change
    that turns garment into floor is kept (:func:`outline_removed`). ``region`` (recolour, with a garment): the part
    of the garment to change (bool, the garment's grid: the sleeves or the torso of a region edit); the colour
    transform is still measured over the whole garment, the matte is the region's. ``matte``: the garment's
    ``matte_coefficients(work, garment)`` when already found, or a future of them (the editor's worker thread
    computes them while the colour transform is made here; waited for last). -> (edit uint8 [H,W,3], mask uint8 [H,W] (the attention times the
    garment matte; without a garment, the matte made from the attention), CAM uint8 [H,W] (zeros
    without ``cam``)).
    """
    if region is not None and (garment is None or not recolour):
        raise ValueError("a region is part of a garment mask, for recolour edits")
    h, w = work.shape[:2]
    S = x.shape[-1]
    x0, y0, gw, gh, side = geometry
    if garment is not None:  # the garment on the model's square: the colour means are taken over it
        cv2 = _cv2()
        gsize = (max(1, round(gh * S / side)), max(1, round(gw * S / side)))
        sq = np.zeros((S, S), np.float32)
        px, py = round(x0 * S / side), round(y0 * S / side)
        gs = cv2.resize(garment.astype(np.float32), (min(gsize[1], S - px), min(gsize[0], S - py)),
                        interpolation=cv2.INTER_AREA)
        sq[py: py + gs.shape[0], px: px + gs.shape[1]] = gs
        weight = torch.from_numpy(sq)[None, None]
    else:
        weight = a.detach().float().cpu()
    a = a.detach().float().cpu()
    zero = torch.zeros_like(a)
    # aux: K, what the returned mask multiplies the matte by (the attention; without a garment the
    # matte is the attention itself), the matte's lower bound (outline edits: outline_added), the CAM
    shown = a if garment is not None else torch.ones_like(a)
    c = zero if cam is None else cam.detach().float().cpu()
    shift_w = None
    if recolour:
        change = recolour_maps(x, y, weight, spread=spread, shift=shift, attention=a, neutral=neutral)
        shift_w = to_grid(change[:, 4:], geometry, (h, w))
        change = change[:, :4]
        aux = torch.cat([zero, shown, zero, c], 1)
    else:
        change = reshape_maps(x, y)
        cols = None if garment is None else _square_colours(x, y, weight, OUTLINE_SIGMA)  # once for both maps
        added = zero if garment is None else _added(cols, a)  # no garment: the attention is the matte
        if removal_only and garment is not None:  # inside the garment: only garment turned to floor
            inside = (weight / 0.25).clamp(0, 1)  # the mask's soft rim on the square counts as inside
            change = change * (1 - inside * (1 - _removed(cols, weight)))
        aux = torch.cat([zero, shown, added, c], 1)
    change_w, aux_w = to_grid(change, geometry, (h, w)), to_grid(aux, geometry, (h, w))
    if matte is not None:
        if garment is None or region is not None:
            raise ValueError("a precomputed matte is the whole garment's")
        ma, mb = matte.result() if isinstance(matte, Future) else matte
    elif garment is not None:
        ma, mb = matte_coefficients(work, garment if region is None else region)
    else:  # no garment mask: the attention, upsampled along the photo's edges, is the matte
        ma, mb = matte_coefficients(work, to_grid(a, geometry, (h, w))[..., 0], snap=False)
    maps = Maps(matte=np.ascontiguousarray(np.concatenate([ma, mb], -1)), change=change_w, aux=aux_w,
                recolour=recolour, shift=shift_w)
    return apply(photo, maps)
