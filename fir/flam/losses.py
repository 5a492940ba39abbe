"""FLAM losses: pure functions of tensors, each tested on hand-computed cases.

Paper names (Shin, Park and Kim, BMVC 2019): the dictionary triplet loss of the attribute
embedders, attribute matching (the embedders must read the target off the moved feature),
cycle and identity as cosine distances, and the non-saturating logistic GAN with R1.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from amgan.nets import check_shape

__all__ = ["dictionary_triplet_loss", "attribute_matching_loss", "cosine_distance", "d_logistic_loss",
           "g_logistic_loss", "r1_penalty"]


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
