"""FLAM losses: pure functions of tensors, each tested on hand-computed cases.

Paper names (Shin, Park and Kim, BMVC 2019): the dictionary triplet loss of the attribute
embedders, attribute matching (the embedders must read the target off the moved feature),
cycle and identity as cosine distances, and the non-saturating logistic GAN with R1.
Labels may be unknown (-1: real photos): every attribute loss masks them, and a group with
no known label in the batch adds nothing (never a NaN).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from amgan.nets import check_shape

__all__ = ["dictionary_triplet_loss", "attribute_matching_loss", "known_groups", "masked_group_mean",
           "cosine_distance", "d_logistic_loss", "g_logistic_loss", "r1_penalty"]


def dictionary_triplet_loss(emb: Tensor, dictionary: Tensor, labels: Tensor, margin: float) -> Tensor:
    """Triplet loss against a dictionary of prototypes, hardest negative per anchor.

    ``emb`` [B, d] and ``dictionary`` [n, d] are unit rows; ``labels`` [B] index the
    positive prototype, a negative label means *unknown* (a photo's colour the annotator
    could not name): that row is left out. With cosine distance ``d(a, b) = 1 - a.b``::

        L = mean_{i known} max(0, margin + d(e_i, W[y_i]) - min_{v != y_i} d(e_i, W[v]))

    No known row: 0 (with a graph), never NaN.
    """
    b = check_shape(emb, ["B", "d"], "triplet emb")
    check_shape(dictionary, ["n", b["d"]], "triplet dictionary")
    known = labels >= 0
    lab = labels.clamp(min=0)
    sim = emb @ dictionary.t()  # [B, n]
    pos = sim.gather(1, lab[:, None]).squeeze(1)
    neg = sim.masked_fill(F.one_hot(lab, sim.shape[1]).bool(), float("-inf")).amax(1)
    per_row = F.relu(margin + (1 - pos) - (1 - neg))
    if bool(known.all()):
        return per_row.mean()
    return (per_row * known).sum() / known.sum().clamp(min=1)


def known_groups(labels: Tensor) -> list[int]:
    """The groups (columns of ``labels`` [B, G]) with at least one known (>= 0) label."""
    return [g for g in range(labels.shape[1]) if bool((labels[:, g] >= 0).any())]


def masked_group_mean(losses: list[Tensor], labels: Tensor) -> Tensor:
    """Mean of the per-group ``losses`` over the groups with a known label in ``labels`` [B, G];
    0 (with a graph) when no group has one. A group without known labels adds nothing and is
    not counted in the mean (as :func:`amgan.train_reader.masked_ce`)."""
    keep = known_groups(labels)
    if not keep:
        return sum(lo for lo in losses) * 0
    return torch.stack([losses[g] for g in keep]).mean()


def attribute_matching_loss(logits: list[Tensor], labels: Tensor) -> Tensor:
    """Mean over groups of the cross-entropy of ``logits[g]`` [B, n_g] against ``labels[:, g]``.

    Unknown labels (< 0) are masked: each group's CE is the mean over its known rows, and a
    group with no known row is left out of the mean over groups; no known label at all: 0.
    """
    ces = []
    for g, lg in enumerate(logits):
        lab = labels[:, g]
        known = lab >= 0
        if bool(known.all()):
            ces.append(F.cross_entropy(lg, lab))
        else:
            ce = F.cross_entropy(lg, lab.clamp(min=0), reduction="none")
            ces.append((ce * known).sum() / known.sum().clamp(min=1))
    return masked_group_mean(ces, labels)


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
