"""fir.metrics against naive Python references on hand-built cases, ties included."""
from __future__ import annotations

import numpy as np
import pytest

from fir.index import exact_search_numpy
from fir.metrics import (attribute_accuracy, hits_curve, iou, masked_mean_abs_diff, psnr,
                         recall_at_k, recall_curve, ssim, topk_attribute_accuracy,
                         topk_attribute_accuracy_curve, valid_query_mask)


# ------------------------------------------------------------------ naive references
def naive_recall(retrieved, relevant, k):
    hits = [any(i >= 0 and i in rel for i in row[:k]) for row, rel in zip(retrieved.tolist(), relevant)]
    return sum(hits) / len(hits)


def naive_topk_attr(ret_labels, targets, k, valid=None):
    total = hits = 0
    for q in range(len(targets)):
        if valid is not None and not valid[q]:
            continue
        total += 1
        hits += any(list(ret_labels[q][j]) == list(targets[q]) for j in range(min(k, len(ret_labels[q]))))
    return hits / total if total else float("nan")


# ------------------------------------------------------------------ retrieval
RETRIEVED = np.array([[5, 3, 9, 1],
                      [2, 2, 7, 8],     # a repeated id
                      [4, 6, 0, -1],    # a missing result
                      [1, 3, 5, 7]])
RELEVANT = [{9, 1}, {8}, {-1}, set()]   # two relevant; rank 4; -1 never counts; none


def test_recall_at_k_hand_built():
    got = recall_at_k(RETRIEVED, RELEVANT, ks=(1, 2, 3, 4, 10))
    assert got == {1: 0.0, 2: 0.0, 3: 0.25, 4: 0.5, 10: 0.5}  # k > K uses all 4 columns
    for k in (1, 2, 3, 4):
        assert got[k] == naive_recall(RETRIEVED, RELEVANT, k)
    np.testing.assert_allclose(recall_curve(RETRIEVED, RELEVANT), [0, 0, 0.25, 0.5])


def test_recall_with_one_id_per_query_and_valid_mask():
    rel = np.array([3, 7, 0, 1])
    assert recall_at_k(RETRIEVED, rel, ks=[1, 2, 3]) == {1: 0.25, 2: 0.5, 3: 1.0}
    assert recall_at_k(RETRIEVED, rel, ks=[2], valid=[True, False, False, False]) == {2: 1.0}
    assert np.isnan(recall_at_k(RETRIEVED, rel, ks=[2], valid=[False] * 4)[2])


def test_recall_on_ranking_with_tied_scores_uses_id_order():
    # ids 0 and 1 are identical vectors: the tie is broken by id, so id 0 ranks first
    gallery = np.array([[1, 0], [1, 0], [0, 1]], np.float32)
    _, ranked = exact_search_numpy(gallery, np.array([[1, 0.1]], np.float32), 3)
    np.testing.assert_array_equal(ranked, [[0, 1, 2]])
    assert recall_at_k(ranked, [{1}], ks=(1, 2)) == {1: 0.0, 2: 1.0}


def test_recall_validation():
    with pytest.raises(ValueError, match="3 entries for 4 queries"):
        recall_at_k(RETRIEVED, [{1}, {2}, {3}], ks=[1])
    with pytest.raises(ValueError, match="positive integers"):
        recall_at_k(RETRIEVED, RELEVANT, ks=[0])


