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
