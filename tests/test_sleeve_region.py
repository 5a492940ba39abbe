"""Region edits of photos: the sleeves from the garment's outline (amgan.data.sleeve_region), and
Editor.edit keeping a colour edit to the sleeves or to the torso of a photo."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from amgan.data.sleeve_region import sleeve_mask
from test_clothing import _tshirt, photo

W, H = 120, 160


def tshirt_mask(w=W, h=H):
    """(garment, true sleeves): the test T-shirt laid flat, its sleeves where it is wider than its torso."""
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).polygon(_tshirt(w, h), fill=255)
    g = np.asarray(m) > 127
    xx = np.arange(w)[None, :].repeat(h, 0)
    return g, g & (np.abs(xx - w / 2) > 0.22 * w + 1)


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def test_protruding_sleeves_are_found_and_a_sleeveless_reading_has_none():
    g, truth = tshirt_mask()
    for sleeve in ("short", "long"):
        s, how = sleeve_mask(g, sleeve)
        assert how == "protrusion" and iou(s, truth) > 0.75, (sleeve, iou(s, truth))
        assert not (s & ~g).any()  # inside the garment
        assert (s & (np.abs(np.arange(W) - W / 2) < 0.2 * W)[None, :]).sum() == 0  # nothing of the torso
    s, how = sleeve_mask(g, "sleeveless")
    assert how == "none" and not s.any()
    # a mirrored, shifted and larger garment reads the same
    big, truth_big = tshirt_mask(240, 320)
    s, _ = sleeve_mask(np.pad(big[:, ::-1], ((10, 0), (0, 30))), "short")
    assert iou(s, np.pad(truth_big[:, ::-1], ((10, 0), (0, 30)))) > 0.75


def test_any_mask_gives_a_region_inside_it():
    """Ragged GrabCut masks (noise, slivers, a single row) never fail: the sleeves lie inside the garment."""
    rng = np.random.default_rng(0)
    masks = [rng.random((H, W)) > p for p in (0.3, 0.6, 0.9)]
    masks += [np.zeros((H, W), bool), np.eye(H, W, dtype=bool), np.pad(np.ones((1, 80), bool), ((70, 89), (20, 20)))]
    thin = np.zeros((H, W), bool)
    thin[10:150, 58:61] = True
    thin[60:62, 10:110] = True  # a cross of one-pixel-ish arms
    masks.append(thin)
    straight = np.zeros((H, W), bool)  # straight sides (every run ends on the same column) but for a few rows
    straight[20:150, 40:80] = True
    straight[100:106, 5:115] = True
    masks.append(straight)
    for m in masks:
        for sleeve in ("short", "long"):
            s, how = sleeve_mask(m, sleeve)
            assert s.shape == m.shape and not (s & ~m).any() and how in ("none", "protrusion", "bands")


def test_long_sleeves_along_the_body_are_the_outer_bands():
    g = np.zeros((H, W), bool)
    g[20:150, 20:100] = True  # one block: long sleeves lying along the torso make no protrusion
    s, how = sleeve_mask(g, "long")
    assert how == "bands"
    cols = np.flatnonzero(s.any(0))
    assert cols.min() == 20 and cols.max() == 99
    assert not s[:, 40:80].any()  # the middle is torso
    assert s[80, 20:37].all() and s[80, 83:100].all()  # ~22% of the width on either side
    # a short reading of the same block: no protrusion, so no sleeves
    assert not sleeve_mask(g, "short")[0].any()
    assert not sleeve_mask(np.zeros((H, W), bool), "long")[0].any()
    with pytest.raises(ValueError, match="2-D"):
        sleeve_mask(np.zeros((4, 4, 3), bool), "short")


def test_a_region_edit_of_a_photo_keeps_to_the_sleeves_or_the_torso(tiny_editor_path):
    from amgan.editor import Editor

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    rgb, garment = photo((40, 80, 190), w=240, h=320)
    img = Image.fromarray(rgb)
    xx = np.abs(np.arange(240) - 120)[None, :].repeat(320, 0)
    torso_inside = garment & (xx < 0.15 * 240)
    sleeves_inside = garment & (xx > 0.26 * 240) & (np.arange(320)[:, None] < 0.38 * 320)
    assert sleeves_inside.sum() > 100
    known = {"sleeve": "short"}

    def change(res):
        return np.abs(np.asarray(res.image, np.float32) - rgb).sum(-1)

    whole = change(ed.edit(img, {"color": "red"}, source=known))
    assert whole[torso_inside].mean() > 5 and whole[sleeves_inside].mean() > 5
    sleeves = ed.edit(img, {"color": "red"}, region="sleeves", source=known)
    d = change(sleeves)
    assert (d[torso_inside] == 0).all() and d[sleeves_inside].mean() > 5
    assert (d[~garment] == 0).mean() > 0.97  # the floor keeps its pixels
    torso = change(ed.edit(img, {"color": "red"}, region="torso", source=known))
    assert (torso[sleeves_inside] == 0).mean() > 0.95 and torso[torso_inside].mean() > 5
    # two colours: the sleeves red, the torso something else
    both = ed.edit(img, {"color": "red"}, region="sleeves+torso", torso_request={"color": "yellow"}, source=known)
    out = np.asarray(both.image, np.float32)
    assert both.request == {"sleeves": {"color": "red"}, "torso": {"color": "yellow"}}
    assert np.abs(out[sleeves_inside] - np.asarray(sleeves.image, np.float32)[sleeves_inside]).mean() < 3
    assert np.abs(out - rgb).sum(-1)[torso_inside].mean() > 5
    # a garment read (or said to be) sleeveless has no sleeves to recolour: the photo as it was, and why
    none = ed.edit(img, {"color": "red"}, region="sleeves", source={"sleeve": "sleeveless"})
    assert np.array_equal(np.asarray(none.image), rgb) and "No sleeves were found" in none.caveats[0]
    # the sleeve length cannot be a region edit; without the garment mask the paper's attention mask is used
    from amgan.errors import RequestError

    with pytest.raises(RequestError, match="cannot change the sleeve length"):
        ed.edit(img, {"sleeve": "long"}, region="sleeves")
    assert ed.edit(img, {"color": "red"}, region="sleeves", keep_background=False).image.size == img.size
