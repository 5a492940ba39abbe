"""The Editor's input handling, region edits, the edit CLI, and the acceptance evaluation."""
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from amgan.attributes import SchemaError
from amgan.editor import Editor
from amgan.errors import ImageError


@pytest.fixture(scope="module")
def editor(tiny_editor_path):
    return Editor.from_checkpoint(tiny_editor_path, device="cpu")


@pytest.fixture(scope="module")
def shop_image(synth_tiny):
    return Image.open(next((synth_tiny / "images").glob("*_shop.png"))).copy()


def test_predict_gives_probabilities_per_group(editor, shop_image):
    p = editor.predict(shop_image)
    assert list(p) == list(editor.schema.names)
    for g in editor.schema.groups:
        assert list(p[g.name]) == list(g.values)
        assert abs(sum(p[g.name].values()) - 1) < 1e-3


@pytest.mark.parametrize("mode,size", [("RGB", (32, 32)), ("RGBA", (50, 30)), ("L", (40, 64)), ("P", (33, 17)),
                                       ("RGB", (300, 200))])
def test_edit_any_size_and_mode_returns_input_size(editor, shop_image, mode, size):
    im = shop_image.resize(size).convert(mode)
    res = editor.edit(im, {"color": "red"})
    assert res.image.size == size and res.image.mode == "RGB"
    assert res.mask.size == size and res.mask.mode == "L" and res.cam.size == size
    assert res.request == {"color": "red"} and set(res.timings) >= {"generate", "classify"}


