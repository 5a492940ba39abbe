"""The int8 generator (amgan.nets.int8, amgan quantize): calibrated, checked, loaded by default on the
CPU, refused or ignored with a message when it does not fit."""
import json
import logging

import pytest
import torch

from amgan.cli import main as cli
from amgan.editor import Editor
from amgan.checkpoint import CheckpointError
from amgan.errors import UserError
from amgan.nets.int8 import INT8_FILE, Int8Generator


@pytest.fixture(scope="module")
def folder_int8(tiny_editor_path, synth_tiny, tmp_path_factory):
    """The tiny editor as a model folder, with an int8.pt made by `amgan quantize` on synth_tiny."""
    from amgan.pretrained import convert

    out = convert(tiny_editor_path, tmp_path_factory.mktemp("int8") / "editor")
    rc = cli(["quantize", "--editor", str(out), "--photos", str(synth_tiny), "--n", "8", "--check", "4",
              "--tolerance", "0.2", "--quiet"])
    assert rc == 0
    return out


def test_quantize_writes_int8_and_the_editor_uses_it_on_the_cpu(folder_int8):
    assert (folder_int8 / INT8_FILE).is_file()
    ck = torch.load(folder_int8 / INT8_FILE, weights_only=True)
    assert set(ck["info"]["mean_abs_diff"]) == {"color", "pattern", "sleeve", "neckline"}
    ed8 = Editor.from_checkpoint(folder_int8, device="cpu")
    ed32 = Editor.from_checkpoint(folder_int8, device="cpu", int8=False)
    assert isinstance(ed8.G, Int8Generator) and ed8.G.converted
    assert not isinstance(ed32.G, Int8Generator)
    x = torch.rand(3, 3, ed8.size, ed8.size)
    labels = ed32.read_labels(x)
    y32 = ed32.edit_batch(x, {"color": "red"}, source=labels, cam=False).y
    y8 = ed8.edit_batch(x, {"color": "red"}, source=labels, cam=False).y
    assert y8.shape == y32.shape and torch.isfinite(y8).all()
    diff = float((y8 - y32).abs().mean())
    assert 0 < diff < 0.2  # int8 is close to float, and it is not the float generator run twice


def test_int8_is_required_only_when_asked(tiny_editor_path, folder_int8):
    with pytest.raises(CheckpointError, match="no int8 generator"):
        Editor.from_checkpoint(tiny_editor_path, device="cpu", int8=True)  # a legacy file has no int8.pt
    assert not isinstance(Editor.from_checkpoint(tiny_editor_path, device="cpu").G, Int8Generator)
    assert isinstance(Editor.from_checkpoint(folder_int8, device="cpu", int8=True).G, Int8Generator)


def test_an_int8_file_that_does_not_fit_falls_back_to_float(folder_int8, tmp_path, caplog):
    import shutil

    bad = tmp_path / "editor"
    shutil.copytree(folder_int8, bad)
    ck = torch.load(bad / INT8_FILE, weights_only=True)
    ck["observers"].pop(next(iter(ck["observers"])))
    torch.save(ck, bad / INT8_FILE)
    with caplog.at_level(logging.WARNING):
        ed = Editor.from_checkpoint(bad, device="cpu")
    assert not isinstance(ed.G, Int8Generator)
    assert "does not fit this generator" in caplog.text
    with pytest.raises(CheckpointError, match="cannot be used"):
        Editor.from_checkpoint(bad, device="cpu", int8=True)


def test_quantize_refuses_above_the_tolerance_and_writes_nothing(tiny_editor_path, synth_tiny, tmp_path):
    from amgan.export import quantize_editor
    from amgan.pretrained import convert

    out = convert(tiny_editor_path, tmp_path / "editor")
    with pytest.raises(UserError, match="nothing written"):
        quantize_editor(out, synth_tiny, n=4, n_check=2, tolerance=0.0, progress=False)
    assert not (out / INT8_FILE).exists()
    with pytest.raises(UserError, match="fewer than"):
        quantize_editor(out, synth_tiny, n=10_000, progress=False)
    with pytest.raises(UserError, match="manifest.csv not found"):
        quantize_editor(out, tmp_path, progress=False)


def test_quantize_report_is_json(folder_int8, synth_tiny, capsys):
    rc = cli(["quantize", "--editor", str(folder_int8), "--photos", str(synth_tiny), "--n", "4", "--check", "2",
              "--tolerance", "0.2", "--quiet", "--seed", "1"])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["calibration_photos"] == 4 and rep["written"].endswith(INT8_FILE)


def test_the_int8_pass_of_one_image_is_traced_and_gives_the_fx_graphs_numbers(folder_int8):
    """The editor's int8 generator is traced at load for one image of the model's size: such inputs take the
    traced pass (the same numbers as the FX graph, bit for bit), a batch of several takes the FX graph."""
    ed = Editor.from_checkpoint(folder_int8, device="cpu")
    G = ed.G
    assert G._traced is not None and G._traced[0][0] == (1, 3, ed.size, ed.size)
    x = torch.rand(2, 3, ed.size, ed.size, generator=torch.Generator().manual_seed(1))
    labels = ed.read_labels(x)
    calls, traced = [], G._traced[1]
    G._traced = (G._traced[0], lambda *a: calls.append(1) or traced(*a))
    one = ed.edit_batch(x[:1], {"color": "red"}, source=labels[:1], cam=False).y
    two = ed.edit_batch(x, {"color": "red"}, source=labels, cam=False).y  # batch 2: the FX graph
    assert calls == [1]
    assert torch.equal(one[0], two[0])
    untraced = Int8Generator(G.G, G.body, converted=True)
    with pytest.raises(RuntimeError, match="converted"):
        Int8Generator(G.G, G.body, converted=False).trace(ed.size)
    assert untraced.trace(ed.size) and untraced._traced is not None
