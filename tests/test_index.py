"""fir.index: exactness with ties, recall of approximate kinds, save/load, refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest

import fir.index as fi
from fir.index import (GalleryIndex, Hit, IndexFileError, IndexMismatchError,
                       exact_search_numpy)


def clustered(n, d, n_clusters, seed, spread=0.35):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, d))
    x = centres[rng.integers(0, n_clusters, n)] + spread * rng.standard_normal((n, d))
    return x.astype(np.float32)


def near(x, n, seed, noise=0.1):
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(x), n, replace=False)
    return (x[rows] + noise * rng.standard_normal((n, x.shape[1]))).astype(np.float32)


def recall_at_10(found, exact):
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)]))


def meta_for(n):
    return [{"path": f"img/{i}.png", "product_id": i // 3, "color": i % 5} for i in range(n)]


@pytest.fixture(scope="module")
def gallery5k():
    x = clustered(5000, 32, 50, seed=1)
    q = near(x, 200, seed=2)
    return x, q, exact_search_numpy(x, q, 10)[1]


# ------------------------------------------------------------------ exactness and ties
@pytest.fixture(scope="module")
def tied():
    """400 random rows plus exact duplicates of rows 0..99 and 0..49, under shuffled ids."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((400, 16)).astype(np.float32)
    x = np.concatenate([base, base[:100], base[:50]])
    ids = rng.permutation(np.arange(1000, 1000 + 3 * len(x), 3))
    return x, ids


def naive_search(x, ids, q, k):
    """Per-query Python sort by (score desc, id asc) on the normalised vectors."""
    g, qq = fi.as_unit_vectors(x), fi.as_unit_vectors(q, allow_1d=True)
    out = []
    for row in qq:  # float64 dot products, one per gallery row: duplicates score exactly alike
        scores = [float(np.dot(v.astype(np.float64), row.astype(np.float64))) for v in g]
        out.append([i for _, i in sorted(zip([-np.float32(x) for x in scores], ids))[:k]])
    return np.array(out)


