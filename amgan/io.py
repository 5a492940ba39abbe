"""Atomic file writes: write to a temp file in the same folder, then ``os.replace``.

A file written here gets the mode an ordinary ``open(path, "w")`` would give it
(``0o666`` less the process umask; ``mkstemp``'s private ``0o600`` is not kept).
A save that is killed leaves its temp file, named ``.<name>.<random>.tmp``, beside the
target; :func:`remove_orphans` deletes such files at start-up.
"""
from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_save_image", "atomic_torch_save",
           "save_image_grid", "file_mode", "current_umask", "remove_orphans", "ORPHAN_MIN_AGE"]

log = logging.getLogger(__name__)

ORPHAN_MIN_AGE = 60.0  # seconds: a younger temp file may belong to a save still running


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    m = os.umask(0o022)  # elsewhere: set and restore (not atomic, but brief)
    os.umask(m)
    return m


def file_mode() -> int:
    """The mode a newly created regular file gets: ``0o666`` less the umask (e.g. 0o644 for umask 022)."""
    return 0o666 & ~current_umask()


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(f)`` on a temp file beside ``path`` and move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())  # mkstemp makes it 0600; a saved file gets the umask's mode
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


def remove_orphans(folder: str | Path, names=None, *, min_age: float = ORPHAN_MIN_AGE) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files (and temp folders) that a killed atomic save left.

    ``names=None``: every such entry under ``folder``, recursively; otherwise only those of
    the given file/folder ``names`` directly in ``folder``. Only entries last modified more
    than ``min_age`` seconds ago go (a younger one may be a save in progress); ``min_age=0``
    removes them all (a folder that one process owns). Returns the removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = (sorted(folder.rglob(".*.tmp")) if names is None
             else sorted(p for n in names for p in folder.glob(f".{n}.*.tmp")))
    now, removed = time.time(), []
    for p in found:
        if any(p.is_relative_to(r) for r in removed):  # inside a temp folder already removed
            continue
        try:
            st = p.lstat()
        except FileNotFoundError:
            continue
        if now - st.st_mtime < min_age:
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except FileNotFoundError:
            continue
        removed.append(p)
        log.info("removed %s (left by an interrupted save)", p)
    return removed


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
