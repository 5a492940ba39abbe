"""The FIR embedder on the frozen photo reader: its loss on hand cases, its contract, a tiny run end to end."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fir.reader_embedder import ReaderEmbeddingNet, attribute_supcon_loss

torch.set_num_threads(1)


def test_attribute_supcon_hand_case():
    # rows: 0 and 1 the same kind (all known, equal); 2 differs from both in group 0;
    # 3 equals 0 where it is known but its group 1 is unknown: neither positive nor negative for 0/1
    e = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, -1.0]]), dim=1)
    y = torch.tensor([[0, 1], [0, 1], [1, 1], [0, -1]])
    tau = 0.5
    loss, anchors = attribute_supcon_loss(e, y, [0, 1], tau)
    s = e @ e.t() / tau
    # anchor 0: positive 1, kept {1, 2} (3 is left out); anchor 1: positive 0, kept {0, 2}
    l0 = -(s[0, 1] - torch.logsumexp(s[0, [1, 2]], 0))
    l1 = -(s[1, 0] - torch.logsumexp(s[1, [0, 2]], 0))
    assert anchors == 2
    assert loss.item() == pytest.approx(((l0 + l1) / 2).item(), abs=1e-6)
    # rows 2 and 3 are no anchors: 2 has no positive; 3 cannot be a positive with group 1 unknown
    # only groups named count: over group 0 alone, row 3 is a positive of 0 and 1 too
    loss0, anchors0 = attribute_supcon_loss(e, y, [0], tau)
    assert anchors0 == 3
    l0 = -(s[0, [1, 3]] - torch.logsumexp(s[0, [1, 2, 3]], 0)).mean()
    l1 = -(s[1, [0, 3]] - torch.logsumexp(s[1, [0, 2, 3]], 0)).mean()
    l3 = -(s[3, [0, 1]] - torch.logsumexp(s[3, [0, 1, 2]], 0)).mean()
    assert loss0.item() == pytest.approx(((l0 + l1 + l3) / 3).item(), abs=1e-6)


def test_attribute_supcon_without_positives_is_zero_with_finite_gradients():
    e = F.normalize(torch.randn(3, 4), dim=1).requires_grad_(True)
    y = torch.tensor([[0, -1], [1, -1], [-1, -1]])
    loss, anchors = attribute_supcon_loss(e, y, [0, 1], 0.1)
    loss.backward()
    assert anchors == 0 and loss.item() == 0.0 and torch.isfinite(e.grad).all()
    # one anchor pair among rows with unknowns elsewhere: gradients finite everywhere
    e2 = F.normalize(torch.randn(4, 4), dim=1).requires_grad_(True)
    y2 = torch.tensor([[0, 1], [0, 1], [-1, -1], [1, -1]])
    loss2, anchors2 = attribute_supcon_loss(e2, y2, [0, 1], 0.1)
    loss2.backward()
    assert anchors2 == 2 and math.isfinite(loss2.item()) and torch.isfinite(e2.grad).all()


def test_reader_embedder_contract():
    torch.manual_seed(0)
    net = ReaderEmbeddingNet([2, 3], adapter_width=8, dim=6, hidden=16, input_size=32)
    assert net.out_channels == 2 * 8 + 2 * net.reader.trunk.out_channels
    net.train()
    assert not net.reader.training and net.head.training  # the reader stays frozen in eval mode
    assert not any(p.requires_grad for p in net.reader.parameters())
    net.eval()
    x = torch.rand(3, 3, 40, 40)  # resized to 32 inside
    e = net(x)
    assert e.shape == (3, 6) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    x32 = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    assert torch.allclose(e, net.embed_pooled(net.pooled_from_map(net.reader.trunk(x32)[-1])), atol=1e-6)
    assert net.trunk_embedding(x).shape == (3, net.out_channels)
    only = ReaderEmbeddingNet([2, 3], adapter_width=8, dim=6, hidden=16, sources=("adapter",), input_size=32)
    assert only.out_channels == 16
    with pytest.raises(ValueError, match="sources"):
        ReaderEmbeddingNet([2, 3], sources=("pixels",))


def test_train_photo_end_to_end(synth_tiny, photo_tiny, tiny_reader_path, tmp_path):
    from fir.cli import main
    from fir.model import embed_images, export_embedder, load_embedder

    # one photo in the hand-checked list: it must never train
    stems = [r["path"].split("/")[-1][:-4] for r in csv.DictReader(open(photo_tiny / "manifest.csv"))
             if r["split"] == "train"]
    checked = tmp_path / "checked.csv"
    checked.write_text("image,color,color_alt\n" + f"{stems[0]},red,\n")
    out = tmp_path / "run"
    rc = main(["train-photo", "--config", "configs/photo_fir_test_tiny.yaml", "--no-progress",
               "--set", f"reader={tiny_reader_path}", "--set", f"data.roots=[{synth_tiny}, {photo_tiny}]",
               "--set", f"data.exclude={checked}", "--set", f"train.out={out}", "--set", "train.lambda_classify=1"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["train_rows"]["photo"] == len(stems) - 1 and m["train_rows"]["excluded"] == 1
    for name in ("trained", "untrained_pooled_reader"):
        c2s = m[name]["c2s_test"]
        assert c2s["queries"] > 0 and 0.0 <= c2s["recall@1"] <= c2s["recall@5"] <= 1.0
        pr = m[name]["photo_retrieval_val"]
        assert pr["queries"] >= pr["valid"] and pr["top1"]["n"] == pr["valid"]
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert any("loss/attribute" in r for r in rows) and any("loss/classify" in r for r in rows)

    net, p = load_embedder(out / "embedder")
    assert isinstance(net, ReaderEmbeddingNet) and p.model["arch"] == "reader" and p.image_processor.size == 32
    imgs = torch.from_numpy(np.stack([p.image_processor.array(photo_tiny / "images" / f"{s}.png")
                                      for s in stems[:4]])).permute(0, 3, 1, 2).contiguous()
    e = embed_images(net, imgs, 2, progress=False)
    assert e.shape == (4, 16) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    info = export_embedder(out / "embedder", tmp_path / "shipped", check_images=imgs)
    net16, _ = load_embedder(tmp_path / "shipped")
    assert np.abs(embed_images(net16, imgs, 2, progress=False) - e).max() < 1e-2
    assert info is not None