@pytest.mark.parametrize("nq", [5, 50])  # faiss uses a BLAS path from 20 queries
@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_flat_equals_numpy_exact_including_ties(tied, nq, k):
    x, ids = tied
    rng = np.random.default_rng(nq)
    q = np.concatenate([x[rng.choice(100, nq // 2, replace=False)],  # tie at rank 1
                        rng.standard_normal((nq - nq // 2, 16)).astype(np.float32)])
    index = GalleryIndex.build(x, meta_for(len(x)), "m", kind="flat", ids=ids)
    s_f, i_f = index.search(q, k)
    s_n, i_n = exact_search_numpy(x, q, k, ids=ids)
    np.testing.assert_array_equal(i_f, i_n)
    np.testing.assert_allclose(s_f, s_n, atol=1e-5)
    np.testing.assert_array_equal(i_n, naive_search(x, ids, q, k))
    # the duplicated queries really tie at rank 1, and the smaller id wins
    if k >= 2:
        assert np.all(s_f[: nq // 2, 0] == s_f[: nq // 2, 1])
        assert np.all(i_f[: nq // 2, 0] < i_f[: nq // 2, 1])


def test_exact_search_numpy_boundary_tie_keeps_smaller_id():
    x = np.array([[1, 0], [0, 1], [0, 1], [0, 1], [1, 1]], np.float32)
    s, i = exact_search_numpy(x, np.array([0, 1], np.float32), 2, ids=[9, 7, 3, 5, 1])
    np.testing.assert_array_equal(i, [[3, 5]])  # three tied rows; ids 3 and 5 make the cut
    np.testing.assert_allclose(s, [[1, 1]])


def test_custom_ids_carry_metadata(tied):
    x, ids = tied
    meta = [{"row": r} for r in range(len(x))]
    index = GalleryIndex.build(x, meta, "m", kind="flat", ids=ids)
    hits = index.search_items(x[200], 1)  # row 200 has no duplicate
    assert hits == [[Hit(rank=0, id=int(ids[200]), score=pytest.approx(1.0, abs=1e-5),
                         item={"row": 200})]]
    assert np.all(np.diff(index.ids) > 0)


def test_k_larger_than_n_and_1d_query():
    x = clustered(5, 8, 2, seed=3)
    index = GalleryIndex.build(x, meta_for(5), "m", kind="flat")
    s, i = index.search(x[0], 50)
    assert s.shape == i.shape == (1, 5)
    assert sorted(i[0]) == [0, 1, 2, 3, 4] and i[0, 0] == 0
    assert np.all(np.diff(s[0]) <= 0)
    assert len(index.search_items(x[:3], 9)) == 3
    assert exact_search_numpy(x, x[:2], 99)[1].shape == (2, 5)


# ------------------------------------------------------------------ approximate kinds
@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_vs_exact(gallery5k, kind):
    x, q, exact = gallery5k
    index = GalleryIndex.build(x, meta_for(len(x)), "m", kind=kind)
    _, found = index.search(q, 10)
    assert recall_at_10(found, exact) >= 0.9


def test_search_params_trade_recall(gallery5k):
    x, q, exact = gallery5k
    index = GalleryIndex.build(x, meta_for(len(x)), "m", kind="ivf", nlist=64, nprobe=1)
    low = recall_at_10(index.search(q, 10)[1], exact)
    index.set_search_params(nprobe=64)  # all lists: exhaustive
    assert recall_at_10(index.search(q, 10)[1], exact) == 1.0 > low
    with pytest.raises(ValueError, match="ef_search does not apply"):
        index.set_search_params(ef_search=10)


def test_auto_is_flat_when_small_and_calibrated_ivf_when_large(gallery5k, monkeypatch):
    x, q, exact = gallery5k
    assert GalleryIndex.build(x, meta_for(len(x)), "m").kind == "flat"
    monkeypatch.setattr(fi, "AUTO_FLAT_BELOW", 1000)
    index = GalleryIndex.build(x, meta_for(len(x)), "m", calibration_queries=200)
    assert index.kind == "ivf" and index.params["selected_by"] == "auto"
    assert index.params["calibrated_recall_at_10"] >= 0.95
    assert recall_at_10(index.search(q, 10)[1], exact) >= 0.9


# ------------------------------------------------------------------ save / load
@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw", "ivfpq"])
def test_round_trip_gives_identical_results(tmp_path, kind):
    x = clustered(1000, 16, 20, seed=4)
    q = near(x, 30, seed=5)
    meta = meta_for(len(x))
    index = GalleryIndex.build(x, meta, "sha256:abc", kind=kind, ids=np.arange(len(x)) * 2 + 1)
    s1, i1 = index.search(q, 10)
    index.save(tmp_path / "idx")
    back = GalleryIndex.load(tmp_path / "idx", expect_model_id="sha256:abc")
    s2, i2 = back.search(q, 10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(s1, s2)
    assert (back.kind, back.dim, back.count, back.model_id) == (kind, 16, 1000, "sha256:abc")
    assert back.metadata == meta and back.params == index.params
    assert back.search_items(q[:1], 3) == index.search_items(q[:1], 3)
    assert not [p for p in (tmp_path / "idx").iterdir() if p.name.startswith(".")]  # no temps


@pytest.fixture
def saved(tmp_path):
    x = clustered(300, 8, 5, seed=6)
    meta = [{"path": f"{i}.png", "score": np.float32(i) / 2, "pid": np.int64(i)} for i in range(300)]
    GalleryIndex.build(x, meta, "model-A", kind="flat").save(tmp_path / "idx")
    return tmp_path / "idx"


def test_numpy_metadata_round_trips_as_json_values(saved):
    back = GalleryIndex.load(saved)
    assert back.metadata[3] == {"path": "3.png", "score": 1.5, "pid": 3}


def test_model_mismatch_is_refused(saved):
    with pytest.raises(IndexMismatchError, match=r"model 'model-A' but the query model is "
                                                 r"'model-B'.*fir index"):
        GalleryIndex.load(saved, expect_model_id="model-B")
    index = GalleryIndex.load(saved, expect_model_id="model-A")
    index.check_model("model-A")
    with pytest.raises(IndexMismatchError, match="model-B"):
        index.check_model("model-B")


@pytest.mark.parametrize("name", ["index.faiss", "meta.json", "items.jsonl"])
def test_missing_file_is_named(saved, name):
    (saved / name).unlink()
    with pytest.raises(IndexFileError, match=name):
        GalleryIndex.load(saved)


def test_missing_folder(tmp_path):
    with pytest.raises(IndexFileError, match="no gallery index folder"):
        GalleryIndex.load(tmp_path / "nope")


def edit_meta(folder, **changes):
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(changes)
    (folder / "meta.json").write_text(json.dumps(meta))


def test_corrupted_files_give_clear_errors(saved):
    good = (saved / "index.faiss").read_bytes()
    (saved / "index.faiss").write_bytes(good[: len(good) // 2])
    with pytest.raises(IndexFileError, match="sha256 differs"):
        GalleryIndex.load(saved)
    # a damaged file whose hash was (wrongly) updated still fails cleanly in faiss
    import hashlib
    edit_meta(saved, index_sha256=hashlib.sha256(good[: len(good) // 2]).hexdigest())
    with pytest.raises(IndexFileError, match="cannot read"):
        GalleryIndex.load(saved)


def test_inconsistent_count_and_items(saved):
    meta = json.loads((saved / "meta.json").read_text())
    edit_meta(saved, count=301)
    with pytest.raises(IndexFileError, match="count is 301 but it lists 300 ids"):
        GalleryIndex.load(saved)
    edit_meta(saved, count=299, ids=meta["ids"][:299])
    with pytest.raises(IndexFileError, match="holds 300 vectors"):
        GalleryIndex.load(saved)
    edit_meta(saved, count=300, ids=meta["ids"])
    lines = (saved / "items.jsonl").read_text().splitlines()
    (saved / "items.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(IndexFileError, match="299 items"):
        GalleryIndex.load(saved)
    (saved / "items.jsonl").write_text("\n".join(lines[:5] + ["{oops"] + lines[6:]) + "\n")
    with pytest.raises(IndexFileError, match=r"items.jsonl:6: not an item record"):
        GalleryIndex.load(saved)
    (saved / "meta.json").write_text("{not json")
    with pytest.raises(IndexFileError, match="not valid JSON"):
        GalleryIndex.load(saved)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("vectors, meta, kw, match", [
    (np.ones((3, 4, 1)), 3, {}, r"shape \[N, D\]"),
    (np.ones((3, 0)), 3, {}, "dimension 0"),
    (np.array([[1, 0], [np.nan, 1], [1, 1]]), 3, {}, "NaN or inf in 1 row.*first row 1"),
    (np.array([[1, 0], [0, 0], [1, 1]]), 3, {}, "all-zero"),
    (np.eye(3), 2, {}, "list of 3 dicts"),
    (np.eye(3), 3, {"ids": [1, 1, 2]}, "unique"),
    (np.eye(3), 3, {"ids": [-1, 0, 2]}, "non-negative"),
    (np.eye(3), 3, {"kind": "lsh"}, "unknown kind 'lsh'"),
    (np.eye(3), 3, {"kind": "flat", "nprobe": 3}, r"unknown parameter\(s\) \['nprobe'\]"),
    (np.eye(3), 3, {"model_id": ""}, "model_id"),
])
def test_build_validation(vectors, meta, kw, match):
    kw = {"model_id": "m", **kw}
    with pytest.raises(ValueError, match=match):
        GalleryIndex.build(vectors, [{}] * meta, **kw)


def test_query_validation():
    index = GalleryIndex.build(np.eye(4, dtype=np.float32), [{}] * 4, "m", kind="flat")
    with pytest.raises(ValueError, match="dimension 3 but the index has 4"):
        index.search(np.ones(3), 1)
    with pytest.raises(ValueError, match="positive integer"):
        index.search(np.ones(4), 0)
    with pytest.raises(ValueError, match="NaN"):
        index.search(np.array([1, np.nan, 0, 0]), 1)


# ------------------------------------------------------------------ the folder as a unit
def test_tampered_items_are_refused_naming_the_file(saved):
    lines = (saved / "items.jsonl").read_text().splitlines()
    rec = json.loads(lines[7])
    rec["item"]["path"] = "/elsewhere/7.png"  # same id, same count: only the hash tells
    lines[7] = json.dumps(rec, sort_keys=True)
    (saved / "items.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(IndexFileError, match=r"items.jsonl does not match meta.json \(sha256 differs\)"):
        GalleryIndex.load(saved)


def test_every_file_is_hashed_in_meta(saved):
    import hashlib

    meta = json.loads((saved / "meta.json").read_text())
    for name, key in (("index.faiss", "index_sha256"), ("items.jsonl", "items_sha256")):
        assert meta[key] == hashlib.sha256((saved / name).read_bytes()).hexdigest()
    del meta["items_sha256"]  # written before items were hashed: refused, asking for a rebuild
    (saved / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(IndexFileError, match=r"lacks \['items_sha256'\]; rebuild"):
        GalleryIndex.load(saved)


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("fail_at", ["items", "swap"])
def test_a_failed_save_leaves_the_old_index_intact(saved, monkeypatch, fail_at):
    before = _snapshot(saved)
    new = GalleryIndex.build(clustered(50, 8, 3, seed=9), meta_for(50), "model-B", kind="flat")
    if fail_at == "items":  # killed while writing: index.faiss of the new save is already written
        def boom(*a, **k):
            raise OSError("disk full")
        monkeypatch.setattr(fi, "_write_file", boom)
    else:  # renaming the new folder in fails after the old one was renamed away: it goes back
        real = fi.os.rename

        def rename(src, dst):
            if str(dst) == str(saved) and ".tmp" in str(src) and ".old." not in str(src):
                raise OSError("rename failed")
            return real(src, dst)
        monkeypatch.setattr(fi.os, "rename", rename)
    with pytest.raises(OSError):
        new.save(saved)
    assert _snapshot(saved) == before
    assert GalleryIndex.load(saved, expect_model_id="model-A").count == 300
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_a_save_replaces_an_index_as_a_whole(saved):
    new = GalleryIndex.build(clustered(50, 8, 3, seed=9), meta_for(50), "model-B", kind="flat")
    new.save(saved)
    back = GalleryIndex.load(saved, expect_model_id="model-B")
    assert back.count == 50 and back.metadata == meta_for(50)
    assert sorted(p.name for p in saved.parent.iterdir()) == ["idx"]  # the old one is gone


def test_a_save_never_replaces_a_folder_of_other_files(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.csv").write_text("path\n")
    index = GalleryIndex.build(np.eye(4, dtype=np.float32), [{}] * 4, "m", kind="flat")
    with pytest.raises(IndexFileError, match=r"other files in it \(manifest.csv\).*new or empty folder"):
        index.save(data)
    assert sorted(p.name for p in data.iterdir()) == ["manifest.csv"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(IndexFileError, match="is not a folder"):
        index.save(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    index.save(tmp_path / "empty")  # an empty folder is fine
    assert GalleryIndex.load(tmp_path / "empty").count == 4


def test_a_killed_saves_temp_folder_is_removed_by_the_next_save(saved):
    import os
    import time

    old = saved.parent / ".idx.k1ll3d.tmp"
    old.mkdir()
    (old / "index.faiss").write_bytes(b"partial")
    young = saved.parent / ".idx.busy.tmp"  # may be a save still running: kept
    young.mkdir()
    stamp = time.time() - 3600
    os.utime(old, (stamp, stamp))
    GalleryIndex.load(saved).save(saved)
    assert not old.exists() and young.exists()


def test_saved_files_get_the_umask_mode(tmp_path):
    import os
    import stat

    prev = os.umask(0o022)
    try:
        GalleryIndex.build(np.eye(4, dtype=np.float32), [{}] * 4, "m", kind="flat").save(tmp_path / "idx")
    finally:
        os.umask(prev)
    assert stat.S_IMODE((tmp_path / "idx").stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "idx").iterdir()} == {0o644}
