"""Photo reading latency: the shipped reader on real photos at batch 1 (decode + processor + classifier).

    python bench/bench_reader.py [--out bench/out/reader.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reader", default="checkpoints/reader128")
    ap.add_argument("--photos", default="demo/examples")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    from amgan.pretrained import load_classifier

    torch.set_num_threads(args.threads)
    net, p = load_classifier(args.reader)
    photos = sorted(Path(args.photos).glob("*.jpg"))
    times = []
    with torch.inference_mode():
        for r in range(args.repeats + 1):
            for f in photos:
                t = time.perf_counter()
                net(p.image_processor.preprocess(f).tensor)
                if r:  # the first round warms up
                    times.append(time.perf_counter() - t)
    res = {"reader": args.reader, "photos": len(photos), "calls": len(times), "threads": args.threads,
           "median_ms": round(1000 * statistics.median(times), 2), "max_ms": round(1000 * max(times), 2)}
    print(json.dumps(res))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
