"""The learned colour namer (amgan.data.colour_namer): features, fitting, its file, training on a
fixture photo set, and the annotator using it."""
import json

import numpy as np
import pytest

from amgan.attributes import SYNTH_COLORS
from amgan.cli import main as cli_main
from amgan.data.annotate import annotate, annotate_photo
from amgan.data.clothing import convert_clothing_dataset
from amgan.data.colour_namer import (
    DEFAULT_NAMER, N_FEATURES, ColourNamer, NamerError, colour_features, fit_namer,
)
from amgan.data.manifest import read_manifest
from test_clothing import make_tree, photo

CLASSES = SYNTH_COLORS + ("unknown",)


def test_features_have_a_fixed_shape_and_need_garment_pixels():
    img, mask = photo((200, 30, 40))
    x = colour_features(img, mask)
    assert x.shape == (N_FEATURES,) and x.dtype == np.float32 and np.isfinite(x).all()
    assert colour_features(img, np.zeros_like(mask)) is None
    # the 48 anchor shares (square roots) of a flat red garment: nearly all on red's anchors
    shares = x[:48] ** 2
    assert shares.sum() == pytest.approx(1.0, abs=1e-5)
    red = slice(8, 12)  # black 2, white 3, gray 3, then red's 4 anchors
    assert shares[red].sum() > 0.9
    # another photo of another colour gives other features
    assert not np.allclose(x, colour_features(*photo((40, 80, 190))))


