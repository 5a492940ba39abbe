"""fir evaluate-photos: reading accuracy per group with counts and intervals, colour vs hand-checked labels."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np


def test_reading_accuracy_matches_a_direct_count(synth_tiny, tiny_editor_path, tmp_path):
    from amgan.data.manifest import read_manifest
    from amgan.editor import Editor
    from fir.cli import main

    m = read_manifest(synth_tiny / "manifest.csv")
    test = m.indices("test", None)
    # a "hand-checked" file: the true colour for half the test photos, one marked unknown, one with an alt
    rows = []
    colors = m.schema.group("color").values
    for j, i in enumerate(test[: len(test) // 2]):
        true = colors[m.labels[i][m.schema.group_index("color")]]
        rows.append({"image": Path(m.paths[i]).stem, "color": "unknown" if j == 0 else true,
                     "color_alt": "red" if j == 1 else ""})
    checked = tmp_path / "checked.csv"
    with open(checked, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["image", "color", "color_alt"])
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "rep"
    assert main(["evaluate-photos", "--data", str(synth_tiny), "--out", str(out), "--editor", str(tiny_editor_path),
                 "--checked", str(checked), "--no-progress"]) == 0
    res = json.loads((out / "metrics.json").read_text())
    (name, r), = res["readers"].items()
    ed = Editor.from_checkpoint(tiny_editor_path, device="cpu")
    pred = np.stack([ed.read_labels(ed.reader_processor.preprocess(m.image_path(i)).tensor, reader_input=True)[0].numpy()
                     for i in test])
    for gi, g in enumerate(m.schema.names):
        cell = r["test_split"][g]
        assert cell["n"] == len(test)
        assert cell["acc"] == round(float((pred[:, gi] == m.labels[test][:, gi]).mean()), 4)
        assert cell["ci95"][0] <= cell["acc"] <= cell["ci95"][1]
    c = r["colour_vs_hand_checked"]
    assert c["person_said_unknown"] == 1 and c["all_checked"]["strict"]["n"] == len(rows) - 1
    assert c["all_checked"]["lenient"]["acc"] >= c["all_checked"]["strict"]["acc"]
    assert "| reader |" in (out / "report.md").read_text()
