"""FLAM losses on hand-computed cases, the networks' contracts, training smoke run, the Retriever."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def test_dictionary_triplet_loss_hand_case():
    from fir.flam import dictionary_triplet_loss

    W = torch.eye(3)  # prototypes e0, e1, e2
    e = F.normalize(torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), dim=1)
    y = torch.tensor([0, 1])
    # row 0: cos to W0 = cos to W1 = 1/sqrt2 -> d_pos = d_neg -> loss = margin
    # row 1: pos W1 cos 0 (d_pos 1), hardest neg W0 cos 1 (d_neg 0) -> margin + 1
    loss = dictionary_triplet_loss(e, W, y, margin=0.3)
    assert loss.item() == pytest.approx((0.3 + 1.3) / 2, abs=1e-6)
    # a satisfied triplet costs nothing
    assert dictionary_triplet_loss(torch.eye(3), W, torch.arange(3), 0.5).item() == 0.0


def test_attribute_matching_and_cosine_and_logistic_losses():
    from fir.flam import attribute_matching_loss, cosine_distance, d_logistic_loss, g_logistic_loss, r1_penalty

    logits = [torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0, 0.0]])]
    labels = torch.tensor([[1, 0]])
    # CE: log 2 for the first group; -log(3/5) for the second
    assert attribute_matching_loss(logits, labels).item() == pytest.approx((math.log(2) - math.log(0.6)) / 2, abs=1e-6)
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    assert cosine_distance(a, b).item() == pytest.approx(0.5)  # (0 + 1) / 2
    real, fake = torch.tensor([0.0]), torch.tensor([0.0])
    assert d_logistic_loss(real, fake).item() == pytest.approx(2 * math.log(2))
    assert g_logistic_loss(torch.tensor([0.0, 100.0])).item() == pytest.approx(math.log(2) / 2, abs=1e-6)
    # R1 of D(x) = 3 * x_0 is 9
    x = torch.randn(4, 2, requires_grad=True)
    assert r1_penalty(3 * x[:, 0], x).item() == pytest.approx(9.0)


def test_flamnet_starts_as_identity_and_respects_no_change():
    from fir.flam import FeatureDiscriminator, FlamNet

    torch.manual_seed(0)
    net = FlamNet(16, [2, 3, 4], attr_dim=8, hidden=32)
    f = F.normalize(torch.randn(5, 16), dim=1)
    s = torch.tensor([[0, 1, 2]] * 5)
    t = torch.tensor([[0, 2, 2]] * 5)
    assert torch.allclose(net.generate(f, s, t), f, atol=1e-6)  # zero-initialised last layer
    assert torch.count_nonzero(net.condition(s, s)) == 0  # no change -> all-zero condition
    c = net.condition(s, t)
    assert c.shape == (5, 24) and torch.count_nonzero(c[:, :8]) == 0 and torch.count_nonzero(c[:, 8:16]) > 0
    logits = net.attr_logits(f)
    assert [lg.shape for lg in logits] == [(5, 2), (5, 3), (5, 4)]
    assert all(lg.abs().max() <= 1 / net.temperature + 1e-5 for lg in logits)  # cosines / temperature
    assert FeatureDiscriminator(16, [2, 3, 4], 32)(f, s).shape == (5,)
    with pytest.raises(ValueError, match="FLAM source labels"):
        net.generate(f, s[:, :2], t)


def test_single_edit_targets_change_exactly_one_manipulable_group():
    from fir.flam import single_edit_targets

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (500, 3))
    t = single_edit_targets(y, [1, 2], [2, 5, 3], g)
    changed = t != y
    assert changed.sum(1).eq(1).all() and not changed[:, 0].any()
    assert t[:, 1].max() < 5 and t[:, 2].max() < 3 and changed[:, 1].any() and changed[:, 2].any()


def test_train_flam_smoke_and_checkpoint(flam_run, fir_run):
    from amgan.checkpoint import file_sha256, load_checkpoint
    from fir.flam import FlamMismatchError, load_flam

    ck = load_checkpoint(flam_run / "flam.pt", kind="fir-flam")
    assert ck["embedder_id"] == file_sha256(fir_run / "embedder.pt")
    stats = [json.loads(line) for line in (flam_run / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2, 3, 4, 5]
    assert all(np.isfinite(v) for s in stats for v in s.values())
    assert {"loss/E/triplet", "loss/D/adv", "loss/D/r1", "loss/G/adv", "loss/G/attr", "loss/G/cyc",
            "loss/G/idt"} <= set(stats[-1])
    assert list((flam_run / "tensorboard").glob("events.out.tfevents.*"))
    m = json.loads((flam_run / "metrics.json").read_text())
    assert set(m["test"]["attribute_accuracy"]) == {"category", "color", "pattern", "sleeve", "neckline"}
    # plain queries are searched with f itself: the same numbers as the embedder's own evaluation
    fir_m = json.loads((fir_run / "metrics.json").read_text())["trained"]
    assert m["plain_query_c2s"]["fir_feature"]["recall@1"] == pytest.approx(fir_m["recall@1"])
    flam = load_flam(flam_run / "flam.pt", expect_embedder_id=ck["embedder_id"])
    f = F.normalize(torch.randn(3, flam.net.feat_dim), dim=1).numpy()
    y = flam.predict_labels(f)
    assert y.shape == (3, 5) and y.dtype == np.int64
    t = y.copy()
    t[:, 1] = (t[:, 1] + 1) % 12
    out = flam.manipulate(f, y, t)
    assert out.shape == f.shape and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    # the calibrated strength is stored, used by default, and is one of the grid's values
    assert ck["strength"] == m["strength"] == flam.strength
    assert m["strength"] in [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0]
    assert np.allclose(out, flam.manipulate(f, y, t, strength=flam.strength))
    with torch.no_grad():
        r = flam.net.residual(torch.from_numpy(f), torch.from_numpy(y), torch.from_numpy(t)).numpy()
    want = f + 2.5 * r
    assert np.allclose(flam.manipulate(f, y, t, strength=2.5), want / np.linalg.norm(want, axis=1, keepdims=True),
                       atol=1e-5)
    with pytest.raises(ValueError, match="strength must be > 0"):
        flam.manipulate(f, y, t, strength=0)
    # the inference path (cached prototypes) is the network's own computation
    with torch.no_grad():
        ref = [lg.softmax(1).numpy() for lg in flam.net.attr_logits(torch.from_numpy(f))]
        gen = flam.net.generate(torch.from_numpy(f), torch.from_numpy(y), torch.from_numpy(t), flam.strength)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(ref, flam.predict_probs(f)))
    assert np.allclose(out, gen.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="out of range"):
        flam.manipulate(f, y, t + 100)
    with pytest.raises(FlamMismatchError, match="retrain"):
        load_flam(flam_run / "flam.pt", expect_embedder_id="0" * 64)


def test_train_flam_refuses_missing_embedder_and_bad_config(tmp_path, capsys):
    from fir.cli import main
    from fir.config import ConfigError, load_flam_config

    rc = main(["train-flam", "--config", "configs/flam_test_tiny.yaml", "--no-progress",
               "--set", f"embedder={tmp_path / 'nope.pt'}", "--set", f"train.out={tmp_path / 'o'}"])
    assert rc == 2 and "embedder checkpoint not found" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="lambda"):
        load_flam_config("configs/flam_test_tiny.yaml", ["train.lambda_cyc=-1"])
    assert load_flam_config("configs/flam_synth64.yaml").data.views == ("shop", "street")


def test_retriever_search_and_flam_search(fir_run, flam_run, fir_data, tmp_path):
    from PIL import Image

    from amgan.attributes import SchemaError
    from fir.cli import build_index, search_image
    from fir.index import IndexMismatchError
    from fir.retriever import Retriever

    emb = fir_run / "embedder.pt"
    build_index(emb, fir_data, tmp_path / "idx", split=None, view="shop", progress=False)
    r = Retriever.from_paths(emb, tmp_path / "idx", flam=flam_run / "flam.pt")
    item = r.index.metadata[0]
    img = Image.open(item["path"])
    res = r.search(img, k=3)
    assert len(res.hits) == 3 and res.hits[0].item["path"] == item["path"]  # a gallery image finds itself
    assert [h.id for h in res.hits] == [h.id for h in search_image(tmp_path / "idx", emb, item["path"], 3)]
    big = img.resize((97, 61))  # any size and aspect ratio is accepted
    assert len(r.search(big, k=2).hits) == 2
    fr = r.flam_search(img, "make it red", source=item["attributes"], k=4)
    assert fr.source == item["attributes"] and fr.target == {**item["attributes"], "color": "red"}
    assert len(fr.hits) == 4 and set(fr.timings) == {"embed", "manipulate", "search"}
    assert r.flam_search(img, {"sleeve": "long"}, k=1).target["sleeve"] == "long"
    with pytest.raises(SchemaError, match="valid values"):
        r.flam_search(img, {"color": "plaid"})
    with pytest.raises(ValueError, match="k must be"):
        r.search(img, k=0)
    with pytest.raises(ValueError, match="unknown attribute group"):
        r.flam_search(img, {"color": "red"}, source={"fabric": "silk"})
    with pytest.raises(IndexMismatchError):
        other = tmp_path / "other.pt"
        other.write_bytes(emb.read_bytes() + b"\0")  # a different file: a different model id
        Retriever.from_paths(other, tmp_path / "idx")


def test_feature_cache_is_keyed_and_reused(fir_run, fir_data, tmp_path):
    from amgan.checkpoint import file_sha256
    from fir.flam import cached_features as _features
    from fir.model import load_embedder

    net, _ = load_embedder(fir_run / "embedder.pt")
    mid = file_sha256(fir_run / "embedder.pt")
    a = _features(net, mid, fir_data, 32, "test", ("shop",), 16, str(tmp_path), False)
    files = list(tmp_path.glob("flam-features-*.pt"))
    assert len(files) == 1 and mid[:16] in files[0].name
    b = _features(net, mid, fir_data, 32, "test", ("shop",), 16, str(tmp_path), False)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[2] == b[2] and a[3] == b[3]
    _features(net, "f" * 64, fir_data, 32, "test", ("shop",), 16, str(tmp_path), False)  # another model: new file
    assert len(list(tmp_path.glob("flam-features-*.pt"))) == 2


class _StepNet:
    """A stand-in FLAM net for calibration: one group of 2 values, 2-D features, a fixed step."""

    group_sizes = [2]

    def __init__(self, step):
        self.step = torch.tensor(step)

    def eval(self):
        return self

    def attr_logits(self, f):
        return [torch.tensor([[1.0, 0.0]]).expand(len(f), 2)]  # predicts value 0

    def residual(self, f, source, target):
        assert source.tolist() == [[0]] * len(f) and target.tolist() == [[1]] * len(f)
        return self.step.expand(len(f), 2)


def test_calibrate_strength_hand_case():
    from fir.flam import calibrate_strength

    def unit(deg):
        return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]

    gal_f = torch.tensor([unit(0), unit(90)])         # A: value 0, B: value 1
    gal_y = torch.tensor([[0], [1]])
    f = torch.tensor([unit(10)])                      # value 0, asked to become 1
    y = torch.tensor([[0]])
    net = _StepNet([-0.2, 0.3])                       # +1x lands at ~30 deg (A nearer), 3x past 45 deg
    cal = calibrate_strength(net, f, y, gal_f, gal_y, [0], [1.0, 3.0, 5.0], max_k=1)
    # 1x misses (A is nearest); 3x and 5x both hit B: the tie goes to the smaller strength
    assert cal["scores"] == {"1.0": 0.0, "3.0": 1.0, "5.0": 1.0} and cal["strength"] == 3.0
    assert cal["valid_queries"] == 1
    # a target no gallery item has: not calibrated, strength 1, and it says why
    cal = calibrate_strength(net, f, y, gal_f[:1], gal_y[:1], [0], [1.0, 3.0], max_k=1)
    assert cal["strength"] == 1.0 and "not calibrated" in cal["note"]
    assert calibrate_strength(net, f, y, gal_f, gal_y, [0], [2.0])["strength"] == 2.0


def test_package_keeps_the_names_of_the_old_module():
    import fir.flam as flam
    from fir.flam import calibrate, features, inference, losses, nets, train

    for name in flam.__all__:
        assert hasattr(flam, name), name
    assert flam._features is features.cached_features and flam._single_edit_targets is calibrate.single_edit_targets
    assert flam.load_flam is inference.load_flam and flam.train_flam is train.train_flam and flam.main is train.main
    assert flam.FlamNet is nets.FlamNet and flam.r1_penalty is losses.r1_penalty


def test_phase_losses_return_totals_and_detached_parts():
    from fir.config import load_flam_config
    from fir.flam import FeatureDiscriminator, FlamNet, cosine_distance, g_logistic_loss
    from fir.flam.train import FlamNets, discriminator_loss, embedder_loss, generator_loss

    torch.manual_seed(0)
    nets = FlamNets(FlamNet(16, [2, 3], attr_dim=4, hidden=16), FeatureDiscriminator(16, [2, 3], 16))
    f = F.normalize(torch.randn(6, 16), dim=1)
    y = torch.tensor([[0, 1]] * 6)
    t = torch.tensor([[1, 1]] * 6)
    T = load_flam_config("configs/flam_test_tiny.yaml").train
    total, parts = embedder_loss(nets, f, y, 0.3)
    assert set(parts) == {"E/triplet"} and total.requires_grad and not parts["E/triplet"].requires_grad
    total, parts = discriminator_loss(nets, f, y, t, r1_gamma=2.0)
    assert total.item() == pytest.approx((parts["D/adv"] + parts["D/r1"]).item(), rel=1e-6)  # gamma / 2 = 1
    total, parts = generator_loss(nets, f, y, t, T)
    assert set(parts) == {"G/adv", "G/attr", "G/cyc", "G/idt"}
    # the generator starts as the identity: no cycle or identity error yet, and adv is D's verdict on f
    assert parts["G/cyc"].item() == pytest.approx(0, abs=1e-6) and parts["G/idt"].item() == pytest.approx(0, abs=1e-6)
    assert parts["G/adv"].item() == pytest.approx(g_logistic_loss(nets.D(f, t)).item(), rel=1e-6)
    assert cosine_distance(f, f).item() == pytest.approx(0, abs=1e-6)


def test_flam_resume_is_exact_and_refuses_another_config(fir_run, fir_data, tmp_path, capsys):
    from fir.cli import main as cli_main
    from fir.config import load_flam_config
    from fir.flam import train_flam
    from amgan.training import RunError

    def cfg(out, *sets):
        return load_flam_config("configs/flam_test_tiny.yaml", [f"embedder={fir_run / 'embedder.pt'}",
                                                                f"data.root={fir_data}", f"train.out={out}", *sets])

    train_flam(cfg(tmp_path / "straight"), tmp_path / "straight", progress=False)
    run = tmp_path / "run"
    train_flam(cfg(run, "train.steps=3"), run, progress=False)
    with pytest.raises(RunError, match=r"train.steps: 3 -> 5"):
        train_flam(cfg(run), run, progress=False, resume=True)
    m = train_flam(cfg(run), run, progress=False, resume=True, allow_config_change=True)
    a = torch.load(tmp_path / "straight" / "flam.pt", weights_only=True)
    b = torch.load(run / "flam.pt", weights_only=True)
    for part in ("state_dict", "discriminator"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k} differs after resume"
    assert m["strength"] == a["strength"] and b["step"] == 5
    # the CLI: an existing run without --resume is one line, not a traceback
    capsys.readouterr()
    rc = cli_main(["train-flam", "--config", "configs/flam_test_tiny.yaml", "--no-progress",
                   "--set", f"embedder={fir_run / 'embedder.pt'}", "--set", f"data.root={fir_data}",
                   "--set", f"train.out={run}"])
    err = capsys.readouterr().err
    assert rc == 2 and "exists: pass --resume" in err and len(err.strip().splitlines()) == 1, err


def test_flam_losses_mask_unknown_labels_hand_case():
    """-1 = unknown: the row is left out of its group, a group with no known row adds 0 and is not
    counted in the mean over groups, all unknown gives 0 (never NaN), gradients stay finite."""
    from fir.flam import attribute_matching_loss, dictionary_triplet_loss
    from fir.flam.losses import known_groups, masked_group_mean

    W = torch.eye(3)
    e = F.normalize(torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), dim=1)
    # row 0 (label 0) costs the margin, row 1 (label 1) costs margin + 1 (see the hand case above)
    assert dictionary_triplet_loss(e, W, torch.tensor([0, -1]), 0.3).item() == pytest.approx(0.3, abs=1e-6)
    assert dictionary_triplet_loss(e, W, torch.tensor([-1, 1]), 0.3).item() == pytest.approx(1.3, abs=1e-6)
    ew = e.clone().requires_grad_(True)
    none = dictionary_triplet_loss(ew, W, torch.tensor([-1, -1]), 0.3)
    none.backward()
    assert none.item() == 0.0 and torch.isfinite(ew.grad).all() and ew.grad.abs().sum() == 0

    logits = [torch.tensor([[0.0, 0.0], [5.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0, 0.0], [0.0, 0.0, 0.0]])]
    # group 0: row 0 known (label 1): log 2; row 1 unknown. group 1: row 0 label 0: -log(3/5); row 1 unknown
    labels = torch.tensor([[1, 0], [-1, -1]])
    want = (math.log(2) - math.log(0.6)) / 2
    assert attribute_matching_loss(logits, labels).item() == pytest.approx(want, abs=1e-6)
    # group 1 entirely unknown: only group 0 counts (mean over ONE group, not halved)
    labels = torch.tensor([[1, -1], [-1, -1]])
    assert attribute_matching_loss(logits, labels).item() == pytest.approx(math.log(2), abs=1e-6)
    lw = [lg.clone().requires_grad_(True) for lg in logits]
    zero = attribute_matching_loss(lw, torch.full((2, 2), -1))
    zero.backward()
    assert zero.item() == 0.0 and not math.isnan(zero.item()) and all(lg.grad.abs().sum() == 0 for lg in lw)
    assert known_groups(torch.tensor([[1, -1, 0], [-1, -1, 2]])) == [0, 2]
    parts = [torch.tensor(1.0), torch.tensor(100.0), torch.tensor(3.0)]
    assert masked_group_mean(parts, torch.tensor([[1, -1, 0]])).item() == pytest.approx(2.0)


def test_flam_discriminator_and_generator_with_unknown_labels():
    """D's projection term is dropped for unknown groups; the condition refuses unknown labels;
    fill_unknown puts FLAM's own reading in their place; the phase losses stay finite."""
    from types import SimpleNamespace

    from fir.flam import FeatureDiscriminator, FlamNet
    from fir.flam.train import FlamNets, discriminator_loss, embedder_loss, generator_loss

    torch.manual_seed(0)
    net, D = FlamNet(16, [2, 3, 4], attr_dim=8, hidden=32), FeatureDiscriminator(16, [2, 3, 4], 32).eval()
    with torch.no_grad():  # eval: spectral norm without a power iteration per call, so calls compare
        for e in D.embed:
            e.weight.normal_()
    f = F.normalize(torch.randn(4, 16), dim=1)
    y = torch.tensor([[0, 1, 2], [1, -1, 3], [0, 2, -1], [1, -1, -1]])
    h = D.body(f)
    want = D.out(h).squeeze(1) + sum((D.embed[g](y[:, g].clamp(min=0)) * h).sum(1) * (y[:, g] >= 0)
                                     for g in range(3))
    assert torch.allclose(D(f, y), want)
    assert torch.allclose(D(f[:1], y[:1]), D.out(h[:1]).squeeze(1) + sum((D.embed[g](y[:1, g]) * h[:1]).sum(1)
                                                                          for g in range(3)))
    with pytest.raises(ValueError, match="must be known"):
        net.generate(f, y, y)
    filled = net.fill_unknown(f, y)
    pred = torch.stack([lg.argmax(1) for lg in net.attr_logits(f)], 1)
    assert torch.equal(filled, torch.where(y >= 0, y, pred)) and (filled >= 0).all()
    nets = FlamNets(net=net, D=D)
    T = SimpleNamespace(lambda_adv=1.0, lambda_attr=1.0, lambda_cyc=10.0, lambda_idt=10.0)
    t = filled.clone()
    t[:, 1] = (t[:, 1] + 1) % 3
    for loss, _ in (embedder_loss(nets, f, y, 0.3), discriminator_loss(nets, f, filled, t, 1.0, y >= 0),
                    generator_loss(nets, f, filled, t, T, y >= 0)):
        assert torch.isfinite(loss)


