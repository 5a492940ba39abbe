"""A contact sheet of colour edits of garments that run off the frame: each photo, its edit with plain GrabCut
and with the frame rescue (``amgan.data.garment_mask.segment(frame_rescue=True)``, the editor's default since
stop 36, ``amgan.editor.FRAME_RESCUE``: see ``docs/real_photos.md``).

    python bench/frame_rescue_sheet.py --split test --photos 8 --out docs/frame_rescue.jpg

Photos: the first ``--photos`` of ``--split`` (manifest order) on which the rescue changes the editor's mask
(IoU < 0.97 between the two masks), with no other choice; each asked "make it blue" ("make it red" where its
colour label is blue). The IoU of the two masks is written on each row.

Against the truth instead (no sheet): ``--truth data/synth64`` crops SynthFashion test renders (150 per view,
brought to 256 px) so the garment runs off the right edge, or the right and bottom edges, by 20% of its size,
and prints the IoU of the mask at the editor's size with the true garment, plain and with the rescue.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    import amgan.editor as editor_module
    from amgan.data.garment_mask import mask_iou, segment, to_work_size
    from amgan.editor import MASK_SIDE, Editor, _proxy, _work_image
    from amgan.io import atomic_write

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--editor", default=str(ROOT / "checkpoints/amgan_photo128"))
    p.add_argument("--photos-root", default=str(ROOT / "data/clothing"))
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--photos", type=int, default=8)
    p.add_argument("--height", type=int, default=320, help="tile height (px)")
    p.add_argument("--out", default=str(ROOT / "docs/frame_rescue.jpg"))
    p.add_argument("--truth", default=None, help="a SynthFashion data set: print the IoU table against the truth")
    a = p.parse_args(argv)
    if a.truth:
        return truth(Path(a.truth))
    root = Path(a.photos_root)
    with open(root / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == a.split]
    ed = Editor.from_checkpoint(a.editor)
    tiles = []
    for r in rows:
        photo = Image.open(root / r["path"]).convert("RGB")
        small = to_work_size(_work_image(_proxy(photo)), MASK_SIDE)
        iou = mask_iou(segment(small, iterations=editor_module.COLOUR_MASK_ITERATIONS),
                       segment(small, iterations=editor_module.COLOUR_MASK_ITERATIONS, frame_rescue=True))
        if iou >= 0.97:
            continue
        request = "make it red" if r.get("color") == "blue" else "make it blue"
        edits = []
        default = editor_module.FRAME_RESCUE
        for rescue in (False, True):
            editor_module.FRAME_RESCUE = rescue  # what garment_mask_small passes to segment
            try:
                edits.append(ed.edit(photo, request).image)
            finally:
                editor_module.FRAME_RESCUE = default
        w = round(photo.width * a.height / photo.height)
        tile = Image.new("RGB", (3 * w, a.height + 20), "white")
        for i, im in enumerate((photo, *edits)):
            tile.paste(im.resize((w, a.height), Image.BILINEAR), (i * w, 20))
        ImageDraw.Draw(tile).text((4, 4), f"{Path(r['path']).stem[:8]}  \"{request}\"  input | plain GrabCut | "
                                          f"with the frame rescue (mask IoU {iou:.2f})", fill="black")
        tiles.append(tile)
        if len(tiles) == a.photos:
            break
    if not tiles:
        print("no photo where the rescue changes the mask")
        return 1
    cols = 2
    W = 900  # every tile scaled to this width
    tiles = [t.resize((W, round(t.height * W / t.width))) for t in tiles]
    rows_h = [max(t.height for t in tiles[i:i + cols]) for i in range(0, len(tiles), cols)]
    sheet = Image.new("RGB", (cols * W, sum(rows_h)), "white")
    y = 0
    for k, i in enumerate(range(0, len(tiles), cols)):
        for j, t in enumerate(tiles[i:i + cols]):
            sheet.paste(t, (j * W, y))
        y += rows_h[k]
    out = atomic_write(Path(a.out), lambda f: sheet.save(f, format="JPEG", quality=85))
    print(f"{out}: {len(tiles)} photos")
    return 0


def truth(data: Path, n: int = 150) -> int:
    import numpy as np

    from amgan.data.garment_mask import mask_iou, segment, to_work_size, upsample_mask

    with open(data / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    for view in ("shop", "street"):
        res: dict[str, list] = {"uncut": [], "cut right 20%": [], "cut right and bottom 20%": []}
        for r in [r for r in rows if r["view"] == view][:n]:
            im = np.asarray(Image.open(data / r["path"]).convert("RGB").resize((256, 256), Image.BICUBIC))
            mk = np.asarray(Image.open(data / r["mask"]).resize((256, 256), Image.NEAREST)) > 0
            ys, xs = np.nonzero(mk)
            if len(xs) == 0:
                continue
            cx, cy = int(xs.max() - 0.2 * (xs.max() - xs.min())), int(ys.max() - 0.2 * (ys.max() - ys.min()))
            for name, (x1, y1) in (("uncut", (256, 256)), ("cut right 20%", (cx, 256)),
                                   ("cut right and bottom 20%", (cx, cy))):
                small = to_work_size(im[:y1, :x1])
                t = upsample_mask(mk[:y1, :x1], small.shape[:2])
                res[name].append((mask_iou(segment(small), t), mask_iou(segment(small, frame_rescue=True), t)))
        for name, v in res.items():
            v = np.array(v)
            print(f"{view:6s} {name:26s} n={len(v)}  IoU plain {v[:, 0].mean():.3f}  rescue {v[:, 1].mean():.3f}  "
                  f"better on {(v[:, 1] > v[:, 0] + 0.05).sum()}, worse on {(v[:, 1] < v[:, 0] - 0.05).sum()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
