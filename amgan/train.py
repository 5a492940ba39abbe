"""AMGAN training (Ak et al., ICCV 2019) on one CPU, one GPU or several GPUs.

    amgan train --config configs/synth64.yaml [--set train.steps=2000] [--resume]
    torchrun --nproc_per_node=N -m amgan.train --config configs/amgan_paper128.yaml
    amgan train ... --resume [--allow-config-change]

Paper -> code: x input, c its labels, c' (``c_trg``) target labels, m group mask
(``m_onehot``), G(x, c', m) -> (y, z, a) with y = a*z + (1-a)*x; D_I whole image,
D_C attribute region (crop of the box around the largest component of a > 0.5 max,
half resolution); a* the classifier's CAM of x's current value of the edited group.
L_D = L_adv + l_gp*GP + l_cls*L_cls(real)             (on D_I and D_C)
L_G = L_adv + l_cls*L_cls(fake, c') + l_cyc*|G(y,c,m) - x|_1 + l_att*|a - a*|_1
      + l_perc*|phi(y) - phi(r)|_1,  r: a real image whose attributes equal c'.
One attribute group per generator step, in turn (``group_for_step``).

The run folder, stats, samples-then-checkpoint schedule and resume checks are the shared
skeleton in :mod:`amgan.training`; the losses report their parts with
:func:`amgan.training.report` (tensors; floats only once per logging interval).
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from amgan import losses
from amgan.attributes import Schema
from amgan.checkpoint import load_checkpoint, save_checkpoint, unwrap
from amgan.conditioning import group_onehot, manip_onehot, random_targets
from amgan.config import add_config_arguments, Config, ConfigError, load_config
from amgan.data.memory import MemoryData, load_memory
from amgan.data.synth_dataset import ensure_data
from amgan.errors import UserError, first_line
from amgan.io import atomic_write_text, save_image_grid
from amgan.training import (RunError, StatsLog, add_run_arguments, check_run, init_run_folder, report, run_steps,
                            truncate_stats)
from amgan.nets.discriminator import PatchDiscriminator, region_discriminator
from amgan.nets.generator import Generator
from amgan.nets.region import attention_boxes, crop_boxes

log = logging.getLogger("amgan.train")
TRAIN_KIND = "amgan-train"
__all__ = ["Nets", "Trainer", "build_nets", "d_loss", "g_loss", "group_for_step", "lr_factor", "ema_decay_at",
           "ema_update", "truncate_stats", "main", "TRAIN_KIND"]


@dataclass
class Nets:
    G: torch.nn.Module
    G_ema: torch.nn.Module
    D_I: torch.nn.Module
    D_C: torch.nn.Module | None
    C: torch.nn.Module  # frozen attribute classifier (CAM and perceptual features)


def group_for_step(step: int, schema: Schema) -> str:
    groups = schema.manipulable
    return groups[step % len(groups)].name


def lr_factor(step: int, cfg: Config) -> float:
    """1 until ``decay_start`` of the steps, then linear to 0 (the paper's schedule)."""
    start = int(cfg.train.decay_start * cfg.train.steps)
    if step < start:
        return 1.0
    return max(0.0, 1.0 - (step - start) / max(1, cfg.train.steps - start))


# ---- the frozen classifier (CAM and perceptual features) ----------------------
CLASSIFIER_META = ("group_sizes", "backbone", "width", "head", "adapter_width", "image_processor")


def load_frozen_classifier(path: str) -> tuple[torch.nn.Module, dict]:
    """The CAM classifier from a ``amgan train-classifier`` file or a classifier model folder
    (``checkpoints/reader128``). -> (net, dict with ``model`` weights, ``schema`` and the
    constructor arguments named in :data:`CLASSIFIER_META`)."""
    if Path(path).is_dir():
        from amgan.pretrained import load_classifier

        net, p = load_classifier(path)
        meta = {k: v for k, v in p.model.items() if k in CLASSIFIER_META}
        if p.image_processor is not None:
            meta["image_processor"] = p.image_processor.to_dict()
        return net, {"model": net.state_dict(), "schema": p.schema, **meta}
    from amgan.train_classifier import load_classifier

    return load_classifier(path)


# ---- data ----------------------------------------------------------------------
def load_training_data(cfg: Config, root, progress: bool = True) -> tuple[MemoryData, int]:
    """The train split of ``data.root`` (its ``data.views``) followed by the train splits of
    ``data.photo_roots`` (every view), less the photos listed in ``data.exclude``.
    -> (data, number of rows from ``data.root``)."""
    from amgan.data.memory import concat_memory, excluded_images

    d = cfg.data
    parts = [load_memory(root, d.size, ("train",), d.views, progress=progress)]
    exclude = excluded_images(d.exclude, key="data.exclude")
    for pr in d.photo_roots:
        if not (Path(pr) / "manifest.csv").is_file():
            raise ConfigError(f"data.photo_roots: {pr}/manifest.csv not found (make the photo set with "
                              "`amgan data convert clothing_dataset` + `amgan data annotate`)", key="data.photo_roots")
        parts.append(load_memory(pr, d.size, ("train",), None, progress=progress, exclude=exclude))
    try:
        return concat_memory(parts), len(parts[0])
    except ValueError as e:
        raise ConfigError(f"data.photo_roots: {e}", key="data.photo_roots") from None


def mixed_batch(n: int, n_render: int, batch: int, photo_fraction: float, gen: torch.Generator) -> torch.Tensor:
    """Row indices of one batch of :func:`load_training_data`'s rows (renders first, then ``n - n_render``
    photos): ``photo_fraction`` of the batch drawn from the photos, the rest from the renders."""
    n_photo = n - n_render
    k = int(round(batch * photo_fraction)) if (photo_fraction > 0 and n_photo) else 0
    if k and n_render == 0:
        k = batch
    if k:
        return torch.cat([n_render + torch.randint(n_photo, (k,), generator=gen),
                          torch.randint(n_render, (batch - k,), generator=gen)])
    return torch.randint(n, (batch,), generator=gen)


@torch.no_grad()
def fill_unknown(data: MemoryData, classifier: torch.nn.Module, device, batch: int = 256, progress: bool = True) -> int:
    """Put the frozen classifier's reading into every unknown (-1) label of ``data.labels``, in
    place; returns how many labels were filled. The reading is made at the training resolution,
    the way the classifier's CAMs are used in training. ``classifier``: a module, or any callable
    images -> per-group scores (an editor's ``predict_tensor``, which reads at its classifier's size)."""
    unknown = (data.labels < 0).any(1).nonzero()[:, 0]
    if len(unknown) == 0:
        return 0
    C = classifier.to(device).eval() if isinstance(classifier, torch.nn.Module) else classifier
    filled = 0
    for s in tqdm(range(0, len(unknown), batch), desc="reading unknown labels", unit="batch", disable=not progress):
        idx = unknown[s:s + batch]
        x, lab = data.batch(idx, device)
        pred = torch.stack([lg.argmax(1) for lg in C(x)], 1).cpu()
        lab = lab.cpu()
        filled += int((lab < 0).sum())
        data.labels[idx] = torch.where(lab < 0, pred, lab)
    return filled


# ---- networks ----------------------------------------------------------------
def build_nets(cfg: Config, schema: Schema, classifier: torch.nn.Module) -> Nets:
    m, size = cfg.model, cfg.data.size
    cond_dim = sum(len(g) for g in schema.manipulable)
    G = Generator(cond_dim, len(schema.manipulable), width=m.g_width, n_res=m.g_res, upsample=m.g_upsample)
    cap = m.d_max_width or None
    D_I = PatchDiscriminator(size, schema.sizes, width=m.d_width, n_layers=m.d_layers, max_width=cap)
    D_C = (region_discriminator(size, schema.sizes, width=m.d_width, n_layers=m.d_layers, max_width=cap)
           if cfg.loss.use_dc else None)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    return Nets(G=G, G_ema=G_ema, D_I=D_I, D_C=D_C, C=classifier.eval().requires_grad_(False))


def ema_decay_at(step: int, decay: float) -> float:
    """EMA warm-up: early on the average follows G closely, later it settles at ``decay``.
    Without it, a short CPU run's EMA generator stays mostly its random initialisation
    (0.999**2000 = 0.14)."""
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema <- lerp(ema, model, 1 - decay), all parameters in one fused call; buffers copied."""
    torch._foreach_lerp_(list(ema.parameters()), list(unwrap(model).parameters()), 1.0 - decay)
    for be, b in zip(ema.buffers(), unwrap(model).buffers()):
        be.copy_(b)


# ---- one step --------------------------------------------------------------------
def _region_crops(a: torch.Tensor, images, cfg: Config):
    boxes = attention_boxes(a.detach().float(), rel_thresh=cfg.loss.region_threshold)
    return [crop_boxes(im, boxes, cfg.data.size // 2) for im in images]


def d_loss(nets: Nets, x, c, y, cfg: Config, a, gen) -> tuple[torch.Tensor, dict]:
    """L_D on D_I (and D_C): (total, parts); parts are detached tensors named ``D/adv``, ``D_C/gp``, ...
    ``c``: the real images' labels, -1 where unknown (masked in the classification loss)."""
    L = cfg.loss
    y = y.detach()
    real_adv, real_cls = nets.D_I(x)
    fake_adv, _ = nets.D_I(y)
    adv = losses.wgan_d_loss(real_adv, fake_adv)
    gp = losses.gradient_penalty(lambda t: nets.D_I(t)[0], x, y, generator=gen)
    cls = losses.classification_loss(real_cls, c)
    total = adv + L.lambda_gp * gp + L.lambda_cls * cls
    parts = {"D/adv": adv, "D/gp": gp, "D/cls": cls}
    if nets.D_C is not None:
        xr, yr = _region_crops(a, (x, y), cfg)
        r_adv, r_cls = nets.D_C(xr)
        f_adv, _ = nets.D_C(yr)
        adv_c = losses.wgan_d_loss(r_adv, f_adv)
        gp_c = losses.gradient_penalty(lambda t: nets.D_C(t)[0], xr, yr, generator=gen)
        cls_c = losses.classification_loss(r_cls, c)
        total = total + adv_c + L.lambda_gp * gp_c + L.lambda_cls * cls_c
        parts.update({"D_C/adv": adv_c, "D_C/gp": gp_c, "D_C/cls": cls_c})
    return total, {k: v.detach() for k, v in parts.items()}


def g_loss(nets: Nets, x, c, c_trg, group: str, schema: Schema, ref, cfg: Config):
    """L_G: (total, parts, (y, a)); parts are detached tensors named ``G/adv``, ``G_C/cls``, ..."""
    L = cfg.loss
    gi = schema.group_index(group)
    m = group_onehot(group, schema, x.shape[0], x.device)
    y, z, a = nets.G(x, manip_onehot(c_trg, schema), m)
    fake_adv, fake_cls = nets.D_I(y)
    adv = losses.wgan_g_loss(fake_adv)
    cls = losses.classification_loss(fake_cls, c_trg)
    x_rec, _, _ = nets.G(y, manip_onehot(c, schema), m)
    cyc = losses.cycle_loss(x, x_rec)
    total = adv + L.lambda_cls * cls + L.lambda_cyc * cyc
    parts = {"G/adv": adv, "G/cls": cls, "G/cyc": cyc, "G/mask_mean": a.mean()}
    if nets.D_C is not None:
        (yr,) = _region_crops(a, (y,), cfg)
        f_adv, f_cls = nets.D_C(yr)
        adv_c, cls_c = losses.wgan_g_loss(f_adv), losses.classification_loss(f_cls, c_trg)
        total = total + adv_c + L.lambda_cls * cls_c
        parts.update({"G_C/adv": adv_c, "G_C/cls": cls_c})
    if L.lambda_att > 0:
        with torch.no_grad():
            a_star = nets.C.cam(x, gi, c[:, gi], size=x.shape[-1])
        att = losses.attention_loss(a, a_star)
        total = total + L.lambda_att * att
        parts["G/att"] = att
    if L.lambda_perc > 0:
        n = L.perc_layers or None
        with torch.no_grad():
            ref_feats = nets.C.features(ref, n)
        perc = losses.perceptual_loss(nets.C.features(y, n), ref_feats)
        total = total + L.lambda_perc * perc
        parts["G/perc"] = perc
    return total, {k: v.detach() for k, v in parts.items()}, (y, a)


# ---- the run ---------------------------------------------------------------------
class Trainer:
    """Holds the run's state; ``fit`` runs steps [self.step, cfg.train.steps)."""

    def __init__(self, cfg: Config, out: Path, device=None, rank: int = 0, world: int = 1, progress: bool = True):
        from amgan.data.manifest import ReferenceIndex

        self.cfg, self.out, self.rank, self.world, self.progress = cfg, Path(out), rank, world, progress
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if not cfg.classifier.checkpoint:
            raise ConfigError("classifier.checkpoint is empty: train one with `amgan train-classifier` first",
                              key="classifier.checkpoint")
        classifier, self.classifier_ck = load_frozen_classifier(cfg.classifier.checkpoint)
        root = ensure_data(cfg.data, progress=progress and rank == 0)
        self.data, self.n_render = load_training_data(cfg, root, progress=progress and rank == 0)
        self.schema = self.data.schema
        if Schema.from_dict(self.classifier_ck["schema"]) != self.schema:
            raise ConfigError(f"classifier.checkpoint {cfg.classifier.checkpoint} was trained on another schema than "
                              f"the data set's ({root})", key="classifier.checkpoint")
        self.refs = ReferenceIndex(self.data.labels.numpy(), schema=self.data.schema)
        # labels: ``known`` keeps unknowns (-1: a photo's pattern, say) for D's classification loss on real
        # images, where they are masked; ``data.labels`` has them filled with the frozen classifier's reading,
        # because G is conditioned on a complete attribute vector (and the cycle returns to it)
        self.known = self.data.labels.clone()
        self.pseudo_filled = fill_unknown(self.data, classifier, self.device, progress=progress and rank == 0)
        if self.pseudo_filled and rank == 0:
            log.info("%d unknown labels of %d rows read by the frozen classifier (G's conditioning only)",
                     self.pseudo_filled, len(self.data))
        self.refs = ReferenceIndex(self.data.labels.numpy(), schema=self.data.schema)
        if self.device.type == "cuda":  # the whole uint8 set on the GPU: no host copies per step
            self.data.images = self.data.images.to(self.device)
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
        torch.manual_seed(cfg.train.seed)  # initial weights are a function of the seed alone
        self.nets = build_nets(cfg, self.schema, classifier)
        for name in ("G", "G_ema", "D_I", "D_C", "C"):
            net = getattr(self.nets, name)
            if net is not None:
                setattr(self.nets, name, net.to(self.device))
        T = cfg.train
        d_params = list(self.nets.D_I.parameters()) + (list(self.nets.D_C.parameters()) if self.nets.D_C else [])
        self.opt_G = torch.optim.Adam(self.nets.G.parameters(), lr=T.lr_g, betas=(T.beta1, T.beta2))
        self.opt_D = torch.optim.Adam(d_params, lr=T.lr_d, betas=(T.beta1, T.beta2))
        self.step = 0
        self.seconds = 0.0
        if T.init_from:
            self.init_generator(T.init_from)
        n_fix = 8 if self.n_render == len(self.data) else 4  # with photos: 4 renders + 4 photos
        self.fixed = torch.arange(0, self.n_render, max(1, self.n_render // n_fix))[:n_fix]
        if self.n_render < len(self.data):
            n_ph = len(self.data) - self.n_render
            self.fixed = torch.cat([self.fixed, self.n_render + torch.arange(0, n_ph, max(1, n_ph // 4))[:4]])

    def init_generator(self, path: str) -> None:
        """``train.init_from``: G and G_ema start from an editor model's generator (a continuation when
        only the generator of an earlier run survived, e.g. a model trained on a lent GPU whose
        critics could not be brought back). The critics, optimisers and step start afresh."""
        from amgan.pretrained import load_pretrained

        key = "train.init_from"
        if not Path(path).exists():
            raise ConfigError(f"{key}: {path} does not exist (an editor model folder, e.g. checkpoints/amgan_photo128)",
                              key=key)
        try:
            p = load_pretrained(path, kind="amgan-editor")
        except UserError as e:
            raise ConfigError(f"{key}: {e}", key=key) from None
        g = unwrap(self.nets.G)
        want = dict(cond_dim=g.cond_dim, n_groups=g.n_groups, width=self.cfg.model.g_width,
                    n_res=self.cfg.model.g_res, upsample=self.cfg.model.g_upsample)
        have = {k: p.model["generator"].get(k, "<absent>") for k in want}
        diff = [f"{k}: {have[k]!r} there, {want[k]!r} here" for k in want if have[k] != want[k]]
        if Schema.from_dict(p.schema) != self.schema:
            diff.append("another attribute schema")
        if int(p.image_processor.size) != self.cfg.data.size:
            diff.append(f"size: {p.image_processor.size} there, {self.cfg.data.size} here")
        if diff:
            raise ConfigError(f"{key}: {path}'s generator does not fit this config ({'; '.join(diff)})", key=key)
        sd = {k: v.float() for k, v in p.weights["G"].items()}
        g.load_state_dict(sd, strict=True)
        self.nets.G_ema.load_state_dict(sd, strict=True)
        if self.rank == 0:
            log.info("G and G_ema start from %s (its step %s); the critics start afresh", path, p.info.get("step"))

    # -- checkpoints
    def state(self) -> dict:
        n = self.nets
        return dict(G=unwrap(n.G).state_dict(), G_ema=n.G_ema.state_dict(), D_I=unwrap(n.D_I).state_dict(),
                    D_C=unwrap(n.D_C).state_dict() if n.D_C else None, opt_G=self.opt_G.state_dict(),
                    opt_D=self.opt_D.state_dict(), step=self.step, seconds=self.seconds, config=self.cfg.to_dict(),
                    schema=self.schema.to_dict())

    def save(self) -> Path:
        return save_checkpoint(self.out / "checkpoint.pt", TRAIN_KIND, **self.state())

    def load(self, path: Path) -> None:
        self.load_state(load_checkpoint(path, kind=TRAIN_KIND, map_location=self.device), str(path))

    def load_state(self, ck: dict, where: str = "the checkpoint") -> None:
        """Restore networks, optimisers, step and seconds from a ``amgan-train`` checkpoint dict."""
        n = self.nets
        try:
            unwrap(n.G).load_state_dict(ck["G"], strict=True)
            n.G_ema.load_state_dict(ck["G_ema"], strict=True)
            unwrap(n.D_I).load_state_dict(ck["D_I"], strict=True)
            if n.D_C is not None:
                if ck["D_C"] is None:
                    raise RunError(f"{where} has no D_C but the config uses it (loss.use_dc)")
                unwrap(n.D_C).load_state_dict(ck["D_C"], strict=True)
            self.opt_G.load_state_dict(ck["opt_G"])
            self.opt_D.load_state_dict(ck["opt_D"])
        except (RuntimeError, ValueError, KeyError) as e:
            if isinstance(e, RunError):
                raise
            raise RunError(f"{where} does not fit the configured networks ({first_line(e, 10_000)}); "
                           "was model.* changed?") from None
        self.step, self.seconds = int(ck["step"]), float(ck["seconds"])

    def export_editor(self, path: Path | None = None) -> Path:
        """The inference checkpoint: EMA generator + frozen classifier + schema."""
        m = self.cfg.model
        return save_checkpoint(
            path or self.out / "editor.pt", "amgan-editor",
            G_ema={k: v.clone() for k, v in self.nets.G_ema.state_dict().items()},
            generator=dict(cond_dim=sum(len(g) for g in self.schema.manipulable),
                           n_groups=len(self.schema.manipulable), width=m.g_width, n_res=m.g_res,
                           upsample=m.g_upsample),
            classifier=self.classifier_ck["model"],
            classifier_meta={k: self.classifier_ck[k] for k in CLASSIFIER_META if k in self.classifier_ck},
            schema=self.schema.to_dict(), size=self.cfg.data.size, step=self.step, seconds=round(self.seconds, 2),
            config=self.cfg.to_dict())

    # -- DDP
    def wrap_ddp(self) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        self.nets.G = DDP(self.nets.G, device_ids=ids)
        self.nets.D_I = DDP(self.nets.D_I, device_ids=ids)
        if self.nets.D_C is not None:
            self.nets.D_C = DDP(self.nets.D_C, device_ids=ids)

    # -- training
    def _batch(self, gen):
        """(x, c filled, c known): ``data.photo_fraction`` of the rows from the photo data sets."""
        idx = mixed_batch(len(self.data), self.n_render, self.cfg.train.batch_size, self.cfg.data.photo_fraction, gen)
        x, c = self.data.batch(idx, self.device)
        return x, c, self.known[idx].to(self.device)

    def train_step(self) -> None:
        """One generator update after ``n_critic`` critic updates; reports every loss part."""
        cfg, n, s = self.cfg, self.nets, self.schema
        # per-step generators: the run is a function of (seed, step, rank), so resume is exact
        gen = torch.Generator().manual_seed(cfg.train.seed * 1_000_003 + self.step * 7919 + self.rank)
        rng = np.random.default_rng([cfg.train.seed, self.step, self.rank])
        group = group_for_step(self.step, s)
        gi = s.group_index(group)
        for o in (self.opt_G, self.opt_D):
            for pg in o.param_groups:
                pg["lr"] = pg.setdefault("initial_lr", pg["lr"]) * lr_factor(self.step, cfg)
        m = group_onehot(group, s, cfg.train.batch_size, self.device)
        use_amp = cfg.train.amp and (self.device.type == "cuda" or cfg.train.amp_cpu)
        for _ in range(cfg.train.n_critic):
            x, c, c_known = self._batch(gen)
            c_trg = random_targets(c, gi, len(s.groups[gi]), gen)
            with torch.no_grad(), torch.autocast(self.device.type, enabled=use_amp, dtype=torch.bfloat16):
                y, _, a = n.G(x, manip_onehot(c_trg, s), m)
            loss_d, parts_d = d_loss(n, x, c_known, y.float(), cfg, a.float(), gen)
            self.opt_D.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_D.step()
            for k, v in parts_d.items():
                report(f"loss/{k}", v)
            report("loss/D/total", loss_d)
        ref = self.data.batch(self.refs.find_batch(c_trg.cpu().numpy(), rng), self.device)[0]
        with torch.autocast(self.device.type, enabled=use_amp, dtype=torch.bfloat16):
            loss_g, parts_g, _ = g_loss(n, x, c, c_trg, group, s, ref, cfg)
        self.opt_G.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_G.step()
        ema_update(n.G_ema, n.G, ema_decay_at(self.step, cfg.train.ema_decay))
        for k, v in parts_g.items():
            report(f"loss/{k}", v)
        report("loss/G/total", loss_g)
        self.step += 1

    @torch.no_grad()
    def sample_grid(self, path: Path) -> Path:
        """Rows: fixed inputs. Columns: input, then mask | edit for each manipulable group."""
        x, c = self.data.batch(self.fixed, self.device)
        cols = [x]
        for g in self.schema.manipulable:
            gi = self.schema.group_index(g.name)
            c_trg = c.clone()
            c_trg[:, gi] = (c[:, gi] + 1) % len(g)
            y, _, a = self.nets.G_ema(x, manip_onehot(c_trg, self.schema), group_onehot(g.name, self.schema, len(x), x.device))
            cols += [a, y]
        return save_image_grid(path, cols)

    def fit(self) -> dict:
        """Steps ``[self.step, train.steps)``; the main rank writes stats (from ``self.step`` on),
        samples, ``checkpoint.pt`` and ``editor.pt`` (see :func:`amgan.training.run_steps`)."""
        T = self.cfg.train
        main = self.rank == 0
        stats = StatsLog(self.out / "stats.jsonl", self.out / "tensorboard", start_step=self.step) if main else None

        def step_fn(_step: int) -> None:
            t0 = time.perf_counter()
            self.train_step()
            self.seconds += time.perf_counter() - t0

        def save(count: int) -> None:
            self.save()
            path = self.export_editor()
            if T.keep_editors:  # one editor per save point: quality against training time
                (self.out / "editors").mkdir(exist_ok=True)
                shutil.copyfile(path, self.out / "editors" / f"editor_step{count:06d}.pt")

        began = time.monotonic()

        def out_of_time(_count: int) -> bool:  # train.max_minutes: this process's wall-clock budget
            return T.max_minutes > 0 and time.monotonic() - began >= 60.0 * T.max_minutes

        try:
            run_steps(step_fn, start=self.step, steps=T.steps, log_every=T.log_every, stats=stats, main=main,
                      world=self.world, sample_every=T.sample_every,
                      on_sample=lambda k: self.sample_grid(self.out / "samples" / f"step{k:06d}.png"),
                      save_every=T.save_every, on_save=save, postfix={"G": "loss/G/total", "D": "loss/D/total"},
                      desc="amgan", progress=self.progress, stop=out_of_time)
        finally:
            if stats is not None:
                stats.close()
        if self.step < T.steps:
            log.info("stopped at step %d of %d: train.max_minutes (%g) reached; --resume continues", self.step,
                     T.steps, T.max_minutes)
        return {"step": self.step, "seconds": round(self.seconds, 1)}


def _setup_distributed():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, None
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    rank = dist.get_rank()
    device = None
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    else:
        device = "cpu"
    return rank, world, device


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="amgan train", description="train AMGAN")
    add_config_arguments(p, "configs/synth64.yaml")
    add_run_arguments(p, resume_from=True)
    p.add_argument("--device", default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_config(args.config, args.set)
    if not cfg.classifier.checkpoint:
        raise ConfigError(f"{args.config}: classifier.checkpoint is empty: train one with `amgan train-classifier` "
                          "first", key="classifier.checkpoint")
    out = Path(cfg.train.out)
    # before any data loads: an existing run needs --resume; a resumed one, the same config
    ck = check_run(out, cfg.to_dict(), resume=args.resume, allow_config_change=args.allow_config_change,
                   kind=TRAIN_KIND, outputs=("editor.pt",), resume_from=args.resume_from)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    rank, world, ddp_device = _setup_distributed()
    torch.manual_seed(cfg.train.seed)
    try:
        trainer = Trainer(cfg, out, device=args.device or ddp_device, rank=rank, world=world,
                          progress=not args.no_progress)
        if ck is not None:
            where = args.resume_from or str(out / "checkpoint.pt")
            trainer.load_state(ck, where)
            del ck
            if rank == 0:
                log.info("resumed from %s at step %d", where, trainer.step)
        if rank == 0:
            init_run_folder(out, cfg)
            atomic_write_text(out / "run.json", json.dumps({"world_size": world, "device": str(trainer.device)}) + "\n")
        if world > 1:
            trainer.wrap_ddp()
        result = trainer.fit()
        if rank == 0:
            print(json.dumps(result))
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
