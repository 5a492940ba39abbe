"""Sleeve-length edits of photos from the garment's outline (amgan.reshape) and through Editor.edit."""
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from amgan.reshape import ReshapeError, plan_sleeves, reshape_photo
from test_clothing import _tshirt, photo

W, H = 240, 320
GRID = (160, 120)  # the editor's GrabCut grid for a 240x320 photo


def _longsleeve(w=W, h=H):
    """Polygon of a long-sleeved top laid flat, its sleeves spread down and outwards."""
    cx = w / 2
    return [(cx - 0.18 * w, 0.18 * h), (cx - 0.06 * w, 0.15 * h), (cx + 0.06 * w, 0.15 * h), (cx + 0.18 * w, 0.18 * h),
            (cx + 0.44 * w, 0.62 * h), (cx + 0.36 * w, 0.67 * h), (cx + 0.22 * w, 0.42 * h), (cx + 0.22 * w, 0.85 * h),
            (cx - 0.22 * w, 0.85 * h), (cx - 0.22 * w, 0.42 * h), (cx - 0.36 * w, 0.67 * h), (cx - 0.44 * w, 0.62 * h)]


def _draw(poly, colour=(40, 80, 190), floor=(150, 110, 70), w=W, h=H):
    """(RGB uint8 with a noisy floor, garment mask at full size, garment mask on GRID)."""
    rng = np.random.default_rng(1)
    img = Image.new("RGB", (w, h), floor)
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).polygon(poly, fill=255)
    img.paste(Image.new("RGB", (w, h), colour), (0, 0), m)
    arr = np.clip(np.asarray(img, np.float32) + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)
    full = np.asarray(m) > 127
    grid = np.asarray(m.resize(GRID[::-1], Image.BILINEAR)) > 127
    return arr, full, grid


def _torso(w=W, h=H):
    xx = np.abs(np.arange(w) - w / 2)[None, :].repeat(h, 0)
    yy = np.arange(h)[:, None].repeat(w, 1)
    return (xx < 0.18 * w) & (yy > 0.2 * h) & (yy < 0.83 * h)


def _kept(w=W, h=H):
    """What of :func:`_torso` a sleeve taken off leaves: all but the shoulders outside the new armholes (the
    T-shirt's armpits are at 38% of the height, its sides at 22% of the width from the centre)."""
    xx = np.abs(np.arange(w) - w / 2)[None, :].repeat(h, 0)
    yy = np.arange(h)[:, None].repeat(w, 1)
    return _torso(w, h) & ((xx < 0.14 * w) | (yy > 0.42 * h))


def test_sleeves_taken_off_become_floor_and_the_rest_keeps_its_pixels():
    rgb, full, grid = _draw(_tshirt(W, H))
    plan = plan_sleeves(grid, "short", "sleeveless")
    assert plan.removed.any() and not plan.extend
    out, changed = reshape_photo(rgb, grid, plan)
    xx = np.abs(np.arange(W) - W / 2)[None, :].repeat(H, 0)
    sleeves = full & (xx > 0.25 * W)
    floor = np.array([150, 110, 70], np.float32)
    # the sleeves are floor now (within the floor's own noise and the inpainting's smoothing)
    assert np.abs(out[sleeves].astype(np.float32) - floor).mean() < 12
    assert np.abs(rgb[sleeves].astype(np.float32) - floor).mean() > 60
    torso = _kept()
    assert np.array_equal(out[torso], rgb[torso]) and (changed[torso] == 0).all()  # bit for bit
    assert np.array_equal(out[changed == 0], rgb[changed == 0])
    assert (changed[sleeves] > 200).mean() > 0.95


