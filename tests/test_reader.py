"""The attribute reader for photos: masked loss on hand cases, a tiny training run end to end."""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from amgan.train_reader import load_reader_config, masked_ce, train_reader


def test_masked_ce_ignores_unknown_labels_and_groups():
    a = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    labels = torch.tensor([[0, -1], [-1, -1]])
    # group 1 has no known label in the batch: left out of the mean, not counted as zero
    want = F.cross_entropy(a[:1], labels[:1, 0])
    assert torch.isclose(masked_ce([a, b], labels), want)
    labels = torch.tensor([[0, 2], [1, -1]])
    want = (F.cross_entropy(a, labels[:, 0]) + F.cross_entropy(b[:1], labels[:1, 1])) / 2
    assert torch.isclose(masked_ce([a, b], labels), want)
    assert masked_ce([a, b], torch.full((2, 2), -1)).item() == 0.0


def test_reader_trains_on_tiny_data_and_loads_as_a_classifier(synth_tiny, tmp_path):
    from amgan.pretrained import load_classifier

    cfg = load_reader_config("configs/reader_test_tiny.yaml", [f"data.roots=[{synth_tiny}]"])
    metrics = train_reader(cfg, tmp_path / "reader", progress=False)
    acc = metrics["test_accuracy"][str(synth_tiny)]
    assert set(acc) == {"shop", "street"}
    for row in acc.values():
        for cell in row.values():
            assert cell["n"] > 0 and 0.0 <= cell["acc"] <= 1.0
    net, p = load_classifier(tmp_path / "reader")
    assert p.model["head"] == "adapter" and p.image_processor.size == 32
    x = torch.rand(2, 3, 32, 32)
    logits = net(x)
    assert [lg.shape[1] for lg in logits] == list(p.model["group_sizes"])
    cam = net.cam(x, 1, torch.tensor([0, 1]), size=32)
    assert cam.shape == (2, 1, 32, 32) and math.isclose(float(cam.amax()), 1.0, abs_tol=1e-5)
    assert (tmp_path / "reader.run" / "stats.jsonl").is_file()


@pytest.mark.parametrize("override,needle", [("reader.steps=0", "reader.steps must be >= 1"),
                                             ("data.size=30", "multiple of 8"),
                                             ("reader.photo_fraction=2", "photo_fraction")])
def test_reader_config_errors_name_the_key(override, needle):
    from amgan.config import ConfigError

    with pytest.raises(ConfigError, match=needle):
        load_reader_config("configs/reader_test_tiny.yaml", [override])


def test_composed_editor_reads_with_the_reader_at_its_own_size(synth_tiny, tiny_editor_path, tmp_path):
    from PIL import Image

    from amgan.editor import Editor
    from amgan.pretrained import compose_editor, load_classifier

    cfg = load_reader_config("configs/reader_test_tiny.yaml", [f"data.roots=[{synth_tiny}]", "data.size=48"])
    train_reader(cfg, tmp_path / "reader", progress=False)
    compose_editor(tiny_editor_path, tmp_path / "reader", tmp_path / "editor")
    ed = Editor.from_checkpoint(tmp_path / "editor", device="cpu")
    assert ed.size == 32 and ed.reader_processor.size == 48
    photo = Image.open(next((synth_tiny / "images").glob("*_street0.png"))).resize((70, 50))
    res = ed.edit(photo, "make it red")
    assert res.image.size == (70, 50) and res.cam.size == (70, 50)
    # the editor's reading is the reader's own reading of the photo at the reader's size
    net, p = load_classifier(tmp_path / "reader")
    with torch.no_grad():
        own = [int(lg.argmax(1)) for lg in net(p.image_processor.preprocess(photo).tensor)]
    want = ed.schema.decode(own)
    assert res.source_attributes == want
    assert {g: max(v, key=v.get) for g, v in ed.predict(photo).items()} == want


