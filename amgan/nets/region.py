"""The attribute region that D_C sees (AMGAN, Sec. 3: "attention-guided region").

Threshold the attention mask a at 50% of its maximum, take the bounding box of the largest
connected component, and crop that box from the real and the generated image, resized to
half resolution. Boxes are computed without gradient (numpy / scikit-image); the crop is
differentiable with respect to the images (torchvision ``roi_align``).
"""
from __future__ import annotations

import numpy as np
import torch
from skimage.measure import label
from torch import Tensor
from torchvision.ops import roi_align

from amgan.nets import check_shape


def _box_of_mask(mask: np.ndarray, rel_thresh: float, min_size: int) -> tuple[int, int, int, int]:
    h, w = mask.shape
    whole = (0, 0, w, h)
    hi = float(mask.max())
    if not np.isfinite(hi) or hi <= 1e-8 or hi - float(mask.min()) <= 1e-8:
        return whole  # empty or flat mask: no region to prefer
    labels = label(mask >= rel_thresh * hi, connectivity=2)  # 8-connectivity
    counts = np.bincount(labels.ravel())
    counts[0] = 0
    ys, xs = np.nonzero(labels == int(counts.argmax()))
    x0, x1 = int(xs.min()), int(xs.max()) + 1
    y0, y1 = int(ys.min()), int(ys.max()) + 1
    x0, x1 = _grow(x0, x1, min(min_size, w), w)
    y0, y1 = _grow(y0, y1, min(min_size, h), h)
    return x0, y0, x1, y1


def _grow(lo: int, hi: int, size: int, limit: int) -> tuple[int, int]:
    """Widen [lo, hi) around its centre to at least ``size``, kept inside [0, limit)."""
    if hi - lo >= size:
        return lo, hi
    lo = (lo + hi - size) // 2
    lo = min(max(lo, 0), limit - size)
    return lo, lo + size


def attention_boxes(a: Tensor, rel_thresh: float = 0.5, min_frac: float = 0.125) -> Tensor:
    """Bounding box of the largest connected component of ``a >= rel_thresh * max(a)``.

    a [B,1,H,W] (the attention mask) -> LongTensor [B,4] of (x0, y0, x1, y1) pixels,
    x0/y0 inclusive, x1/y1 exclusive, on the CPU. An empty or flat mask gives the whole
    image. Each side is at least ``ceil(min_frac * side)`` pixels (grown around the centre).
    """
    check_shape(a, ["B", 1, "H", "W"], "attention_boxes mask a")
    masks = a.detach().float().cpu().numpy()[:, 0]
    h, w = masks.shape[1:]
    min_size = max(1, int(np.ceil(min_frac * min(h, w))))
    boxes = [_box_of_mask(m, rel_thresh, min_size) for m in masks]
    return torch.tensor(boxes, dtype=torch.long).reshape(-1, 4)


def crop_boxes(images: Tensor, boxes: Tensor, out_size: int) -> Tensor:
    """Crop each box from its image and resize to out_size x out_size (bilinear roi_align,
    aligned=True: pixel i covers [i, i+1), so box (x0,y0,x1,y1) is exactly those pixels).

    images [B,C,H,W], boxes [B,4] (x0,y0,x1,y1) -> [B,C,out_size,out_size]; differentiable
    with respect to ``images``.
    """
    b = check_shape(images, ["B", "C", "H", "W"], "crop_boxes images")
    check_shape(boxes, [b["B"], 4], "crop_boxes boxes")
    idx = torch.arange(b["B"], device=images.device, dtype=images.dtype)[:, None]
    rois = torch.cat([idx, boxes.to(device=images.device, dtype=images.dtype)], dim=1)
    return roi_align(images, rois, output_size=(out_size, out_size), spatial_scale=1.0,
                     sampling_ratio=-1, aligned=True)
