"""Contact sheets: a grid of a data set's images with their attributes as captions."""
from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image, ImageDraw

from amgan.errors import UserError
from amgan.io import atomic_save_image

_ABBREV = {"sleeveless": "no-slv", "v_neck": "v-neck", "checked": "check", "striped": "stripe"}


def _caption(row: dict, groups) -> str:
    return " ".join(_ABBREV.get(row[g], row[g]) for g in groups)


def _tile(img: Image.Image, text: str, cell: int) -> Image.Image:
    tile = Image.new("RGB", (cell, cell + 24), "white")
    tile.paste(img.convert("RGB").resize((cell, cell), Image.NEAREST), (0, 0))
    d = ImageDraw.Draw(tile)
    words = text.split()
    lines = [" ".join(words[: (len(words) + 1) // 2]), " ".join(words[(len(words) + 1) // 2 :])]
    for i, line in enumerate(lines):
        d.text((2, cell + 1 + 11 * i), line, fill=(40, 40, 40))
    return tile


def contact_sheet(folder: str | Path, out: str | Path, n: int = 36, cols: int = 6, cell: int = 128,
                  views=("shop", "street")) -> Path:
    """Grid of the first ``n`` products: each product's views side by side, captioned."""
    folder = Path(folder)
    manifest = folder / "manifest.csv"
    if not manifest.exists():
        raise UserError(f"{manifest} not found: is {folder} a data set folder?")
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    fixed = {"path", "product_id", "view", "split", "mask"}
    groups = [c for c in rows[0] if c not in fixed] if rows else []
    by_product: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_product.setdefault(r["product_id"], {}).setdefault(r["view"], r)
    tiles = []
    for pid, vs in list(by_product.items())[:n]:
        for v in views:
            if v in vs:
                r = vs[v]
                tiles.append(_tile(Image.open(folder / r["path"]), _caption(r, groups) if v == views[0] else v, cell))
    if not tiles:
        raise ValueError(f"{manifest} has no rows")
    cols = max(1, cols) * (sum(1 for v in views if any(v in vs for vs in by_product.values())) or 1)
    w, h = tiles[0].size
    rows_n = (len(tiles) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * w, rows_n * h), "white")
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % cols) * w, (i // cols) * h))
    return atomic_save_image(out, sheet)


def edits_sheet(folder: str | Path, out: str | Path, n: int = 8, cell: int = 96) -> Path:
    """For ``n`` shop sources: the source, then the ground-truth target of each edited group."""
    folder = Path(folder)
    p = folder / "edits.csv"
    if not p.exists():
        raise UserError(f"{p} not found: make the data set with --with-edits")
    with open(p, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["view"] == "shop"]
    by_src: dict[str, list[dict]] = {}
    for r in rows:
        by_src.setdefault(r["source"], []).append(r)
    lines = []
    for src, rs in list(by_src.items())[:n]:
        line = [_tile(Image.open(folder / src), "source", cell)]
        line += [_tile(Image.open(folder / r["target"]), f"{r['group']}= {r['value']}", cell) for r in rs]
        lines.append(line)
    if not lines:
        raise ValueError(f"{p} has no shop-view edits")
    w, h = lines[0][0].size
    cols = max(len(line) for line in lines)
    sheet = Image.new("RGB", (cols * w, len(lines) * h), "white")
    for i, line in enumerate(lines):
        for j, t in enumerate(line):
            sheet.paste(t, (j * w, i * h))
    return atomic_save_image(out, sheet)
