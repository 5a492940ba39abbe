"""A FIR embedder that reads photos: the frozen photo reader's maps, pooled, and a trained MLP.

:class:`ReaderEmbeddingNet` (``arch: reader`` in a ``fir-embedder`` model folder): an image goes
through the photo reader (``checkpoints/reader128``: the ImageNet EfficientNet-Lite0 trunk at
stride 8 and the reader's adapter, both frozen), the adapter's map and the trunk's map are each
pooled by mean and max, and a small MLP projects the pooled vector to a unit embedding. The
reader already reads photos (category, sleeve) because it was trained on renders and photos
together; the MLP learns a retrieval space on top of it (:mod:`fir.train_photo`).

Why this shape: on two CPU cores a full-trunk fine-tune costs seconds per step, while the
reader's trunk maps are cached once (they depend only on the image), so training runs on
pooled vectors in milliseconds per step.

Same contract as :class:`fir.model.EmbeddingNet`: ``forward(x)`` takes float [B,3,H,W] in
[0,1] (resized to ``input_size`` inside) and returns unit rows [B, dim]; ``trunk_embedding`` is
the untrained baseline (the pooled vector, L2-normalised); ``dim`` and ``out_channels``.

Loss (pure function, tested on a hand case): :func:`attribute_supcon_loss`, a supervised
contrastive loss whose positives share every attribute value of ``groups`` and whose unknown
labels are masked (a pair that cannot be told apart is neither positive nor negative).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from amgan.nets import check_shape
from amgan.nets.classifier import AttributeClassifier

__all__ = ["ReaderEmbeddingNet", "attribute_supcon_loss", "SOURCES"]

SOURCES = ("adapter", "trunk")


class ReaderEmbeddingNet(nn.Module):
    """Frozen photo reader (trunk + adapter) -> mean/max pooling -> MLP -> unit vector.

    Args:
        group_sizes: the reader's heads (kept so the reader's weights load unchanged).
        adapter_width: the reader's adapter width.
        dim: embedding size.
        hidden: MLP width.
        sources: which maps are pooled: ``adapter`` (the reader's CAM map), ``trunk`` (its input).
        input_size: side the images are resized to (the reader's input size).
    """

    def __init__(self, group_sizes, adapter_width: int = 192, dim: int = 128, hidden: int = 512,
                 sources=SOURCES, input_size: int = 128):
        super().__init__()
        sources = tuple(sources)
        if not sources or any(s not in SOURCES for s in sources):
            raise ValueError(f"sources must be a non-empty subset of {SOURCES}, got {sources}")
        if input_size < 32 or input_size % 8:
            raise ValueError(f"input_size must be a multiple of 8 (>= 32), got {input_size}")
        self.reader = AttributeClassifier(group_sizes, backbone="efficientnet_lite0", pretrained=False,
                                          head="adapter", adapter_width=adapter_width)
        self.reader.requires_grad_(False).eval()
        self.sources, self.dim, self.input_size = sources, int(dim), int(input_size)
        widths = {"adapter": int(adapter_width), "trunk": self.reader.trunk.out_channels}
        self.out_channels = sum(2 * widths[s] for s in sources)  # the pooled vector's size
        self.head = nn.Sequential(nn.LayerNorm(self.out_channels), nn.Linear(self.out_channels, hidden),
                                  nn.LayerNorm(hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, dim))

    def train(self, mode: bool = True):
        super().train(mode)
        self.reader.eval()  # frozen: its batch norm and dropout never train
        return self

    def trunk_map(self, x: Tensor) -> Tensor:
        """x [B,3,H,W] in [0,1] -> the reader trunk's last map [B, 112, s/8, s/8]."""
        check_shape(x, ["B", 3, "H", "W"], "ReaderEmbeddingNet input x")
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.input_size)
        return self.reader.trunk(x)[-1]

    def pooled_from_map(self, tmap: Tensor) -> Tensor:
        """Trunk map [B, C, h, w] -> the pooled vector [B, out_channels] the head reads."""
        parts = []
        for s in self.sources:
            m = self.reader.cam_map(tmap) if s == "adapter" else tmap
            parts += [m.mean(dim=(2, 3)), m.amax(dim=(2, 3))]
        return torch.cat(parts, 1)

    def embed_pooled(self, pooled: Tensor) -> Tensor:
        check_shape(pooled, ["B", self.out_channels], "ReaderEmbeddingNet pooled")
        return F.normalize(self.head(pooled), dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """x [B,3,H,W] in [0,1] -> L2-normalised embeddings [B, dim]."""
        return self.embed_pooled(self.pooled_from_map(self.trunk_map(x)))

    def trunk_embedding(self, x: Tensor) -> Tensor:
        """Baseline without training: the pooled vector, L2-normalised -> [B, out_channels]."""
        return F.normalize(self.pooled_from_map(self.trunk_map(x)), dim=1)


def attribute_supcon_loss(emb: Tensor, labels: Tensor, groups, temperature: float) -> tuple[Tensor, int]:
    """Supervised contrastive loss (Khosla et al., 2020) on attribute values with unknowns masked.

    ``emb`` [B, D] unit rows, ``labels`` [B, G] (-1 unknown), ``groups`` the columns that define
    "the same garment kind". For a pair (i, j), i != j: *positive* when both know every value of
    ``groups`` and the values are equal; *negative* when some group is known to both and differs;
    otherwise (equal where both know, but some value unknown) the pair is left out of both. With
    ``s_ij = e_i.e_j / temperature`` over the kept pairs::

        L = mean_{i with a positive} -mean_{p in P(i)} log( exp(s_ip) / sum_{j kept} exp(s_ij) )

    Returns (loss, number of anchors with a positive); no such anchor: (0 with a graph, 0).
    """
    b = check_shape(emb, ["B", "D"], "supcon emb")
    check_shape(labels, [b["B"], "G"], "supcon labels")
    y = labels[:, list(groups)]
    known = y >= 0
    both = known[:, None, :] & known[None, :, :]
    eq = y[:, None, :] == y[None, :, :]
    eye = torch.eye(len(y), dtype=torch.bool, device=y.device)
    pos = (both & eq).all(-1) & ~eye
    neg = (both & ~eq).any(-1)
    kept = pos | neg
    anchors = pos.any(1)
    if not bool(anchors.any()):
        return emb.sum() * 0, 0
    # anchor rows only: a row with no kept pair would give logsumexp(-inf) and NaN gradients
    s = emb[anchors] @ emb.t() / temperature
    pos, kept = pos[anchors], kept[anchors]
    log_prob = s - torch.logsumexp(s.masked_fill(~kept, float("-inf")), dim=1, keepdim=True)
    per_anchor = -(log_prob * pos).sum(1) / pos.sum(1)
    return per_anchor.mean(), int(anchors.sum())
