"""Whole splits decoded once into uint8 tensors: batches by index, no DataLoader.

On two CPU cores PNG decoding per step would cost more than the small networks;
SynthFashion at 64 px is ~12 KB per image, so tens of thousands fit in memory.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from amgan.attributes import Schema
from amgan.errors import UserError
from amgan.image import ImageProcessor


@dataclass
class MemoryData:
    images: torch.Tensor  # uint8 [N, 3, H, W]
    labels: torch.Tensor  # int64 [N, G]
    masks: torch.Tensor  # uint8 [N, H, W] (255 where unknown)
    product_ids: list[str]
    views: list[str]
    paths: list[str]
    schema: Schema

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, idx, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """Images as float [B,3,H,W] in [0,1] and labels [B,G] on ``device``."""
        idx = torch.as_tensor(idx, dtype=torch.long)
        x = self.images[idx].to(device, non_blocking=True).float().div_(255.0)
        return x, self.labels[idx].to(device)


def excluded_images(path: str, key: str = "exclude") -> set[str]:
    """The image file stems listed in a CSV's ``image`` column (rows never trained on: the
    hand-checked photos, say); ``""`` = none. ``key`` names the config key in errors."""
    if not path:
        return set()
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{key}: {p} not found (a CSV with an 'image' column, or empty for none)")
    with open(p, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and "image" not in rows[0]:
        raise UserError(f"{p}: needs an 'image' column")
    return {Path(r["image"]).stem for r in rows}


def concat_memory(parts: list[MemoryData]) -> MemoryData:
    """One MemoryData of several with the same schema groups (renders and photos, say)."""
    first = parts[0]
    for p in parts[1:]:
        if p.schema.to_dict()["groups"] != first.schema.to_dict()["groups"]:
            raise ValueError(f"{p.paths[0] if p.paths else 'a data set'}: its schema differs from the first data set's")
    if len(parts) == 1:
        return first
    return MemoryData(images=torch.cat([p.images for p in parts]), labels=torch.cat([p.labels for p in parts]),
                      masks=torch.cat([p.masks for p in parts]),
                      product_ids=[x for p in parts for x in p.product_ids], views=[x for p in parts for x in p.views],
                      paths=[x for p in parts for x in p.paths], schema=first.schema)


def load_image(path: str | Path, size: int | ImageProcessor) -> np.ndarray:
    """uint8 [S,S,3]: the image as every model sees it (:class:`amgan.image.ImageProcessor`)."""
    proc = size if isinstance(size, ImageProcessor) else ImageProcessor(size=int(size))
    return proc.array(path)


def load_mask(path: str | Path, size: int) -> np.ndarray:
    with Image.open(path) as im:
        if im.size != (size, size):
            im = im.resize((size, size), Image.NEAREST)
        return np.asarray(im.convert("L"))


def load_memory(root: str | Path, size: int, splits=("train",), views=None, progress=True,
                exclude: frozenset[str] | set[str] = frozenset()) -> MemoryData:
    """Decode the rows of ``root/manifest.csv`` in ``splits`` (and ``views``) into memory;
    rows whose image file stem is in ``exclude`` are left out (hand-checked photos)."""
    from amgan.data.manifest import read_manifest

    m = read_manifest(Path(root) / "manifest.csv")
    keep = [i for i in range(len(m)) if m.splits[i] in splits and (views is None or m.views[i] in views)
            and (not exclude or Path(m.paths[i]).stem not in exclude)]
    if not keep:
        raise ValueError(f"{root}: no rows with split in {list(splits)} and view in {views}")
    imgs = np.empty((len(keep), size, size, 3), np.uint8)
    masks = np.full((len(keep), size, size), 255, np.uint8)
    for j, i in enumerate(tqdm(keep, desc=f"loading {'+'.join(splits)}", unit="img", disable=not progress)):
        imgs[j] = load_image(m.root / m.paths[i], size)
        if m.masks[i]:
            masks[j] = load_mask(m.root / m.masks[i], size)
    return MemoryData(
        images=torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous(),
        labels=torch.from_numpy(np.asarray(m.labels)[keep]).long(),
        masks=torch.from_numpy(masks),
        product_ids=[m.product_ids[i] for i in keep],
        views=[m.views[i] for i in keep],
        paths=[str(m.root / m.paths[i]) for i in keep],
        schema=m.schema,
    )
