"""The sleeve-shape reader (amgan.data.sleeve_shape): silhouettes, its file, the shipped model on
drawn outlines, training on a fixture photo set, and an editor that reads sleeves with it."""
import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from amgan.cli import main as cli_main
from amgan.data.annotate import annotate
from amgan.data.clothing import convert_clothing_dataset
from amgan.data.manifest import read_manifest
from amgan.data.sleeve_shape import (
    FORMAT, SIZE, ShapeNet, SleeveShape, SleeveShapeError, silhouette, sleeve_sheet, train_sleeve_shape,
)
from test_clothing import make_tree, photo

SHIPPED = "amgan/data/labels/sleeve_shape.pt"
VALUES = ("sleeveless", "short", "long")
W, H = 300, 400


def _outline(points) -> np.ndarray:
    """A garment mask (bool [H, W]) from a polygon given as (x offset from the centre, y) in parts of W, H."""
    m = Image.new("L", (W, H), 0)
    ImageDraw.Draw(m).polygon([(W / 2 + a * W, b * H) for a, b in points], fill=255)
    return np.asarray(m) > 0


TEE = [(-.18, .18), (-.06, .15), (.06, .15), (.18, .18), (.36, .32), (.28, .42), (.22, .38), (.22, .85),
       (-.22, .85), (-.22, .38), (-.28, .42), (-.36, .32)]
LONG = [(-.18, .18), (-.06, .15), (.06, .15), (.18, .18), (.26, .25), (.40, .80), (.32, .82), (.22, .42),
        (.22, .85), (-.22, .85), (-.22, .42), (-.32, .82), (-.40, .80), (-.26, .25)]
TANK = [(-.14, .15), (-.08, .15), (-.04, .22), (.04, .22), (.08, .15), (.14, .15), (.16, .30), (.22, .40),
        (.22, .85), (-.22, .85), (-.22, .40), (-.16, .30)]


def test_a_silhouette_is_the_masks_outline_on_a_square_with_its_aspect_kept():
    m = np.zeros((200, 300), bool)
    m[50:150, 100:150] = True  # 100 tall, 50 wide, off centre
    s = silhouette(m)
    assert s.shape == (SIZE, SIZE) and s.dtype == np.float32
    cols = np.nonzero(s.max(0) > 0.5)[0]
    rows = np.nonzero(s.max(1) > 0.5)[0]
    assert rows.min() == 0 and rows.max() == SIZE - 1  # the long side fills the square
    assert abs(len(cols) - SIZE / 2) <= 2 and abs(cols.mean() - (SIZE - 1) / 2) <= 1  # half as wide, centred
    assert silhouette(np.zeros((50, 50), bool)) is None and silhouette(m[:5, :5]) is None
    with pytest.raises(ValueError, match="2-D"):
        silhouette(np.zeros((4, 4, 3), bool))


def test_the_shipped_model_reads_drawn_outlines_and_says_where_it_came_from():
    ss = SleeveShape.load(SHIPPED, values=VALUES)
    for points, value in ((TEE, "short"), (LONG, "long"), (TANK, "sleeveless")):
        p = ss.probs(_outline(points))
        assert ss.values[int(p.argmax())] == value and p.max() > 0.8, (value, p)
        # mirrored and shifted: the same reading
        assert ss.values[int(ss.probs(np.pad(_outline(points)[:, ::-1], ((0, 40), (60, 0)))).argmax())] == value
    # read in another order of values, the probabilities follow
    p = ss.probs(_outline(TEE), values=("long", "short", "sleeveless"))
    assert p.argmax() == 1 and np.isclose(p.sum(), 1, atol=1e-5)
    assert ss.probs(np.zeros((40, 40), bool)) is None
    prov = ss.provenance
    assert prov["exclude"].endswith("clothing_checked.csv") and prov["train_photos"] > 1000
    assert prov["val"]["accuracy"] > 0.8


