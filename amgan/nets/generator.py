"""AMGAN generator: StarGAN encoder-decoder with an attention head.

Code -> paper: x = input image, ``target_onehot`` = c (target attribute values, one-hot),
``group_onehot`` = m (StarGAN's mask vector naming the manipulated attribute group),
z = the generated RGB image, a = the attention mask, y = a*z + (1-a)*x the edited image.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from amgan.nets import check_shape


def blend(x: Tensor, z: Tensor, a: Tensor) -> Tensor:
    """y = a*z + (1-a)*x: the attention-masked edit (a broadcasts over channels)."""
    return a * z + (1 - a) * x


UPSAMPLE = ("deconv", "resize")


class ResidualBlock(nn.Module):
    """conv3x3-IN-ReLU-conv3x3-IN with an identity skip (StarGAN)."""

    def __init__(self, dim: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(dim, affine=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(dim, affine=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """G(x, c, m) -> (y, z, a).

    Input: the image concatenated with cond = cat(c, m) tiled over space. Layers: 7x7 conv,
    ``n_down`` stride-2 4x4 convs (width doubling), ``n_res`` residual blocks (InstanceNorm,
    affine), ``n_down`` 4x4 transposed convs, then two 7x7 heads: z = (tanh+1)/2 (RGB in
    [0,1]) and a = sigmoid (1 channel). H and W must be divisible by 2**n_down.

    ``upsample``: ``"deconv"`` (StarGAN's 4x4 stride-2 transposed convs) or ``"resize"``
    (bilinear x2 then a 3x3 conv: no checkerboard, Odena et al., Distill 2016).

    Args:
        cond_dim: length of c (sum of all groups' sizes: one-hot of every group's target).
        n_groups: length of m (number of attribute groups).
    """

    def __init__(self, cond_dim: int, n_groups: int, width: int = 64, n_res: int = 6, n_down: int = 2,
                 upsample: str = "deconv"):
        super().__init__()
        if upsample not in UPSAMPLE:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLE)}, got {upsample!r}")
        self.upsample = upsample
        self.cond_dim = int(cond_dim)
        self.n_groups = int(n_groups)
        self.n_down = int(n_down)
        cin = 3 + self.cond_dim + self.n_groups
        layers: list[nn.Module] = [
            nn.Conv2d(cin, width, 7, 1, 3, bias=False),
            nn.InstanceNorm2d(width, affine=True),
            nn.ReLU(inplace=True),
        ]
        dim = width
        for _ in range(n_down):
            layers += [
                nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(dim * 2, affine=True),
                nn.ReLU(inplace=True),
            ]
            dim *= 2
        layers += [ResidualBlock(dim) for _ in range(n_res)]
        for _ in range(n_down):
            up: list[nn.Module] = (
                [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False)] if upsample == "deconv"
                else [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                      nn.Conv2d(dim, dim // 2, 3, 1, 1, bias=False)])
            layers += [
                *up,
                nn.InstanceNorm2d(dim // 2, affine=True),
                nn.ReLU(inplace=True),
            ]
            dim //= 2
        self.body = nn.Sequential(*layers)
        self.to_rgb = nn.Conv2d(dim, 3, 7, 1, 3)
        self.to_attention = nn.Conv2d(dim, 1, 7, 1, 3)
        # Start with a ~ 0.1 everywhere: y starts close to x, so early (random) G outputs do
        # not wreck the image, cycle and adversarial losses start from a sane point, and the
        # mask has to *grow* where the edit is needed (guided by L_a towards the CAM) rather
        # than start saturated at 0.5 over the background.
        nn.init.constant_(self.to_attention.bias, math.log(0.1 / 0.9))

    def forward(self, x: Tensor, target_onehot: Tensor, group_onehot: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x [B,3,H,W] in [0,1], c [B,cond_dim], m [B,n_groups] -> (y, z, a).

        y [B,3,H,W] the edit, z [B,3,H,W] the raw RGB output, a [B,1,H,W] the attention.
        """
        cond = self.condition(x, target_onehot, group_onehot)
        return self.heads(x, self.body[1:](self._stem(x, cond)))

    def condition(self, x: Tensor, target_onehot: Tensor, group_onehot: Tensor) -> Tensor:
        """Check the inputs' shapes; -> cond = cat(c, m) [B, cond_dim + n_groups] in x's dtype."""
        b = check_shape(x, ["B", 3, "H", "W"], "Generator input x")
        if b["H"] % 2**self.n_down or b["W"] % 2**self.n_down:
            raise ValueError(f"Generator needs H, W divisible by {2**self.n_down}, got {list(x.shape)}")
        check_shape(target_onehot, [b["B"], self.cond_dim], "Generator target_onehot (c)")
        check_shape(group_onehot, [b["B"], self.n_groups], "Generator group_onehot (m)")
        return torch.cat([target_onehot, group_onehot], dim=1).to(x.dtype)

    def heads(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The body's last map h -> (y, z, a) for the input x."""
        # the two 7x7 heads in one conv (4 output channels: one pass over the 128-px map, not two)
        w = torch.cat([self.to_rgb.weight, self.to_attention.weight])
        bias = torch.cat([self.to_rgb.bias, self.to_attention.bias])
        out = F.conv2d(h, w.to(h.dtype), bias.to(h.dtype), padding=self.to_rgb.padding)
        z = (torch.tanh(out[:, :3]) + 1) / 2
        a = torch.sigmoid(out[:, 3:])
        return blend(x, z, a), z, a

    def _stem(self, x: Tensor, cond: Tensor) -> Tensor:
        """The first 7x7 conv of cat(x, cond tiled over space), computed without tiling.

        The condition is constant over space, so its part of the conv is, at every pixel, the sum of
        the kernel taps that fall inside the image: a conv of a map of ones with the one kernel
        ``sum_k cond_k * w_k`` per item. The same numbers (to float rounding) as the tiled conv, at
        a seventh of its cost (the condition is 27 of the 30 input channels); weights and gradients
        are the same parameters."""
        conv = self.body[0]
        w = conv.weight.to(x.dtype)  # [O, 3 + K, kh, kw]
        h = F.conv2d(x, w[:, :3], padding=conv.padding)
        k = torch.einsum("okij,bk->boij", w[:, 3:], cond)  # [B, O, kh, kw]: one kernel per item
        B, O, kh, kw = k.shape
        ones = x.new_ones(1, 1, x.shape[2], x.shape[3])
        c = F.conv2d(ones, k.reshape(B * O, 1, kh, kw), padding=conv.padding)
        return h + c.reshape(B, O, x.shape[2], x.shape[3])
