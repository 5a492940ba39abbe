"""``fir train-flam``: train FLAM on the frozen FIR features, calibrate its edit strength,
evaluate it and write the run folder.

Each step runs three phases in turn, each a loss of the nets bundle that returns
``(total, parts)`` (:func:`embedder_loss`, :func:`discriminator_loss`,
:func:`generator_loss`); the step only zeroes, backs and steps, and reports the parts
(:func:`amgan.training.report`).

Run folder (``train.out``, :mod:`amgan.training`): ``config.yaml``, ``stats.jsonl`` and
``tensorboard/``, ``checkpoint.pt`` (kind ``fir-flam-train``: nets, optimisers, the batch
generator's state; every ``save_every`` steps and at the end, what ``--resume`` continues
from), ``flam.pt`` (kind ``fir-flam``: the FlamNet state (embedders, dictionary,
generator), the discriminator, the schema, the sha256 of the embedder checkpoint it was
trained on, metrics, the calibrated strength) and ``metrics.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from amgan.attributes import Schema
from amgan.config import add_config_arguments, ConfigError
from amgan.errors import UserError, first_line
from amgan.training import (RunError, StatsLog, add_run_arguments, check_run, init_run_folder, report, resumed_at,
                            run_steps)
from fir.flam.calibrate import calibrate_strength, evaluate_flam, single_edit_targets
from fir.flam.features import cached_features
from fir.flam.inference import CHECKPOINT_KIND
from fir.flam.losses import (attribute_matching_loss, cosine_distance, d_logistic_loss, dictionary_triplet_loss,
                             g_logistic_loss, known_groups, r1_penalty)
from fir.flam.nets import FeatureDiscriminator, FlamNet

__all__ = ["FlamNets", "embedder_loss", "discriminator_loss", "generator_loss", "train_flam", "main", "TRAIN_KIND"]

log = logging.getLogger(__name__)
TRAIN_KIND = "fir-flam-train"  # the resumable training state (checkpoint.pt)


@dataclass
class FlamNets:
    net: FlamNet  # embedders + dictionary + generator
    D: FeatureDiscriminator


# ---------------------------------------------------------------- the three phases of a step
def embedder_loss(nets: FlamNets, f: Tensor, y: Tensor, margin: float) -> tuple[Tensor, dict]:
    """Attribute embedders + dictionary: the dictionary triplet loss, mean over the groups with a
    known label in ``y`` (unknown labels, -1, masked)."""
    net = nets.net
    losses = [dictionary_triplet_loss(e, net.prototypes(g), y[:, g], margin)
              for g, e in enumerate(net.attr_embeddings(f))]
    keep = known_groups(y)
    loss = sum(losses[g] for g in keep) / len(keep) if keep else sum(losses) * 0
    return loss, {"E/triplet": loss.detach()}


def _observed(labels: Tensor, observed: Tensor | None) -> Tensor:
    """``labels`` with the cells not ``observed`` set to -1 (unknown); all observed when None."""
    return labels if observed is None else torch.where(observed, labels, torch.full_like(labels, -1))


def discriminator_loss(nets: FlamNets, f: Tensor, y: Tensor, t: Tensor, r1_gamma: float,
                       known: Tensor | None = None) -> tuple[Tensor, dict]:
    """Real features with their labels against generated ones with their targets, plus R1.

    ``y``: source labels, complete (unknown ones filled by FLAM's reading, for the generator's
    condition); ``known`` [B, G] bool: which of them were known (None: all). D sees only the
    known labels of real features, and of generated ones the known or requested targets.
    """
    fake = nets.net.generate(f, y, t).detach()
    real = f.clone().requires_grad_(r1_gamma > 0)
    d_real = nets.D(real, _observed(y, known))
    loss_d = d_logistic_loss(d_real, nets.D(fake, _observed(t, None if known is None else known | (t != y))))
    r1 = r1_penalty(d_real, real) if r1_gamma > 0 else torch.zeros(())
    return loss_d + r1_gamma / 2 * r1, {"D/adv": loss_d.detach(), "D/r1": r1.detach()}


def generator_loss(nets: FlamNets, f: Tensor, y: Tensor, t: Tensor, T,
                   known: Tensor | None = None) -> tuple[Tensor, dict]:
    """Adversarial + attribute matching + cycle + identity (``T``: the train section's lambdas).

    ``y``, ``known``: as in :func:`discriminator_loss`; the attribute matching loss and D judge
    the moved feature only on the target values that were known or requested.
    """
    net, D = nets.net, nets.D
    t_obs = _observed(t, None if known is None else known | (t != y))
    f2 = net.generate(f, y, t)
    adv = g_logistic_loss(D(f2, t_obs))
    attr = attribute_matching_loss(net.attr_logits(f2, detach_dictionary=True), t_obs)
    cyc = cosine_distance(net.generate(f2, t, y), f)
    idt = cosine_distance(net.generate(f, y, y), f)
    loss = T.lambda_adv * adv + T.lambda_attr * attr + T.lambda_cyc * cyc + T.lambda_idt * idt
    return loss, {"G/adv": adv.detach(), "G/attr": attr.detach(), "G/cyc": cyc.detach(), "G/idt": idt.detach()}


def _embedder_id(path: str) -> str:
    from amgan.pretrained import model_id

    return model_id(path)


def _photo_features(cfg, embedder, embedder_id: str, size: int, schema: Schema, progress: bool) -> dict:
    """{split: {photo root: (f, labels, views)}} for the train split (hand-checked photos of
    ``data.exclude`` left out) and the eval split of each of ``data.photo_roots``."""
    from amgan.data.memory import excluded_images

    T = cfg.train
    exclude = excluded_images(cfg.data.exclude, key="data.exclude")
    out: dict = {"train": {}, cfg.eval.split: {}}
    for pr in cfg.data.photo_roots:
        other = Schema.from_dict(json.loads((Path(pr) / "schema.json").read_text()))
        if other.to_dict()["groups"] != schema.to_dict()["groups"]:
            raise ConfigError(f"{pr}: its schema differs from {cfg.data.root}'s; FLAM needs one schema",
                              key="data.photo_roots")
        for split in out:
            f, y, _, v = cached_features(embedder, embedder_id, Path(pr), size, split, tuple(cfg.data.photo_views),
                                         T.embed_batch_size, T.cache_dir, progress,
                                         exclude=exclude if split == "train" else frozenset())
            out[split][pr] = (f, y, v)
    return out


def train_flam(cfg, out: str | Path, *, progress: bool = True, resume: bool = False,
               allow_config_change: bool = False) -> dict:
    """Train FLAM on the frozen FIR features of ``cfg.data``; write the run folder; return metrics.

    ``resume``: continue from ``out/checkpoint.pt`` (same config unless ``allow_config_change``).
    """
    from amgan.checkpoint import save_checkpoint
    from amgan.data.synth_dataset import ensure_data
    from amgan.io import atomic_write_text
    from fir.model import load_embedder
    from fir.train import evaluate_c2s

    T, M = cfg.train, cfg.model
    out = Path(out)
    if not Path(cfg.embedder).exists():
        raise ConfigError(f"embedder checkpoint not found: {cfg.embedder} (train one with `fir train`)", key="embedder")
    ck = check_run(out, cfg.to_dict(), resume=resume, allow_config_change=allow_config_change, kind=TRAIN_KIND,
                   outputs=("flam.pt",))
    embedder_id = _embedder_id(cfg.embedder)
    if ck is not None and ck["embedder_id"] != embedder_id:
        raise RunError(f"--resume: {out / 'checkpoint.pt'} was trained on the features of embedder "
                       f"{ck['embedder_id'][:12]}..., but {cfg.embedder} is {embedder_id[:12]}...")
    init_run_folder(out, cfg)
    torch.manual_seed(T.seed)
    embedder, emb_p = load_embedder(cfg.embedder)
    size = emb_p.image_processor.size
    from fir.garment_copy import check_input_view

    # an embedder that reads garments alone learns FLAM on garment-only copies of the photos (`fir garment-copy`),
    # as it was trained
    check_input_view(emb_p.image_processor.view, [cfg.data.root], "data.root", cfg.data.photo_views)
    check_input_view(emb_p.image_processor.view, cfg.data.photo_roots, "data.photo_roots", cfg.data.photo_views)
    root = ensure_data(cfg.data, progress=progress)
    views = tuple(cfg.data.views)

    def features(split: str):
        return cached_features(embedder, embedder_id, root, size, split, views, T.embed_batch_size, T.cache_dir,
                               progress)

    f_tr, y_tr, _, v_tr = features("train")
    f_te, y_te, te_pids, te_views = features(cfg.eval.split)
    schema = Schema.from_dict(json.loads((root / "schema.json").read_text()))
    photos = _photo_features(cfg, embedder, embedder_id, size, schema, progress)
    for f_p, y_p, v_p in photos["train"].values():  # photos join the training features, labels -1 where unknown
        f_tr, y_tr, v_tr = torch.cat([f_tr, f_p]), torch.cat([y_tr, y_p]), list(v_tr) + list(v_p)
    sizes = [len(g) for g in schema.groups]
    manip = [schema.group_index(g.name) for g in schema.manipulable]
    if not manip:
        raise UserError("the schema has no manipulable attribute group: nothing for FLAM to learn")
    log.info("FLAM on %d train features (dim %d), %d groups", len(f_tr), f_tr.shape[1], len(sizes))

    net = FlamNet(f_tr.shape[1], sizes, M.attr_dim, M.hidden, M.gen_layers, M.temperature)
    nets = FlamNets(net=net, D=FeatureDiscriminator(f_tr.shape[1], sizes, M.hidden))
    opt_e = torch.optim.Adam([*net.embedders.parameters(), *net.dictionary.parameters()], lr=T.lr_embed)
    opt_g = torch.optim.Adam(net.generator.parameters(), lr=T.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(nets.D.parameters(), lr=T.lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(T.seed)
    start, seconds = 0, 0.0
    if ck is not None:
        try:
            net.load_state_dict(ck["net"], strict=True)
            nets.D.load_state_dict(ck["D"], strict=True)
        except RuntimeError as e:
            raise RunError(f"{out / 'checkpoint.pt'} does not fit the configured networks "
                           f"({first_line(e, 10_000)}); was model.* changed?") from None
        for o, k in ((opt_e, "opt_e"), (opt_g, "opt_g"), (opt_d, "opt_d")):
            o.load_state_dict(ck[k])
        gen.set_state(ck["gen"])
        start, seconds = resumed_at(ck, out)
        del ck

    def step(_step: int) -> None:
        nonlocal seconds
        t0 = time.perf_counter()
        net.train()
        idx = torch.randint(len(f_tr), (min(T.batch_size, len(f_tr)),), generator=gen)
        f, y = f_tr[idx], y_tr[idx]
        parts = {}
        loss_e, p = embedder_loss(nets, f, y, T.triplet_margin)
        opt_e.zero_grad(set_to_none=True)
        loss_e.backward()
        opt_e.step()
        parts.update(p)
        known = None if bool((y >= 0).all()) else y >= 0
        if known is not None:  # photos: unknown source labels read by FLAM itself (for G's condition only)
            y = net.fill_unknown(f, y)
        t = single_edit_targets(y, manip, sizes, gen)
        for loss_fn, opt in ((lambda: discriminator_loss(nets, f, y, t, T.r1_gamma, known), opt_d),
                             (lambda: generator_loss(nets, f, y, t, T, known), opt_g)):
            loss, p = loss_fn()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            parts.update(p)
        for k, v in parts.items():
            report(f"loss/{k}", v)
        seconds += time.perf_counter() - t0

    def save(count: int) -> None:
        save_checkpoint(out / "checkpoint.pt", TRAIN_KIND, net=net.state_dict(), D=nets.D.state_dict(),
                        opt_e=opt_e.state_dict(), opt_g=opt_g.state_dict(), opt_d=opt_d.state_dict(),
                        gen=gen.get_state(), step=count, seconds=seconds, embedder_id=embedder_id,
                        config=cfg.to_dict())

    stats = StatsLog(out / "stats.jsonl", out / "tensorboard", start_step=start)
    try:
        run_steps(step, start=start, steps=T.steps, log_every=T.log_every, stats=stats, save_every=T.save_every,
                  on_save=save, postfix={"G": "loss/G/adv", "D": "loss/D/adv"}, desc="flam", progress=progress)
    finally:
        stats.close()
    train_seconds = round(seconds, 1)

    # edit strength: retrieval on the calibration split's features against its and train's catalogue
    f_ca, y_ca, _, v_ca = features(M.calibrate_split)

    def shop(f, y, vs):
        keep = [i for i, v in enumerate(vs) if v == cfg.data.shop_view]
        return f[keep], y[keep]

    gal = [shop(f_tr, y_tr, v_tr)] + ([shop(f_ca, y_ca, v_ca)] if M.calibrate_split != "train" else [])
    gal_f, gal_y = torch.cat([f for f, _ in gal]), torch.cat([y for _, y in gal])
    if len(gal_f) == 0:
        raise UserError(f"strength calibration: no {cfg.data.shop_view!r} view features to search")
    cal = calibrate_strength(net, f_ca, y_ca, gal_f, gal_y, manip, M.strength_grid, seed=T.seed)
    cal["split"] = M.calibrate_split
    strength = cal["strength"]
    log.info("FLAM edit strength %.2f (%s)", strength,
             cal.get("note") or f"mean top-k accuracy on {M.calibrate_split} by strength: {cal['scores']}")

    ev = evaluate_flam(net, f_te, y_te, manip, seed=T.seed, strength=strength)
    for key in ("attribute_accuracy", "attribute_known"):
        ev[key] = {schema.names[int(k)]: v for k, v in ev[key].items()}
    # plain queries: f is searched as is (FLAM never changes the embedder); G(f, s->s) for comparison
    q = [i for i, v in enumerate(te_views) if v == cfg.data.street_view]
    gal = [i for i, v in enumerate(te_views) if v == cfg.data.shop_view]
    plain = {}
    if q and gal:
        qp, gp = [te_pids[i] for i in q], [te_pids[i] for i in gal]
        with torch.no_grad():
            f_id = net.generate(f_te, y_te, y_te)
        plain = {"fir_feature": evaluate_c2s(f_te[q].numpy(), qp, f_te[gal].numpy(), gp, cfg.eval.ks),
                 "flam_identity": evaluate_c2s(f_id[q].numpy(), qp, f_te[gal].numpy(), gp, cfg.eval.ks)}
    photo_ev = {}
    for pr, (f_p, y_p, _) in photos[cfg.eval.split].items():
        e = evaluate_flam(net, f_p, y_p, manip, seed=T.seed, strength=strength)
        for key in ("attribute_accuracy", "attribute_known"):
            e[key] = {schema.names[int(k)]: v for k, v in e[key].items()}
        photo_ev[pr] = e
    known = {g: int((y_tr[:, i] >= 0).sum()) for i, g in enumerate(schema.names)}
    metrics = {"split": cfg.eval.split, "test": ev, "test_photos": photo_ev, "plain_query_c2s": plain,
               "train_known_labels": known, "strength": strength,
               "strength_calibration": cal, "steps": T.steps,
               "train_seconds": train_seconds, "train_features": int(len(f_tr))}
    arch = {"feat_dim": net.feat_dim, "group_sizes": sizes, "attr_dim": M.attr_dim, "hidden": M.hidden,
            "gen_layers": M.gen_layers, "temperature": M.temperature}
    save_checkpoint(out / "flam.pt", CHECKPOINT_KIND, state_dict=net.state_dict(), discriminator=nets.D.state_dict(),
                    arch=arch, schema=schema.to_dict(), embedder_id=embedder_id, config=cfg.to_dict(),
                    metrics=metrics, strength=strength, step=T.steps)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv=None) -> int:
    from fir.config import load_flam_config

    p = argparse.ArgumentParser(prog="fir train-flam", description="train FLAM on frozen FIR features")
    add_config_arguments(p, "configs/flam_synth64.yaml")
    add_run_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_flam_config(args.config, args.set)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    print(json.dumps(train_flam(cfg, cfg.train.out, progress=not args.no_progress, resume=args.resume,
                                allow_config_change=args.allow_config_change)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
