"""Attribute-level retrieval among photos with unknown labels: hand cases and a naive reference."""
from __future__ import annotations

import numpy as np
import pytest

from fir.photo_retrieval import (edit_requests, hit_rates, masked_target_hits, masked_valid_queries,
                                 search_without_self)

# groups: 0 category, 1 colour, 2 sleeve, 3 pattern (never asked)
GAL = np.array([[0, 3, 1, 0],     # 0: top red short
                [0, 3, -1, 1],    # 1: top red, sleeve unknown
                [0, -1, 1, 2],    # 2: top, colour unknown, short
                [1, 3, 2, 0],     # 3: dress red long
                [0, 8, 1, 0]])    # 4: top blue short
G = (0, 1, 2)


def test_hits_ask_only_for_known_values_and_unknown_items_never_confirm():
    targets = np.array([[0, 3, 1, 4],    # top red short: only item 0
                        [0, 3, -1, 4],   # top red (sleeve unknown): items 0, 1
                        [0, -1, 1, 0]])  # top short (colour unknown): items 0, 2, 4
    ids = np.tile(np.arange(5), (3, 1))
    hits = masked_target_hits(ids, GAL, targets, G)
    assert hits.tolist() == [[True, False, False, False, False],
                             [True, True, False, False, False],
                             [True, False, True, False, True]]
    # -1 ids (missing results) never hit
    assert not masked_target_hits(np.array([[-1, -1]]), GAL, targets[:1], G).any()


def test_valid_queries_leave_out_self_and_unanswerable():
    targets = GAL.copy()  # each gallery photo as a query of the gallery itself
    valid = masked_valid_queries(GAL, targets, G, self_ids=np.arange(5))
    # 0 (top red short): 1 has red top but sleeve unknown -> no; 2 colour unknown -> no; only itself -> invalid
    # 1 (top red, sleeve ?): item 0 is a red top -> valid
    # 2 (top ?, short): items 0 and 4 -> valid
    # 3 (dress red long): only itself -> invalid; 4 (top blue short): only itself -> invalid
    assert valid.tolist() == [False, True, True, False, False]
    assert masked_valid_queries(GAL, targets, G).all()  # without leaving self out, each finds itself
    assert not masked_valid_queries(GAL, np.full((1, 4), -1), G)[0]  # asks for nothing: never counted


def test_search_without_self_matches_a_naive_ranking():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(7, 4)).astype(np.float32)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    q = g[[2, 5]] + 0.01
    ids = search_without_self(g, q, 4, self_ids=np.array([2, -1]))
    qs = q / np.linalg.norm(q, axis=1, keepdims=True)
    for r, s in enumerate([2, -1]):
        order = [i for i in np.argsort(-(g @ qs[r]), kind="stable") if i != s][:4]
        assert ids[r].tolist() == order
    assert 2 not in ids[0] and ids[1][0] == 5
    short = search_without_self(g[:3], q[:1], 5, self_ids=np.array([2]))[0]
    assert sorted(short[:2].tolist()) == [0, 1] and short[2:].tolist() == [-1, -1, -1]


def test_edit_requests_and_hit_rates():
    queries = np.array([[0, 3, 1, 0],     # top red short
                        [0, -1, 2, 0]])   # top, colour unknown, long
    reqs, counts = edit_requests(queries, GAL, G, edit_groups=(1, 2), sizes=[2, 12, 3, 5])
    got = sorted((r.query, r.group, r.value) for r in reqs)
    # q0 colour: blue short top exists (4); other colours none. q0 sleeve: long red top? no; sleeveless? no.
    # q1 colour: unknown source -> skipped. q1 sleeve -> short top (colour not asked): items 0, 2, 4; sleeveless: none
    assert got == [(0, 1, 8), (1, 2, 1)]
    assert counts == {"requests": 2, "left_out_no_target": 10 + 2 + 1, "left_out_unknown_source": 1}
    t = {(r.query, r.group): r.target.tolist() for r in reqs}
    assert t[(0, 1)] == [0, 8, 1, 0] and t[(1, 2)] == [0, -1, 1, 0]

    hits = np.array([[False, True, False], [False, False, False], [True, False, False]])
    res = hit_rates(hits, np.array([True, True, False]), ks=(1, 2, 3))
    assert res["top1"]["acc"] == 0.0 and res["top2"]["acc"] == 0.5 and res["top3"]["n"] == 2
    assert res["queries"] == 3 and res["valid"] == 2
    assert res["top2"]["ci95"][0] <= 0.5 <= res["top2"]["ci95"][1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_masked_hits_equal_a_naive_loop(seed):
    rng = np.random.default_rng(seed)
    gal = rng.integers(-1, 3, size=(20, 4))
    tgt = rng.integers(-1, 3, size=(6, 4))
    ids = rng.integers(-1, 20, size=(6, 8))
    hits = masked_target_hits(ids, gal, tgt, G)
    for q in range(6):
        for k in range(8):
            i = ids[q, k]
            want = i >= 0 and all(tgt[q, g] < 0 or gal[i, g] == tgt[q, g] for g in G)
            assert hits[q, k] == want
    valid = masked_valid_queries(gal, tgt, G, self_ids=np.arange(6))
    for q in range(6):
        want = any(tgt[q, g] >= 0 for g in G) and any(
            n != q and all(tgt[q, g] < 0 or gal[n, g] == tgt[q, g] for g in G) for n in range(20))
        assert valid[q] == want
