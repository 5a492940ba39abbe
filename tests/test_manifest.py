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


# ---------------------------------------------------------------------------
# unknown values: an empty group cell is label -1
def test_empty_cell_is_unknown_everywhere(folder):
    _write_csv(folder, [
        HEADER,
        "images/a.png,p1,shop,train,masks/a.png,top,,short",
        "images/b.png,p1,street,train,,top,red,",
        "images/c.png,p2,shop,test,,,blue,long",
        "images/d.png,p2,street,test,,dress,blue,long",
    ])
    m = read_manifest(folder)
    assert m.labels.tolist() == [[0, -1, 0], [0, 0, -1], [-1, 1, 1], [1, 1, 1]]
    assert m.row(0)["color"] == "" and m.row(2)["category"] == "" and m.row(3)["category"] == "dress"
    counts = m.label_counts()
    assert list(counts) == ["category", "color", "sleeve"]
    assert counts["color"] == (3, 1) and counts["sleeve"].unknown == 1 and counts["category"].known == 3
    assert m.label_counts(split="test")["category"] == (1, 1)
    assert m.unknown_summary() == "category 1/4 unknown, color 1/4 unknown, sleeve 1/4 unknown"
    ds = ManifestDataset(m, size=8)
    assert ds[1]["label"].tolist() == [0, 0, -1] and ds[1]["label"].dtype == torch.int64
    assert (ds.labels == m.labels).all()
    # written back: identical file, the unknowns as empty cells
    write_manifest(folder / "copy", m.schema, [dict(r) for r in m.rows], check_files=False)
    assert (folder / "copy" / "manifest.csv").read_text() == (folder / "manifest.csv").read_text()
    assert pairs_by_product(m) == [(1, 0), (3, 2)]  # pairs ignore labels


def test_all_known_summary_is_empty(folder):
    m = read_manifest(folder)
    assert m.unknown_summary() == "" and all(c.unknown == 0 and c.known == 4 for c in m.label_counts().values())


def test_write_unknown_as_none_empty_or_minus_one(tmp_path):
    for n in "xyz":
        _img(tmp_path / f"{n}.png")
    write_manifest(tmp_path, SCHEMA, [
        dict(path="x.png", product_id="p", view="shop", split="train", category="top", color=None, sleeve="long"),
        dict(path="y.png", product_id="q", view="shop", split="train", category="", color="red", sleeve="long"),
        dict(path="z.png", product_id="r", view="shop", split="val", label=[1, 2, -1]),
    ])
    lines = (tmp_path / "manifest.csv").read_text().splitlines()
    assert lines[1:] == ["x.png,p,shop,train,top,,long", "y.png,q,shop,train,,red,long", "z.png,r,shop,val,dress,green,"]
    assert read_manifest(tmp_path).labels.tolist() == [[0, -1, 1], [-1, 0, 1], [1, 2, -1]]


def test_write_rejects_missing_group_and_bad_labels(tmp_path):
    _img(tmp_path / "x.png")
    _img(tmp_path / "y.png")
    with pytest.raises(ManifestError) as ei:
        write_manifest(tmp_path, SCHEMA, [
            dict(path="x.png", product_id="p", view="shop", split="train", category="top", color="red"),
            dict(path="y.png", product_id="q", view="shop", split="train", label=[0, -2, 0]),
        ])
    probs = ei.value.problems
    assert probs[0] == "manifest.csv:2: no value for group(s) ['sleeve']; give None or '' for an unknown value"
    assert probs[1].startswith("manifest.csv:3: bad label [0, -2, 0]") and "-1 for unknown" in probs[1]
    assert not (tmp_path / "manifest.csv").exists()


def test_the_word_unknown_is_a_value_not_a_blank(folder):
    _write_csv(folder, [HEADER, "images/a.png,p1,shop,train,,top,unknown,short"])
    with pytest.raises(ManifestError) as ei:
        read_manifest(folder)
    assert str(ei.value).startswith("manifest.csv:2: unknown value 'unknown' for group 'color'; valid values: "
                                    "red, blue, green (or an empty cell when the value is not known) (in ")
    assert "\n" not in str(ei.value)  # one problem: one line
    schema = Schema([Group("color", ("unknown", "red"))])
    write_manifest(folder / "u", schema, [dict(path="a.png", product_id="p", view="shop", split="train",
                                               color="unknown")], check_files=False)
    assert read_manifest(folder / "u", check_files=False).labels.tolist() == [[0]]


