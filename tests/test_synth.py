import csv

import numpy as np
import pytest
from scipy import ndimage

from amgan.data.synth import REGIONS, render, sample_specs

SPECS = sample_specs(12, seed=11)


def _dilate(mask, r=1):
    return ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool), iterations=r)


@pytest.mark.parametrize("view", ["shop", "street"])
def test_render_is_deterministic(view):
    s = SPECS[0]
    a1, r1 = render(s, view, 64, view_seed=2)
    a2, r2 = render(s, view, 64, view_seed=2)
    assert a1.shape == (64, 64, 3) and a1.dtype == np.uint8 and r1.shape == (64, 64)
    assert np.array_equal(a1, a2) and np.array_equal(r1, r2)
    a3, _ = render(s, view, 64, view_seed=3)
    if view == "street":
        assert not np.array_equal(a1, a3)


@pytest.mark.parametrize("spec", SPECS[:6])
def test_color_edit_changes_only_garment_pixels(spec):
    new = "red" if spec.color != "red" else "blue"
    a, ra = render(spec, "shop", 64)
    b, rb = render(spec.with_(color=new), "shop", 64)
    assert np.array_equal(ra, rb), "a colour edit must not change the region map"
    changed = np.abs(a.astype(int) - b.astype(int)).max(-1) > 0
    garment = _dilate(ra > 0)  # anti-aliased edge pixels belong to the garment
    assert changed.any()
    assert not (changed & ~garment).any()


@pytest.mark.parametrize("spec", SPECS[:6])
def test_sleeve_edit_changes_only_sleeve_and_background(spec):
    new = "long" if spec.sleeve != "long" else "sleeveless"
    a, ra = render(spec, "shop", 64)
    b, rb = render(spec.with_(sleeve=new), "shop", 64)
    changed = np.abs(a.astype(int) - b.astype(int)).max(-1) > 0
    sleeves = (ra == REGIONS["sleeves"]) | (rb == REGIONS["sleeves"])
    assert changed.any() and sleeves.any()
    assert not (changed & ~_dilate(sleeves)).any()
    # outside the sleeves, the region maps agree
    assert np.array_equal(np.where(sleeves, 0, ra), np.where(sleeves, 0, rb))


def test_attribute_values_are_visible():
    """Different values of each group give clearly different pictures at 64 px."""
    s = SPECS[1]
    base, _ = render(s, "shop", 64)
    for group, values in [("pattern", ["solid", "striped", "checked", "dotted", "floral"]),
                          ("neckline", ["round", "v_neck", "collar"]), ("sleeve", ["sleeveless", "short", "long"])]:
        imgs = [render(s.with_(**{group: v}), "shop", 64)[0].astype(float) for v in values]
        for i in range(len(imgs)):
            for j in range(i + 1, len(imgs)):
                assert np.abs(imgs[i] - imgs[j]).mean() > 0.5, (group, values[i], values[j])


def test_bad_render_arguments():
    with pytest.raises(ValueError, match="unknown view"):
        render(SPECS[0], "studio", 64)
    with pytest.raises(ValueError, match="size must be"):
        render(SPECS[0], "shop", 8)
    with pytest.raises(ValueError):
        SPECS[0].with_(color="magenta")


def test_generated_dataset(synth_tiny):
    from amgan.data.manifest import read_manifest

    m = read_manifest(synth_tiny / "manifest.csv")
    assert len(m) == 40 * 2
    by_split = {}
    for pid, split in zip(m.product_ids, m.splits):
        by_split.setdefault(pid, set()).add(split)
    assert all(len(v) == 1 for v in by_split.values()), "splits must be by product"
    assert {s for v in by_split.values() for s in v} == {"train", "val", "test"}
    with open(synth_tiny / "edits.csv") as f:
        edits = list(csv.DictReader(f))
    n_test_images = sum(s == "test" for s in m.splits)
    assert len(edits) == n_test_images * 4
    from PIL import Image

    for e in edits[:8]:
        src = np.asarray(Image.open(synth_tiny / e["source"]))
        tgt = np.asarray(Image.open(synth_tiny / e["target"]))
        assert src.shape == tgt.shape == (32, 32, 3) and not np.array_equal(src, tgt)
        assert e[e["group"]] == e["value"]


def test_contact_sheet(synth_tiny, tmp_path):
    from PIL import Image

    from amgan.cli import main

    assert main(["data", "sheet", str(synth_tiny), "--out", str(tmp_path / "s.png"), "--n", "6"]) == 0
    im = Image.open(tmp_path / "s.png")
    assert im.size[0] > 500 and im.size[1] > 100
    assert main(["data", "sheet", str(synth_tiny), "--edits", "--out", str(tmp_path / "e.png")]) == 0
    assert main(["data", "sheet", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 2