class _HalfMaskG(torch.nn.Module):
    """z = white (or ``paint``), a = 1 on the left half, 0 on the right: a known mask."""

    def __init__(self, paint=(1.0, 1.0, 1.0)):
        super().__init__()
        self.paint = torch.tensor(paint, dtype=torch.float32).view(1, 3, 1, 1)

    def forward(self, x, c, m):
        a = torch.zeros_like(x[:, :1])
        a[..., : x.shape[-1] // 2] = 1.0
        z = torch.zeros_like(x) + self.paint
        return a * z + (1 - a) * x, z, a


def test_edit_restores_at_full_resolution_and_keeps_unmasked_pixels(tiny_editor_path, shop_image):
    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    ed.G = _HalfMaskG()
    im = shop_image.resize((96, 96), Image.BICUBIC).convert("RGB")
    res = ed.edit(im, "make it blue with long sleeves", sleeve_method="generator")
    out, inp = np.asarray(res.image).astype(int), np.asarray(im).astype(int)
    # an outline edit brings the change smoothed by one model pixel (3 px here, the mask's edge is at 48):
    # beyond three of those the photo's pixels are kept exactly
    assert np.array_equal(out[:, 58:], inp[:, 58:]), "pixels outside the mask must be the input's, at full detail"
    # inside the mask the edit's colour (white) comes on the garment; the photo's fine detail stays (small
    # wiggles). Beyond the photo's garment mask only new garment or garment the mask left out takes the edit
    # (outline_added): white on the white floor is not a new sleeve
    mask = np.asarray(res.mask)
    left, on = out[:, :40], mask[:, :40] == 255
    garment = inp[:, :40].mean(-1) < 200
    assert on.mean() > 0.3  # the edit is applied in full on the garment under the attention ...
    assert (left[garment] - inp[:, :40][garment]).mean(-1).mean() > 100  # ... which turned much lighter
    assert res.request == {"color": "blue", "sleeve": "long"}
    assert mask[:, 56:].max() == 0


def test_region_edits(editor, shop_image):
    x = shop_image.convert("RGB")
    sleeves = editor.edit(x, {"color": "green"}, region="sleeves")
    torso = editor.edit(x, {"color": "green"}, region="torso")
    whole = editor.edit(x, {"color": "green"})
    ms, mt, mw = (np.asarray(r.mask, float) for r in (sleeves, torso, whole))
    assert np.all(ms <= mw + 1) and np.all(mt <= mw + 1)
    assert np.all(np.minimum(ms, mt) <= 1), "sleeve and torso masks must not overlap"
    with pytest.raises(ValueError, match="cannot change the sleeve length"):
        editor.edit(x, {"sleeve": "long"}, region="torso")
    with pytest.raises(ValueError, match="unknown region"):
        editor.edit(x, {"color": "red"}, region="collar")


@pytest.mark.parametrize("bad,err,needle", [
    (None, ImageError, "expected an image"),
    ("photo.png", ImageError, "image not found: photo.png"),
    (b"not an image", ImageError, "not a readable image"),
    (np.zeros((8, 8, 3), np.uint8), ValueError, "at least 16 pixels"),
    (np.zeros((20, 20, 5), np.uint8), ValueError, "HxWx3"),
    (np.zeros((20, 20, 3), np.int32), ValueError, "uint8 or float"),
])
def test_bad_images_are_clear_errors(editor, bad, err, needle):
    with pytest.raises(err, match=needle):
        editor.edit(bad, {"color": "red"})


@pytest.mark.parametrize("req,needle", [({"shade": "red"}, "unknown attribute group"),
                                        ({"color": "magenta"}, "unknown value"), ({}, "nothing requested"),
                                        ("make it sparkly", "no attribute value")])
def test_bad_requests_are_clear_errors(editor, shop_image, req, needle):
    with pytest.raises(SchemaError, match=needle):
        editor.edit(shop_image, req)


def test_known_source_attributes_replace_the_classifier_reading(editor, shop_image):
    from amgan.conditioning import group_onehot, manip_onehot

    plain = editor.edit(shop_image, {"color": "red"})
    other = next(v for v in editor.schema.group("pattern").values if v != plain.source_attributes["pattern"])
    res = editor.edit(shop_image, {"color": "red"}, source={"Pattern": other.upper()}, keep_background=False)
    assert res.source_attributes == {**plain.source_attributes, "pattern": other}
    # the generator is conditioned on the given pattern: the same pass by hand
    x, _, geom = editor.processor.preprocess(shop_image)
    labels = torch.from_numpy(np.array([editor.schema.encode(res.source_attributes)], dtype=np.int64))
    labels[0, editor.schema.group_index("color")] = editor.schema.group("color").index("red")
    with torch.no_grad():
        _, _, a = editor.G(x, manip_onehot(labels, editor.schema), group_onehot("color", editor.schema, 1, x.device))
    known = torch.from_numpy(np.array([editor.schema.encode(res.source_attributes)], dtype=np.int64))
    assert torch.allclose(editor.edit_batch(x, {"color": "red"}, source=known).a, a)
    # on the photo (no garment gate) the mask is that attention, smoothed along the photo's edges
    full = editor.processor.restore(a, geom).clamp(0, 1)[0, 0].numpy()
    assert np.abs(np.asarray(res.mask, np.float32) / 255 - full).mean() < 0.03
    with pytest.raises(SchemaError, match="unknown attribute group"):
        editor.edit(shop_image, {"color": "red"}, source={"fabric": "silk"})
    with pytest.raises(SchemaError, match="unknown value"):
        editor.edit(shop_image, {"color": "red"}, source={"pattern": "paisley"})
    with pytest.raises(SchemaError, match="mapping"):
        editor.edit(shop_image, {"color": "red"}, source=["pattern", "striped"])


def test_a_photo_is_read_once_and_its_cam_is_that_of_the_reading(tiny_editor_path, shop_image):
    """Editor.edit runs the classifier's trunk once: the reading and the CAM come from the same map
    (a second pass cost ~27 ms of a 293-ms edit on the CPU), and the CAM is the one of
    ``AttributeClassifier.cam`` for the edited group's source value."""
    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    traced = ed.C._traced_read  # the read traced at load runs the trunk inside the trace: counted eagerly here
    assert traced is not None
    fast = ed.edit(shop_image, {"pattern": "striped"}, keep_background=False)
    ed.C._traced_read = None
    calls, cams = [], []
    trunk, cam_from_map = ed.C._trunk, ed.C.cam_from_map
    ed.C._trunk = lambda x, n=None: calls.append(tuple(x.shape)) or trunk(x, n)
    ed.C.cam_from_map = lambda *a, **k: cams.append(cam_from_map(*a, **k)) or cams[-1]
    res = ed.edit(shop_image, {"pattern": "striped"}, keep_background=False)
    assert len(calls) == 1 and len(cams) == 1
    assert np.array_equal(np.asarray(res.image), np.asarray(fast.image))  # the traced read: the same edit
    x, _, _ = ed.processor.preprocess(shop_image)
    gi = ed.schema.group_index("pattern")
    value = torch.tensor([ed.schema.group("pattern").index(res.source_attributes["pattern"])])
    with torch.no_grad():
        want = trunk.__self__.cam(x, gi, value, size=ed.size)
    torch.testing.assert_close(cams[0], want)


def test_float_and_gray_arrays_are_accepted(editor):
    arr = np.random.default_rng(0).random((24, 40, 3))
    assert editor.edit(arr, {"color": "red"}).image.size == (40, 24)
    assert editor.edit((arr[..., 0] * 255).astype(np.uint8), {"color": "red"}).image.size == (40, 24)


def test_edit_cli_single_and_manifest(tiny_editor_path, synth_tiny, tmp_path, capsys):
    from amgan.cli import main

    src = next((synth_tiny / "images").glob("*_shop.png"))
    rc = main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(src), "--edit", "color=red,sleeve=long",
               "--region", "whole", "--out", str(tmp_path / "o.png"), "--mask-out", str(tmp_path / "m.png")])
    assert rc == 0 and Image.open(tmp_path / "o.png").size == (32, 32) and Image.open(tmp_path / "m.png").mode == "L"
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["request"] == {"color": "red", "sleeve": "long"}
    # --even-colour: one dye for this edit (the same picture as the editor's colour_spread=1)
    assert main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(src), "--edit", "red",
                 "--even-colour", "1", "--out", str(tmp_path / "even.png")]) == 0
    even_ref = Editor.from_checkpoint(tiny_editor_path).edit(str(src), {"color": "red"}, colour_spread=1.0).image
    assert np.abs(np.asarray(Image.open(tmp_path / "even.png")).astype(int) - np.asarray(even_ref).astype(int)).max() <= 1
    capsys.readouterr()
    # the old --set still works, with a deprecation note; the output format follows the suffix
    assert main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(src), "--set", "red",
                 "--out", str(tmp_path / "o.jpg")]) == 0
    assert "deprecated" in capsys.readouterr().err and Image.open(tmp_path / "o.jpg").format == "JPEG"
    for bad_out, needle in ((tmp_path / "o.gifx", "unknown image type"), (tmp_path, "is a folder")):
        assert main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(src), "--edit", "red",
                     "--out", str(bad_out)]) == 2
        assert needle in capsys.readouterr().err
    assert main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(tmp_path / "nope.png"), "--edit", "red",
                 "--out", str(tmp_path / "x.png")]) == 2
    (tmp_path / "not.png").write_text("hello")
    assert main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(tmp_path / "not.png"), "--edit", "red",
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "not a readable image" in capsys.readouterr().err
    rc = main(["edit", "--checkpoint", str(tiny_editor_path), "--manifest", str(synth_tiny / "manifest.csv"),
               "--edit", "color=blue", "--region", "torso", "--source", "Sleeves=Short", "--out", str(tmp_path / "batch")])
    assert rc == 0 and len(list((tmp_path / "batch" / "edits").rglob("*.png"))) == 80
    rows = list(csv.DictReader(open(tmp_path / "batch" / "edits.csv")))
    assert len(rows) == 80 and all(r["source_sleeve"] == "short" for r in rows)
    assert all((tmp_path / "batch" / r["edit"]).is_file() for r in rows)


