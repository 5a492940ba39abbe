"""FLAM: feature-level attribute manipulation on the frozen FIR embedding.

After Shin, Park and Kim, "Semi-supervised feature-level attribute manipulation for
fashion image retrieval" (BMVC 2019). "This, but red" is answered without touching
pixels: the query's FIR feature ``f`` is moved to where a red version of the garment
would embed, and the gallery is searched with the moved feature.

Parts (:class:`FlamNet`, :class:`FeatureDiscriminator`):

- **Attribute-specific embedders** ``E_g`` (one MLP per attribute group) map ``f`` to a
  unit vector in a small attribute space; a **learnable attribute dictionary** ``W_g``
  holds one unit prototype per value. A **triplet loss** pulls ``E_g(f)`` to its value's
  prototype and pushes it from the hardest other prototype by a margin
  (:func:`dictionary_triplet_loss`). Attributes are read off as the nearest prototype.
- **Feature generator** ``G(f, c)``: a residual MLP, ``f' = normalize(f + R([f, c]))``,
  conditioned on the dictionary difference ``c = concat_g (W_g[target_g] - W_g[source_g])``
  (zero for the groups that do not change, so "no change" is an all-zero condition).
- **Feature discriminator** ``D(f, y)``: an MLP with a projection head on the attribute
  labels (Miyato & Koyama, 2018), so it judges "a real feature *with these attributes*".
  Trained with the non-saturating logistic loss and an R1 penalty on real features.
- **Losses of G**: adversarial (``softplus(-D(f', t))``), attribute matching (the
  embedders must read the target values off ``f'``: cross-entropy over cosine
  similarities to the dictionary, every group, :func:`attribute_matching_loss`), cycle
  (``G(G(f, s->t), t->s)`` returns to ``f``) and identity (``G(f, s->s) = f``), both as
  ``1 - cos`` (:func:`cosine_distance`).

The FIR embedder stays frozen, and an unedited query is searched with ``f`` itself, so
plain-query retrieval cannot change; ``fir train-flam`` measures it anyway (consumer-to-
shop Recall@K with ``f`` and with ``G(f, s->s)``).

Run folder (``train.out``): ``config.yaml``, ``stats.jsonl``, ``flam.pt`` (kind
``fir-flam``: the FlamNet state (embedders, dictionary, generator), the discriminator,
the schema, the sha256 of the embedder checkpoint it was trained on, metrics) and
``metrics.json``.
"""
from __future__ import annotations

from amgan.errors import UserError

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from amgan.attributes import Schema
from amgan.nets import check_shape

__all__ = ["FlamNet", "FeatureDiscriminator", "FlamModel", "FlamMismatchError", "dictionary_triplet_loss",
           "attribute_matching_loss", "cosine_distance", "d_logistic_loss", "g_logistic_loss", "r1_penalty",
           "train_flam", "load_flam", "CHECKPOINT_KIND", "main"]

log = logging.getLogger(__name__)
CHECKPOINT_KIND = "fir-flam"


class FlamMismatchError(UserError):
    """A FLAM model trained on another embedder's features."""


# ---------------------------------------------------------------- losses (pure functions)
def dictionary_triplet_loss(emb: Tensor, dictionary: Tensor, labels: Tensor, margin: float) -> Tensor:
    """Triplet loss against a dictionary of prototypes, hardest negative per anchor.

    ``emb`` [B, d] and ``dictionary`` [n, d] are unit rows; ``labels`` [B] index the
    positive prototype. With cosine distance ``d(a, b) = 1 - a.b``::

        L = mean_i max(0, margin + d(e_i, W[y_i]) - min_{v != y_i} d(e_i, W[v]))
    """
    b = check_shape(emb, ["B", "d"], "triplet emb")
    check_shape(dictionary, ["n", b["d"]], "triplet dictionary")
    sim = emb @ dictionary.t()  # [B, n]
    pos = sim.gather(1, labels[:, None]).squeeze(1)
    neg = sim.masked_fill(F.one_hot(labels, sim.shape[1]).bool(), float("-inf")).amax(1)
    return F.relu(margin + (1 - pos) - (1 - neg)).mean()


