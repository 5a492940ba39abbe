"""The one image path: every door (Editor, Retriever, CLIs, demo, training and evaluation
data loading) turns a photo into model input with an :class:`ImageProcessor`.

    proc = ImageProcessor(size=64)
    rgb = proc.load("shirt.jpg")          # decoded, EXIF-oriented, RGB (alpha on white), checked
    t = proc.preprocess(rgb)              # Prepared: tensor [1,3,S,S] in [0,1], the RGB, geometry
    full = proc.restore(mask_small, t.geometry)   # a model-resolution map back on the photo's grid

Steps, in order: decode (path, bytes, file object, PIL image or HxW[xC] array), EXIF
orientation (a phone photo stored sideways is turned upright), mode (RGBA/LA/P with
transparency composited on white, everything else converted to RGB), size checks
(:data:`MIN_SIDE`..:data:`MAX_PIXELS`), pad to a square with the median colour of the
border (catalogue and floor photos have plain surroundings, so the padding adds no
edges), resample to ``size`` (``resample``; PIL filters are antialiased when shrinking),
and scale to [0,1]. A processor is saved with every model (``to_dict``/``from_dict``
in its ``config.json``) so that each door rebuilds the same one.

``view="garment"`` (the photo search embedder's input, ``fir train-photo`` with
``data.input_view: garment``): before the square, the photo's background beyond the garment is
whited out and the photo cropped to the garment (:func:`garment_view`). The garment's mask is
the one given (a data set's annotator mask) or, when none is, the annotator's own GrabCut mask of
the photo (:func:`amgan.data.garment_mask.garment_mask`), so a query and the catalogue it is
searched in are cut the same way.

Mistakes a user can fix (not an image, truncated, too small, too large) raise
:class:`amgan.errors.ImageError` with a one-line message.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from amgan.errors import ImageError, first_line

__all__ = ["ImageProcessor", "Prepared", "to_rgb", "open_image", "garment_view", "MIN_SIDE", "MAX_PIXELS", "RESAMPLE",
           "VIEWS"]

MIN_SIDE = 16
MAX_PIXELS = 40_000_000  # 40 megapixels; larger files are refused before they are decoded
RESAMPLE = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS, "box": Image.BOX}
VIEWS = ("whole", "garment")  # ImageProcessor.view: the whole photo, or the garment alone (garment_view)
GARMENT_PAD = 0.05  # garment_view: the crop's margin around the garment's box, fraction of the photo's long side
GARMENT_EDGE = 2.0  # ... the soft edge of the whiting-out (Gaussian sigma, px of the photo)
GARMENT_SIDE = 1024  # ... a photo with a longer side is brought down to this first (the model sees 128-256 px)


def _check_size(w: int, h: int, name: str = "image") -> None:
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{name} is {w}x{h}; both sides must be at least {MIN_SIDE} pixels")
    if w * h > MAX_PIXELS:
        raise ImageError(f"{name} is {w}x{h} ({w * h / 1e6:.0f} megapixels); at most "
                         f"{MAX_PIXELS // 1_000_000} megapixels are accepted")


def open_image(source) -> Image.Image:
    """Decode a path, bytes or binary file object into a loaded PIL image, EXIF-oriented.

    The size is checked from the header before any pixel is decoded, so a decompression
    bomb is refused cheaply; unreadable and truncated files are :class:`ImageError`.
    """
    name = str(source) if isinstance(source, (str, Path)) else "image"
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists():
            raise ImageError(f"image not found: {p}")
        if not p.is_file():
            raise ImageError(f"not a file: {p}")
        fobj = open(p, "rb")  # noqa: SIM115 - closed below
    elif isinstance(source, (bytes, bytearray, memoryview)):
        fobj = io.BytesIO(bytes(source))
    elif hasattr(source, "read"):
        fobj = source
    else:
        raise ImageError(f"expected an image path, bytes or a file object, got {type(source).__name__}")
    try:
        try:
            im = Image.open(fobj)
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as e:
            raise ImageError(f"{name}: not a readable image ({first_line(e, 120)})") from None
        _check_size(*im.size, name=name)
        try:
            im.load()
            return ImageOps.exif_transpose(im)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise ImageError(f"{name}: the image data cannot be decoded ({first_line(e, 120)})") from None
    finally:
        if isinstance(source, (str, Path)):
            fobj.close()


def to_rgb(image) -> Image.Image:
    """Any accepted input (see :func:`open_image`, or a PIL image / HxW[xC] array) -> checked,
    upright RGB PIL image; transparency is composited on white."""
    if isinstance(image, (str, Path, bytes, bytearray, memoryview)) or hasattr(image, "read"):
        image = open_image(image)
    elif isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            if not np.issubdtype(arr.dtype, np.floating):
                raise ImageError(f"image arrays must be uint8 or float in [0,1], got {arr.dtype}")
            if not np.isfinite(arr).all():
                raise ImageError("image array has NaN or infinite values")
            arr = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4)):
            image = Image.fromarray(arr.squeeze(-1) if arr.ndim == 3 and arr.shape[2] == 1 else arr)
        else:
            raise ImageError(f"image array must be HxW, HxWx1, HxWx3 or HxWx4, got shape {arr.shape}")
    elif isinstance(image, Image.Image):
        image = ImageOps.exif_transpose(image)
    else:
        raise ImageError(f"expected an image (path, bytes, PIL image or numpy array), got {type(image).__name__}")
    _check_size(*image.size)
    if image.mode.startswith("I") or image.mode == "F":
        image = _to_8bit(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return image.convert("RGB")


def _to_8bit(image: Image.Image) -> Image.Image:
    """A one-channel 16-bit, 32-bit integer or float image -> 8-bit grey ("L") by its value range
    (PIL's own conversion clips at 255, so a 16-bit photo would come out white): 16-bit modes and
    integers above 255 are scaled from 0..65535, floats from 0..1 when they stay within it (else
    from 0..255, or 0..65535 above 255)."""
    arr = np.asarray(image)
    if image.mode == "F":
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise ImageError("image has NaN or infinite values")
        top = float(arr.max()) if arr.size else 0.0
        scale = 255.0 if top <= 1.0 else (1.0 if top <= 255.0 else 255.0 / 65535.0)
        arr = arr * scale
    else:
        arr = arr.astype(np.float64)
        if image.mode.startswith("I;16") or (arr.size and float(arr.max()) > 255):
            arr = arr * (255.0 / 65535.0)
    return Image.fromarray((np.clip(arr, 0, 255) + 0.5).astype(np.uint8), mode="L")


def _mask_array(mask, size: tuple[int, int]) -> np.ndarray:
    """A garment mask (path, PIL image or array; > 0 = garment) -> bool [h, w] at ``size`` (w, h)."""
    if isinstance(mask, (str, Path)):
        try:
            with Image.open(mask) as m:
                mask = np.asarray(m.convert("L"))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise ImageError(f"garment mask {mask}: not a readable image ({first_line(e, 120)})") from None
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ImageError(f"a garment mask must be one channel (HxW), got shape {arr.shape}")
    if arr.shape != (size[1], size[0]):
        arr = np.asarray(Image.fromarray((arr > 0).astype(np.uint8) * 255).resize(size, Image.NEAREST))
    return arr > 0


def garment_view(image, mask=None) -> Image.Image:
    """The garment alone: the photo (any accepted input) with its background whited out beyond the garment
    (a soft :data:`GARMENT_EDGE`-px edge) and cropped to the garment's box plus :data:`GARMENT_PAD` of the long
    side. ``mask``: the garment (path, PIL image or array, > 0 = garment; resized to the photo if needed), None
    for the annotator's GrabCut mask of the photo, or False for none (a data set's row whose annotator found no
    garment). The photo itself (brought down to :data:`GARMENT_SIDE` px if
    larger) when no garment is found: an empty mask, or a GrabCut mask under the annotator's
    ``MIN_MASK_FRACTION`` of the photo (it found a print, not the garment)."""
    import cv2

    rgb = to_rgb(image)
    if max(rgb.size) > GARMENT_SIDE:
        s = GARMENT_SIDE / max(rgb.size)
        rgb = rgb.resize((max(1, round(rgb.width * s)), max(1, round(rgb.height * s))), Image.BICUBIC,
                         reducing_gap=None)
    if mask is False:
        return rgb
    if mask is None:
        from amgan.data.annotate import MIN_MASK_FRACTION
        from amgan.data.garment_mask import garment_mask

        m = garment_mask(rgb)
        if m.mean() < MIN_MASK_FRACTION:
            return rgb
    else:
        m = _mask_array(mask, rgb.size)
    if not m.any():
        return rgb
    soft = cv2.GaussianBlur(m.astype(np.float32), (0, 0), GARMENT_EDGE, borderType=cv2.BORDER_REFLECT)[..., None]
    out = Image.fromarray((np.asarray(rgb, np.float32) * soft + 255 * (1 - soft) + 0.5).astype(np.uint8))
    ys, xs = np.nonzero(m)
    p = int(GARMENT_PAD * max(rgb.size))
    x0, x1 = _span(int(xs.min()) - p, int(xs.max()) + 1 + p, rgb.width)
    y0, y1 = _span(int(ys.min()) - p, int(ys.max()) + 1 + p, rgb.height)
    return out.crop((x0, y0, x1, y1))


def _span(a: int, b: int, n: int) -> tuple[int, int]:
    """[a, b) kept inside [0, n) and widened about its middle to at least :data:`MIN_SIDE` (n >= MIN_SIDE)."""
    a, b = max(0, a), min(n, b)
    if b - a < MIN_SIDE:
        a = min(max(0, (a + b - MIN_SIDE) // 2), n - MIN_SIDE)
        b = a + MIN_SIDE
    return a, b


class Prepared(NamedTuple):
    tensor: torch.Tensor  # [1,3,S,S] float in [0,1]
    rgb: Image.Image  # the upright RGB input at its own size
    geometry: tuple  # (x0, y0, w, h, side): where the input sits in the padded square


@dataclass(frozen=True)
class ImageProcessor:
    """Photo -> model input, and model-resolution maps -> the photo's grid. See the module doc."""

    size: int = 64
    resample: str = "bicubic"
    pad: str = "border_median"  # the square's fill: the median colour of the image border
    view: str = "whole"  # or "garment": the garment alone (garment_view) before the square; see the module doc

    def __post_init__(self):
        if not isinstance(self.size, int) or self.size < 8:
            raise ValueError(f"ImageProcessor.size must be an integer >= 8, got {self.size!r}")
        if self.resample not in RESAMPLE:
            raise ValueError(f"ImageProcessor.resample must be one of {sorted(RESAMPLE)}, got {self.resample!r}")
        if self.pad != "border_median":
            raise ValueError(f"ImageProcessor.pad must be 'border_median', got {self.pad!r}")
        if self.view not in VIEWS:
            raise ValueError(f"ImageProcessor.view must be one of {list(VIEWS)}, got {self.view!r}")

    # ---- saved form
    def to_dict(self) -> dict:
        d = asdict(self)
        if d["view"] == "whole":  # the default is left out: models saved before views existed keep their dict
            del d["view"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ImageProcessor":
        unknown = set(d) - {"size", "resample", "pad", "view"}
        if unknown:
            raise ValueError(f"unknown image processor keys {sorted(unknown)}; valid: size, resample, pad, view")
        return cls(**{k: (int(v) if k == "size" else v) for k, v in d.items()})

    # ---- photo -> model input
    load = staticmethod(to_rgb)

    def square(self, image, mask=None) -> tuple[Image.Image, Image.Image, tuple]:
        """-> (size x size RGB, the upright RGB input, geometry (x0, y0, w, h, side)). With ``view="garment"``
        the input is :func:`garment_view` of the photo (``mask``: its garment, or None to find it); else ``mask``
        is ignored."""
        rgb = garment_view(image, mask) if self.view == "garment" else to_rgb(image)
        w, h = rgb.size
        side = max(w, h)
        if w == h:
            sq, box = rgb, (0, 0)
        else:
            arr = np.asarray(rgb)
            border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]]).reshape(-1, 3)
            fill = tuple(int(v) for v in np.median(border, axis=0))
            sq = Image.new("RGB", (side, side), fill)
            box = ((side - w) // 2, (side - h) // 2)
            sq.paste(rgb, box)
        small = sq.resize((self.size, self.size), RESAMPLE[self.resample], reducing_gap=None) if side != self.size else sq
        return small, rgb, (box[0], box[1], w, h, side)

    def array(self, image, mask=None) -> np.ndarray:
        """uint8 [S,S,3] model input (for data loading)."""
        return np.asarray(self.square(image, mask)[0])

    def preprocess(self, image, device=None, mask=None) -> Prepared:
        small, rgb, geom = self.square(image, mask)
        t = torch.from_numpy(np.asarray(small).copy()).permute(2, 0, 1)[None].float().div(255)
        return Prepared(t.to(device) if device is not None else t, rgb, geom)

    def batch(self, images, device=None, masks=None) -> torch.Tensor:
        """Several images (and, for ``view="garment"``, their garment masks or None) -> float [B,3,S,S] in [0,1]."""
        masks = [None] * len(images) if masks is None else list(masks)
        if len(masks) != len(images):
            raise ValueError(f"{len(images)} images but {len(masks)} masks")
        arr = np.stack([self.array(im, m) for im, m in zip(images, masks)])
        t = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(255)
        return t.to(device) if device is not None else t

    # ---- model resolution -> the photo's grid
    @staticmethod
    def restore(t: torch.Tensor, geometry: tuple) -> torch.Tensor:
        """[B,C,S,S] model-resolution map -> [B,C,h,w] on the input's pixel grid (bilinear)."""
        x0, y0, w, h, side = geometry
        up = F.interpolate(t, size=(side, side), mode="bilinear", align_corners=False)
        return up[:, :, y0: y0 + h, x0: x0 + w]
