"""SynthFashion: a procedural catalogue of tops and dresses with exact ground truth.

``render(spec, view, size)`` draws one garment at ``ss`` times the output size with
PIL polygons, shades and textures it with numpy, and box-downsamples it (the
anti-aliasing). It returns an RGB uint8 image and a region label map
(:data:`REGIONS`). Everything is a pure function of ``(spec, view, view_seed, size)``,
so ``render(spec.with_(color="red"), ...)`` is the exact ground truth of the edit
"make it red".

Layering keeps edits local, which the tests check: sleeves are painted *under* the
torso and shaded from their own mask, so a sleeve edit changes only sleeve and
background pixels; the colour and pattern never change geometry.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from amgan.attributes import SYNTH_SCHEMA

__all__ = ["ProductSpec", "render", "sample_specs", "REGIONS", "REGION_NAMES", "COLOR_RGB", "VIEWS"]

REGION_NAMES = ("background", "torso", "sleeves", "neckline", "skirt")
REGIONS = {n: i for i, n in enumerate(REGION_NAMES)}
VIEWS = ("shop", "street")

COLOR_RGB = {
    "black": (0.13, 0.13, 0.14),
    "white": (0.97, 0.97, 0.95),
    "gray": (0.55, 0.55, 0.56),
    "red": (0.80, 0.10, 0.12),
    "orange": (0.95, 0.50, 0.10),
    "yellow": (0.96, 0.85, 0.20),
    "green": (0.20, 0.60, 0.22),
    "teal": (0.05, 0.55, 0.55),
    "blue": (0.15, 0.30, 0.80),
    "purple": (0.50, 0.20, 0.62),
    "pink": (0.96, 0.55, 0.72),
    "brown": (0.48, 0.30, 0.16),
}
_LIGHT = {"white", "yellow", "pink", "orange"}


@dataclass(frozen=True)
class ProductSpec:
    """One catalogue product: its attribute values and a seed for hidden parameters."""

    product_id: str
    category: str
    color: str
    pattern: str
    sleeve: str
    neckline: str
    seed: int

    def __post_init__(self):
        SYNTH_SCHEMA.encode(self.attrs())  # validates every value

    def attrs(self) -> dict[str, str]:
        return {g: getattr(self, g) for g in SYNTH_SCHEMA.names}

    def with_(self, **changes) -> "ProductSpec":
        """The same product with some attributes changed (hidden parameters kept)."""
        return dataclasses.replace(self, **changes)


def sample_specs(n: int, seed: int, prefix: str = "p") -> list[ProductSpec]:
    """``n`` products with uniformly drawn attribute values, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        vals = {g.name: g.values[rng.integers(len(g))] for g in SYNTH_SCHEMA.groups}
        out.append(ProductSpec(product_id=f"{prefix}{i:06d}", seed=int(rng.integers(2**31)), **vals))
    return out


# ---------------------------------------------------------------------------
# hidden per-product parameters
@dataclass(frozen=True)
class _Hidden:
    shoulder: float  # half-width of shoulders
    neck_w: float
    neck_y: float
    shoulder_y: float
    armpit_y: float
    waist: float
    hem_w: float
    hem_y: float
    skirt_w: float
    skirt_y: float
    sleeve_angle: float
    sleeve_w: float
    shade: np.ndarray  # multiplicative shade jitter on the base colour
    pat_scale: float
    pat_phase: tuple
    pat_angle: float
    folds: tuple
    light: tuple
    bg: float


