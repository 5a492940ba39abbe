"""A tiny end-to-end retrieval evaluation on synthetic data (real components, tiny models)."""
import json

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_evaluator(tiny_setup, tmp_path_factory):
    """An independent classifier (seed 1) on synth_tiny."""
    from amgan.config import load_config
    from amgan.train_classifier import train_classifier

    root, sets = tiny_setup
    out = tmp_path_factory.mktemp("evaluator") / "classifier.pt"
    train_classifier(load_config("configs/test_tiny.yaml", sets), out, seed=1, progress=False)
    return out


def test_fir_evaluate_end_to_end(synth_tiny, tiny_editor_path, tiny_evaluator, tiny_setup, fir_run, flam_run,
                                 tmp_path, capsys):
    from fir.cli import main

    out = tmp_path / "report"
    sets = [f"data.root={synth_tiny}", f"editor={tiny_editor_path}", f"ablation_editor={tiny_editor_path}",
            f"embedder={fir_run / 'embedder.pt'}", f"flam={flam_run / 'flam.pt'}", f"evaluator={tiny_evaluator}",
            "latency_queries=2", "samples_per_group=1", "max_k=5", "ks=[1,5]", "batch_size=8"]
    rc = main(["evaluate", "--config", "configs/eval_synth64.yaml", "--out", str(out), "--no-progress"]
              + [a for s in sets for a in ("--set", s)])
    assert rc == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    P = m["protocol"]
    assert P["queries"] == sum(P["queries_per_group"].values()) > 0
    assert P["gallery"] == P["gallery_catalogue"] + P["gallery_edit_truths"]
    assert set(m["methods"]) == {"unedited", "amgan", "amgan_region", "flam", "stargan", "truth"}
    truth = m["methods"]["truth"]["retrieval"]
    # every query's sibling is in the gallery, so every query counts; the ground-truth render
    # retrieves itself first (exact search, identical embedding)
    assert truth["valid_queries"] == P["queries"] and truth["top1"] == 1.0 and truth["exact_item@5"] == 1.0
    for name, mm in m["methods"].items():
        c = mm["retrieval"]["topk_curve"]
        assert len(c) == 5 and all(a <= b + 1e-9 for a, b in zip(c, c[1:])), name  # non-decreasing in k
    # the evaluator reads the ground truth's edited attribute; untrained edits are scored, not assumed
    acc, n = m["methods"]["amgan"]["edit_quality"]["edit_acc"], P["queries"]
    assert abs(acc * n - round(acc * n)) < 0.01 * n  # a count over the queries (rounded to 4 places)
    assert m["methods"]["truth"]["edit_quality"]["outside_change"] < 0.01  # renders differ only in edge anti-aliasing
    assert not m["lpips"]["available"] and "not reported" in m["lpips"]["why"]
    assert set(m["region_specific"]) == {"sleeves", "torso"}
    assert m["latency"]["queries"] == 2 and m["latency"]["flam_manipulate_ms"] > 0
    md = (out / "report.md").read_text()
    assert "AMGAN region-specific" in md and "FLAM (feature-level)" in md and "![samples.png](samples.png)" in md
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "src=\"topk_curves.png\"" not in html
    for png in ("topk_curves.png", "per_group_top30.png", "samples.png"):
        assert (out / png).stat().st_size > 1000


def test_fir_evaluate_refuses_the_gan_classifier_as_evaluator(synth_tiny, tiny_editor_path, tiny_setup, fir_run,
                                                               tmp_path, capsys):
    from fir.cli import main

    root, _ = tiny_setup
    sets = [f"data.root={synth_tiny}", f"editor={tiny_editor_path}", f"embedder={fir_run / 'embedder.pt'}",
            f"evaluator={root / 'classifier.pt'}", "flam=", "ablation_editor="]
    rc = main(["evaluate", "--config", "configs/eval_synth64.yaml", "--out", str(tmp_path / "r"), "--no-progress"]
              + [a for s in sets for a in ("--set", s)])
    assert rc == 2 and "independent" in capsys.readouterr().err
