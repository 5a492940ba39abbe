"""fir evaluate-photos: reading accuracy per group with counts and intervals, colour vs hand-checked labels."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch


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
        sleeve = m.schema.group("sleeve").values[m.labels[i][m.schema.group_index("sleeve")]]
        rows.append({"image": Path(m.paths[i]).stem, "color": "unknown" if j == 0 else true,
                     "color_alt": "red" if j == 1 else "", "sleeve": "unknown" if j == 2 else sleeve})
    checked = tmp_path / "checked.csv"
    with open(checked, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["image", "color", "color_alt", "sleeve"])
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
    sv = r["sleeve_vs_hand_checked"]  # the sleeve the person saw: here the true one, one photo left out
    si = m.schema.group_index("sleeve")
    want = [pred[j, si] == m.labels[i][si] for j, i in enumerate(test[: len(test) // 2]) if j != 2]
    assert sv["n"] == len(rows) - 1 and sv["acc"] == round(float(np.mean(want)), 4)
    assert "| reader |" in (out / "report.md").read_text() and "Sleeve against the same file" in \
        (out / "report.md").read_text()
    assert res["single_valued_groups"] == {}  # SynthFashion's test split has every group's values
    # a split whose known labels of a group are all one value (real photos' neckline: only collar classes say it)
    from fir.evaluate_photos import report_markdown

    one = dict(res, single_valued_groups={"neckline": "collar"})
    text = report_markdown(one)
    assert "neckline *(one value)*" in text and "Not measured here: **neckline**" in text


def test_photo_retrieval_part_matches_a_direct_count(photo_tiny, tiny_editor_path, tiny_embedder_path, tiny_flam_path,
                                                     tmp_path):
    """Plain retrieval among photos recomputed by a naive loop; FLAM and AMGAN edits counted."""
    from amgan.data.manifest import read_manifest
    from fir.cli import main
    from fir.model import load_embedder

    out = tmp_path / "rep"
    assert main(["evaluate-photos", "--data", str(photo_tiny), "--out", str(out), "--editor", str(tiny_editor_path),
                 "--embedder", str(tiny_embedder_path), "--flam", str(tiny_flam_path), "--checked", "",
                 "--amgan-editor", str(tiny_editor_path), "--amgan-limit", "3", "--ks", "1", "3",
                 "--no-progress"]) == 0
    res = json.loads((out / "metrics.json").read_text())
    r = res["retrieval"]
    m = read_manifest(photo_tiny / "manifest.csv")
    q_rows = m.indices("test", None)
    g_rows = [i for i in range(len(m)) if m.splits[i] in ("test", "val")]
    assert (r["queries"], r["gallery"]) == (len(q_rows), len(g_rows))
    net, p = load_embedder(tiny_embedder_path)
    with torch.no_grad():
        emb = net(p.image_processor.batch([m.image_path(i) for i in g_rows])).numpy()
    groups = [m.schema.group_index(g) for g in ("category", "color", "sleeve")]
    hits1, hits3, valid = [], [], 0
    for qi in q_rows:
        me = g_rows.index(qi)
        want = m.labels[qi]
        asked = [g for g in groups if want[g] >= 0]

        def match(j):
            return all(m.labels[g_rows[j]][g] == want[g] for g in asked)
        if not any(match(j) for j in range(len(g_rows)) if j != me):
            continue
        valid += 1
        scores = emb @ emb[me]
        order = [j for j in sorted(range(len(g_rows)), key=lambda j: (-scores[j], j)) if j != me]
        hits1.append(match(order[0]))
        hits3.append(any(match(j) for j in order[:3]))
    (name, e), = r["by_embedder"].items()
    assert e["plain"]["valid"] == valid and e["plain"]["top1"]["n"] == valid
    assert e["plain"]["top1"]["acc"] == round(float(np.mean(hits1)), 4)
    assert e["plain"]["top3"]["acc"] == round(float(np.mean(hits3)), 4)
    n_req = r["edit_requests"]["requests"]
    assert n_req > 0 and e["flam_edited"]["all"]["valid"] == n_req == e["unedited_for_edit_targets"]["all"]["valid"]
    assert sum(c["valid"] for g, c in e["flam_edited"].items() if g != "all") == n_req
    assert e["amgan_edited"]["all"]["valid"] == min(3, n_req) and r["amgan_edits"] == min(3, n_req)
    text = (out / "report.md").read_text()
    assert "## Retrieval among real photos" in text and "FLAM-edited (all)" in text
    # FLAM's reading minus the editor's, photo by photo
    readers = list(res["readers"].values())
    assert "minus_first_reader" not in readers[0]
    d = readers[1]["minus_first_reader"]["test_split"]["category"]
    a0, a1 = readers[0]["test_split"]["category"]["acc"], readers[1]["test_split"]["category"]["acc"]
    assert d["n"] == len(q_rows) and abs(d["diff"] - (a1 - a0)) < 2e-4 and d["ci95"][0] <= d["diff"] <= d["ci95"][1]


def test_gallery_never_takes_training_photos(photo_tiny, tiny_editor_path, tiny_embedder_path, tmp_path, capsys):
    from fir.cli import main

    rc = main(["evaluate-photos", "--data", str(photo_tiny), "--out", str(tmp_path / "r"), "--editor",
               str(tiny_editor_path), "--embedder", str(tiny_embedder_path), "--checked", "",
               "--gallery-splits", "test,train", "--no-progress"])
    assert rc == 2 and "never a gallery" in capsys.readouterr().err
