"""amgan.probes: each probe on hand-built cases whose answer is known (ties included), and the
detail probe's references on a real photo."""
from pathlib import Path

import numpy as np
import pytest

from amgan import probes as P
from amgan.intervals import accuracy_with_ci, mean_with_ci

RED, BLUE, WHITE = (200, 30, 40), (40, 80, 190), (245, 245, 245)


def _img(h=20, w=20, fill=WHITE):
    return np.tile(np.array(fill, np.uint8), (h, w, 1))


def _garment(fill, region):
    im = _img()
    im[region > 0] = fill
    return im


@pytest.fixture
def region():
    r = np.zeros((20, 20), np.uint8)
    r[5:15, 5:15] = 1
    return r


# --------------------------------------------------------------------------- colour against the truth
def test_colour_hit_truth_source_and_tie(region):
    src, truth = _garment(RED, region), _garment(BLUE, region)
    assert P.colour_hit(truth, src, truth, region).hit is True
    assert P.colour_hit(src, src, truth, region).hit is False
    # half red, half blue: its mean Lab is the midpoint of the two means -> equal distances -> a miss
    half = src.copy()
    half[5:10, 5:15] = BLUE
    h = P.colour_hit(half, src, truth, region)
    assert h.to_target == pytest.approx(h.to_source)
    assert h.hit is False
    # a little more blue than red: a hit; a little less: a miss
    more = src.copy()
    more[5:11, 5:15] = BLUE
    less = src.copy()
    less[5:9, 5:15] = BLUE
    assert P.colour_hit(more, src, truth, region).hit is True
    assert P.colour_hit(less, src, truth, region).hit is False


def test_colour_hit_reads_only_the_truth_region(region):
    src, truth = _garment(RED, region), _garment(BLUE, region)
    edit = truth.copy()
    edit[region == 0] = RED  # outside the true region: ignored
    edit[0, 0] = (0, 0, 0)
    assert P.colour_hit(edit, src, truth, region).hit is True
    # the truth's region, not the source's: a source region that misses the garment changes nothing
    assert P.colour_hit(edit, src, truth, region * 3).hit is True  # any value > 0 is garment
    assert P.colour_hit(edit, src, truth, np.zeros_like(region)).hit is None


def test_colour_hit_distances_against_a_naive_reference(region):
    from skimage.color import deltaE_ciede2000, rgb2lab

    rng = np.random.default_rng(0)
    src, truth, edit = (rng.integers(0, 256, (20, 20, 3), dtype=np.uint8) for _ in range(3))
    m = region > 0
    means = [rgb2lab(x[m][None].astype(float) / 255)[0].mean(0) for x in (edit, src, truth)]
    h = P.colour_hit(edit, src, truth, region)
    assert h.to_target == pytest.approx(np.linalg.norm(means[0] - means[2]), rel=1e-9)
    assert h.to_source == pytest.approx(np.linalg.norm(means[0] - means[1]), rel=1e-9)
    c = P.colour_hit(edit, src, truth, region, metric="ciede2000")
    assert c.to_target == pytest.approx(float(deltaE_ciede2000(means[0][None], means[2][None])[0]), rel=1e-9)
    with pytest.raises(ValueError):
        P.colour_hit(edit, src, truth, region, metric="cie94")


def test_uint8_and_float_images_are_the_same(region):
    src, truth = _garment(RED, region), _garment(BLUE, region)
    a = P.colour_hit(truth, src, truth, region)
    b = P.colour_hit(truth / 255.0, src / 255.0, truth / 255.0, region)
    assert a.to_source == pytest.approx(b.to_source)
    with pytest.raises(ValueError):
        P.l1(src * 2.0, src)  # floats above 1
    with pytest.raises(ValueError):
        P.colour_hit(truth, src[:10], truth, region)


# --------------------------------------------------------------------------- shape against the truth
def test_changed_pixels_threshold():
    s = np.zeros((4, 4, 3))
    t = s.copy()
    t[0, 0] = 0.125  # exactly the threshold (exact in binary): not changed
    t[1, 1] = 0.1251
    t[2, 2] = (0.375, 0.0, 0.0)  # mean over channels exactly 0.125: not changed
    t[3, 3] = (0.375, 0.001, 0.0)
    ch = P.changed_pixels(s, t, threshold=0.125)
    assert ch.sum() == 2 and ch[1, 1] and ch[3, 3]
    assert P.changed_pixels(s, t).sum() == 4  # the default threshold (0.05) is below all four
    t[0, 0] = 0.04
    assert P.changed_pixels(s, t).sum() == 3


