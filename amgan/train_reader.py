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


@torch.no_grad()
def _pooled(net: AttributeClassifier, maps: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """What the heads read (eval mode): the adapter's map of each trunk map, averaged over space."""
    net.eval()
    return torch.cat([net.cam_map(maps[s:s + batch].float()).mean(dim=(2, 3)) for s in range(0, len(maps), batch)])


def fit_head(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, n_classes: int, l2: float,
             iterations: int = 200) -> torch.nn.Linear:
    """A linear head by weighted, L2-regularised cross-entropy (multinomial logistic regression), fitted
    full-batch with L-BFGS: convex, so the result depends on the data and ``l2`` only, not on a seed."""
    head = torch.nn.Linear(x.shape[1], n_classes).double()
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    x, w = x.double(), (w / w.sum()).double()
    opt = torch.optim.LBFGS(head.parameters(), lr=1, max_iter=iterations, tolerance_grad=1e-9,
                            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (F.cross_entropy(head(x), y, reduction="none") * w).sum() + l2 * head.weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return head.float()


def _sample_images(path, group: str, schema: Schema) -> set[str]:
    """The photos of a hand-label file (:func:`amgan.data.hand_labels.read_hand_labels`, every value checked)
    that give ``group`` a value (not ``unknown``)."""
    from amgan.data.hand_labels import HandLabelError, _value_names, read_hand_labels

    try:
        labels = read_hand_labels([path], **_value_names(schema))
    except HandLabelError as e:
        raise UserError(f"--sample: {e}") from None
    return {image for image, lab in labels.items() if lab.get(group) not in (None, "unknown")}


def refit_head(cfg: ReaderConfig, init: str | Path, group: str, out: str | Path, *, l2: float = 1e-3,
               sample: str | Path | None = None, progress: bool = True) -> dict:
    """A reader whose head for ``group`` is fitted again on the adapter of the reader ``init``, everything else
    kept bit for bit (the other groups' readings do not move). For a group whose photo labels were one-sided
    when ``init`` was trained (neckline: only the classes' collars) and that now has a person's labels.

    The head is a weighted logistic regression (:func:`fit_head`) over the train rows whose ``group`` label is
    known (both mirror images of each), photos weighing ``reader.photo_fraction`` of the total and renders the
    rest, as in training.

    ``sample``: a hand-label file whose photos were drawn at random from the train photos with no label of
    ``group`` otherwise (e.g. ``clothing_neckline.csv``: 300 of the photos whose class says no neckline, beside
    every Polo and Shirt, which say collar). Each such photo then stands for its share of those photos
    (weight = their number / the sample's), so the head learns the photos' own mix of values, not the
    sample's (without it the classes' collars outnumber the round necks two to one)."""
    from amgan.pretrained import Pretrained, build_classifier, load_pretrained, save_pretrained

    t0 = time.perf_counter()
    out = Path(out)
    p = load_pretrained(init, kind="classifier")
    net = build_classifier(p)
    if p.schema is None or group not in [g["name"] for g in p.schema["groups"]]:
        have = [g["name"] for g in (p.schema or {}).get("groups", [])]
        raise UserError(f"--refit-head {group!r}: {init} has no such group (its groups: {', '.join(have)})")
    if p.image_processor is None or p.image_processor.size != cfg.data.size:
        raise UserError(f"{init} reads {getattr(p.image_processor, 'size', None)}-px input, the config "
                        f"data.size is {cfg.data.size}: use the config it was trained with")
    if p.model.get("head") != "adapter":
        raise UserError(f"{init} has no adapter (head {p.model.get('head')!r}); --refit-head needs a reader")
    r = cfg.reader
    if r.threads:
        torch.set_num_threads(r.threads)
    exclude = excluded_images(r.exclude, key="reader.exclude")
    trunk = net.trunk.eval()
    train, schema = load_split(cfg, trunk, "train", exclude, progress)
    if schema.to_dict()["groups"] != p.schema["groups"]:
        raise UserError(f"the config's data sets have another schema than {init}")
    val, _ = load_split(cfg, trunk, "val", set(), progress)
    test, _ = load_split(cfg, trunk, "test", set(), progress)
    g = schema.group_index(group)
    known = train.labels[:, g] >= 0
    is_photo = torch.tensor([v in cfg.data.photo_views for v in train.views]) & known
    is_render = known & ~is_photo
    if not known.any():
        raise UserError(f"no train row has a known {group} label")
    frac = r.photo_fraction if is_photo.any() and is_render.any() else (1.0 if is_photo.any() else 0.0)
    w_photo = torch.ones(len(known))
    if sample is not None:
        sampled = _sample_images(sample, group, schema)
        drawn = torch.tensor([n in sampled for n in train.names]) & is_photo
        photos = torch.tensor([v in cfg.data.photo_views for v in train.views])
        population = int((photos & (drawn | ~known)).sum())  # the photos the sample was drawn from
        if not drawn.any():
            raise UserError(f"--sample {sample}: none of its photos is a train photo with a known {group} label")
        w_photo[drawn] = population / int(drawn.sum())
    w_photo = torch.where(is_photo, w_photo, 0)
    w = torch.where(is_photo, frac * w_photo / w_photo.sum().clamp_min(1e-12),
                    (1 - frac) / max(int(is_render.sum()), 1))[known]
    x = torch.cat([_pooled(net, train.feats[known]), _pooled(net, train.feats_flip[known])])
    y = train.labels[known, g].repeat(2)
    before = {"test": accuracy_table(net, test, schema, cfg.data.photo_views),
              "val": accuracy_table(net, val, schema, cfg.data.photo_views)}
    head = fit_head(x, y, w.repeat(2), schema.sizes[g], l2)
    net.heads[g].weight.copy_(head.weight.detach())
    net.heads[g].bias.copy_(head.bias.detach())
    metrics = {"test_accuracy": accuracy_table(net, test, schema, cfg.data.photo_views),
               "val_accuracy": accuracy_table(net, val, schema, cfg.data.photo_views),
               "before_refit": before,
               "refit": {"group": group, "init": str(init), "l2": l2, "sample": str(sample or ""),
                         "train_rows": {"photo": int(is_photo.sum()), "render": int(is_render.sum())},
                         "photo_labels": {v: int(((train.labels[:, g] == k) & is_photo).sum())
                                          for k, v in enumerate(schema.groups[g].values)}},
               "seconds": {"total": round(time.perf_counter() - t0, 1)}}
    card = {**p.card, "metrics": metrics,
            "provenance": f"{p.card.get('provenance', '')} The {group} head fitted again on the adapter of {init} "
                          f"(amgan train-reader --refit-head {group} --init {init} --l2 {l2}"
                          f"{f' --sample {sample}' if sample else ''}); every other weight "
                          f"is {init}'s.".strip()}
    if group == "neckline":
        card["out_of_scope"] = ("Garments other than tops and dresses; necklines other than round, V and collar "
                                "(hoods, turtlenecks, square necks read as one of the three); judging people.")
    save_pretrained(out, Pretrained("classifier", {"classifier": net.state_dict()}, p.model, p.image_processor,
                                    p.schema, {**p.info, "metrics": metrics}, card))
    return metrics


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="amgan train-reader", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_config_arguments(p, "configs/reader128.yaml")
    p.add_argument("--out", required=True, help="model folder to write (its run files go beside it, NAME.run/)")
    p.add_argument("--refit-head", metavar="GROUP", default=None,
                   help="instead of training: fit GROUP's head again on the adapter of the reader --init, every "
                        "other weight kept (e.g. neckline, once photos have a person's neckline labels)")
    p.add_argument("--init", default=None, help="the reader whose head --refit-head fits again")
    p.add_argument("--l2", type=float, default=1e-3, help="--refit-head: L2 weight on the head")
    p.add_argument("--sample", default=None,
                   help="--refit-head: a hand-label file whose photos were drawn at random from those with no label "
                        "of GROUP otherwise; each then stands for its share of them")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_reader_config(args.config, args.set)
    if args.refit_head:
        if not args.init:
            raise UserError("--refit-head needs --init, the reader whose adapter it reads")
        if not args.l2 >= 0:
            raise UserError(f"--l2 must be >= 0, got {args.l2}")
        metrics = refit_head(cfg, args.init, args.refit_head, args.out, l2=args.l2, sample=args.sample,
                             progress=not args.no_progress)
    else:
        metrics = train_reader(cfg, args.out, progress=not args.no_progress)
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
