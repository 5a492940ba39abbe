"""FIR training on the shared skeleton: exact resume, refusals, TensorBoard events."""
import json

import pytest
import torch


def _cfg(fir_data, out, *sets):
    from fir.config import load_fir_config

    return load_fir_config("configs/fir_test_tiny.yaml", [f"data.root={fir_data}", f"train.out={out}", *sets])


def test_fir_resume_is_exact(fir_data, tmp_path):
    from fir.train import train_embedder

    straight = tmp_path / "straight"
    train_embedder(_cfg(fir_data, straight, "train.steps=2"), straight, progress=False)
    run = tmp_path / "run"
    train_embedder(_cfg(fir_data, run, "train.steps=1"), run, progress=False)
    with pytest.raises(ValueError, match=r"train.steps: 1 -> 2"):
        train_embedder(_cfg(fir_data, run, "train.steps=2"), run, progress=False, resume=True)
    train_embedder(_cfg(fir_data, run, "train.steps=2"), run, progress=False, resume=True, allow_config_change=True)
    a = torch.load(straight / "embedder.pt", weights_only=True)
    b = torch.load(run / "embedder.pt", weights_only=True)
    assert a["step"] == b["step"] == 2
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    assert json.loads((run / "metrics.json").read_text())["trained"] == \
        json.loads((straight / "metrics.json").read_text())["trained"]
    steps = [json.loads(x)["step"] for x in (run / "stats.jsonl").read_text().splitlines()]
    assert steps == [1, 1, 2, 2]  # step 1, the first session's eval row, step 2, the eval row
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))


def test_fir_cli_refuses_an_existing_run_in_one_line(fir_run, capsys):
    from fir.cli import main

    capsys.readouterr()
    rc = main(["train", "--config", "configs/fir_test_tiny.yaml", "--no-progress", "--set", f"train.out={fir_run}"])
    err = capsys.readouterr().err
    assert rc == 2 and "exists: pass --resume" in err and len(err.strip().splitlines()) == 1, err


def test_fir_steps_zero_is_refused_before_data_loads(tmp_path):
    from amgan.config import ConfigError
    from fir.train import main

    with pytest.raises(ConfigError, match="train.steps must be >= 1, got 0"):
        main(["--config", "configs/fir_test_tiny.yaml", "--no-progress", "--set", f"data.root={tmp_path / 'none'}",
              "--set", f"train.out={tmp_path / 'o'}", "--set", "train.steps=0"])
    assert not (tmp_path / "none").exists() and not (tmp_path / "o").exists()
