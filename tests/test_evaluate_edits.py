"""amgan evaluate-edits: the probes per view and group with counts, photo targets, judges, bad inputs."""
from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from amgan.errors import UserError
from amgan.evaluate_edits import Judge, colour_targets, evaluate_photo_edits, evaluate_synth, load_judge

COLOURS = ("black", "white", "gray", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown")


def test_colour_targets_are_seeded_distinct_and_never_the_source():
    a = colour_targets("images/x.jpg", "red", COLOURS, 2, seed=0)
    assert a == colour_targets("images/x.jpg", "red", COLOURS, 2, seed=0)  # deterministic
    assert len(set(a)) == 2 and "red" not in a and set(a) <= set(COLOURS)
    many = {tuple(colour_targets(f"images/{k}.jpg", "blue", COLOURS, 2, seed=0)) for k in range(40)}
    assert len(many) > 10 and not any("blue" in t for t in many)  # spread over the colours
    assert any(colour_targets(f"images/{k}.jpg", "red", COLOURS, 2, seed=1)
               != colour_targets(f"images/{k}.jpg", "red", COLOURS, 2, seed=0) for k in range(5))
    assert sorted(colour_targets("p", "red", COLOURS, 11)) == sorted(c for c in COLOURS if c != "red")
    with pytest.raises(ValueError):
        colour_targets("p", "red", COLOURS, 12)


@pytest.fixture(scope="module")
def editor(tiny_editor_path):
    from amgan.editor import Editor

    return Editor.from_checkpoint(tiny_editor_path, device="cpu")


def _edits(root):
    with open(root / "edits.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_synth_counts_and_a_random_judge_against_a_direct_count(editor, synth_tiny):
    from amgan.nets.classifier import AttributeClassifier

    torch.manual_seed(0)
    net = AttributeClassifier(list(editor.schema.sizes), backbone="small", width=8, pretrained=False).eval()
    judge = Judge("random", net, editor.processor, editor.schema.names)
    res, samples = evaluate_synth(editor, synth_tiny, [judge], progress=False, batch_size=7)
    rows = _edits(synth_tiny)
    assert sorted(res["views"]) == sorted({r["view"] for r in rows})
    for view, groups in res["views"].items():
        for g, cell in groups.items():
            grows = [r for r in rows if r["view"] == view and r["group"] == g]
            assert cell["n"] == len(grows) > 0
            assert cell["ssim"]["n"] == cell["l1"]["n"] == len(grows)
            assert ("colour_hit" in cell) == (g == "color")
            assert cell["shape_hit"]["n"] + cell["shape_hit"].get("not_measured", 0) == len(grows)
            # the judge's reading of the truth, counted directly
            from amgan.data.memory import load_image

            t = np.stack([load_image(synth_tiny / r["target"], editor.processor) for r in grows])
            read = judge.read_tensor(torch.from_numpy(t).permute(0, 3, 1, 2).float().div(255))
            gi = editor.schema.group_index(g)
            want = [editor.schema.group(g).index(r["value"]) for r in grows]
            assert cell["judges"]["random"]["truth"]["acc"] == round(float((read[:, gi] == want).mean()), 4)
    assert set(samples) == set(res["views"])


def test_an_editor_that_changes_nothing_scores_as_the_source(editor, synth_tiny, monkeypatch):
    """Identity edits: never a hit, L1/SSIM equal to the source's, nothing changes outside."""
    monkeypatch.setattr(editor, "edit_batch", lambda x, req, **kw: SimpleNamespace(y=x))
    res, _ = evaluate_synth(editor, synth_tiny, [], progress=False, limit=5)
    for groups in res["views"].values():
        for g, cell in groups.items():
            assert cell["n"] <= 5
            if g == "color":
                assert cell["colour_hit"]["acc"] == 0.0
            assert cell["shape_hit"]["acc"] in (0.0, None) and cell["kept_shape_hit"]["acc"] in (0.0, None)
            assert cell["kept_change"]["mean"] in (0.0, None)  # (None: colour edits keep no garment)
            assert cell["l1"]["mean"] == pytest.approx(cell["l1_source"]["mean"], abs=1e-4)
            assert cell["ssim"]["mean"] == pytest.approx(cell["ssim_source"]["mean"], abs=1e-4)
            assert cell["outside_change"]["mean"] == 0.0


def test_synth_through_the_photo_path_calls_editor_edit_per_render(editor, synth_tiny, monkeypatch):
    """``path="photo"``: every render goes through Editor.edit (what the demo returns), one call per edit,
    with the requested value by name; the real path runs and gives the same counts."""
    res, _ = evaluate_synth(editor, synth_tiny, [], progress=False, limit=3, path="photo")
    assert res["path"] == "photo"
    for groups in res["views"].values():
        for cell in groups.values():
            assert cell["n"] == cell["ssim"]["n"] <= 3 and cell["outside_change"]["mean"] is not None
    calls = []

    def same(image, request, **kw):
        calls.append(dict(request))
        return SimpleNamespace(image=image)

    monkeypatch.setattr(editor, "edit", same)
    res, _ = evaluate_synth(editor, synth_tiny, [], progress=False, limit=3, path="photo")
    n = sum(c["n"] for g in res["views"].values() for c in g.values())
    assert len(calls) == n > 0 and all(len(c) == 1 and isinstance(next(iter(c.values())), str) for c in calls)
    for groups in res["views"].values():
        for cell in groups.values():
            assert cell["outside_change"]["mean"] == 0.0
            assert cell["l1"]["mean"] == pytest.approx(cell["l1_source"]["mean"], abs=1e-4)
    with pytest.raises(UserError, match="unknown edit path 'pixels'"):
        evaluate_synth(editor, synth_tiny, [], progress=False, limit=1, path="pixels")


def test_photo_edits_on_renders_as_photos(editor, synth_tiny, monkeypatch):
    """SynthFashion's test split stands in for photos (masks = its region maps): the edit counts follow
    the labels, and an editor that changes nothing keeps all the detail and the background."""
    from amgan.data.manifest import read_manifest

    m = read_manifest(synth_tiny / "manifest.csv")
    test = [i for i in m.indices("test", None) if m.masks[i]][:4]
    res, samples = evaluate_photo_edits(editor, synth_tiny, None, limit=4, progress=False, n_samples=3)
    assert res["photos"] == len(test)
    c, s = res["colour_edits"], res["sleeve_edits"]
    assert c["detail_kept"]["n"] == 2 * len(test)  # every render has a colour: two targets each
    assert s["detail_kept"]["n"] == 2 * len(test)  # three sleeve lengths: the two others
    assert c["reader_colour_ok"]["n"] == 0 and res["reader"] is None
    by = res["sleeve_edits_by_target"]  # per requested length: how many, and how many the outline made
    assert sum(v["outline_rate"]["n"] for v in by.values()) == s["detail_kept"]["n"]
    assert s["outline_rate"]["n"] == s["detail_kept"]["n"]
    assert 0 < len(samples) <= 3 and all(sm["target"] != sm["source"] for sm in samples)

    def same(image, request, **kw):
        return SimpleNamespace(image=image, mask=Image.new("L", image.size, 0), method="generator")

    monkeypatch.setattr(editor, "edit", same)
    res, _ = evaluate_photo_edits(editor, synth_tiny, None, limit=4, progress=False)
    c = res["colour_edits"]
    assert c["detail_kept"]["mean"] == 1.0 and c["border_change"]["mean"] == 0.0
    assert c["detail_kept_interior"]["mean"] == 1.0  # (tiny renders: some garments have no 6-px interior)
    assert 0 < c["detail_kept_interior"]["n"] <= c["detail_kept"]["n"]
    assert c["outside_change"]["mean"] == 0.0 and c["anchor_hit"]["acc"] in (0.0, None)
    assert c["name_hit"]["acc"] in (0.0, None)
    s = res["sleeve_edits"]  # a sleeve edit that changes nothing keeps the garment's colours and their name
    assert s["colour_name_kept_rate"]["acc"] == 1.0 and s["colour_name_kept_rate"]["n"] == s["detail_kept"]["n"]
    assert s["colour_change_interior"]["mean"] in (0.0, None)
    assert s["outline_rate"]["acc"] == 0.0 and s["unchanged_rate"]["acc"] == 0.0

    def refused(image, request, **kw):  # the outline could not: the photo as it was
        return SimpleNamespace(image=image, mask=Image.new("L", image.size, 0), method="none")

    monkeypatch.setattr(editor, "edit", refused)
    res, _ = evaluate_photo_edits(editor, synth_tiny, None, limit=4, progress=False, groups=("sleeve",))
    s = res["sleeve_edits"]
    assert s["unchanged_rate"]["acc"] == 1.0 and s["unchanged_rate"]["n"] == s["detail_kept"]["n"] > 0
    from amgan.edit_report import photos_markdown

    line = next(x for x in photos_markdown(res) if x.startswith("| left as they were (the outline could not"))
    assert "1.000" in line


def test_photo_split_and_groups(editor, synth_tiny):
    """``split="val"`` edits the val photos only; ``groups=("color",)`` makes no sleeve edit; bad values refused."""
    from amgan.data.manifest import read_manifest

    m = read_manifest(synth_tiny / "manifest.csv")
    val = [i for i in m.indices("val", None) if m.masks[i]][:3]
    res, _ = evaluate_photo_edits(editor, synth_tiny, None, limit=3, progress=False, split="val", groups=("color",))
    assert res["split"] == "val" and res["photos"] == len(val) > 0
    assert res["colour_edits"]["detail_kept"]["n"] == 2 * len(val) and res["sleeve_edits"]["detail_kept"]["n"] == 0
    with pytest.raises(UserError, match="photo split 'train'"):
        evaluate_photo_edits(editor, synth_tiny, None, limit=1, progress=False, split="train")
    with pytest.raises(UserError, match="photo edit groups"):
        evaluate_photo_edits(editor, synth_tiny, None, limit=1, progress=False, groups=("neckline",))


def test_judges_that_guided_the_editor_are_refused(editor, tiny_editor_path, tiny_setup, tmp_path):
    root, _ = tiny_setup
    with pytest.raises(UserError, match="played no part"):
        load_judge(tiny_editor_path, editor, "--reader")  # the editor's own CAM classifier
    with pytest.raises(UserError, match="not found"):
        load_judge(tmp_path / "nope", editor, "--reader")


def test_command_writes_the_report_and_refuses_bad_inputs(tiny_editor_path, synth_tiny, tmp_path, capsys):
    from amgan.cli import main

    out = tmp_path / "rep"
    base = ["evaluate-edits", "--editor", str(tiny_editor_path), "--evaluator", "none", "--reader", "none",
            "--no-progress"]
    assert main(base + ["--data", str(synth_tiny), "--photos", str(synth_tiny), "--out", str(out), "--limit", "3"]) == 0
    res = json.loads((out / "metrics.json").read_text())
    assert res["limit"] == 3 and res["synth"]["views"] and res["photos"]["photos"] == 3
    # two colour edits per photo: the interval resamples the 3 photos, not the edits
    c = res["photos"]["colour_edits"]
    assert res["photos"]["bootstrap_unit"] == "photo"
    assert c["majority_hit"]["n"] > 3 and c["majority_hit"]["clusters"] == 3 == c["detail_kept"]["clusters"]
    assert "## SynthFashion" in (out / "report.md").read_text()
    assert "shape hit, rest of the garment kept" in (out / "report.md").read_text()
    with Image.open(out / "samples.jpg") as im:
        assert im.format == "JPEG" and im.width >= 3 * 32
    assert (out / "synth_samples.png").is_file()
    capsys.readouterr()
    afile = tmp_path / "file"
    afile.write_text("x")
    for extra in (["--data", str(synth_tiny), "--out", str(out), "--limit", "0"],
                  ["--out", str(out)],
                  ["--data", str(tmp_path / "missing"), "--out", str(out)],
                  ["--data", str(synth_tiny), "--out", str(afile)],
                  ["--photos", str(synth_tiny), "--out", str(out), "--colour-spread", "2"],
                  ["--photos", str(synth_tiny), "--out", str(out), "--photo-groups", "neckline"]):
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("amgan: error: ") and "\n" not in err
    assert main(["evaluate-edits", "--editor", str(tmp_path / "none"), "--data", str(synth_tiny), "--out", str(out)]) == 2
    assert main(["evaluate-edits", "--editor", str(tiny_editor_path), "--evaluator", "none", "--reader", str(tmp_path / "r"),
                 "--data", str(synth_tiny), "--out", str(out)]) == 2
    photos_without_manifest = tmp_path / "empty"
    photos_without_manifest.mkdir()
    assert main(base + ["--photos", str(photos_without_manifest), "--out", str(out)]) == 2
