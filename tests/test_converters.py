"""Converters on tiny fixture trees built here, in each data set's published layout."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from amgan.attributes import Group, Schema
from amgan.data.converters import FORMATS, ConverterError, convert, hash_split, sanitize
from amgan.data.manifest import ManifestDataset, read_manifest


def _jpg(path, size, color=(120, 60, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.zeros((size[1], size[0], 3), np.uint8)
    a[...] = color
    a[:, : size[0] // 2, 0] = 250  # not flat, so a crop is recognisable
    Image.fromarray(a).save(path, quality=95)


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _df_list(path, header, entries):
    """DeepFashion list file: count line, header line, entries padded like the release."""
    _write(path, [str(len(entries)), header, *entries])


def _problems(ei):
    return ei.value.problems


def test_formats_and_sanitize():
    assert set(FORMATS) == {"deepfashion_category", "deepfashion_synthesis", "deepfashion_inshop",
                            "shopping100k", "folder_csv", "clothing_dataset"}
    assert sanitize("Abstract Chevron-Print") == "abstract_chevron_print"
    assert sanitize("3/4 sleeve") == "v3_4_sleeve"
    with pytest.raises(ValueError, match="unknown format 'nope'"):
        convert("nope", ".", "x")


# ---------------------------------------------------------------------------
# DeepFashion Category and Attribute Prediction
# ---------------------------------------------------------------------------
DF_ATTRS = [("a-line", 3), ("abstract chevron print", 1), ("chiffon", 2), ("floral", 1), ("peter pan collar", 4),
            ("boho", 5)]
DF_IMAGES = [  # name, category label (1-based), labels, bbox, split
    ("img/Sheer_Pleated-Front_Blouse/img_00000001.jpg", 2, [-1, 1, 1, 1, -1, -1], (10, 5, 50, 45), "train"),
    ("img/Sheer_Pleated-Front_Blouse/img_00000002.jpg", 2, [-1, -1, -1, 1, 1, -1], (0, 0, 60, 50), "train"),
    ("img/Sheer_Pleated-Front_Blouse/img_00000003.jpg", 2, [-1, -1, -1, -1, -1, -1], (20, 10, 30, 40), "val"),
    ("img/Floral_A-Line_Dress/img_00000004.jpg", 3, [1, -1, 0, 1, -1, 1], (5, 6, 55, 48), "test"),
    ("img/Hooded_Anorak/img_00000005.jpg", 1, [-1, -1, 1, -1, -1, -1], (1, 2, 59, 49), "train"),
]


def make_deepfashion_category(root, images=DF_IMAGES):
    _df_list(root / "Anno" / "list_attr_cloth.txt", "attribute_name  attribute_type",
             [f"{n:<29}{t}" for n, t in DF_ATTRS])
    _df_list(root / "Anno" / "list_category_cloth.txt", "category_name  category_type",
             ["Anorak                  1", "Blouse                  1", "Dress                   3"])
    _df_list(root / "Anno" / "list_category_img.txt", "image_name  category_label",
             [f"{n:<70}{c}" for n, c, *_ in images])
    _df_list(root / "Anno" / "list_attr_img.txt", "image_name  attribute_labels",
             [f"{n:<70}" + " ".join(f"{v:>2}" for v in lab) for n, _, lab, *_ in images])
    _df_list(root / "Anno" / "list_bbox.txt", "image_name  x_1  y_1  x_2  y_2",
             [f"{n:<70}" + "  ".join(f"{v:03d}" for v in box) for n, _, _, box, _ in images])
    _df_list(root / "Eval" / "list_eval_partition.txt", "image_name  evaluation_status",
             [f"{n:<70}{s}" for n, *_, s in images])
    for n, *_ in images:
        _jpg(root / n, (60, 50))


def test_deepfashion_category(tmp_path):
    root, out = tmp_path / "df", tmp_path / "out"
    make_deepfashion_category(root)
    assert convert("deepfashion_category", root, out, progress=False) == out
    m = read_manifest(out)
    assert len(m) == 5
    assert m.schema.names == ("category", "texture", "fabric", "shape", "part", "style")
    assert not m.schema.group("category").manipulable and m.schema.group("texture").manipulable
    assert m.schema.group("category").values == ("anorak", "blouse", "dress")
    assert m.schema.group("texture").values == ("none", "abstract_chevron_print", "floral")
    rows = m.rows
    # first positive attribute of each type, else none; 0 (unknown) is not positive
    assert {k: rows[0][k] for k in m.schema.names} == {
        "category": "blouse", "texture": "abstract_chevron_print", "fabric": "chiffon", "shape": "none",
        "part": "none", "style": "none"}
    assert rows[1]["texture"] == "floral" and rows[1]["part"] == "peter_pan_collar"
    assert all(rows[2][g] == "none" for g in ("texture", "fabric", "shape", "part", "style"))
    assert {k: rows[3][k] for k in ("category", "shape", "fabric", "style")} == {
        "category": "dress", "shape": "a_line", "fabric": "none", "style": "boho"}
    assert [r["split"] for r in rows] == ["train", "train", "val", "test", "train"]
    assert rows[0]["product_id"] == "img/Sheer_Pleated-Front_Blouse/img_00000001"
    assert rows[0]["path"] == "images/img/Sheer_Pleated-Front_Blouse/img_00000001.png"
    for i, (_, _, _, (x1, y1, x2, y2), _) in enumerate(DF_IMAGES):
        with Image.open(m.image_path(i)) as im:
            assert im.size == (x2 - x1, y2 - y1)
    # the crop is the box: image 0 box starts at x=10 of a half-red image (red until x=30)
    with Image.open(m.image_path(0)) as im:
        a = np.asarray(im)
    assert a[0, 0, 0] > 240 and a[0, -1, 0] < 140
    meta = json.loads((out / "conversion.json").read_text())
    assert meta["rows"] == 5 and meta["splits"] == {"train": 3, "val": 1, "test": 1}
    assert len(ManifestDataset(out, split="train", size=16)) == 3
    with pytest.raises(ConverterError, match="already exists; pass overwrite=True"):
        convert("deepfashion_category", root, out, progress=False)


def test_deepfashion_category_bad(tmp_path):
    root, out = tmp_path / "df", tmp_path / "out"
    bad = [list(x) for x in DF_IMAGES]
    bad[1][1] = 9                               # category label out of range
    bad[2][2] = [-1, 2, -1, -1, -1, -1]         # label 2
    bad[3][3] = (5, 6, 75, 48)                  # box beyond the 60 px wide image
    bad[4][4] = "dev"                           # bad status
    make_deepfashion_category(root, [tuple(x) for x in bad])
    with pytest.raises(ConverterError) as ei:
        convert("deepfashion_category", root, out, progress=False)
    probs = _problems(ei)
    assert any(p.startswith("Anno/list_category_img.txt:4:") and "category_label 9 out of range 1..3" in p for p in probs)
    assert any(p.startswith("Anno/list_attr_img.txt:5:") and "must be -1, 0 or 1, got '2'" in p for p in probs)
    assert any(p.startswith("Eval/list_eval_partition.txt:7:") and "'dev'" in p for p in probs)
    assert not (out / "manifest.csv").exists()
    # fix those, keep the bad box: reported at its list_bbox line once images are read
    bad[1][1], bad[2][2], bad[4][4] = 2, [-1] * 6, "train"
    make_deepfashion_category(root, [tuple(x) for x in bad])
    with pytest.raises(ConverterError) as ei:
        convert("deepfashion_category", root, out, progress=False)
    assert len(_problems(ei)) == 1
    assert _problems(ei)[0].startswith("Anno/list_bbox.txt:6: bounding box (5, 6, 75, 48)")
    assert not (out / "manifest.csv").exists()


def test_deepfashion_list_file_layout_errors(tmp_path):
    root = tmp_path / "df"
    make_deepfashion_category(root)
    p = root / "Eval" / "list_eval_partition.txt"
    p.write_text("\n".join(p.read_text().splitlines()[1:]) + "\n")  # drop the count line
    q = root / "Anno" / "list_bbox.txt"
    lines = q.read_text().splitlines()
    q.write_text("\n".join(["7", *lines[1:4], lines[4] + " 12", *lines[5:]]) + "\n")
    (root / "Anno" / "list_category_img.txt").unlink()
    with pytest.raises(ConverterError) as ei:
        convert("deepfashion_category", root, tmp_path / "out", progress=False)
    probs = _problems(ei)
    assert "Eval/list_eval_partition.txt:1: expected the entry count on line 1, got 'image_name  evaluation_status'" in probs
    assert "Anno/list_bbox.txt:5: expected 5 columns, got 6" in probs
    assert "Anno/list_bbox.txt:1: the count line says 7 entries but the file has 5" in probs
    assert "Anno/list_category_img.txt: file not found" in probs


# ---------------------------------------------------------------------------
# DeepFashion In-shop
# ---------------------------------------------------------------------------
INSHOP = [  # name, item, status, clothes_type, pose, bbox
    ("img/WOMEN/Dresses/id_00000002/02_1_front.jpg", "id_00000002", "train", 3, 1, (10, 5, 40, 45)),
    ("img/WOMEN/Dresses/id_00000002/02_2_side.jpg", "id_00000002", "train", 3, 2, (12, 5, 42, 45)),
    ("img/MEN/Denim/id_00000080/01_1_front.jpg", "id_00000080", "query", 2, 1, (0, 0, 48, 64)),
    ("img/MEN/Denim/id_00000080/01_7_additional.jpg", "id_00000080", "gallery", 2, 6, (3, 4, 20, 30)),
    ("img/WOMEN/Blouses_Shirts/id_00000001/02_1_front.jpg", "id_00000001", "gallery", 1, 1, (5, 5, 45, 60)),
]


def make_inshop(root, entries=INSHOP):
    _df_list(root / "Eval" / "list_eval_partition.txt", "image_name item_id evaluation_status",
             [f"{n} {i} {s}" for n, i, s, *_ in entries])
    _df_list(root / "Anno" / "list_bbox_inshop.txt", "image_name  clothes_type  pose_type  x_1  y_1  x_2  y_2",
             [f"{n:<60}{c}  {p}  " + "  ".join(f"{v:03d}" for v in b) for n, _, _, c, p, b in entries])
    for n, *_ in entries:
        _jpg(root / "Img" / n, (48, 64))  # the release unzips to Img/img/...


def test_deepfashion_inshop(tmp_path):
    root, out = tmp_path / "inshop", tmp_path / "out"
    make_inshop(root)
    convert("deepfashion_inshop", root, out, progress=False)
    m = read_manifest(out)
    assert len(m) == 5
    assert m.product_ids == ["id_00000002", "id_00000002", "id_00000080", "id_00000080", "id_00000001"]
    assert m.views == ["shop", "shop", "street", "shop", "shop"]
    assert m.splits == ["train", "train", "test", "test", "test"]
    assert m.schema.group("category").values == ("men_denim", "women_blouses_shirts", "women_dresses")
    assert not m.schema.group("category").manipulable and m.schema.group("gender").manipulable
    assert [r["category"] for r in m.rows][:3] == ["women_dresses", "women_dresses", "men_denim"]
    assert [r["gender"] for r in m.rows] == ["women", "women", "men", "men", "women"]
    for i, (*_, (x1, y1, x2, y2)) in enumerate(INSHOP):
        with Image.open(m.image_path(i)) as im:
            assert im.size == (x2 - x1, y2 - y1)
    from amgan.data.manifest import pairs_by_product
    assert pairs_by_product(m, "test") == [(2, 3)]


def test_deepfashion_inshop_bad(tmp_path):
    root, out = tmp_path / "inshop", tmp_path / "out"
    bad = list(INSHOP)
    bad[2] = (bad[2][0], "id_00000002", "query", 2, 1, (0, 0, 48, 64))   # train item also queried
    bad[4] = (bad[4][0], "id_00000001", "probe", 1, 1, (5, 5, 45, 60))   # bad status
    make_inshop(root, bad)
    lines = (root / "Anno" / "list_bbox_inshop.txt").read_text().splitlines()
    (root / "Anno" / "list_bbox_inshop.txt").write_text("\n".join(["4", *lines[1:5], *lines[6:]]) + "\n")
    with pytest.raises(ConverterError) as ei:
        convert("deepfashion_inshop", root, out, progress=False)
    probs = _problems(ei)
    assert any(p.startswith("Eval/list_eval_partition.txt:5: product 'id_00000002' is in split 'test' here but in "
                            "'train' at line 3") for p in probs), probs
    assert any(p.startswith("Eval/list_eval_partition.txt:7: evaluation_status must be train, query or gallery")
               for p in probs)
    assert any(p.startswith("Eval/list_eval_partition.txt:6:") and "no entry in Anno/list_bbox_inshop.txt" in p
               for p in probs)


# ---------------------------------------------------------------------------
# Shopping100k (ADDE split files)
# ---------------------------------------------------------------------------
ATTR_NUM = [16, 17, 19, 14, 10, 15, 2, 11, 16, 7, 9, 15]


def _onehot(idx):  # idx: one value index per block, -1 = not annotated
    parts = []
    for n, k in zip(ATTR_NUM, idx):
        b = [0] * n
        if k >= 0:
            b[k] = 1
        parts += b
    return " ".join(map(str, parts))


SHOP_TRAIN = [("Dresses/1001.jpg", [3, 0, 5, 1, -1, 2, 0, 4, 7, 1, 0, 3]),
              ("Shirts/2002.jpg", [0, 16, 18, -1, 9, 14, 1, 10, 15, 6, 8, 14])]
SHOP_TEST = [("Dresses/3003.jpg", [3, 1, 2, 3, 4, 5, 0, 6, 7, 0, 1, 2])]


def make_shopping100k(root, train=SHOP_TRAIN, test=SHOP_TEST):
    _write(root / "attr_num.txt", [str(n) for n in ATTR_NUM])
    for split, items in (("train", train), ("test", test)):
        _write(root / f"imgs_{split}.txt", [n for n, _ in items])
        _write(root / f"labels_{split}.txt", [_onehot(i) for _, i in items])
        for n, _ in items:
            _jpg(root / "Images" / n, (30, 40))


def test_shopping100k(tmp_path):
    root, out = tmp_path / "splits", tmp_path / "out"
    make_shopping100k(root)
    convert("shopping100k", root, out, progress=False)
    m = read_manifest(out)
    assert len(m) == 3 and m.splits == ["train", "train", "test"] and set(m.views) == {"shop"}
    assert m.schema.names == ("category", "collar", "color", "fabric", "fastening", "fit", "gender", "length",
                              "neckline", "pattern", "pocket", "sleeve")
    assert m.schema.sizes == tuple(n + 1 for n in ATTR_NUM)  # + none
    assert not m.schema.group("category").manipulable and m.schema.group("color").manipulable
    r0 = m.row(0)
    assert (r0["category"], r0["color"], r0["fastening"], r0["neckline"]) == ("v03", "v05", "none", "v07")
    assert m.row(1)["collar"] == "v16" and m.row(1)["fabric"] == "none"
    assert m.product_ids == ["Dresses/1001", "Shirts/2002", "Dresses/3003"]
    with Image.open(m.image_path(2)) as im:
        assert im.size == (30, 40)
    # value names from a JSON file
    names = {"gender": ["Female", "Male"]}
    (tmp_path / "names.json").write_text(json.dumps(names))
    convert("shopping100k", root, tmp_path / "out2", value_names=tmp_path / "names.json", progress=False)
    m2 = read_manifest(tmp_path / "out2")
    assert m2.schema.group("gender").values == ("none", "female", "male")
    assert [r["gender"] for r in m2.rows] == ["female", "male", "female"]


def test_shopping100k_bad(tmp_path):
    root, out = tmp_path / "splits", tmp_path / "out"
    make_shopping100k(root, test=[SHOP_TRAIN[0], *SHOP_TEST])  # the same image in train and test
    lab = (root / "labels_train.txt").read_text().splitlines()
    two_hot = lab[1].split()
    two_hot[0] = "1"  # category block already has a 1 at index 0 -> set another one
    two_hot[1] = "1"
    (root / "labels_train.txt").write_text("\n".join([lab[0] + " 0", " ".join(two_hot)]) + "\n")
    with pytest.raises(ConverterError) as ei:
        convert("shopping100k", root, out, progress=False)
    probs = _problems(ei)
    assert "labels_train.txt:1: expected 151 labels, each 0 or 1 (attr_num.txt), got 152 tokens" in probs
    assert any(p.startswith("labels_train.txt:2: group 'category' (labels 1..16) has 2 ones") for p in probs)
    (root / "labels_train.txt").write_text("\n".join(_onehot(i) for _, i in SHOP_TRAIN) + "\n")
    with pytest.raises(ConverterError) as ei:
        convert("shopping100k", root, out, progress=False)
    assert any(p.startswith("imgs_test.txt:1: product 'Dresses/1001' is in split 'test' here but in 'train' at "
                            "imgs_train.txt:1") for p in _problems(ei)), _problems(ei)


# ---------------------------------------------------------------------------
# DeepFashion-Synthesis plain-text export
# ---------------------------------------------------------------------------
def make_synthesis(root, lines=None):
    lines = lines or ["images/000001.png  3  2  0  5  train", "images/000002.png  17  4  1  19  train",
                      "images/000003.png  1  1  0  1  test"]
    _df_list(root / "attributes.txt", "image_name  color  sleeve  gender  category  evaluation_status", lines)
    for k in (1, 2, 3):
        _jpg(root / "images" / f"00000{k}.png", (16, 16))


def test_deepfashion_synthesis(tmp_path):
    root, out = tmp_path / "syn", tmp_path / "out"
    make_synthesis(root)
    convert("deepfashion_synthesis", root, out, progress=False)
    m = read_manifest(out)
    assert m.schema.names == ("color", "sleeve", "gender", "category")
    assert m.schema.sizes == (17, 4, 2, 19)
    assert [g.manipulable for g in m.schema.groups] == [True, True, False, False]
    assert m.row(0)["color"] == "v03" and m.row(1)["color"] == "v17" and m.row(1)["gender"] == "v01"
    assert m.splits == ["train", "train", "test"] and m.paths[0] == "images/000001.png"
    sleeves = ["sleeveless", "short", "medium", "long"]
    (root / "value_names.json").write_text(json.dumps({"sleeve": sleeves}))
    convert("deepfashion_synthesis", root, tmp_path / "out2", progress=False)
    m2 = read_manifest(tmp_path / "out2")
    assert m2.schema.group("sleeve").values == tuple(sleeves) and m2.row(1)["sleeve"] == "long"


def test_deepfashion_synthesis_bad(tmp_path):
    root = tmp_path / "syn"
    make_synthesis(root, ["images/000001.png  18  2  0  5  train", "images/000002.png  3  2  0  5",
                          "images/000009.png  3  2  0  5  train"])
    with pytest.raises(ConverterError) as ei:
        convert("deepfashion_synthesis", root, tmp_path / "out", progress=False)
    probs = _problems(ei)
    assert "attributes.txt:3: color 18 out of range 1..17" in probs
    assert any(p.startswith("attributes.txt:4: expected 6 columns") for p in probs)
    (root / "attributes.txt").write_text("3\nimage_name  colour  sleeve  evaluation_status\n")
    with pytest.raises(ConverterError) as ei:
        convert("deepfashion_synthesis", root, tmp_path / "out", progress=False)
    assert _problems(ei) == [
        "attributes.txt:1: the count line says 3 entries but the file has 0",
        "attributes.txt:2: header must be 'image_name color sleeve [gender] [category] evaluation_status'; "
        "unknown column(s) ['colour']; missing ['color']",
    ]


def test_deepfashion_synthesis_missing_image(tmp_path):
    root = tmp_path / "syn"
    make_synthesis(root, ["images/000001.png  3  2  0  5  train", "images/000009.png  3  2  0  5  test"])
    with pytest.raises(ConverterError) as ei:
        convert("deepfashion_synthesis", root, tmp_path / "out", progress=False)
    assert len(_problems(ei)) == 1 and _problems(ei)[0].startswith("attributes.txt:4: image file not found")


# ---------------------------------------------------------------------------
# folder + CSV
# ---------------------------------------------------------------------------
def make_folder(root, rows, header="path,color,Sleeve Length,category"):
    _write(root / "attributes.csv", [header, *rows])
    for r in rows:
        _jpg(root / r.split(",")[0], (20, 20))


FOLDER_ROWS = [f"pics/{k:02d}.jpg,{c},{s},{cat}" for k, (c, s, cat) in enumerate(
    [("Red", "long", "top"), ("blue", "short", "dress"), ("Light Green", "long", "top"), ("blue", "long", "dress")])]


def test_folder_csv_inferred(tmp_path):
    root, out = tmp_path / "shop", tmp_path / "out"
    make_folder(root, FOLDER_ROWS)
    convert("folder_csv", root, out, progress=False)
    m = read_manifest(out)
    assert m.schema.names == ("color", "sleeve_length", "category")
    assert m.schema.group("color").values == ("blue", "light_green", "red")
    assert not m.schema.group("category").manipulable and m.schema.group("sleeve_length").manipulable
    assert m.row(2)["color"] == "light_green" and m.paths[0] == "images/pics/00.jpg"
    assert m.product_ids == ["pics/00", "pics/01", "pics/02", "pics/03"]
    assert m.splits == [hash_split(p) for p in m.product_ids]
    assert set(m.views) == {"shop"}


def test_hash_split_is_80_10_10():
    s = [hash_split(f"item{k}") for k in range(5000)]
    frac = {x: s.count(x) / len(s) for x in ("train", "val", "test")}
    assert abs(frac["train"] - 0.8) < 0.03 and abs(frac["val"] - 0.1) < 0.02 and abs(frac["test"] - 0.1) < 0.02
    assert hash_split("item7") == hash_split("item7")


def test_folder_csv_with_schema_and_columns(tmp_path):
    root, out = tmp_path / "shop", tmp_path / "out"
    rows = ["a.jpg,p1,shop,train,red", "b.jpg,p1,street,train,blue", "c.jpg,p2,street,test,red"]
    make_folder(root, rows, header="path,product_id,view,split,color")
    schema = Schema([Group("color", ("red", "blue", "green"))])
    schema.save(tmp_path / "schema.json")
    convert("folder_csv", root, out, schema=tmp_path / "schema.json", progress=False)
    m = read_manifest(out)
    assert m.schema == schema and m.views == ["shop", "street", "street"] and m.splits == ["train", "train", "test"]
    from amgan.data.manifest import pairs_by_product
    assert pairs_by_product(m) == [(1, 0)]


def test_folder_csv_bad(tmp_path):
    root = tmp_path / "shop"
    rows = ["a.jpg,p1,shop,train,red", "b.jpg,p1,shop,test,purple", "c.jpg,p2,Street,dev,red", "d.jpg,p3,shop"]
    make_folder(root, rows[:3], header="path,product_id,view,split,color")
    (root / "attributes.csv").write_text("path,product_id,view,split,color\n" + "\n".join(rows) + "\n")
    schema = Schema([Group("color", ("red", "blue"))])
    schema.save(tmp_path / "schema.json")
    with pytest.raises(ConverterError) as ei:
        convert("folder_csv", root, tmp_path / "out", schema=tmp_path / "schema.json", progress=False)
    assert _problems(ei) == ["attributes.csv:5: expected 5 fields, got 3"]
    (root / "attributes.csv").write_text("path,product_id,view,split,color\n" + "\n".join(rows[:3]) + "\n")
    with pytest.raises(ConverterError) as ei:
        convert("folder_csv", root, tmp_path / "out", schema=tmp_path / "schema.json", progress=False)
    probs = _problems(ei)
    assert "attributes.csv:3: unknown value 'purple' in column 'color'; valid values: red, blue" in probs
    assert "attributes.csv:3: product 'p1' is in split 'test' here but in 'train' at line 2" in probs
    assert "attributes.csv:4: bad split 'dev'; must be one of train, val, test" in probs
    assert any(p.startswith("attributes.csv:4: bad view 'Street'") for p in probs)
    # inference needs two values per column
    make_folder(tmp_path / "one", ["x.jpg,red", "y.jpg,red"], header="path,color")
    with pytest.raises(ConverterError, match=r"attributes.csv:1: column 'color' has 1 distinct value\(s\)"):
        convert("folder_csv", tmp_path / "one", tmp_path / "out", progress=False)


# ---------------------------------------------------------------------------
# the package: one module per format, a plain registry, unknown labels, safety
# ---------------------------------------------------------------------------
def test_registry_is_a_plain_dict_of_the_format_functions():
    from amgan.data import converters as C
    from amgan.data.converters import deepfashion_inshop, folder_csv

    assert C.CONVERTERS is C.FORMATS and type(C.CONVERTERS) is dict
    assert C.CONVERTERS["folder_csv"] is C.convert_folder_csv is folder_csv.convert_folder_csv
    assert C.CONVERTERS["deepfashion_inshop"] is deepfashion_inshop.convert_deepfashion_inshop
    assert all(fn.__name__ == f"convert_{name}" for name, fn in C.CONVERTERS.items())


def test_folder_csv_empty_cells_are_unknown(tmp_path, capsys):
    from amgan.cli import main

    root, out = tmp_path / "shop", tmp_path / "out"
    make_folder(root, ["a.jpg,red,long,top", "b.jpg,,short,dress", "c.jpg,blue,,top", "d.jpg,blue,long,"])
    assert main(["data", "convert", "folder_csv", "--root", str(root), "--out", str(out), "--quiet"]) == 0
    m = read_manifest(out)
    assert m.schema.group("color").values == ("blue", "red")  # the empty cell is not a value
    assert m.labels.tolist() == [[1, 0, 1], [-1, 1, 0], [0, -1, 1], [0, 0, -1]]
    assert json.loads((out / "conversion.json").read_text())["unknown_labels"] == {
        "color": 1, "sleeve_length": 1, "category": 1}
    err = capsys.readouterr().err
    assert "unknown attribute values (empty cells): color 1/4 unknown, sleeve_length 1/4 unknown" in err
    # with a schema the empty cell is still unknown, an unknown word is still an error
    m.schema.save(tmp_path / "schema.json")
    make_folder(tmp_path / "s", ["a.jpg,red,,top", "b.jpg,unknown,short,dress"])
    with pytest.raises(ConverterError) as ei:
        convert("folder_csv", tmp_path / "s", tmp_path / "out2", schema=tmp_path / "schema.json", progress=False)
    assert _problems(ei) == ["attributes.csv:3: unknown value 'unknown' in column 'color'; valid values: blue, red"]


def test_inshop_name_with_dotdot_is_rejected_before_writing(tmp_path):
    root, out = tmp_path / "inshop", tmp_path / "out"
    evil = "img/MEN/Denim/../../../../secret.jpg"
    make_inshop(root, [*INSHOP[:2], (evil, "id_9", "train", 2, 1, (0, 0, 10, 10))])
    _jpg(tmp_path / "secret.jpg", (48, 64))
    with pytest.raises(ConverterError) as ei:
        convert("deepfashion_inshop", root, out, progress=False)
    assert _problems(ei) == [f"Anno/list_bbox_inshop.txt:5: image path {evil!r} contains '..'; it must stay "
                             f"inside the image folder {root / 'Img'}"]
    assert "\n" not in str(ei.value) and not out.exists()


def test_one_problem_is_one_line(tmp_path):
    root = tmp_path / "syn"
    make_synthesis(root, ["images/000001.png  3  2  0  5  train", "images/000009.png  3  2  0  5  test"])
    with pytest.raises(ConverterError) as ei:
        convert("deepfashion_synthesis", root, tmp_path / "out", progress=False)
    assert str(ei.value) == f"deepfashion_synthesis: {_problems(ei)[0]} (data set {root})"
