"""FIR embedder, loss, training smoke run and the index/search command line (tiny, CPU)."""
import json
import math

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


def test_embedding_shape_and_unit_norm():
    from fir.model import EmbeddingNet, embed_images

    torch.manual_seed(0)
    net = EmbeddingNet(dim=8, pretrained=False, input_size=32)
    z = net(torch.rand(3, 3, 48, 48))
    assert z.shape == (3, 8)
    assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
    imgs = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    e = embed_images(net, imgs, batch_size=2, progress=False)
    t = embed_images(net, imgs, batch_size=4, trunk_only=True, progress=False)
    assert e.dtype == np.float32 and e.shape == (5, 8) and t.shape == (5, net.out_channels)
    assert np.allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    assert np.allclose(e, embed_images(net, imgs, batch_size=5, progress=False), atol=1e-5)  # batching-invariant
    with pytest.raises(ValueError, match="input x"):
        net(torch.rand(2, 1, 32, 32))


def test_info_nce_hand_built_case():
    from fir.train import info_nce_loss

    eye = torch.eye(4)
    loss, parts = info_nce_loss(eye, eye, temperature=0.05)
    # logits: 20 on the diagonal, 0 elsewhere -> CE = log(1 + 3 e^-20)
    assert loss.item() == pytest.approx(math.log1p(3 * math.exp(-20)), abs=1e-7)
    assert loss.item() < 1e-7 and parts["acc"] == 1.0
    shuffled, parts_s = info_nce_loss(eye, eye[[1, 2, 3, 0]], temperature=0.05)
    assert shuffled.item() == pytest.approx(20 + math.log1p(3 * math.exp(-20)), rel=1e-5)
    assert parts_s["acc"] == 0.0
    # symmetric: the two directions average; with an asymmetric case they differ
    street = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), dim=1)
    shop = torch.nn.functional.normalize(torch.tensor([[1.0, 0.2], [0.0, 1.0], [0.0, 1.0]]), dim=1)
    total, p = info_nce_loss(street, shop, 0.5)
    assert total.item() == pytest.approx((p["s2p"] + p["p2s"]) / 2, rel=1e-6) and p["s2p"] != pytest.approx(p["p2s"])


def test_lr_schedule():
    from fir.train import lr_factor

    assert lr_factor(0, 100, 10) == pytest.approx(0.1)
    assert lr_factor(10, 100, 10) == pytest.approx(1.0)
    assert lr_factor(100, 100, 10) == pytest.approx(0.0)


def test_config_rejects_unknown_and_bad_keys():
    from fir.config import ConfigError, load_fir_config

    cfg = load_fir_config("configs/fir_synth64.yaml")
    assert cfg.model.dim == 128 and cfg.eval.ks == (1, 20, 50)
    with pytest.raises(ConfigError, match="bogus"):
        load_fir_config("configs/fir_test_tiny.yaml", ["train.bogus=1"])
    with pytest.raises(ConfigError, match="input_size"):
        load_fir_config("configs/fir_test_tiny.yaml", ["model.input_size=40"])


