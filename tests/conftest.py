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
