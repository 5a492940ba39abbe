"""Searching real photos on the garment alone, measured among the val + test photos with val queries.

The whole-photo embedder (``checkpoints/fir_photo128``) keys on the background in part: a query's first match often
comes from its own contributor (the same floor or wall). The garment embedder (``checkpoints/fir_garment128``,
``configs/photo_fir128_garments.yaml``; ``docs/real_photos.md``, stops 38-39) is trained on garment-only copies and
cuts every input the same way (its image processor's view "garment"). This script measures plain and FLAM-edited
attribute retrieval and the share of first matches from the query's own contributor, each embedder through its
own processor (photos cut by the annotator's masks where the embedder reads garments alone)::

    python bench/garment_only_search.py                                   # the shipped garment pair
    python bench/garment_only_search.py --embedder checkpoints/fir_photo128 --flam checkpoints/flam_photo128
    python bench/garment_only_search.py --sheet docs/garment_view_sheet.jpg    # photos beside what it sees

``--sender-csv`` (the public data set's ``images.csv``, default ``../shared/data/clothing-dataset/images.csv``)
gives each photo's contributor. Choose on ``--split val`` only.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def measure(photos: Path, embedder: str, flam_path: str, split: str, sender_csv: Path) -> dict:
    """Val (``split``) queries against the val + test photos: plain and FLAM-edited top-1/10/30 (a hit has the
    query's known category, colour and sleeve, or the request's), and the share of first matches from the
    query's own contributor."""
    import json

    from amgan.data.manifest import read_manifest
    from fir.evaluate_photos_retrieval import embed_paths
    from fir.flam import load_flam
    from fir.garment_copy import row_masks
    from fir.model import load_embedder
    from fir.photo_retrieval import edit_requests, masked_target_hits, search_without_self

    m = read_manifest(photos / "manifest.csv")
    schema = m.schema
    keep = [i for i in range(len(m)) if m.splits[i] in ("val", "test") and m.masks[i]]
    rows = [{"path": m.paths[i], "split": m.splits[i]} for i in keep]
    labels = m.labels[keep]
    with open(sender_csv, newline="") as f:
        sender = {r["image"]: r["sender_id"] for r in csv.DictReader(f)}
    who = np.array([sender.get(Path(r["path"]).stem, "?") for r in rows])
    net, ep = load_embedder(embedder)
    flam = load_flam(flam_path)
    emb = embed_paths(net, ep.image_processor, [str(m.image_path(i)) for i in keep], True,
                      f"embedding ({ep.image_processor.view})", row_masks(m, keep))
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
    read = {schema.names[g]: round(float((src[:, g] == labels[q, g])[labels[q, g] >= 0].mean()), 3) for g in groups}
    return {"queries": len(q), "flam_reads": read, "gallery": len(rows), "requests": len(reqs),
            "plain": [round(float(plain[:, :k].any(1).mean()), 3) for k in (1, 10, 30)],
            "own_contributor_first": round(float(np.mean(who[ids[:, 0]] == who[q])), 3),
            "flam_edited": [round(float(edited[:, :k].any(1).mean()), 3) for k in (1, 10, 30)]}


def sheet(photos: Path, out: Path, split: str = "val", n: int = 12, tile: int = 160) -> Path:
    """A contact sheet: ``n`` photos of ``split`` (every other one, in manifest order), each beside what the garment
    embedder sees of it (:func:`amgan.image.garment_view` by its annotator mask), three pairs a row."""
    from PIL import Image

    from amgan.data.manifest import read_manifest
    from amgan.image import garment_view
    from amgan.io import atomic_save_image
    from fir.garment_copy import row_masks

    m = read_manifest(photos / "manifest.csv")
    rows = m.indices(split, None)[: 2 * n: 2]
    rows_n = (len(rows) + 2) // 3
    canvas = Image.new("RGB", (6 * tile, rows_n * tile), "white")
    for j, (i, mask) in enumerate(zip(rows, row_masks(m, rows))):
        with Image.open(m.image_path(i)) as im:
            a, b = im.convert("RGB"), garment_view(im, mask)
        x, y = (j % 3) * 2 * tile, (j // 3) * tile
        for k, pic in enumerate((a, b)):
            pic.thumbnail((tile - 4, tile - 4))
            canvas.paste(pic, (x + k * tile + (tile - pic.width) // 2, y + (tile - pic.height) // 2))
    return atomic_save_image(out, canvas, format="JPEG")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=Path, default=ROOT / "data/clothing")
    p.add_argument("--embedder", default=str(ROOT / "checkpoints/fir_garment128"))
    p.add_argument("--flam", default=str(ROOT / "checkpoints/flam_garment128"))
    p.add_argument("--split", default="val", choices=("val", "test"))
    p.add_argument("--sender-csv", type=Path, default=ROOT.parent / "shared/data/clothing-dataset/images.csv")
    p.add_argument("--sheet", type=Path, default=None, help="write a contact sheet (JPEG) of photos and their garment "
                                                          "views here instead of measuring")
    a = p.parse_args(argv)
    if a.sheet:
        print(sheet(a.photos, a.sheet, a.split))
        return 0
    print(measure(a.photos, a.embedder, a.flam, a.split, a.sender_csv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
