"""Checkpoints: one dict of plain tensors and builtins, saved atomically, loaded safely.

Saved from unwrapped modules (never DDP/compiled wrappers), to a temp file, then
``os.replace``. Loaded with ``torch.load(weights_only=True)``; modules restore with
``strict=True``. The step lives inside the file.
"""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import torch

from amgan.errors import UserError, first_line
from amgan.io import atomic_torch_save

FORMAT_VERSION = 1


class CheckpointError(UserError):
    """A checkpoint file is missing, unreadable or not of the expected kind."""


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The plain module under DDP / torch.compile wrappers."""
    while True:
        if hasattr(module, "module") and isinstance(module.module, torch.nn.Module):
            module = module.module
        elif hasattr(module, "_orig_mod"):
            module = module._orig_mod
        else:
            return module


def code_version() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_checkpoint(path: str | Path, kind: str, **content) -> Path:
    return atomic_torch_save(path, {"format": FORMAT_VERSION, "kind": kind, "code_version": code_version(), **content})


def load_checkpoint(path: str | Path, kind: str | None = None, map_location="cpu") -> dict:
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    try:
        ck = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for bad files
        raise CheckpointError(f"{p}: not a readable checkpoint ({type(e).__name__}: {first_line(e)})") from None
    if not isinstance(ck, dict) or "kind" not in ck:
        raise CheckpointError(f"{p}: not an amgan checkpoint (no 'kind' entry)")
    if kind is not None and ck["kind"] != kind:
        raise CheckpointError(f"{p}: is a {ck['kind']!r} checkpoint, expected {kind!r}")
    return ck


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