def _hidden(spec: ProductSpec) -> _Hidden:
    r = np.random.default_rng(spec.seed)
    u = lambda a, b: float(r.uniform(a, b))  # noqa: E731
    sh = u(0.165, 0.20)
    dress = spec.category == "dress"
    return _Hidden(
        shoulder=sh,
        neck_w=u(0.055, 0.07),
        neck_y=u(0.13, 0.16),
        shoulder_y=u(0.19, 0.21),
        armpit_y=u(0.33, 0.36),
        waist=sh * u(0.80, 0.90) if dress else sh * u(0.92, 1.0),
        hem_w=sh * u(0.95, 1.06),
        hem_y=u(0.70, 0.78),
        skirt_w=u(0.25, 0.32),
        skirt_y=u(0.86, 0.92),
        sleeve_angle=math.radians(u(56, 68)),
        sleeve_w=u(0.085, 0.10),
        shade=np.array([u(0.9, 1.08), u(0.9, 1.08), u(0.9, 1.08)]) * u(0.92, 1.06),
        pat_scale=u(0.85, 1.2),
        pat_phase=(u(0, 1), u(0, 1)),
        pat_angle=math.radians(u(-10, 10)) + (math.pi / 2 if r.random() < 0.35 else 0.0),
        folds=tuple((u(0.35, 0.65), u(0.01, 0.03), u(4, 9), u(0.06, 0.16)) for _ in range(int(r.integers(3, 6)))),
        light=(u(-0.6, 0.6), u(-1.0, -0.3)),
        bg=u(0.92, 0.98),
    )


# ---------------------------------------------------------------------------
# geometry, in unit coordinates (x right, y down)
def _arc(cx, cy, rx, ry, a0, a1, n=16):
    t = np.linspace(a0, a1, n)
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


def _neck_opening(h: _Hidden, neckline: str):
    cx = 0.5
    if neckline == "v_neck":
        return [(cx - h.neck_w, h.neck_y - 0.03), (cx, h.neck_y + 0.12), (cx + h.neck_w, h.neck_y - 0.03)]
    depth = 0.055 if neckline == "round" else 0.04
    return _arc(cx, h.neck_y - 0.03, h.neck_w, depth + 0.03, 0, math.pi, 20)[::-1]


def _torso(h: _Hidden, category: str):
    cx, s = 0.5, h.shoulder
    right = [
        (cx + h.neck_w, h.neck_y - 0.03),
        (cx + s, h.shoulder_y),
        (cx + s * 0.96, h.armpit_y),
    ]
    if category == "dress":
        wy = h.armpit_y + 0.12
        right += [(cx + h.waist, wy)]
        bottom_y = wy + 0.02
        right += [(cx + h.waist * 1.02, bottom_y)]
    else:
        right += [(cx + h.waist, (h.armpit_y + h.hem_y) / 2), (cx + h.hem_w, h.hem_y)]
        bottom_y = h.hem_y
    left = [(2 * cx - x, y) for x, y in right]
    hem = [(x, bottom_y + 0.012 * math.cos((x - cx) * 6)) for x in np.linspace(right[-1][0], left[-1][0], 12)]
    return right + hem + left[::-1], bottom_y


def _skirt(h: _Hidden, top_y: float):
    cx = 0.5
    wy = top_y - 0.02
    pts = [(cx + h.waist * 1.02, wy), (cx + h.skirt_w, h.skirt_y)]
    pts += [(x, h.skirt_y + 0.02 * math.cos((x - cx) * 5)) for x in np.linspace(cx + h.skirt_w, cx - h.skirt_w, 14)]
    pts += [(cx - h.waist * 1.02, wy)]
    return pts


def _sleeve(h: _Hidden, sleeve: str, side: int):
    if sleeve == "sleeveless":
        return None
    cx, s = 0.5, h.shoulder
    length = 0.13 if sleeve == "short" else 0.42
    d = np.array([math.cos(h.sleeve_angle), math.sin(h.sleeve_angle)])
    top = np.array([cx + s - 0.01, h.shoulder_y - 0.005])
    pit = np.array([cx + s * 0.96 - 0.02, h.armpit_y + 0.01])
    # cross direction (perpendicular to d, pointing up/outward)
    n = np.array([d[1], -d[0]])
    w_end = h.sleeve_w * (1.05 if sleeve == "short" else 0.72)
    end_mid = (top + pit) / 2 + d * length
    e1 = end_mid + n * w_end / 2
    e2 = end_mid - n * w_end / 2
    pts = [top, e1, e2, pit]
    if side < 0:
        pts = [(2 * cx - p[0], p[1]) for p in pts]
    return [tuple(map(float, p)) for p in pts]


