"""The numbers behind `fir evaluate`'s intervals, judged groups, KID and report header, on hand-built cases."""
import subprocess

import numpy as np
import pytest


# ---------------------------------------------------------------- ranks and judged groups
def test_first_hit_rank_gives_every_topk_number():
    from fir.metrics import first_hit_rank, hits_curve

    hits = np.array([[0, 1, 0], [1, 1, 0], [0, 0, 0], [0, 0, 1]], bool)
    r = first_hit_rank(hits)
    assert r.tolist() == [2, 1, 4, 3]
    for k in (1, 2, 3):
        assert (r <= k).mean() == hits_curve(hits)[k - 1]


def test_judge_groups_rule_on_floor_and_ceiling():
    from fir.metrics import judge_groups

    n = 100
    groups = np.array(["color"] * n + ["neckline"] * n + ["sleeve"] * n)
    floor = np.concatenate([np.zeros(n), np.ones(n), np.r_[np.ones(95), np.zeros(5)]]).astype(bool)
    ceiling = np.ones(3 * n, bool)
    j = judge_groups(groups, floor, ceiling, margin=0.10, n_boot=500)
    assert j["color"]["measurable"] and j["color"]["lead"]["diff"] == 1.0
    # the unedited query already hits: a perfect edit cannot be told from doing nothing
    assert not j["neckline"]["measurable"] and j["neckline"]["lead"]["ci95"] == [0.0, 0.0]
    assert "floor) 1.000" in j["neckline"]["reason"] and "below the 0.10 margin" in j["neckline"]["reason"]
    # a 0.05 lead is real (its interval excludes 0) but below the margin
    assert not j["sleeve"]["measurable"] and j["sleeve"]["lead"]["diff"] == 0.05 and j["sleeve"]["lead"]["ci95"][1] > 0
    # invalid queries do not count
    valid = np.ones(3 * n, bool)
    valid[:n] = False
    assert judge_groups(groups, floor, ceiling, valid)["color"]["reason"] == "no valid queries"


def test_judge_groups_margin_uses_the_lower_end_of_the_interval():
    from fir.metrics import judge_groups

    # a lead of 0.15 over 40 queries: its 95% interval reaches below 0.10, so the group is not judged
    g = np.array(["x"] * 40)
    floor = np.r_[np.zeros(6), np.ones(34)].astype(bool)
    j = judge_groups(g, floor, np.ones(40, bool), margin=0.10, n_boot=1000)
    assert j["x"]["lead"]["diff"] == 0.15 and j["x"]["lead"]["ci95"][0] < 0.10 and not j["x"]["measurable"]
    # 400 queries with the same lead: the interval tightens above the margin
    j = judge_groups(np.array(["x"] * 400), np.tile(floor, 10), np.ones(400, bool), margin=0.10, n_boot=1000)
    assert j["x"]["measurable"]


def test_paired_difference_ci_is_paired():
    from amgan.intervals import bootstrap_ci, paired_difference_ci

    rng = np.random.default_rng(0)
    base = rng.random(300) < 0.5
    a = base.copy()
    a[:30] = True  # a = b plus a few extra hits on the same queries
    d = paired_difference_ci(a, base, 1000)
    assert d["diff"] == round(float(a.mean() - base.mean()), 4) and d["n"] == 300
    assert d["ci95"][0] > 0  # paired: the shared noise cancels
    # the interval is that of the per-query differences
    lo, hi = bootstrap_ci(a.astype(float) - base, 1000)
    assert d["ci95"] == [round(lo, 4), round(hi, 4)]
    assert paired_difference_ci([], [])["diff"] is None
    with pytest.raises(ValueError, match="same length"):
        paired_difference_ci([1, 0], [1])


