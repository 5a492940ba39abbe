"""Train the attribute reader that reads real photos: a CAM classifier whose ImageNet trunk is
frozen and whose adapter and heads learn from SynthFashion (shop and street) and real photos
together, with unknown labels masked.

    amgan train-reader --config configs/reader128.yaml [--set reader.steps=3000] --out runs/reader128

Recipe (engineered for two CPU cores): the EfficientNet-Lite0 trunk (ImageNet weights, stride
8) stays frozen, so its feature maps are computed once per image (and once for its mirror
image) and kept in memory in fp16; training then only runs the small adapter and the linear
heads (:class:`amgan.nets.classifier.AttributeClassifier` with ``head="adapter"``), so a step
takes milliseconds instead of seconds. Each batch draws ``reader.photo_fraction`` of its rows
from the photo data sets and the rest from SynthFashion. Cross-entropy per group ignores
unknown labels (-1) and is averaged over the groups that have a known label in the batch.

Rows listed in ``reader.exclude`` (a CSV with an ``image`` column: e.g. the hand-checked
photos) never enter training, so the reader can be measured on them.

Writes a model folder (:mod:`amgan.pretrained`, kind ``classifier``) with a model card whose
metrics are accuracy per data set, view and group on the test splits (with the number of
known labels behind each), plus ``stats.jsonl``/TensorBoard and the resolved config.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from amgan.attributes import Schema
from amgan.data.memory import excluded_images
from amgan.config import ConfigBase, ConfigError, add_config_arguments, load_dataclass_config, save_config
from amgan.errors import UserError
from amgan.image import ImageProcessor
from amgan.nets.classifier import AttributeClassifier
from amgan.training import StatsLog, report, run_steps

log = logging.getLogger("amgan.train_reader")


@dataclass(frozen=True)
class ReaderData:
    roots: tuple[str, ...] = ("data/synth64", "data/clothing")  # data sets, one schema
    photo_views: tuple[str, ...] = ("photo",)  # views that count as photos (the rest: renders)
    size: int = 128  # the reader's input side


@dataclass(frozen=True)
class ReaderTrain:
    steps: int = 3000
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    photo_fraction: float = 0.5
    adapter_width: int = 192
    seed: int = 0
    threads: int = 0
    log_every: int = 100
    exclude: str = "amgan/data/labels/clothing_checked.csv"  # rows never trained on ("" = none)
    cache_dir: str = "runs/cache"  # frozen-trunk maps kept across runs, keyed by image bytes ("" = off)
    # which photos' colour labels train the colour head: "all" (a person's where one looked, else the
    # annotator's) or "hand" (only the photos of the data set's hand_labels.json; the rest unknown)
    photo_colour: str = "all"


@dataclass(frozen=True)
class ReaderConfig(ConfigBase):
    data: ReaderData = field(default_factory=ReaderData)
    reader: ReaderTrain = field(default_factory=ReaderTrain)


def load_reader_config(path, overrides=()) -> ReaderConfig:
    cfg = load_dataclass_config(ReaderConfig, path, overrides)
    r = cfg.reader
    for key, v in (("reader.steps", r.steps), ("reader.batch_size", r.batch_size), ("reader.log_every", r.log_every),
                   ("data.size", cfg.data.size)):
        if v < 1:
            raise ConfigError(f"{path}: {key} must be >= 1, got {v}")
    if cfg.data.size % 8:
        raise ConfigError(f"{path}: data.size must be a multiple of 8, got {cfg.data.size}")
    if not 0 <= r.photo_fraction <= 1:
        raise ConfigError(f"{path}: reader.photo_fraction must be in [0, 1], got {r.photo_fraction}")
    if not r.lr > 0:
        raise ConfigError(f"{path}: reader.lr must be > 0, got {r.lr}")
    if r.photo_colour not in ("all", "hand"):
        raise ConfigError(f"{path}: reader.photo_colour must be 'all' or 'hand', got {r.photo_colour!r}")
    return cfg


# ---------------------------------------------------------------- data and features
@dataclass
class Split:
    feats: torch.Tensor  # fp16 [N, C, h, w] frozen trunk maps
    feats_flip: torch.Tensor | None  # of the mirror images (training only)
    labels: torch.Tensor  # int64 [N, G], -1 unknown
    views: list[str]
    roots: list[str]
    names: list[str]  # image file stems
    product_ids: list[str] = field(default_factory=list)


@torch.no_grad()
def _trunk_maps(trunk, proc: ImageProcessor, paths: list[str], flip: bool, batch: int, progress: bool,
                desc: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    from tqdm import tqdm

    outs, outs_f = [], []
    for s in tqdm(range(0, len(paths), batch), desc=desc, unit="batch", disable=not progress):
        x = proc.batch(paths[s:s + batch])
        outs.append(trunk(x)[-1].half())
        if flip:
            outs_f.append(trunk(x.flip(-1))[-1].half())
    return torch.cat(outs), (torch.cat(outs_f) if flip else None)


def load_split(cfg: ReaderConfig, trunk, split: str, exclude: set[str], progress: bool) -> tuple[Split, Schema]:
    from amgan.data.hand_labels import labelled_photos
    from amgan.data.manifest import read_manifest

    proc = ImageProcessor(size=cfg.data.size)
    schema, paths, labels, views, roots, names, pids = None, [], [], [], [], [], []
    for root in cfg.data.roots:
        m = read_manifest(Path(root) / "manifest.csv")
        if schema is None:
            schema = m.schema
        elif m.schema.to_dict()["groups"] != schema.to_dict()["groups"]:
            raise UserError(f"{root}: its schema differs from {cfg.data.roots[0]}'s; the reader needs one schema")
        hand = labelled_photos(root, m.schema) if split == "train" and cfg.reader.photo_colour == "hand" else None
        ci = m.schema.group_index("color") if "color" in m.schema.names else None
        if hand is not None and not hand and any(v in cfg.data.photo_views for v in m.views):
            raise UserError(f"{root}: reader.photo_colour is 'hand' but the data set has no hand labels "
                            "(run amgan data hand-labels on it first, or set reader.photo_colour=all)")
        for i in m.indices(split, None):
            stem = Path(m.paths[i]).stem
            if split == "train" and stem in exclude:
                continue
            paths.append(str(m.image_path(i)))
            lab = m.labels[i]
            if (hand is not None and ci is not None and m.views[i] in cfg.data.photo_views
                    and m.product_ids[i] not in hand):
                lab = lab.copy()
                lab[ci] = -1  # no person looked at this photo: its colour does not train
            labels.append(lab)
            views.append(m.views[i])
            roots.append(root)
            names.append(stem)
            pids.append(m.product_ids[i])
    if not paths:
        raise UserError(f"no {split} rows in {list(cfg.data.roots)}")
    feats, feats_f = _cached_maps(cfg, trunk, proc, paths, split == "train", progress, f"trunk {split}")
    return Split(feats, feats_f, torch.from_numpy(np.stack(labels)).long(), views, roots, names, pids), schema


def _file_key(path: str) -> str:
    import hashlib

    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def _cached_maps(cfg: ReaderConfig, trunk, proc: ImageProcessor, paths: list[str], flip: bool, progress: bool,
                 desc: str):
    """Trunk maps of ``paths``, reused from ``reader.cache_dir`` for images whose bytes are unchanged
    (the trunk is frozen ImageNet weights, so a map depends only on the image and the size)."""
    if not cfg.reader.cache_dir:
        return _trunk_maps(trunk, proc, paths, flip, 64, progress, desc)
    from amgan.io import atomic_torch_save

    cache = Path(cfg.reader.cache_dir) / f"reader-maps-{proc.size}-{proc.resample}.pt"
    store = torch.load(cache, weights_only=True) if cache.is_file() else {}
    keys = [_file_key(p) for p in paths]
    todo = [i for i, k in enumerate(keys) if k not in store or (flip and store[k][1] is None)]
    if todo:
        f, ff = _trunk_maps(trunk, proc, [paths[i] for i in todo], flip, 64, progress, desc)
        for j, i in enumerate(todo):
            store[keys[i]] = (f[j].clone(), ff[j].clone() if ff is not None else None)
        atomic_torch_save(cache, store)
    feats = torch.stack([store[k][0] for k in keys])
    return feats, (torch.stack([store[k][1] for k in keys]) if flip else None)


# ---------------------------------------------------------------- training
def masked_ce(logits: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """Mean over groups with a known label in the batch of the CE over their known labels."""
    parts = [F.cross_entropy(lg, labels[:, g], ignore_index=-1) for g, lg in enumerate(logits)
             if (labels[:, g] >= 0).any()]
    return torch.stack(parts).mean() if parts else logits[0].sum() * 0


def heads_forward(net: AttributeClassifier, fmap: torch.Tensor) -> list[torch.Tensor]:
    return net._logits(net.cam_map(fmap))


@torch.no_grad()
def accuracy_table(net, data: Split, schema: Schema, photo_views) -> dict:
    """{root: {view: {group: {"acc", "n"}}}} over known labels."""
    net.eval()
    preds = torch.cat([torch.stack([lg.argmax(1) for lg in heads_forward(net, data.feats[s:s + 256].float())], 1)
                       for s in range(0, len(data.labels), 256)])
    out: dict = {}
    for root in dict.fromkeys(data.roots):
        for view in dict.fromkeys(data.views):
            sel = torch.tensor([r == root and v == view for r, v in zip(data.roots, data.views)])
            if not sel.any():
                continue
            row = {}
            for g, grp in enumerate(schema.groups):
                known = sel & (data.labels[:, g] >= 0)
                n = int(known.sum())
                row[grp.name] = {"acc": round(float((preds[known, g] == data.labels[known, g]).float().mean()), 4)
                                 if n else None, "n": n}
            out.setdefault(root, {})[view] = row
    return out


def train_reader(cfg: ReaderConfig, out: str | Path, progress: bool = True) -> dict:
    from amgan.pretrained import Pretrained, save_pretrained

    out = Path(out)
    run = out.with_name(out.name + ".run")
    run.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run / "config.yaml")
    r = cfg.reader
    torch.manual_seed(r.seed)
    if r.threads:
        torch.set_num_threads(r.threads)
    t0 = time.perf_counter()
    exclude = excluded_images(r.exclude, key="reader.exclude")
    net = AttributeClassifier([2], backbone="efficientnet_lite0", pretrained=True)  # the trunk, for the maps
    trunk = net.trunk.eval().requires_grad_(False)
    train, schema = load_split(cfg, trunk, "train", exclude, progress)
    val, _ = load_split(cfg, trunk, "val", set(), progress)  # for choosing a recipe: never the test split
    test, _ = load_split(cfg, trunk, "test", set(), progress)
    t_feats = time.perf_counter() - t0
    net = AttributeClassifier(schema.sizes, backbone="efficientnet_lite0", pretrained=False, head="adapter",
                              adapter_width=r.adapter_width)
    net.trunk.load_state_dict(trunk.state_dict())
    params = list(net.adapter.parameters()) + list(net.heads.parameters())
    opt = torch.optim.AdamW(params, lr=r.lr, weight_decay=r.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r.lr, total_steps=r.steps, pct_start=0.1)
    is_photo = torch.tensor([v in cfg.data.photo_views for v in train.views])
    photo_idx, render_idx = torch.nonzero(is_photo)[:, 0], torch.nonzero(~is_photo)[:, 0]
    gen = torch.Generator().manual_seed(r.seed)
    n_photo = int(round(r.batch_size * r.photo_fraction)) if len(photo_idx) else 0
    if not len(render_idx):
        n_photo = r.batch_size

    def step_fn(_step: int) -> None:
        net.train()
        net.trunk.eval()
        pick = []
        if n_photo:
            pick.append(photo_idx[torch.randint(len(photo_idx), (n_photo,), generator=gen)])
        if r.batch_size - n_photo:
            pick.append(render_idx[torch.randint(len(render_idx), (r.batch_size - n_photo,), generator=gen)])
        idx = torch.cat(pick)
        flip = torch.rand(len(idx), generator=gen) < 0.5
        fmap = torch.where(flip[:, None, None, None], train.feats_flip[idx], train.feats[idx]).float()
        loss = masked_ce(heads_forward(net, fmap), train.labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        report("loss/reader/ce", loss)

    stats = StatsLog(run / "stats.jsonl", run / "tensorboard")
    try:
        run_steps(step_fn, start=0, steps=r.steps, log_every=r.log_every, stats=stats,
                  extras=lambda k: {"lr": sched.get_last_lr()[0]}, postfix={"loss": "loss/reader/ce"},
                  desc="reader", progress=progress)
    finally:
        stats.close()
    net.eval()
    metrics = {"test_accuracy": accuracy_table(net, test, schema, cfg.data.photo_views),
               "val_accuracy": accuracy_table(net, val, schema, cfg.data.photo_views),
               "train_rows": {"photo": int(is_photo.sum()), "render": int((~is_photo).sum()),
                              "excluded": len(exclude)},
               "seconds": {"trunk_maps": round(t_feats, 1), "total": round(time.perf_counter() - t0, 1)},
               "steps": r.steps}
    card = {
        "title": f"{out.name}: attribute reader for photos and SynthFashion ({cfg.data.size} px)",
        "summary": "A CAM attribute classifier (category, colour, pattern, sleeve, neckline): frozen ImageNet "
                   "EfficientNet-Lite0 trunk at stride 8, a trained conv adapter and linear heads.",
        "intended_use": "Reading a garment photo's attributes for the editor and the demo (what the edit starts "
                        "from); CAMs over the garment.",
        "out_of_scope": "Neckline of real photos (no labels: learnt from renders only); garments other "
                        "than tops and dresses; judging people.",
        "training_data": f"{', '.join(cfg.data.roots)} (train splits; photos split by contributor); "
                         f"{len(exclude)} hand-checked photos excluded. Labels of photos: where a person looked "
                         "(`amgan data hand-labels`), that person's colour, pattern and sleeve; elsewhere the colour "
                         "from `amgan data annotate` (CIELAB on GrabCut masks) and the sleeve and category from the "
                         "class.",
        "metrics": metrics,
        "licence": "Apache-2.0 (the project's licence); photos: clothing-dataset, CC0 1.0.",
        "provenance": f"amgan train-reader, config in {run.name}/config.yaml.",
    }
    p = Pretrained("classifier", {"classifier": net.state_dict()},
                   {"group_sizes": list(schema.sizes), "backbone": "efficientnet_lite0", "width": 32,
                    "head": "adapter", "adapter_width": r.adapter_width},
                   ImageProcessor(size=cfg.data.size), schema.to_dict(), {"metrics": metrics}, card)
    save_pretrained(out, p)
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="amgan train-reader", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_config_arguments(p, "configs/reader128.yaml")
    p.add_argument("--out", required=True, help="model folder to write (its run files go beside it, NAME.run/)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_reader_config(args.config, args.set)
    print(json.dumps(train_reader(cfg, args.out, progress=not args.no_progress), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
