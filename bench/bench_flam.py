"""Benchmark: query latency of FLAM against AMGAN edit + re-embed, on the shipped models (CPU).

    python bench/bench_flam.py --out bench/out/flam.json [--queries 50] [--threads 0]

For each of ``--queries`` SynthFashion test shop images and a rotating single-attribute
request, at batch 1 through the public APIs:

- ``amgan_edit_and_reembed``: ``Editor.edit`` + ``Retriever.embed`` of the edit (what an
  image-level edit costs before the search);
- ``flam_manipulate``: ``FlamModel.manipulate`` of the query's feature (what a
  feature-level edit costs once the query is embedded, which a search does anyway);
- end to end with the search: ``Editor.edit`` + ``Retriever.search`` against
  ``Retriever.flam_search`` (embed + manipulate + search).

Medians in milliseconds. Needs the shipped checkpoints and data/synth64 (``make data``).
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from amgan.io import atomic_write_text


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--editor", default="checkpoints/amgan_synth64")
    p.add_argument("--embedder", default="checkpoints/fir_synth64")
    p.add_argument("--flam", default="checkpoints/flam_synth64")
    p.add_argument("--data", default="data/synth64")
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default="bench/out/flam.json")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from PIL import Image

    from amgan.pretrained import model_id
    from amgan.data.manifest import read_manifest
    from amgan.data.memory import load_image
    from amgan.editor import Editor
    from fir.flam import load_flam
    from fir.index import GalleryIndex
    from fir.model import embed_images, load_embedder
    from fir.retriever import Retriever

    for f in (args.editor, args.embedder, args.flam, Path(args.data) / "manifest.csv"):
        if not Path(f).exists():
            raise SystemExit(f"bench_flam: {f} not found (shipped checkpoints and `make data` are needed)")
    torch.set_grad_enabled(False)
    editor = Editor.from_checkpoint(args.editor, device="cpu")
    net, emb_p = load_embedder(args.embedder)
    mid = model_id(args.embedder)
    flam = load_flam(args.flam, expect_embedder_id=mid)
    m = read_manifest(Path(args.data) / "manifest.csv")
    rows = m.indices("test", "shop")
    imgs = np.stack([load_image(m.image_path(i), editor.size) for i in rows])
    emb = embed_images(net, torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous(), 128, progress=False)
    index = GalleryIndex.build(emb, [{"path": str(m.image_path(i))} for i in rows], model_id=mid, kind="flat")
    r = Retriever(net, index, emb_p.image_processor, flam=flam, model_id=mid)
    groups = [g for g in editor.schema.manipulable]
    res = {k: [] for k in ("amgan_edit", "amgan_edit_and_reembed", "amgan_edit_and_search", "flam_manipulate",
                           "flam_search", "embed", "search")}
    n = min(args.queries, len(rows))
    for i in range(n + 2):  # two warm-up queries
        img = Image.fromarray(imgs[i % len(imgs)])
        g = groups[i % len(groups)]
        req = {g.name: g.values[(i * 7) % len(g.values)]}
        t0 = time.perf_counter()
        ed = editor.edit(img, req)
        t1 = time.perf_counter()
        v = r.embed(ed.image)
        t2 = time.perf_counter()
        r.search_vector(v, 30)
        t3 = time.perf_counter()
        q = r.embed(img)
        t4 = time.perf_counter()
        src = flam.predict_labels(q[None])
        tgt = editor.schema.apply_edit(src[0], req)[None]
        t5 = time.perf_counter()
        flam.manipulate(q[None], src, tgt)
        t6 = time.perf_counter()
        r.flam_search(img, req, k=30)
        t7 = time.perf_counter()
        if i < 2:
            continue
        res["amgan_edit"].append(t1 - t0)
        res["amgan_edit_and_reembed"].append(t2 - t0)
        res["amgan_edit_and_search"].append(t3 - t0)
        res["embed"].append(t4 - t3)
        res["search"].append(t3 - t2)
        res["flam_manipulate"].append(t6 - t5)
        res["flam_search"].append(t7 - t6)
    out = {f"{k}_ms": round(1000 * float(np.median(v)), 3) for k, v in res.items()}
    out.update(queries=n, threads=torch.get_num_threads(), gallery=int(index.count),
               flam_manipulate_over_amgan_edit_and_reembed=round(out["flam_manipulate_ms"] / out["amgan_edit_and_reembed_ms"], 5),
               flam_search_over_amgan_edit_and_search=round(out["flam_search_ms"] / out["amgan_edit_and_search_ms"], 4))
    atomic_write_text(args.out, json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
