"""amgan distill: a smaller generator taught by a trained editor, shipped as an editor folder."""
import json

import pytest
import torch

from amgan.cli import main as cli
from amgan.config import ConfigError
from amgan.distill import distill, held_out, load_distill_config, make_pairs
from amgan.editor import Editor
from amgan.nets.generator import Generator


def _sets(synth_tiny, photo_tiny, **extra):
    sets = {"data.root": synth_tiny, "data.size": 32, "data.views": "[shop, street]",
            "data.photo_roots": f"[{photo_tiny}]", "data.exclude": "", "student.width": 4, "student.n_res": 1,
            "distill.pairs": 96, "distill.val_pairs": 16, "distill.steps": 60, "distill.batch_size": 8,
            "distill.lr": 0.003, "distill.teacher_batch": 16, "distill.log_every": 20, "distill.threads": 1, **extra}
    return [f"{k}={v}" for k, v in sets.items()]


@pytest.fixture(scope="module")
def teacher(tiny_editor_path, tmp_path_factory):
    """The tiny editor as a model folder."""
    from amgan.pretrained import convert

    out = convert(tiny_editor_path, tmp_path_factory.mktemp("teacher") / "editor")
    return out


@pytest.fixture(scope="module")
def student(teacher, synth_tiny, photo_tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "editor_s"
    cfg = load_distill_config("configs/distill128.yaml", _sets(synth_tiny, photo_tiny))
    metrics = distill(teacher, cfg, out, progress=False)
    return out, metrics


def test_the_student_is_smaller_and_closer_to_the_teacher_than_before_training(student, teacher, synth_tiny,
                                                                            photo_tiny):
    out, metrics = student
    assert metrics["parameters"]["student"] < metrics["parameters"]["teacher"]
    assert metrics["pairs"] == {"train": 96, "val": 16} and metrics["steps"] == 60
    ed = Editor.from_checkpoint(out, int8=False)
    assert (ed.G.width if hasattr(ed.G, "width") else ed.G.body[0].out_channels) == 4
    # the same held-out pairs, judged for the trained student and for an untrained one of its shape
    from amgan.data.memory import load_memory

    t = Editor.from_checkpoint(teacher, int8=False)
    data = load_memory(synth_tiny, 32, ("val",), ("shop",), progress=False)
    pairs = make_pairs(t, data, torch.arange(len(data)), torch.Generator().manual_seed(5), 16, "", False)
    torch.manual_seed(0)
    fresh = Generator(t.G.cond_dim, t.G.n_groups, width=4, n_res=1, upsample="resize")
    trained, untrained = held_out(ed.G, pairs), held_out(fresh, pairs)
    assert trained["y"] < 0.7 * untrained["y"], (trained, untrained)
    assert trained["a"] < untrained["a"]
    assert metrics["val"]["y"] > 0 and metrics["val"]["teacher_change"] >= 0


def test_the_student_folder_is_the_teacher_folder_with_another_generator(student, teacher):
    out, _ = student
    cfg_t = json.loads((teacher / "config.json").read_text())
    cfg_s = json.loads((out / "config.json").read_text())
    assert cfg_s["model"]["classifier"] == cfg_t["model"]["classifier"]
    assert cfg_s["model"].get("editor") == cfg_t["model"].get("editor")
    assert cfg_s["model"]["generator"]["width"] == 4 and cfg_s["model"]["generator"]["n_res"] == 1
    assert cfg_s["info"]["distilled_from"]["path"] == str(teacher)
    ws, wt = torch.load(out / "weights.pt", weights_only=True), torch.load(teacher / "weights.pt", weights_only=True)
    assert all(torch.equal(ws["classifier"][k].float(), wt["classifier"][k].float()) for k in wt["classifier"])
    assert not (out / "int8.pt").exists()  # the teacher's int8 file would not fit the student
    assert (out.with_name(out.name + ".run") / "samples.png").is_file()
    assert "distilled from" in (out / "MODEL_CARD.md").read_text()


def test_the_student_edits_a_photo(student, photo_tiny):
    out, _ = student
    ed = Editor.from_checkpoint(out, int8=False)
    img = next((photo_tiny / "images").iterdir())
    res = ed.edit(str(img), "make it red")
    assert res.image.size == ed.processor.load(str(img)).size


def test_distill_config_errors_name_the_key(synth_tiny, photo_tiny, teacher, tmp_path):
    with pytest.raises(ConfigError, match="student.upsample"):
        load_distill_config("configs/distill128.yaml", ["student.upsample=nearest"])
    with pytest.raises(ConfigError, match="distill.steps"):
        load_distill_config("configs/distill128.yaml", ["distill.steps=0"])
    with pytest.raises(ConfigError, match="distill.lr"):
        load_distill_config("configs/distill128.yaml", ["distill.lr=0"])
    cfg = load_distill_config("configs/distill128.yaml", _sets(synth_tiny, photo_tiny, **{"data.size": 64}))
    with pytest.raises(ConfigError, match="data.size 64 is not the teacher's input size 32"):
        distill(teacher, cfg, tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists()
    # a teacher that is not an editor folder: one line, nothing written
    assert cli(["distill", "--teacher", str(tmp_path / "none"), "--config", "configs/distill128.yaml",
                "--out", str(tmp_path / "s2")]) == 2
    assert not (tmp_path / "s2").exists() and not (tmp_path / "s2.run").exists()


def test_cli_distill(synth_tiny, photo_tiny, teacher, tmp_path, capsys):
    sets = [a for s in _sets(synth_tiny, photo_tiny, **{"distill.steps": 3, "distill.pairs": 16,
                                                         "distill.val_pairs": 0}) for a in ("--set", s)]
    rc = cli(["distill", "--teacher", str(teacher), "--config", "configs/distill128.yaml", *sets,
              "--out", str(tmp_path / "s"), "--no-progress"])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 3
    assert (tmp_path / "s" / "config.json").is_file()


def test_a_student_continues_from_its_folder_and_refuses_another_shape(student, teacher, synth_tiny, photo_tiny,
                                                                      tmp_path):
    out, _ = student
    ed = Editor.from_checkpoint(out, int8=False)
    cfg = load_distill_config("configs/distill128.yaml", _sets(synth_tiny, photo_tiny, **{
        "distill.init_from": out, "distill.steps": 1, "distill.lr": 1e-9, "distill.pairs": 8, "distill.val_pairs": 0}))
    distill(teacher, cfg, tmp_path / "s2", progress=False)
    cont = Editor.from_checkpoint(tmp_path / "s2", int8=False)
    # one step at a vanishing learning rate: the continued student starts from the saved weights
    diff = max(float((a.float() - b.float()).abs().max()) for a, b in
               zip(ed.G.state_dict().values(), cont.G.state_dict().values()))
    assert diff < 2e-3
    assert json.loads((tmp_path / "s2" / "config.json").read_text())["info"]["continued_from"]["path"] == str(out)
    cfg = load_distill_config("configs/distill128.yaml", _sets(synth_tiny, photo_tiny, **{
        "distill.init_from": out, "student.width": 6}))
    with pytest.raises(ConfigError, match="distill.init_from: .* is not the student's"):
        distill(teacher, cfg, tmp_path / "s3", progress=False)
    assert not (tmp_path / "s3").exists() and not (tmp_path / "s3.run").exists()