def test_checkpoint_kind_is_checked(tiny_setup):
    from amgan.checkpoint import CheckpointError

    root, _ = tiny_setup
    with pytest.raises(CheckpointError, match="expected 'amgan-editor'"):
        Editor.from_checkpoint(root / "classifier.pt")
    with pytest.raises(CheckpointError, match="not found"):
        Editor.from_checkpoint(root / "missing.pt")


def test_acceptance_evaluation_end_to_end(tiny_editor_path, tiny_setup, synth_tiny, tmp_path):
    from amgan.config import load_config
    from amgan.evaluate import main as eval_main
    from amgan.train_classifier import train_classifier

    _, sets = tiny_setup
    ev = tmp_path / "evaluator.pt"
    train_classifier(load_config("configs/test_tiny.yaml", sets), ev, seed=1, progress=False)
    assert eval_main(["--editor", str(tiny_editor_path), "--evaluator", str(ev), "--data", str(synth_tiny),
                      "--out", str(tmp_path / "ev")]) == 0
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert set(m["per_group"]) == {"color", "pattern", "sleeve", "neckline"}
    # the summary is the per-group numbers put together, each a count over the edits of its group
    groups = m["per_group"].values()
    assert m["n_edits"] == sum(g["n"] for g in groups) > 0
    assert m["edit_accuracy_mean"] == pytest.approx(np.mean([g["edit_accuracy"] for g in groups]), abs=1e-4)
    for g in groups:
        assert g["edit_accuracy"] * g["n"] == pytest.approx(round(g["edit_accuracy"] * g["n"]), abs=0.01)
    assert (tmp_path / "ev" / "samples.png").exists()