def test_sleeves_taken_off_leave_armholes_cut_into_the_shoulders():
    """A sleeveless top's shoulders are narrower than a T-shirt's: taking the sleeves off cuts each armhole in
    from the armpit, up to straps that stand on the shoulders' top; the neck and all below the armpits stay."""
    rgb, full, grid = _draw(_tshirt(W, H))
    plan = plan_sleeves(grid, "short", "sleeveless")
    kept = grid & ~plan.removed
    yy, xx = np.mgrid[0:GRID[0], 0:GRID[1]]
    dx = np.abs(xx - GRID[1] / 2)
    corners = grid & (dx > 0.18 * GRID[1]) & (dx < 0.22 * GRID[1]) & (yy > 0.2 * GRID[0]) & (yy < 0.3 * GRID[0])
    assert corners.sum() > 20 and plan.removed[corners].mean() > 0.95  # the T-shirt's square shoulders go
    straps = grid & (dx > 0.07 * GRID[1]) & (dx < 0.12 * GRID[1]) & (yy < 0.2 * GRID[0])
    assert straps.sum() > 10 and kept[straps].all()  # the straps stay, up to the shoulders' top
    neck = grid & (dx < 0.06 * GRID[1])
    below = grid & (dx < 0.22 * GRID[1]) & (yy > 0.4 * GRID[0])
    assert kept[neck].all() and kept[below].all()
    for y in (0.22, 0.3):  # each row between shoulder and armpit narrower than the T-shirt's body
        row = np.flatnonzero(kept[round(y * GRID[0])])
        assert np.ptp(row) + 1 < 0.4 * GRID[1]
    row = np.flatnonzero(kept[round(0.5 * GRID[0])])
    assert np.ptp(row) + 1 > 0.42 * GRID[1]  # the body keeps its width


def test_long_sleeves_cut_to_short_keep_the_part_by_the_shoulder():
    rgb, full, grid = _draw(_longsleeve())
    plan = plan_sleeves(grid, "long", "short")
    sleeves = grid & ~np.asarray(Image.fromarray(_torso().astype(np.uint8) * 255).resize(GRID[::-1])) > 0
    kept = grid & ~plan.removed
    xx = np.abs(np.arange(GRID[1]) - GRID[1] / 2)[None, :].repeat(GRID[0], 0)
    outer = grid & (xx > 0.3 * GRID[1])  # well out on the sleeves
    assert plan.removed.any() and not (plan.removed & ~grid).any()
    assert (kept & outer).sum() > 0  # a short sleeve stays ...
    assert (plan.removed & outer).sum() > 2 * (kept & outer).sum()  # ... most of the long one goes
    yy = np.arange(GRID[0])[:, None].repeat(GRID[1], 1)
    assert not (plan.removed & (yy < 0.3 * GRID[0])).any()  # the shoulders stay
    out, _ = reshape_photo(rgb, grid, plan)
    cuffs = full & (np.arange(H)[:, None] > 0.55 * H) & (np.abs(np.arange(W) - W / 2)[None, :] > 0.3 * W)
    assert np.abs(out[cuffs].astype(np.float32) - [150, 110, 70]).mean() < 15  # the cuffs' place is floor
    assert sleeves.sum() > 0


def test_a_cuff_apart_from_the_garment_goes_with_its_sleeve():
    _, _, grid = _draw(_longsleeve())
    yy, xx = np.mgrid[0:GRID[0], 0:GRID[1]]
    cuff = (np.abs(yy - 112) <= 3) & (np.abs(xx - 8) <= 4)  # beyond the left sleeve's end, a gap between
    far = (np.abs(yy - 150) <= 3) & (np.abs(xx - 60) <= 4)  # a piece nowhere near a sleeve: not a cuff
    g = grid & ~((np.abs(yy - 104) <= 2) & (xx < 20))  # the gap
    g |= cuff | far
    plan = plan_sleeves(g, "long", "sleeveless")
    assert plan.removed[cuff & g].all() and not plan.removed[far].any()


