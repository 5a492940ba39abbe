"""Benchmark the gallery index: numpy brute force, faiss flat, IVF and HNSW sweeps, auto.

    python bench/bench_index.py --sizes 10000 100000 1000000 --dim 256 --out bench/out/index.json

Data: seeded synthetic embeddings shaped like real ones: ``--clusters`` Gaussian clusters
on the unit sphere (centre + isotropic noise, re-normalised); queries are gallery points
plus smaller noise (a different photo of a gallery item). Ground truth is the numpy
exact top-10 (ties by id). For every size and index this records build seconds, index
bytes (``faiss.serialize_index``), ms/query when the queries are searched in one batch,
ms for a single query searched alone (what the demo sees), and recall@10 against exact.
Not a test; writes JSON (atomically) and prints a table.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time

import faiss
import numpy as np

from amgan.io import atomic_write_text
from fir.index import GalleryIndex, as_unit_vectors, exact_search_numpy

SPREAD, QUERY_NOISE = 0.6, 0.3  # noise norms relative to the unit cluster centre


def synthetic(n: int, dim: int, clusters: int, n_queries: int, seed: int):
    """(gallery [n, dim], queries [n_queries, dim]) unit float32, seeded, clustered."""
    rng = np.random.default_rng(seed)
    centres = as_unit_vectors(rng.standard_normal((clusters, dim), dtype=np.float32))
    x = np.empty((n, dim), np.float32)
    for lo in range(0, n, 100_000):  # chunks keep the temporaries small
        hi = min(n, lo + 100_000)
        noise = rng.standard_normal((hi - lo, dim), dtype=np.float32) * (SPREAD / dim ** 0.5)
        x[lo:hi] = centres[rng.integers(0, clusters, hi - lo)] + noise
    faiss.normalize_L2(x)
    rows = rng.choice(n, n_queries, replace=False)
    q = x[rows] + rng.standard_normal((n_queries, dim), dtype=np.float32) * (QUERY_NOISE / dim ** 0.5)
    faiss.normalize_L2(q)
    return x, q


def recall10(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)]))


def timed_search(index: GalleryIndex, q: np.ndarray, repeats: int, single: int):
    """(batch ms/query best of ``repeats``, single-query ms mean over ``single``, ids)."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        _, ids = index.search(q, 10)
        best = min(best, time.perf_counter() - t)
    t = time.perf_counter()
    for row in q[:single]:
        index.search(row, 10)
    single_ms = (time.perf_counter() - t) * 1e3 / single
    return best * 1e3 / len(q), single_ms, ids


def index_bytes(index: GalleryIndex) -> int:
    return int(faiss.serialize_index(index.index).nbytes)


