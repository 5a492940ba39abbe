"""Atomic file writes: write to a temp file in the same folder, then ``os.replace``."""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Callable


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(f)`` on a temp file beside ``path`` and move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_image(path: str | Path, image, format: str = "PNG") -> Path:
    """Save a PIL image atomically (PNG by default)."""
    return atomic_write(path, lambda f: image.save(f, format=format))


def atomic_torch_save(path: str | Path, obj) -> Path:
    import torch

    return atomic_write(path, lambda f: torch.save(obj, f))


def save_image_grid(path: str | Path, columns) -> Path:
    """Save a grid whose rows are samples and whose columns are the given [B,C,H,W] tensors in
    [0,1] (1-channel columns are shown grey), white-padded, as PNG, atomically."""
    import numpy as np
    import torch
    from PIL import Image
    from torchvision.utils import make_grid

    cols = [c.detach().float().cpu().clamp(0, 1) for c in columns]
    cols = [c.expand(-1, 3, -1, -1) if c.shape[1] == 1 else c for c in cols]
    grid = torch.stack(cols, 1).flatten(0, 1)
    img = make_grid(grid, nrow=len(cols), padding=2, pad_value=1.0)
    arr = (img.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    return atomic_save_image(path, Image.fromarray(arr))
