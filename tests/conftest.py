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
