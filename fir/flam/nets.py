"""FLAM networks: :class:`FlamNet` (attribute embedders + dictionary + feature generator,
everything inference needs) and :class:`FeatureDiscriminator` (training only)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from amgan.nets import check_shape

__all__ = ["FlamNet", "FeatureDiscriminator"]


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
        if bool((source < 0).any()) or bool((target < 0).any()):
            raise ValueError("FLAM condition: labels must be known (>= 0); fill unknown source labels with "
                             "FLAM's own reading first (fill_unknown)")
        return torch.cat([P[target[:, g]] - P[source[:, g]] for g, P in enumerate(protos)], 1)

    @torch.no_grad()
    def fill_unknown(self, f: Tensor, labels: Tensor) -> Tensor:
        """``labels`` [B, G] with each unknown (< 0) entry replaced by the embedders' reading of ``f``."""
        unknown = labels < 0
        if not bool(unknown.any()):
            return labels
        pred = torch.stack([lg.argmax(1) for lg in self.attr_logits(f)], 1)
        return torch.where(unknown, pred, labels)

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
    """``D(f, y) = w.h(f) + sum_{g: y_g known} <V_g[y_g], h(f)>``: a projection discriminator on features."""

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
        """``labels`` [B, G]; an unknown label (< 0) adds no projection term for its group."""
        h = self.body(f)
        if bool((labels >= 0).all()):
            proj = sum((e(labels[:, g]) * h).sum(1) for g, e in enumerate(self.embed))
        else:
            proj = sum((e(labels[:, g].clamp(min=0)) * h).sum(1) * (labels[:, g] >= 0)
                       for g, e in enumerate(self.embed))
        return self.out(h).squeeze(1) + proj
