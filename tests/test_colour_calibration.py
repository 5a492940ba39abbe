"""amgan calibrate-colours: offsets measured on photos of a split, written into the model folder, used by edits."""
import json

import numpy as np
import pytest

from amgan.cli import main as cli
from amgan.colour_calibration import fit_colour_calibration
from amgan.editor import Editor
from amgan.errors import UserError


@pytest.fixture(scope="module")
def folder(tiny_editor_path, tmp_path_factory):
    from amgan.pretrained import convert

    return convert(tiny_editor_path, tmp_path_factory.mktemp("cal") / "model")


def test_fit_measures_reference_and_edit_medians_and_skips_thin_names(folder, synth_tiny):
    """SynthFashion's region maps stand in for garment masks: each name with enough labelled photos and
    edits gets reference - edit; the others are listed as skipped with the reason."""
    ed = Editor.from_checkpoint(folder, device="cpu")
    ed.colour_calibration = {"red": [5.0, 0.0, 0.0]}
    res = fit_colour_calibration(ed, synth_tiny, n_photos=12, targets=3, min_refs=2, min_edits=2, progress=False)
    assert ed.colour_calibration == {"red": [5.0, 0.0, 0.0]}  # put back after the measurement
    per = res["per_colour"]
    assert set(per) == set(ed.schema.group("color").values)
    assert res["colour_calibration"], per
    for name, shift in res["colour_calibration"].items():
        row = per[name]
        assert row["n_reference"] >= 2 and row["n_edits"] >= 2
        assert np.allclose(shift, np.subtract(row["reference"], row["edit"]), atol=0.02)
    assert all("skipped" in r for n, r in per.items() if n not in res["colour_calibration"])
    assert sum(r["n_edits"] for r in per.values()) <= 12 * 3
    half = fit_colour_calibration(ed, synth_tiny, n_photos=12, targets=3, min_refs=2, min_edits=2, strength=0.5,
                                  progress=False)["colour_calibration"]
    assert half.keys() >= res["colour_calibration"].keys()  # halved, some offsets beyond 50 come within it
    for n, v in res["colour_calibration"].items():
        assert np.allclose(half[n], 0.5 * np.asarray(v), atol=0.02)
    assert any("beyond" in r.get("skipped", "") for r in per.values())  # the untrained editor misses some names


def test_the_cli_writes_the_offsets_and_the_editor_uses_them(folder, synth_tiny, tmp_path, capsys):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(folder, model)
    args = ["calibrate-colours", "--editor", str(model), "--photos", str(synth_tiny), "--n", "12", "--targets", "3",
            "--min-refs", "2", "--min-edits", "2", "--quiet", "--device", "cpu"]
    assert cli(args + ["--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert dry["written"] is None and "colour_calibration" not in json.loads((model / "config.json").read_text())["model"].get("editor", {})
    assert cli(args) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["written"].endswith("config.json") and rep["colour_calibration"] == dry["colour_calibration"]
    assert Editor.from_checkpoint(model, device="cpu").colour_calibration == rep["colour_calibration"]
    assert "editor.colour_calibration" in (model / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("kw, needle", [({"split": "test"}, "never the test split"), ({"strength": 0.0}, "strength"),
                                        ({"n_photos": 0}, "at least 1")])
def test_bad_settings_are_refused(folder, synth_tiny, kw, needle):
    ed = Editor.from_checkpoint(folder, device="cpu")
    with pytest.raises(UserError, match=needle):
        fit_colour_calibration(ed, synth_tiny, progress=False, **kw)


def test_the_cli_needs_a_model_folder_and_photos(tiny_editor_path, folder, tmp_path, capsys):
    assert cli(["calibrate-colours", "--editor", str(tiny_editor_path), "--photos", str(tmp_path)]) == 2
    assert "model folder" in capsys.readouterr().err
    assert cli(["calibrate-colours", "--editor", str(folder), "--photos", str(tmp_path), "--device", "cpu"]) == 2
    assert "manifest.csv not found" in capsys.readouterr().err
