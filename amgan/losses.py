"""AMGAN losses as pure functions (Ak et al., ICCV 2019; StarGAN / WGAN-GP).

Paper names: L_adv (WGAN-GP: ``wgan_d_loss``, ``wgan_g_loss``, ``gradient_penalty``),
L_cls (``classification_loss``), L_cyc (``cycle_loss``), L_a (``attention_loss``, a vs.
the CAM target a*), L_p (``perceptual_loss`` on the frozen classifier's features).
The training step weights and sums them (lambda_gp 10, lambda_cyc 10, lambda_a 10,
lambda_p 20 in the paper).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def wgan_d_loss(real_adv: Tensor, fake_adv: Tensor) -> Tensor:
    """Critic part of L_adv: -mean(D(x)) + mean(D(y))."""
    return -real_adv.mean() + fake_adv.mean()


def wgan_g_loss(fake_adv: Tensor) -> Tensor:
    """Generator part of L_adv: -mean(D(y))."""
    return -fake_adv.mean()


def gradient_penalty(
    D_fn: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP: mean over the batch of (||grad_x_hat D(x_hat)||_2 - 1)^2.

    x_hat = alpha*real + (1-alpha)*fake with alpha ~ U(0,1) per sample (drawn with
    ``generator`` if given). ``D_fn`` returns the adv map (or a tuple whose first item is
    it, like ``PatchDiscriminator``); its outputs are summed per sample (StarGAN's
    grad_outputs=ones). The graph is kept (create_graph) so the penalty trains D.
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {list(real.shape)} vs fake {list(fake.shape)}")
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    device = generator.device if generator is not None else real.device
    alpha = torch.rand(shape, generator=generator, device=device).to(real)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = D_fn(x_hat)
    if isinstance(out, (tuple, list)):
        out = out[0]
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)
    return ((norm - 1) ** 2).mean()


def classification_loss(
    logits: Sequence[Tensor], labels: Tensor, groups: Sequence[int] | None = None
) -> Tensor:
    """L_cls: sum over ``groups`` (default: all) of the mean cross-entropy of that group.

    logits: one [B, n_g] tensor per group; labels: LongTensor [B, G] of value indices, where
    a negative entry means *unknown* (a real photo's pattern, say): it is masked, and a
    group with no known label in the batch adds nothing (never a NaN).
    """
    if labels.dim() != 2 or labels.shape[1] != len(logits):
        raise ValueError(
            f"classification_loss: labels must be [B, {len(logits)}], got {list(labels.shape)}"
        )
    groups = range(len(logits)) if groups is None else groups
    total = logits[0].new_zeros(())
    for g in groups:
        lab = labels[:, g].long()
        known = lab >= 0
        if bool(known.all()):
            total = total + F.cross_entropy(logits[g], lab)
        else:  # mean over the known rows only; 0 (with a graph) when there are none
            ce = F.cross_entropy(logits[g], lab.clamp(min=0), reduction="none")
            total = total + (ce * known).sum() / known.sum().clamp(min=1)
    return total


def cycle_loss(x: Tensor, x_rec: Tensor) -> Tensor:
    """L_cyc: mean |x - G(G(x, c, m), c_orig, m)|."""
    if x.shape != x_rec.shape:
        raise ValueError(f"cycle_loss: x {list(x.shape)} vs x_rec {list(x_rec.shape)}")
    return (x - x_rec).abs().mean()


def attention_loss(a: Tensor, a_star: Tensor) -> Tensor:
    """L_a: mean |a - a*| (a* = normalised CAM, a target: pass it detached)."""
    if a.shape != a_star.shape:
        raise ValueError(f"attention_loss: a {list(a.shape)} vs a* {list(a_star.shape)}")
    return (a - a_star).abs().mean()


def perceptual_loss(feats_a: Sequence[Tensor], feats_b: Sequence[Tensor]) -> Tensor:
    """L_p: mean over layers of mean |phi_l(y) - phi_l(reference)|."""
    if len(feats_a) != len(feats_b) or not feats_a:
        raise ValueError(f"perceptual_loss: {len(feats_a)} vs {len(feats_b)} feature maps")
    return torch.stack([(fa - fb).abs().mean() for fa, fb in zip(feats_a, feats_b)]).mean()
