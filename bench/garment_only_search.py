"""Searching real photos on the garment alone: the measurement behind docs/real_photos.md ("Stop 38").

The photo embedder (``checkpoints/fir_photo128``) keys on the background in part: a query's first match often
comes from its own contributor (the same floor or wall). This script makes a garment-only copy of the photo
data set (the background whited out beyond the annotator's garment mask, a soft 2-px edge, each photo cropped
to its garment's box plus 5% of the long side) and measures retrieval among the val + test photos with val
queries, plain and FLAM-edited, with the share of first matches from the query's own contributor::

    python bench/garment_only_search.py make --photos data/clothing --out data/clothing_garments
    fir train-photo --config configs/photo_fir128.yaml --set 'data.roots=[data/synth64, data/clothing_garments]' \\
        --set train.out=runs/fir_garments
    fir train-flam --config configs/flam_photo128.yaml --set embedder=runs/fir_garments/embedder \\
        --set 'data.photo_roots=[data/clothing_garments]' --set train.out=runs/flam_garments
    python bench/garment_only_search.py measure --photos data/clothing --garments data/clothing_garments \\
        --embedder runs/fir_garments/embedder --flam runs/flam_garments/flam.pt
    python bench/garment_only_search.py measure --photos data/clothing            # the shipped pair, whole photos

``--sender-csv`` (the public data set's ``images.csv``, default ``../shared/data/clothing-dataset/images.csv``)
gives each photo's contributor. Choose on ``--split val`` only.
"""
from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def garment_only(image, mask: np.ndarray, pad: float = 0.05, edge: float = 2.0):
    """The photo (PIL RGB) with its background whited out beyond ``mask`` (bool, any size) and cropped to the
    garment's box plus ``pad`` of the long side; the photo itself when the mask is empty."""
    from PIL import Image
    from scipy import ndimage

    m = np.asarray(Image.fromarray(np.asarray(mask, np.uint8) * 255).resize(image.size)) > 127
    if not m.any():
        return image
    soft = ndimage.gaussian_filter(m.astype(np.float32), edge)[..., None]
    out = Image.fromarray((np.asarray(image, np.float32) * soft + 255 * (1 - soft) + 0.5).astype(np.uint8))
    ys, xs = np.nonzero(m)
    p = int(pad * max(image.size))
    return out.crop((max(0, xs.min() - p), max(0, ys.min() - p), min(image.width, xs.max() + 1 + p),
                     min(image.height, ys.max() + 1 + p)))


def make(photos: Path, out: Path) -> int:
    """A garment-only copy of a photo data set: same manifest rows (paths to PNGs, no masks), same schema."""
    from PIL import Image
    from tqdm import tqdm

    with open(photos / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    (out / "images").mkdir(parents=True, exist_ok=True)
    new = []
    for r in tqdm(rows, desc="garment-only photos"):
        im = Image.open(photos / r["path"]).convert("RGB")
        if r.get("mask"):
            im = garment_only(im, np.asarray(Image.open(photos / r["mask"])) > 0)
        name = "images/" + Path(r["path"]).stem + ".png"
        im.save(out / name)
        new.append({**r, "path": name, "mask": ""})
    with open(out / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(new)
    shutil.copy(photos / "schema.json", out / "schema.json")
    return len(new)


def measure(photos: Path, garments: Path | None, embedder: str, flam_path: str, split: str, sender_csv: Path) -> dict:
    """Val (``split``) queries against the val + test photos: plain and FLAM-edited top-1/10/30 (a hit has the
    query's known category, colour and sleeve, or the request's), and the share of first matches from the
    query's own contributor."""
    import json

    import torch
    from PIL import Image

    from amgan.attributes import Schema
    from fir.flam import load_flam
    from fir.model import load_embedder
    from fir.photo_retrieval import edit_requests, masked_target_hits, search_without_self

    schema = Schema.from_dict(json.loads((photos / "schema.json").read_text()))
    with open(photos / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] in ("val", "test") and r["mask"]]
    labels = np.array([[g.values.index(r[g.name]) if r[g.name] in g.values else -1 for g in schema.groups]
                       for r in rows])
    with open(sender_csv, newline="") as f:
        sender = {r["image"]: r["sender_id"] for r in csv.DictReader(f)}
    who = np.array([sender.get(Path(r["path"]).stem, "?") for r in rows])
    net, ep = load_embedder(embedder)
    flam = load_flam(flam_path)
    root = garments or photos

    def image(r):
        return Image.open(root / ("images/" + Path(r["path"]).stem + ".png" if garments else r["path"])).convert("RGB")

    with torch.no_grad():
        emb = np.concatenate([net(ep.image_processor.batch([image(r) for r in rows[s:s + 32]])).float().numpy()
                              for s in range(0, len(rows), 32)])
    groups = [schema.group_index(g) for g in ("category", "color", "sleeve")]
    q = np.flatnonzero(np.array([r["split"] == split for r in rows]))
    reqs, _ = edit_requests(labels[q], labels, groups, [schema.group_index(g) for g in ("color", "sleeve")],
                            schema.sizes)
    ids = search_without_self(emb, emb[q], 30, q)
    plain = masked_target_hits(ids, labels, labels[q], groups)
    rq = np.array([r.query for r in reqs])
    src = flam.predict_labels(emb[q])
    target = src[rq].copy()
    target[np.arange(len(reqs)), [r.group for r in reqs]] = [r.value for r in reqs]
    ids_f = search_without_self(emb, flam.manipulate(emb[q][rq], src[rq], target), 30, q[rq])
    edited = masked_target_hits(ids_f, labels, np.stack([r.target for r in reqs]), groups)
    return {"queries": len(q), "gallery": len(rows), "requests": len(reqs),
            "plain": [round(float(plain[:, :k].any(1).mean()), 3) for k in (1, 10, 30)],
            "own_contributor_first": round(float(np.mean(who[ids[:, 0]] == who[q])), 3),
            "flam_edited": [round(float(edited[:, :k].any(1).mean()), 3) for k in (1, 10, 30)]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="a garment-only copy of a photo data set")
    m.add_argument("--photos", type=Path, default=ROOT / "data/clothing")
    m.add_argument("--out", type=Path, required=True)
    e = sub.add_parser("measure", help="retrieval among the val + test photos")
    e.add_argument("--photos", type=Path, default=ROOT / "data/clothing")
    e.add_argument("--garments", type=Path, default=None, help="the garment-only copy (queries and gallery from it)")
    e.add_argument("--embedder", default=str(ROOT / "checkpoints/fir_photo128"))
    e.add_argument("--flam", default=str(ROOT / "checkpoints/flam_photo128"))
    e.add_argument("--split", default="val", choices=("val", "test"))
    e.add_argument("--sender-csv", type=Path, default=ROOT.parent / "shared/data/clothing-dataset/images.csv")
    a = p.parse_args(argv)
    if a.cmd == "make":
        print(make(a.photos, a.out), "photos written to", a.out)
    else:
        print(measure(a.photos, a.garments, a.embedder, a.flam, a.split, a.sender_csv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
