"""clothing-dataset converter, garment masks and colour annotation, on fixture trees in the
source's exact layout (``images/<image>.jpg`` + ``images.csv``: image, sender_id, label, kids)."""
import csv
import json
import os

import numpy as np
import pytest
from PIL import Image, ImageDraw

from amgan.attributes import SYNTH_SCHEMA
from amgan.cli import main as cli_main
from amgan.data.annotate import annotate, annotate_photo, read_colour
from amgan.data.clothing import CLASS_TABLE, convert_clothing_dataset
from amgan.data.converters.common import hash_split
from amgan.data.garment_mask import garment_mask, mask_iou
from amgan.data.manifest import UNKNOWN, read_manifest
from amgan.errors import UserError

W, H = 120, 160


def _tshirt(w=W, h=H):
    """Polygon of a T-shirt laid flat, centred."""
    cx = w / 2
    return [(cx - 0.18 * w, 0.18 * h), (cx - 0.06 * w, 0.15 * h), (cx + 0.06 * w, 0.15 * h), (cx + 0.18 * w, 0.18 * h),
            (cx + 0.36 * w, 0.32 * h), (cx + 0.28 * w, 0.42 * h), (cx + 0.22 * w, 0.38 * h), (cx + 0.22 * w, 0.85 * h),
            (cx - 0.22 * w, 0.85 * h), (cx - 0.22 * w, 0.38 * h), (cx - 0.28 * w, 0.42 * h), (cx - 0.36 * w, 0.32 * h)]