def test_fp16_export_is_checked_and_loads(tiny_editor_path, synth_tiny, tmp_path):
    import torch

    from amgan.export import export_editor

    rep = export_editor(tiny_editor_path, tmp_path / "e16", check_data=synth_tiny)
    assert rep["classifier_flips"] == 0 and rep["max_group_diff"] <= 1 / 255
    assert sorted(f.name for f in (tmp_path / "e16").iterdir()) == ["MODEL_CARD.md", "config.json", "weights.pt"]
    w = torch.load(tmp_path / "e16" / "weights.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in w["G"].values() if v.is_floating_point())
    ed = Editor.from_checkpoint(tmp_path / "e16", device="cpu")
    assert next(ed.G.parameters()).dtype == torch.float32
    # the folder edits like the fp32 original, within the export's tolerance
    ed32 = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    img = Image.open(next((synth_tiny / "images").iterdir()))
    d = np.abs(np.asarray(ed.edit(img, "make it red").image, np.float32) - np.asarray(ed32.edit(img, "make it red").image, np.float32))
    assert d.mean() / 255 <= 1 / 255
    with pytest.raises(ValueError, match="not lossless enough"):
        export_editor(tiny_editor_path, tmp_path / "x", check_data=synth_tiny, tolerance=-1.0)
    assert not (tmp_path / "x").exists()


def test_region_edits_change_their_region_on_true_region_maps():
    """The shipped editor on SynthFashion renders with exact region maps: a sleeves-only colour edit
    changes the sleeves and leaves the torso; a torso-only edit the other way round."""
    from dataclasses import replace

    from amgan.data.synth import REGIONS, render, sample_specs

    ed = Editor.from_checkpoint("checkpoints/amgan_synth64", device="cpu")
    specs = [replace(s, sleeve="long", color="white", pattern="solid") for s in sample_specs(6, seed=11)]
    ins, outs = {"sleeves": [], "torso": []}, {"sleeves": [], "torso": []}
    for spec in specs:
        rgb, reg = render(spec, "shop", 64)
        sleeves = reg == REGIONS["sleeves"]
        torso = np.isin(reg, [REGIONS["torso"], REGIONS["skirt"]])
        for region, inside, outside in (("sleeves", sleeves, torso), ("torso", torso, sleeves)):
            out = np.asarray(ed.edit(rgb, {"color": "red"}, region=region).image, np.float32)
            diff = np.abs(out - rgb.astype(np.float32)).mean(-1) / 255
            ins[region].append(diff[inside].mean())
            outs[region].append(diff[outside].mean())
    si, so = float(np.mean(ins["sleeves"])), float(np.mean(outs["sleeves"]))
    assert si > 0.05 and si > 5 * so, (si, so)  # the sleeves change, the torso barely does
    # torso-only edits leak into the sleeves: the paper's sleeve mask (attention of a "sleeveless" edit
    # > 0.9) misses part of each sleeve, and what it misses counts as torso (measured: 0.49 vs 0.22)
    ti, to = float(np.mean(ins["torso"])), float(np.mean(outs["torso"]))
    assert ti > 0.05 and ti > 2 * to, (ti, to)


def test_colour_edits_keep_the_background_of_a_photo(tiny_editor_path):
    """keep_background gates a colour edit by the photo's garment mask: the floor keeps its pixels
    even where the generator's attention covers it; a sleeve edit is gated by the garment or the attention."""
    from PIL import ImageDraw

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    ed.G = _HalfMaskG()  # white, with a = 1 on the whole left half: garment and floor alike
    photo = Image.new("RGB", (200, 260), (120, 110, 100))  # a floor
    ImageDraw.Draw(photo).rectangle((50, 60, 150, 200), fill=(200, 30, 40))  # a red garment in the middle
    x = np.asarray(photo, np.float32)
    floor = np.zeros((260, 200), bool)
    floor[:, :30] = True  # the left floor strip, inside the attention mask
    garment = np.zeros((260, 200), bool)
    garment[80:180, 60:95] = True  # the garment's left part, inside the attention mask
    gated = ed.edit(photo, {"color": "blue"})
    plain = ed.edit(photo, {"color": "blue"}, keep_background=False)
    dg = np.abs(np.asarray(gated.image, np.float32) - x).mean(-1)
    dp = np.abs(np.asarray(plain.image, np.float32) - x).mean(-1)
    assert gated.background_kept and not plain.background_kept
    assert dp[floor].mean() > 50 and dg[floor].mean() < 2  # the floor changed without the gate, not with it
    assert dg[garment].mean() > 50  # the garment still changes
    # a sleeve edit adds garment: beyond the garment, floor under the attention that the edit paints in the
    # garment's colour is a new sleeve and shows; painted white (away from the garment's colour) it is the
    # generator's tint, not a sleeve, and the floor keeps its pixels; the floor outside the attention always does
    ed.G = _HalfMaskG(paint=(0.8, 0.15, 0.17))  # the garment's red
    sleeve = ed.edit(photo, {"sleeve": "long"}, sleeve_method="generator")
    ds = np.abs(np.asarray(sleeve.image, np.float32) - x).mean(-1)
    assert sleeve.background_kept and ds[floor].mean() > 50
    assert np.array_equal(np.asarray(sleeve.image)[:, 170:], np.asarray(photo)[:, 170:])
    ed.G = _HalfMaskG()
    tint = np.abs(np.asarray(ed.edit(photo, {"sleeve": "long"}, sleeve_method="generator").image, np.float32) - x).mean(-1)
    assert tint[floor].mean() < 2


def test_attention_floor_cuts_faint_attention_and_round_trips_in_the_model_folder(tiny_editor_path, tmp_path):
    from amgan.checkpoint import CheckpointError
    from amgan.pretrained import load_pretrained, save_pretrained

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    assert ed.attention_floor == 0.0
    x = torch.rand(4, 3, ed.size, ed.size, generator=torch.Generator().manual_seed(0))
    plain = ed.edit_batch(x, {"color": "red"}, cam=False)
    ed.attention_floor = 0.3
    cut = ed.edit_batch(x, {"color": "red"}, cam=False)
    faint, strong = plain.a < 0.3, plain.a >= 0.6
    assert faint.any()
    assert (cut.a[faint] == 0).all() and torch.equal(cut.a[strong], plain.a[strong])
    assert torch.equal(cut.y.expand_as(x)[faint.expand_as(x)], x[faint.expand_as(x)])  # no change where a < t
    # saved with the model: a folder whose config says so loads with it; a bad value is a clear error
    p = load_pretrained(tiny_editor_path)
    p.model["editor"] = {"attention_floor": 0.3}
    save_pretrained(tmp_path / "ed", p)
    assert Editor.from_checkpoint(tmp_path / "ed", device="cpu").attention_floor == 0.3
    p.model["editor"] = {"attention_floor": 0.7}
    save_pretrained(tmp_path / "bad", p)
    with pytest.raises(CheckpointError, match="attention_floor must be in"):
        Editor.from_checkpoint(tmp_path / "bad", device="cpu")
    # colour_spread (amgan.composite.recolour_maps) is saved and checked the same way
    p.model["editor"] = {"attention_floor": 0.2, "colour_spread": 1.0}
    save_pretrained(tmp_path / "spread", p)
    assert Editor.from_checkpoint(tmp_path / "spread", device="cpu").colour_spread == 1.0
    assert Editor.from_checkpoint(tmp_path / "ed", device="cpu").colour_spread == 0.0
    p.model["editor"] = {"colour_spread": 1.5}
    save_pretrained(tmp_path / "bad_spread", p)
    with pytest.raises(CheckpointError, match="colour_spread must be in"):
        Editor.from_checkpoint(tmp_path / "bad_spread", device="cpu")


def test_an_edit_leaves_the_garment_mask_a_core_and_restores_torch_threads(tiny_editor_path, shop_image):
    """While GrabCut runs beside the models, torch uses one thread fewer (at least 1); the count comes
    back after the edit, after a failed edit and after concurrent edits, and is left alone without a mask."""
    import threading

    from amgan.editor import _core_for_mask

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        seen = []
        with _core_for_mask(True):
            seen.append(torch.get_num_threads())
            with _core_for_mask(True):  # a second edit at the same time shares the reduction
                seen.append(torch.get_num_threads())
            seen.append(torch.get_num_threads())
        with _core_for_mask(False):
            seen.append(torch.get_num_threads())
        assert seen == [2, 2, 2, 3] and torch.get_num_threads() == 3
        with pytest.raises(Exception):
            ed.edit(shop_image, {"color": "no-such-colour"})
        assert torch.get_num_threads() == 3
        errors = []

        def work():
            try:
                ed.edit(shop_image, {"color": "red"})
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors and torch.get_num_threads() == 3
        torch.set_num_threads(1)
        with _core_for_mask(True):
            assert torch.get_num_threads() == 1  # never below one
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


class _ThreadTintG(torch.nn.Module):
    """Paints the whole square a grey that depends on torch's thread count (as the int8 kernels' rounding
    does) and counts its passes."""

    def __init__(self):
        super().__init__()
        self.passes = []

    def forward(self, x, c, m):
        self.passes.append(torch.get_num_threads())
        a = torch.ones_like(x[:, :1])
        z = torch.zeros_like(x) + 0.2 * torch.get_num_threads()
        return z, z, a


def test_a_colour_edit_is_generated_beside_grabcut_and_does_not_depend_on_which_finishes_first(
        tiny_editor_path, monkeypatch):
    """A whole-garment colour edit is generated from the classifier's reading while GrabCut runs, on the
    threads GrabCut leaves, once; whether the mask comes before or after the classifier, the edit is the same."""
    import time

    import amgan.editor as editor_module
    from PIL import ImageDraw

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    ed.G = _ThreadTintG()
    photo = Image.new("RGB", (200, 260), (120, 110, 100))
    ImageDraw.Draw(photo).rectangle((50, 60, 150, 200), fill=(200, 30, 40))
    found = editor_module.garment_mask_small
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        read = ed.C.read
        monkeypatch.setattr(ed.C, "read", lambda x: time.sleep(0.3) or read(x))  # the mask comes first
        fast = ed.edit(photo, {"color": "blue"})
        monkeypatch.setattr(ed.C, "read", read)
        monkeypatch.setattr(editor_module, "garment_mask_small", lambda *a: time.sleep(0.3) or found(*a))
        slow = ed.edit(photo, {"color": "blue"})  # the classifier comes first
        assert ed.G.passes == [1, 1]  # one pass an edit, beside GrabCut (one core left to torch)
        assert fast.background_kept and np.array_equal(np.asarray(fast.image), np.asarray(slow.image))
        assert {"generate_early", "segment"} <= set(slow.timings) and slow.timings["segment"] > 0.2
        # an edit without a garment mask or of a region is generated after the mask, on every thread
        ed.G.passes.clear()
        ed.edit(photo, {"color": "blue"}, keep_background=False)
        ed.edit(photo, {"color": "blue"}, region="torso")
        assert ed.G.passes[0] == 2 and 1 not in ed.G.passes[1:]
        # GrabCut's iterations: fewer for a whole-garment colour edit, the annotator's for outline edits
        iterations = []
        monkeypatch.setattr(editor_module, "garment_mask_small", lambda w, it=None: iterations.append(it) or found(w, it))
        ed.edit(photo, {"color": "blue"})
        ed.edit(photo, {"color": "blue"}, region="torso")
        ed.edit(photo, {"sleeve": "long"})
        assert iterations == [editor_module.COLOUR_MASK_ITERATIONS] + [editor_module.MASK_ITERATIONS] * 2
        assert editor_module.COLOUR_MASK_ITERATIONS < editor_module.MASK_ITERATIONS
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_colour_edits_matte_comes_from_the_worker_while_torch_keeps_a_core_free(tiny_editor_path, monkeypatch):
    """A whole-garment colour edit's matte is made on the mask's worker after the readers, while this thread
    composites on one torch thread fewer; the edit is the one made with the matte computed here, and torch's
    thread count comes back after the edit and after a composite that fails."""
    from concurrent.futures import Future

    import amgan.editor as editor_module
    from PIL import ImageDraw

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    photo = Image.new("RGB", (200, 260), (120, 110, 100))
    ImageDraw.Draw(photo).rectangle((50, 60, 150, 200), fill=(200, 30, 40))
    real = editor_module.composite
    seen = []

    def spy(*a, matte=None, **k):
        seen.append((isinstance(matte, Future), torch.get_num_threads()))
        out = real(*a, matte=matte, **k)
        if matte is not None:  # the same edit as with the matte made here
            inline = real(*a, matte=None, **k)
            assert all(np.array_equal(u, v) for u, v in zip(out, inline))
        return out

    monkeypatch.setattr(editor_module, "composite", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        res = ed.edit(photo, {"color": "blue"})
        assert res.background_kept and seen == [(True, 1)] and torch.get_num_threads() == 2
        ed.edit(photo, {"color": "blue"}, region="torso")  # a region edit: its matte is the region's, made there
        ed.edit(photo, {"color": "blue"}, keep_background=False)
        assert [f for f, _ in seen[1:]] == [False] * (len(seen) - 1) and torch.get_num_threads() == 2

        def broken(*a, **k):
            raise RuntimeError("composite failed")

        monkeypatch.setattr(editor_module, "composite", broken)
        with pytest.raises(RuntimeError, match="composite failed"):
            ed.edit(photo, {"color": "blue"})
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_models_caveats_come_with_the_edits_they_concern(tiny_editor_path, synth_tiny, tmp_path, capsys):
    """``editor.caveats`` of a model folder: checked at load, returned with each edit of a group they name
    (EditResult.caveats), printed by ``amgan edit`` on stderr and put in its JSON."""
    from amgan.checkpoint import CheckpointError
    from amgan.cli import main
    from amgan.pretrained import convert

    folder = convert(tiny_editor_path, tmp_path / "model")
    cfg = json.loads((folder / "config.json").read_text())

    def with_caveats(caveats):
        cfg["model"]["editor"] = {"caveats": caveats}
        (folder / "config.json").write_text(json.dumps(cfg))

    with_caveats({"sleeve": "Sleeve edits   are weak here."})
    ed = Editor.from_checkpoint(folder, device="cpu")
    src = next((synth_tiny / "images").glob("*_shop.png"))
    assert ed.edit(src, {"color": "red"}).caveats == []
    assert ed.edit(src, {"sleeve": "long"}, sleeve_method="generator").caveats == ["Sleeve edits are weak here."]
    assert ed.caveats_for(["color", "sleeve"]) == ["Sleeve edits are weak here."]
    rc = main(["edit", "--checkpoint", str(folder), "--image", str(src), "--edit", "color=red,sleeve=long",
               "--sleeve-method", "generator", "--out", str(tmp_path / "o.png")])
    out = capsys.readouterr()
    assert rc == 0 and "note: Sleeve edits are weak here." in out.err
    assert json.loads(out.out.strip().splitlines()[-1])["caveats"] == ["Sleeve edits are weak here."]
    assert main(["edit", "--checkpoint", str(folder), "--image", str(src), "--edit", "color=red",
                 "--out", str(tmp_path / "o.png")]) == 0
    assert "note:" not in capsys.readouterr().err
    for bad, needle in (({"sleeves": "x"}, "unknown group 'sleeves'"), ({"sleeve": " "}, "non-empty"),
                        ({"sleeve": "x" * 401}, "at most 400"), (["sleeve"], "mapping")):
        with_caveats(bad)
        with pytest.raises(CheckpointError, match=needle):
            Editor.from_checkpoint(folder, device="cpu")


class _FlatG(torch.nn.Module):
    """z = mid grey everywhere, a = 1: every edit asks for the same flat colour."""

    def forward(self, x, c, m):
        a = torch.ones_like(x[:, :1])
        z = torch.full_like(x, 0.5)
        return z, z, a


def test_colour_calibration_moves_the_recoloured_garment_by_its_offset(tiny_editor_path):
    """An editor's colour_calibration for the requested name moves the edited garment's CIELAB colour by
    that offset (the photo's shading kept), only for that name; bad offsets are refused."""
    from PIL import ImageDraw

    from amgan.probes import region_mean_lab as garment_lab

    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    ed.G = _FlatG()
    photo = Image.new("RGB", (200, 260), (120, 110, 100))
    ImageDraw.Draw(photo).rectangle((50, 60, 150, 200), fill=(200, 30, 40))
    inner = np.zeros((260, 200), bool)
    inner[80:180, 70:130] = True
    plain = garment_lab(np.asarray(ed.edit(photo, {"color": "blue"}).image), inner)
    ed.colour_calibration = {"blue": [-15.0, 0.0, 8.0]}
    moved = garment_lab(np.asarray(ed.edit(photo, {"color": "blue"}).image), inner)
    assert np.allclose(moved - plain, [-15, 0, 8], atol=2.5), moved - plain
    other = garment_lab(np.asarray(ed.edit(photo, {"color": "red"}).image), inner)
    assert np.allclose(other, plain, atol=0.5)  # another name: no offset (the generator's colour is the same)
    for bad, needle in (({"grey": [1, 2, 3]}, "unknown colour 'grey'"), ({"gray": [1, 2]}, "three finite"),
                        ({"gray": [60, 0, 0]}, "within"), ({"gray": "dark"}, "three numbers")):
        with pytest.raises(ValueError, match=needle):
            Editor(ed.G, ed.C, ed.schema, ed.processor, "cpu", colour_calibration=bad)
