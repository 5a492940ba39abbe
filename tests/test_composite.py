"""The photo path's composite (amgan.composite, through Editor.edit): detail kept, background
bit-identical, edges followed, sizes kept, new sleeves not cut off, 12 megapixels in bounded memory."""
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from amgan.composite import guided_coefficients, guided_filter
from amgan.editor import Editor

SHIPPED = "checkpoints/amgan_photo64"


class _FakeG(torch.nn.Module):
    """A generator with a known edit: ``a`` from ``mask(x)`` (default: 1 everywhere), ``z = paint(x)``."""

    def __init__(self, paint, mask=None):
        super().__init__()
        self.paint, self.mask = paint, mask

    def forward(self, x, c, m):
        a = torch.ones_like(x[:, :1]) if self.mask is None else self.mask(x)
        z = self.paint(x).clamp(0, 1)
        return a * z + (1 - a) * x, z, a


# a colour shift that leaves BT.601 luma unchanged: only the colour moves
CHROMA_SHIFT = torch.tensor([0.2, -0.1, -(0.299 * 0.2 - 0.587 * 0.1) / 0.114]).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def editor():
    return Editor.from_checkpoint(SHIPPED, device="cpu")


def _garment_photo(w=301, h=403, seed=0, texture=20.0):
    """A plain floor with a textured garment (a rectangle, fine random texture + stripes) in the middle;
    -> (uint8 photo, bool garment mask)."""
    import cv2

    rng = np.random.default_rng(seed)
    photo = np.empty((h, w, 3), np.float32)
    photo[:] = (196, 188, 170)  # a light floor
    g = np.zeros((h, w), bool)
    g[h // 5: h - h // 6, w // 4: w - w // 4] = True
    tex = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.8)
    tex = tex / tex.std() * texture + 14 * np.sign(np.sin(np.arange(w) / 2.3))[None, :]
    photo[g] = np.array([110, 110, 90], np.float32) + tex[g][:, None]  # khaki: no channel clips after the shift
    return np.clip(photo + 0.5, 0, 255).astype(np.uint8), g


FLOOR = (196, 188, 170)  # _garment_photo's floor


def _strip_taken_off(paint, x0: int, side: int):
    """A generator's edit: ``paint(x)`` with the photo's columns 70-115 (the garment's left side of
    _garment_photo) painted as the floor: a sleeve taken off. ``x0``, ``side``: the photo on the square."""
    floor = torch.tensor(FLOOR, dtype=torch.float32).view(1, 3, 1, 1) / 255

    def edit(x):
        S = x.shape[-1]
        z = paint(x)
        c0, c1 = int((x0 + 70) * S / side), int((x0 + 115) * S / side)
        z[..., :, c0:c1] = floor
        return z

    return edit


def _strip(g):
    """The middle of the taken-off strip, inside the garment."""
    strip = np.zeros_like(g)
    strip[:, 82:108] = True
    return strip & _erode(g, 8)


def _highpass(a, sigma=2.0):
    import cv2

    a = a.astype(np.float32)
    return a - cv2.GaussianBlur(a, (0, 0), sigma)