def test_short_sleeves_made_long_grow_garment_on_the_floor():
    rgb, full, grid = _draw(_tshirt(W, H))
    plan = plan_sleeves(grid, "short", "long")
    assert len(plan.extend) == 2 and not plan.removed.any()
    out, changed = reshape_photo(rgb, grid, plan)
    colour = np.array([40, 80, 190], np.float32)
    new = ~full & (changed > 250)
    assert new.sum() > 0.04 * full.sum()  # a real amount of new sleeve ...
    assert np.abs(out[new].astype(np.float32) - colour).mean() < 20  # ... in the garment's fabric
    assert (np.flatnonzero(new.any(1)).max() > 0.55 * H)  # reaching down past the old sleeves
    both_sides = new[:, : W // 2].sum(), new[:, W // 2:].sum()
    assert min(both_sides) > 0.3 * max(both_sides)
    assert np.array_equal(out[full & (changed == 0)], rgb[full & (changed == 0)])  # the garment keeps its pixels
    assert np.array_equal(out[_torso()], rgb[_torso()])


def _tank(w=W, h=H):
    """Polygon of a sleeveless top laid flat: straps, armholes, straight sides."""
    cx = w / 2
    return [(cx - 0.16 * w, 0.12 * h), (cx - 0.08 * w, 0.12 * h), (cx, 0.2 * h), (cx + 0.08 * w, 0.12 * h),
            (cx + 0.16 * w, 0.12 * h), (cx + 0.2 * w, 0.3 * h), (cx + 0.2 * w, 0.85 * h), (cx - 0.2 * w, 0.85 * h),
            (cx - 0.2 * w, 0.3 * h)]


@pytest.mark.parametrize("target, reach", [("short", 0.45), ("long", 0.6)])
def test_a_sleeveless_garment_gets_sleeves_from_its_armholes_in_plain_fabric(target, reach):
    rgb, full, grid = _draw(_tank())
    # a print on the chest the new sleeves must not be drawn from
    rgb[int(0.35 * H): int(0.55 * H), int(0.42 * W): int(0.58 * W)] = (250, 250, 250)
    plan = plan_sleeves(grid, "sleeveless", target, image=rgb)
    assert len(plan.extend) == 2 and not plan.removed.any()
    out, changed = reshape_photo(rgb, grid, plan)
    new = ~full & (changed > 250)
    rows = np.flatnonzero(new.any(1))
    assert rows.min() < 0.3 * H  # from the armholes ...
    assert rows.max() > reach * H if target == "long" else rows.max() < reach * H  # ... down to the length asked
    cols = np.flatnonzero(new.any(0))
    assert cols.min() < 0.28 * W and cols.max() > 0.72 * W  # out beyond the sides, both of them
    assert np.abs(out[new].astype(np.float32) - [40, 80, 190]).mean() < 20  # the fabric, not the white print
    inside = np.asarray(Image.fromarray(full.astype(np.uint8) * 255).filter(ImageFilter.MinFilter(9))) > 0
    assert np.array_equal(out[inside], rgb[inside])  # the garment keeps its pixels (its edge meets the sleeve)


def test_what_the_outline_cannot_do_is_refused_with_the_reason():
    _, _, grid = _draw(_tshirt(W, H))
    tight = np.zeros(GRID, bool)  # a sleeveless garment filling the frame: no room for a sleeve
    tight[10:150, 1:119] = True
    with pytest.raises(ReshapeError, match="armhole is at the photo's frame"):
        plan_sleeves(tight, "sleeveless", "short")
    with pytest.raises(ReshapeError, match="already read as short"):
        plan_sleeves(grid, "short", "short")
    block = np.zeros(GRID, bool)
    block[20:150, 20:100] = True  # a block: as short sleeves, none stand out
    with pytest.raises(ReshapeError, match="stand out"):
        plan_sleeves(block, "short", "sleeveless")
    edge = np.zeros(GRID, bool)  # a T-shirt cropped at its sleeves' ends
    edge[30:150, 30:90] = True
    edge[30:60, 0:120] = True
    with pytest.raises(ReshapeError, match="runs out of the photo"):
        plan_sleeves(edge, "short", "long")
    with pytest.raises(ValueError, match="not one of"):
        plan_sleeves(grid, "short", "cap")
    plan = plan_sleeves(grid, "short", "sleeveless")
    with pytest.raises(ValueError, match="grid"):
        reshape_photo(np.zeros((H, W, 3), np.uint8), np.zeros((10, 10), bool), plan)
    with pytest.raises(ValueError, match="RGB uint8"):
        reshape_photo(np.zeros((H, W), np.uint8), grid, plan)


def test_a_large_photo_is_reshaped_at_its_own_resolution():
    """The plan on the small grid, the edit at the photo's size: a 4x larger photo gives the same edit, scaled."""
    rgb, full, grid = _draw(_tshirt(W, H))
    big = np.asarray(Image.fromarray(rgb).resize((4 * W, 4 * H), Image.BICUBIC))
    out, changed = reshape_photo(big, grid, plan_sleeves(grid, "short", "long"))
    assert out.shape == big.shape and changed.shape == big.shape[:2]
    small_out, small_changed = reshape_photo(rgb, grid, plan_sleeves(grid, "short", "long"))
    down = np.asarray(Image.fromarray(changed).resize((W, H), Image.BOX), np.float32)
    assert np.abs(down - small_changed).mean() < 6  # the same area changed


def test_editor_reshapes_a_photos_sleeves_and_falls_back_with_a_caveat(tiny_editor_path):
    from amgan.editor import Editor

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    rgb, garment = photo((40, 80, 190), floor=(150, 110, 70), w=W, h=H)
    img = Image.fromarray(rgb)
    res = ed.edit(img, {"sleeve": "sleeveless"}, source={"sleeve": "short"})
    assert res.method == "outline" and res.background_kept and res.image.size == img.size
    out = np.asarray(res.image)
    torso = _kept() & garment
    assert np.array_equal(out[torso], rgb[torso])
    xx = np.abs(np.arange(W) - W / 2)[None, :].repeat(H, 0)
    sleeves = garment & (xx > 0.27 * W)
    assert np.abs(out[sleeves].astype(np.float32) - rgb[sleeves]).sum(-1).mean() > 60
    assert "outline" in res.caveats[0] and not any("Only one sleeve" in c for c in res.caveats)
    assert np.asarray(res.mask).shape == (H, W) and np.asarray(res.cam).shape == (H, W)
    # one short sleeve to be found: not taken off alone (a one-sleeved garment); the photo as it was, and why
    one = rgb.copy()
    one[garment & (np.arange(W) < 0.28 * W)[None, :]] = (150, 110, 70)  # the left sleeve is not there to find
    half = ed.edit(Image.fromarray(one), {"sleeve": "sleeveless"}, source={"sleeve": "short"})
    assert half.method == "none" and np.array_equal(np.asarray(half.image), one)
    assert "only one sleeve stands out" in half.caveats[0] and "lopsided" in half.caveats[0]
    # the generator on request; where the outline cannot, the photo as it was with the reason, or on request
    # the generator's edit with the reason
    assert ed.edit(img, {"sleeve": "sleeveless"}, source={"sleeve": "short"}, sleeve_method="generator").method == \
        "generator"
    kept = ed.edit(img, {"sleeve": "short"}, source={"sleeve": "short"})
    assert kept.method == "none" and np.array_equal(np.asarray(kept.image), rgb)
    assert "already read as short" in kept.caveats[0] and "left as they are" in kept.caveats[0]
    assert not np.asarray(kept.mask).any() and np.asarray(kept.cam).shape == (H, W)
    fallback = ed.edit(img, {"sleeve": "short"}, source={"sleeve": "short"}, sleeve_method="outline+generator")
    assert fallback.method == "generator" and "already read as short" in fallback.caveats[0]
    assert "generator's edit" in fallback.caveats[0]
    from amgan.errors import RequestError

    with pytest.raises(RequestError, match="sleeve_method"):
        ed.edit(img, {"sleeve": "long"}, sleeve_method="gan")


def test_amgan_edit_reshapes_sleeves_and_says_how(tiny_editor_path, tmp_path, capsys):
    import json

    from amgan.cli import main

    rgb, _ = photo((40, 80, 190), floor=(150, 110, 70), w=W, h=H)
    src = tmp_path / "tee.png"
    Image.fromarray(rgb).save(src)
    for method in ("outline", "generator"):
        rc = main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(src), "--edit", "sleeveless",
                   "--source", "sleeve=short", "--sleeve-method", method, "--out", str(tmp_path / f"{method}.png")])
        assert rc == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["method"] == method
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "outline.png")), rgb)
    with pytest.raises(SystemExit):
        main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(src), "--edit", "sleeveless",
              "--sleeve-method", "gan", "--out", str(tmp_path / "x.png")])


