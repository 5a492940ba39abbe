"""Manifests: round trip, validation (every problem, with file:line), dataset, pairs, references."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from amgan.attributes import Group, Schema
from amgan.data.manifest import (
    ManifestDataset,
    ManifestError,
    ReferenceIndex,
    pairs_by_product,
    read_manifest,
    write_manifest,
)

SCHEMA = Schema([
    Group("category", ("top", "dress"), manipulable=False),
    Group("color", ("red", "blue", "green")),
    Group("sleeve", ("short", "long")),
])


def _img(path, size=(12, 10), color=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def _mask(path, size=(12, 10)):
    a = np.zeros(size[::-1], np.uint8)
    a[2:8, 3:9] = 1
    a[2:8, 3:5] = 2
    Image.fromarray(a, mode="L").save(path)


def _rows():
    return [
        dict(path="images/a.png", product_id="p1", view="shop", split="train", mask="masks/a.png",
             category="top", color="red", sleeve="short"),
        dict(path="images/b.png", product_id="p1", view="street", split="train",
             category="top", color="red", sleeve="short"),
        dict(path="images/c.png", product_id="p2", view="shop", split="test", label=[1, 1, 1]),
        dict(path="images/d.png", product_id="p2", view="street", split="test", label=[1, 1, 1]),
    ]


@pytest.fixture()
def folder(tmp_path):
    for n in "abcd":
        _img(tmp_path / "images" / f"{n}.png", color=(10 * ord(n) % 255, 40, 90))
    (tmp_path / "masks").mkdir()
    _mask(tmp_path / "masks" / "a.png")
    write_manifest(tmp_path, SCHEMA, _rows())
    return tmp_path


def _write_csv(folder, lines):
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")


HEADER = "path,product_id,view,split,mask,category,color,sleeve"


# ---------------------------------------------------------------------------
def test_round_trip(folder):
    text = (folder / "manifest.csv").read_text().splitlines()
    assert text[0] == HEADER
    assert text[1] == "images/a.png,p1,shop,train,masks/a.png,top,red,short"
    m = read_manifest(folder)
    assert m.schema == SCHEMA and len(m) == 4
    assert m.labels.dtype == np.int64 and m.labels.tolist() == [[0, 0, 0], [0, 0, 0], [1, 1, 1], [1, 1, 1]]
    assert m.row(2) == {"path": "images/c.png", "product_id": "p2", "view": "shop", "split": "test",
                        "mask": "", "category": "dress", "color": "blue", "sleeve": "long"}
    assert m.indices("train").tolist() == [0, 1] and m.indices(view="street").tolist() == [1, 3]
    # write what we read: identical file
    write_manifest(folder / "copy", m.schema, [dict(r) for r in m.rows], check_files=False)
    assert (folder / "copy" / "manifest.csv").read_text() == (folder / "manifest.csv").read_text()
    # reading the csv path works like the folder
    assert read_manifest(folder / "manifest.csv").paths == m.paths


def test_no_mask_column_when_no_masks(tmp_path):
    _img(tmp_path / "x.png")
    write_manifest(tmp_path, SCHEMA, [dict(path="x.png", product_id="p", view="shop", split="val", label=[0, 2, 1])])
    assert (tmp_path / "manifest.csv").read_text().splitlines()[0] == "path,product_id,view,split,category,color,sleeve"
    m = read_manifest(tmp_path)
    assert not m.has_mask_column and m.masks == [""]


def test_every_row_problem_reported_together(folder):
    _write_csv(folder, [
        HEADER,
        "images/a.png,p1,shop,train,,top,red,short",       # 2 fine
        "images/missing.png,p1,shop,train,,top,red,short",  # 3 missing file
        "images/b.png,p1,shop,train,,top,purple,short",     # 4 unknown value
        "images/c.png,p1,shop,training,,top,red,short",     # 5 bad split
        "images/d.png,,shop,train,,top,red,short",          # 6 empty product id
        "images/a.png,p9,shop,train,,top,red,short",        # 7 duplicate path
        "images/c.png,p1,shop,test,,top,red,short",         # 8 product p1 in two splits
        "images/d.png,p3,Shop View,val,,top,red,short",     # 9 bad view
        "images/b.png,p4,shop,val,masks/nope.png,top,red",  # 10 wrong field count
        "images/b.png,p5,shop,val,masks/nope.png,top,red,long",  # 11 missing mask
    ])
    with pytest.raises(ManifestError) as ei:
        read_manifest(folder)
    msg = str(ei.value)
    expected = [
        ("manifest.csv:3:", "image file not found: images/missing.png"),
        ("manifest.csv:4:", "unknown value 'purple' for group 'color'; valid values: red, blue, green"),
        ("manifest.csv:5:", "bad split 'training'"),
        ("manifest.csv:6:", "empty product_id"),
        ("manifest.csv:7:", "duplicate path 'images/a.png' (first at line 2)"),
        ("manifest.csv:8:", "product 'p1' is in split 'test' here but in split 'train' at line 2"),
        ("manifest.csv:9:", "bad view 'Shop View'"),
        ("manifest.csv:10:", "expected 8 fields"),
        ("manifest.csv:11:", "mask file not found: masks/nope.png"),
    ]
    for where, what in expected:
        assert any(p.startswith(where) and what in p for p in ei.value.problems), (where, what, msg)
    assert not any(p.startswith("manifest.csv:2:") for p in ei.value.problems)
    assert msg.splitlines()[0].startswith(f"{len(ei.value.problems)} problems in ")


def test_header_problems(folder):
    _write_csv(folder, ["path,product_id,view,split,category,colour,sleeve,extra", "images/a.png,p,shop,train,top,red,short,1"])
    with pytest.raises(ManifestError) as ei:
        read_manifest(folder)
    msg = str(ei.value)
    assert "manifest.csv:1: missing column(s): color" in msg
    assert "manifest.csv:1: unknown column(s): 'colour', 'extra'" in msg
    _write_csv(folder, ["path,view,product_id,split,category,color,sleeve", "images/a.png,shop,p,train,top,red,short"])
    with pytest.raises(ManifestError, match="manifest.csv:1: columns out of order"):
        read_manifest(folder)


def test_missing_schema_and_manifest(tmp_path, folder):
    (folder / "schema.json").unlink()
    with pytest.raises(ManifestError, match=r"schema.json: schema file not found: .*schema.json"):
        read_manifest(folder)
    with pytest.raises(ManifestError, match="manifest.csv: file not found"):
        read_manifest(tmp_path / "nothing")


def test_write_validates_before_writing(tmp_path):
    _img(tmp_path / "a.png")
    rows = [dict(path="a.png", product_id="p", view="shop", split="train", label=[0, 0, 0]),
            dict(path="a.png", product_id="p", view="shop", split="test", color="pink", category="top", sleeve="x"),
            dict(path="a.png", product_id="q", view="shop", split="test", label=[0, 0, 0], seed=3)]
    with pytest.raises(ManifestError) as ei:
        write_manifest(tmp_path, SCHEMA, rows)
    probs = ei.value.problems
    assert any(p.startswith("manifest.csv:3:") and "duplicate path" in p for p in probs)
    assert any(p.startswith("manifest.csv:3:") and "unknown value 'pink'" in p for p in probs)
    assert any(p.startswith("manifest.csv:3:") and "in split 'test' here but in split 'train'" in p for p in probs)
    assert any(p.startswith("manifest.csv:4:") and "unknown key(s) ['seed']" in p for p in probs)
    assert not (tmp_path / "manifest.csv").exists() and not (tmp_path / "schema.json").exists()


def test_splits_disjoint_by_product(folder):
    m = read_manifest(folder)
    by_split = {s: {m.product_ids[i] for i in m.indices(s)} for s in ("train", "val", "test")}
    assert by_split["train"].isdisjoint(by_split["test"]) and by_split["train"] == {"p1"}


# ---------------------------------------------------------------------------
def test_dataset_items(folder):
    ds = ManifestDataset(folder, size=8)
    assert len(ds) == 4
    it = ds[0]
    assert set(it) == {"image", "label", "mask", "product_id", "view", "index"}
    assert it["image"].shape == (3, 8, 8) and it["image"].dtype == torch.float32
    assert 0.0 <= it["image"].min() and it["image"].max() <= 1.0
    assert it["label"].dtype == torch.int64 and it["label"].tolist() == [0, 0, 0]
    assert it["mask"].shape == (8, 8) and it["mask"].dtype == torch.int64
    assert set(it["mask"].unique().tolist()) <= {0, 1, 2} and (it["mask"] == 2).any()
    assert (ds[1]["mask"] == -1).all()
    assert (it["product_id"], it["view"], it["index"]) == ("p1", "shop", 0)
    # colour survives: image a is (10*97 % 255, 40, 90) everywhere
    assert torch.allclose(it["image"][:, 4, 4], torch.tensor([970 % 255, 40, 90]) / 255.0, atol=1e-6)
    # native size, filters, cache
    assert ManifestDataset(folder)[0]["image"].shape == (3, 10, 12)
    test_street = ManifestDataset(folder, split="test", view="street", cache=True)
    assert len(test_street) == 1 and test_street[0]["index"] == 3 and test_street[0]["label"].tolist() == [1, 1, 1]
    test_street[0]
    assert 3 in test_street._cache
    batch = next(iter(torch.utils.data.DataLoader(ManifestDataset(folder, size=8), batch_size=4)))
    assert batch["image"].shape == (4, 3, 8, 8) and batch["label"].shape == (4, 3)


def test_dataset_rejects_bad_mask(folder):
    Image.fromarray(np.full((10, 12), 7, np.uint8)).save(folder / "masks" / "a.png")
    with pytest.raises(ValueError, match=r"masks/a.png has labels \[7\]"):
        ManifestDataset(folder)[0]


def test_pairs_by_product(folder):
    m = read_manifest(folder)
    assert pairs_by_product(m) == [(1, 0), (3, 2)]
    assert pairs_by_product(m, "test") == [(3, 2)]
    assert pairs_by_product(m, "val") == []


# ---------------------------------------------------------------------------
# ReferenceIndex: columns are (category, color, sleeve)
LABELS = np.array([
    [0, 0, 0],  # 0
    [0, 1, 1],  # 1
    [0, 1, 1],  # 2  (tie with 1)
    [1, 2, 0],  # 3
    [1, 0, 1],  # 4
])


def test_reference_exact_match_and_exclude():
    r = ReferenceIndex(LABELS, schema=SCHEMA)
    assert r.find([0, 0, 0]) == 0
    assert r.find([1, 2, 0]) == 3
    assert r.find([0, 1, 1], exclude=[1]) == 2
    assert r.find([0, 1, 1], exclude=2) == 1


def test_reference_ties_are_random_but_seeded():
    r = ReferenceIndex(LABELS, schema=SCHEMA)
    got = r.find_batch(np.tile([0, 1, 1], (200, 1)), rng=np.random.default_rng(1))
    assert set(got.tolist()) == {1, 2} and 60 < (got == 1).sum() < 140
    again = ReferenceIndex(LABELS, schema=SCHEMA).find_batch(np.tile([0, 1, 1], (200, 1)), rng=np.random.default_rng(1))
    assert (got == again).all()


def test_reference_fallback_most_similar_same_category():
    r = ReferenceIndex(LABELS, schema=SCHEMA)
    # dress, red, short: no exact match; row 3 (dress, green, short) and 4 (dress, red, long) share 2 groups
    assert r.find([1, 0, 0], rng=np.random.default_rng(0)) in (3, 4)
    ids, eq = r.find_batch([[1, 0, 0], [0, 2, 1]], return_equal=True)
    assert eq.tolist() == [2, 2]
    # top, green, long: rows 1 and 2 (top, blue, long) share category and sleeve
    assert ids[1] in (1, 2)
    # dress, blue, long: rows 1-2 and row 4 each share 2 groups; only row 4 shares the category
    assert r.find([1, 1, 1]) == 4
    only_tops = ReferenceIndex(LABELS[:3], schema=SCHEMA)
    assert only_tops.find([1, 0, 0]) == 0  # no dress at all: most similar of any category


def test_reference_category_dominates_similarity():
    labels = np.array([[0, 1, 1], [1, 0, 0]])
    r = ReferenceIndex(labels, schema=SCHEMA)
    # target (top, red, short): row 1 matches color+sleeve but is a dress; row 0 is a top with nothing else equal
    assert r.find([0, 0, 0]) == 0
    assert ReferenceIndex(labels, None).find([0, 0, 0]) == 1  # without a category constraint


def test_reference_from_manifest_and_errors(folder):
    m = read_manifest(folder)
    r = ReferenceIndex.from_manifest(m, "test")
    assert r.find([1, 1, 1], exclude=2) == 3
    with pytest.raises(ValueError, match="every candidate is excluded"):
        r.find([1, 1, 1], exclude=[2, 3])
    with pytest.raises(ValueError, match="pass schema="):
        ReferenceIndex(LABELS)
    with pytest.raises(ValueError, match=r"shape \[B, 3\]"):
        ReferenceIndex(LABELS, schema=SCHEMA).find_batch([[0, 0]])
