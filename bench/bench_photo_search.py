"""Benchmark: searching real photos with the whole-photo and the garment embedder (CPU, batch 1).

    python bench/bench_photo_search.py --out bench/out/photo_search.json [--queries 40] [--threads 0]

The gallery is every photo of ``data/clothing`` (``make photos``; the demo's catalogue), indexed by each embedder
through its own image processor (the garment embedder cuts them by their annotator masks). For each of ``--queries``
test photos, decoded once, through the public API (``fir.retriever.Retriever``):

- ``search``: a photo not seen before (the garment embedder finds its garment with GrabCut first);
- ``flam_search``: the same photo with a colour request right after (the garment cut is reused);
- ``cut``: :func:`amgan.image.garment_view` with GrabCut alone.

Medians and 90th percentiles in milliseconds, and the index build time per photo.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from amgan.io import atomic_write_text

PAIRS = {"whole": ("checkpoints/fir_photo128", "checkpoints/flam_photo128"),
         "garment": ("checkpoints/fir_garment128", "checkpoints/flam_garment128")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data/clothing")
    p.add_argument("--queries", type=int, default=40)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default="bench/out/photo_search.json")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from amgan.data.manifest import read_manifest
    from amgan.image import garment_view, to_rgb
    from fir.cli import build_index
    from fir.retriever import Retriever

    m = read_manifest(Path(args.data) / "manifest.csv")
    queries = [to_rgb(m.image_path(i)) for i in m.indices("test", None)[: args.queries]]
    out: dict = {"queries": len(queries), "gallery": len(m), "threads": torch.get_num_threads()}
    colours = ["red", "blue", "black", "white", "green"]
    for name, (emb, flam) in PAIRS.items():
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            idx_dir = Path(tmp) / "index"
            build_index(emb, args.data, idx_dir, progress=False)  # every photo: the demo's catalogue
            build_s = time.perf_counter() - t
            r = Retriever.from_paths(emb, idx_dir, flam=flam)
            r.search(queries[0].transpose(0), k=10)  # warm-up, on a mirror image (other pixels: not in the cut cache)
            times = {"search": [], "flam_search": []}
            for j, q in enumerate(queries):
                t0 = time.perf_counter()
                r.search(q, k=10)
                t1 = time.perf_counter()
                r.flam_search(q, {"color": colours[j % len(colours)]}, k=10)
                t2 = time.perf_counter()
                times["search"].append(t1 - t0)
                times["flam_search"].append(t2 - t1)
            out[name] = {"embedder": emb, "index_seconds_per_photo": round(build_s / len(m), 4),
                         **{f"{k}_ms": round(1000 * float(np.median(v)), 1) for k, v in times.items()},
                         **{f"{k}_p90_ms": round(1000 * float(np.percentile(v, 90)), 1) for k, v in times.items()}}
    cut = []
    for q in queries:
        t0 = time.perf_counter()
        garment_view(q)
        cut.append(time.perf_counter() - t0)
    out["cut_ms"] = round(1000 * float(np.median(cut)), 1)
    atomic_write_text(args.out, json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