def test_any_mask_gives_a_plan_or_a_reason():
    """Ragged GrabCut masks (noise, slivers, a line, empty, full) never fail otherwise: a plan whose change
    stays inside the grid, or a ReshapeError with the reason."""
    rng = np.random.default_rng(0)
    h, w = GRID
    masks = [rng.random((h, w)) > p for p in (0.3, 0.6, 0.95)]
    masks += [np.zeros((h, w), bool), np.ones((h, w), bool), np.eye(h, w, dtype=bool)]
    thin = np.zeros((h, w), bool)
    thin[10:150, 58:61] = True
    thin[60:62, 10:110] = True
    masks.append(thin)
    small = np.zeros((h, w), bool)
    small[70:75, 50:56] = True
    masks.append(small)
    _, _, tee = _draw(_tshirt(W, H))
    masks += [tee[::-1], tee[:, :70], np.pad(tee, ((0, 0), (40, 0)))[:, :w]]  # upside down, cut, shifted
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    photo_ = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    for m in masks:
        for source in ("sleeveless", "short", "long"):
            for target in ("sleeveless", "short", "long"):
                try:
                    plan = plan_sleeves(m, source, target, image=image)
                except ReshapeError as e:
                    assert str(e)
                    continue
                mh, mw = m.shape
                b = int(np.ceil(0.03 * min(mh, mw)))  # GrabCut's frame: garment found there by colour may go too
                inner = np.zeros((mh, mw), bool)
                inner[b:mh - b, b:mw - b] = True
                assert not (plan.removed & ~m & inner).any()
                out, changed = reshape_photo(photo_, m, plan)
                assert out.shape == photo_.shape and changed.any()


