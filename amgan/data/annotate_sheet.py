"""Contact sheet of an annotated photo set: each photo with its garment mask's outline and
the colour label with its confidence (``amgan data annotate DIR --sheet OUT.png``)."""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from amgan.io import atomic_save_image

__all__ = ["annotation_sheet", "pick_across_contributors"]

_SWATCH = {  # label colours for the swatch beside the text
    "black": (20, 20, 20), "white": (250, 250, 250), "gray": (128, 128, 128), "red": (200, 30, 40),
    "orange": (240, 130, 30), "yellow": (240, 210, 40), "green": (40, 140, 60), "teal": (20, 130, 130),
    "blue": (40, 80, 190), "purple": (110, 45, 150), "pink": (240, 150, 185), "brown": (110, 70, 40),
}


def _key(s: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{s}".encode()).hexdigest()


def read_sources(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """({photo path: contributor}, {photo path: class}) from a photo set's ``source.csv`` (empty without one)."""
    sender, label = {}, {}
    if (folder / "source.csv").is_file():
        with open(folder / "source.csv", newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                sender[r["path"]], label[r["path"]] = r["sender_id"], r["label"]
    return sender, label


def round_robin(paths, sender: dict[str, str], n: int, seed: int = 0) -> list[str]:
    """``n`` of ``paths``, one per contributor first (``sender``: path -> contributor; a path without one
    is its own), in a deterministic order that depends only on ``seed`` and the names."""
    by_sender: dict[str, list[str]] = {}
    for p in sorted(paths, key=lambda p: _key(p, seed)):
        by_sender.setdefault(sender.get(p, p), []).append(p)
    order = sorted(by_sender, key=lambda s: _key(s, seed))
    picked, depth = [], 0
    while len(picked) < n and any(len(v) > depth for v in by_sender.values()):
        for s in order:
            if len(by_sender[s]) > depth and len(picked) < n:
                picked.append(by_sender[s][depth])
        depth += 1
    return picked


def pick_across_contributors(folder: Path, n: int, seed: int = 0) -> list[dict]:
    """``n`` rows of ``annotations.csv``, one per contributor first (from ``source.csv``),
    in a deterministic order that depends only on ``seed`` and the names."""
    with open(folder / "annotations.csv", newline="", encoding="utf-8") as f:
        ann = {r["path"]: r for r in csv.DictReader(f)}
    sender, label = read_sources(folder)
    return [dict(ann[p], sender_id=sender.get(p, ""), label=label.get(p, ""))
            for p in round_robin(ann, sender, n, seed)]


def _outline(mask: np.ndarray, width: int) -> np.ndarray:
    import cv2

    k = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    m = mask.astype(np.uint8)
    return (cv2.dilate(m, k) > 0) & ~(cv2.erode(m, k) > 0)


def annotation_sheet(folder, out, *, n: int = 48, columns: int = 8, tile: int = 210, seed: int = 0) -> Path:
    """Write the sheet of ``n`` annotated photos of ``folder`` to ``out`` (PNG); returns ``out``."""
    folder = Path(folder)
    rows = pick_across_contributors(folder, n, seed)
    th, text_h = int(tile * 4 / 3), 44
    nrows = -(-len(rows) // columns)
    sheet = Image.new("RGB", (columns * tile, nrows * (th + text_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=17)
    small = ImageFont.load_default(size=13)
    for k, r in enumerate(rows):
        x0, y0 = (k % columns) * tile, (k // columns) * (th + text_h)
        with Image.open(folder / r["path"]) as im:
            rgb = np.asarray(im.convert("RGB")).copy()
        mask = np.asarray(Image.open(folder / r["mask"])) > 0 if r.get("mask") else np.zeros(rgb.shape[:2], bool)
        rgb[~mask] = (rgb[~mask] * 0.55).astype(np.uint8)
        rgb[_outline(mask, max(2, rgb.shape[1] // 150))] = (0, 255, 0)
        img = Image.fromarray(rgb)
        img.thumbnail((tile - 4, th - 4))
        sheet.paste(img, (x0 + (tile - img.width) // 2, y0 + (th - img.height) // 2))
        colour = r["color"] or "unknown"
        conf = float(r["confidence"])
        sw = _SWATCH.get(r["color"] or r["runner_up"], (255, 255, 255))
        draw.rectangle([x0 + 4, y0 + th + 4, x0 + 22, y0 + th + 22], fill=sw if r["color"] else (255, 255, 255),
                       outline=(0, 0, 0))
        txt = f"{colour} {conf:.2f}"
        draw.text((x0 + 28, y0 + th + 3), txt, fill=(0, 0, 0) if r["color"] else (170, 0, 0), font=font)
        sub = f"{r.get('label', '')}  #{r.get('sender_id', '')}  2nd {r['runner_up']}"
        draw.text((x0 + 6, y0 + th + 25), sub, fill=(80, 80, 80), font=small)
    out = Path(out)
    fmt = "JPEG" if Path(out).suffix.lower() in (".jpg", ".jpeg") else "PNG"
    atomic_save_image(out, sheet.convert("RGB"), format=fmt)
    return out
