"""The shipped models still meet their targets and reproduce the committed report (slow: `make test-slow`).

Needs the SynthFashion default set; it is rendered into a temporary folder when `data/synth64`
(`make data`) is missing (about a minute; the renderer is deterministic, so it is the same data).
"""
import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

REPORT = json.loads(Path("reports/synth64/metrics.json").read_text())


@pytest.fixture(scope="module")
def synth64(tmp_path_factory):
    root = Path("data/synth64")
    if (root / "manifest.csv").is_file() and (root / "edits.csv").is_file():
        return root
    from amgan.data.synth_dataset import generate

    out = tmp_path_factory.mktemp("synth64")
    generate(out, 3000, seed=0, size=64, street_views=2, with_edits=True, progress=False)
    return out


def test_shipped_fir_consumer_to_shop_recall(synth64):
    from amgan.pretrained import model_id
    from fir.flam import _features
    from fir.model import load_embedder
    from fir.train import evaluate_c2s

    path = "checkpoints/fir_synth64"
    net, p = load_embedder(path)
    size = p.image_processor.size
    f, _, pids, views = _features(net, model_id(path), Path(synth64), size, "test", ("shop", "street"), 128, "",
                                  False)
    q = [i for i, v in enumerate(views) if v == "street"]
    g = [i for i, v in enumerate(views) if v == "shop"]
    r = evaluate_c2s(f[q].numpy(), [pids[i] for i in q], f[g].numpy(), [pids[i] for i in g])
    shipped = json.loads(Path("checkpoints/fir_synth64/metrics.json").read_text())
    assert r["recall@20"] >= 0.9
    assert abs(r["recall@1"] - shipped["trained"]["recall@1"]) <= 0.01, (r, shipped)


@pytest.mark.timeout(2400)  # the shop view with the 128-px editor and KID: about 10 min on 2 idle cores
def test_shipped_models_reproduce_the_committed_report(synth64, tmp_path, capsys):
    """The shop view of the committed report, every method (the 128-px editor included), its judged
    groups and KID; the street view is in the report (`fir evaluate` with the config as committed)."""
    from fir.cli import main

    out = tmp_path / "report"
    sets = [f"data.root={synth64}", "latency_queries=5", "data.views=[shop]"]
    if not (Path("data/synth128") / "manifest.csv").is_file():
        sets.append("extra_editor.data_root=")  # the 128-px editor then reads the 64-px renders: no exact match
    rc = main(["evaluate", "--config", "configs/eval_synth64.yaml", "--out", str(out), "--no-progress"]
              + [a for s in sets for a in ("--set", s)])
    assert rc == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    V, R = m["views"]["shop"], REPORT["views"]["shop"]
    top30 = {k: v["retrieval"]["top30"] for k, v in V["methods"].items()}
    # the targets
    assert top30["amgan"] >= 0.8
    assert top30["amgan"] >= top30["unedited"] + 0.1 and top30["amgan"] >= top30["stargan"] + 0.1
    assert top30["flam"] >= top30["amgan"] - 0.1
    # the committed numbers (CPU float differences may move a rare tie)
    exact_extra = "extra_editor.data_root=" not in sets
    for name, mm in R["methods"].items():
        if name == "amgan128" and not exact_extra:
            continue
        for k in ("top1", "top10", "top30"):
            assert abs(V["methods"][name]["retrieval"][k] - mm["retrieval"][k]) <= 0.005, (name, k)
            assert abs(V["methods"][name]["retrieval"]["measurable_groups"][k]
                       - mm["retrieval"]["measurable_groups"][k]) <= 0.005, (name, k)
        if "edit_quality" in mm:
            assert np.isclose(V["methods"][name]["edit_quality"]["edit_acc"], mm["edit_quality"]["edit_acc"],
                              atol=0.005), name
        if name in R["kid"].get("methods", {}):
            assert np.isclose(V["kid"]["methods"][name]["kid"], R["kid"]["methods"][name]["kid"], rtol=0.02,
                              atol=0.002), name
    assert {g: j["measurable"] for g, j in V["groups"].items()} == {g: j["measurable"] for g, j in R["groups"].items()}
