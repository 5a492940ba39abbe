"""The ``fir`` command line. Thin: every command calls a library function.

    fir train --config C [--set k=v ...] [--device D] [--no-progress]
    fir train-flam --config C [--set k=v ...] [--no-progress]
    fir evaluate --config C --out DIR [--set k=v ...] [--no-progress]
    fir export --checkpoint C --out F [--check-data DIR]   (fp16, optimizer dropped, checked)
    fir index --checkpoint C --manifest M --out DIR [--split test] [--view shop] [--kind auto]
    fir search --index DIR --checkpoint C --image IN [--k 10]

``fir index`` embeds the chosen manifest rows and saves a :class:`fir.index.GalleryIndex`
whose ids are manifest row numbers and whose metadata per item is ``path`` (absolute),
``product_id``, ``view``, ``split`` and ``attributes`` ({group: value}); its model_id is
the sha256 of the checkpoint file, so ``fir search`` refuses an index built by another
model. Errors print ``fir: error: ...`` and return 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from amgan.data.manifest import SPLITS

__all__ = ["build_index", "search_image", "build_parser", "main"]


def _threads(n: int) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def build_index(checkpoint, manifest, out, split: str | None = "test", view: str | None = "shop",
                kind: str = "auto", batch_size: int = 128, progress: bool = True):
    """Embed the manifest rows of ``split``/``view`` (None: all) and save a GalleryIndex to ``out``."""
    import numpy as np
    import torch

    from amgan.checkpoint import file_sha256
    from amgan.data.manifest import read_manifest
    from amgan.data.memory import load_image
    from fir.index import GalleryIndex
    from fir.model import embed_images, load_embedder

    net, ck = load_embedder(checkpoint)
    size = int(ck.get("image_size") or ck["config"]["data"]["size"])
    mpath = Path(manifest)
    if mpath.is_dir():
        mpath = mpath / "manifest.csv"
    m = read_manifest(mpath)
    rows = m.indices(split, view)
    if len(rows) == 0:
        raise ValueError(f"{mpath}: no rows with split={split or 'all'} and view={view or 'all'}")
    imgs = np.stack([load_image(m.image_path(i), size) for i in rows])
    emb = embed_images(net, torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous(), batch_size,
                       progress=progress, desc="indexing")
    meta = [{"path": str(m.image_path(i)), "product_id": m.product_ids[i], "view": m.views[i],
             "split": m.splits[i], "attributes": m.schema.decode(m.labels[i])} for i in rows]
    index = GalleryIndex.build(emb, meta, model_id=file_sha256(checkpoint), kind=kind, ids=rows)
    index.save(out)
    return index


def search_image(index_dir, checkpoint, image, k: int = 10):
    """Top-k :class:`fir.index.Hit` list for one image file; refuses another model's index."""
    import torch

    from amgan.checkpoint import file_sha256
    from amgan.data.memory import load_image
    from fir.index import GalleryIndex
    from fir.model import load_embedder

    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    index = GalleryIndex.load(index_dir, expect_model_id=file_sha256(checkpoint))
    if not Path(image).is_file():
        raise FileNotFoundError(f"image not found: {image}")
    net, ck = load_embedder(checkpoint)
    size = int(ck.get("image_size") or ck["config"]["data"]["size"])
    x = torch.from_numpy(load_image(image, size).copy()).permute(2, 0, 1)[None].float().div(255.0)
    with torch.no_grad():
        q = net(x).numpy()
    return index.search_items(q, k)[0]