def test_manifest_rejects_out_of_range_labels(folder):
    m = read_manifest(folder)
    with pytest.raises(ValueError, match="label 5 at row 0 is out of range for group 'color'"):
        type(m)(root=m.root, schema=m.schema, paths=m.paths[:1], product_ids=["p"], views=["shop"],
                splits=["train"], masks=[""], labels=[[0, 5, 0]])


# ---------------------------------------------------------------------------
# paths stay inside the manifest folder; CSV failures are one line
@pytest.mark.parametrize("cell, message", [
    ("../outside.png", "path '../outside.png' contains '..'; it must stay inside the manifest folder"),
    ("images/../../outside.png", "contains '..'"),
    ("{abs}", "is absolute; it must be relative to the manifest folder"),
    ("images/link.png", "path 'images/link.png' is a symlink that resolves outside the manifest folder"),
])
@pytest.mark.parametrize("check_files", [True, False])
def test_paths_must_stay_inside(tmp_path, cell, message, check_files):
    folder = tmp_path / "data"
    _img(folder / "images" / "a.png")
    _img(tmp_path / "outside.png")
    (folder / "images" / "link.png").symlink_to(tmp_path / "outside.png")
    write_manifest(folder, SCHEMA, [dict(path="images/a.png", product_id="p", view="shop", split="train",
                                         label=[0, 0, 0])])
    cell = cell.format(abs=tmp_path / "outside.png")
    _write_csv(folder, [HEADER, "images/a.png,p1,shop,train,,top,red,short", f"{cell},p2,shop,train,,top,red,short"])
    with pytest.raises(ManifestError) as ei:
        read_manifest(folder, check_files=check_files)
    assert len(ei.value.problems) == 1 and ei.value.problems[0].startswith("manifest.csv:3: ")
    assert message in ei.value.problems[0]
    # the same as a mask, and through the writer (which then writes nothing)
    _write_csv(folder, [HEADER, f"images/a.png,p1,shop,train,{cell},top,red,short"])
    with pytest.raises(ManifestError, match="manifest.csv:2: mask "):
        read_manifest(folder, check_files=check_files)
    before = (folder / "manifest.csv").read_text()
    with pytest.raises(ManifestError, match="manifest.csv:2: path "):
        write_manifest(folder, SCHEMA, [dict(path=cell, product_id="p", view="shop", split="train", label=[0, 0, 0])],
                       check_files=check_files)
    assert (folder / "manifest.csv").read_text() == before


def test_symlink_inside_the_folder_is_fine(folder):
    (folder / "images" / "alias.png").symlink_to(folder / "images" / "a.png")
    (folder / "manifest.csv").write_text((folder / "manifest.csv").read_text().replace("images/b.png", "images/alias.png"))
    assert read_manifest(folder).paths[1] == "images/alias.png"


def test_absolute_path_inside_the_folder_is_made_relative(tmp_path):
    _img(tmp_path / "images" / "a.png")
    write_manifest(tmp_path, SCHEMA, [dict(path=tmp_path / "images" / "a.png", product_id="p", view="shop",
                                           split="train", label=[0, 0, 0])])
    assert read_manifest(tmp_path).paths == ["images/a.png"]


def test_csv_failures_are_one_line(folder):
    big = "x" * 140_000
    _write_csv(folder, [HEADER, "images/a.png,p1,shop,train,,top,red,short", f'images/b.png,"{big}",shop,train,,top,red,short'])
    with pytest.raises(ManifestError) as ei:
        read_manifest(folder)
    assert ei.value.problems == ["manifest.csv:3: cannot parse CSV: a field is longer than 131072 characters "
                                 "(an unclosed quote?)"]
    (folder / "manifest.csv").write_bytes(f"{HEADER}\nimages/a.png,p1,shop,train,,top,r\xe9d,short\n".encode("latin-1"))
    with pytest.raises(ManifestError) as ei:
        read_manifest(folder)
    assert ei.value.problems == ["manifest.csv:2: not UTF-8 text (byte 0xe9); is this a CSV file?"]
    (folder / "manifest.csv").write_text("")
    with pytest.raises(ManifestError, match="manifest.csv:1: empty file; expected the header path,product_id"):
        read_manifest(folder)


