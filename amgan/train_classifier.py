"""Train the attribute classifier whose CAMs guide AMGAN's attention (L_a) and whose
features give the perceptual loss (L_p). Frozen afterwards.

    amgan train-classifier --config configs/synth64.yaml [--set classifier.steps=500]

Writes ``<train.out>/classifier.pt`` (or ``--out``) with the weights, the schema, the
resolved config and per-group test accuracy, and prints the accuracy as JSON. Beside it,
named after it so that it can share a folder with an AMGAN run: ``classifier.config.yaml``
(written before step one), ``classifier.stats.jsonl`` and ``classifier.tensorboard/`` (one
row per ``train.log_every`` steps, :mod:`amgan.training`). A new run replaces an old one.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from amgan.checkpoint import load_checkpoint, save_checkpoint
from amgan.config import add_config_arguments, load_config, save_config
from amgan.data.memory import MemoryData, load_memory
from amgan.data.synth_dataset import ensure_data
from amgan.nets.classifier import AttributeClassifier
from amgan.train import load_training_data, mixed_batch
from amgan.training import StatsLog, remove_orphan_tmp, report, run_steps

log = logging.getLogger("amgan.train_classifier")


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Horizontal flips and small brightness jitter: label-preserving for every group."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    scale = 1.0 + 0.1 * (torch.rand(x.shape[0], 1, 1, 1, generator=gen) - 0.5)
    return (x * scale).clamp(0, 1)


@torch.no_grad()
def evaluate_classifier(net: torch.nn.Module, data: MemoryData, batch_size: int = 256) -> dict:
    """Accuracy per group over the rows whose label is known (unknown = -1 is left out; a group with
    no known label: None)."""
    net.eval()
    correct = torch.zeros(len(data.schema.groups))
    known = torch.zeros(len(data.schema.groups))
    for i in range(0, len(data), batch_size):
        x, y = data.batch(range(i, min(i + batch_size, len(data))))
        logits = net(x)
        for g, lg in enumerate(logits):
            k = y[:, g] >= 0
            correct[g] += (lg.argmax(1) == y[:, g])[k].sum()
            known[g] += k.sum()
    return {g.name: (round(float(c / n), 4) if n else None) for g, c, n in zip(data.schema.groups, correct, known)}


def run_files(out: str | Path) -> dict[str, Path]:
    """The files a classifier run writes beside its checkpoint ``out``."""
    out = Path(out)
    return {"config": out.with_name(out.stem + ".config.yaml"), "stats": out.with_name(out.stem + ".stats.jsonl"),
            "tensorboard": out.with_name(out.stem + ".tensorboard")}


def train_classifier(cfg, out: Path, seed: int = 0, progress: bool = True) -> dict:
    out = Path(out)
    files = run_files(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_orphan_tmp(out.parent, names=[p.name for p in (out, files["config"], files["stats"])])
    save_config(cfg, files["config"])
    torch.manual_seed(seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    root = ensure_data(cfg.data, progress=progress)
    train, n_render = load_training_data(cfg, root, progress=progress)  # renders, then data.photo_roots' photos
    test = load_memory(root, cfg.data.size, ("test",), None, progress=progress)
    c = cfg.classifier
    net = AttributeClassifier(train.schema.sizes, backbone=c.backbone, width=c.width, pretrained=True)
    opt = torch.optim.Adam(net.parameters(), lr=c.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=c.lr, total_steps=c.steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()

    def step_fn(_step: int) -> None:
        net.train()
        idx = mixed_batch(len(train), n_render, c.batch_size, cfg.data.photo_fraction, gen)
        x, y = train.batch(idx)
        logits = net(augment(x, gen))
        # unknown labels (-1, photos) are masked: a group's loss is the mean over its known rows
        loss = sum(F.cross_entropy(lg, y[:, g], ignore_index=-1) for g, lg in enumerate(logits)
                   if (y[:, g] >= 0).any())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        report("loss/C/ce", loss)

    stats = StatsLog(files["stats"], files["tensorboard"])
    try:
        run_steps(step_fn, start=0, steps=c.steps, log_every=cfg.train.log_every, stats=stats,
                  extras=lambda k: {"lr": sched.get_last_lr()[0]}, postfix={"loss": "loss/C/ce"},
                  desc="classifier", progress=progress)
    finally:
        stats.close()
    acc = {}
    for view in sorted(set(test.views)):
        keep = [i for i, v in enumerate(test.views) if v == view]
        sub = dataclasses.replace(test, images=test.images[keep], labels=test.labels[keep])
        acc[view] = evaluate_classifier(net, sub)
    for pr in cfg.data.photo_roots:  # their test split (by contributor), known labels only
        acc[f"photos:{pr}"] = evaluate_classifier(net, load_memory(pr, cfg.data.size, ("test",), None,
                                                                   progress=progress))
    result = {"test_accuracy": acc, "trained_on_views": list(cfg.data.views),
              "photo_roots": list(cfg.data.photo_roots), "photo_rows": len(train) - n_render, "steps": c.steps, "seconds": round(time.perf_counter() - t0, 1),
              "backbone": c.backbone, "seed": seed}
    save_checkpoint(out, "classifier", model=net.state_dict(), schema=train.schema.to_dict(),
                    config=cfg.to_dict(), group_sizes=list(train.schema.sizes), backbone=c.backbone,
                    width=c.width, metrics=result)
    return result


def load_classifier(path, map_location="cpu") -> tuple[AttributeClassifier, dict]:
    ck = load_checkpoint(path, kind="classifier", map_location=map_location)
    net = AttributeClassifier(ck["group_sizes"], backbone=ck["backbone"], width=ck["width"], pretrained=False)
    net.load_state_dict(ck["model"], strict=True)
    net.eval().requires_grad_(False)
    return net, ck


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="amgan train-classifier")
    add_config_arguments(p, "configs/synth64.yaml")
    p.add_argument("--out", help="checkpoint path (default: classifier.checkpoint from the config)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_config(args.config, args.set)
    out = Path(args.out or cfg.classifier.checkpoint or Path(cfg.train.out) / "classifier.pt")
    result = train_classifier(cfg, out, seed=args.seed, progress=not args.no_progress)
    print(json.dumps({"checkpoint": str(out), **result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
