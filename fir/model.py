"""FIR embedding network: ImageNet EfficientNet-Lite0 trunk -> pooling -> Linear -> unit vector.

Images (float [B,3,H,W] in [0,1]) are bilinearly resized to ``input_size`` inside the net
(64 px SynthFashion at stride 32 would leave a 2x2 map; 128 px gives 4x4), ImageNet
normalised, passed through the full pretrained trunk (stem, 16 MBConv blocks and the
1280-channel head conv: the package's ``extract_features``), pooled (GeM with a learned
exponent, or average) and projected to ``dim``; the output is L2-normalised, so the inner
product is the cosine similarity that ``fir.index.GalleryIndex`` searches.

The "untrained ImageNet-only" baseline is :meth:`EmbeddingNet.trunk_embedding` on a net
whose trunk has not been trained: average-pooled 1280-d trunk features, L2-normalised, no
projection (``embed_images(..., trunk_only=True)``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from amgan.nets import check_shape
from amgan.nets.classifier import IMAGENET_MEAN, IMAGENET_STD, load_efficientnet_lite0

__all__ = ["EmbeddingNet", "GeM", "embed_images", "build_embedder", "load_embedder", "export_embedder", "CHECKPOINT_KIND"]

CHECKPOINT_KIND = "fir-embedder"


class GeM(nn.Module):
    """Generalised-mean pooling (Radenovic et al., TPAMI 2018): (mean x^p)^(1/p), p learned.

    p = 1 is average pooling, p -> inf max pooling. Inputs are clamped at ``eps`` (the
    trunk's ReLU6 output is already non-negative).
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6):
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(p)))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        p = self.p.clamp(min=1.0)
        return x.clamp(min=self.eps).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


class EmbeddingNet(nn.Module):
    """Instance-retrieval embedder (FIR): x [B,3,H,W] in [0,1] -> unit vectors [B, dim].

    Args:
        dim: embedding size.
        pretrained: load the ImageNet EfficientNet-Lite0 weights into the trunk.
        input_size: side the images are resized to before the trunk (multiple of 32).
        pooling: ``"gem"`` or ``"avg"``.
        gem_p: initial GeM exponent.
    """

    def __init__(self, dim: int = 128, pretrained: bool = True, input_size: int = 128,
                 pooling: str = "gem", gem_p: float = 3.0):
        super().__init__()
        if input_size < 32 or input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32 (>= 32), got {input_size}")
        if pooling not in ("gem", "avg"):
            raise ValueError(f"pooling must be 'gem' or 'avg', got {pooling!r}")
        net = load_efficientnet_lite0(pretrained)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(list(net._blocks))
        self.head = nn.Sequential(net._conv_head, net._bn1, net._swish)
        self.out_channels = net._bn1.num_features  # 1280
        self.pool = GeM(gem_p) if pooling == "gem" else None
        self.proj = nn.Linear(self.out_channels, dim)
        self.dim, self.input_size, self.pooling = int(dim), int(input_size), pooling
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def trunk_parameters(self):
        for m in (self.stem, self.blocks, self.head):
            yield from m.parameters()

    def head_parameters(self):
        yield from self.proj.parameters()
        if self.pool is not None:
            yield from self.pool.parameters()

    def feature_map(self, x: Tensor) -> Tensor:
        """x [B,3,H,W] in [0,1] -> trunk features [B, 1280, input_size/32, input_size/32]."""
        check_shape(x, ["B", 3, "H", "W"], "EmbeddingNet input x")
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False, antialias=x.shape[-1] > self.input_size)
        x = self.stem((x - self.mean) / self.std)
        for block in self.blocks:
            x = block(x)  # drop_connect_rate is 0 for lite0
        return self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        """x [B,3,H,W] in [0,1] -> L2-normalised embeddings [B, dim]."""
        f = self.feature_map(x)
        pooled = self.pool(f) if self.pool is not None else f.mean(dim=(2, 3))
        return F.normalize(self.proj(pooled), dim=1)

    def trunk_embedding(self, x: Tensor) -> Tensor:
        """Baseline: average-pooled trunk features, L2-normalised, no projection -> [B, 1280]."""
        return F.normalize(self.feature_map(x).mean(dim=(2, 3)), dim=1)


