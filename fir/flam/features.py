"""The FIR features FLAM trains and calibrates on, cached on disk under a key of
(embedder, manifest, split, views, size), written atomically."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

__all__ = ["cached_features"]

log = logging.getLogger(__name__)


def cached_features(embedder, embedder_id: str, root: Path, size: int, split: str, views, batch_size: int,
              cache_dir: str, progress: bool, exclude: frozenset[str] | set[str] = frozenset()):
    """FIR features of a split: (f [N,D], labels [N,G] (-1 unknown), product_ids, views), cached on disk.

    The cache file is keyed by the embedder's sha256, the manifest's sha256, the split,
    the views, the size and the excluded image stems (rows left out, e.g. hand-checked
    photos), so a changed model or data set never reuses stale features.
    """
    from amgan.checkpoint import file_sha256
    from amgan.data.memory import load_memory
    from amgan.io import atomic_torch_save
    from fir.model import embed_images

    key = f"{embedder_id[:16]}-{file_sha256(root / 'manifest.csv')[:16]}-{split}-{'+'.join(views)}-{size}"
    if exclude:
        import hashlib

        key += "-x" + hashlib.sha256("\n".join(sorted(exclude)).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"flam-features-{key}.pt" if cache_dir else None
    if path is not None and path.is_file():
        c = torch.load(path, map_location="cpu", weights_only=True)
        log.info("FIR features of %s from the cache %s", split, path)
        return c["features"], c["labels"], c["product_ids"], c["views"]
    data = load_memory(root, size, splits=(split,), views=views, progress=progress, exclude=exclude)
    f = torch.from_numpy(embed_images(embedder, data.images, batch_size, progress=progress,
                                      desc=f"FIR features {split}"))
    if path is not None:
        atomic_torch_save(path, {"features": f, "labels": data.labels, "product_ids": data.product_ids,
                                 "views": data.views})
    return f, data.labels, data.product_ids, data.views
