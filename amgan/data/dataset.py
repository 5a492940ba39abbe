"""The torch Dataset of a manifest: images, label vectors (``-1`` = unknown) and region masks."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from PIL import Image

from amgan.data.manifest import MASK_REGIONS, Manifest, read_manifest
from amgan.errors import ImageError

__all__ = ["ManifestDataset"]


class ManifestDataset(torch.utils.data.Dataset):
    """Images, labels and region masks of a manifest, optionally filtered by split and view.

    ``size``: resize to ``size x size`` (images bilinear with antialiasing, masks nearest);
    ``None`` keeps the stored size. ``cache=True`` keeps decoded (resized) uint8 arrays in
    memory (per DataLoader worker). ``item['index']`` is the row index in the manifest,
    ``self.indices[k]`` for item ``k``. ``item['label']`` is the int64 label vector with
    ``-1`` for an unknown value (an empty manifest cell); ``item['mask']`` is ``-1``
    everywhere when the row has no mask.
    """

    def __init__(
        self,
        manifest: Manifest | str | Path,
        split: str | Iterable[str] | None = None,
        view: str | Iterable[str] | None = None,
        size: int | None = None,
        cache: bool = False,
    ):
        self.manifest = manifest if isinstance(manifest, Manifest) else read_manifest(manifest)
        self.indices = self.manifest.indices(split, view)
        if size is not None and (int(size) != size or size < 1):
            raise ValueError(f"size must be a positive integer or None, got {size!r}")
        self.size = None if size is None else int(size)
        self.cache = cache
        self._cache: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> np.ndarray:
        """Label vectors of this dataset's items, [len(self), n_groups]."""
        return self.manifest.labels[self.indices]

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        if i in self._cache:
            return self._cache[i]
        m = self.manifest
        ipath = m.image_path(i)
        with Image.open(ipath) as im:
            im = im.convert("RGB")
            wh = im.size
            if self.size is not None and im.size != (self.size, self.size):
                im = im.resize((self.size, self.size), Image.BILINEAR, reducing_gap=None)
            img = np.asarray(im, dtype=np.uint8).copy()
        mask = None
        mpath = m.mask_path(i)
        if mpath is not None:
            with Image.open(mpath) as mm:
                if mm.mode not in ("L", "P", "I", "I;16", "1"):
                    raise ImageError(f"mask {mpath} must be a single-channel label map (mode L or P), got mode {mm.mode}")
                if mm.size != wh:
                    raise ImageError(f"mask {mpath} is {mm.size[0]}x{mm.size[1]} but image {ipath} is {wh[0]}x{wh[1]}")
                arr = np.asarray(mm)
            if arr.max(initial=0) >= len(MASK_REGIONS) or arr.min(initial=0) < 0:
                raise ImageError(
                    f"mask {mpath} has labels {sorted(np.unique(arr).tolist())}; valid labels are "
                    + ", ".join(f"{k} {n}" for k, n in enumerate(MASK_REGIONS))
                )
            arr = arr.astype(np.uint8)
            if self.size is not None and arr.shape != (self.size, self.size):
                arr = np.asarray(Image.fromarray(arr).resize((self.size, self.size), Image.NEAREST))
            mask = arr
        if self.cache:
            self._cache[i] = (img, mask)
        return img, mask

    def __getitem__(self, k: int) -> dict:
        i = int(self.indices[k])
        img, mask = self._load(i)
        h, w = img.shape[:2]
        m = self.manifest
        return {
            "image": torch.from_numpy(img).permute(2, 0, 1).float().div_(255.0).contiguous(),
            "label": torch.from_numpy(m.labels[i].copy()),
            "mask": torch.full((h, w), -1, dtype=torch.int64) if mask is None else torch.from_numpy(mask.astype(np.int64)),
            "product_id": m.product_ids[i],
            "view": m.views[i],
            "index": i,
        }
