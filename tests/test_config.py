import dataclasses
from pathlib import Path

import pytest

from amgan.config import ConfigError, load_config, save_config

CONFIGS = sorted(Path("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    if path.name.startswith("fir_"):
        from fir.config import load_fir_config

        cfg = load_fir_config(path)
    elif path.name.startswith("flam_"):
        from fir.config import load_flam_config

        cfg = load_flam_config(path)
    elif path.name.startswith("eval_"):
        from fir.evaluate import load_eval_config

        cfg = load_eval_config(path)
        assert cfg.max_k >= max(cfg.ks)
        return
    else:
        cfg = load_config(path)
    assert cfg.data.size in (32, 64, 128)


def test_paper_config_is_paper_faithful():
    c = load_config("configs/amgan_paper128.yaml")
    assert (c.data.size, c.train.n_critic, c.train.batch_size) == (128, 5, 16)
    assert (c.loss.lambda_cls, c.loss.lambda_cyc, c.loss.lambda_att, c.loss.lambda_perc, c.loss.lambda_gp) == (1, 10, 10, 20, 10)
    assert (c.train.lr_g, c.train.lr_d, c.train.beta1, c.train.beta2, c.train.decay_start) == (1e-4, 1e-4, 0.5, 0.999, 0.5)
    assert c.loss.use_dc and c.model.d_layers == 6


def test_ablation_differs_from_default_only_in_the_three_parts():
    a, d = load_config("configs/ablation_stargan64.yaml"), load_config("configs/synth64.yaml")
    assert (a.loss.lambda_att, a.loss.lambda_perc, a.loss.use_dc) == (0, 0, False)
    assert dataclasses.replace(a.loss, lambda_att=d.loss.lambda_att, lambda_perc=d.loss.lambda_perc, use_dc=True) == d.loss
    assert a.model == d.model and dataclasses.replace(a.train, out=d.train.out) == d.train


def test_cpu_default_comments_its_deviations():
    text = Path("configs/synth64.yaml").read_text()
    for key in ("size: 64", "n_critic: 1", "g_width: 32"):
        line = next(line for line in text.splitlines() if key in line)
        assert "DEVIATION" in line, line


def test_overrides_and_errors(tmp_path):
    c = load_config("configs/test_tiny.yaml", ["train.steps=7", "loss.use_dc=false", "data.views=[shop,street]"])
    assert c.train.steps == 7 and c.loss.use_dc is False and c.data.views == ("shop", "street")
    cases = [
        (["train.stepz=3"], "unknown config key(s) ['stepz'] in section 'train'"),
        (["train.steps=abc"], "train.steps: expected an integer"),
        (["loss.use_dc=maybe"], "loss.use_dc: expected true/false"),
        (["bogus.x=1"], "unknown config key(s) ['bogus']"),
        (["train.steps"], "must look like section.key=value"),
        (["classifier.backbone=resnet"], "classifier.backbone must be"),
    ]
    for sets, needle in cases:
        with pytest.raises(ConfigError) as e:
            load_config("configs/test_tiny.yaml", sets)
        assert needle in str(e.value), str(e.value)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.yaml")
    save_config(c, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == c
