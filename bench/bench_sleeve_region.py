"""Where are the sleeves? The region of "red sleeves" / "blue torso" edits: the paper's attention mask
(``Editor.sleeve_region``: the attention of a "sleeveless" edit, thresholded at 0.9) against the
garment outline's (:func:`amgan.data.sleeve_region.sleeve_mask`, what ``Editor.edit`` uses on photos).

    python bench/bench_sleeve_region.py --out bench/out/sleeve_region.json \\
        --sheet docs/region_sleeves.jpg --photo-split test --photos 48

- SynthFashion (``--synth``, test split, tops and dresses with sleeves, shop and street views): IoU
  with the true sleeve region (region map label "sleeves") of the attention mask, of the outline's
  on the true garment, and of the outline's on the editor's GrabCut mask; each with the true sleeve length.
- Photos (``--photos`` of ``--photo-split`` with a known sleeve length other than sleeveless, in
  manifest order): a contact sheet, one photo per tile: the attention mask (left) and the outline's
  (right, from the editor's own reading of the sleeve length) in magenta over the photo. There is no
  true sleeve region for photos: look at the sheet.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    u = (a | b).sum()
    return float((a & b).sum() / u) if u else 1.0


def _attention_sleeves(ed, x: torch.Tensor, source: dict | None = None) -> np.ndarray:
    """The paper's sleeve mask on the model's square, bool [S, S]."""
    labels = ed.read_labels(x, source)
    return ed.sleeve_region(x, labels)[0, 0].numpy() > 0.5


def synth_part(ed, root: Path, limit: int) -> dict:
    from amgan.data.garment_mask import upsample_mask
    from amgan.data.sleeve_region import sleeve_mask
    from amgan.data.synth import REGIONS
    from amgan.editor import garment_mask_small

    rows = [r for r in csv.DictReader(open(root / "manifest.csv")) if r["split"] == "test" and r["sleeve"] != "sleeveless"]
    out = {}
    for view in ("shop", "street"):
        sel = [r for r in rows if r["view"] == view][:limit]
        att, true_g, grab = [], [], []
        for r in sel:
            img = Image.open(root / r["path"]).convert("RGB")
            regions = np.asarray(Image.open(root / r["mask"]))
            truth, garment = regions == REGIONS["sleeves"], regions != REGIONS["background"]
            x = ed.processor.preprocess(img).tensor
            att.append(_iou(_attention_sleeves(ed, x, {"sleeve": r["sleeve"]}), truth))  # renders: square, model size
            true_g.append(_iou(sleeve_mask(garment, r["sleeve"])[0], truth))
            g = garment_mask_small(np.asarray(img))
            s = np.zeros_like(truth) if g is None else upsample_mask(sleeve_mask(g, r["sleeve"])[0], truth.shape)
            grab.append(_iou(s, truth))
        out[view] = {"n": len(sel), "attention_iou": round(float(np.mean(att)), 3),
                     "outline_true_garment_iou": round(float(np.mean(true_g)), 3),
                     "outline_grabcut_iou": round(float(np.mean(grab)), 3)}
    return out


def photo_sheet(ed, root: Path, split: str, n: int, out: Path, tile: int = 200) -> dict:
    from amgan.composite import to_grid
    from amgan.data.sleeve_region import sleeve_mask
    from amgan.editor import _proxy, _work_image, garment_mask_small

    rows = [r for r in csv.DictReader(open(root / "manifest.csv"))
            if r["split"] == split and r["sleeve"] in ("short", "long")][:n]
    tiles, hows = [], {}
    for r in rows:
        img = Image.open(root / r["path"]).convert("RGB")
        work = _work_image(_proxy(ed.processor.load(img)))
        g = garment_mask_small(work)
        probs = ed.predict(img)
        read = max(probs["sleeve"], key=probs["sleeve"].get)
        x, _, geom = ed.processor.preprocess(img)
        small = np.asarray(Image.fromarray(work).resize((g.shape[1], g.shape[0]) if g is not None else work.shape[1::-1],
                                                        Image.BILINEAR))
        att = to_grid(torch.from_numpy(_attention_sleeves(ed, x).astype(np.float32))[None, None], geom,
                      small.shape[:2])[..., 0] > 0.5
        sl, how = (sleeve_mask(g, read) if g is not None else (np.zeros(small.shape[:2], bool), "no garment"))
        hows[how] = hows.get(how, 0) + 1
        panels = []
        for m in (att, sl):
            p = small.astype(np.float32).copy()
            p[m] = 0.35 * p[m] + 0.65 * np.array([255, 0, 200])
            panels.append(Image.fromarray(p.astype(np.uint8)).resize((tile, round(tile * small.shape[0] / small.shape[1]))))
        h = max(q.size[1] for q in panels)
        t = Image.new("RGB", (2 * tile + 4, h + 16), "white")
        t.paste(panels[0], (0, 16))
        t.paste(panels[1], (tile + 4, 16))
        ImageDraw.Draw(t).text((2, 2), f"#{len(tiles)} {r['category']}, {r['sleeve']} (read {read}): attention | outline ({how})",
                               fill="black")
        tiles.append(t)
    cols = 4
    W = cols * (2 * tile + 12)
    Hs = [max(t.size[1] for t in tiles[i:i + cols]) + 8 for i in range(0, len(tiles), cols)]
    sheet = Image.new("RGB", (W, sum(Hs)), "white")
    y = 0
    for i, hh in zip(range(0, len(tiles), cols), Hs):
        for j, t in enumerate(tiles[i:i + cols]):
            sheet.paste(t, (j * (2 * tile + 12), y))
        y += hh
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=88)
    return {"photos": len(tiles), "split": split, "outline_modes": hows, "sheet": str(out)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--editor", default="checkpoints/amgan_photo128")
    ap.add_argument("--synth", default="data/synth128")
    ap.add_argument("--synth-limit", type=int, default=150)
    ap.add_argument("--photo-data", default="data/clothing")
    ap.add_argument("--photo-split", default="test")
    ap.add_argument("--photos", type=int, default=48)
    ap.add_argument("--sheet", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    from amgan.editor import Editor

    ed = Editor.from_checkpoint(args.editor)
    t = time.perf_counter()
    res = {"editor": args.editor}
    if args.synth and Path(args.synth).is_dir():
        res["synth"] = synth_part(ed, Path(args.synth), args.synth_limit)
    if args.sheet:
        res["photos"] = photo_sheet(ed, Path(args.photo_data), args.photo_split, args.photos, Path(args.sheet))
    res["seconds"] = round(time.perf_counter() - t, 1)
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
