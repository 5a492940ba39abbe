"""The ``fir`` command line. Thin: every command calls a library function.

    fir train --config C [--set k=v ...] [--device D] [--no-progress]
    fir train-flam --config C [--set k=v ...] [--no-progress]
    fir train-photo --config C [--set k=v ...] [--no-progress]   (an embedder that reads photos)
    fir evaluate --config C --out DIR [--set k=v ...] [--no-progress]
    fir export --checkpoint C --out DIR [--check-data DIR]   (model folder, fp16, checked)
    fir index --checkpoint C --manifest M --out DIR [--split all] [--view all] [--kind auto]
    fir search --index DIR --checkpoint C --image IN|FOLDER|MANIFEST [--k 10] [--json]
               [--edit "make it red" --method amgan|flam|both --editor E --flam F --source sleeve=short]

``fir index`` embeds the manifest's rows (all of them unless ``--split``/``--view`` narrow it)
and saves a :class:`fir.index.GalleryIndex` whose ids are manifest row numbers and whose
metadata per item is ``path`` (absolute), ``product_id``, ``view``, ``split`` and
``attributes`` ({group: value}, unknown labels left out); its model_id is the embedder's
:func:`amgan.pretrained.model_id`, so ``fir search`` refuses an index built by another model.
``fir search`` runs :class:`fir.pipeline.EditAndSearch`, the pipeline the demo uses. Mistakes
print one line ``fir: error: ...`` and return 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from amgan.data.manifest import SPLITS
from amgan import __version__ as _amgan_version
from amgan.config import add_config_arguments, config_argv
from amgan.errors import UserError, run_cli
from amgan.training.run import add_run_arguments

__all__ = ["build_index", "search_image", "build_parser", "main"]


def version() -> str:
    return _amgan_version


def _threads(n: int) -> None:
    if n < 0:
        raise UserError(f"--threads must be >= 0 (0: torch's default), got {n}")
    if n:
        import torch

        torch.set_num_threads(n)


def build_index(checkpoint, manifest, out, split: str | None = None, view: str | None = None,
                kind: str = "auto", batch_size: int = 128, progress: bool = True):
    """Embed the manifest rows of ``split``/``view`` (None: all rows) and save a GalleryIndex to ``out``."""
    import numpy as np
    import torch

    from amgan.pretrained import model_id
    from fir.index import GalleryIndex, check_save_target
    from fir.model import embed_images, load_embedder

    check_save_target(out)  # before any embedding: a file, or a folder of other files, is refused
    net, p = load_embedder(checkpoint)
    rows, meta = index_items(manifest, split, view)
    if len(rows) == 0:
        where = Path(manifest) / "manifest.csv" if Path(manifest).is_dir() else manifest
        raise UserError(f"{where}: no rows with split={split or 'all'} and view={view or 'all'}")
    imgs = np.stack(input_arrays(p.image_processor, manifest, rows, [m["path"] for m in meta], progress))
    emb = embed_images(net, torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous(), batch_size,
                       progress=progress, desc="indexing")
    index = GalleryIndex.build(emb, meta, model_id=model_id(checkpoint), kind=kind, ids=rows)
    index.save(out)
    return index


def input_arrays(proc, manifest, rows, paths, progress: bool = False) -> list:
    """The embedder's inputs (uint8 [S,S,3]) of manifest ``rows`` (their image ``paths``): for an embedder that
    reads garments alone (``proc.view == "garment"``) each image is cut by its row's garment mask
    (:func:`fir.garment_copy.row_masks`)."""
    from tqdm import tqdm

    if proc.view != "garment":
        return [proc.array(q) for q in paths]
    from amgan.data.manifest import read_manifest
    from fir.garment_copy import is_garment_copy, row_masks

    mpath = Path(manifest)
    folder = mpath if mpath.is_dir() else mpath.parent
    if is_garment_copy(folder):
        raise UserError(f"{folder} is a garment-only copy; this embedder cuts the garments itself: give it the "
                        "original data set")
    masks = row_masks(read_manifest(folder / "manifest.csv", check_files=False), rows)
    return [proc.array(q, mk) for q, mk in tqdm(list(zip(paths, masks)), desc="garments", disable=not progress)]


def index_items(manifest, split: str | None = None, view: str | None = None, check_files: bool = True):
    """(row indices, item metadata) of the manifest rows of ``split``/``view`` (None: all): what
    :func:`build_index` stores for each gallery item (path, product, view, split, known attributes)."""
    from amgan.data.manifest import read_manifest

    mpath = Path(manifest)
    if mpath.is_dir():
        mpath = mpath / "manifest.csv"
    m = read_manifest(mpath, check_files=check_files)
    rows = m.indices(split, view)
    return rows, [{"path": str(m.image_path(i)), "product_id": m.product_ids[i], "view": m.views[i],
                   "split": m.splits[i], "attributes": _attributes(m.schema, m.labels[i])} for i in rows]


def _attributes(schema, labels) -> dict:
    """{group: value} of a label vector; unknown labels (-1) are left out."""
    return {g.name: g.values[int(i)] for g, i in zip(schema.groups, labels) if 0 <= int(i) < len(g)}


def search_image(index_dir, checkpoint, image, k: int = 10):
    """Top-k :class:`fir.index.Hit` list for one image; refuses another model's index."""
    from fir.retriever import Retriever

    return Retriever.from_paths(checkpoint, index_dir).search(image, k=k).hits