def test_the_file_round_trips_and_a_bad_one_is_refused_with_its_reason(tmp_path):
    torch.manual_seed(0)
    ss = SleeveShape(VALUES, ShapeNet(3, 8).eval(), width=8, provenance={"note": "test"})
    f = ss.save(tmp_path / "s.pt")
    back = SleeveShape.load(f, values=("long", "short", "sleeveless"))
    m = _outline(TEE)
    assert np.allclose(back.probs(m), ss.probs(m), atol=2e-3)  # stored in fp16
    assert back.values == VALUES and back.provenance == {"note": "test"}
    with pytest.raises(SleeveShapeError, match="the schema has"):
        SleeveShape.load(f, values=("short", "long"))
    with pytest.raises(SleeveShapeError, match="no such"):
        SleeveShape.load(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(SleeveShapeError, match="not a sleeve-shape file"):
        SleeveShape.load(tmp_path / "junk.pt")
    d = torch.load(f, weights_only=True)
    for change, message in (({"format": "other"}, "not a sleeve-shape file"),
                            ({"values": ["a"]}, "malformed"),
                            ({"width": 16}, "malformed"),
                            ({"state": {}}, "malformed")):
        torch.save({**d, **change}, tmp_path / "bad.pt")
        with pytest.raises(SleeveShapeError, match=message):
            SleeveShape.load(tmp_path / "bad.pt")
    assert d["format"] == FORMAT


def test_train_on_a_photo_set_leaves_out_the_blind_set_and_refuses_what_it_cannot_use(tmp_path, capsys):
    rows = [(f"p{k:02d}", str(10 + k % 7), label, "False", col, (128, 128, 128))
            for k, (label, col) in enumerate([("T-Shirt", (200, 30, 40)), ("Longsleeve", (40, 80, 190)),
                                              ("Undershirt", (40, 140, 60)), ("Polo", (20, 20, 20))] * 6)]
    src = make_tree(tmp_path / "src", rows)
    out = convert_clothing_dataset(src, tmp_path / "out", progress=False)
    args = ["data", "train-sleeve-shape", str(out), "--out", str(tmp_path / "s.pt"), "--quiet", "--exclude", ""]
    assert cli_main(args) == 2  # no garment masks yet
    assert "run amgan data annotate first" in capsys.readouterr().err
    annotate(out, workers=1, progress=False)
    m = read_manifest(out)
    si = m.schema.group_index("sleeve")
    train = [p for p, s, lab in zip(m.product_ids, m.splits, m.labels) if s == "train" and lab[si] >= 0]
    blind = tmp_path / "blind.csv"
    blind.write_text("image\n" + "".join(f"{p}\n" for p in train[:3]))
    summary = train_sleeve_shape(out, out=tmp_path / "s.pt", exclude=blind, epochs=2, batch_size=4, progress=False)
    assert summary["train_photos"] == len(train) - 3  # the blind photos are never trained on
    assert sum(summary["train_counts"].values()) == summary["train_photos"]
    ss = SleeveShape.load(tmp_path / "s.pt", values=VALUES)
    assert ss.provenance["epochs"] == 2 and ss.provenance["exclude"] == str(blind)
    # the same seed trains the same model
    train_sleeve_shape(out, out=tmp_path / "s2.pt", exclude=blind, epochs=2, batch_size=4, progress=False)
    assert (tmp_path / "s.pt").read_bytes() != b"" and torch.equal(
        torch.load(tmp_path / "s.pt", weights_only=True)["state"]["head.1.weight"],
        torch.load(tmp_path / "s2.pt", weights_only=True)["state"]["head.1.weight"])
    # refused: too few photos for a batch, bad epochs, a blind file that is not there; nothing written
    for kw, message in (({"batch_size": 64}, "at least 64"), ({"epochs": 0}, "epochs must be"),
                        ({"exclude": tmp_path / "none.csv"}, "not found")):
        with pytest.raises(Exception, match=message):
            train_sleeve_shape(out, out=tmp_path / "s3.pt", **{"exclude": "", "batch_size": 4, **kw}, progress=False)
    assert not (tmp_path / "s3.pt").exists()
    # the contact sheet: photos of a split with their outlines, silhouettes and readings
    sheet = sleeve_sheet(out, tmp_path / "s.pt", tmp_path / "sheet.png", split="train", n=5, columns=3, tile=90)
    assert sheet["photos"] == 5 and 0 <= sheet["right"] <= 5
    assert Image.open(tmp_path / "sheet.png").size == (270, 2 * (120 + 40))
    assert cli_main(["data", "train-sleeve-shape", str(out), "--out", str(tmp_path / "s.pt"), "--exclude", "",
                     "--sheet-only", str(tmp_path / "sheet.jpg")]) == 0
    assert json.loads(capsys.readouterr().out)["photos"] >= 1 and (tmp_path / "sheet.jpg").is_file()
    with pytest.raises(SleeveShapeError, match="no test-split photo"):
        sleeve_sheet(out, tmp_path / "s.pt", tmp_path / "none.png", split="test", exclude="")


def test_an_editor_with_a_sleeve_shape_model_reads_and_edits_with_it(tiny_editor_path, tmp_path, capsys):
    from amgan.editor import Editor, _proxy, _work_image, garment_mask_small
    from amgan.pretrained import CheckpointError, convert, load_pretrained, main as pretrained_main

    folder = convert(tiny_editor_path, tmp_path / "editor")
    img = Image.fromarray(photo((200, 30, 40))[0])  # a red T-shirt on a grey floor
    plain = Editor.from_checkpoint(folder, device="cpu")
    assert plain.sleeve_shape is None and plain.mask_readers == {}
    weights = (folder / "weights.pt").read_bytes()
    args = ["attach-sleeve-shape", "--editor", str(folder), "--model", SHIPPED]
    assert pretrained_main(args + ["--weight", "1.0"]) == 0
    capsys.readouterr()
    assert (folder / "weights.pt").read_bytes() == weights  # the models are untouched
    ed = Editor.from_checkpoint(folder, device="cpu")
    assert ed.mask_readers == {"sleeve": 1.0}
    # weight 1: the sleeve is the shape model's reading of the editor's own mask; every other group the classifier's
    read = ed.predict(img)
    mask = garment_mask_small(_work_image(_proxy(ed.processor.load(img))))
    want = ed.sleeve_shape.probs(mask, tuple(ed.schema.group("sleeve").values))
    assert np.allclose(list(read["sleeve"].values()), want, atol=1e-4)
    assert max(read["sleeve"], key=read["sleeve"].get) == "short"
    assert {g: v for g, v in read.items() if g != "sleeve"} == {g: v for g, v in plain.predict(img).items()
                                                                if g != "sleeve"}
    # an edit that keeps the sleeves is generated exactly as if a person had named the fused reading (the
    # classifier alone reads this photo otherwise): generated early from the classifier's reading beside GrabCut,
    # then again from the fused reading since its target differs, both passes on the threads GrabCut leaves
    cnn = plain.predict(img)["sleeve"]
    assert max(cnn, key=cnn.get) != "short"
    passes, forward = [], ed.G.forward
    ed.G.forward = lambda *a, **k: passes.append(torch.get_num_threads()) or forward(*a, **k)
    threads = torch.get_num_threads()
    kept = ed.edit(img, {"color": "blue"})
    assert passes == [max(1, threads - 1)] * 2
    passes.clear()
    told = ed.edit(img, {"color": "blue"}, source={"sleeve": "short"})
    assert passes == [max(1, threads - 1)]  # the reading the person gave: the early pass is the edit
    del ed.G.forward
    assert kept.source_attributes["sleeve"] == "short"
    assert np.array_equal(np.asarray(kept.image), np.asarray(told.image))
    assert ed.edit(img, {"sleeve": "long"}).source_attributes["sleeve"] == "short"  # the sleeve it had, as read
    # an editor built by hand refuses a model of other sleeve values, and a weight outside (0, 1]
    with pytest.raises(ValueError, match="other sleeve values"):
        Editor(plain.G, plain.C, plain.schema, plain.processor, "cpu",
               sleeve_shape=SleeveShape(("short", "long"), ShapeNet(2, 8)), sleeve_shape_weight=0.5)
    with pytest.raises(ValueError, match="sleeve_shape.weight"):
        Editor(plain.G, plain.C, plain.schema, plain.processor, "cpu", sleeve_shape=ed.sleeve_shape)
    # refused: a bad weight, half the arguments, a file that is not a sleeve-shape model; the folder unchanged
    config = (folder / "config.json").read_bytes()
    assert pretrained_main(args + ["--weight", "1.5"]) == 2
    assert pretrained_main(["attach-sleeve-shape", "--editor", str(folder), "--weight", "0.5"]) == 2
    (tmp_path / "bad.pt").write_bytes(b"junk")
    assert pretrained_main(["attach-sleeve-shape", "--editor", str(folder), "--model", str(tmp_path / "bad.pt"),
                            "--weight", "0.5"]) == 2
    assert "not a sleeve-shape file" in capsys.readouterr().err
    assert (folder / "config.json").read_bytes() == config
    # settings that name a model the folder lacks are refused on load
    (folder / "sleeve_shape.pt").unlink()
    with pytest.raises(CheckpointError, match="sleeve_shape.pt"):
        Editor.from_checkpoint(folder, device="cpu")
    # --remove takes it away
    assert pretrained_main(["attach-sleeve-shape", "--editor", str(folder), "--remove"]) == 0
    assert "sleeve_shape" not in (load_pretrained(folder).model.get("editor") or {})
    assert Editor.from_checkpoint(folder, device="cpu").predict(img) == plain.predict(img)