def test_train_smoke_writes_run_folder(fir_run):
    from amgan.checkpoint import load_checkpoint

    assert (fir_run / "config.yaml").is_file()
    stats = [json.loads(line) for line in (fir_run / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats[:2]] == [1, 2] and np.isfinite(stats[0]["loss/nce/total"])
    ck = load_checkpoint(fir_run / "embedder.pt", kind="fir-embedder")
    assert ck["dim"] == 16 and ck["input_size"] == 32 and ck["step"] == 2
    assert ck["config"]["train"]["steps"] == 2
    metrics = json.loads((fir_run / "metrics.json").read_text())
    assert metrics == ck["metrics"]
    for model in ("trained", "imagenet_trunk"):
        m = metrics[model]
        assert m["queries"] == 3 and m["gallery"] == 3  # 3 test products x 1 street / 1 shop
        r = [m[f"recall@{k}"] for k in (1, 20, 50)]
        assert r == sorted(r)  # recall never drops as k grows
        assert all(abs(v * 3 - round(v * 3)) < 1e-4 for v in r)  # a count over the 3 queries (6 decimals)
        assert m["recall@50"] == 1.0  # the gallery is smaller than 50: every product is found


def test_index_search_round_trip_and_refusal(fir_run, fir_data, tmp_path, capsys):
    from amgan.data.manifest import read_manifest
    from fir.cli import main, search_image
    from fir.index import GalleryIndex

    ck = fir_run / "embedder.pt"
    m = read_manifest(fir_data / "manifest.csv")
    # by default every row is indexed, and the command says so
    assert main(["index", "--checkpoint", str(ck), "--manifest", str(fir_data), "--out", str(tmp_path / "all"),
                 "--kind", "flat", "--no-progress"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["count"] == len(m) and f"indexed {len(m)} images (split all, view all)" in out.err
    assert main(["index", "--checkpoint", str(ck), "--manifest", str(fir_data), "--out", str(tmp_path / "idx"),
                 "--split", "train", "--view", "shop", "--kind", "flat", "--no-progress"]) == 0
    info = json.loads(capsys.readouterr().out)
    shop_rows = m.indices("train", "shop")
    assert info["count"] == len(shop_rows)
    idx = GalleryIndex.load(tmp_path / "idx")
    assert idx.ids.tolist() == shop_rows.tolist()
    item = idx.metadata[0]
    assert item["product_id"] == m.product_ids[shop_rows[0]] and item["view"] == "shop"
    assert item["attributes"] == m.schema.decode(m.labels[shop_rows[0]])

    row = int(shop_rows[4])
    hits = search_image(tmp_path / "idx", ck, m.image_path(row), k=3)
    assert hits[0].id == row and hits[0].item["product_id"] == m.product_ids[row]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert main(["search", "--index", str(tmp_path / "idx"), "--checkpoint", str(ck),
                 "--image", str(m.image_path(row)), "--k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["rank", "score", "product_id", "attributes"] and len(lines) == 4
    assert lines[1].split()[0] == "1" and m.product_ids[row] in lines[1] and str(m.image_path(row)) in lines[1]

    # another checkpoint (same weights, different file) must be refused
    other = tmp_path / "other.pt"
    ck_dict = torch.load(ck, weights_only=True)
    ck_dict["step"] = 3
    torch.save(ck_dict, other)
    assert main(["search", "--index", str(tmp_path / "idx"), "--checkpoint", str(other),
                 "--image", str(m.image_path(row))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fir: error:") and "rebuild the index with `fir index`" in err
    assert main(["search", "--index", str(tmp_path / "nowhere"), "--checkpoint", str(ck),
                 "--image", str(m.image_path(row))]) == 2
    assert "fir: error:" in capsys.readouterr().err


def test_export_embedder_fp16_checked(fir_run, fir_data, tmp_path, capsys):
    from amgan.pretrained import load_pretrained
    from fir.cli import main
    from fir.model import embed_images, load_embedder

    out = tmp_path / "small"
    assert main(["export", "--checkpoint", str(fir_run / "embedder.pt"), "--out", str(out),
                 "--check-data", str(fir_data), "--check-n", "8"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0 < report["images"] <= 8 and report["max_abs_diff"] < 1e-2
    p = load_pretrained(out, kind="fir-embedder")
    assert p.info["dtype"] == "float16" and set(p.weights) == {"embedder"}
    assert all(v.dtype == torch.float16 for v in p.weights["embedder"].values() if v.is_floating_point())
    assert "## Format" in (out / "MODEL_CARD.md").read_text()
    a, _ = load_embedder(fir_run / "embedder.pt")
    b, _ = load_embedder(out)
    imgs = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    assert np.abs(embed_images(a, imgs, progress=False) - embed_images(b, imgs, progress=False)).max() < 1e-2
