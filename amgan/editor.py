"""The Editor: AMGAN inference on any PIL image.

    ed = Editor.from_checkpoint("checkpoints/amgan_synth64/editor.pt")
    ed.predict(img)                                  # {group: {value: prob}}
    res = ed.edit(img, {"color": "red"}, region="sleeves")
    res.image, res.mask, res.cam                     # PIL, at the input's size

Images of any size and mode are padded to a square with their border colour, resized to
the model's resolution, edited, and restored: the result is ``a*z + (1-a)*x`` at the
input's own resolution, so pixels outside the attention mask keep their full detail.
Several groups in one request are applied one after another (the generator was trained
to change one group per pass); the returned mask is their union.

Region-specific edits follow the paper: the attention mask of a "sleeveless" edit,
thresholded at 0.9, marks the sleeves; a colour or pattern edit is then kept only inside
it (``region="sleeves"``) or only outside it (``region="torso"``).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from amgan.attributes import Schema, SchemaError
from amgan.checkpoint import load_checkpoint
from amgan.nets.classifier import AttributeClassifier
from amgan.nets.generator import Generator

REGIONS = (None, "whole", "sleeves", "torso")
MIN_SIDE = 16
MAX_PIXELS = 40_000_000


@dataclass
class EditResult:
    image: Image.Image  # the edit, input size, RGB
    mask: Image.Image  # attention a in [0,255], input size, L
    cam: Image.Image  # CAM of the input's current value of the first edited group, input size, L
    request: dict
    region: str | None
    source_attributes: dict  # predicted values before the edit
    timings: dict = field(default_factory=dict)  # seconds per stage


def to_rgb(image) -> Image.Image:
    """Any PIL image or HxW[xC] uint8/float array -> RGB PIL; anything else is a clear error."""
    if isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            if not np.issubdtype(arr.dtype, np.floating):
                raise ValueError(f"image arrays must be uint8 or float in [0,1], got {arr.dtype}")
            arr = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4)):
            image = Image.fromarray(arr.squeeze(-1) if arr.ndim == 3 and arr.shape[2] == 1 else arr)
        else:
            raise ValueError(f"image array must be HxW, HxWx1, HxWx3 or HxWx4, got shape {arr.shape}")
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image or a numpy array, got {type(image).__name__}")
    w, h = image.size
    if min(w, h) < MIN_SIDE:
        raise ValueError(f"image is {w}x{h}; both sides must be at least {MIN_SIDE} pixels")
    if w * h > MAX_PIXELS:
        raise ValueError(f"image is {w}x{h}; at most {MAX_PIXELS} pixels are accepted")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return image.convert("RGB")


def square_resize(image, size: int) -> tuple[Image.Image, Image.Image, tuple]:
    """Any image (see :func:`to_rgb`) -> (size x size RGB, the RGB input, geometry).

    The input is padded to a square with the median colour of its border (catalogue
    photos have plain backgrounds, so this adds no edges) and resized bicubically.
    ``geometry`` is ``(x0, y0, w, h, side)``: where the input sits in the square.
    Used by the Editor and by the FIR retriever, so both see an upload the same way.
    """
    rgb = to_rgb(image)
    w, h = rgb.size
    side = max(w, h)
    arr = np.asarray(rgb)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]]).reshape(-1, 3)
    fill = tuple(int(v) for v in np.median(border, axis=0))
    sq = Image.new("RGB", (side, side), fill)
    box = ((side - w) // 2, (side - h) // 2)
    sq.paste(rgb, box)
    small = sq.resize((size, size), Image.BICUBIC, reducing_gap=None) if side != size else sq
    return small, rgb, (box[0], box[1], w, h, side)


def _to_pil(t: torch.Tensor) -> Image.Image:
    """[1,C,H,W] in [0,1] -> PIL (RGB for 3 channels, L for 1)."""
    arr = (t[0].permute(1, 2, 0).float().cpu().numpy() * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


class Editor:
    def __init__(self, G: Generator, C: AttributeClassifier, schema: Schema, size: int, device=None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.G = G.to(self.device).eval().requires_grad_(False)
        self.C = C.to(self.device).eval().requires_grad_(False)
        self.schema, self.size = schema, size

    @classmethod
    def from_checkpoint(cls, path: str | Path, device=None) -> "Editor":
        ck = load_checkpoint(path, kind="amgan-editor")
        G = Generator(**ck["generator"])
        G.load_state_dict(ck["G_ema"], strict=True)
        meta = ck["classifier_meta"]
        C = AttributeClassifier(meta["group_sizes"], backbone=meta["backbone"], width=meta["width"], pretrained=False)
        C.load_state_dict(ck["classifier"], strict=True)
        ed = cls(G.float(), C.float(), Schema.from_dict(ck["schema"]), int(ck["size"]), device)
        ed.checkpoint_step = int(ck.get("step", 0))
        return ed

    # ---- tensors <-> images
    def _prepare(self, image) -> tuple[torch.Tensor, Image.Image, tuple]:
        """-> (x [1,3,S,S] in [0,1], the RGB input, (pad box in the square, square side))."""
        small, rgb, geom = square_resize(image, self.size)
        x = torch.from_numpy(np.asarray(small).copy()).permute(2, 0, 1)[None].float().div(255).to(self.device)
        return x, rgb, geom

    @staticmethod
    def _restore(t: torch.Tensor, geom) -> torch.Tensor:
        """[1,C,S,S] model-resolution map -> [1,C,h,w] on the input's pixel grid."""
        x0, y0, w, h, side = geom
        up = F.interpolate(t, size=(side, side), mode="bilinear", align_corners=False)
        return up[:, :, y0 : y0 + h, x0 : x0 + w]

    # ---- API
    @torch.no_grad()
    def predict_tensor(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [lg.softmax(1) for lg in self.C(x)]

    def predict(self, image) -> dict[str, dict[str, float]]:
        x, _, _ = self._prepare(image)
        probs = self.predict_tensor(x)
        return {g.name: {v: round(float(p), 4) for v, p in zip(g.values, pr[0].tolist())}
                for g, pr in zip(self.schema.groups, probs)}

    def _labels(self, x) -> torch.Tensor:
        return torch.stack([p.argmax(1) for p in self.predict_tensor(x)], 1)

    @torch.no_grad()
    def edit_tensor(self, x: torch.Tensor, labels: torch.Tensor, request: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pass per requested group. -> (y, z of the last pass, union of masks a), all [B,*,S,S]."""
        from amgan.conditioning import group_onehot, manip_onehot

        y, a_all, z = x, torch.zeros_like(x[:, :1]), x
        cur = labels.clone()
        for gname, value in request.items():
            gi = self.schema.group_index(gname)
            cur[:, gi] = self.schema.group(gname).index(value)
            y, z, a = self.G(y, manip_onehot(cur, self.schema), group_onehot(gname, self.schema, len(x), x.device))
            a_all = torch.maximum(a_all, a)
        return y, z, a_all

    @torch.no_grad()
    def sleeve_region(self, x: torch.Tensor, labels: torch.Tensor, threshold: float = 0.9) -> torch.Tensor:
        """The paper's sleeve mask: attention of a 'sleeveless' edit, thresholded."""
        if "sleeve" not in self.schema.names or "sleeveless" not in self.schema.group("sleeve").values:
            raise SchemaError("region edits need a 'sleeve' group with a 'sleeveless' value in the schema")
        _, _, a = self.edit_tensor(x, labels, {"sleeve": "sleeveless"})
        m = (a > threshold).float()
        if m.sum() == 0:  # a weak mask: fall back to the paper's rule relative to its maximum
            m = (a > threshold * a.amax(dim=(2, 3), keepdim=True)).float()
        return m

    def _source_labels(self, labels: torch.Tensor, source) -> torch.Tensor:
        """The classifier's labels with the known values of ``source`` ({group: value}) put in."""
        if not source:
            return labels
        if not isinstance(source, Mapping):
            raise SchemaError(f"source must be a mapping group -> value, got {type(source).__name__}")
        labels = labels.clone()
        for k, v in source.items():
            g = self.schema.group(str(k).strip().lower())  # unknown group / value: SchemaError naming the valid ones
            labels[:, self.schema.group_index(g.name)] = g.index(str(v).strip().lower())
        return labels

    def edit(self, image, request, region: str | None = None, source: Mapping[str, str] | None = None) -> EditResult:
        """Edit ``image`` as ``request`` asks ("make it red", {"color": "red"}) inside ``region``.

        ``source``: attribute values known from elsewhere (catalogue metadata, FLAM's reading of a
        street photo), {group: value}; they replace the CAM classifier's reading for those groups,
        which matters because the generator is conditioned on the whole target attribute vector.
        """
        times: dict = {}
        t = time.perf_counter()
        if isinstance(request, str):
            request = self.schema.parse_edit(request)
        request = self.schema.validate_edit(request)
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; valid regions: whole, sleeves, torso")
        region = None if region == "whole" else region
        if region and "sleeve" in request:
            raise ValueError("a region edit changes colour or pattern inside the sleeves or the torso; "
                             "it cannot change the sleeve length itself")
        x, rgb, geom = self._prepare(image)
        times["preprocess"] = time.perf_counter() - t
        t = time.perf_counter()
        labels = self._source_labels(self._labels(x), source)
        source = self.schema.decode(labels[0].cpu().numpy())
        first = next(iter(request))
        gi = self.schema.group_index(first)
        with torch.no_grad():
            cam = self.C.cam(x, gi, labels[:, gi], size=self.size)
        times["classify"] = time.perf_counter() - t
        t = time.perf_counter()
        y, _, a = self.edit_tensor(x, labels, request)
        if region:
            m = self.sleeve_region(x, labels)
            keep = m if region == "sleeves" else 1.0 - m
            a = a * keep
            y = keep * y + (1 - keep) * x
        times["generate"] = time.perf_counter() - t
        t = time.perf_counter()
        # restore at the input's resolution: the paper's blend a*y + (1-a)*x with the original pixels,
        # so everything outside the attention mask keeps its full detail
        x_full = torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)[None].float().div(255).to(self.device)
        a_full = self._restore(a, geom).clamp(0, 1)
        out = (a_full * self._restore(y, geom) + (1 - a_full) * x_full).clamp(0, 1)
        res = EditResult(image=_to_pil(out), mask=_to_pil(a_full), cam=_to_pil(self._restore(cam, geom).clamp(0, 1)),
                         request=request, region=region or "whole", source_attributes=source)
        times["postprocess"] = time.perf_counter() - t
        res.timings = {k: round(v, 4) for k, v in times.items()}
        return res