def test_trunk_maps_are_cached_by_image_bytes(synth_tiny, tmp_path, monkeypatch):
    import amgan.train_reader as tr

    calls = []
    real = tr._trunk_maps
    monkeypatch.setattr(tr, "_trunk_maps", lambda *a, **k: calls.append(len(a[2])) or real(*a, **k))
    over = [f"data.roots=[{synth_tiny}]", f"reader.cache_dir={tmp_path / 'cache'}"]
    m1 = train_reader(load_reader_config("configs/reader_test_tiny.yaml", over), tmp_path / "a", progress=False)
    first = list(calls)
    assert first and all(n > 0 for n in first)
    m2 = train_reader(load_reader_config("configs/reader_test_tiny.yaml", over), tmp_path / "b", progress=False)
    assert calls == first  # nothing recomputed the second time
    assert m1["test_accuracy"] == m2["test_accuracy"]  # same maps, same seed: the same model


def test_photo_colour_from_hand_labels_only(synth_tiny, photo_tiny, tmp_path):
    """reader.photo_colour=hand: the colour of a photo no person labelled does not train; renders keep theirs."""
    import csv
    import json
    import shutil

    from amgan.data.manifest import read_manifest
    from amgan.errors import UserError
    from amgan.nets.classifier import AttributeClassifier
    from amgan.train_reader import load_split

    photos = tmp_path / "photos"
    shutil.copytree(photo_tiny, photos)
    m = read_manifest(photos / "manifest.csv")
    train_ids = [m.product_ids[i] for i in m.indices("train", None)]
    labelled = train_ids[:3]
    hand = tmp_path / "hand.csv"
    with open(hand, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "color", "sleeve"])
        for pid in labelled:
            w.writerow([pid, "red", "short"])
    trunk = AttributeClassifier([2], backbone="efficientnet_lite0", pretrained=True).trunk.eval()
    over = [f"data.roots=[{synth_tiny}, {photos}]", "reader.photo_colour=hand", f"reader.cache_dir={tmp_path / 'c'}"]
    cfg = load_reader_config("configs/reader_test_tiny.yaml", over)
    with pytest.raises(UserError, match="no hand labels"):
        load_split(cfg, trunk, "train", set(), progress=False)
    (photos / "hand_labels.json").write_text(json.dumps({"files": [str(hand)]}))
    split, schema = load_split(cfg, trunk, "train", set(), progress=False)
    ci = schema.group_index("color")
    known = {pid: int(lab[ci]) for pid, lab, v in zip(split.product_ids, split.labels, split.views) if v == "photo"}
    assert {pid for pid, c in known.items() if c >= 0} <= set(labelled)
    assert all(c < 0 for pid, c in known.items() if pid not in labelled)
    renders = [int(lab[ci]) for lab, v in zip(split.labels, split.views) if v != "photo"]
    assert renders and min(renders) >= 0
    everything, _ = load_split(load_reader_config("configs/reader_test_tiny.yaml", over[:1] + over[2:]), trunk,
                               "train", set(), progress=False)
    assert int((everything.labels[:, ci] >= 0).sum()) > int((split.labels[:, ci] >= 0).sum())
    with pytest.raises(Exception, match="photo_colour"):
        load_reader_config("configs/reader_test_tiny.yaml", ["reader.photo_colour=some"])


