"""AMGAN losses on hand-computed cases."""
import math

import pytest
import torch

from amgan.losses import (
    attention_loss,
    classification_loss,
    cycle_loss,
    gradient_penalty,
    perceptual_loss,
    wgan_d_loss,
    wgan_g_loss,
)


def test_wgan_losses_hand_computed():
    real = torch.tensor([[1.0, 3.0]]).view(1, 1, 1, 2)  # mean 2
    fake = torch.tensor([[2.0, 4.0]]).view(1, 1, 1, 2)  # mean 3
    assert wgan_d_loss(real, fake).item() == pytest.approx(-2 + 3)
    assert wgan_g_loss(fake).item() == pytest.approx(-3)


def test_classification_loss_hand_computed():
    # group 0: logits [0, 0] -> CE = ln 2 for either label
    # group 1: logits [ln 1, ln 3], label 1 -> p = 3/4, CE = -ln(3/4)
    logits = [torch.zeros(1, 2), torch.tensor([[0.0, math.log(3.0)]])]
    labels = torch.tensor([[0, 1]])
    assert classification_loss(logits, labels).item() == pytest.approx(math.log(2) - math.log(0.75))
    assert classification_loss(logits, labels, groups=[1]).item() == pytest.approx(-math.log(0.75))
    assert classification_loss(logits, labels, groups=[]).item() == 0.0
    # mean over the batch: second sample, group 1 label 0 -> p = 1/4
    logits2 = [torch.zeros(2, 2), torch.tensor([[0.0, math.log(3.0)]] * 2)]
    labels2 = torch.tensor([[0, 1], [1, 0]])
    expected = math.log(2) + (-math.log(0.75) - math.log(0.25)) / 2
    assert classification_loss(logits2, labels2).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="labels must be"):
        classification_loss(logits, torch.tensor([0, 1]))


def test_l1_losses_hand_computed():
    x = torch.zeros(1, 1, 1, 2)
    x_rec = torch.tensor([1.0, -3.0]).view(1, 1, 1, 2)
    assert cycle_loss(x, x_rec).item() == pytest.approx(2.0)
    assert attention_loss(x, x_rec).item() == pytest.approx(2.0)
    with pytest.raises(ValueError):
        attention_loss(x, torch.zeros(1, 1, 2, 1))
    feats_a = [torch.ones(1, 2, 2, 2), torch.tensor([0.0, 2.0, -4.0, 2.0]).view(1, 1, 2, 2)]
    feats_b = [torch.zeros(1, 2, 2, 2), torch.zeros(1, 1, 2, 2)]
    assert perceptual_loss(feats_a, feats_b).item() == pytest.approx((1.0 + 2.0) / 2)


def test_gradient_penalty_linear_critic():
    # D(x) = <w, x> per sample: grad wrt x is w everywhere, so the penalty is (||w|| - 1)^2
    # for every alpha. ||w|| = 3 -> 4.
    w = torch.zeros(1, 2, 2, 2)
    w[0, 0, 0, 0], w[0, 1, 1, 1] = 2.0, math.sqrt(5.0)
    w.requires_grad_(True)
    real, fake = torch.rand(4, 2, 2, 2), torch.rand(4, 2, 2, 2)
    gp = gradient_penalty(lambda x: (x * w).sum(dim=(1, 2, 3)), real, fake)
    assert gp.item() == pytest.approx(4.0)
    # create_graph: the penalty trains the critic; d/dw (||w||-1)^2 = 2(||w||-1) w/||w||
    gp.backward()
    assert torch.allclose(w.grad, 2 * (3.0 - 1.0) * w.detach() / 3.0)


def test_gradient_penalty_map_output_and_seeded_alpha():
    # D(x) = 0.5*||x||^2 as a [B,1,1,1] map (and inside a tuple): grad = x_hat.
    d = lambda x: ((0.5 * x**2).sum(dim=(1, 2, 3)).view(-1, 1, 1, 1), [])  # noqa: E731
    real = torch.full((2, 1, 1, 2), 1.0)
    fake = torch.full((2, 1, 1, 2), 1.0)
    # x_hat = (1, 1) whatever alpha -> norm sqrt(2)
    assert gradient_penalty(d, real, fake).item() == pytest.approx((math.sqrt(2) - 1) ** 2)
    real, fake = torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2)
    g1 = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(0))
    g2 = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(0))
    assert g1.item() == g2.item()
    alpha = torch.rand(3, 1, 1, 1, generator=torch.Generator().manual_seed(0))
    x_hat = alpha * real + (1 - alpha) * fake
    assert g1.item() == pytest.approx(((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean().item())


def test_classification_loss_masks_unknown_labels():
    logits = [torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0, 0.0]] * 3)]
    labels = torch.tensor([[0, -1], [-1, -1], [1, -1]])
    got = classification_loss(logits, labels)
    # group 0: mean CE over rows 0 and 2 only; group 1: no known label -> adds 0 (not NaN)
    want = (math.log(2) + (math.log(1 + math.e) - 1.0)) / 2
    assert got.item() == pytest.approx(want)
    assert torch.isfinite(got)
    lg = logits[0].clone().requires_grad_(True)
    classification_loss([lg, logits[1]], labels).backward()
    assert lg.grad[1].abs().sum() == 0 and lg.grad[0].abs().sum() > 0  # the unknown row gets no gradient
