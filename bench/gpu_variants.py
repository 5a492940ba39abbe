"""Train the photo recipe and its ablations side by side on one GPU, then pack their generators.

    python bench/gpu_variants.py train --minutes 7 --runs runs/variants --pack OUT_DIR
    python bench/gpu_variants.py unpack OUT_DIR --classifier checkpoints/reader128 --dest checkpoints

``train`` renders SynthFashion at 128 px when ``data/synth128`` is missing, starts one
``amgan train --config configs/amgan_photo128.yaml`` process per variant (all at once: one
process alone leaves a large GPU mostly idle, because a step of these small networks is a few
thousand short kernels), each with the same wall-clock budget ``--minutes`` of training, waits,
and writes per variant ``<name>.pt`` (the EMA generator in fp16 with its arguments, config,
step and seconds: the shippable part, under 10 MB) plus ``logs.tar.gz`` (logs, stats.jsonl,
sample grids, resolved configs). The full training states stay in ``--runs``.

``unpack`` turns each ``<name>.pt`` back into an editor model folder ``<dest>/amgan_photo128_<name>``
with the frozen classifier the run trained against (fp16 weights, model card, provenance).

The variants (the paper's ablation, Ak et al. ICCV 2019, Table 3, plus second seeds):
full, full_s1 (seed 1), no_dc_s1 (seed 1 without D_C), no_dc (no attribute-region discriminator), no_lp (no perceptual
loss), no_la (no attention loss), stargan (none of the three); no_lp_s1, no_la_s1, stargan_s1: seed 1 of those three.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

VARIANTS = {
    "full": [],
    "full_s1": ["train.seed=1"],  # not in the default set (GPU share); pass --variants to add it
    "no_dc": ["loss.use_dc=false"],
    "no_dc_s1": ["loss.use_dc=false", "train.seed=1"],  # the strongest ablation's second seed (pass --variants)
    "no_lp": ["loss.lambda_perc=0"],
    "no_lp_s1": ["loss.lambda_perc=0", "train.seed=1"],  # second seeds of the other ablations (pass --variants)
    "no_la": ["loss.lambda_att=0"],
    "no_la_s1": ["loss.lambda_att=0", "train.seed=1"],
    "stargan": ["loss.use_dc=false", "loss.lambda_perc=0", "loss.lambda_att=0"],
    "stargan_s1": ["loss.use_dc=false", "loss.lambda_perc=0", "loss.lambda_att=0", "train.seed=1"],
}
PACK_KIND = "amgan-generator-pack"


def train(args) -> int:
    py = sys.executable
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if not (Path(args.synth) / "manifest.csv").exists():
        subprocess.run([py, "-m", "amgan", "data", "synth", "--out", args.synth, "--products", str(args.products),
                        "--seed", "0", "--size", "128", "--street-views", "2", "--workers", str(args.workers),
                        "--quiet"], check=True)
    print(json.dumps({"render_seconds": round(time.time() - t0, 1)}), flush=True)
    names = args.variants or [n for n in VARIANTS if not n.endswith("_s1")]
    lanes = args.lanes or len(names)  # at most this many variants train at once (2 on a 2-core CPU)

    def run(name: str) -> int:
        sets = [f"train.out={runs / name}", f"train.max_minutes={args.minutes}", f"data.root={args.synth}",
                f"data.photo_roots=[{args.photos}]", f"train.threads={args.threads}", *VARIANTS[name], *args.set]
        argv = [py, "-m", "amgan", "train", "--config", args.config, "--no-progress"]
        for s in sets:
            argv += ["--set", s]
        print(json.dumps({"started": name, "seconds": round(time.time() - t0, 1)}), flush=True)
        with open(runs / f"{name}.log", "w") as log:
            rc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT).returncode
        print(json.dumps({"finished": name, "rc": rc, "seconds": round(time.time() - t0, 1)}), flush=True)
        return rc

    with ThreadPoolExecutor(max_workers=lanes) as pool:
        status = dict(zip(names, pool.map(run, names)))
    print(json.dumps({"exit_codes": status, "seconds": round(time.time() - t0, 1)}), flush=True)
    if args.pack:
        pack(runs, Path(args.pack), names)
    return 0 if all(c == 0 for c in status.values()) else 1


def pack(runs: Path, out: Path, names) -> None:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        ck_path = runs / name / "editor.pt"
        if not ck_path.exists():
            print(f"{name}: no editor.pt", flush=True)
            continue
        ck = torch.load(ck_path, map_location="cpu", weights_only=True)
        g = {k: (v.half() if v.is_floating_point() else v) for k, v in ck["G_ema"].items()}
        torch.save({"kind": PACK_KIND, "G_ema": g, "generator": ck["generator"], "schema": ck["schema"],
                    "size": ck["size"], "step": ck["step"], "config": ck["config"],
                    "classifier_meta": ck["classifier_meta"]}, out / f"{name}.pt")
    with tarfile.open(out / "logs.tar.gz", "w:gz") as tar:
        for name in names:
            for rel in (f"{name}.log", f"{name}/stats.jsonl", f"{name}/config.yaml", f"{name}/run.json"):
                if (runs / rel).exists():
                    tar.add(runs / rel, arcname=rel)
            samples = sorted((runs / name / "samples").glob("*.png"))
            for s in samples[-2:]:
                tar.add(s, arcname=f"{name}/samples/{s.name}")
    print(json.dumps({"packed": sorted(p.name for p in out.iterdir())}), flush=True)


def unpack(args) -> int:
    """``<name>.pt`` + the frozen classifier -> editor model folders (through the legacy editor format)."""
    import torch

    from amgan.checkpoint import save_checkpoint
    from amgan.pretrained import export_pretrained, load_pretrained, save_pretrained

    c = load_pretrained(args.classifier, kind="classifier")
    clf = {k: v.float() for k, v in c.weights["classifier"].items()}
    made = []
    for f in sorted(Path(args.packed).glob("*.pt")):
        ck = torch.load(f, map_location="cpu", weights_only=True)
        if ck.get("kind") != PACK_KIND:
            continue
        tmp = Path(args.dest) / f".{f.stem}.editor.pt"
        save_checkpoint(tmp, "amgan-editor", G_ema={k: v.float() for k, v in ck["G_ema"].items()},
                        generator=ck["generator"], classifier=clf, classifier_meta=ck["classifier_meta"],
                        schema=ck["schema"], size=ck["size"], step=ck["step"], config=ck["config"])
        dst = Path(args.dest) / f"{args.prefix}{f.stem}"
        export_pretrained(tmp, dst, dtype="float16")
        tmp.unlink()
        if args.attention_floor:
            p = load_pretrained(dst, kind="amgan-editor")
            p.model["editor"] = {"attention_floor": args.attention_floor}
            save_pretrained(dst, p)
        made.append(str(dst))
        load_pretrained(dst, kind="amgan-editor")  # loads back
    print(json.dumps({"editors": made}))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--minutes", type=float, default=7.0, help="wall-clock training budget of every variant")
    t.add_argument("--runs", default="runs/variants")
    t.add_argument("--pack", default=None, help="folder for the packed generators and logs")
    t.add_argument("--config", default="configs/amgan_photo128.yaml")
    t.add_argument("--synth", default="data/synth128")
    t.add_argument("--photos", default="data/clothing")
    t.add_argument("--products", type=int, default=3000)
    t.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    t.add_argument("--threads", type=int, default=2, help="torch threads per training process")
    t.add_argument("--variants", nargs="*", choices=list(VARIANTS))
    t.add_argument("--lanes", type=int, default=0, help="variants trained at once (0: all of them)")
    t.add_argument("--set", action="append", default=[], help="extra config override for every variant")
    u = sub.add_parser("unpack")
    u.add_argument("packed")
    u.add_argument("--classifier", default="checkpoints/reader128")
    u.add_argument("--dest", default="checkpoints")
    u.add_argument("--prefix", default="amgan_photo128_")
    u.add_argument("--attention-floor", type=float, default=0.0, help="the editors' attention floor (Editor)")
    args = ap.parse_args(argv)
    return train(args) if args.cmd == "train" else unpack(args)


if __name__ == "__main__":
    raise SystemExit(main())
