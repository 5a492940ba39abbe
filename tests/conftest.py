import os

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def synth_tiny(tmp_path_factory):
    """A 40-product SynthFashion data set at 32 px with ground-truth edits (made once)."""
    from amgan.data.synth_dataset import generate

    out = tmp_path_factory.mktemp("synth_tiny")
    generate(out, 40, seed=3, size=32, street_views=1, with_edits=True, workers=1, progress=False)
    return out


@pytest.fixture(scope="session")
def photo_tiny(synth_tiny, tmp_path_factory):
    """A photo-like data set made from synth_tiny's shop images: view ``photo``, one row per
    image, labels unknown (empty cells) the way real photos have them: pattern and neckline
    always, colour every third row, sleeve every fourth."""
    import csv
    import shutil

    out = tmp_path_factory.mktemp("photo_tiny")
    (out / "images").mkdir()
    shutil.copy(synth_tiny / "schema.json", out / "schema.json")
    with open(synth_tiny / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["view"] == "shop"]
    fields = ["path", "product_id", "view", "split", "mask", "category", "color", "pattern", "sleeve", "neckline"]
    with open(out / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for j, r in enumerate(rows):
            name = f"photo{j:03d}.png"
            shutil.copy(synth_tiny / r["path"], out / "images" / name)
            w.writerow({"path": f"images/{name}", "product_id": f"photo{j:03d}", "view": "photo", "split": r["split"],
                        "mask": "", "category": r["category"], "color": "" if j % 3 == 0 else r["color"],
                        "pattern": "", "sleeve": "" if j % 4 == 0 else r["sleeve"], "neckline": ""})
    return out


@pytest.fixture(scope="session")
def tiny_reader_path(synth_tiny, photo_tiny, tmp_path_factory):
    """A photo reader (amgan train-reader, configs/reader_test_tiny.yaml) on synth_tiny + photo_tiny."""
    from amgan.train_reader import load_reader_config, train_reader

    out = tmp_path_factory.mktemp("tiny_reader") / "reader"
    cfg = load_reader_config("configs/reader_test_tiny.yaml", [f"data.roots=[{synth_tiny}, {photo_tiny}]"])
    train_reader(cfg, out, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_setup(synth_tiny, tmp_path_factory):
    """A trained tiny classifier on synth_tiny; returns (folder, config overrides)."""
    from amgan.config import load_config
    from amgan.train_classifier import train_classifier

    root = tmp_path_factory.mktemp("tiny_run")
    sets = [f"data.root={synth_tiny}", f"classifier.checkpoint={root / 'classifier.pt'}", "train.threads=1"]
    cfg = load_config("configs/test_tiny.yaml", sets)
    train_classifier(cfg, root / "classifier.pt", progress=False)
    return root, sets


@pytest.fixture(scope="session")
def tiny_editor_path(tiny_setup):
    """An editor checkpoint exported after 2 steps of tiny training."""
    from amgan.config import load_config
    from amgan.train import Trainer

    root, sets = tiny_setup
    t = Trainer(load_config("configs/test_tiny.yaml", sets), root / "editor_run", device="cpu", progress=False)
    t.train_step()
    t.train_step()
    return t.export_editor(root / "editor.pt")


@pytest.fixture(scope="session")
def fir_data(tmp_path_factory):
    """A 30-product SynthFashion set at 32 px (1 street view) for FIR tests."""
    from amgan.data.synth_dataset import generate

    root = tmp_path_factory.mktemp("fir_synth")
    generate(root, 30, size=32, street_views=1, workers=1, progress=False)
    return root


@pytest.fixture(scope="session")
def fir_run(fir_data, tmp_path_factory):
    """`fir train` run folder (2 steps of configs/fir_test_tiny.yaml) on fir_data."""
    from fir.cli import main

    out = tmp_path_factory.mktemp("fir_run") / "run"
    rc = main(["train", "--config", "configs/fir_test_tiny.yaml", "--no-progress",
               "--set", f"data.root={fir_data}", "--set", f"train.out={out}"])
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def flam_run(fir_run, fir_data, tmp_path_factory):
    """`fir train-flam` run folder (configs/flam_test_tiny.yaml) on fir_run's features."""
    from fir.cli import main

    out = tmp_path_factory.mktemp("flam_run") / "run"
    rc = main(["train-flam", "--config", "configs/flam_test_tiny.yaml", "--no-progress",
               "--set", f"embedder={fir_run / 'embedder.pt'}", "--set", f"data.root={fir_data}",
               "--set", f"train.out={out}"])
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def tiny_embedder_path(synth_tiny, tmp_path_factory):
    """A FIR embedder after 2 steps of tiny training on synth_tiny (configs/fir_test_tiny.yaml)."""
    from fir.config import load_fir_config
    from fir.train import train_embedder

    out = tmp_path_factory.mktemp("tiny_fir") / "run"
    cfg = load_fir_config("configs/fir_test_tiny.yaml", [f"data.root={synth_tiny}", f"train.out={out}"])
    train_embedder(cfg, out, progress=False)
    return out / "embedder.pt"


@pytest.fixture(scope="session")
def tiny_flam_path(tiny_embedder_path, synth_tiny, tmp_path_factory):
    """A FLAM model after a few tiny training steps on tiny_embedder_path's features (configs/flam_test_tiny.yaml)."""
    from fir.config import load_flam_config
    from fir.flam import train_flam

    out = tmp_path_factory.mktemp("tiny_flam") / "run"
    cfg = load_flam_config("configs/flam_test_tiny.yaml", [f"embedder={tiny_embedder_path}", f"data.root={synth_tiny}",
                                                           f"train.out={out}"])
    train_flam(cfg, out, progress=False)
    return out / "flam.pt"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_demo(editor, retriever, **kw):
    """Launch build_demo(editor, retriever, **kw) on a free local port; -> (Blocks, url)."""
    from demo.app import build_demo, launch_demo

    demo = build_demo(editor, retriever, **kw)
    port = _free_port()
    launch_demo(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def demo_server(tiny_editor_path, tiny_embedder_path, tiny_flam_path, synth_tiny, tmp_path_factory):
    """The Gradio demo on tiny models (AMGAN, FIR, FLAM), served on a free local port: a dict with
    url, editor, retriever, examples, data, index, embedder, editor_path. Used by tests/test_demo*.py."""
    from amgan.editor import Editor
    from demo.app import example_images, load_retriever

    index = tmp_path_factory.mktemp("demo_index") / "gallery"
    retriever, notes, search_off, flam_off = load_retriever(tiny_embedder_path, index, synth_tiny, flam=tiny_flam_path,
                                                            progress=False, split=None)  # all 40 shop images
    assert retriever.flam is not None, flam_off
    editor = Editor.from_checkpoint(tiny_editor_path)
    examples = example_images(synth_tiny)
    demo, url = serve_demo(editor, retriever, examples=examples, notes=notes)
    try:
        yield {"url": url, "editor": editor, "retriever": retriever, "examples": examples, "data": synth_tiny,
               "index": index, "embedder": tiny_embedder_path, "editor_path": tiny_editor_path}
    finally:
        demo.close()