def _query_images(spec: str) -> list[Path]:
    """An image file, a folder of images, or a manifest (its folder or manifest.csv)."""
    p = Path(spec)
    if p.is_dir() and (p / "manifest.csv").is_file():
        p = p / "manifest.csv"
    if p.is_file() and p.suffix.lower() == ".csv":
        from amgan.data.manifest import read_manifest

        m = read_manifest(p)
        return [m.image_path(i) for i in range(len(m))]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"{p}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        return files
    if not p.exists():
        raise UserError(f"image not found: {p}")
    return [p]


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def format_hits(hits, matches=None) -> str:
    """Hits as a text table: rank (1-based, ✓ when the item matches the target), score,
    product_id, attributes, path."""
    rows = [("rank", "score", "product_id", "attributes", "path")]
    for i, h in enumerate(hits):
        attrs = h.item.get("attributes", {})
        mark = " ✓" if matches is not None and matches[i] else ""
        rows.append((f"{h.rank + 1}{mark}", f"{h.score:.4f}", str(h.item.get("product_id", "")),
                     ",".join(f"{g}={v}" for g, v in attrs.items()), str(h.item.get("path", ""))))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    return "\n".join("  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4] for r in rows)


def _train(args) -> int:
    from fir.train import main as train_main

    return train_main(config_argv(args, "device", "resume", "allow-config-change"))


def _train_flam(args) -> int:
    from fir.flam import main as flam_main

    return flam_main(config_argv(args, "resume", "allow-config-change"))


def _train_photo(args) -> int:
    from fir.train_photo import main as photo_main

    return photo_main(config_argv(args))


def _garment_copy(args) -> int:
    from fir.garment_copy import garment_copy

    s = garment_copy(args.data, args.out, progress=not args.no_progress)
    print(f"{s['rows']} images written to {args.out} ({s['without_mask']} copied whole: the annotator found no "
          f"garment; {s['cut_by_grabcut']} cut by GrabCut's mask: no mask in the data set)")
    return 0


def _evaluate(args) -> int:
    from fir.evaluate import main as eval_main

    return eval_main(config_argv(args, "out"))


def _evaluate_photos(args) -> int:
    from fir.evaluate_photos import run

    return run(args)


def _export(args) -> int:
    from fir.model import export_embedder

    imgs = None
    if args.check_data:
        import numpy as np
        import torch

        from amgan.data.manifest import read_manifest
        from amgan.pretrained import load_pretrained

        proc = load_pretrained(args.checkpoint, kind="fir-embedder").image_processor
        m = read_manifest(Path(args.check_data) / "manifest.csv")
        rows = m.indices("test", None)[: args.check_n]
        imgs = torch.from_numpy(np.stack(input_arrays(proc, args.check_data, rows,
                                                      [m.image_path(i) for i in rows]))).permute(0, 3, 1, 2)
    report = export_embedder(args.checkpoint, args.out, imgs.contiguous() if imgs is not None else None)
    print(json.dumps({"out": str(args.out), **report}))
    return 0


def _index(args) -> int:
    _threads(args.threads)
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    split = None if args.split == "all" else args.split
    view = None if args.view == "all" else args.view
    idx = build_index(args.checkpoint, args.manifest, args.out, split=split, view=view, kind=args.kind,
                      batch_size=args.batch_size, progress=not args.no_progress)
    print(f"indexed {idx.count} images (split {split or 'all'}, view {view or 'all'}) into {args.out}",
          file=sys.stderr)
    print(json.dumps({"out": str(args.out), "count": idx.count, "dim": idx.dim, "kind": idx.kind,
                      "split": split or "all", "view": view or "all", "model_id": idx.model_id}))
    return 0


def _search(args) -> int:
    from fir.pipeline import EditAndSearch

    _threads(args.threads)
    if args.k < 1:
        raise UserError(f"--k must be >= 1, got {args.k}")
    images = _query_images(args.image)
    if args.region != "whole" and not args.edit:
        raise UserError("--region goes with --edit")
    needs_editor = bool(args.edit) and args.method in ("amgan", "both")
    if needs_editor and not args.editor:
        raise UserError("--method amgan edits the photo: give the editor with --editor (an `amgan export` folder)")
    flam = args.flam if args.edit and args.method in ("flam", "both") else None
    if args.edit and args.method in ("flam", "both") and not flam:
        raise UserError("--method flam needs the FLAM model: give it with --flam")
    pipe = EditAndSearch.from_paths(editor=args.editor if needs_editor else None, embedder=args.checkpoint,
                                    index=args.index, flam=flam)
    source = pipe.schema.parse_values(args.source) if args.source and pipe.schema is not None else None
    for n, img in enumerate(images):
        try:
            if args.edit:
                out = pipe.run(img, args.edit, method=args.method, region=args.region, source=source, k=args.k)
                results = out.results
            else:
                results = {"plain": pipe.search(img, k=args.k)}
        except UserError as e:
            if len(images) == 1:
                raise
            print(json.dumps({"image": str(img), "error": str(e)}) if args.json else f"{img}: error: {e}")
            continue
        for method, r in results.items():
            if args.json:
                print(json.dumps(_result_json(img, r)))
            else:
                if len(images) > 1 or r.target:
                    title = f"{img}" + (f" [{method}: {', '.join(f'{g}={v}' for g, v in r.target.items())}]"
                                        if r.target else "")
                    print(("\n" if n or method != next(iter(results)) else "") + title)
                print(format_hits(r.hits, r.matches))
    return 0


def _result_json(img, r) -> dict:
    return {"image": str(img), "method": r.method, "source": r.source or None, "target": r.target,
            "hits": [{"rank": h.rank + 1, "score": round(float(h.score), 6), "id": int(h.id),
                      "match": (r.matches[i] if r.matches is not None else None), **h.item}
                     for i, h in enumerate(r.hits)],
            "timings": r.timings}


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = argparse.ArgumentParser(prog="fir", description="FIR: fashion image retrieval", formatter_class=fmt)
    p.add_argument("--version", action="version", version=f"fir {version()}")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("train", help="train the embedding network (metric learning on street/shop pairs)",
                       formatter_class=fmt)
    add_config_arguments(s, "configs/fir_synth64.yaml")
    s.add_argument("--device", default=None, help="cpu or cuda (None: cuda when present)")
    add_run_arguments(s)
    s.set_defaults(fn=_train)

    s = sub.add_parser("train-flam", help="train FLAM (feature-level attribute manipulation) on frozen FIR features",
                       formatter_class=fmt)
    add_config_arguments(s, "configs/flam_synth64.yaml")
    add_run_arguments(s)
    s.set_defaults(fn=_train_flam)

    s = sub.add_parser("train-photo", help="train a FIR embedder that reads photos, on the frozen photo reader",
                       formatter_class=fmt)
    add_config_arguments(s, "configs/photo_fir128.yaml")
    s.set_defaults(fn=_train_photo)

    s = sub.add_parser("garment-copy", help="a garment-only copy of a data set (background whited out beyond each "
                                            "mask, cropped to the garment): what train-photo's garment view trains on",
                       formatter_class=fmt)
    s.add_argument("--data", required=True, help="the data set folder (its manifest's masks cut the images)")
    s.add_argument("--out", required=True, help="a new or empty folder for the copy")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(fn=_garment_copy)

    s = sub.add_parser("evaluate", help="retrieval-based evaluation of edits: report.md/html, metrics.json, plots",
                       formatter_class=fmt)
    add_config_arguments(s)
    s.add_argument("--out", required=True, help="report folder")
    s.set_defaults(fn=_evaluate)

    s = sub.add_parser("evaluate-photos", help="how well each model reads real photos (accuracy with intervals)",
                       formatter_class=fmt)
    from fir.evaluate_photos import add_arguments as photo_arguments

    photo_arguments(s)
    s.set_defaults(fn=_evaluate_photos)

    s = sub.add_parser("export", help="ship an embedder: a model folder with fp16 weights, checked against fp32",
                       formatter_class=fmt)
    s.add_argument("--checkpoint", required=True, help="embedder.pt from `fir train` (or a model folder)")
    s.add_argument("--out", required=True, help="model folder to write")
    s.add_argument("--check-data", default=None, help="a data set folder whose test images check the fp16 copy")
    s.add_argument("--check-n", type=int, default=128, help="how many test images check it")
    s.set_defaults(fn=_export)

    s = sub.add_parser("index", help="embed a manifest's images into a saved gallery index", formatter_class=fmt)
    s.add_argument("--checkpoint", required=True, help="the embedder (model folder or embedder.pt)")
    s.add_argument("--manifest", required=True, help="manifest.csv or its folder")
    s.add_argument("--out", required=True, help="index folder to write")
    s.add_argument("--split", default="all", choices=[*SPLITS, "all"], help="index only this split")
    s.add_argument("--view", default="all", help="index only this view (e.g. shop, street)")
    s.add_argument("--kind", default="auto", choices=["auto", "flat", "ivf", "hnsw", "ivfpq"],
                   help="auto: exact below 50k images, IVF above")
    s.add_argument("--batch-size", type=int, default=128, help="images per embedding batch")
    s.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(fn=_index)

    s = sub.add_parser("search", help="query a gallery index with photos, as they are or edited (\"this, but red\")",
                       formatter_class=fmt)
    s.add_argument("--index", required=True, help="folder written by `fir index`")
    s.add_argument("--checkpoint", required=True, help="the embedder that built the index")
    s.add_argument("--image", required=True, help="an image, a folder of images, or a manifest (all its rows)")
    s.add_argument("--k", type=int, default=10, help="matches per query")
    s.add_argument("--edit", default=None, help='the request, e.g. "make it red" or color=red,sleeve=long')
    s.add_argument("--method", default="flam", choices=["amgan", "flam", "both"],
                   help="amgan: edit the photo, then search; flam: move its search feature")
    s.add_argument("--region", default="whole", choices=["whole", "sleeves", "torso", "sleeves+torso"],
                   help="keep an AMGAN colour/pattern edit to this region")
    s.add_argument("--source", default=None, help="values you know of the photo, e.g. sleeve=short (replace the "
                                                  "models' reading)")
    s.add_argument("--editor", default=None, help="AMGAN editor model (for --method amgan/both)")
    s.add_argument("--flam", default=None, help="FLAM model trained on this embedder (for --method flam/both)")
    s.add_argument("--json", action="store_true", help="one JSON line per query and method")
    s.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    s.set_defaults(fn=_search)
    return p


def main(argv=None) -> int:
    return run_cli("fir", build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