def format_hits(hits) -> str:
    """Hits as a text table: rank (1-based), score, product_id, attributes, path."""
    rows = [("rank", "score", "product_id", "attributes", "path")]
    for h in hits:
        attrs = h.item.get("attributes", {})
        rows.append((str(h.rank + 1), f"{h.score:.4f}", str(h.item.get("product_id", "")),
                     ",".join(f"{g}={v}" for g, v in attrs.items()), str(h.item.get("path", ""))))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    return "\n".join("  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4] for r in rows)


def _train(args) -> int:
    from fir.train import main as train_main

    argv = ["--config", args.config] + [a for s in args.set or [] for a in ("--set", s)]
    argv += (["--device", args.device] if args.device else []) + (["--no-progress"] if args.no_progress else [])
    return train_main(argv)


def _train_flam(args) -> int:
    from fir.flam import main as flam_main

    argv = ["--config", args.config] + [a for s in args.set or [] for a in ("--set", s)]
    return flam_main(argv + (["--no-progress"] if args.no_progress else []))


def _evaluate(args) -> int:
    from fir.evaluate import main as eval_main

    argv = ["--config", args.config, "--out", args.out] + [a for s in args.set or [] for a in ("--set", s)]
    return eval_main(argv + (["--no-progress"] if args.no_progress else []))


def _export(args) -> int:
    from fir.model import export_embedder

    imgs = None
    if args.check_data:
        import numpy as np
        import torch

        from amgan.data.manifest import read_manifest
        from amgan.data.memory import load_image

        from amgan.checkpoint import load_checkpoint

        ck = load_checkpoint(args.checkpoint, kind="fir-embedder")
        size = int(ck.get("image_size") or ck["config"]["data"]["size"])
        del ck
        m = read_manifest(Path(args.check_data) / "manifest.csv")
        rows = m.indices("test", None)[: args.check_n]
        imgs = torch.from_numpy(np.stack([load_image(m.image_path(i), size) for i in rows])).permute(0, 3, 1, 2)
    report = export_embedder(args.checkpoint, args.out, imgs.contiguous() if imgs is not None else None)
    print(json.dumps({"out": str(args.out), **report}))
    return 0


def _index(args) -> int:
    _threads(args.threads)
    idx = build_index(args.checkpoint, args.manifest, args.out, split=None if args.split == "all" else args.split,
                      view=None if args.view == "all" else args.view, kind=args.kind,
                      batch_size=args.batch_size, progress=not args.no_progress)
    print(json.dumps({"out": str(args.out), "count": idx.count, "dim": idx.dim, "kind": idx.kind,
                      "model_id": idx.model_id}))
    return 0


def _search(args) -> int:
    _threads(args.threads)
    if args.k < 1:
        raise ValueError(f"--k must be >= 1, got {args.k}")
    print(format_hits(search_image(args.index, args.checkpoint, args.image, args.k)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fir", description="FIR: fashion image retrieval")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("train", help="train the embedding network (metric learning on street/shop pairs)")
    s.add_argument("--config", required=True)
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    s.add_argument("--device", default=None)
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=_train)

    s = sub.add_parser("train-flam", help="train FLAM (feature-level attribute manipulation) on frozen FIR features")
    s.add_argument("--config", required=True)
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=_train_flam)

    s = sub.add_parser("evaluate", help="retrieval-based evaluation of edits: report.md/html, metrics.json, plots")
    s.add_argument("--config", required=True)
    s.add_argument("--out", required=True, help="report folder")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=_evaluate)

    s = sub.add_parser("export", help="ship an embedder: fp16 weights, no optimizer, checked against fp32")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--check-data", default=None, help="a data set folder whose test images check the fp16 copy")
    s.add_argument("--check-n", type=int, default=128)
    s.set_defaults(fn=_export)

    s = sub.add_parser("index", help="embed a manifest's images into a saved gallery index")
    s.add_argument("--checkpoint", required=True, help="embedder.pt from `fir train`")
    s.add_argument("--manifest", required=True, help="manifest.csv or its folder")
    s.add_argument("--out", required=True, help="index folder to write")
    s.add_argument("--split", default="test", choices=[*SPLITS, "all"])
    s.add_argument("--view", default="shop", help="view to index (e.g. shop, street) or 'all'")
    s.add_argument("--kind", default="auto", choices=["auto", "flat", "ivf", "hnsw", "ivfpq"])
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=_index)

    s = sub.add_parser("search", help="query a gallery index with one image")
    s.add_argument("--index", required=True, help="folder written by `fir index`")
    s.add_argument("--checkpoint", required=True, help="the embedder.pt that built the index")
    s.add_argument("--image", required=True)
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--threads", type=int, default=0)
    s.set_defaults(fn=_search)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"fir: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