def build_embedder(model_cfg, pretrained: bool | None = None) -> EmbeddingNet:
    """An :class:`EmbeddingNet` from a ``FirModelConfig`` (or a dict of its fields); a model dict
    with ``arch: reader`` gives a :class:`fir.reader_embedder.ReaderEmbeddingNet` (same contract,
    weights from the model folder)."""
    get = model_cfg.get if isinstance(model_cfg, dict) else lambda k, d=None: getattr(model_cfg, k, d)
    if get("arch", "efficientnet") == "reader":
        from fir.reader_embedder import SOURCES, ReaderEmbeddingNet

        return ReaderEmbeddingNet(list(get("group_sizes")), adapter_width=int(get("adapter_width", 192)),
                                  dim=int(get("dim", 128)), hidden=int(get("hidden", 512)),
                                  sources=tuple(get("sources", SOURCES)), input_size=int(get("input_size", 128)))
    return EmbeddingNet(dim=int(get("dim", 128)), input_size=int(get("input_size", 128)),
                        pooling=get("pooling", "gem"), gem_p=float(get("gem_p", 3.0)),
                        pretrained=bool(get("pretrained", True)) if pretrained is None else pretrained)


def load_embedder(path: str | Path, map_location="cpu"):
    """(net in eval mode, :class:`amgan.pretrained.Pretrained`) from an embedder model folder
    or a legacy ``fir-embedder`` checkpoint (strict load)."""
    from amgan.pretrained import _load_state, load_pretrained

    p = load_pretrained(path, kind=CHECKPOINT_KIND, map_location=map_location)
    try:
        net = build_embedder(p.model, pretrained=False)
    except (TypeError, ValueError) as e:
        from amgan.checkpoint import CheckpointError

        raise CheckpointError(f"{path}: bad embedder arguments ({e})") from None
    _load_state(net, p.weights["embedder"], p)
    return net.float().eval(), p


@torch.no_grad()
def embed_images(net: EmbeddingNet, images_uint8, batch_size: int = 128, *, trunk_only: bool = False,
                 device=None, progress: bool = True, desc: str = "embedding") -> np.ndarray:
    """Embed uint8 images [N,3,H,W] (tensor or array) -> float32 [N, dim] unit rows.

    ``trunk_only``: the ImageNet-trunk baseline (:meth:`EmbeddingNet.trunk_embedding`).
    The net is put in eval mode for the call and restored afterwards.
    """
    imgs = torch.as_tensor(images_uint8)
    check_shape(imgs, ["N", 3, "H", "W"], "embed_images images")
    if imgs.dtype != torch.uint8:
        raise ValueError(f"embed_images needs uint8 images, got {imgs.dtype}")
    device = next(net.parameters()).device if device is None else torch.device(device)
    fn = net.trunk_embedding if trunk_only else net
    was_training = net.training
    net.eval()
    out = []
    try:
        for s in tqdm(range(0, len(imgs), batch_size), desc=desc, unit="batch", disable=not progress):
            x = imgs[s:s + batch_size].to(device).float().div_(255.0)
            out.append(fn(x).float().cpu())
    finally:
        net.train(was_training)
    width = net.out_channels if trunk_only else net.dim
    return torch.cat(out).numpy().astype(np.float32) if out else np.zeros((0, width), np.float32)


def export_embedder(src: str | Path, dst: str | Path, check_images=None, max_diff: float = 1e-2,
                    card: dict | None = None) -> dict:
    """Ship an embedder: a model folder with fp16 weights (:func:`amgan.pretrained.export_pretrained`).

    When ``check_images`` (uint8 [N,3,H,W]) are given, the fp16 copy (loaded back to fp32, as
    every loader does) must embed them within ``max_diff`` (max abs difference per coordinate
    of the unit vectors) of the original, else ValueError and nothing is written.
    """
    from amgan.pretrained import export_pretrained

    def check(orig, out) -> dict:
        if check_images is None:
            return {}
        nets = []
        for p in (orig, out):
            net = build_embedder(p.model, pretrained=False)
            net.load_state_dict(p.weights["embedder"], strict=True)
            nets.append(net.float().eval())
        ea, eb = (embed_images(n, check_images, progress=False) for n in nets)
        report = {"images": int(len(ea)), "max_abs_diff": float(np.abs(ea - eb).max()),
                  "min_cosine": float((ea * eb).sum(1).min())}
        if report["max_abs_diff"] > max_diff:
            raise ValueError(f"fp16 export is not close enough to fp32: {report}")
        return report

    return export_pretrained(src, dst, card=card, check=check)