# ---------------------------------------------------------------------------
# ReferenceIndex with unknown values: unknown is neither equal nor unequal
def test_reference_unknown_ranks_between_equal_and_unequal():
    # target (top, red, short); rows differ only in sleeve: short, unknown, long
    labels = np.array([[0, 0, 1], [0, 0, -1], [0, 0, 0]])
    r = ReferenceIndex(labels, schema=SCHEMA)
    assert r.find([0, 0, 0]) == 2
    assert ReferenceIndex(labels[:2], schema=SCHEMA).find([0, 0, 0]) == 1  # unknown beats a contradiction
    ids, eq = ReferenceIndex(labels[:2], schema=SCHEMA).find_batch([[0, 0, 0]], return_equal=True)
    assert eq.tolist() == [2]  # the unknown sleeve is not counted as equal


def test_reference_two_unknowns_are_not_equal():
    # target knows only the category; row 0 has the same unknowns, row 1 has values: a tie, both returned
    labels = np.array([[0, -1, -1], [0, 2, 1]])
    ids, eq = ReferenceIndex(labels, schema=SCHEMA).find_batch(np.tile([0, -1, -1], (200, 1)),
                                                                rng=np.random.default_rng(0), return_equal=True)
    assert set(ids.tolist()) == {0, 1} and (eq == 1).all()


def test_reference_unknown_category_ranks_between():
    labels = np.array([[1, 0, 0], [-1, 1, 1]])
    r = ReferenceIndex(labels, schema=SCHEMA)
    # the other category matches every other group, the unknown category none: the unknown one wins
    assert r.find([0, 0, 0]) == 1
    assert ReferenceIndex(np.vstack([labels, [0, 1, 1]]), schema=SCHEMA).find([0, 0, 0]) == 2
    # a target whose category is unknown has no category constraint
    assert ReferenceIndex(np.array([[0, 1, 1], [1, 0, 0]]), schema=SCHEMA).find([-1, 0, 0]) == 1


def _naive_best_keys(labels, target, cat):
    """The documented ranking, one row at a time: (category tier, equal count, -unequal count)."""
    keys = []
    for row in labels:
        known = [(a, b) for a, b in zip(row, target) if a != -1 and b != -1]
        eq = sum(a == b for a, b in known)
        tier = 1 if -1 in (row[cat], target[cat]) else (2 if row[cat] == target[cat] else 0)
        keys.append((tier, eq, -(len(known) - eq)))
    return keys


def test_reference_matches_naive_ranking_with_unknowns():
    rng = np.random.default_rng(5)
    sizes = np.array(SCHEMA.sizes)
    for _ in range(30):
        labels = rng.integers(0, sizes, size=(25, 3))
        labels[rng.random(labels.shape) < 0.3] = -1
        targets = rng.integers(0, sizes, size=(8, 3))
        targets[rng.random(targets.shape) < 0.2] = -1
        r = ReferenceIndex(labels, schema=SCHEMA)
        ids, eq = r.find_batch(targets, rng=rng, return_equal=True)
        for t, i, e in zip(targets, ids, eq):
            keys = _naive_best_keys(labels, t, 0)
            assert keys[i] == max(keys), (labels, t, i)
            assert e == keys[i][1]


def test_reference_rejects_labels_below_minus_one():
    with pytest.raises(ValueError, match="value indices or -1"):
        ReferenceIndex(np.array([[0, -2, 0]]), schema=SCHEMA)
    with pytest.raises(ValueError, match="value indices or -1"):
        ReferenceIndex(LABELS, schema=SCHEMA).find([0, -3, 0])