def test_cluster_bootstrap_resamples_whole_products():
    """Items that share a product move together: with 8 identical items per product the product-level
    interval is as wide as that of one item per product (the honest n is the products), and clearly
    wider than the item-level one; with one item per cluster it is the item bootstrap itself."""
    from amgan.intervals import accuracy_with_ci, bootstrap_ci, mean_with_ci, paired_difference_ci

    rng = np.random.default_rng(1)
    per_product = (rng.random(60) < 0.5).astype(float)
    items, products = np.repeat(per_product, 8), np.repeat(np.arange(60), 8)
    lo_i, hi_i = bootstrap_ci(items, 2000)
    lo_c, hi_c = bootstrap_ci(items, 2000, clusters=products)
    lo_p, hi_p = bootstrap_ci(per_product, 2000)
    assert hi_c - lo_c > 2 * (hi_i - lo_i)
    assert abs((hi_c - lo_c) - (hi_p - lo_p)) < 0.03
    assert np.allclose(bootstrap_ci(per_product, 500, seed=3), bootstrap_ci(per_product, 500, seed=3,
                                                                           clusters=np.arange(60)), atol=0.02)
    a = accuracy_with_ci(items, 1000, clusters=[f"p{i}" for i in products])  # any hashable ids
    assert a["n"] == 480 and a["clusters"] == 60 and a["ci95"][1] - a["ci95"][0] > 0.15
    m = mean_with_ci(np.where(np.arange(480) % 8 == 0, np.nan, items), clusters=products)
    assert m["n"] == 420 and m["clusters"] == 60  # nan items left out with their cluster ids
    d = paired_difference_ci(items, np.zeros(480), clusters=products)
    assert d["clusters"] == 60 and np.allclose(d["ci95"], a["ci95"], atol=0.01)
    with pytest.raises(ValueError, match="one id per item"):
        accuracy_with_ci(items, clusters=products[:10])


# ---------------------------------------------------------------- KID
def _naive_kid(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_the_naive_formula():
    from fir.kid import kid, kid_weighted, polynomial_kernel

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 5)), rng.normal(0.5, 1, size=(9, 5))
    assert kid(x, y) == pytest.approx(_naive_kid(x, y), rel=1e-10)
    # the paired estimator (equal sizes) leaves out the paired cross terms k(x_i, y_i)
    y = y[:7]
    kxy = polynomial_kernel(x, y)
    paired = kid(x, y) + 2 * kxy.mean() - 2 * (kxy.sum() - np.trace(kxy)) / (7 * 6)
    w = kid_weighted(polynomial_kernel(x, x), polynomial_kernel(y, y), kxy, np.ones((1, 7)))
    assert w[0] == pytest.approx(paired, rel=1e-10)
    # a multiplicity of 2 on one item is the same as that item twice, copies never paired with each other
    c = np.ones(7)
    c[3] = 2
    idx = [0, 1, 2, 3, 3, 4, 5, 6]
    xs, ys = x[idx], y[idx]
    same = np.array([[idx[i] == idx[j] for j in range(8)] for i in range(8)])

    def term(a, b):
        k = polynomial_kernel(a, b)
        return k[~same].mean()

    want = term(xs, xs) + term(ys, ys) - 2 * term(xs, ys)
    got = kid_weighted(polynomial_kernel(x, x), polynomial_kernel(y, y), kxy, c[None])[0]
    assert got == pytest.approx(want, rel=1e-10)


def test_kid_bootstrap_separates_distributions_and_pairs_differences():
    from fir.kid import kid_bootstrap

    rng = np.random.default_rng(2)
    n, d = 300, 16
    ref = rng.normal(size=(n, d))
    same = rng.normal(size=(n, d))
    shifted = rng.normal(0.6, 1, size=(n, d))
    r = kid_bootstrap({"same": same, "shifted": shifted}, ref, n_boot=300, pairs=[("shifted", "same")])
    s, t = r["methods"]["same"], r["methods"]["shifted"]
    assert s["ci95"][0] <= 0 <= s["ci95"][1]  # same distribution: 0 inside the interval
    assert t["ci95"][0] > 0 and t["kid"] > s["kid"]
    assert t["ci95"][0] <= t["kid"] <= t["ci95"][1]
    diff = r["differences"]["shifted-same"]
    assert diff["diff"] == pytest.approx(t["kid"] - s["kid"], abs=2e-5) and diff["ci95"][0] > 0
    with pytest.raises(ValueError, match="pair by query"):
        kid_bootstrap({"a": same[:10]}, ref)