def test_replace_classifier_keeps_the_generator_settings_and_files(synth_tiny, tiny_editor_path, tmp_path):
    import shutil

    from PIL import Image

    from amgan.editor import Editor
    from amgan.pretrained import (CheckpointError, compose_editor, load_classifier, load_pretrained,
                                  replace_classifier)

    base = [f"data.roots=[{synth_tiny}]", "data.size=48"]
    train_reader(load_reader_config("configs/reader_test_tiny.yaml", base), tmp_path / "r0", progress=False)
    train_reader(load_reader_config("configs/reader_test_tiny.yaml", base + ["reader.seed=1"]), tmp_path / "r1",
                 progress=False)
    compose_editor(tiny_editor_path, tmp_path / "r0", tmp_path / "editor")
    (tmp_path / "editor" / "PROVENANCE.md").write_text("how it was made\n")
    before = load_pretrained(tmp_path / "editor")
    replace_classifier(tmp_path / "editor", tmp_path / "r1", card={"summary": "with reader r1"})
    after = load_pretrained(tmp_path / "editor")
    assert (tmp_path / "editor" / "PROVENANCE.md").read_text() == "how it was made\n"
    assert all(torch.equal(before.weights["G"][k], after.weights["G"][k]) for k in before.weights["G"])
    assert after.model == before.model and after.card["summary"] == "with reader r1"
    assert after.info["classifier_from"]["path"] == str(tmp_path / "r1")
    photo = Image.open(next((synth_tiny / "images").glob("*_street0.png")))
    net, p = load_classifier(tmp_path / "r1")
    with torch.no_grad():
        want = [int(lg.argmax(1)) for lg in net(p.image_processor.preprocess(photo).tensor)]
    ed = Editor.from_checkpoint(tmp_path / "editor", device="cpu")
    assert {g: max(v, key=v.get) for g, v in ed.predict(photo).items()} == ed.schema.decode(want)
    # another architecture (input size) is refused and leaves the folder as it was
    train_reader(load_reader_config("configs/reader_test_tiny.yaml", base[:1] + ["data.size=32"]), tmp_path / "r2",
                 progress=False)
    weights = (tmp_path / "editor" / "weights.pt").read_bytes()
    with pytest.raises(CheckpointError, match="same architecture"):
        replace_classifier(tmp_path / "editor", tmp_path / "r2")
    assert (tmp_path / "editor" / "weights.pt").read_bytes() == weights
    # ... unless a new input is allowed: the editor then reads photos through the classifier's own processor
    replace_classifier(tmp_path / "editor", tmp_path / "r2", new_input=True)
    ed2 = Editor.from_checkpoint(tmp_path / "editor", device="cpu")
    assert ed2.reader_processor.size == 32 and ed2.size == ed.size
    assert (tmp_path / "editor" / "PROVENANCE.md").read_text() == "how it was made\n"
    net2, p2 = load_classifier(tmp_path / "r2")
    with torch.no_grad():
        want2 = [int(lg.argmax(1)) for lg in net2(p2.image_processor.preprocess(photo).tensor)]
    assert {g: max(v, key=v.get) for g, v in ed2.predict(photo).items()} == ed2.schema.decode(want2)
    assert ed2.edit(photo, {"color": "red"}).image.size == photo.size
    from amgan.pretrained import main as pretrained_main
    back = ["replace-classifier", "--editor", str(tmp_path / "editor"), "--classifier", str(tmp_path / "r0")]
    assert pretrained_main(back) == 2  # 48 px against the 32 px it reads now
    assert pretrained_main(back + ["--new-input"]) == 0
    assert Editor.from_checkpoint(tmp_path / "editor", device="cpu").reader_processor.size == 48
    shutil.rmtree(tmp_path / "r2")