def _collar(h: _Hidden, side: int):
    cx = 0.5
    pts = [(cx, h.neck_y + 0.035), (cx + h.neck_w + 0.015, h.neck_y - 0.035), (cx + h.neck_w * 0.9, h.neck_y + 0.05),
           (cx + 0.015, h.neck_y + 0.07)]
    if side < 0:
        pts = [(2 * cx - x, y) for x, y in pts]
    return pts


def _regions(spec: ProductSpec, h: _Hidden, W: int) -> np.ndarray:
    """Region label map at the working resolution ``W``; painter's order keeps edits local."""
    img = Image.new("L", (W, W), 0)
    d = ImageDraw.Draw(img)
    sc = lambda pts: [(x * W, y * W) for x, y in pts]  # noqa: E731
    for side in (1, -1):
        sl = _sleeve(h, spec.sleeve, side)
        if sl:
            d.polygon(sc(sl), fill=REGIONS["sleeves"])
    torso, bottom = _torso(h, spec.category)
    if spec.category == "dress":
        d.polygon(sc(_skirt(h, bottom)), fill=REGIONS["skirt"])
    d.polygon(sc(torso), fill=REGIONS["torso"])
    opening = _neck_opening(h, spec.neckline)
    trim = 0.014
    if spec.neckline == "collar":
        d.polygon(sc(opening), fill=REGIONS["background"])
        for side in (1, -1):
            d.polygon(sc(_collar(h, side)), fill=REGIONS["neckline"])
    else:
        # a ribbed trim band: the opening grown by ``trim``, then the opening cut out
        cy = sum(p[1] for p in opening) / len(opening)
        grown = [(0.5 + (x - 0.5) * (1 + trim / h.neck_w), y + trim * (1 if y > cy else -0.3)) for x, y in opening]
        d.polygon(sc(grown), fill=REGIONS["neckline"])
        d.polygon(sc(opening), fill=REGIONS["background"])
    return np.asarray(img)


# ---------------------------------------------------------------------------
# colour, pattern and shading
def _secondary(color: str) -> np.ndarray:
    base = np.array(COLOR_RGB[color])
    if color in _LIGHT or color == "gray":
        return base * 0.45
    return base * 0.3 + 0.7 * np.array([0.97, 0.96, 0.93])


