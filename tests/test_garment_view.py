"""Searching on the garment alone: amgan.image.garment_view, the processor's view, `fir garment-copy`, and the doors
(train-photo, the index, the Retriever) cutting photos the same way."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from amgan.errors import UserError
from amgan.image import GARMENT_PAD, ImageProcessor, garment_view

torch.set_num_threads(1)


def _photo(w=100, h=80, box=(30, 20, 60, 70)):
    """A grey floor with a little noise and a red garment at ``box`` (x0, y0, x1, y1 inclusive); its mask."""
    rng = np.random.default_rng(0)
    a = (128 + rng.integers(-6, 7, (h, w, 3))).astype(np.uint8)
    x0, y0, x1, y1 = box
    a[y0:y1 + 1, x0:x1 + 1] = (200, 30, 40)
    m = np.zeros((h, w), bool)
    m[y0:y1 + 1, x0:x1 + 1] = True
    return Image.fromarray(a), m


def test_garment_view_whites_out_the_background_and_crops_to_the_garment(tmp_path):
    im, m = _photo()
    v = garment_view(im, m)
    p = int(GARMENT_PAD * 100)  # 5 px around the 31 x 51 garment
    assert v.size == (31 + 2 * p, 51 + 2 * p)
    arr = np.asarray(v).astype(int)
    assert (arr[0, 0] == 255).all() and (arr[-1, -1] == 255).all()  # the floor beyond the garment is white
    assert (arr[arr.shape[0] // 2, arr.shape[1] // 2] == (200, 30, 40)).all()  # the garment kept
    # the same from a mask file, and from a mask at another size (resized to the photo)
    Image.fromarray(m.astype(np.uint8) * 3).save(tmp_path / "m.png")
    assert np.array_equal(np.asarray(garment_view(im, tmp_path / "m.png")), arr)
    half = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((50, 40), Image.NEAREST))
    assert abs(garment_view(im, half).size[0] - v.size[0]) <= 2
    # no garment: the photo as it is
    assert np.array_equal(np.asarray(garment_view(im, False)), np.asarray(im))
    assert np.array_equal(np.asarray(garment_view(im, np.zeros_like(m))), np.asarray(im))
    small = np.zeros_like(m)
    small[2:6, 95:99] = True  # a garment smaller than MIN_SIDE at the edge: the crop is widened, inside the photo
    assert garment_view(im, small).size == (16, 16)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(Exception, match="garment mask .*bad.png: not a readable image"):
        garment_view(im, tmp_path / "bad.png")
    with pytest.raises(Exception, match="one channel"):
        garment_view(im, np.zeros((80, 100, 3)))


def test_garment_view_finds_the_garment_itself_and_keeps_the_photo_when_it_finds_a_print(monkeypatch):
    import amgan.data.garment_mask as gm

    im, m = _photo(160, 120, (50, 30, 110, 95))
    found = gm.garment_mask(im)
    assert (found & m).sum() / (found | m).sum() > 0.8  # GrabCut finds the red garment on the grey floor
    assert np.array_equal(np.asarray(garment_view(im)), np.asarray(garment_view(im, found)))
    tiny = np.zeros_like(m)
    tiny[60:66, 70:76] = True  # under the annotator's MIN_MASK_FRACTION: a print, not the garment
    monkeypatch.setattr(gm, "garment_mask", lambda image: tiny)
    assert np.array_equal(np.asarray(garment_view(im)), np.asarray(im))


def test_processor_view_is_saved_and_cuts_before_the_square():
    im, m = _photo()
    assert ImageProcessor(size=32).to_dict() == {"size": 32, "resample": "bicubic", "pad": "border_median"}
    g = ImageProcessor(size=32, view="garment")
    assert ImageProcessor.from_dict(g.to_dict()) == g and g.to_dict()["view"] == "garment"
    with pytest.raises(ValueError, match="view"):
        ImageProcessor(size=32, view="torso")
    whole = ImageProcessor(size=32)
    assert np.array_equal(g.array(im, m), whole.array(garment_view(im, m)))
    assert np.array_equal(whole.array(im, m), whole.array(im))  # a whole-photo processor ignores the mask
    b = g.batch([im, im], masks=[m, False])
    assert torch.equal(b[0], torch.from_numpy(g.array(im, m).copy()).permute(2, 0, 1).float() / 255)
    assert torch.equal(b[1], torch.from_numpy(whole.array(im).copy()).permute(2, 0, 1).float() / 255)
    with pytest.raises(ValueError, match="masks"):
        g.batch([im, im], masks=[m])


@pytest.fixture(scope="module")
def garment_copies(synth_tiny, photo_tiny, tmp_path_factory):
    from fir.garment_copy import garment_copy

    root = tmp_path_factory.mktemp("garments")
    return (garment_copy(synth_tiny, root / "synth", progress=False), root / "synth",
            garment_copy(photo_tiny, root / "photo", progress=False), root / "photo")


def test_garment_copy_cuts_every_image_by_its_rows_mask(synth_tiny, photo_tiny, garment_copies, tmp_path):
    from amgan.data.manifest import read_manifest
    from fir.garment_copy import MARKER, garment_copy, is_garment_copy

    s_sum, s_out, p_sum, p_out = garment_copies
    src, cp = read_manifest(synth_tiny / "manifest.csv"), read_manifest(s_out / "manifest.csv")
    assert s_sum["rows"] == len(src) == len(cp) and s_sum["without_mask"] == 0
    assert np.array_equal(src.labels, cp.labels) and cp.splits == src.splits and cp.views == src.views
    assert not any(cp.masks)
    for i in (0, 7, len(src) - 1):
        want = garment_view(Image.open(src.image_path(i)), src.mask_path(i))
        assert np.array_equal(np.asarray(Image.open(cp.image_path(i)).convert("RGB")), np.asarray(want))
    assert is_garment_copy(s_out) and json.loads((s_out / MARKER).read_text())["source"] == str(synth_tiny)
    # photo_tiny has no masks and was never annotated: GrabCut finds each garment; once annotated, a row without a
    # mask is one where the annotator found none, and it is copied whole
    assert p_sum["cut_by_grabcut"] == p_sum["rows"] and p_sum["without_mask"] == 0
    ph, pc = read_manifest(photo_tiny / "manifest.csv"), read_manifest(p_out / "manifest.csv")
    assert np.array_equal(np.asarray(Image.open(pc.image_path(0)).convert("RGB")),
                          np.asarray(garment_view(Image.open(ph.image_path(0)))))
    import shutil

    annotated = tmp_path / "annotated"
    shutil.copytree(photo_tiny, annotated)
    (annotated / "annotations.csv").write_text("path,mask\n")
    a_sum = garment_copy(annotated, tmp_path / "annotated_copy", progress=False)
    assert a_sum["without_mask"] == a_sum["rows"] and a_sum["cut_by_grabcut"] == 0
    a = read_manifest(tmp_path / "annotated_copy" / "manifest.csv")
    assert np.array_equal(np.asarray(Image.open(a.image_path(0)).convert("RGB")),
                          np.asarray(Image.open(ph.image_path(0)).convert("RGB")))
    with pytest.raises(UserError, match="not empty"):
        garment_copy(synth_tiny, s_out, progress=False)
    with pytest.raises(UserError, match="already a garment-only copy"):
        garment_copy(s_out, tmp_path / "again", progress=False)
    with pytest.raises(UserError, match="no manifest"):
        garment_copy(tmp_path, tmp_path / "x", progress=False)


def test_garment_embedder_end_to_end(synth_tiny, photo_tiny, tiny_reader_path, garment_copies, tmp_path):
    """train-photo on garment copies saves an embedder that cuts its inputs; the index and the Retriever cut the
    original photos the same way; mixing copies and whole data sets is refused."""
    from fir.cli import build_index, main
    from fir.model import load_embedder
    from fir.retriever import Retriever

    _, s_out, _, p_out = garment_copies
    base = ["train-photo", "--config", "configs/photo_fir_test_tiny.yaml", "--no-progress",
            "--set", f"reader={tiny_reader_path}"]
    from fir.garment_copy import check_input_view

    check_input_view("garment", [synth_tiny, s_out, p_out], "data.roots")  # renders whole or cut; photos cut
    with pytest.raises(UserError, match="holds photos but is not a garment-only copy"):
        check_input_view("garment", [synth_tiny, photo_tiny], "data.roots")
    with pytest.raises(UserError, match="is a garment-only copy, but the input view is 'whole'"):
        check_input_view("whole", [s_out], "data.roots")
    assert main(base + ["--set", f"data.roots=[{synth_tiny}, {p_out}]", "--set", f"train.out={tmp_path / 'bad'}"]) == 2
    out = tmp_path / "run"
    assert main(base + ["--set", f"data.roots=[{synth_tiny}, {p_out}]", "--set", "data.input_view=garment",
                        "--set", f"train.out={out}"]) == 0
    net, p = load_embedder(out / "embedder")
    assert p.image_processor.view == "garment"
    assert "Photos from garment-only copies" in (out / "embedder" / "MODEL_CARD.md").read_text()

    idx = build_index(out / "embedder", synth_tiny, tmp_path / "index", split="test", view="shop", progress=False)
    with pytest.raises(UserError, match="cuts the garments itself"):
        build_index(out / "embedder", s_out, tmp_path / "index2", split="test", view="shop", progress=False)
    r = Retriever.from_paths(out / "embedder", tmp_path / "index")
    with open(synth_tiny / "manifest.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == "test" and row["view"] == "shop"]
    first = rows[0]
    v = r.embed(synth_tiny / first["path"], mask=synth_tiny / first["mask"])
    hit = r.search_vector(v, k=1)[0]
    assert hit.item["path"].endswith(first["path"]) and hit.score > 0.999  # the index cut it by its mask too
    whole = Retriever(net, idx, ImageProcessor(size=p.image_processor.size))
    assert not np.allclose(whole.embed(synth_tiny / first["path"]), v, atol=1e-3)  # cutting changes the input
    assert np.array_equal(np.asarray(whole.view(synth_tiny / first["path"])),
                          np.asarray(Image.open(synth_tiny / first["path"]).convert("RGB")))  # a whole photo: itself

    # FLAM learns on the features the embedder was trained on: the photos' garment copy, never the whole photos
    from fir.flam import load_flam

    flam = ["train-flam", "--config", "configs/flam_test_tiny.yaml", "--no-progress", "--set",
            f"embedder={out / 'embedder'}"]
    assert main(flam + ["--set", f"data.root={synth_tiny}", "--set", f"data.photo_roots=[{photo_tiny}]",
                        "--set", f"train.out={tmp_path / 'f1'}"]) == 2
    assert main(flam + ["--set", f"data.root={synth_tiny}", "--set", f"data.photo_roots=[{p_out}]",
                        "--set", f"train.out={tmp_path / 'f2'}"]) == 0
    load_flam(tmp_path / "f2" / "flam.pt", expect_embedder_id=r.model_id)


def test_the_shipped_search_pair_reads_garments_and_is_the_default():
    from amgan.pretrained import model_id
    from demo.startup import DEFAULTS
    from fir.evaluate_photo_section import PhotoEvalConfig
    from fir.flam import load_flam
    from fir.model import load_embedder

    _, p = load_embedder(DEFAULTS["embedder"])
    assert p.image_processor.view == "garment" and p.image_processor.size == 128
    load_flam(DEFAULTS["flam"], expect_embedder_id=model_id(DEFAULTS["embedder"]))  # made on this embedder
    assert (PhotoEvalConfig().embedder, PhotoEvalConfig().flam) == (DEFAULTS["embedder"], DEFAULTS["flam"])
    _, whole = load_embedder("checkpoints/fir_photo128")  # the comparison pair is kept, whole photos
    assert whole.image_processor.view == "whole" and "view" not in whole.image_processor.to_dict()


def test_the_retriever_cuts_a_photo_once_and_as_the_processor_does(monkeypatch):
    import amgan.data.garment_mask as gm
    from fir import retriever as rmod
    from fir.index import GalleryIndex

    calls = []
    real = gm.garment_mask
    monkeypatch.setattr(gm, "garment_mask", lambda image: calls.append(1) or real(image))
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(12, 4)).eval()
    net.dim = 4
    idx = GalleryIndex.build(np.eye(4, dtype=np.float32), [{"path": str(i)} for i in range(4)], model_id="m")
    proc = ImageProcessor(size=32, view="garment")
    r = rmod.Retriever(net, idx, proc)
    im, _ = _photo(160, 120, (50, 30, 110, 95))
    a = r.embed(im)
    assert np.allclose(r.embed(np.asarray(im)), a) and len(calls) == 1  # the same pixels: cut once
    t = proc.preprocess(im).tensor  # the processor's own path: the same input
    assert np.allclose(net(t)[0].detach().numpy(), a, atol=1e-6) and len(calls) == 2
    assert np.array_equal(np.asarray(r.view(im)), np.asarray(garment_view(im)))
    assert len(calls) == 3  # the processor's path and garment_view cut; the Retriever's view came from its cache
    other, _ = _photo(160, 120, (40, 20, 100, 90))
    r.embed(other)
    assert len(calls) == 4
    for j in range(rmod.CUT_CACHE + 1):  # the oldest cuts make way
        r.embed(np.asarray(other)[:, : 150 - j])
    r.embed(im)
    assert len(calls) == 4 + rmod.CUT_CACHE + 2