def bench_size(n: int, args) -> dict:
    print(f"\n== N={n:,} dim={args.dim}", flush=True)
    t = time.perf_counter()
    x, q = synthetic(n, args.dim, args.clusters, args.queries, args.seed)
    meta = [{}] * n
    out = {"n": n, "dim": args.dim, "queries": len(q), "data_seconds": round(time.perf_counter() - t, 2),
           "results": []}
    repeats = 3 if n <= 100_000 else 1

    t = time.perf_counter()
    _, exact = exact_search_numpy(x, q, 10, batch=100)
    np_ms = (time.perf_counter() - t) * 1e3 / len(q)
    out["results"].append({"index": "numpy brute force", "build_s": 0.0, "bytes": x.nbytes,
                           "batch_ms_per_query": np_ms, "single_ms": None, "recall_at_10": 1.0})

    def run(label, index, build_s, **extra):
        batch_ms, single_ms, ids = timed_search(index, q, repeats, args.single)
        row = {"index": label, "build_s": round(build_s, 2), "bytes": index_bytes(index),
               "batch_ms_per_query": batch_ms, "single_ms": single_ms,
               "recall_at_10": recall10(ids, exact), **extra}
        out["results"].append(row)
        print(f"  {label:28s} build {row['build_s']:8.2f}s  batch {batch_ms:8.3f} ms/q  "
              f"single {single_ms:8.3f} ms  recall@10 {row['recall_at_10']:.3f}", flush=True)

    t = time.perf_counter()
    flat = GalleryIndex.build(x, meta, "bench", kind="flat")
    run("faiss flat", flat, time.perf_counter() - t)
    del flat
    gc.collect()

    t = time.perf_counter()
    ivf = GalleryIndex.build(x, meta, "bench", kind="ivf")
    build_s = time.perf_counter() - t
    for nprobe in args.nprobe:
        if nprobe <= ivf.params["nlist"]:
            ivf.set_search_params(nprobe=nprobe)
            run(f"ivf nlist={ivf.params['nlist']} nprobe={nprobe}", ivf, build_s,
                kind="ivf", params=dict(ivf.params))
    del ivf
    gc.collect()

    if n <= args.hnsw_max:
        t = time.perf_counter()
        hnsw = GalleryIndex.build(x, meta, "bench", kind="hnsw", M=args.hnsw_m)
        build_s = time.perf_counter() - t
        for ef in args.ef:
            hnsw.set_search_params(ef_search=ef)
            run(f"hnsw M={args.hnsw_m} ef={ef}", hnsw, build_s, kind="hnsw", params=dict(hnsw.params))
        del hnsw
        gc.collect()

    t = time.perf_counter()
    auto = GalleryIndex.build(x, meta, "bench", kind="auto")
    auto_params = {key: v for key, v in auto.params.items() if key != "build_seconds"}
    knob = {key: auto_params[key] for key in ("nprobe", "ef_search") if key in auto_params}
    run(" ".join([f"auto -> {auto.kind}"] + [f"{k}={v}" for k, v in knob.items()]), auto,
        time.perf_counter() - t, kind=auto.kind, params=auto_params)
    del auto
    gc.collect()
    out["fastest_at_recall_0.95"] = {
        mode: min((r for r in out["results"] if r["recall_at_10"] >= 0.95 and r[key] is not None),
                  key=lambda r: r[key])["index"]
        for mode, key in (("batch", "batch_ms_per_query"), ("single", "single_ms"))}
    print(f"  fastest at recall@10 >= 0.95: {out['fastest_at_recall_0.95']}", flush=True)
    return out


def print_table(report: dict) -> None:
    print(f"\n{'N':>9} {'index':30} {'build s':>8} {'MiB':>8} {'batch ms/q':>10} "
          f"{'single ms':>9} {'R@10':>6}")
    for size in report["sizes"]:
        for r in size["results"]:
            single = "-" if r["single_ms"] is None else f"{r['single_ms']:.3f}"
            print(f"{size['n']:>9,} {r['index']:30} {r['build_s']:>8.2f} {r['bytes'] / 2**20:>8.1f} "
                  f"{r['batch_ms_per_query']:>10.3f} {single:>9} {r['recall_at_10']:>6.3f}")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--single", type=int, default=100, help="queries timed one at a time")
    ap.add_argument("--nprobe", type=int, nargs="+", default=[1, 4, 8, 16, 32, 64])
    ap.add_argument("--ef", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    ap.add_argument("--hnsw-m", type=int, default=32)
    ap.add_argument("--hnsw-max", type=int, default=10**7, help="skip HNSW above this size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/out/index.json")
    args = ap.parse_args(argv)
    report = {"argv": sys.argv[1:] if argv is None else list(argv),
              "machine": {"cpu_count": os.cpu_count(), "faiss_threads": faiss.omp_get_max_threads(),
                          "faiss": faiss.__version__, "numpy": np.__version__,
                          "platform": platform.platform(), "loadavg": os.getloadavg()},
              "data": {"clusters": args.clusters, "spread": SPREAD, "query_noise": QUERY_NOISE,
                       "seed": args.seed},
              "sizes": []}
    for n in args.sizes:
        report["sizes"].append(bench_size(n, args))
        atomic_write_text(args.out, json.dumps(report, indent=1))  # keep partial results
    print_table(report)
    print(f"\nwrote {args.out}")
    return report


if __name__ == "__main__":
    main()