@pytest.mark.parametrize("target", ["sleeveless", "short"])
def test_no_piece_of_a_cut_sleeve_is_left_floating(target):
    """Sleeves hanging below the hem: the sleeve finder counts their ends as torso; once the sleeve is cut
    they would float on the floor apart from the body, so they go with it."""
    cx, w, h = W / 2, W, H
    poly = [(cx - 0.18 * w, 0.18 * h), (cx - 0.06 * w, 0.15 * h), (cx + 0.06 * w, 0.15 * h), (cx + 0.18 * w, 0.18 * h),
            (cx + 0.40 * w, 0.9 * h), (cx + 0.30 * w, 0.9 * h), (cx + 0.22 * w, 0.42 * h), (cx + 0.22 * w, 0.75 * h),
            (cx - 0.22 * w, 0.75 * h), (cx - 0.22 * w, 0.42 * h), (cx - 0.30 * w, 0.9 * h), (cx - 0.40 * w, 0.9 * h)]
    rgb, full, grid = _draw(poly)
    plan = plan_sleeves(grid, "long", target, image=rgb)
    import cv2

    n, _ = cv2.connectedComponents((grid & ~plan.removed).astype(np.uint8), connectivity=8)
    assert n - 1 == 1  # one garment, no islands
    out, _ = reshape_photo(rgb, grid, plan)
    ends = full & (np.arange(H)[:, None] > 0.8 * H)
    assert np.abs(out[ends].astype(np.float32) - [150, 110, 70]).mean() < 15  # the sleeves' ends are floor