def test_topk_attribute_accuracy_full_vector_match():
    targets = np.array([[1, 0, 2], [0, 0, 0], [2, 1, 1]])
    ret = np.array([
        [[1, 0, 1], [1, 0, 2], [1, 0, 2]],   # partial match at 1; full match at 2 and 3
        [[0, 0, 1], [0, 1, 0], [1, 0, 0]],   # never a full match
        [[2, 1, 1], [2, 1, 1], [0, 0, 0]],   # full match at 1 (tied duplicates)
    ])
    got = topk_attribute_accuracy(ret, targets, ks=(1, 2, 3, 30))
    assert got == pytest.approx({1: 1 / 3, 2: 2 / 3, 3: 2 / 3, 30: 2 / 3})
    for k in (1, 2, 3):
        assert got[k] == pytest.approx(naive_topk_attr(ret, targets, k))
    np.testing.assert_allclose(topk_attribute_accuracy_curve(ret, targets), [1 / 3, 2 / 3, 2 / 3])
    valid = np.array([True, False, True])
    assert topk_attribute_accuracy(ret, targets, ks=[1, 2], valid=valid) == {1: 0.5, 2: 1.0}
    assert naive_topk_attr(ret, targets, 2, valid) == 1.0


def test_topk_attribute_accuracy_random_vs_naive():
    rng = np.random.default_rng(0)
    ret = rng.integers(0, 2, (40, 6, 3))  # small label space: many full matches and ties
    targets = rng.integers(0, 2, (40, 3))
    valid = rng.random(40) > 0.3
    curve = topk_attribute_accuracy_curve(ret, targets, valid)
    for k in range(1, 7):
        assert curve[k - 1] == pytest.approx(naive_topk_attr(ret, targets, k, valid))
    assert np.all(np.diff(curve) >= 0)


def test_valid_query_mask():
    gallery = np.array([[0, 1, 2], [1, 1, 1], [0, 1, 2]])
    targets = np.array([[0, 1, 2], [2, 1, 0], [1, 1, 1], [1, 1, 2]])
    got = valid_query_mask(gallery, targets)
    naive = [any(list(g) == list(t) for g in gallery) for t in targets]
    np.testing.assert_array_equal(got, naive)
    np.testing.assert_array_equal(got, [True, False, True, False])
    assert valid_query_mask(gallery[:0], targets).tolist() == [False] * 4


def test_hits_curve_empty_and_shapes():
    assert np.isnan(hits_curve(np.zeros((0, 3), bool))).all()
    with pytest.raises(ValueError, match=r"\[Q, K\]"):
        hits_curve(np.zeros(3, bool))


# ------------------------------------------------------------------ attribute accuracy
def test_attribute_accuracy_vs_naive():
    pred = np.array([[1, 0, 2], [0, 1, 1], [2, 2, 0], [1, 1, 1]])
    target = np.array([[1, 1, 2], [0, 1, 0], [2, 0, 0], [1, 1, 1]])
    edited = np.array([[True, False, False], [False, False, True],
                       [False, True, False], [False, False, False]])
    got = attribute_accuracy(pred, target, edited)
    for name, sel in (("edit", edited), ("preserve", ~edited)):
        cells = [(q, g) for q in range(4) for g in range(3) if sel[q, g]]
        assert got[f"{name}_acc"] == pytest.approx(
            sum(pred[q, g] == target[q, g] for q, g in cells) / len(cells))
        for g in range(3):
            gc = [(q, gg) for q, gg in cells if gg == g]
            want = sum(pred[q, g] == target[q, g] for q, _ in gc) / len(gc) if gc else np.nan
            np.testing.assert_equal(got[f"{name}_acc_per_group"][g], want)
            assert got[f"{name}_count"][g] == len(gc)
    assert got["edit_acc"] == pytest.approx(1 / 3)
    assert got["preserve_acc"] == pytest.approx(8 / 9)


def test_attribute_accuracy_no_edits_is_nan():
    got = attribute_accuracy(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2), bool))
    assert np.isnan(got["edit_acc"]) and np.isnan(got["edit_acc_per_group"]).all()
    assert got["preserve_acc"] == 1.0
    with pytest.raises(TypeError, match="bool"):
        attribute_accuracy(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)))