def photo(colour, floor=(128, 128, 128), second=None, seed=0, w=W, h=H):
    """(RGB uint8, true garment mask): a T-shirt on a floor, with light falloff and noise.

    ``second``: the right half of the garment in this colour instead (a two-colour garment)."""
    img = Image.new("RGB", (w, h), floor)
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).polygon(_tshirt(w, h), fill=255)
    garment = Image.new("RGB", (w, h), colour)
    if second is not None:
        ImageDraw.Draw(garment).rectangle([w // 2, 0, w, h], fill=second)
    img.paste(garment, (0, 0), m)
    rng = np.random.default_rng(seed)
    yy = np.linspace(0.9, 1.05, h)[:, None, None]
    arr = np.asarray(img, np.float32) * yy + rng.normal(0, 3, (h, w, 3))
    return np.clip(arr, 0, 255).astype(np.uint8), np.asarray(m) > 127


ROWS = [  # image, sender_id, label, kids, garment colour, floor
    ("a-red-tee", "11", "T-Shirt", "False", (200, 30, 40), (128, 128, 128)),
    ("b-blue-long", "11", "Longsleeve", "False", (40, 80, 190), (150, 110, 70)),
    ("c-polo", "12", "Polo", "True", (240, 210, 40), (90, 90, 95)),
    ("d-dress", "13", "Dress", "False", (40, 140, 60), (200, 200, 205)),
    ("e-shirt", "14", "Shirt", "False", (20, 20, 20), (180, 170, 160)),
    ("f-pants", "12", "Pants", "False", (40, 40, 120), (128, 128, 128)),
    ("g-shoes", "13", "Shoes", "False", (90, 60, 30), (128, 128, 128)),
    ("h-notsure", "15", "Not sure", "False", (90, 60, 30), (128, 128, 128)),
]


def make_tree(root, rows=ROWS, extra_lines=()):
    (root / "images").mkdir(parents=True)
    with open(root / "images.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "sender_id", "label", "kids"])
        for k, (name, sender, label, kids, colour, floor) in enumerate(rows):
            Image.fromarray(photo(colour, floor, seed=k)[0]).save(root / "images" / f"{name}.jpg", quality=95)
            w.writerow([name, sender, label, kids])
        for line in extra_lines:
            w.writerow(line)
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "src")


def test_convert_rows_classes_and_split(tree, tmp_path):
    out = convert_clothing_dataset(tree, tmp_path / "out", progress=False)
    m = read_manifest(out)
    assert m.schema == SYNTH_SCHEMA
    rows = {r["product_id"]: r for r in m.rows}
    assert sorted(rows) == ["a-red-tee", "b-blue-long", "c-polo", "d-dress", "e-shirt"]  # pants/shoes/not sure dropped
    assert rows["a-red-tee"] | {} == {**rows["a-red-tee"], "view": "photo", "path": "images/a-red-tee.jpg",
                                      "category": "top", "sleeve": "short", "color": "", "pattern": "", "neckline": ""}
    assert (rows["b-blue-long"]["sleeve"], rows["b-blue-long"]["neckline"]) == ("long", "")
    assert (rows["c-polo"]["sleeve"], rows["c-polo"]["neckline"]) == ("short", "collar")
    assert (rows["d-dress"]["category"], rows["d-dress"]["sleeve"]) == ("dress", "")
    assert (rows["e-shirt"]["sleeve"], rows["e-shirt"]["neckline"]) == ("", "collar")
    for pid, sender in [("a-red-tee", "11"), ("b-blue-long", "11"), ("c-polo", "12"), ("d-dress", "13")]:
        assert rows[pid]["split"] == hash_split(sender)  # by contributor, never by photo
    assert (out / "images" / "a-red-tee.jpg").read_bytes() == (tree / "images" / "a-red-tee.jpg").read_bytes()
    meta = json.loads((out / "conversion.json").read_text())
    assert meta["dropped_by_class"] == {"Not sure": 1, "Pants": 1, "Shoes": 1}
    assert meta["kept_by_class"]["T-Shirt"] == 1 and meta["rows"] == 5
    assert meta["unknown_labels"]["color"] == 5 and meta["unknown_labels"]["category"] == 0
    with open(out / "source.csv", newline="") as f:
        src = {r["path"]: r for r in csv.DictReader(f)}
    assert src["images/c-polo.jpg"]["sender_id"] == "12" and src["images/c-polo.jpg"]["kids"] == "True"
    # the class table is the documented one
    assert CLASS_TABLE["T-Shirt"] == ("top", "short", None) and CLASS_TABLE["Hoodie"][1] == "long"


def test_convert_options_and_output_folder(tree, tmp_path):
    out = convert_clothing_dataset(tree, tmp_path / "o1", progress=False, kids=False, classes=["T-Shirt", "Polo"])
    assert [r["product_id"] for r in read_manifest(out).rows] == ["a-red-tee"]  # the polo is a kid's
    with pytest.raises(UserError, match="not empty"):
        convert_clothing_dataset(tree, out, progress=False)
    convert_clothing_dataset(tree, out, progress=False, overwrite=True)
    assert len(read_manifest(out)) == 5
    with pytest.raises(UserError, match="cannot keep class"):
        convert_clothing_dataset(tree, tmp_path / "o2", progress=False, classes=["Pants"])


def _message(excinfo) -> str:
    return str(excinfo.value)


def test_convert_bad_inputs_one_line_each(tmp_path):
    root = make_tree(tmp_path / "a", ROWS[:2])
    text = (root / "images.csv").read_text().replace("sender_id", "sender")
    (root / "images.csv").write_text(text)
    with pytest.raises(UserError) as e:
        convert_clothing_dataset(root, tmp_path / "o", progress=False)
    assert "\n" not in _message(e) and "images.csv:1: missing column(s) sender_id" in _message(e)

    root = make_tree(tmp_path / "b", ROWS[:2])
    (root / "images" / "b-blue-long.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(UserError) as e:
        convert_clothing_dataset(root, tmp_path / "o", progress=False)
    msg = _message(e)
    assert "1 of 2 photos do not decode" in msg and "images.csv:3: images/b-blue-long.jpg: not a readable image" in msg
    assert not (tmp_path / "o").exists()  # nothing written
    out = convert_clothing_dataset(root, tmp_path / "o", progress=False, skip_unreadable=True)
    assert [r["product_id"] for r in read_manifest(out).rows] == ["a-red-tee"]
    assert json.loads((out / "conversion.json").read_text())["unreadable"][0].startswith("images.csv:3: ")

    root = make_tree(tmp_path / "c", ROWS[:1], extra_lines=[["../c/images/a-red-tee", "11", "T-Shirt", "False"]])
    with pytest.raises(UserError) as e:
        convert_clothing_dataset(root, tmp_path / "o3", progress=False)
    assert "\n" not in _message(e) and "images.csv:3: image '../c/images/a-red-tee.jpg' contains '..'" in _message(e)

    root = make_tree(tmp_path / "d", ROWS[:1], extra_lines=[["escape", "11", "T-Shirt", "False"]])
    secret = tmp_path / "secret.jpg"
    Image.new("RGB", (20, 20)).save(secret)
    os.symlink(secret, root / "images" / "escape.jpg")
    with pytest.raises(UserError, match=r"images.csv:3: image 'escape.jpg' is a symlink that resolves outside"):
        convert_clothing_dataset(root, tmp_path / "o4", progress=False)

    root = make_tree(tmp_path / "e", ROWS[:1], extra_lines=[["x", "11", "Jumpsuit", "False"],
                                                            ["a-red-tee", "11", "T-Shirt", "False"]])
    with pytest.raises(UserError) as e:
        convert_clothing_dataset(root, tmp_path / "o5", progress=False)
    assert "2 problems" in _message(e) and "images.csv:3: unknown class 'Jumpsuit'" in _message(e)
    assert "images.csv:4: duplicate image 'a-red-tee' (first at line 2)" in _message(e)


@pytest.mark.parametrize("colour,floor,name", [
    ((200, 30, 40), (128, 128, 128), "red"),
    ((40, 80, 190), (150, 110, 70), "blue"),
    ((240, 210, 40), (70, 70, 75), "yellow"),
    ((40, 140, 60), (200, 200, 205), "green"),
])
def test_annotator_finds_the_garment_and_its_colour(colour, floor, name):
    img, truth = photo(colour, floor)
    mask = garment_mask(img)
    assert mask.shape == truth.shape and mask_iou(mask, truth) > 0.8
    ann = annotate_photo(img)
    assert ann.colour.color == name and ann.colour.confidence > 0.8
    assert mask_iou(ann.mask > 0, truth) > 0.8 and set(np.unique(ann.mask)) <= {0, 1}


def test_ambiguous_colour_is_unknown():
    img, truth = photo((200, 30, 40), second=(40, 80, 190))  # half red, half blue
    r = read_colour(img, truth)
    assert r.color is None and {r.best, r.runner_up} == {"red", "blue"} and r.confidence < 0.55
    assert read_colour(img, np.zeros_like(truth)).color is None  # no garment pixels


def test_annotate_dataset_cli_idempotent(tree, tmp_path, capsys):
    out = convert_clothing_dataset(tree, tmp_path / "out", progress=False)
    assert cli_main(["data", "annotate", str(out), "--workers", "1", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["photos"] == 5
    m = read_manifest(out)
    got = {r["product_id"]: r["color"] for r in m.rows}
    assert got == {"a-red-tee": "red", "b-blue-long": "blue", "c-polo": "yellow", "d-dress": "green",
                   "e-shirt": "black"}
    assert all(mk == f"masks/{pid}.png" for mk, pid in zip(m.masks, m.product_ids))
    mask = np.asarray(Image.open(out / "masks" / "a-red-tee.png"))
    assert mask.shape == (H, W) and mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    with open(out / "annotations.csv", newline="") as f:
        ann = list(csv.DictReader(f))
    assert list(ann[0]) == ["path", "mask", "mask_source", "color", "best", "confidence", "runner_up",
                            "mask_fraction"]
    before = {p: p.read_bytes() for p in [out / "manifest.csv", out / "annotations.csv", out / "masks" / "c-polo.png"]}
    # a colour someone set is kept unless --overwrite-labels
    text = (out / "manifest.csv").read_text().replace("photo,train,top,yellow", "photo,train,top,orange")
    text = text.replace(",yellow,", ",orange,")
    (out / "manifest.csv").write_text(text)
    assert annotate(out, workers=1, progress=False)["cells_changed"] == 0
    assert read_manifest(out).row(m.product_ids.index("c-polo"))["color"] == "orange"
    annotate(out, workers=1, progress=False, overwrite_labels=True)
    assert {p: p.read_bytes() for p in before} == before  # the same files again
    assert read_manifest(out).labels[:, SYNTH_SCHEMA.group_index("color")].min() > UNKNOWN


def test_annotate_bad_folder_is_one_line(tmp_path, capsys):
    assert cli_main(["data", "annotate", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("amgan: error:") and "\n" not in err


def test_no_garment_found_means_no_mask_and_unknown_colour():
    img = np.full((H, W, 3), 128, np.uint8)
    img[70:90, 50:70] = (200, 30, 40)  # a logo-sized patch: 2% of the frame
    ann = annotate_photo(img)
    assert not ann.found and ann.mask_fraction < 0.1 and ann.colour.color is None
    assert ann.colour.best == "red"  # the reading is kept for annotations.csv


def test_annotate_eval_strict_lenient_and_abstentions(tree, tmp_path, capsys):
    out = convert_clothing_dataset(tree, tmp_path / "out", progress=False)
    annotate(out, workers=1, progress=False)
    checked = tmp_path / "checked.csv"
    checked.write_text("image,sender_id,color,color_alt,notes\n"
                       "a-red-tee,11,red,,\n"        # right
                       "c-polo,12,orange,yellow,\n"  # right only leniently
                       "e-shirt,14,gray,,\n"         # wrong (black)
                       "d-dress,13,unknown,,\n"      # checked unknown: reported apart
                       "f-pants,12,blue,,\n")        # a dropped class: not in the set
    assert cli_main(["data", "annotate-eval", str(out), "--checked", str(checked)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert (r["known"], r["named"], r["not_in_set"], r["checked_unknown"]) == (3, 3, 1, 1)
    assert (r["strict"], r["lenient"], r["coverage"]) == (round(1 / 3, 3), round(2 / 3, 3), 1.0)
    assert r["confusions"] == {"gray->black": 1} and r["checked_unknown_abstained"] == 0
    assert cli_main(["data", "annotate-eval", str(out), "--checked", str(tmp_path / "none.csv")]) == 2


def test_a_data_sets_own_masks_are_read_and_never_replaced(tmp_path):
    from amgan.data.manifest import write_manifest

    root = make_tree(tmp_path / "src", ROWS[:2])
    out = convert_clothing_dataset(root, tmp_path / "out", progress=False)
    m = read_manifest(out)
    rows = m.rows
    (out / "masks").mkdir()
    truth = photo(ROWS[0][4], ROWS[0][5])[1]
    region = np.where(truth, 2, 0).astype(np.uint8)  # "sleeves" everywhere: not what GrabCut writes
    Image.fromarray(region).save(out / "masks" / "a-red-tee.png")
    rows[0]["mask"] = "masks/a-red-tee.png"  # the name annotate would give its own mask
    write_manifest(out, m.schema, rows)
    for _ in range(2):
        annotate(out, workers=1, progress=False)
        assert (np.asarray(Image.open(out / "masks" / "a-red-tee.png")) == region).all()
    with open(out / "annotations.csv", newline="") as f:
        src = {r["path"]: (r["mask_source"], r["color"]) for r in csv.DictReader(f)}
    assert src == {"images/a-red-tee.jpg": ("given", "red"), "images/b-blue-long.jpg": ("grabcut", "blue")}


def _hand_file(path, rows, header="image,sender_id,label,color,color_alt,pattern,sleeve"):
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def test_hand_labels_replace_the_annotator_and_the_class(tree, tmp_path, capsys):
    out = convert_clothing_dataset(tree, tmp_path / "out", progress=False)
    annotate(out, workers=1, progress=False)
    before = {r["product_id"]: r for r in read_manifest(out).rows}
    assert (before["a-red-tee"]["color"], before["a-red-tee"]["sleeve"]) == ("red", "short")
    labels = _hand_file(tmp_path / "hand.csv", [
        ("a-red-tee", "11", "T-Shirt", "pink", "red", "solid", "sleeveless"),  # a tank top the class calls a T-shirt
        ("b-blue-long", "11", "Longsleeve", "unknown", "", "striped", "unknown"),  # stripes: no single colour
        ("d-dress", "13", "Dress", "green", "", "print", "long"),  # print: not a schema pattern
    ])
    blind = _hand_file(tmp_path / "blind.csv", [("c-polo", "12", "Polo", "yellow", "", "solid", "short")])
    assert cli_main(["data", "hand-labels", str(out), "--labels", str(labels), "--exclude", str(blind)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["photos"] == 3 and summary["groups"]["color"] == {"set": 2, "changed": 2, "emptied": 1, "kept": 0}
    after = {r["product_id"]: r for r in read_manifest(out).rows}
    assert (after["a-red-tee"]["color"], after["a-red-tee"]["sleeve"], after["a-red-tee"]["pattern"]) == \
        ("pink", "sleeveless", "solid")
    assert (after["b-blue-long"]["color"], after["b-blue-long"]["sleeve"], after["b-blue-long"]["pattern"]) == \
        ("", "long", "striped")  # colour emptied, the class's sleeve kept
    assert (after["d-dress"]["color"], after["d-dress"]["sleeve"], after["d-dress"]["pattern"]) == ("green", "long", "")
    assert after["c-polo"] == before["c-polo"] and after["e-shirt"] == before["e-shirt"]
    assert json.loads((out / "hand_labels.json").read_text())["photos"] == 3
    # the same labels again: the same manifest
    text = (out / "manifest.csv").read_bytes()
    assert cli_main(["data", "hand-labels", str(out), "--labels", str(labels)]) == 0
    assert (out / "manifest.csv").read_bytes() == text


def test_neckline_labels_from_their_own_file_join_the_colour_labels(tree, tmp_path, capsys):
    """Only Polo and Shirt say a neckline (collar): a person's neckline file sets the rest, alone or beside a
    colour file naming the same photos, and its photos do not count as colour-labelled."""
    from amgan.data.hand_labels import labelled_photos

    out = convert_clothing_dataset(tree, tmp_path / "out", progress=False)
    annotate(out, workers=1, progress=False)
    before = {r["product_id"]: r for r in read_manifest(out).rows}
    assert before["e-shirt"]["neckline"] == "collar" and before["a-red-tee"]["neckline"] == ""
    colour = _hand_file(tmp_path / "hand.csv", [("a-red-tee", "11", "T-Shirt", "pink", "", "solid", "short")])
    neck = _hand_file(tmp_path / "neck.csv", [("a-red-tee", "v_neck"), ("b-blue-long", "round"),
                                              ("e-shirt", "unknown")], header="image,neckline")
    assert cli_main(["data", "hand-labels", str(out), "--labels", str(colour), str(neck)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["photos"] == 3 and summary["groups"]["neckline"] == {"set": 2, "changed": 2, "emptied": 0, "kept": 1}
    after = {r["product_id"]: r for r in read_manifest(out).rows}
    assert (after["a-red-tee"]["color"], after["a-red-tee"]["neckline"]) == ("pink", "v_neck")
    assert after["b-blue-long"]["neckline"] == "round" and after["b-blue-long"]["color"] == before["b-blue-long"]["color"]
    assert after["e-shirt"] == before["e-shirt"]  # unknown: the class's collar stays
    assert labelled_photos(out, read_manifest(out).schema) == {"a-red-tee"}
    clash = _hand_file(tmp_path / "clash.csv", [("a-red-tee", "round")], header="image,neckline")
    assert cli_main(["data", "hand-labels", str(out), "--labels", str(neck), str(clash)]) == 2
    assert "clash.csv:2: a-red-tee is labelled differently (neckline) at" in capsys.readouterr().err


def test_hand_labels_refuse_bad_files_and_the_blind_set_with_nothing_written(tree, tmp_path, capsys):
    out = convert_clothing_dataset(tree, tmp_path / "out", progress=False)
    annotate(out, workers=1, progress=False)
    text = (out / "manifest.csv").read_bytes()
    bad = _hand_file(tmp_path / "bad.csv", [
        ("a-red-tee", "11", "T-Shirt", "crimson", "", "solid", "short"),   # not a colour name
        ("b-blue-long", "11", "Longsleeve", "blue", "", "paisley", "3/4"),  # pattern and sleeve wrong
        ("../x", "11", "T-Shirt", "red", "", "solid", "short"),            # a path, not a name
    ])
    assert cli_main(["data", "hand-labels", str(out), "--labels", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv:2: color 'crimson'" in err and "bad.csv:3: sleeve '3/4'" in err and "pattern 'paisley'" in err
    assert "bad.csv:4: bad image name '../x'" in err
    twice = _hand_file(tmp_path / "twice.csv", [("a-red-tee", "11", "T-Shirt", "red", "", "solid", "short"),
                                                ("a-red-tee", "11", "T-Shirt", "pink", "", "solid", "short")])
    assert cli_main(["data", "hand-labels", str(out), "--labels", str(twice)]) == 2
    assert "twice.csv:3: a-red-tee is labelled differently (color) at" in capsys.readouterr().err
    missing = _hand_file(tmp_path / "missing.csv", [("f-pants", "12", "Pants", "blue", "", "solid", "long"),
                                                    ("c-polo", "12", "Polo", "yellow", "", "solid", "short")])
    assert cli_main(["data", "hand-labels", str(out), "--labels", str(missing), "--exclude", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "f-pants is not in" in err and "c-polo is in the blind test set" in err
    nocol = _hand_file(tmp_path / "nocol.csv", [("a-red-tee", "red")], header="image,colour")
    assert cli_main(["data", "hand-labels", str(out), "--labels", str(nocol)]) == 2
    assert "nocol.csv:1: needs the column image and at least one of color, sleeve, pattern, neckline" in \
        capsys.readouterr().err
    neck = _hand_file(tmp_path / "neck.csv", [("a-red-tee", "turtle")], header="image,neckline")
    assert cli_main(["data", "hand-labels", str(out), "--labels", str(neck)]) == 2
    assert "neck.csv:2: neckline 'turtle' (allowed: collar, round, unknown, v_neck)" in capsys.readouterr().err
    assert (out / "manifest.csv").read_bytes() == text and not (out / "hand_labels.json").exists()


def test_the_shipped_hand_labels_are_valid_and_apart_from_the_blind_set():
    from amgan.data.hand_labels import read_hand_labels
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "amgan" / "data" / "labels"
    schema = SYNTH_SCHEMA
    hand = read_hand_labels([folder / "clothing_dev.csv", folder / "clothing_hand.csv"],
                            colors=schema.group("color").values, patterns=schema.group("pattern").values)
    blind = read_hand_labels([folder / "clothing_checked.csv"], colors=schema.group("color").values,
                             patterns=schema.group("pattern").values)
    assert len(hand) == 1352 and len(blind) == 240 and not set(hand) & set(blind)
    with open(folder / "clothing_hand.csv", newline="") as f:  # their senders are those of the train/val splits
        senders = {r["sender_id"] for r in csv.DictReader(f)}
    assert all(hash_split(s) in ("train", "val") for s in senders)
    neck = read_hand_labels([folder / "clothing_neckline.csv"], colors=schema.group("color").values,
                            patterns=schema.group("pattern").values, necklines=schema.group("neckline").values)
    assert len(neck) == 622 and not set(neck) & set(blind)
    assert {lab["neckline"] for lab in neck.values()} == {"round", "v_neck", "collar", "unknown"}
    assert all(lab["color"] is None and lab["sleeve"] is None for lab in neck.values())
    with open(folder / "clothing_neckline.csv", newline="") as f:  # the split each row says is its sender's
        assert all(hash_split(r["sender_id"]) == r["split"] for r in csv.DictReader(f))
    both = read_hand_labels([folder / "clothing_dev.csv", folder / "clothing_hand.csv", folder / "clothing_neckline.csv"],
                            **{k: schema.group(g).values for k, g in (("colors", "color"), ("patterns", "pattern"),
                                                                       ("necklines", "neckline"))})
    assert len(both) == 1601  # 373 photos have a person's colour and neckline


def test_the_frame_rescue_keeps_a_garment_that_runs_off_the_frame():
    """A garment cut by two edges of the photo: the certain-background band there is the garment's colour,
    so plain GrabCut learns it as background and loses much of the garment; with ``frame_rescue`` those
    band pixels start as probable garment and the mask follows the garment to the edge. A garment inside
    the frame gets the same mask either way (no side of the band looks like it)."""
    from amgan.data.garment_mask import frame_like, segment, to_work_size, _init_mask

    big, truth = photo((200, 30, 40), floor=(120, 125, 130), w=240, h=320)
    crop, t = big[90:, :150], truth[90:, :150]  # the shirt's right side and hem run off the frame
    small = to_work_size(crop)
    t_small = np.asarray(Image.fromarray(t).resize(small.shape[1::-1], Image.NEAREST))
    plain, rescued = segment(small), segment(small, frame_rescue=True)
    assert mask_iou(rescued, t_small) > max(0.85, mask_iou(plain, t_small) + 0.1)
    inside = to_work_size(big)
    assert not frame_like(inside, segment(inside), _init_mask(*inside.shape[:2], 0.03, 0.12)).any()
    assert np.array_equal(segment(inside), segment(inside, frame_rescue=True))


def test_the_shipped_anchor_table_is_the_palettes_nearest_anchor(tmp_path, monkeypatch):
    """The shipped nearest-anchor table (make palette-table) agrees with CIEDE2000 on the bins it is
    checked on, is refused when made for another palette, and a missing or broken table only means the
    bins are computed as photos need them (same readings)."""
    from amgan.data import annotate as A

    table = A.read_anchor_table()
    assert table is not None, "amgan/data/palette_anchors.npz is missing or made for another PALETTE: run make palette-table"
    lazy = A._Lut(tuple(A.PALETTE), shipped=False)
    bins = np.random.default_rng(0).choice(64 ** 3, 3000, replace=False)
    lazy.fill(bins)
    assert np.array_equal(lazy.anchor[bins], table[bins])
    shipped = A._Lut(tuple(A.PALETTE))
    assert np.array_equal(shipped.nearest[bins], lazy.nearest[bins]) and (shipped.anchor >= 0).all()
    # another palette's table, a broken file, no file: None
    other = tmp_path / "other.npz"
    np.savez_compressed(other, anchor=table.astype(np.int8), fingerprint=np.array("0" * 64))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a table")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(A.ANCHOR_TABLE.read_bytes()[:4000])
    assert A.read_anchor_table(other) is None and A.read_anchor_table(broken) is None
    assert A.read_anchor_table(truncated) is None
    assert A.read_anchor_table(tmp_path / "missing.npz") is None
    # a written table reads back (the computation itself is what the lazy check above compares with)
    monkeypatch.setattr(A, "anchor_table", lambda: table.astype(np.int8))
    assert np.array_equal(A.read_anchor_table(A.write_anchor_table(tmp_path / "t.npz")), table)