def _pattern_weight(pattern: str, h: _Hidden, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Weight in [0, 1] of the secondary colour at each point (0 = base colour)."""
    if pattern == "solid":
        return np.zeros_like(X)
    ca, sa = math.cos(h.pat_angle), math.sin(h.pat_angle)
    U = X * ca + Y * sa
    V = -X * sa + Y * ca
    p0, p1 = h.pat_phase
    if pattern == "striped":
        period = 0.075 * h.pat_scale
        return (((U / period + p0) % 1.0) < 0.38).astype(np.float32)
    if pattern == "checked":
        period = 0.10 * h.pat_scale
        a = ((U / period + p0) % 1.0) < 0.3
        b = ((V / period + p1) % 1.0) < 0.3
        return np.clip(a.astype(np.float32) * 0.75 + b * 0.75, 0, 1)
    if pattern == "dotted":
        sp = 0.075 * h.pat_scale
        gu, gv = U / sp + p0, V / sp + p1
        gu = gu + 0.5 * (np.floor(gv) % 2)
        du, dv = (gu % 1.0) - 0.5, (gv % 1.0) - 0.5
        return ((du * du + dv * dv) < 0.30**2).astype(np.float32)
    if pattern == "floral":
        sp = 0.13 * h.pat_scale
        gu, gv = U / sp + p0, V / sp + p1
        gu = gu + 0.5 * (np.floor(gv) % 2)
        du, dv = (gu % 1.0) - 0.5, (gv % 1.0) - 0.5
        r = np.sqrt(du * du + dv * dv)
        th = np.arctan2(dv, du)
        petal = r < 0.17 + 0.15 * np.cos(5 * th) ** 2
        centre = r < 0.09
        return np.where(centre, 0.0, petal.astype(np.float32))
    raise ValueError(f"unknown pattern {pattern!r}")


def _edge_shade(mask: np.ndarray, ss: int) -> np.ndarray:
    """1 inside, darker near the mask's edge (cloth turning away from the light)."""
    m = Image.fromarray((mask * 255).astype(np.uint8))
    b = np.asarray(m.filter(ImageFilter.BoxBlur(2 * ss)), dtype=np.float32) / 255.0
    return 0.78 + 0.22 * np.clip((b - 0.5) * 2.0, 0, 1)


def _garment_rgb(spec: ProductSpec, h: _Hidden, regions: np.ndarray, ss: int) -> np.ndarray:
    W = regions.shape[0]
    t = (np.arange(W, dtype=np.float32) + 0.5) / W
    X, Y = np.meshgrid(t, t)
    base = np.clip(np.array(COLOR_RGB[spec.color]) * h.shade, 0, 1).astype(np.float32)
    sec = _secondary(spec.color).astype(np.float32)
    w = _pattern_weight(spec.pattern, h, X, Y)[..., None]
    rgb = base * (1 - w) + sec * w
    # trim and collar: a flat band of a related shade
    trim = regions == REGIONS["neckline"]
    trim_rgb = base * 0.72 if spec.neckline != "collar" else np.clip(base * 0.6 + 0.4 * 0.95, 0, 1)
    rgb[trim] = trim_rgb
    # shading: light gradient, folds, and edges per region (independent of other regions)
    lx, ly = h.light
    light = 1.0 + 0.10 * (lx * (X - 0.5) + ly * (Y - 0.5))
    fold = np.ones_like(X)
    for fx, amp, freq, depth in h.folds:
        cx = fx + amp * np.sin(Y * freq * math.pi)
        fold -= depth * np.exp(-(((X - cx) / 0.012) ** 2)) * (Y > 0.3)
    shade = light * fold
    for name in ("torso", "sleeves", "skirt"):
        m = regions == REGIONS[name]
        if m.any():
            shade = np.where(m, shade * _edge_shade(m.astype(np.float32), ss), shade)
    return np.clip(rgb * shade[..., None], 0, 1)


# ---------------------------------------------------------------------------
# views
def _shop_background(h: _Hidden, W: int) -> np.ndarray:
    t = np.linspace(0, 1, W, dtype=np.float32)[:, None, None]
    bg = (h.bg - 0.03 * t) * np.ones((W, W, 3), np.float32)
    return bg


def _street_background(rng: np.random.Generator, W: int) -> np.ndarray:
    c0, c1 = rng.uniform(0.15, 0.85, 3), rng.uniform(0.15, 0.85, 3)
    t = np.linspace(0, 1, W, dtype=np.float32)[:, None, None]
    bg = (c0 * (1 - t) + c1 * t) * np.ones((W, W, 3), np.float32)
    img = Image.fromarray((bg * 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 14))):
        col = tuple(int(v) for v in rng.integers(20, 235, 3))
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * W
        w, hh = rng.uniform(0.08, 0.5, 2) * W
        if rng.random() < 0.5:
            d.rectangle([x0, y0, x0 + w, y0 + hh], fill=col)
        else:
            d.ellipse([x0, y0, x0 + w, y0 + hh], fill=col)
    return np.asarray(img, dtype=np.float32) / 255.0


