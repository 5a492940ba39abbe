"""FIR metric learning on product identity with street/shop pairs.

Each step draws P training products and, for each, its shop image and one of its street
images (at random), augments both with kornia and minimises the symmetric in-batch
InfoNCE loss (:func:`info_nce_loss`). At the end the consumer-to-shop Recall@K is
measured on ``eval.split`` (every street image of the split queries all of the split's
shop images, exact search) for the trained model and for the untrained ImageNet trunk,
and written into ``embedder.pt`` and ``metrics.json``.

Run folder (``train.out``, :mod:`amgan.training`): ``config.yaml`` (resolved, written
before step one), ``stats.jsonl`` and ``tensorboard/`` (one row per ``log_every`` steps,
then the eval), ``checkpoint.pt`` (kind ``fir-train``, every ``save_every`` steps and at the
end: what ``--resume`` continues from, exactly: net, optimizer, sampler and RNG states),
``embedder.pt`` (kind ``fir-embedder``: state_dict, dim, input_size, config, metrics, step,
optimizer; written atomically) and ``metrics.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from amgan.checkpoint import save_checkpoint
from amgan.config import add_config_arguments
from amgan.errors import UserError
from amgan.io import atomic_write_text
from amgan.nets import check_shape
from amgan.training import (StatsLog, add_run_arguments, check_run, init_run_folder, report, resumed_at, rng_state,
                            run_steps, set_rng_state)
from fir.config import FirConfig, load_fir_config
from fir.model import CHECKPOINT_KIND, EmbeddingNet, build_embedder, embed_images

__all__ = ["info_nce_loss", "info_nce_terms", "lr_factor", "PairSampler", "make_augment", "evaluate_c2s",
           "train_embedder", "main", "TRAIN_KIND"]

log = logging.getLogger(__name__)
TRAIN_KIND = "fir-train"  # the resumable training state (checkpoint.pt)


def info_nce_terms(street: Tensor, shop: Tensor, temperature: float) -> tuple[Tensor, dict[str, Tensor]]:
    """Symmetric in-batch InfoNCE (NT-Xent / CLIP loss) over P matched pairs.

    ``street[i]`` and ``shop[i]`` [P, D] (unit rows) show the same product; every other
    row of the batch is a negative. With logits ``S = street @ shop.T / temperature``::

        L = (CE(S, arange(P)) + CE(S.T, arange(P))) / 2

    i.e. street->shop (the retrieval direction) and shop->street. Why this loss: each
    query is contrasted against all P-1 in-batch negatives at once (P^2 pairs per batch
    instead of one triplet per anchor), the softmax weights hard negatives automatically,
    so no mining and no margin tuning are needed, and it stays stable with small batches
    (the loss is bounded below by 0 and its gradient is a bounded softmax difference).

    Returns ``(total, parts)``; parts hold detached tensors ``total``, ``s2p``, ``p2s`` and
    ``acc`` (the fraction of streets whose best in-batch shop is their own).
    """
    b = check_shape(street, ["P", "D"], "info_nce street")
    check_shape(shop, [b["P"], b["D"]], "info_nce shop")
    logits = street @ shop.t() / temperature
    target = torch.arange(len(street), device=street.device)
    s2p = F.cross_entropy(logits, target)
    p2s = F.cross_entropy(logits.t(), target)
    total = (s2p + p2s) / 2
    with torch.no_grad():
        acc = (logits.argmax(1) == target).float().mean()
    return total, {"total": total.detach(), "s2p": s2p.detach(), "p2s": p2s.detach(), "acc": acc}


def info_nce_loss(street: Tensor, shop: Tensor, temperature: float) -> tuple[Tensor, dict]:
    """:func:`info_nce_terms` with the parts as Python floats (for callers outside the training loop)."""
    total, parts = info_nce_terms(street, shop, temperature)
    return total, {k: v.item() for k, v in parts.items()}


def lr_factor(step: int, steps: int, warmup: int) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up, then cosine decay to 0."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    span = max(1, steps - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / span)))


class PairSampler:
    """Batches of (street_rows, shop_rows) for P distinct products, one pair each.

    Products are taken from a shuffled order, epoch by epoch; each product contributes
    its (first) shop image and a random one of its street images.
    """

    def __init__(self, product_ids, views, street_view: str = "street", shop_view: str = "shop", seed: int = 0):
        shop: dict[str, int] = {}
        street: dict[str, list[int]] = {}
        for i, (pid, v) in enumerate(zip(product_ids, views)):
            if v == shop_view:
                shop.setdefault(pid, i)
            elif v == street_view:
                street.setdefault(pid, []).append(i)
        self.products = sorted(set(shop) & set(street))
        if len(self.products) < 2:
            raise UserError(f"need >= 2 products with both a {shop_view!r} and a {street_view!r} image "
                             f"to train; found {len(self.products)}")
        self.shop, self.street = shop, street
        self.rng = np.random.default_rng(seed)
        self._order: list[int] = []

    def sample(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        p = min(p, len(self.products))
        chosen: list[int] = []
        while len(chosen) < p:
            if not self._order:
                self._order = self.rng.permutation(len(self.products)).tolist()
            k = self._order.pop()
            if k not in chosen:
                chosen.append(k)
        pids = [self.products[k] for k in chosen]
        street = np.array([self.street[q][self.rng.integers(len(self.street[q]))] for q in pids], np.int64)
        shop = np.array([self.shop[q] for q in pids], np.int64)
        return street, shop

    def state_dict(self) -> dict:
        """Where the sampler is (RNG and epoch order), for an exact resume."""
        return {"rng": self.rng.bit_generator.state, "order": list(self._order)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self._order = [int(k) for k in state["order"]]


def make_augment(size: int, crop_scale_min: float, jitter: float) -> nn.Module:
    """Training augmentation (kornia, batched, on float [B,3,H,W] in [0,1])."""
    import kornia.augmentation as K

    ops = [K.RandomResizedCrop((size, size), scale=(crop_scale_min, 1.0), ratio=(0.8, 1.25)),
           K.RandomHorizontalFlip()]
    if jitter > 0:
        ops.append(K.ColorJitter(jitter, jitter, jitter, jitter / 6, p=0.8))
    return K.AugmentationSequential(*ops)


def evaluate_c2s(query_emb: np.ndarray, query_pids, gallery_emb: np.ndarray, gallery_pids,
                 ks=(1, 20, 50)) -> dict[str, float]:
    """Consumer-to-shop Recall@K by exact cosine search (ties by gallery position).

    A street query hits at k when one of its top-k gallery images shows its product.
    Returns ``{"recall@1": ..., ...}`` (plus ``queries`` and ``gallery`` counts).
    """
    from fir.index import exact_search_numpy
    from fir.metrics import recall_at_k

    if len(query_emb) == 0 or len(gallery_emb) == 0:
        raise ValueError(f"evaluation needs queries and a gallery; got {len(query_emb)} and {len(gallery_emb)}")
    k = min(max(ks), len(gallery_emb))
    _, ids = exact_search_numpy(gallery_emb, query_emb, k)
    by_pid: dict[str, set[int]] = {}
    for j, pid in enumerate(gallery_pids):
        by_pid.setdefault(pid, set()).add(j)
    relevant = [by_pid.get(pid, set()) for pid in query_pids]
    rec = recall_at_k(ids, relevant, ks)
    out = {f"recall@{kk}": round(float(v), 6) for kk, v in rec.items()}
    out.update(queries=int(len(query_emb)), gallery=int(len(gallery_emb)))
    return out


def _set_bn_eval(net: nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def _eval_split(net: EmbeddingNet, cfg: FirConfig, data, trunk_only: bool, progress: bool) -> dict:
    q = [i for i, v in enumerate(data.views) if v == cfg.data.street_view]
    g = [i for i, v in enumerate(data.views) if v == cfg.data.shop_view]
    bs = cfg.eval.batch_size
    name = "trunk" if trunk_only else "trained"
    qe = embed_images(net, data.images[q], bs, trunk_only=trunk_only, progress=progress, desc=f"eval {name} queries")
    ge = embed_images(net, data.images[g], bs, trunk_only=trunk_only, progress=progress, desc=f"eval {name} gallery")
    return evaluate_c2s(qe, [data.product_ids[i] for i in q], ge, [data.product_ids[i] for i in g], cfg.eval.ks)


NCE_KEYS = {"total": "loss/nce/total", "s2p": "loss/nce/s2p", "p2s": "loss/nce/p2s", "acc": "train/inbatch_acc"}


def train_embedder(cfg: FirConfig, out: str | Path, *, device=None, progress: bool = True, resume: bool = False,
                   allow_config_change: bool = False) -> dict:
    """Train, evaluate and write the run folder ``out``; returns the metrics dict.

    ``resume``: continue from ``out/checkpoint.pt`` (same config unless ``allow_config_change``).
    """
    from amgan.data.memory import load_memory
    from amgan.data.synth_dataset import ensure_data

    T = cfg.train
    out = Path(out)
    ck = check_run(out, cfg.to_dict(), resume=resume, allow_config_change=allow_config_change, kind=TRAIN_KIND,
                   outputs=("embedder.pt",))
    init_run_folder(out, cfg)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(T.seed)

    root = ensure_data(cfg.data, progress=progress)
    views = (cfg.data.street_view, cfg.data.shop_view)
    train = load_memory(root, cfg.data.size, splits=("train",), views=views, progress=progress)
    test = load_memory(root, cfg.data.size, splits=(cfg.eval.split,), views=views, progress=progress)
    sampler = PairSampler(train.product_ids, train.views, cfg.data.street_view, cfg.data.shop_view, seed=T.seed)
    log.info("training on %d products (%d images); eval on %d %s images", len(sampler.products), len(train),
             len(test), cfg.eval.split)

    net = build_embedder(cfg.model).to(device)
    # baseline first: the trunk is still the untrained ImageNet one
    baseline = ck["baseline"] if ck else _eval_split(net, cfg, test, trunk_only=True, progress=progress)
    augment = make_augment(cfg.data.size, T.crop_scale_min, T.color_jitter).to(device)
    groups = [{"params": list(net.head_parameters()), "lr": T.lr}]
    if T.trunk_lr_mult > 0:
        groups.append({"params": list(net.trunk_parameters()), "lr": T.lr * T.trunk_lr_mult})
    else:
        for p_ in net.trunk_parameters():
            p_.requires_grad_(False)
    for g in groups:
        g["base_lr"] = g["lr"]
    opt = torch.optim.AdamW(groups, weight_decay=T.weight_decay)
    start, seconds = 0, 0.0
    if ck:
        net.load_state_dict(ck["net"], strict=True)
        opt.load_state_dict(ck["optimizer"])
        sampler.load_state_dict(ck["sampler"])
        set_rng_state(ck["rng"])
        start, seconds = resumed_at(ck, out)
        del ck

    def step_fn(step: int) -> None:
        nonlocal seconds
        t0 = time.perf_counter()
        net.train()
        if T.freeze_bn:
            _set_bn_eval(net)
        f = lr_factor(step, T.steps, T.warmup_steps)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * f
        s_idx, p_idx = sampler.sample(T.products_per_batch)
        x = torch.cat([train.images[s_idx], train.images[p_idx]]).to(device).float().div_(255.0)
        with torch.no_grad():
            x = augment(x)
        z = net(x)
        loss, parts = info_nce_terms(z[: len(s_idx)], z[len(s_idx):], T.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for k, v in parts.items():
            report(NCE_KEYS[k], v)
        seconds += time.perf_counter() - t0

    def save(count: int) -> None:
        save_checkpoint(out / "checkpoint.pt", TRAIN_KIND, net=net.state_dict(), optimizer=opt.state_dict(),
                        sampler=sampler.state_dict(), rng=rng_state(), baseline=baseline, step=count,
                        seconds=seconds, config=cfg.to_dict())

    stats = StatsLog(out / "stats.jsonl", out / "tensorboard", start_step=start)
    try:
        run_steps(step_fn, start=start, steps=T.steps, log_every=T.log_every, stats=stats, save_every=T.save_every,
                  on_save=save, extras=lambda k: {"lr": T.lr * lr_factor(k - 1, T.steps, T.warmup_steps)},
                  postfix={"loss": "loss/nce/total"}, desc="fir", progress=progress)
        train_seconds = round(seconds, 1)

        trained = _eval_split(net, cfg, test, trunk_only=False, progress=progress)
        metrics = {"split": cfg.eval.split, "trained": trained, "imagenet_trunk": baseline,
                   "steps": T.steps, "train_seconds": train_seconds}
        stats.write(T.steps, {**{f"eval/trained/{k}": v for k, v in trained.items()},
                              **{f"eval/imagenet_trunk/{k}": v for k, v in baseline.items()}})
    finally:
        stats.close()
    net = net.cpu()
    save_checkpoint(out / "embedder.pt", CHECKPOINT_KIND, state_dict=net.state_dict(), dim=net.dim,
                    input_size=net.input_size, image_size=cfg.data.size, config=cfg.to_dict(),
                    metrics=metrics, step=T.steps, optimizer=opt.state_dict())
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="fir train", description="train the FIR embedding network")
    add_config_arguments(p, "configs/fir_synth64.yaml")
    p.add_argument("--device", default=None)
    add_run_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_fir_config(args.config, args.set)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    metrics = train_embedder(cfg, cfg.train.out, device=args.device, progress=not args.no_progress,
                             resume=args.resume, allow_config_change=args.allow_config_change)
    print(json.dumps(metrics))
    return 0