def _erode(m, r):
    import cv2

    return cv2.erode(m.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0


def _dilate(m, r):
    import cv2

    return cv2.dilate(m.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0


def test_guided_filter_matches_a_naive_reference():
    """Colour-guide guided filter (He et al., Algorithm 2) against per-window least squares by hand."""
    rng = np.random.default_rng(1)
    I = rng.random((14, 15, 3)).astype(np.float32)
    p = (rng.random((14, 15)) > 0.5).astype(np.float32)
    r, eps = 1, 1e-2
    q = guided_filter(I, p, r, eps)
    H, W = p.shape
    A = np.zeros((H, W, 3))
    B = np.zeros((H, W))
    for i in range(r, H - r):
        for j in range(r, W - r):
            Iw = I[i - r: i + r + 1, j - r: j + r + 1].reshape(-1, 3).astype(np.float64)
            pw = p[i - r: i + r + 1, j - r: j + r + 1].reshape(-1).astype(np.float64)
            mu, pm = Iw.mean(0), pw.mean()
            cov = (Iw - mu).T @ (Iw - mu) / len(Iw)
            a = np.linalg.solve(cov + eps * np.eye(3), ((Iw - mu) * (pw - pm)[:, None]).mean(0))
            A[i, j], B[i, j] = a, pm - a @ mu
    for i in range(2 * r, H - 2 * r):
        for j in range(2 * r, W - 2 * r):
            a = A[i - r: i + r + 1, j - r: j + r + 1].reshape(-1, 3).mean(0)
            b = B[i - r: i + r + 1, j - r: j + r + 1].mean()
            assert abs(q[i, j] - (a @ I[i, j] + b)) < 1e-4, (i, j)
    # the coefficients applied on the same grid are the filter
    a, b = guided_coefficients(I, p, r, eps)
    assert np.allclose((a * I).sum(-1) + b, q)


def test_a_colour_shift_keeps_the_texture_high_pass_exactly(editor):
    """Where the edit only shifts colour (its luma is the photo's), the photo's fine texture comes through
    untouched: the luma change inside the garment is smooth (its high-pass is only rounding), every
    channel's high-pass is the photo's up to a scale (a fold is a darker shade of the new colour), the
    colour moved, the floor did not."""
    photo, g = _garment_photo()
    editor.G = _FakeG(lambda x: x + CHROMA_SHIFT)
    res = editor.edit(Image.fromarray(photo), {"color": "red"})
    out = np.asarray(res.image)
    assert res.image.size == (301, 403) and res.background_kept
    inner = _erode(g, 12)
    change = out.astype(np.float32) - photo
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    hp_change = np.abs(_highpass(change @ luma))[inner]
    assert hp_change.mean() < 0.6, hp_change.mean()  # rounding only; the texture is +-20 levels
    assert abs(change[..., 0][inner].mean() - 0.2 * 255) < 8 and abs(change[..., 1][inner].mean() + 0.1 * 255) < 5
    for c in range(3):  # every channel's high-pass: correlation 1 up to rounding
        a, b = _highpass(photo[..., c])[inner], _highpass(out[..., c])[inner]
        assert np.corrcoef(a, b)[0, 1] > 0.995
    far = ~_dilate(g, 12)
    assert np.array_equal(out[far], photo[far]), "the floor must keep its pixels, bit for bit"


def test_colour_spread_evens_a_patchy_colour_edit_and_keeps_the_texture(editor):
    """A generator that recolours only the garment's left half: as is (spread 0) the right half stays
    khaki; with spread 1 the whole garment gets the one transform (both halves move alike), the texture's
    high-pass is still the photo's, the floor keeps its pixels; region and pattern edits stay local."""
    photo, g = _garment_photo()

    def paint(x):  # the left half of the square (the garment's left half) gets the chroma shift
        m = torch.zeros_like(x[:, :1])
        m[..., : x.shape[-1] // 2] = 1
        return x + CHROMA_SHIFT * m

    editor.G = _FakeG(paint)
    inner = _erode(g, 12)
    cols = np.arange(photo.shape[1])[None, :].repeat(photo.shape[0], 0)
    mid = photo.shape[1] // 2
    left, right = inner & (cols < mid - 20), inner & (cols > mid + 20)
    outs = {}
    for spread in (0.0, 1.0):
        editor.colour_spread = spread
        outs[spread] = np.asarray(editor.edit(Image.fromarray(photo), {"color": "red"}).image).astype(np.float32)
    editor.colour_spread = 0.0
    ch = {k: v - photo for k, v in outs.items()}
    assert ch[0.0][..., 0][left].mean() > 30 and abs(ch[0.0][..., 0][right].mean()) < 8  # patchy as generated
    l1, r1 = ch[1.0][..., 0][left].mean(), ch[1.0][..., 0][right].mean()
    assert r1 > 12 and abs(l1 - r1) < 3, (l1, r1)  # one transform: both halves move alike
    for c in range(3):
        a, b = _highpass(photo[..., c])[inner], _highpass(outs[1.0][..., c])[inner]
        assert np.corrcoef(a, b)[0, 1] > 0.99
    far = ~_dilate(g, 12)
    assert np.array_equal(outs[1.0][far], photo[far])
    editor.colour_spread = 1.0  # a pattern edit keeps the local maps
    try:
        pat = np.asarray(editor.edit(Image.fromarray(photo), {"pattern": "striped"},
                                     pattern_method="generator").image).astype(np.float32)
    finally:
        editor.colour_spread = 0.0
    assert abs((pat - photo)[..., 0][right].mean()) < 8
    # the same for one edit without touching the editor
    once = np.asarray(editor.edit(Image.fromarray(photo), {"color": "red"}, colour_spread=1.0).image).astype(np.float32)
    assert editor.colour_spread == 0.0 and np.array_equal(once, outs[1.0])
    for bad in (1.5, -0.1, float("nan"), "lots"):
        with pytest.raises(ValueError, match="colour_spread must be"):
            editor.edit(Image.fromarray(photo), {"color": "red"}, colour_spread=bad)
    from amgan.composite import recolour_maps

    with pytest.raises(ValueError, match="spread must be in"):
        recolour_maps(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 8, 8), spread=2.0)


def test_a_print_keeps_its_colour_when_the_ground_is_recoloured(editor):
    """A red shirt with a white logo turned grey: the ground becomes grey, shaded as the photo is; the
    logo stays white (a linear transform of every pixel shifts it by minus red's chroma: cyan), and a
    fold (a darker shade of the red) is a darker shade of the grey."""
    photo, g = _garment_photo(texture=4.0)
    h, w = g.shape
    ph = photo.astype(np.float32)
    ph[g] = (200, 30, 35)
    fold = np.zeros_like(g)
    fold[h // 5:, w // 2 - 6: w // 2 + 6] = True
    ph[fold & g] *= 0.6
    logo = np.zeros_like(g)
    logo[h // 3: h // 3 + 40, w // 3: w // 3 + 40] = True
    ph[logo] = (235, 235, 235)
    photo = np.clip(ph + 0.5, 0, 255).astype(np.uint8)
    grey = torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1)
    editor.G = _FakeG(lambda x: x * 0 + grey)  # the generator paints the whole square mid grey
    out = np.asarray(editor.edit(Image.fromarray(photo), {"color": "gray"}).image).astype(np.float32)

    def chroma(px):
        return np.abs(px - px.mean(-1, keepdims=True)).max(-1)

    ground = _erode(g & ~_dilate(logo, 6) & ~_dilate(fold, 6), 12)
    assert chroma(out[ground]).mean() < 12, chroma(out[ground]).mean()  # grey, not red
    assert abs(out[ground].mean() - 127) < 25
    inner_logo = _erode(logo, 4)
    assert chroma(out[inner_logo]).mean() < 8, out[inner_logo].mean(0)  # still white, not cyan
    assert out[inner_logo].mean() > 220
    inner_fold = _erode(fold & g, 3) & ~_dilate(logo, 6)
    assert out[inner_fold].mean() < 0.8 * out[ground].mean()  # the fold is a darker grey
    assert chroma(out[inner_fold]).mean() < 12


def test_the_change_follows_the_garment_edge_not_a_blob(editor):
    """A larger photo (worked on at 640 px, applied at 1601x1201): a few pixels outside the garment's
    edge nothing changes; a few pixels inside, the full change is there."""
    photo, g = _garment_photo(w=1201, h=1601, seed=2)
    editor.G = _FakeG(lambda x: torch.zeros_like(x) + torch.tensor([0.1, 0.2, 0.8]).view(1, 3, 1, 1))  # blue
    out = np.asarray(editor.edit(Image.fromarray(photo), {"color": "blue"}).image).astype(np.float32)
    d = np.abs(out - photo).mean(-1)
    outside = _dilate(g, 10) & ~_dilate(g, 3)
    inside = _erode(g, 3) & ~_erode(g, 10)
    core = _erode(g, 60)
    assert d[outside].mean() < 2.0, d[outside].mean()
    assert d[inside].mean() > 0.85 * d[core].mean() > 40, (d[inside].mean(), d[core].mean())
    assert out[core][:, 2].mean() > out[core][:, 0].mean() + 40  # it is blue now


@pytest.mark.parametrize("size", [(301, 203), (17, 33), (999, 1001)])
def test_output_size_is_the_input_size_for_odd_and_exif_rotated_photos(editor, size):
    editor.G = _FakeG(lambda x: x + CHROMA_SHIFT)
    photo, _ = _garment_photo(*size, texture=10)
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated by 90 degrees
    Image.fromarray(photo).save(buf, format="JPEG", exif=exif)
    res = editor.edit(buf.getvalue(), {"color": "red"})
    upright = (size[1], size[0])
    assert res.image.size == res.mask.size == res.cam.size == upright
    assert res.image.mode == "RGB" and res.mask.mode == "L"


def test_a_new_sleeve_is_not_cut_off_by_the_garment_gate(editor):
    """A sleeve edit paints garment onto the floor, outside the photo's garment mask: it must show;
    the floor away from the garment and the new sleeve keeps its pixels."""
    photo, g = _garment_photo()
    h, w = g.shape
    side = max(h, w)
    x0 = (side - w) // 2  # where the photo sits in the model's square

    def sleeve_mask(x):
        S = x.shape[-1]
        a = torch.zeros_like(x[:, :1])
        # a sleeve to the right of the garment: photo columns 230-290, rows 100-200
        c0, c1 = int((x0 + 230) * S / side), int((x0 + 290) * S / side)
        r0, r1 = int(100 * S / side), int(200 * S / side)
        a[..., r0:r1, c0:c1] = 1.0
        return a

    editor.G = _FakeG(lambda x: torch.zeros_like(x) + torch.tensor([0.6, 0.37, 0.27]).view(1, 3, 1, 1),
                      mask=sleeve_mask)
    res = editor.edit(Image.fromarray(photo), {"sleeve": "long"}, sleeve_method="generator")
    out = np.asarray(res.image).astype(np.float32)
    d = np.abs(out - photo).mean(-1)
    new_sleeve = np.zeros_like(g)
    new_sleeve[115:185, 240:280] = True
    assert not (new_sleeve & g).any()
    assert d[new_sleeve].mean() > 25, d[new_sleeve].mean()  # the floor became sleeve
    far = np.ones_like(g)
    far[:, 200:] = False
    far &= ~_dilate(g, 12)
    assert np.array_equal(out[far].astype(np.uint8), photo[far])


def test_edit_batch_is_the_models_resolution_path(editor):
    """Editor.edit_batch still returns the generator's own result at the model's resolution."""
    editor.G = _FakeG(lambda x: x + CHROMA_SHIFT)
    x = torch.rand(2, 3, editor.size, editor.size) * 0.5 + 0.25
    out = editor.edit_batch(x, {"color": "red"})
    assert torch.allclose(out.y, (x + CHROMA_SHIFT).clamp(0, 1)) and out.y.shape == x.shape


_BIG = """
import json, resource, sys, time
import numpy as np
from PIL import Image
from amgan.editor import Editor
ed = Editor.from_checkpoint(sys.argv[1], device="cpu")
small = Image.open(sys.argv[2]).convert("RGB")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
big = small.resize((3000, 4000), Image.BILINEAR)
t = time.perf_counter()
res = ed.edit(big, "make it red")
sec = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"size": list(res.image.size), "mask": list(res.mask.size), "seconds": sec,
                  "base_mb": base / 1024, "peak_mb": peak / 1024}))
"""


def test_a_12_megapixel_photo_edits_in_bounded_memory():
    """12 megapixels (3000x4000) through the shipped editor in a fresh process: the result is full size and
    the process grows by at most 450 MB over holding the model. What must be there is ~350 MB: PIL keeps
    RGB at 4 bytes a pixel (48 MB) and the photo exists as the caller's image, the upright copy, its
    array and the result's array and image; no full-size float map is made (one would be 144 MB; the
    composite before this one grew by 940 MB)."""
    photo = "demo/examples/87f0405b-bdea-4e8a-a0bf-5199dd1a158c.jpg"
    out = subprocess.run([sys.executable, "-c", _BIG, SHIPPED, photo], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["size"] == [3000, 4000] and r["mask"] == [3000, 4000]
    assert r["peak_mb"] - r["base_mb"] < 450, r


def test_row_strips_give_the_same_picture_as_one_block(editor, monkeypatch):
    """The composite works in row strips; the blurred membership reads a margin of photo around each strip,
    so many strips give the picture one block gives (no seams at strip edges) to a level of rounding."""
    import amgan.composite as C

    photo, g = _garment_photo(w=300, h=400, texture=12.0)
    rng = np.random.default_rng(3)
    noisy = np.clip(photo.astype(np.float32) + rng.normal(0, 6, photo.shape), 0, 255).astype(np.uint8)
    editor.G = _FakeG(lambda x: x * 0.3)  # a dark target: the membership's weight matters most
    one = np.asarray(editor.edit(Image.fromarray(noisy), {"color": "black"}).image).astype(int)
    monkeypatch.setattr(C, "STRIP_PIXELS", 300 * 7)  # strips of a few rows
    many = np.asarray(editor.edit(Image.fromarray(noisy), {"color": "black"}).image).astype(int)
    assert np.abs(one - many).max() <= 1


def test_a_noisy_fabric_turned_black_keeps_its_detail(editor, monkeypatch):
    """Sensor noise in the chroma makes the per-pixel membership of the ground flicker; a large luma change
    (a light garment turned black) multiplies that flicker into speckle unless the membership is smoothed
    (MEMBER_BLUR). The fabric's luma detail survives better with it than without it."""
    import amgan.composite as C

    photo, g = _garment_photo(texture=6.0)
    rng = np.random.default_rng(5)
    ph = photo.astype(np.float32)
    noise = rng.normal(0, 25, (g.sum(), 3))
    noise -= (noise @ [0.299, 0.587, 0.114])[:, None]  # chroma noise only
    ph[g] = np.array((160, 100, 100)) + noise + (ph[g] - ph[g].mean(0)).mean(1, keepdims=True)  # luma texture
    photo = np.clip(ph + 0.5, 0, 255).astype(np.uint8)
    editor.G = _FakeG(lambda x: x * 0.15)
    inner = _erode(g, 12)
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    corr = {}
    for blur in (0.0, C.MEMBER_BLUR):
        monkeypatch.setattr(C.recolour_pixels, "__defaults__", (blur,))
        out = np.asarray(editor.edit(Image.fromarray(photo), {"color": "black"}).image).astype(np.float32)
        a, b = _highpass(photo.astype(np.float32) @ luma)[inner], _highpass(out @ luma)[inner]
        corr[blur] = np.corrcoef(a, b)[0, 1]
    assert corr[C.MEMBER_BLUR] > corr[0.0] + 0.02 and corr[C.MEMBER_BLUR] > 0.8, corr


def test_spread_takes_the_generators_own_colour_not_a_partial_blend(editor):
    """A generator that paints a chroma shift with attention 0.6 leaves y = 0.6 z + 0.4 x: the blend of the old
    colour and the new. As is (spread 0) the garment moves by 0.6 of the shift; with spread 1 the even dye is
    the generator's own colour z (x + (y - x) / a), so the garment moves by the whole shift."""
    photo, g = _garment_photo()
    editor.G = _FakeG(lambda x: x + CHROMA_SHIFT, mask=lambda x: torch.full_like(x[:, :1], 0.6))
    inner = _erode(g, 12)
    moved = {}
    for spread in (0.0, 1.0):
        out = np.asarray(editor.edit(Image.fromarray(photo), {"color": "red"}, colour_spread=spread).image)
        moved[spread] = (out.astype(np.float32) - photo)[..., 0][inner].mean() / (0.2 * 255)
    assert abs(moved[0.0] - 0.6) < 0.1 and abs(moved[1.0] - 1.0) < 0.1, moved


def test_where_the_attention_fades_the_garment_still_takes_the_whole_colour(editor, monkeypatch):
    """A generator that paints the whole garment but with attention 1 on its left half and 0.3 on its right
    (the fading sides the val photos showed): with the default evening (spread 0.5) both halves move by about
    the whole shift (where the generator hardly painted, the garment's colour pair, its own colour z, takes
    over); before, the right half moved by about two thirds of it (a purple side on a red shirt asked blue)."""
    import amgan.composite as C

    photo, g = _garment_photo()

    def fading(x):
        m = torch.full_like(x[:, :1], 0.3)
        m[..., : x.shape[-1] // 2] = 1.0
        return m

    editor.G = _FakeG(lambda x: x + CHROMA_SHIFT, mask=fading)
    inner = _erode(g, 12)
    cols = np.arange(photo.shape[1])[None, :].repeat(photo.shape[0], 0)
    mid = photo.shape[1] // 2
    left, right = inner & (cols < mid - 20), inner & (cols > mid + 20)
    moved = {}
    for on in (False, True):
        monkeypatch.setattr(C, "SPREAD_BY_ATTENTION", on)
        out = np.asarray(editor.edit(Image.fromarray(photo), {"color": "red"}, colour_spread=0.5).image)
        d = (out.astype(np.float32) - photo)[..., 0] / (0.2 * 255)
        moved[on] = (d[left].mean(), d[right].mean())
    assert moved[True][1] > 0.85 and abs(moved[True][0] - moved[True][1]) < 0.15, moved
    assert moved[False][1] < 0.75, moved  # the old local pairs: the faded side half way


def test_light_floor_inside_a_dark_garments_mask_is_not_dyed(editor, monkeypatch):
    """A black dress with the light floor seen through its sheer hem (inside the garment mask), turned yellow:
    a pixel many times lighter than the dark ground is not a shade of it (MEMBER_LIGHTER), so the floor there
    does not become a saturated, clipped yellow band, while a highlight on the fabric (1.6x the ground) still
    takes the new colour. Without the lightness term the floor patch changes several times more."""
    import amgan.composite as C

    photo, g = _garment_photo(texture=3.0)
    h, w = g.shape
    ph = photo.astype(np.float32)
    ph[g] = (26, 26, 28)  # black fabric
    hem = np.zeros_like(g)
    hem[h - h // 6 - 40: h - h // 6, w // 4: w - w // 4] = True  # the floor through the tulle, inside the mask
    ph[hem] = (190, 184, 170)
    sheen = np.zeros_like(g)
    sheen[h // 3: h // 3 + 30, w // 3: w // 3 + 30] = True
    ph[sheen] = (42, 42, 45)  # a highlight on the fabric
    photo = np.clip(ph + 0.5, 0, 255).astype(np.uint8)
    editor.G = _FakeG(lambda x: x * 0 + torch.tensor([0.85, 0.75, 0.1]).view(1, 3, 1, 1))  # paints yellow
    change = {}
    for lighter in (0.0, C.MEMBER_LIGHTER):
        monkeypatch.setattr(C, "MEMBER_LIGHTER", lighter)
        out = np.asarray(editor.edit(Image.fromarray(photo), {"color": "yellow"}).image).astype(np.float32)
        d = np.abs(out - photo).mean(-1)
        change[lighter] = (d[_erode(hem, 8)].mean(), d[_erode(sheen, 4)].mean(), d[_erode(g & ~_dilate(hem, 20), 12)].mean())
    floor, sheen_d, ground = change[C.MEMBER_LIGHTER]
    assert floor < 0.3 * change[0.0][0] and floor < 20, change  # the floor keeps (near) its own colour
    assert sheen_d > 0.6 * ground and ground > 60, change  # the fabric, highlight included, is dyed


def test_an_outline_edits_tint_on_the_floor_is_not_a_new_sleeve(editor):
    """A sleeve edit whose generator tints everything (its attention spilling over the floor, no new
    outline) leaves the floor away from the garment as it was (the tint moves the floor a tenth of the way
    to the garment's colour: OUTLINE_MOVE); one that paints the floor's colour over a strip of the garment
    (a sleeve taken off) turns that strip to floor, and the floor still keeps its pixels."""
    photo, g = _garment_photo(texture=6.0)
    h, w = g.shape
    side = max(h, w)
    x0 = (side - w) // 2
    tint = torch.tensor([0.08, -0.05, 0.06]).view(1, 3, 1, 1)
    away = ~_dilate(g, 12)
    editor.G = _FakeG(lambda x: x + tint)
    out = np.asarray(editor.edit(Image.fromarray(photo), {"sleeve": "sleeveless"}, sleeve_method="generator").image).astype(np.float32)
    assert np.abs(out[away] - photo[away]).mean() < 1.0, np.abs(out[away] - photo[away]).mean()
    editor.G = _FakeG(_strip_taken_off(lambda x: x + tint, x0, side))
    out = np.asarray(editor.edit(Image.fromarray(photo), {"sleeve": "sleeveless"}, sleeve_method="generator").image).astype(np.float32)
    strip = _strip(g)
    assert np.abs(out[strip] - np.array(FLOOR)).mean() < 25  # now floor
    assert np.abs(out[away] - photo[away]).mean() < 1.0


def test_a_colour_without_hue_is_dyed_neutral(editor):
    """A generator whose black is navy-tinted: asked "black", the garment comes out a neutral dark (the
    request has no hue, so the edit's chroma is not taken); asked "blue", the same paint keeps its hue."""
    photo, g = _garment_photo(texture=4.0)
    editor.G = _FakeG(lambda x: x * 0 + torch.tensor([0.10, 0.10, 0.22]).view(1, 3, 1, 1))
    inner = _erode(g, 12)
    blue_minus_red = {}
    for name in ("black", "blue"):
        out = np.asarray(editor.edit(Image.fromarray(photo), {"color": name}).image).astype(np.float32)
        blue_minus_red[name] = (out[inner][:, 2] - out[inner][:, 0]).mean()
    assert abs(blue_minus_red["black"]) < 6, blue_minus_red
    assert blue_minus_red["blue"] > 15, blue_minus_red


def test_a_sleeve_edit_does_not_recolour_the_garment(editor):
    """Inside the garment a sleeve request keeps only the change that turns garment into floor
    (outline_removed): a generator that tints, darkens or speckles the fabric leaves the fabric's pixels
    (before: the whole change, 15-20 levels); a strip painted as floor still becomes floor. A neckline
    request (no removal rule) keeps the generator's change inside the garment."""
    photo, g = _garment_photo(texture=6.0)
    h, w = g.shape
    side = max(h, w)
    x0 = (side - w) // 2
    inner = _erode(g, 8)
    rng = torch.Generator().manual_seed(0)
    speckle = torch.rand((1, 3, 128, 128), generator=rng) * 0.2 - 0.1
    for paint in (lambda x: x + torch.tensor([0.08, -0.05, 0.06]).view(1, 3, 1, 1),  # a tint
                  lambda x: x * 0.7,  # darker (away from the light floor)
                  lambda x: x + torch.nn.functional.interpolate(speckle, size=x.shape[-2:])):  # speckle
        editor.G = _FakeG(paint)
        out = np.asarray(editor.edit(Image.fromarray(photo), {"sleeve": "long"}, sleeve_method="generator").image).astype(np.float32)
        assert np.abs(out[inner] - photo[inner]).mean() < 2.0, np.abs(out[inner] - photo[inner]).mean()
    editor.G = _FakeG(lambda x: x + torch.tensor([0.08, -0.05, 0.06]).view(1, 3, 1, 1))
    neck = np.asarray(editor.edit(Image.fromarray(photo), {"neckline": "v_neck"}).image).astype(np.float32)
    assert np.abs(neck[inner] - photo[inner]).mean() > 8
    editor.G = _FakeG(_strip_taken_off(lambda x: x * 0.8, x0, side))  # the rest darker
    out = np.asarray(editor.edit(Image.fromarray(photo), {"sleeve": "short"}, sleeve_method="generator").image).astype(np.float32)
    strip = _strip(g)
    rest = inner.copy()
    rest[:, 60:125] = False
    assert np.abs(out[strip] - np.array(FLOOR)).mean() < 25  # now floor
    assert np.abs(out[rest] - photo[rest]).mean() < 2.0  # the darkening elsewhere is not kept


def test_a_precomputed_matte_gives_the_same_composite(editor):
    """The editor finds the garment's matte beside the mask readers and hands it to ``composite``: the
    picture is the one ``composite`` makes itself; a matte with a region (not the whole garment's) is refused."""
    from amgan.composite import composite, matte_coefficients, work_size
    from amgan.editor import cv2_resize_area

    photo, g = _garment_photo(w=301, h=403, seed=1)
    work = cv2_resize_area(photo, work_size(*photo.shape[:2]))
    x, _, geom = editor.processor.preprocess(Image.fromarray(photo), editor.device)
    y = (x + CHROMA_SHIFT).clamp(0, 1)
    a = torch.ones_like(x[:, :1])
    own = composite(photo, work, x, y, a, geom, g, recolour=True)
    given = composite(photo, work, x, y, a, geom, g, recolour=True, matte=matte_coefficients(work, g))
    assert all(np.array_equal(p, q) for p, q in zip(own, given))
    assert np.abs(own[0].astype(int) - photo).max() > 10  # the composite did change the garment
    with pytest.raises(ValueError, match="whole garment"):
        composite(photo, work, x, y, a, geom, g, recolour=True, region=g, matte=matte_coefficients(work, g))