def _street_transform(rng: np.random.Generator, W: int):
    """Perspective coefficients mapping output pixels to source pixels (PIL convention)."""
    scale = rng.uniform(0.72, 0.95)
    ang = math.radians(rng.uniform(-14, 14))
    tx, ty = rng.uniform(-0.08, 0.08, 2) * W
    c = W / 2
    src = np.array([[0, 0], [W, 0], [W, W], [0, W]], np.float64)
    # destination corners: rotate/scale about the centre, translate, jitter corners (perspective)
    R = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]]) * scale
    dst = (src - c) @ R.T + c + [tx, ty] + rng.uniform(-0.04, 0.04, (4, 2)) * W
    # solve for the transform dst -> src (PIL wants output->input)
    A, b = [], []
    for (x, y), (u, v) in zip(dst, src):
        A.append([x, y, 1, 0, 0, 0, -u * x, -u * y]); b.append(u)  # noqa: E702
        A.append([0, 0, 0, x, y, 1, -v * x, -v * y]); b.append(v)  # noqa: E702
    return tuple(np.linalg.solve(np.array(A), np.array(b)))


def _downsample(rgb: np.ndarray, regions: np.ndarray, size: int, ss: int):
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((size, size), Image.BOX)
    reg = regions[ss // 2 :: ss, ss // 2 :: ss][:size, :size]
    return np.asarray(img), np.ascontiguousarray(reg)


def render(spec: ProductSpec, view: str = "shop", size: int = 64, view_seed: int = 0, ss: int = 3):
    """Render ``spec`` -> (RGB uint8 [size, size, 3], region labels uint8 [size, size]).

    ``view_seed`` picks the street scene (background, pose, lighting, occluder); the
    shop view ignores it. The same arguments always give the same pixels.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; valid views: {', '.join(VIEWS)}")
    if not (16 <= size <= 1024):
        raise ValueError(f"size must be between 16 and 1024 pixels, got {size}")
    h = _hidden(spec)
    W = size * ss
    regions = _regions(spec, h, W)
    garment = _garment_rgb(spec, h, regions, ss)
    if view == "shop":
        rgb = np.where((regions > 0)[..., None], garment, _shop_background(h, W))
        return _downsample(rgb, regions, size, ss)

    rng = np.random.default_rng([spec.seed, view_seed, 7])
    bg = _street_background(rng, W)
    coeffs = _street_transform(rng, W)
    g_img = Image.fromarray((garment * 255 + 0.5).astype(np.uint8))
    alpha = Image.fromarray(((regions > 0) * 255).astype(np.uint8))
    g_img = np.asarray(g_img.transform((W, W), Image.PERSPECTIVE, coeffs, Image.BILINEAR), np.float32) / 255
    a = np.asarray(alpha.transform((W, W), Image.PERSPECTIVE, coeffs, Image.BILINEAR), np.float32)[..., None] / 255
    reg = np.asarray(Image.fromarray(regions).transform((W, W), Image.PERSPECTIVE, coeffs, Image.NEAREST)).copy()
    rgb = g_img * a + bg * (1 - a)
    # occluder: a bag, an arm, a passer-by (covers part of the garment)
    if rng.random() < 0.6:
        occ = Image.new("L", (W, W), 0)
        d = ImageDraw.Draw(occ)
        x0 = rng.uniform(0.05, 0.75) * W
        y0 = rng.uniform(0.35, 0.85) * W
        w, hh = rng.uniform(0.12, 0.25) * W, rng.uniform(0.12, 0.3) * W
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x0 + w, y0 + hh], fill=255)
        om = np.asarray(occ) > 127
        col = rng.uniform(0.05, 0.9, 3).astype(np.float32)
        rgb[om] = col * (0.85 + 0.15 * rng.random())
        reg[om] = REGIONS["background"]
    # lighting and colour cast, then camera blur and noise at the output size
    cast = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.75, 1.12)
    rgb = np.clip(rgb * cast, 0, 1)
    out, reg = _downsample(rgb, reg, size, ss)
    sigma = rng.uniform(0.3, 1.0) * size / 64
    out = Image.fromarray(out).filter(ImageFilter.GaussianBlur(sigma))
    noisy = np.asarray(out, np.float32) + rng.normal(0, rng.uniform(2, 7), (size, size, 3))
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8), reg