def test_shape_hit_on_the_changed_pixels_only():
    src = _img(fill=WHITE)
    src[5:15, 8:12] = RED  # a body
    truth = src.copy()
    truth[5:8, 2:18] = RED  # long sleeves
    assert P.shape_hit(truth, src, truth).hit is True
    assert P.shape_hit(src, src, truth).hit is False
    # half of the sleeve pixels drawn: equal L1 to both -> a tie -> a miss
    half = src.copy()
    half[5:8, 2:8] = RED
    changed = P.changed_pixels(src, truth)
    assert (half[changed] == RED).all(axis=1).sum() * 2 == changed.sum()
    h = P.shape_hit(half, src, truth)
    assert h.to_target == pytest.approx(h.to_source) and h.hit is False
    # a change elsewhere (off the changed pixels) does not count
    other = truth.copy()
    other[18:, :] = 0
    assert P.shape_hit(other, src, truth).hit is True
    assert P.shape_hit(truth, src, src).hit is None  # the true edit changes nothing


def test_l1_ssim_and_outside_change(region):
    a = np.zeros((16, 16, 3))
    b = a.copy()
    b[:8] = 0.5
    assert P.l1(a, b) == pytest.approx(0.25)
    assert P.ssim(a, a) == pytest.approx(1.0)
    assert P.ssim(a, b) < 0.9
    src, edit = _img() / 255.0, _img() / 255.0
    edit[0, :] = 0.0  # 20 changed background pixels of 400 - 100 garment = 300 background
    src_r, truth_r = region.copy(), region.copy()
    truth_r[15:17, 5:15] = 2  # the truth's garment is longer: these 20 pixels are not "outside"
    edit[16, 5:15] = 0.0
    expected = 20 * (245 / 255) / (400 - 100 - 20)
    assert P.outside_change(edit, src, src_r, truth_r) == pytest.approx(expected)
    full = np.ones((20, 20), np.uint8)
    assert np.isnan(P.outside_change(edit, src, full, truth_r))


def test_a_shape_hit_that_wipes_out_the_garment_is_not_kept():
    src = _img(fill=WHITE)
    src[5:15, 2:18] = RED  # a body with long sleeves
    regions = np.zeros((20, 20), np.uint8)
    regions[5:15, 2:18] = 1
    truth = src.copy()
    truth[5:15, 2:6], truth[5:15, 14:18] = WHITE, WHITE  # sleeves off: floor
    truth_r = regions.copy()
    truth_r[5:15, 2:6], truth_r[5:15, 14:18] = 0, 0
    assert P.kept_change(truth, src, truth, regions, truth_r) == 0.0
    assert P.kept_shape_hit(truth, src, truth, regions, truth_r) is True
    wiped = _img(fill=WHITE)  # the whole garment gone: the sleeves' pixels are the truth's, the body is lost
    assert P.shape_hit(wiped, src, truth).hit is True
    assert P.kept_change(wiped, src, truth, regions, truth_r) > 0.5
    assert P.kept_shape_hit(wiped, src, truth, regions, truth_r) is False
    assert P.kept_shape_hit(src, src, truth, regions, truth_r) is False  # no change: no shape hit
    assert P.kept_shape_hit(truth, src, src, regions, regions) is None  # nothing to measure
    recoloured = src.copy()
    recoloured[5:15, 2:18] = (0, 0, 255)  # a colour edit changes the whole garment: nothing kept to measure
    assert np.isnan(P.kept_change(recoloured, src, recoloured, regions, regions))


# --------------------------------------------------------------------------- photos: colour
def _anchor(name, k=0):
    from amgan.data.annotate import PALETTE

    h = PALETTE[name][k][1]
    return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture
def photo_mask():
    m = np.zeros((120, 100), bool)
    m[20:100, 20:80] = True
    return m


def _photo(colour, mask):
    im = np.tile(np.array((250, 250, 250), np.uint8), (*mask.shape, 1))  # a white floor: no exposure change
    im[mask] = colour
    return im