def test_a_refit_head_changes_that_group_alone_and_fits_the_new_labels(synth_tiny, photo_tiny, tiny_reader_path,
                                                                       tmp_path, capsys):
    """``train-reader --refit-head neckline``: photos that now have neckline labels (here the renders' own)
    get a neckline head fitted on the reader's adapter; every other weight, so every other group's reading,
    stays bit for bit."""
    import csv
    import shutil

    from amgan.cli import main as cli_main
    from amgan.pretrained import load_classifier

    photos = tmp_path / "photos"
    shutil.copytree(photo_tiny, photos)
    with open(synth_tiny / "manifest.csv", newline="") as f:
        truth = [r["neckline"] for r in csv.DictReader(f) if r["view"] == "shop"]
    with open(photos / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r, n in zip(rows, truth):
        r["neckline"] = n
    with open(photos / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    sets = ["--set", f"data.roots=[{synth_tiny}, {photos}]", "--set", "reader.photo_fraction=1.0"]
    out = tmp_path / "refit"
    argv = ["train-reader", "--config", "configs/reader_test_tiny.yaml", *sets, "--out", str(out), "--no-progress"]
    assert cli_main(argv + ["--refit-head", "neckline", "--init", str(tiny_reader_path), "--l2", "1e-4"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    old, _ = load_classifier(tiny_reader_path)
    new, p = load_classifier(out)
    changed = {k for k, v in new.state_dict().items() if not torch.equal(v, old.state_dict()[k])}
    g = [x["name"] for x in p.schema["groups"]].index("neckline")
    assert changed == {f"heads.{g}.weight", f"heads.{g}.bias"}
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        a, b = old(x), new(x)
    assert all(torch.equal(a[k], b[k]) for k in range(len(a)) if k != g) and not torch.equal(a[g], b[g])
    assert metrics["refit"]["train_rows"]["photo"] > 0 and sum(metrics["refit"]["photo_labels"].values()) > 0
    assert "--refit-head neckline" in p.card["provenance"]
    # photo_fraction=1: fitted on the photos' neckline labels alone, it reads them better than the old head
    from amgan.train_reader import heads_forward, load_split

    cfg = load_reader_config("configs/reader_test_tiny.yaml", [sets[1], sets[3]])
    split, _ = load_split(cfg, old.trunk, "train", set(), progress=False)
    ph = torch.tensor([v == "photo" for v in split.views])
    with torch.no_grad():
        hits = [float((heads_forward(n, split.feats[ph].float())[g].argmax(1) == split.labels[ph, g]).float().mean())
                for n in (old, new)]
    assert hits[1] > hits[0] and hits[1] >= 0.8
    # a drawn sample: its photos stand for the photos without a label of their own, so the fit moves
    train_photos = [r["product_id"] for r in rows if r["split"] == "train"]
    sample = tmp_path / "sample.csv"
    sample.write_text("image,neckline\n" + "".join(f"{pid},{n}\n" for pid, n in
                                                   zip(train_photos[:4], ["round", "v_neck", "collar", "unknown"])))
    with open(photos / "manifest.csv", newline="") as f:  # the rest of the train photos: unknown, as drawn from
        rows2 = list(csv.DictReader(f))
    for r in rows2:
        if r["split"] == "train" and r["product_id"] not in train_photos[:3]:
            r["neckline"] = "" if r["product_id"] not in train_photos[4:8] else r["neckline"]
    with open(photos / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows2[0]))
        w.writeheader()
        w.writerows(rows2)
    out2, out3 = tmp_path / "refit2", tmp_path / "refit3"
    base = ["train-reader", "--config", "configs/reader_test_tiny.yaml", *sets, "--no-progress",
            "--refit-head", "neckline", "--init", str(tiny_reader_path)]
    assert cli_main(base + ["--out", str(out2)]) == 0
    capsys.readouterr()
    assert cli_main(base + ["--out", str(out3), "--sample", str(sample)]) == 0
    assert json.loads(capsys.readouterr().out)["refit"]["sample"] == str(sample)
    h2, h3 = (load_classifier(o)[0].heads[g].weight for o in (out2, out3))
    assert not torch.allclose(h2, h3)
    assert cli_main(base + ["--out", str(out3), "--sample", str(tmp_path / "nope.csv")]) == 2
    assert "--sample: " in capsys.readouterr().err
    assert cli_main(argv + ["--refit-head", "hood", "--init", str(tiny_reader_path)]) == 2
    assert "no such group" in capsys.readouterr().err
    assert cli_main(argv + ["--refit-head", "neckline"]) == 2
    assert "--refit-head needs --init" in capsys.readouterr().err


def test_fit_head_fits_separable_data_and_is_deterministic():
    from amgan.train_reader import fit_head

    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 8, generator=g)
    y = x[:, :3].argmax(1)  # linearly separable
    w = torch.ones(300)
    h1, h2 = fit_head(x, y, w, 3, l2=1e-4), fit_head(x, y, w, 3, l2=1e-4)
    assert torch.equal(h1.weight, h2.weight)
    assert float((h1(x).argmax(1) == y).float().mean()) > 0.95
    # a heavy weight on a few rows pulls the fit towards them; a strong L2 shrinks the weights
    assert fit_head(x, y, w, 3, l2=10.0).weight.norm() < h1.weight.norm() / 5
