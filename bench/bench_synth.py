"""Benchmark: SynthFashion generation speed (target: 10,000 images of 64 px in < 60 s on 2 cores).

    python bench/bench_synth.py --images 10000 --out bench/out/synth.json
"""
import argparse
import json
import os
import tempfile
import time

from amgan.data.synth_dataset import generate
from amgan.io import atomic_write_text


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--street-views", type=int, default=2)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--out", default="bench/out/synth.json")
    a = p.parse_args(argv)
    products = a.images // (1 + a.street_views)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        s = generate(d, products, seed=0, size=a.size, street_views=a.street_views, workers=a.workers, progress=False)
        total = time.perf_counter() - t
    res = {"images": s["images"], "size": a.size, "workers": a.workers, "cpus": os.cpu_count(),
           "render_and_write_seconds": s["render_seconds"], "total_seconds_with_manifest": round(total, 2),
           "images_per_second": round(s["images"] / total, 1), "target_seconds_for_10000": 60,
           "seconds_per_10000": round(total * 10000 / s["images"], 1)}
    atomic_write_text(a.out, json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