def test_colour_name_hit_reads_the_annotators_name(photo_mask):
    edit = _photo(_anchor("blue"), photo_mask)
    hit, reading = P.colour_name_hit(edit, photo_mask, "blue")
    assert hit and reading.color == "blue" and reading.confidence == pytest.approx(1.0)
    assert P.colour_name_hit(edit, photo_mask, "red")[0] is False
    # two colours in equal parts: no confident name -> not a hit even for the majority name
    two = edit.copy()
    two[20:60, 20:80] = _anchor("red")
    hit, reading = P.colour_name_hit(two, photo_mask, reading.best)
    assert reading.color is None and hit is False


def test_anchor_hit_and_distances(photo_mask):
    blue = _photo(_anchor("blue"), photo_mask)
    red = _photo(_anchor("red"), photo_mask)
    d = P.anchor_distances(P.garment_lab(blue, photo_mask))
    assert d["blue"] == pytest.approx(0.0, abs=0.2) and min(d, key=d.get) == "blue"
    assert P.anchor_hit(blue, photo_mask, "blue", "red").hit is True
    assert P.anchor_hit(red, photo_mask, "blue", "red").hit is False
    assert P.anchor_hit(red, np.zeros_like(photo_mask), "blue", "red").hit is None
    with pytest.raises(ValueError):
        P.anchor_hit(red, photo_mask, "red", "red")
    with pytest.raises(ValueError):
        P.anchor_hit(red, photo_mask, "mauve", "red")


# --------------------------------------------------------------------------- photos: detail kept
def _naive_detail(a, b, m, sigma=2.0):
    from scipy.ndimage import gaussian_filter
    from skimage.color import rgb2lab

    hp = [rgb2lab(x)[..., 0] - gaussian_filter(rgb2lab(x)[..., 0], sigma, mode="reflect") for x in (a, b)]
    return float(np.corrcoef(hp[0][m], hp[1][m])[0, 1])


def test_detail_kept_against_a_naive_reference(photo_mask):
    rng = np.random.default_rng(1)
    tex = rng.random((120, 100, 3)) * 0.4 + 0.3
    other = rng.random((120, 100, 3)) * 0.4 + 0.3
    assert P.detail_kept(tex, tex, photo_mask) == pytest.approx(1.0)
    for b in (other, 1.0 - tex, np.clip(tex + 0.1, 0, 1)):
        assert P.detail_kept(tex, b, photo_mask) == pytest.approx(_naive_detail(tex, b, photo_mask), abs=1e-4)
    assert abs(P.detail_kept(tex, other, photo_mask)) < 0.1
    assert P.detail_kept(tex, 1.0 - tex, photo_mask) < -0.8
    flat = np.full_like(tex, 0.5)
    assert np.isnan(P.detail_kept(tex, flat, photo_mask))  # no detail left at all: undefined
    assert np.isnan(P.detail_kept(tex, tex, np.zeros_like(photo_mask)))


