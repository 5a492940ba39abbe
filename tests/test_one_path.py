"""One image path: the same photo gets the same answer by every door (CLI, Python API, demo).

The photo is non-square and stored sideways with an EXIF orientation tag, as phones do.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from amgan.image import ImageProcessor


@pytest.fixture(scope="module")
def sideways_photo(synth_tiny, tmp_path_factory):
    """A 300x180 (w x h) photo stored rotated, with EXIF orientation 6: upright it is 180x300."""
    src = Image.open(next((synth_tiny / "images").glob("*_shop.png"))).convert("RGB")
    upright = Image.new("RGB", (180, 300), (200, 200, 190))
    upright.paste(src.resize((160, 160), Image.BICUBIC), (10, 70))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # how the camera wrote it (300x180)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    path = tmp_path_factory.mktemp("photo") / "sideways.jpg"
    stored.save(path, quality=95, exif=exif.tobytes())
    return path, upright


def test_processor_turns_the_photo_upright(sideways_photo):
    path, upright = sideways_photo
    proc = ImageProcessor(size=32)
    rgb = proc.load(path)
    assert rgb.size == (180, 300)
    # upright: the photo's pixels match the upright original (JPEG noise aside), the stored ones do not
    assert np.abs(np.asarray(rgb, np.float32) - np.asarray(upright, np.float32)).mean() < 4
    # the bytes, a file object and the PIL image give the same model input
    a = proc.array(path)
    b = proc.array(path.read_bytes())
    with open(path, "rb") as f:
        c = proc.array(f)
    d = proc.array(Image.open(path))
    assert np.array_equal(a, b) and np.array_equal(a, c) and np.array_equal(a, d)


def test_edit_is_the_same_by_api_and_cli(sideways_photo, tiny_editor_path, tmp_path):
    from amgan.cli import main
    from amgan.editor import Editor

    path, _ = sideways_photo
    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    api = ed.edit(path, "make it red")
    assert api.image.size == (180, 300)  # upright, at the photo's own size
    out = tmp_path / "cli.png"
    assert main(["edit", "--checkpoint", str(tiny_editor_path), "--image", str(path), "--edit", "make it red",
                 "--out", str(out), "--device", "cpu"]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(api.image))


def test_search_is_the_same_by_api_and_cli(sideways_photo, tiny_embedder_path, synth_tiny, tmp_path, capsys):
    from fir.cli import build_index, main
    from fir.retriever import Retriever

    path, _ = sideways_photo
    index = tmp_path / "gallery"
    build_index(tiny_embedder_path, synth_tiny, index, view="shop", progress=False)
    api = Retriever.from_paths(tiny_embedder_path, index).search(path, k=5)
    assert main(["search", "--index", str(index), "--checkpoint", str(tiny_embedder_path), "--image", str(path),
                 "--k", "5", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [h["id"] for h in cli["hits"]] == [h.id for h in api.hits]
    assert np.allclose([h["score"] for h in cli["hits"]], [h.score for h in api.hits], atol=1e-6)


def test_demo_endpoint_gives_the_api_answer(sideways_photo, demo_server):
    from gradio_client import Client, handle_file

    path, _ = sideways_photo
    client = Client(demo_server["url"], verbose=False, analytics_enabled=False)
    res = client.predict(handle_file(str(path)), "make it red", "whole", api_name="/edit")
    edited = res[0] if isinstance(res, (list, tuple)) else res
    got = np.asarray(Image.open(edited["path"] if isinstance(edited, dict) else edited).convert("RGB"))
    want = np.asarray(demo_server["editor"].edit(path, "make it red").image)
    assert got.shape == want.shape == (300, 180, 3)
    assert np.array_equal(got, want)
