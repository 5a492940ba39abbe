"""AMGAN discriminators: StarGAN PatchGAN with adversarial and attribute heads.

Code -> paper: ``PatchDiscriminator`` on the whole image is D_I; on the attribute region
(crop of the attention box, half resolution, two fewer conv layers) it is D_C. The ``adv``
map is the critic score of the WGAN-GP loss L_adv; the logits feed L_cls.
"""
from __future__ import annotations

import math
from typing import Sequence

from torch import Tensor, nn

from amgan.nets import check_shape


class PatchDiscriminator(nn.Module):
    """D(x) -> (adv [B,1,h,w], [logits of group g, [B, group_sizes[g]]]).

    ``n_layers`` conv4x4 stride-2 + LeakyReLU(0.01) (width doubling, capped at ``max_width``, default 16*width),
    then a 3x3 conv to one channel (the PatchGAN real/fake map) and a conv over the whole
    remaining map giving the logits of every group. ``n_layers`` is reduced to
    floor(log2(image_size)) when larger so that the final map is at least 1x1 (the
    effective value is ``self.n_layers``); image_size must be divisible by 2**n_layers.
    Example: 64 px with 5 layers -> 2x2 final map.
    """

    def __init__(self, image_size: int, group_sizes: Sequence[int], width: int = 64, n_layers: int = 6,
                 max_width: int | None = None):
        super().__init__()
        cap = 16 * width if max_width is None else int(max_width)
        self.image_size = int(image_size)
        self.group_sizes = [int(n) for n in group_sizes]
        n_layers = min(int(n_layers), int(math.log2(self.image_size)))
        if n_layers < 1 or self.image_size % 2**n_layers:
            raise ValueError(f"image_size {image_size} must be divisible by 2**n_layers (n_layers={n_layers})")
        self.n_layers = n_layers
        layers: list[nn.Module] = []
        cin, cout = 3, width
        for _ in range(n_layers):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.01)]
            cin, cout = cout, min(cout * 2, cap)
        self.body = nn.Sequential(*layers)
        self.final_size = self.image_size // 2**n_layers
        self.adv = nn.Conv2d(cin, 1, 3, 1, 1, bias=False)
        self.cls = nn.Conv2d(cin, sum(self.group_sizes), self.final_size, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """x [B,3,S,S] in [0,1] (S = image_size; mapped to [-1,1] inside) -> (adv map,
        logits per group)."""
        check_shape(x, ["B", 3, self.image_size, self.image_size], "PatchDiscriminator input x")
        h = self.body(x * 2 - 1)
        logits = self.cls(h).flatten(1)
        return self.adv(h), list(logits.split(self.group_sizes, dim=1))


def region_discriminator(
    image_size: int, group_sizes: Sequence[int], width: int = 64, n_layers: int = 6, max_width: int | None = None
) -> PatchDiscriminator:
    """D_C for a D_I of these arguments: half resolution, two fewer conv layers."""
    return PatchDiscriminator(image_size // 2, group_sizes, width, max(1, n_layers - 2), max_width=max_width)