def test_train_flam_with_photos_masks_their_unknown_labels(tiny_embedder_path, synth_tiny, photo_tiny, tmp_path):
    """Photos (labels partly unknown) join FLAM's training; the hand-checked one never does;
    the photo test reading counts only known labels."""
    import csv

    from fir.config import load_flam_config
    from fir.flam import train_flam

    rows = list(csv.DictReader(open(photo_tiny / "manifest.csv")))
    train_rows = [r for r in rows if r["split"] == "train"]
    checked = tmp_path / "checked.csv"
    checked.write_text("image,color,color_alt\n" + train_rows[1]["path"].split("/")[-1][:-4] + ",red,\n")
    out = tmp_path / "run"
    cfg = load_flam_config("configs/flam_test_tiny.yaml", [f"embedder={tiny_embedder_path}", f"data.root={synth_tiny}",
                                                           f"data.photo_roots=[{photo_tiny}]", f"data.exclude={checked}",
                                                           f"train.out={out}"])
    m = train_flam(cfg, out, progress=False)
    n_synth = sum(1 for r in csv.DictReader(open(synth_tiny / "manifest.csv")) if r["split"] == "train")
    assert m["train_features"] == n_synth + len(train_rows) - 1
    known_color = sum(1 for r in train_rows[:1] + train_rows[2:] if r["color"])
    assert m["train_known_labels"]["color"] == n_synth + known_color
    assert m["train_known_labels"]["pattern"] == n_synth  # photos never know their pattern
    (root, ev), = m["test_photos"].items()
    test_rows = [r for r in rows if r["split"] == "test"]
    assert ev["attribute_known"]["color"] == sum(1 for r in test_rows if r["color"])
    assert ev["attribute_known"]["pattern"] == 0 and ev["attribute_accuracy"]["pattern"] is None
    assert all(math.isfinite(v) for k, v in m["test"].items() if isinstance(v, float))