def test_kid_features_are_the_imagenet_trunk():
    import torch

    from fir.kid import FEATURE_NAME, KidFeatures

    f = KidFeatures(size=64, batch_size=4)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    a = f(x)
    assert a.shape == (3, 1280) and np.isfinite(a).all()
    # uint8 input is the same image
    b = f((x * 255).round().to(torch.uint8))
    assert np.allclose(a, b, atol=0.05 * np.abs(a).max())
    assert "EfficientNet-Lite0" in FEATURE_NAME and "Inception" not in FEATURE_NAME
    with pytest.raises(ValueError, match="multiple of 32"):
        KidFeatures(size=100)


# ---------------------------------------------------------------- header and formatting
def test_run_header_records_code_libraries_hardware_and_models(tmp_path):
    from amgan.pretrained import model_id
    from fir.run_info import git_commit, run_header

    w = tmp_path / "m"
    w.mkdir()
    (w / "weights.pt").write_bytes(b"abc")
    h = run_header({"editor": w, "missing": tmp_path / "nope", "unset": ""})
    assert set(h["models"]) == {"editor"} and h["models"]["editor"]["sha256"] == model_id(w)
    assert h["models"]["editor"]["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert {"python", "torch", "torchvision", "faiss", "kornia", "numpy"} <= set(h["versions"])
    assert all(v and v != "not installed" for v in h["versions"].values())
    assert h["hardware"]["cores"] >= 1 and h["date_utc"].endswith("UTC")
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert h["commit"] == (head or "unknown")
    assert git_commit(tmp_path) == ("unknown", None)  # not a git checkout


def test_interval_formatting():
    from fir.report import fmt_ci, fmt_diff

    assert fmt_ci(0.925, [0.9012, 0.9488]) == "0.925 [0.90, 0.95]"
    assert fmt_ci(None, None) == "n/a" and fmt_ci(0.5, None) == "0.500"
    assert fmt_diff({"diff": 0.145, "ci95": [0.11, 0.18]}) == "+0.145 [+0.11, +0.18] *"
    assert fmt_diff({"diff": 0.01, "ci95": [-0.02, 0.04]}) == "+0.010 [-0.02, +0.04]"


def test_kid_references_have_the_requested_value_and_category(synth_tiny):
    from amgan.attributes import Schema
    from amgan.data.manifest import read_manifest
    from amgan.image import ImageProcessor
    from fir.evaluate_data import load_queries
    from fir.evaluate_stats import kid_references

    m = read_manifest(synth_tiny / "manifest.csv")
    schema = m.schema if isinstance(m.schema, Schema) else Schema.from_dict(m.schema)
    q = load_queries(synth_tiny, "test", "shop", ImageProcessor(size=32), schema, 0, False)
    idx = np.arange(len(q.rows))
    paths, full = kid_references(synth_tiny, "train", "shop", q, idx, schema)
    row_of = {str(m.image_path(i)): i for i in range(len(m.paths))}
    assert len(paths) == len(idx) and 0 <= full <= 1
    n_full = 0
    for i, p in zip(idx, paths):
        r = row_of[p]
        assert m.splits[r] == "train" and m.views[r] == "shop"
        gi = schema.group_index(q.groups[i])
        lab = m.labels[r]
        assert lab[gi] == q.tgt_labels[i][gi]  # the requested value, always (this set has every value in train)
        n_full += bool((lab == q.tgt_labels[i]).all())
    assert full == n_full / len(idx)
    assert kid_references(synth_tiny, "train", "shop", q, idx, schema) == (paths, full)  # seeded
