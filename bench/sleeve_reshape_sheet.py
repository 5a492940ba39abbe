"""A contact sheet of sleeve-length edits of photos: each photo, then its edit to every other sleeve length,
as ``Editor.edit`` makes them (the garment's outline where it can, else the generator; the tile says which,
and what the independent reader reads on the edit).

    python bench/sleeve_reshape_sheet.py --split test --photos 12 --out docs/sleeve_reshape.jpg

Photos: the first ``--photos`` of ``--split`` in manifest order with a known sleeve length, each length in
turn (so sleeveless garments are in it too). The sleeve length the edit starts from is the label (as a person
would give it, ``source=``), so the sheet shows the edit, not the reading.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    from amgan.editor import Editor
    from amgan.evaluate_edits import DEFAULT_READER, load_judge

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--editor", default=str(ROOT / "checkpoints/amgan_photo128"))
    p.add_argument("--photos-root", default=str(ROOT / "data/clothing"))
    p.add_argument("--split", default="test", choices=("val", "test"))
    p.add_argument("--photos", type=int, default=12)
    p.add_argument("--tile", type=int, default=260)
    p.add_argument("--out", default=str(ROOT / "docs/sleeve_reshape.jpg"))
    args = p.parse_args(argv)
    root = Path(args.photos_root)
    ed = Editor.from_checkpoint(args.editor)
    judge = load_judge(DEFAULT_READER, ed, "--reader")
    values = ed.schema.group("sleeve").values
    si = ed.schema.group_index("sleeve")
    rows = [r for r in csv.DictReader(open(root / "manifest.csv")) if r["split"] == args.split and r["sleeve"] in values]
    by = {v: [r for r in rows if r["sleeve"] == v] for v in values}
    picked = []  # the lengths in turn, in manifest order
    while len(picked) < args.photos and any(by.values()):
        for v in values:
            if by[v] and len(picked) < args.photos:
                picked.append(by[v].pop(0))
    T = args.tile
    tiles, counts = [], {}
    for r in picked:
        img = Image.open(root / r["path"]).convert("RGB")
        size = (T, round(T * img.size[1] / img.size[0]))
        panels = [(img.resize(size), f"{r['sleeve']} (photo)")]
        for target in values:
            if target == r["sleeve"]:
                continue
            res = ed.edit(img, {"sleeve": target}, source={"sleeve": r["sleeve"]})
            read = values[judge.read_image(res.image)[si]]
            counts.setdefault(res.method, 0)
            counts[res.method] += 1
            panels.append((res.image.resize(size), f"-> {target}: {res.method}, reads {read}"))
        h = max(pp.size[1] for pp, _ in panels)
        t = Image.new("RGB", (len(panels) * (T + 4), h + 16), "white")
        for j, (pp, label) in enumerate(panels):
            t.paste(pp, (j * (T + 4), 16))
            ImageDraw.Draw(t).text((j * (T + 4) + 2, 2), label, fill="black")
        tiles.append(t)
    cols = 2
    Wt = max(t.size[0] for t in tiles) + 12
    Hs = [max(t.size[1] for t in tiles[i:i + cols]) + 8 for i in range(0, len(tiles), cols)]
    sheet = Image.new("RGB", (cols * Wt, sum(Hs)), "white")
    y = 0
    for i, hh in zip(range(0, len(tiles), cols), Hs):
        for j, t in enumerate(tiles[i:i + cols]):
            sheet.paste(t, (j * Wt, y))
        y += hh
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=88)
    print(json.dumps({"photos": len(tiles), "split": args.split, "methods": counts, "sheet": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