def test_detail_kept_interior_leaves_out_the_outline_a_colour_edit_rightly_changes():
    """A light garment on a mid floor turned dark, its texture kept: the outline's contrast flips sign, which
    the whole-mask probe counts as detail lost; the interior (mask less 3 sigma) reads the texture only. A
    blurred garment loses its detail on both."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(4)
    h, w = 120, 100
    mask = np.zeros((h, w), bool)
    mask[20:100, 25:75] = True
    tex = gaussian_filter(rng.normal(0, 1, (h, w)), 0.7) * 0.05
    photo = np.full((h, w, 3), 0.5)
    photo[mask] = 0.85 + tex[mask][:, None]
    dark = photo.copy()
    dark[mask] = 0.15 + tex[mask][:, None]
    inner = P.interior(mask)
    assert inner.sum() == (80 - 12) * (50 - 12)  # 6 px (3 sigma) off every side of a rectangle
    assert P.detail_kept(photo, dark, mask) < 0.9
    assert P.detail_kept_interior(photo, dark, mask) > 0.97
    blurred = photo.copy()
    blurred[mask] = gaussian_filter(photo, (3, 3, 0))[mask]
    assert P.detail_kept_interior(photo, blurred, mask) < 0.5
    assert np.isnan(P.detail_kept_interior(photo, dark, np.pad(np.ones((4, 4), bool), ((0, 116), (0, 96)))))


def test_lightness_is_cielab_L():
    from skimage.color import rgb2lab

    a = np.random.default_rng(2).random((30, 30, 3))
    a[0, 0], a[0, 1], a[1, :] = 0.0, 1.0, 0.002  # black, white, the linear segment
    assert np.abs(P.lightness(a) - rgb2lab(a)[..., 0]).max() < 1e-3


def test_hue_rotate_keeps_the_background_and_turns_the_garment(photo_mask):
    im = _photo(_anchor("red"), photo_mask)
    out = P.hue_rotate(im, photo_mask, 0.5)
    assert np.allclose(out[~photo_mask], im[~photo_mask] / 255.0, atol=1e-6)
    assert out[50, 50, 2] > out[50, 50, 0]  # red turned to a cyan/blue
    assert np.allclose(P.hue_rotate(im, photo_mask, 1.0), im / 255.0, atol=1e-6)


EXAMPLE = Path(__file__).resolve().parents[1] / "demo" / "examples" / "ff52c8c8-5abd-42fa-8b53-936aded546d5.jpg"


def test_detail_kept_references_on_a_real_photo():
    """The scale the probe is read on: an exact recolour keeps the detail; a 64-px round trip
    loses most of it; resolution orders them."""
    from amgan.data.garment_mask import garment_mask
    from amgan.image import to_rgb

    rgb = np.asarray(to_rgb(EXAMPLE))
    mask = garment_mask(rgb)
    assert 0.1 < mask.mean() < 0.9
    recolour = P.detail_kept(rgb, P.hue_rotate(rgb, mask), mask)
    rt = {s: P.detail_kept(rgb, P.round_trip(rgb, s), mask) for s in (64, 128, 256)}
    assert recolour > 0.9
    assert rt[64] < 0.5
    assert rt[64] < rt[128] < rt[256] < recolour
    assert P.round_trip(rgb, 64).shape == rgb.shape


# --------------------------------------------------------------------------- photos: background
def test_border_band_and_background_change():
    band = P.border_band((100, 200), 0.05)
    assert band.sum() == 100 * 200 - 90 * 190
    assert P.border_band((10, 10), 0.01).sum() == 100 - 64  # at least 1 px
    photo = np.full((100, 200, 3), 0.5)
    mask = np.zeros((100, 200), bool)
    mask[40:60, 90:110] = True
    edit = photo.copy()
    edit[mask] = 0.0  # the garment changed: neither number moves
    r = P.background_change(photo, edit, mask)
    assert r == {"border": 0.0, "outside": 0.0}
    edit[:5] = 1.0  # the top 5 rows changed by 0.5
    r = P.background_change(photo, edit, mask)
    assert r["border"] == pytest.approx(0.5 * 5 * 200 / band.sum())
    grown = P.dilate_mask(mask, 0.03)  # 6 px each way
    assert grown.sum() == 32 * 32
    assert r["outside"] == pytest.approx(0.5 * 5 * 200 / (100 * 200 - 32 * 32))


# --------------------------------------------------------------------------- intervals
def test_mean_with_ci_leaves_out_nan_and_brackets_the_mean():
    r = mean_with_ci([1.0, np.nan, 3.0, 2.0])
    assert r["n"] == 3 and r["mean"] == 2.0 and r["ci95"][0] <= 2.0 <= r["ci95"][1]
    assert mean_with_ci([np.nan]) == {"mean": None, "n": 0, "ci95": None}
    assert mean_with_ci([0.5] * 4)["ci95"] == [0.5, 0.5]
    assert accuracy_with_ci([True, False])["acc"] == 0.5


def test_colour_change_is_the_mean_per_pixel_colour_difference_on_the_mask():
    """0 for an unchanged garment; a patchy tint shows even where the garment's mean colour is unchanged
    (half shifted one way, half the other); pixels off the mask do not count; an empty mask is nan."""
    photo = np.full((20, 20, 3), 120, np.uint8)
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    assert P.colour_change(photo, photo, mask) == 0.0
    edit = photo.copy()
    edit[5:10, 5:15] = (150, 120, 120)  # redder ...
    edit[10:15, 5:15] = (90, 120, 120)  # ... and greener: the mean colour barely moves
    d = P.colour_change(photo, edit, mask)
    assert d > 10
    assert np.linalg.norm(P.region_mean_lab(edit, mask) - P.region_mean_lab(photo, mask)) < d / 2
    floor = photo.copy()
    floor[~mask] = (0, 255, 0)
    assert P.colour_change(photo, floor, mask) == 0.0
    assert np.isnan(P.colour_change(photo, edit, np.zeros_like(mask)))
