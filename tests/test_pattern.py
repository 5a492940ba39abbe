"""Pattern edits of photos drawn on the garment (amgan.pattern) and through Editor.edit."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from amgan.pattern import DRAWN_PATTERNS, PatternError, draw_pattern, ground_like, ink_colour, layout
from test_clothing import photo

W, H = 240, 320
FLOOR = (150, 110, 70)


def _work(rgb, side=160):
    return np.asarray(Image.fromarray(rgb).resize((round(rgb.shape[1] * side / max(rgb.shape[:2])),
                                                   round(rgb.shape[0] * side / max(rgb.shape[:2]))), Image.BOX))


def _grid(mask, side=160):
    h, w = mask.shape
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(
        (round(w * side / max(h, w)), round(h * side / max(h, w))), Image.BILINEAR)) > 127


def _torso(garment):
    """The garment's middle, well inside its edges (the matte's soft edge left out)."""
    xx = np.abs(np.arange(W) - W / 2)[None, :].repeat(H, 0)
    yy = np.arange(H)[:, None].repeat(W, 1)
    return garment & (xx < 0.15 * W) & (yy > 0.25 * H) & (yy < 0.8 * H)


def test_stripes_are_drawn_on_the_garment_in_its_shading_and_the_floor_keeps_its_pixels():
    rgb, garment = photo((200, 40, 40), floor=FLOOR, w=W, h=H)
    out, changed = draw_pattern(rgb, _work(rgb), _grid(garment), "striped")
    floor = ~garment
    far = floor & ~(np.asarray(Image.fromarray(garment.astype(np.uint8) * 255).filter(
        __import__("PIL.ImageFilter", fromlist=["MaxFilter"]).MaxFilter(9))) > 0)
    assert np.array_equal(out[far], rgb[far]) and not changed[far].any()  # the floor, bit for bit
    t = _torso(garment)
    # horizontal stripes: along a column of the torso the luma alternates between the red and the light ink
    col = out[:, W // 2].astype(np.float32) @ [0.299, 0.587, 0.114]
    rows = np.flatnonzero(t[:, W // 2])
    inked = col[rows] > 150
    assert 0.25 < inked.mean() < 0.6  # a stripe duty of 40%, anti-aliased
    assert np.count_nonzero(np.diff(inked.astype(int)) == 1) >= 4  # several stripes, not one band
    # along a row the pattern does not change (stripes run across)
    row = int(rows[np.argmax(inked)])
    line = out[row, t[row]].astype(np.float32)
    assert np.abs(line - line.mean(0)).mean() < 15
    # the ink takes the photo's shading: the photo's light falloff from top to bottom shows in the ink
    ink_rows = rows[inked]
    top, bottom = out[ink_rows[:3], W // 2].mean(), out[ink_rows[-3:], W // 2].mean()
    assert top < bottom  # the photo() light grows downwards (0.9 -> 1.05)


def test_every_drawn_pattern_changes_the_garment_and_only_it():
    rgb, garment = photo((30, 40, 70), floor=FLOOR, w=W, h=H)
    t = _torso(garment)
    for p in DRAWN_PATTERNS:
        out, changed = draw_pattern(rgb, _work(rgb), _grid(garment), p)
        share = (np.abs(out[t].astype(int) - rgb[t]).sum(-1) > 90).mean()
        assert 0.1 < share < 0.8, (p, share)  # a pattern, neither nothing nor a new colour all over
        assert changed[t].max() == 255 and changed[~garment].mean() < 5
    with pytest.raises(ValueError, match="not drawn"):
        layout("solid", np.zeros(3, np.float32), np.zeros(3, np.float32), (0, 10, 0, 10))
    with pytest.raises(PatternError, match="no garment"):
        draw_pattern(rgb, _work(rgb), np.zeros((160, 120), bool), "dotted")


def test_a_print_stays_on_top_of_the_pattern():
    rgb, garment = photo((235, 235, 230), floor=FLOOR, w=W, h=H)
    rgb = rgb.copy()
    d = ImageDraw.Draw(im := Image.fromarray(rgb))
    d.rectangle([100, 140, 140, 180], fill=(190, 30, 140))  # a magenta logo on the chest
    rgb = np.asarray(im)
    out, _ = draw_pattern(rgb, _work(rgb), _grid(garment), "striped")
    logo = np.zeros((H, W), bool)
    logo[143:178, 103:138] = True
    assert np.abs(out[logo].astype(int) - rgb[logo]).max() <= 1
    # a shade of the ground is ground, a different hue or a far lighter / darker pixel is a print
    g = np.array([200, 40, 40], np.float32)
    like = ground_like(np.array([[200, 40, 40], [120, 24, 24], [40, 200, 40], [20, 4, 4]], np.float32), g, 82.0)
    assert like[0] > 0.9 and like[1] > 0.9 and like[2] < 0.1 and like[3] < 0.1


def test_the_ink_stands_out_from_the_garment():
    dark, _ = ink_colour(np.array([240, 240, 235]))
    light, _ = ink_colour(np.array([20, 30, 60]))
    assert dark.mean() < 100 and light.mean() > 200
    _, accent = ink_colour(np.array([232, 190, 50]))  # a yellow garment's flowers are not yellow-centred
    assert np.abs(accent - [232, 188, 52]).sum() > 100


def test_a_large_photo_gets_a_pattern_at_its_own_resolution():
    rgb, garment = photo((200, 40, 40), floor=FLOOR, w=W * 5, h=H * 5)
    out, changed = draw_pattern(rgb, _work(rgb, 640), _grid(garment), "checked")
    assert out.shape == rgb.shape and changed.shape == rgb.shape[:2]
    # stripe edges are sharp at full size: an inked run's edge rises within a few pixels
    col = out[:, rgb.shape[1] // 2].astype(np.float32).mean(-1)
    steps = np.abs(np.diff(col[400:1200]))
    assert steps.max() > 60


def test_editor_draws_a_pattern_on_a_photo_and_says_how(tiny_editor_path):
    from amgan.editor import Editor
    from amgan.errors import RequestError

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    rgb, garment = photo((40, 80, 190), floor=FLOOR, w=W, h=H)
    img = Image.fromarray(rgb)
    res = ed.edit(img, {"pattern": "striped"})
    assert res.method == "drawn" and res.background_kept and res.image.size == img.size
    assert "drawn on the garment" in res.caveats[0]
    assert res.request == {"pattern": "striped"} and res.target_attributes["pattern"] == "striped"
    out = np.asarray(res.image)
    t = _torso(garment)
    assert (np.abs(out[t].astype(int) - rgb[t]).sum(-1) > 90).mean() > 0.2
    assert np.asarray(res.mask).shape == (H, W) and np.asarray(res.cam).shape == (H, W)
    # the generator on request, for "solid", and for a region edit
    assert ed.edit(img, {"pattern": "striped"}, pattern_method="generator").method == "generator"
    assert ed.edit(img, {"pattern": "solid"}).method == "generator"
    assert ed.edit(img, {"pattern": "dotted"}, region="torso").method == "generator"
    # a colour and a pattern: the colour by the generator, the pattern drawn on the new colour
    both = ed.edit(img, "red and dotted")
    assert both.method == "generator+drawn" and both.request == {"color": "red", "pattern": "dotted"}
    with pytest.raises(RequestError, match="pattern_method"):
        ed.edit(img, {"pattern": "striped"}, pattern_method="paint")


def test_amgan_edit_draws_patterns_and_says_how(tiny_editor_path, tmp_path, capsys):
    import json

    from amgan.cli import main

    rgb, _ = photo((40, 80, 190), floor=FLOOR, w=W, h=H)
    src = tmp_path / "tee.png"
    Image.fromarray(rgb).save(src)
    for method, said in (("drawn", "drawn"), ("generator", "generator")):
        rc = main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(src), "--edit", "striped",
                   "--pattern-method", method, "--out", str(tmp_path / f"{method}.png")])
        assert rc == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["method"] == said
    with pytest.raises(SystemExit):
        main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(src), "--edit", "striped",
              "--pattern-method", "paint", "--out", str(tmp_path / "x.png")])