def test_a_plan_counts_the_sleeves_it_changes(monkeypatch):
    import amgan.reshape as reshape

    _, _, grid = _draw(_tshirt(W, H))
    assert plan_sleeves(grid, "short", "sleeveless").sleeves == 2
    one = grid & (np.arange(GRID[1]) >= 0.28 * GRID[1])[None, :]  # the left sleeve gone: one stands out
    for target in ("sleeveless", "long"):  # a short sleeve alone is not changed: the garment would be lopsided
        with pytest.raises(ReshapeError, match="only one sleeve stands out"):
            plan_sleeves(one, "short", target)
    monkeypatch.setattr(reshape, "ONE_SHORT", True)
    assert plan_sleeves(one, "short", "sleeveless").sleeves == 1
    monkeypatch.undo()
    # a long sleeve spread out on the right, the left one lying along the body with only its top standing out
    rgb, full, long_grid = _draw(_longsleeve())
    xx = np.arange(GRID[1])[None, :]
    yy = np.arange(GRID[0])[:, None]
    lying = long_grid & ((xx >= 0.27 * GRID[1]) | (yy < 0.4 * GRID[0]))
    plan = plan_sleeves(lying, "long", "short")
    # the lying one is cut at its band (both change; the caveat says the seam was a guess)
    assert plan.removed[:, GRID[1] // 2:].any() and plan.removed[:, :GRID[1] // 2].any()
    assert plan.sleeves == 2 and plan.bands
    assert plan_sleeves(long_grid, "long", "short").sleeves == 2


def test_a_sleeve_running_off_the_photo_is_taken_off_up_to_the_frame():
    """GrabCut's mask stops 3% short of the frame; the sleeve found on it goes on to the frame by colour."""
    rgb, full, grid = _draw([(x + 0.22 * W, y) for x, y in _tshirt(W, H)])  # the right sleeve runs off the photo
    b = int(np.ceil(0.03 * min(GRID)))
    g = grid.copy()
    g[:b], g[-b:], g[:, :b], g[:, -b:] = False, False, False, False  # as GrabCut gives it
    band = grid & (np.arange(GRID[1]) >= GRID[1] - b)[None, :]
    assert band.sum() > 50
    plan = plan_sleeves(g, "short", "sleeveless", image=rgb)
    assert (plan.removed & band).sum() > 0.9 * band.sum()
    out, _ = reshape_photo(rgb, g, plan)
    at_frame = full & (np.arange(W) >= W - W * b / GRID[1])[None, :]
    assert np.abs(out[at_frame].astype(np.float32) - [150, 110, 70]).mean() < 12  # floor up to the frame
    torso = np.roll(_kept(), round(0.22 * W), axis=1)  # the shifted garment's torso stays
    assert not (plan.removed & (np.asarray(Image.fromarray(torso).resize(GRID[::-1])) > 0)).any()


def test_what_the_mask_left_of_a_removed_sleeve_goes_too():
    """GrabCut takes the photo's frame as background, so a sleeve reaching the frame loses its end from the
    mask: taken off, that end goes with it (by colour), while the floor and the torso keep their pixels."""
    poly = _longsleeve()
    rgb, full, grid = _draw(poly)
    band = max(1, round(0.1 * GRID[1]))  # the mask misses the outer 10% on either side (the sleeves reach 6%)
    cut = grid.copy()
    cut[:, :band] = cut[:, -band:] = False
    plan = plan_sleeves(cut, "long", "sleeveless")
    out, changed = reshape_photo(rgb, cut, plan)
    ends = full & (np.arange(W)[None, :] < W * band / GRID[1])  # the sleeve's end the mask left out
    assert ends.sum() > 20
    assert np.abs(out[ends].astype(np.float32) - [150, 110, 70]).mean() < 20  # floor now
    assert np.array_equal(out[_kept()], rgb[_kept()])


def test_the_floor_under_a_removed_sleeve_keeps_its_texture():
    """A striped floor: where a sleeve is taken off the stripes run on (high frequencies from a box of floor
    beside it on the inpainting's smooth fill), not a smooth smudge."""
    rgb, full, grid = _draw(_tshirt(W, H))
    stripes = (np.arange(W) // 4 % 2 * 60 - 30)[None, :, None]  # vertical stripes, 8 px period
    floor = ~full
    rgb = np.where(floor[..., None], np.clip(rgb.astype(np.int32) + stripes, 0, 255), rgb).astype(np.uint8)
    out, changed = reshape_photo(rgb, grid, plan_sleeves(grid, "short", "sleeveless"))
    xx = np.abs(np.arange(W) - W / 2)[None, :].repeat(H, 0)
    sleeves = full & (xx > 0.27 * W) & (changed > 250)
    assert sleeves.sum() > 200

    def ripple(img, m):  # mean |difference between neighbouring columns| inside m
        d = np.abs(np.diff(img.astype(np.float32).mean(-1), axis=1))
        return d[m[:, 1:] & m[:, :-1]].mean()

    assert ripple(out, sleeves) > 0.5 * ripple(rgb, floor)


def test_a_colour_with_a_sleeve_length_recolours_then_reshapes(tiny_editor_path):
    """"red with long sleeves": the generator's colour edit, then the outline's sleeves drawn from the
    recoloured garment; the torso is exactly the colour-only edit's."""
    from amgan.editor import Editor

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    rgb, garment = photo((40, 80, 190), floor=(150, 110, 70), w=W, h=H)
    img = Image.fromarray(rgb)
    known = {"sleeve": "short"}
    colour = ed.edit(img, {"color": "red"}, source=known)
    both = ed.edit(img, {"color": "red", "sleeve": "long"}, source=known)
    assert both.method == "generator+outline" and both.request == {"color": "red", "sleeve": "long"}
    assert any("outline" in c for c in both.caveats)
    a, b = np.asarray(colour.image), np.asarray(both.image)
    torso = _torso() & garment
    assert np.array_equal(a[torso], b[torso])
    new = ~garment & (np.abs(b.astype(np.int32) - rgb).sum(-1) > 60)  # garment drawn on the floor
    assert new.sum() > 0.04 * garment.sum()
    assert np.abs(b[new].astype(np.float32) - np.median(a[torso], 0)).sum(-1).mean() < 60  # in the new colour
    assert ed.edit(img, {"color": "red", "sleeve": "long"}, source=known, sleeve_method="generator").method == "generator"
    # sleeves the outline cannot change: the colour alone, and the reason
    same = ed.edit(img, {"color": "red", "sleeve": "short"}, source=known)
    assert same.method == "generator" and "left as they are" in same.caveats[0]
    assert np.array_equal(np.asarray(same.image), a)  # exactly the colour-only edit


def _along_the_body():
    """Grid mask of a long-sleeved top hung up, its sleeves lying along the body down to the hem, their cuffs
    standing out a little beside the waistband (rows 130-150); and the columns of its sleeves' inner edges."""
    g = np.zeros(GRID, bool)
    g[20:150, 20:100] = True  # body and sleeves, one outline
    g[130:150, 16:104] = True  # the cuffs beside the waistband
    g[10:20, 45:75] = True  # the neck
    return g


def test_long_sleeves_along_the_body_are_cut_at_their_bands():
    g = _along_the_body()
    short = plan_sleeves(g, "long", "short")
    off = plan_sleeves(g, "long", "sleeveless")
    assert short.bands and off.bands and short.sleeves == 2 and not short.extend
    cols = np.flatnonzero(short.removed.any(0))
    left, right = cols[cols < 60], cols[cols >= 60]
    # the cut runs down a straight line at the bands' inner edges (22% of the width in from each side) ...
    assert 30 <= left.max() <= 40 and 80 <= right.min() <= 90
    rows = np.flatnonzero(short.removed.any(1))
    # ... from below the short sleeve kept (the band's top 30%) to the hem, the cuffs beside it too
    assert 50 <= rows.min() <= 65 and rows.max() == 149 and short.removed[140, 16] and short.removed[140, 103]
    assert not short.removed[:, 45:75].any()  # the body's middle stays
    assert not short.removed[30:45, 20:100].any()  # the short sleeves stay
    # taken off: the whole band goes, and the armhole cuts into the shoulder
    assert off.removed[30, 22] and off.removed[30, 97] and off.removed.sum() > short.removed.sum()
    assert not off.removed[:, 48:72].any()
    rgb = np.full(GRID + (3,), (150, 110, 70), np.uint8)
    rgb[g] = (40, 80, 190)
    out, changed = reshape_photo(rgb, g, short)
    floor = np.array([150, 110, 70], np.float32)
    assert np.abs(out[100:125, 22:28].astype(np.float32) - floor).mean() < 12  # the band below the cut is floor
    assert np.array_equal(out[60:120, 50:70], rgb[60:120, 50:70])


def test_an_edit_of_sleeves_along_the_body_says_how_they_were_cut():
    from amgan.editor import BANDS_NOTE, _outline_notes

    notes = _outline_notes(plan_sleeves(_along_the_body(), "long", "short"))
    assert BANDS_NOTE in notes
    assert BANDS_NOTE not in _outline_notes(plan_sleeves(_draw(_longsleeve())[2], "long", "short"))


def test_a_band_taken_off_is_filled_from_the_floor_beside_it():
    # a striped floor: the fill under a removed band continues the stripes (mirrored from beyond the garment's
    # edge) instead of a smooth smear
    g = _along_the_body()
    h, w = GRID
    stripes = np.where((np.arange(w) // 2) % 2 == 0, 90, 210).astype(np.uint8)
    rgb = np.repeat(np.repeat(stripes[None, :, None], h, 0), 3, 2).copy()
    rgb[g] = (40, 80, 190)
    out, changed = reshape_photo(rgb, g, plan_sleeves(g, "long", "sleeveless", image=rgb))
    fill = out[90:125, 16:24].astype(np.float32)  # inside the old left band, below the armhole
    assert (changed[90:125, 16:24] > 250).all()
    assert fill.std() > 35  # stripes, not a smear
    assert np.abs(fill - np.array([40, 80, 190], np.float32)).sum(-1).min() > 100  # and floor, not the garment's blue


def test_one_sleeve_standing_out_and_one_along_the_body_are_both_cut():
    g = np.zeros(GRID, bool)
    g[20:150, 30:90] = True  # the body, its left sleeve lying along it (no protrusion on the left)
    g[10:20, 50:70] = True
    for i in range(70):  # the right sleeve spread down and outwards
        g[25 + i, 88 + i // 3: 100 + i // 3] = True
    plan = plan_sleeves(g, "long", "short")
    assert plan.sleeves == 2 and plan.bands
    left = plan.removed[:, :60]
    assert left[100:140, 31:40].all() and not left[100:140, 50:60].any()  # the left band below its top goes
    assert plan.removed[80:95, 105:120].any()  # the right sleeve's far part goes


def test_editor_cuts_sleeves_along_the_body_and_says_so(tiny_editor_path):
    from amgan.editor import BANDS_NOTE, Editor

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    g = np.asarray(Image.fromarray(_along_the_body().astype(np.uint8) * 255).resize((W, H), Image.NEAREST)) > 0
    rng = np.random.default_rng(2)
    rgb = np.clip(rng.normal(0, 4, (H, W, 3)) + np.where(g[..., None], (40, 80, 190), (150, 110, 70)), 0, 255)
    rgb = rgb.astype(np.uint8)
    res = ed.edit(Image.fromarray(rgb), {"sleeve": "short"}, source={"sleeve": "long", "category": "top"})
    assert res.method == "outline" and BANDS_NOTE in res.caveats
    out = np.asarray(res.image).astype(np.float32)
    floor = np.array([150, 110, 70], np.float32)
    assert np.abs(out[200:250, 44:60] - floor).sum(-1).mean() < 40  # the left band below the cut is floor now
    assert np.array_equal(out[120:250, 100:140], rgb[120:250, 100:140])  # the body's middle keeps its pixels
    # the reading (or the person) says dress: the cut stops where a dress's sleeves end, the skirt stays
    dress = ed.edit(Image.fromarray(rgb), {"sleeve": "short"}, source={"sleeve": "long", "category": "dress"})
    assert np.array_equal(np.asarray(dress.image)[230:, 30:60], rgb[230:, 30:60])


def test_a_dress_keeps_its_skirt_when_its_sleeves_along_the_body_are_cut():
    from amgan.reshape import BAND_DRESS

    g = _along_the_body()
    top = plan_sleeves(g, "long", "sleeveless")
    dress = plan_sleeves(g, "long", "sleeveless", category="dress")
    ys = np.nonzero(g)[0]
    lowest = ys.min() + BAND_DRESS * (ys.max() - ys.min() + 1)
    rows = np.flatnonzero(dress.removed.any(1))
    assert rows.max() <= lowest + 1 and np.flatnonzero(top.removed.any(1)).max() == 149  # a top: to the hem
    assert dress.removed[60:80].any() and not dress.removed[int(lowest) + 2:].any()
