"""Benchmark: AMGAN training step time (synth64, with CPU bf16 autocast, and the StarGAN-style ablation,
same run)
and Editor latency on the CPU at batch 1 and 32.

    python bench/bench_amgan.py --out bench/out/amgan.json [--steps 5]

Training steps run on a small rendered data set with a freshly initialised classifier
(step time does not depend on the classifier's weights).
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from amgan.checkpoint import save_checkpoint
from amgan.config import load_config
from amgan.data.synth_dataset import generate
from amgan.io import atomic_write_text
from amgan.nets.classifier import AttributeClassifier


def _step_time(config, sets, steps, out):
    from amgan.train import Trainer

    cfg = load_config(config, sets)
    t = Trainer(cfg, out, device="cpu", progress=False)
    t.train_step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        t.train_step()
    return (time.perf_counter() - t0) / steps, t


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--out", default="bench/out/amgan.json")
    a = p.parse_args(argv)
    res = {"torch_threads": torch.get_num_threads(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        generate(d / "data", 200, seed=0, size=64, street_views=0, progress=False)
        from amgan.attributes import SYNTH_SCHEMA as S

        c = AttributeClassifier(S.sizes, "small", 32)
        save_checkpoint(d / "cls.pt", "classifier", model=c.state_dict(), schema=S.to_dict(), config={},
                        group_sizes=list(S.sizes), backbone="small", width=32, metrics={})
        sets = [f"data.root={d / 'data'}", f"classifier.checkpoint={d / 'cls.pt'}"]
        for name, cfg, extra in (("synth64_bf16_cpu", "configs/synth64.yaml", ["train.amp_cpu=true"]),
                                 ("ablation_stargan64", "configs/ablation_stargan64.yaml", []),
                                 ("synth64", "configs/synth64.yaml", [])):
            sec, trainer = _step_time(cfg, sets + extra + [f"train.out={d / name}"], a.steps, d / name)
            res[f"train_step_seconds/{name}"] = round(sec, 3)
        from amgan.editor import Editor

        ed = Editor.from_checkpoint(trainer.export_editor(d / "editor.pt"), device="cpu")
        x, labels = trainer.data.batch(torch.arange(32))
        img = trainer.data.images[0].permute(1, 2, 0).numpy()
        ed.edit(img, {"color": "red"})
        for bs in (1, 32):
            t0 = time.perf_counter()
            reps = 10 if bs == 1 else 3
            for _ in range(reps):
                if bs == 1:
                    ed.edit(img, {"color": "red"})
                else:
                    ed.edit_batch(x, {"color": "red"}, source=labels, cam=False)
            res[f"edit_latency_ms/batch{bs}"] = round((time.perf_counter() - t0) / reps * 1000, 1)
        res["edit_latency_ms_per_image/batch32"] = round(res["edit_latency_ms/batch32"] / 32, 2)
    atomic_write_text(a.out, json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