def _toy(n=240, seed=0):
    """Separable toy features: class k shifts feature k."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(0, 1, (n, N_FEATURES))
    x[np.arange(n), y] += 4.0
    return x, y


def test_fit_learns_and_the_file_round_trips(tmp_path):
    x, y = _toy()
    names = ("red", "blue", "green", "unknown")
    namer = fit_namer(x, y, names, l2=1e-3)
    xt, yt = _toy(seed=1)
    assert (namer.probs(xt).argmax(1) == yt).mean() > 0.95
    namer.min_confidence = 0.4
    namer.provenance = {"note": "toy"}
    namer.save(tmp_path / "n.json")
    back = ColourNamer.load(tmp_path / "n.json")
    assert back.names == names and back.min_confidence == 0.4 and back.provenance == {"note": "toy"}
    np.testing.assert_allclose(back.probs(xt), namer.probs(xt), rtol=1e-12)
    # the "unknown" class abstains; a known best colour is still reported
    p = np.array([0.2, 0.1, 0.05, 0.65])
    assert back.name(p) == (None, 0.2, "red", "blue")
    assert back.name(np.array([0.7, 0.1, 0.1, 0.1]))[0] == "red"
    assert back.name(np.array([0.35, 0.3, 0.1, 0.25]))[0] is None  # below min_confidence
    with pytest.raises(NamerError, match="schema's colours"):
        ColourNamer.load(tmp_path / "n.json", colours=SYNTH_COLORS)


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(format="other"), "not a colour namer file"),
    (lambda d: d.update(features="colour-features-v0"), "made for features"),
    (lambda d: d.update(weight=[[0.0] * 3] * 4), "shapes do not fit"),
    (lambda d: d.update(bias=[0.0, float("nan"), 0.0, 0.0]), "non-finite"),
    (lambda d: d.update(min_confidence=1.5), "min_confidence"),
    (lambda d: d.pop("names"), "missing or malformed"),
])
def test_a_bad_namer_file_is_refused_with_its_reason(tmp_path, change, message):
    x, y = _toy()
    fit_namer(x, y, ("red", "blue", "green", "unknown")).save(tmp_path / "n.json")
    doc = json.loads((tmp_path / "n.json").read_text())
    change(doc)
    (tmp_path / "n.json").write_text(json.dumps(doc))
    with pytest.raises(NamerError, match=message):
        ColourNamer.load(tmp_path / "n.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(NamerError, match="not a colour namer file"):
        ColourNamer.load(tmp_path / "x.json")
    with pytest.raises(NamerError, match="not found"):
        ColourNamer.load(tmp_path / "missing.json")


@pytest.mark.parametrize("colour,floor,name", [
    ((200, 30, 40), (128, 128, 128), "red"),
    ((40, 80, 190), (150, 110, 70), "blue"),
    ((240, 210, 40), (70, 70, 75), "yellow"),
    ((40, 140, 60), (200, 200, 205), "green"),
    ((20, 20, 20), (180, 170, 160), "black"),
    ((235, 235, 232), (120, 120, 120), "white"),
    ((230, 150, 170), (128, 128, 128), "pink"),
    ((110, 40, 140), (128, 128, 128), "purple"),
])
def test_the_shipped_namer_names_plain_garments(colour, floor, name):
    namer = ColourNamer.load(DEFAULT_NAMER, colours=SYNTH_COLORS)
    img, _ = photo(colour, floor)
    ann = annotate_photo(img, namer=namer)  # its own GrabCut mask, as on a photo
    assert ann.colour.color == name and ann.colour.confidence > 0.6


def test_the_shipped_namer_abstains_on_a_two_colour_garment_and_says_where_it_came_from():
    namer = ColourNamer.load(DEFAULT_NAMER, colours=SYNTH_COLORS)
    img, mask = photo((200, 30, 40), second=(40, 80, 190))
    r = namer.read(img, mask)
    assert r.color is None and r.best in ("red", "blue")
    prov = namer.provenance
    assert prov["exclude"].endswith("clothing_checked.csv") and prov["train_photos"] > 1000
    assert prov["val"]["strict"] > prov["val_palette_rule"]["strict"]  # why it is shipped


def _labels(path, rows):
    path.write_text("image,sender_id,label,color,color_alt,pattern,sleeve\n"
                    + "".join(f"{i},0,T-Shirt,{c},{a},solid,short\n" for i, c, a in rows))
    return path


def test_train_namer_on_a_photo_set_and_annotate_with_it(tmp_path, capsys):
    rows = [(f"p{k:02d}", str(10 + k % 7), "T-Shirt", "False", col, floor)
            for k, (col, floor) in enumerate([((200, 30, 40), (128, 128, 128)), ((40, 80, 190), (150, 110, 70)),
                                              ((40, 140, 60), (200, 200, 205)), ((20, 20, 20), (180, 170, 160))] * 4)]
    out = convert_clothing_dataset(make_tree(tmp_path / "src", rows), tmp_path / "out", progress=False)
    annotate(out, workers=1, progress=False)
    m = read_manifest(out)
    truth = {r[0]: n for r, n in zip(rows, ["red", "blue", "green", "black"] * 4)}
    labels = _labels(tmp_path / "hand.csv", [(pid, truth[pid], "") for pid in m.product_ids])
    namer_file = tmp_path / "namer.json"
    assert cli_main(["data", "train-namer", str(out), "--labels", str(labels), "--out", str(namer_file),
                     "--workers", "1", "--quiet", "--l2", "0.001"]) == 0
    summary = json.loads(capsys.readouterr().out)
    n_train = sum(1 for s in m.splits if s == "train")
    assert summary["train_photos"] == n_train and summary["min_confidence"] == 0.4
    namer = ColourNamer.load(namer_file, colours=SYNTH_COLORS)
    # annotate with it (on every row): the colours it learned, and the summary says which namer
    assert cli_main(["data", "annotate", str(out), "--workers", "1", "--quiet", "--overwrite-labels",
                     "--namer", str(namer_file)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["colours_by"].startswith("namer ") and s["color_known"] >= 12
    got = {r["product_id"]: r["color"] for r in read_manifest(out).rows}
    assert sum(got[p] == truth[p] for p in got) >= 14, got
    assert namer.names[-1] == "unknown"
    # the palette rule is still one flag away
    assert cli_main(["data", "annotate", str(out), "--workers", "1", "--quiet", "--namer", "rule"]) == 0
    assert json.loads(capsys.readouterr().out)["colours_by"] == "palette rule"


def test_train_namer_refuses_the_blind_set_bad_labels_and_unannotated_sets(tmp_path, capsys):
    out = convert_clothing_dataset(make_tree(tmp_path / "src"), tmp_path / "out", progress=False)
    good = _labels(tmp_path / "hand.csv", [("a-red-tee", "red", ""), ("c-polo", "yellow", "orange")])
    blind = _labels(tmp_path / "blind.csv", [("c-polo", "yellow", "")])
    bad = _labels(tmp_path / "bad.csv", [("a-red-tee", "crimson", "")])
    bad_alt = _labels(tmp_path / "bad_alt.csv", [("a-red-tee", "red", "maroon")])
    args = ["data", "train-namer", str(out), "--out", str(tmp_path / "n.json"), "--workers", "1", "--quiet"]
    for extra, message in ((["--labels", str(good)], "run amgan data annotate first"),
                           (["--labels", str(good), "--exclude", str(blind)], "blind set"),
                           (["--labels", str(bad)], "'crimson'"),
                           (["--labels", str(bad_alt)], "color_alt 'maroon'"),
                           (["--labels", str(tmp_path / "none.csv")], "not found")):
        assert cli_main(args + extra) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "n.json").exists()
    # a bad namer file stops annotate before any photo is read, and nothing is written
    (tmp_path / "bad_namer.json").write_text("{}")
    before = (out / "manifest.csv").read_bytes()
    assert cli_main(["data", "annotate", str(out), "--workers", "1", "--quiet", "--namer",
                     str(tmp_path / "bad_namer.json")]) == 2
    assert "not a colour namer file" in capsys.readouterr().err
    assert (out / "manifest.csv").read_bytes() == before and not (out / "annotations.csv").exists()



def test_one_shipped_namer_path():
    from amgan.cli import _shipped_namer
    from amgan.data.annotate import SHIPPED_NAMER

    assert _shipped_namer().resolve() == SHIPPED_NAMER == DEFAULT_NAMER and DEFAULT_NAMER.is_file()


def test_an_editor_with_a_colour_namer_reads_and_edits_with_it(tiny_editor_path, tmp_path, capsys):
    from PIL import Image

    from amgan.editor import Editor
    from amgan.pretrained import CheckpointError, convert, load_pretrained, main as pretrained_main

    folder = convert(tiny_editor_path, tmp_path / "editor")
    img = Image.fromarray(photo((200, 30, 40))[0])  # a red T-shirt on a grey floor
    plain = Editor.from_checkpoint(folder, device="cpu")
    assert plain.colour_namer is None
    weights = (folder / "weights.pt").read_bytes()
    args = ["attach-namer", "--editor", str(folder), "--namer", str(DEFAULT_NAMER)]
    assert pretrained_main(args + ["--weight", "1.0"]) == 0
    capsys.readouterr()
    assert (folder / "weights.pt").read_bytes() == weights  # the models are untouched
    ed = Editor.from_checkpoint(folder, device="cpu")
    assert ed.colour_namer is not None and ed.colour_namer_weight == 1.0
    # weight 1: the colour is the namer's; every other group is the classifier's
    read = ed.predict(img)
    assert max(read["color"], key=read["color"].get) == "red"
    assert {g: v for g, v in read.items() if g != "color"} == {g: v for g, v in plain.predict(img).items()
                                                               if g != "color"}
    # an edit that keeps the colour keeps the namer's reading, exactly as if a person had said so; checked on a
    # garment the classifier reads otherwise, so the edit has to generate again
    exercised = 0
    for rgb, name in (((200, 30, 40), "red"), ((40, 80, 190), "blue"), ((40, 140, 60), "green")):
        im = Image.fromarray(photo(rgb)[0])
        cnn = plain.predict(im)["color"]
        if max(cnn, key=cnn.get) == name:
            continue
        kept = ed.edit(im, {"sleeve": "long"})
        told = ed.edit(im, {"sleeve": "long"}, source={"color": name})
        assert kept.source_attributes["color"] == name
        assert np.array_equal(np.asarray(kept.image), np.asarray(told.image))
        exercised += 1
    assert exercised >= 2
    assert ed.edit(img, {"color": "blue"}).source_attributes["color"] == "red"  # reported as read
    assert ed.edit(img, {"sleeve": "long"}, source={"color": "green"}).source_attributes["color"] == "green"
    # a fused weight in between lies between the two readings
    assert pretrained_main(args + ["--weight", "0.5"]) == 0
    half = Editor.from_checkpoint(folder, device="cpu").predict(img)["color"]["red"]
    assert plain.predict(img)["color"]["red"] <= half <= read["color"]["red"]
    # refused: a bad weight, half the arguments, a namer file that does not fit; the folder unchanged
    config = (folder / "config.json").read_bytes()
    assert pretrained_main(args + ["--weight", "0"]) == 2
    assert pretrained_main(["attach-namer", "--editor", str(folder), "--weight", "0.5"]) == 2
    (tmp_path / "bad.json").write_text("{}")
    assert pretrained_main(["attach-namer", "--editor", str(folder), "--namer", str(tmp_path / "bad.json"),
                            "--weight", "0.5"]) == 2
    assert (folder / "config.json").read_bytes() == config
    # settings that name a namer the folder lacks are refused on load
    (folder / "colour_namer.json").unlink()
    with pytest.raises(CheckpointError, match="colour_namer.json"):
        Editor.from_checkpoint(folder, device="cpu")
    # --remove takes it away
    (folder / "colour_namer.json").write_bytes(DEFAULT_NAMER.read_bytes())
    assert pretrained_main(["attach-namer", "--editor", str(folder), "--remove"]) == 0
    assert not (folder / "colour_namer.json").exists()
    assert "colour_namer" not in (load_pretrained(folder).model.get("editor") or {})
    assert Editor.from_checkpoint(folder, device="cpu").predict(img) == plain.predict(img)