# ------------------------------------------------------------------ image metrics
def test_masked_mean_abs_diff_vs_naive():
    rng = np.random.default_rng(1)
    a, b = rng.random((3, 4, 5, 3)), rng.random((3, 4, 5, 3))
    mask = rng.random((3, 4, 5)) > 0.6
    mask[2] = False  # an image with an empty mask
    vals = [abs(a[n, h, w, c] - b[n, h, w, c]) for n in range(3) for h in range(4)
            for w in range(5) for c in range(3) if mask[n, h, w]]
    mean, count = masked_mean_abs_diff(a, b, mask)
    assert mean == pytest.approx(sum(vals) / len(vals)) and count == mask.sum()
    means, counts = masked_mean_abs_diff(a, b, mask, per_image=True)
    assert np.isnan(means[2]) and counts.tolist() == mask.sum(axis=(1, 2)).tolist()
    assert means[0] == pytest.approx(np.abs(a[0] - b[0]).mean(axis=2)[mask[0]].mean())


def test_masked_mean_abs_diff_empty_mask_and_validation():
    a = np.zeros((2, 3, 3, 3))
    mean, count = masked_mean_abs_diff(a, a + 0.5, np.zeros((2, 3, 3), bool))
    assert np.isnan(mean) and count == 0
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        masked_mean_abs_diff(a, a - 1, np.ones((2, 3, 3), bool))
    with pytest.raises(ValueError, match="mask must be bool"):
        masked_mean_abs_diff(a, a, np.ones((2, 3, 3)))


def test_iou_vs_naive():
    rng = np.random.default_rng(2)
    a, b = rng.random((4, 6, 6)) > 0.5, rng.random((4, 6, 6)) > 0.5
    a[3] = b[3] = False
    got = iou(a, b)
    for n in range(3):
        sa = {(i, j) for i in range(6) for j in range(6) if a[n, i, j]}
        sb = {(i, j) for i in range(6) for j in range(6) if b[n, i, j]}
        assert got[n] == pytest.approx(len(sa & sb) / len(sa | sb))
    assert np.isnan(got[3])  # two empty masks: undefined
    assert iou(a[0], a[0]) == 1.0 and iou(a[0], ~a[0]) == 0.0
    with pytest.raises(TypeError, match="threshold"):
        iou(a.astype(float), b)


def test_psnr_hand_computed():
    a = np.zeros((2, 4, 4, 3))
    b = a.copy()
    b[0] += 0.1           # mse 0.01 -> 20 dB
    got = psnr(a, b)
    assert got[0] == pytest.approx(20.0) and got[1] == np.inf
    assert psnr(a[0], b[0]) == pytest.approx(20.0)


def test_ssim_matches_skimage_and_batches():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(3)
    a = rng.random((2, 16, 16, 3))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    got = ssim(a, b)
    assert got.shape == (2,)
    assert got[1] == pytest.approx(structural_similarity(a[1], b[1], channel_axis=-1, data_range=1))
    assert ssim(a[0], a[0]) == pytest.approx(1.0) and got[0] < 0.99
    with pytest.raises(ValueError, match="7x7"):
        ssim(a[:, :5, :5], b[:, :5, :5])


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_n():
    from fir.metrics import accuracy_with_ci, bootstrap_ci

    rng = np.random.default_rng(0)
    small, big = rng.random(30) < 0.7, rng.random(3000) < 0.7
    lo_s, hi_s = bootstrap_ci(small)
    lo_b, hi_b = bootstrap_ci(big)
    assert lo_s <= small.mean() <= hi_s and lo_b <= big.mean() <= hi_b
    assert (hi_b - lo_b) < (hi_s - lo_s) / 5  # ~1/sqrt(100) of the width
    assert abs((hi_b - lo_b) - 2 * 1.96 * np.sqrt(0.7 * 0.3 / 3000)) < 0.01  # the normal approximation
    assert bootstrap_ci(np.ones(10)) == (1.0, 1.0)
    assert accuracy_with_ci([]) == {"acc": None, "n": 0, "ci95": None}
    r = accuracy_with_ci([1, 0, 1, 1])
    assert r["acc"] == 0.75 and r["n"] == 4 and r["ci95"][0] <= 0.75 <= r["ci95"][1]