def attribute_matching_loss(logits: list[Tensor], labels: Tensor) -> Tensor:
    """Mean over groups of the cross-entropy of ``logits[g]`` [B, n_g] against ``labels[:, g]``."""
    return torch.stack([F.cross_entropy(lg, labels[:, g]) for g, lg in enumerate(logits)]).mean()


def cosine_distance(a: Tensor, b: Tensor) -> Tensor:
    """Mean of ``1 - cos(a_i, b_i)`` over rows."""
    return (1 - F.cosine_similarity(a, b, dim=1)).mean()


def d_logistic_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Discriminator: ``softplus(-D(real)) + softplus(D(fake))`` (the non-saturating GAN)."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_logistic_loss(fake: Tensor) -> Tensor:
    """Generator: ``softplus(-D(fake))``."""
    return F.softplus(-fake).mean()


def r1_penalty(d_out: Tensor, real: Tensor) -> Tensor:
    """R1 (Mescheder et al., 2018): mean ``||grad_x D(x)||^2`` at real ``x`` (needs ``real.requires_grad``)."""
    (g,) = torch.autograd.grad(d_out.sum(), real, create_graph=True)
    return g.pow(2).sum(1).mean()


# ---------------------------------------------------------------- networks
def _mlp(i: int, hidden: int, o: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    d = i
    for _ in range(layers - 1):
        mods += [nn.Linear(d, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(0.2)]
        d = hidden
    mods.append(nn.Linear(d, o))
    return nn.Sequential(*mods)


class FlamNet(nn.Module):
    """Attribute embedders + dictionary + feature generator (everything inference needs).

    Args:
        feat_dim: FIR embedding size D.
        group_sizes: number of values per attribute group (schema order).
        attr_dim: size of each attribute space.
        hidden: MLP width.
        gen_layers: generator MLP depth (Linear layers).
        temperature: softmax temperature of the cosine logits (attribute matching, probabilities).
    """

    def __init__(self, feat_dim: int, group_sizes, attr_dim: int = 32, hidden: int = 512, gen_layers: int = 3,
                 temperature: float = 0.1):
        super().__init__()
        self.feat_dim, self.group_sizes = int(feat_dim), [int(n) for n in group_sizes]
        self.attr_dim, self.temperature = int(attr_dim), float(temperature)
        self.embedders = nn.ModuleList(_mlp(feat_dim, hidden, attr_dim, 2) for _ in self.group_sizes)
        g = torch.Generator().manual_seed(0)
        self.dictionary = nn.ParameterList(nn.Parameter(torch.randn(n, attr_dim, generator=g)) for n in self.group_sizes)
        self.generator = _mlp(feat_dim + attr_dim * len(self.group_sizes), hidden, feat_dim, gen_layers)
        nn.init.zeros_(self.generator[-1].weight)  # starts as the identity: f' = f
        nn.init.zeros_(self.generator[-1].bias)

    def prototypes(self, g: int) -> Tensor:
        return F.normalize(self.dictionary[g], dim=1)

    def attr_embeddings(self, f: Tensor) -> list[Tensor]:
        """Unit attribute embeddings ``E_g(f)``, one [B, attr_dim] per group."""
        return [F.normalize(e(f), dim=1) for e in self.embedders]

    def unit_prototypes(self) -> list[Tensor]:
        """Every group's unit prototypes, detached (what inference can compute once)."""
        return [self.prototypes(g).detach() for g in range(len(self.group_sizes))]

    def attr_logits(self, f: Tensor, detach_dictionary: bool = False,
                    protos: list[Tensor] | None = None) -> list[Tensor]:
        """Cosine similarity to every prototype / temperature: one [B, n_g] per group.

        ``protos``: precomputed :meth:`unit_prototypes` (inference; implies a detached dictionary).
        """
        out = []
        for g, e in enumerate(self.attr_embeddings(f)):
            w = protos[g] if protos is not None else self.prototypes(g)
            out.append(e @ (w.detach() if detach_dictionary else w).t() / self.temperature)
        return out

    def condition(self, source: Tensor, target: Tensor, protos: list[Tensor] | None = None) -> Tensor:
        """``concat_g (W_g[target_g] - W_g[source_g])`` [B, G*attr_dim] (dictionary detached)."""
        protos = self.unit_prototypes() if protos is None else protos
        return torch.cat([P[target[:, g]] - P[source[:, g]] for g, P in enumerate(protos)], 1)

    def residual(self, f: Tensor, source: Tensor, target: Tensor, protos: list[Tensor] | None = None) -> Tensor:
        """``R([f, c(source, target)])`` [B, D], the generator's step before normalisation."""
        check_shape(f, ["B", self.feat_dim], "FLAM feature")
        check_shape(source, ["B", len(self.group_sizes)], "FLAM source labels")
        check_shape(target, ["B", len(self.group_sizes)], "FLAM target labels")
        return self.generator(torch.cat([f, self.condition(source, target, protos)], 1))

    def generate(self, f: Tensor, source: Tensor, target: Tensor, strength: float = 1.0,
                 protos: list[Tensor] | None = None) -> Tensor:
        """``f' = normalize(f + strength * R([f, c(source, target)]))`` [B, D] (training uses strength 1)."""
        return F.normalize(f + strength * self.residual(f, source, target, protos), dim=1)


class FeatureDiscriminator(nn.Module):
    """``D(f, y) = w.h(f) + sum_g <V_g[y_g], h(f)>``: a projection discriminator on features."""

    def __init__(self, feat_dim: int, group_sizes, hidden: int = 512):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        self.body = nn.Sequential(sn(nn.Linear(feat_dim, hidden)), nn.LeakyReLU(0.2),
                                  sn(nn.Linear(hidden, hidden)), nn.LeakyReLU(0.2))
        self.out = sn(nn.Linear(hidden, 1))
        self.embed = nn.ModuleList(nn.Embedding(int(n), hidden) for n in group_sizes)
        for e in self.embed:
            nn.init.normal_(e.weight, std=0.02)

    def forward(self, f: Tensor, labels: Tensor) -> Tensor:
        h = self.body(f)
        proj = sum((e(labels[:, g]) * h).sum(1) for g, e in enumerate(self.embed))
        return self.out(h).squeeze(1) + proj


# ---------------------------------------------------------------- inference wrapper
class FlamModel:
    """A trained FLAM for inference on numpy features (see :func:`load_flam`)."""

    def __init__(self, net: FlamNet, schema: Schema, embedder_id: str, metrics: dict | None = None,
                 strength: float = 1.0):
        self.net = net.eval().requires_grad_(False)
        self.schema, self.embedder_id, self.metrics = schema, embedder_id, metrics or {}
        if not strength > 0:
            raise ValueError(f"FLAM edit strength must be > 0, got {strength}")
        self.strength = float(strength)
        with torch.no_grad():  # the frozen net's unit prototypes, once (a batch-1 query is latency-bound)
            self._protos = net.unit_prototypes()
        self._sizes = np.asarray(net.group_sizes)

    def _feats(self, feats) -> Tensor:
        f = torch.as_tensor(np.asarray(feats, np.float32))
        check_shape(f, ["B", self.net.feat_dim], "FLAM features")
        return f

    def _labels(self, labels, n: int, name: str) -> Tensor:
        y = np.asarray(labels, np.int64)
        if y.shape != (n, len(self.schema.groups)):
            check_shape(torch.as_tensor(y), [n, len(self.schema.groups)], name)
        bad = (y < 0) | (y >= self._sizes)
        if bad.any():
            g = int(np.nonzero(bad.any(0))[0][0])
            size = int(self._sizes[g])
            raise ValueError(f"{name}: group {self.schema.names[g]!r} index out of range 0..{size - 1}")
        return torch.from_numpy(y)

    @torch.inference_mode()
    def predict_probs(self, feats) -> list[np.ndarray]:
        """Softmax over each group's prototypes: one [B, n_g] array per group."""
        return [lg.softmax(1).numpy() for lg in self.net.attr_logits(self._feats(feats), protos=self._protos)]

    @torch.inference_mode()
    def predict_labels(self, feats) -> np.ndarray:
        """Nearest prototype per group -> int64 [B, G]."""
        logits = self.net.attr_logits(self._feats(feats), protos=self._protos)
        return torch.stack([lg.argmax(1) for lg in logits], 1).numpy()

    @torch.inference_mode()
    def manipulate(self, feats, source_labels, target_labels, strength: float | None = None) -> np.ndarray:
        """Features [B, D] moved from ``source_labels`` to ``target_labels`` ([B, G] value indices).

        ``strength`` scales the generator's step (default: the model's calibrated strength).
        ``net.generate`` with the unit prototypes computed once.
        """
        f = self._feats(feats)
        s = self._labels(source_labels, len(f), "source labels")
        t = self._labels(target_labels, len(f), "target labels")
        a = self.strength if strength is None else float(strength)
        if not a > 0:
            raise ValueError(f"FLAM edit strength must be > 0, got {a}")
        return self.net.generate(f, s, t, a, protos=self._protos).numpy()


def load_flam(path: str | Path, expect_embedder_id: str | None = None, map_location="cpu") -> FlamModel:
    """A :class:`FlamModel` from a ``fir-flam`` checkpoint; refuses another embedder's FLAM."""
    from amgan.checkpoint import CheckpointError, load_checkpoint

    ck = load_checkpoint(path, kind=CHECKPOINT_KIND, map_location=map_location)
    try:
        a = ck["arch"]
        net = FlamNet(a["feat_dim"], a["group_sizes"], a["attr_dim"], a["hidden"], a["gen_layers"], a["temperature"])
        net.load_state_dict(ck["state_dict"], strict=True)
        schema = Schema.from_dict(ck["schema"])
    except (KeyError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path}: not a usable fir-flam checkpoint ({type(e).__name__}: {e})") from None
    if expect_embedder_id is not None and ck["embedder_id"] != expect_embedder_id:
        raise FlamMismatchError(
            f"{path} was trained on the features of embedder {ck['embedder_id'][:12]}..., but the loaded embedder is "
            f"{expect_embedder_id[:12]}...; retrain it with `fir train-flam --set embedder=<that checkpoint>`")
    return FlamModel(net, schema, ck["embedder_id"], ck.get("metrics"), strength=float(ck.get("strength", 1.0)))


# ---------------------------------------------------------------- training
def _features(embedder, embedder_id: str, root: Path, size: int, split: str, views, batch_size: int,
              cache_dir: str, progress: bool):
    """FIR features of a split: (f [N,D], labels [N,G], product_ids, views), cached on disk.

    The cache file is keyed by the embedder's sha256, the manifest's sha256, the split,
    the views and the size, so a changed model or data set never reuses stale features.
    """
    from amgan.checkpoint import file_sha256
    from amgan.data.memory import load_memory
    from amgan.io import atomic_torch_save
    from fir.model import embed_images

    key = f"{embedder_id[:16]}-{file_sha256(root / 'manifest.csv')[:16]}-{split}-{'+'.join(views)}-{size}"
    path = Path(cache_dir) / f"flam-features-{key}.pt" if cache_dir else None
    if path is not None and path.is_file():
        c = torch.load(path, map_location="cpu", weights_only=True)
        log.info("FIR features of %s from the cache %s", split, path)
        return c["features"], c["labels"], c["product_ids"], c["views"]
    data = load_memory(root, size, splits=(split,), views=views, progress=progress)
    f = torch.from_numpy(embed_images(embedder, data.images, batch_size, progress=progress,
                                      desc=f"FIR features {split}"))
    if path is not None:
        atomic_torch_save(path, {"features": f, "labels": data.labels, "product_ids": data.product_ids,
                                 "views": data.views})
    return f, data.labels, data.product_ids, data.views


def _single_edit_targets(labels: Tensor, manip: list[int], sizes: list[int], gen: torch.Generator) -> Tensor:
    """One manipulable group per row moved to another value, uniformly."""
    b = len(labels)
    which = torch.tensor(manip)[torch.randint(len(manip), (b,), generator=gen)]
    sz = torch.tensor(sizes)[which]
    shift = (torch.rand(b, generator=gen) * (sz - 1)).long() + 1
    out = labels.clone()
    rows = torch.arange(b)
    out[rows, which] = (labels[rows, which] + shift) % sz
    return out


@torch.no_grad()
def evaluate_flam(net: FlamNet, f: Tensor, y: Tensor, manip: list[int], seed: int = 0, strength: float = 1.0) -> dict:
    """Attribute accuracy of the embedders on real features, and of single-attribute edits.

    ``edit_success``: fraction of edits whose edited group reads as the target;
    ``edit_preservation``: fraction of the other groups still read as before;
    ``cycle_cos`` / ``identity_cos``: mean cosine of ``G(G(f,s->t),t->s)`` and ``G(f,s->s)`` to ``f``.
    """
    net.eval()
    g = torch.Generator().manual_seed(seed)
    pred = torch.stack([lg.argmax(1) for lg in net.attr_logits(f)], 1)
    out = {"attribute_accuracy": {str(i): round(float((pred[:, i] == y[:, i]).float().mean()), 4)
                                  for i in range(y.shape[1])}}
    t = _single_edit_targets(y, manip, net.group_sizes, g)
    f2 = net.generate(f, y, t, strength)
    p2 = torch.stack([lg.argmax(1) for lg in net.attr_logits(f2)], 1)
    changed = t != y
    out["edit_success"] = round(float((p2 == t)[changed].float().mean()), 4)
    out["edit_preservation"] = round(float((p2 == y)[~changed].float().mean()), 4)
    out["cycle_cos"] = round(float(F.cosine_similarity(net.generate(f2, t, y, strength), f).mean()), 4)
    out["identity_cos"] = round(float(F.cosine_similarity(net.generate(f, y, y, strength), f).mean()), 4)
    out["edit_cos_to_source"] = round(float(F.cosine_similarity(f2, f).mean()), 4)
    return out


@torch.no_grad()
def calibrate_strength(net: FlamNet, f_q: Tensor, y_q: Tensor, f_gal: Tensor, y_gal: Tensor, manip: list[int],
                       grid, max_k: int = 30, seed: int = 0) -> dict:
    """Pick the edit strength ``a`` of ``f' = normalize(f + a R)`` by retrieval, as the product uses it.

    Each query feature gets one single-attribute edit (a random other value of a manipulable
    group); the source labels are FLAM's own prediction (as in :meth:`fir.Retriever.flam_search`)
    and the target is the query's TRUE attribute vector with that group changed. Each strength is
    scored by the mean top-k attribute retrieval accuracy over k = 1..max_k against the gallery
    (a hit: an item whose full attribute vector is the target), over the queries whose target
    vector the gallery holds. The best score wins; ties go to the smaller strength. A one-value
    grid is taken as is; when no query can hit, the strength is 1 (the training condition), or the
    smallest of the grid without 1, and ``note`` says why.
    Returns ``{"strength", "scores": {a: score}, "top1": {a: ..}, "top30": {a: ..}, "valid_queries"}``.
    """
    from fir.metrics import topk_attribute_accuracy_curve, valid_query_mask

    net.eval()
    g = torch.Generator().manual_seed(seed)
    t_true = _single_edit_targets(y_q, manip, net.group_sizes, g)
    pred = torch.stack([lg.argmax(1) for lg in net.attr_logits(f_q)], 1)
    t_in = torch.where(t_true != y_q, t_true, pred)
    valid = valid_query_mask(y_gal.numpy(), t_true.numpy())
    grid = sorted({float(x) for x in grid})
    if len(grid) == 1 or not valid.any():
        a = grid[0] if len(grid) == 1 else (1.0 if 1.0 in grid else grid[0])
        why = "one strength given" if len(grid) == 1 else "no query's target attribute vector is in the gallery"
        return {"strength": a, "note": f"not calibrated: {why}", "valid_queries": int(valid.sum()),
                "queries": int(len(f_q)), "gallery": int(len(f_gal))}
    r = net.residual(f_q, pred, t_in)
    k = min(max_k, len(f_gal))
    scores, top1, topk = {}, {}, {}
    for a in grid:
        e = F.normalize(f_q + a * r, dim=1)
        ids = (e @ f_gal.t()).topk(k, dim=1).indices
        curve = topk_attribute_accuracy_curve(y_gal[ids].numpy(), t_true.numpy(), valid)
        scores[a], top1[a], topk[a] = float(curve.mean()), float(curve[0]), float(curve[-1])
    best = max(scores, key=lambda a: (round(scores[a], 6), -a))
    return {"strength": best, "scores": {str(a): round(v, 4) for a, v in scores.items()},
            "top1": {str(a): round(v, 4) for a, v in top1.items()},
            f"top{k}": {str(a): round(v, 4) for a, v in topk.items()}, "valid_queries": int(valid.sum()),
            "queries": int(len(f_q)), "gallery": int(len(f_gal))}


def train_flam(cfg, out: str | Path, *, progress: bool = True) -> dict:
    """Train FLAM on the frozen FIR features of ``cfg.data``; write the run folder; return metrics."""
    from amgan.checkpoint import file_sha256, save_checkpoint
    from amgan.data.synth_dataset import ensure_data
    from amgan.io import atomic_write_text
    from fir.config import save_flam_config
    from fir.model import load_embedder
    from fir.train import evaluate_c2s

    T, M = cfg.train, cfg.model
    out = Path(out)
    ck_path = out / "flam.pt"
    if ck_path.exists():
        raise FileExistsError(f"{ck_path} exists: choose another train.out")
    if not Path(cfg.embedder).is_file():
        raise FileNotFoundError(f"embedder checkpoint not found: {cfg.embedder} (train one with `fir train`)")
    out.mkdir(parents=True, exist_ok=True)
    save_flam_config(cfg, out / "config.yaml")
    torch.manual_seed(T.seed)
    embedder, eck = load_embedder(cfg.embedder)
    embedder_id = file_sha256(cfg.embedder)
    size = int(eck.get("image_size") or eck["config"]["data"]["size"])
    root = ensure_data(cfg.data, progress=progress)
    views = tuple(cfg.data.views)
    f_tr, y_tr, _, v_tr = _features(embedder, embedder_id, root, size, "train", views, T.embed_batch_size,
                                 T.cache_dir, progress)
    f_te, y_te, te_pids, te_views = _features(embedder, embedder_id, root, size, cfg.eval.split, views,
                                              T.embed_batch_size, T.cache_dir, progress)
    schema = Schema.from_dict(json.loads((root / "schema.json").read_text()))
    sizes = [len(g) for g in schema.groups]
    manip = [schema.group_index(g.name) for g in schema.manipulable]
    if not manip:
        raise ValueError("the schema has no manipulable attribute group: nothing for FLAM to learn")
    log.info("FLAM on %d train features (dim %d), %d groups", len(f_tr), f_tr.shape[1], len(sizes))

    net = FlamNet(f_tr.shape[1], sizes, M.attr_dim, M.hidden, M.gen_layers, M.temperature)
    D = FeatureDiscriminator(f_tr.shape[1], sizes, M.hidden)
    opt_e = torch.optim.Adam([*net.embedders.parameters(), *net.dictionary.parameters()], lr=T.lr_embed)
    opt_g = torch.optim.Adam(net.generator.parameters(), lr=T.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=T.lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(T.seed)
    stats_path = out / "stats.jsonl"
    acc: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for step in tqdm(range(T.steps), desc="flam", disable=not progress):
        net.train()
        idx = torch.randint(len(f_tr), (min(T.batch_size, len(f_tr)),), generator=gen)
        f, y = f_tr[idx], y_tr[idx]
        # attribute embedders + dictionary (triplet)
        loss_e = sum(dictionary_triplet_loss(e, net.prototypes(g), y[:, g], T.triplet_margin)
                     for g, e in enumerate(net.attr_embeddings(f))) / len(sizes)
        opt_e.zero_grad(set_to_none=True)
        loss_e.backward()
        opt_e.step()
        t = _single_edit_targets(y, manip, sizes, gen)
        # discriminator
        fake = net.generate(f, y, t).detach()
        real = f.clone().requires_grad_(T.r1_gamma > 0)
        d_real = D(real, y)
        loss_d = d_logistic_loss(d_real, D(fake, t))
        r1 = r1_penalty(d_real, real) if T.r1_gamma > 0 else torch.zeros(())
        opt_d.zero_grad(set_to_none=True)
        (loss_d + T.r1_gamma / 2 * r1).backward()
        opt_d.step()
        # generator
        f2 = net.generate(f, y, t)
        adv = g_logistic_loss(D(f2, t))
        attr = attribute_matching_loss(net.attr_logits(f2, detach_dictionary=True), t)
        cyc = cosine_distance(net.generate(f2, t, y), f)
        idt = cosine_distance(net.generate(f, y, y), f)
        loss_g = T.lambda_adv * adv + T.lambda_attr * attr + T.lambda_cyc * cyc + T.lambda_idt * idt
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for k, v in (("loss/E/triplet", loss_e), ("loss/D/adv", loss_d), ("loss/D/r1", r1), ("loss/G/adv", adv),
                     ("loss/G/attr", attr), ("loss/G/cyc", cyc), ("loss/G/idt", idt)):
            acc.setdefault(k, []).append(float(v.detach()))
        if (step + 1) % T.log_every == 0 or step + 1 == T.steps:
            row = {"step": step + 1, **{k: round(float(np.mean(v)), 5) for k, v in acc.items()}}
            with open(stats_path, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            acc = {}
    train_seconds = round(time.perf_counter() - t0, 1)

    # edit strength: retrieval on the calibration split's features against its and train's catalogue
    f_ca, y_ca, _, v_ca = _features(embedder, embedder_id, root, size, M.calibrate_split, views, T.embed_batch_size,
                                    T.cache_dir, progress)
    def shop(f, y, vs):
        keep = [i for i, v in enumerate(vs) if v == cfg.data.shop_view]
        return f[keep], y[keep]

    gal = [shop(f_tr, y_tr, v_tr)] + ([shop(f_ca, y_ca, v_ca)] if M.calibrate_split != "train" else [])
    gal_f, gal_y = torch.cat([f for f, _ in gal]), torch.cat([y for _, y in gal])
    if len(gal_f) == 0:
        raise ValueError(f"strength calibration: no {cfg.data.shop_view!r} view features to search")
    cal = calibrate_strength(net, f_ca, y_ca, gal_f, gal_y, manip, M.strength_grid, seed=T.seed)
    cal["split"] = M.calibrate_split
    strength = cal["strength"]
    log.info("FLAM edit strength %.2f (%s)", strength,
             cal.get("note") or f"mean top-k accuracy on {M.calibrate_split} by strength: {cal['scores']}")

    ev = evaluate_flam(net, f_te, y_te, manip, seed=T.seed, strength=strength)
    ev["attribute_accuracy"] = {schema.names[int(k)]: v for k, v in ev["attribute_accuracy"].items()}
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
    metrics = {"split": cfg.eval.split, "test": ev, "plain_query_c2s": plain, "strength": strength,
               "strength_calibration": cal, "steps": T.steps,
               "train_seconds": train_seconds, "train_features": int(len(f_tr))}
    arch = {"feat_dim": net.feat_dim, "group_sizes": sizes, "attr_dim": M.attr_dim, "hidden": M.hidden,
            "gen_layers": M.gen_layers, "temperature": M.temperature}
    save_checkpoint(ck_path, CHECKPOINT_KIND, state_dict=net.state_dict(), discriminator=D.state_dict(), arch=arch,
                    schema=schema.to_dict(), embedder_id=embedder_id, config=cfg.to_dict(), metrics=metrics,
                    strength=strength, step=T.steps)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv=None) -> int:
    from fir.config import load_flam_config

    p = argparse.ArgumentParser(prog="fir train-flam", description="train FLAM on frozen FIR features")
    p.add_argument("--config", required=True)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_flam_config(args.config, args.set)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    print(json.dumps(train_flam(cfg, cfg.train.out, progress=not args.no_progress)))
    return 0
