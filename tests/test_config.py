import dataclasses
from pathlib import Path

import pytest

from amgan.config import ConfigError, load_config, save_config

CONFIGS = sorted(Path("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    if path.name.startswith("photo_fir"):
        from fir.train_photo import load_photo_config

        cfg = load_photo_config(path)
        assert cfg.model.dim >= 2 and cfg.train.attribute_groups
        return
    if path.name.startswith("fir_"):
        from fir.config import load_fir_config

        cfg = load_fir_config(path)
    elif path.name.startswith("flam_"):
        from fir.config import load_flam_config

        cfg = load_flam_config(path)
    elif path.name.startswith("reader"):
        from amgan.train_reader import load_reader_config

        cfg = load_reader_config(path)
    elif path.name.startswith("distill"):
        from amgan.distill import load_distill_config

        cfg = load_distill_config(path)
        assert cfg.student.width >= 1 and cfg.distill.steps >= 1
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


# ---------------------------------------------------------------- the one loader: lists, literals, sections, errors
def test_lists_literals_and_sections_from_yaml_and_set(tmp_path):
    from fir.config import load_flam_config

    y = tmp_path / "flam.yaml"
    y.write_text("model:\n  strength_grid: [2, 4.5]\n  calibrate_split: test\neval:\n  ks: [1, 5]\n")
    c = load_flam_config(y)
    assert c.model.strength_grid == (2.0, 4.5) and c.model.calibrate_split == "test" and c.eval.ks == (1, 5)
    assert all(isinstance(a, float) for a in c.model.strength_grid)
    c = load_flam_config(y, ["model.strength_grid=[1,2,3]", "data.views=street"])
    assert c.model.strength_grid == (1.0, 2.0, 3.0) and c.data.views == ("street",)
    assert load_flam_config(y, ["model.strength_grid=5"]).model.strength_grid == (5.0,)  # one value fixes it
    # nested sections: the data section carries the shared SynthFashion defaults
    assert (c.data.root, c.data.synth_products, c.data.synth_seed, c.data.synth_street_views, c.data.size) == \
        ("data/synth64", 3000, 0, 2, 64)
    # the resolved config round-trips through YAML
    save_config(c, tmp_path / "out.yaml")
    assert load_flam_config(tmp_path / "out.yaml") == c


@pytest.mark.parametrize("sets, needle", [
    (["model.strength_grid=[1,x]"], "(--set model.strength_grid=[1,x]): model.strength_grid[1]: expected a number"),
    (["model.strength_grid=[]"], "model.strength_grid must be a non-empty list"),
    (["model.strength_grid={a: 1}"], "model.strength_grid: expected a list of numbers"),
    (["model.calibrate_split=dev"], "model.calibrate_split must be one of 'train', 'val', 'test'; got 'dev'"),
    (["eval.split=true"], "eval.split must be one of 'train', 'val', 'test'; got True"),
    (["model=3"], "section 'model' must be a mapping"),
    (["train.nope=1"], "(train.nope)"),
    (["train.steps=0"], "train.steps must be >= 1, got 0"),
    (["train.log_every=0"], "train.log_every must be >= 1"),
    (["train.save_every=-1"], "train.save_every must be >= 1"),
    (["train.lr_embed=0"], "train.lr_embed must be > 0"),
    (["train.embed_batch_size=0"], "train.embed_batch_size must be >= 1"),
    (["eval.batch_size=0"], "eval.batch_size must be >= 1"),
])
def test_flam_config_errors_name_the_file_and_key(sets, needle):
    from fir.config import load_flam_config

    with pytest.raises(ConfigError) as e:
        load_flam_config("configs/flam_test_tiny.yaml", sets)
    msg = str(e.value)
    assert msg.startswith("configs/flam_test_tiny.yaml (--set ") and needle in msg and "\n" not in msg, msg


@pytest.mark.parametrize("sets, key", [
    (["train.steps=0"], "train.steps"), (["train.steps=-1"], "train.steps"),
    (["train.save_every=0"], "train.save_every"), (["train.log_every=0"], "train.log_every"),
    (["train.sample_every=0"], "train.sample_every"), (["train.lr_g=0"], "train.lr_g"),
    (["train.lr_d=-1e-4"], "train.lr_d"), (["classifier.lr=0"], "classifier.lr"),
    (["classifier.batch_size=0"], "classifier.batch_size"), (["train.batch_size=1"], "train.batch_size"),
    (["data.size=48"], "data.size"), (["data.synth_products=0"], "data.synth_products"),
])
def test_amgan_values_are_validated_naming_the_key(sets, key):
    with pytest.raises(ConfigError) as e:
        load_config("configs/test_tiny.yaml", sets)
    assert f": {key} must be" in str(e.value) and e.value.key == key, str(e.value)


def test_fir_config_literal_and_ranges():
    from fir.config import load_fir_config

    with pytest.raises(ConfigError, match=r"model.pooling must be one of 'gem', 'avg'; got 'max'"):
        load_fir_config("configs/fir_test_tiny.yaml", ["model.pooling=max"])
    with pytest.raises(ConfigError, match=r"train.steps must be >= 1, got 0"):
        load_fir_config("configs/fir_test_tiny.yaml", ["train.steps=0"])
    with pytest.raises(ConfigError, match=r"train.lr must be > 0"):
        load_fir_config("configs/fir_test_tiny.yaml", ["train.lr=0"])


def test_bad_files_are_one_line_errors_naming_the_file(tmp_path):
    cases = {
        "list.yaml": ("- a\n- b\n", "the top level must be a mapping"),
        "broken.yaml": ("train: {steps: [\n", "not valid YAML"),
        "wrongtype.yaml": ("train:\n  steps: lots\n", "train.steps: expected an integer, got 'lots'"),
        "unknown.yaml": ("train:\n  stepz: 3\n", "unknown config key(s) ['stepz'] in section 'train' (train.stepz)"),
        "section.yaml": ("train: 3\n", "section 'train' must be a mapping"),
    }
    for name, (text, needle) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(ConfigError) as e:
            load_config(p)
        msg = str(e.value)
        assert msg.startswith(f"{p}: ") and needle in msg and "\n" not in msg, msg
    with pytest.raises(ConfigError, match="is a folder, not a YAML config file"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_config(tmp_path / "empty.yaml") == load_config()  # an empty file: the defaults


def test_literal_and_list_coercion_of_the_public_builder():
    from typing import Literal

    from amgan.config import build_config

    @dataclasses.dataclass(frozen=True)
    class Inner:
        mode: Literal["a", "b"] = "a"
        level: Literal[1, 2] = 1
        xs: list[int] = dataclasses.field(default_factory=list)
        name: str | None = None

    @dataclasses.dataclass(frozen=True)
    class Outer:
        inner: Inner = dataclasses.field(default_factory=Inner)
        flag: bool = False

    o = build_config(Outer, {"inner": {"mode": "b", "level": 2, "xs": [3, 4], "name": None}, "flag": True})
    assert o == Outer(Inner("b", 2, [3, 4], None), True)
    with pytest.raises(ConfigError, match=r"inner.level must be one of 1, 2; got True"):
        build_config(Outer, {"inner": {"level": True}})  # a bool is not the int 1
    with pytest.raises(ConfigError, match=r"inner.xs\[1\]: expected an integer, got 2.5"):
        build_config(Outer, {"inner": {"xs": [1, 2.5]}})
    with pytest.raises(ConfigError, match="flag: expected true/false"):
        build_config(Outer, {"flag": "yes please"})


def test_one_home_for_the_synthfashion_defaults():
    from amgan.config import DataConfig, DatasetConfig
    from fir.config import FirDataConfig, FlamDataConfig

    base = dataclasses.asdict(DatasetConfig())
    assert base == {"root": "data/synth64", "size": 64, "synth_products": 3000, "synth_seed": 0,
                    "synth_street_views": 2}
    for cls in (DataConfig, FirDataConfig, FlamDataConfig):
        assert issubclass(cls, DatasetConfig)
        d = dataclasses.asdict(cls())
        assert {k: d[k] for k in base} == base, cls


def test_fir_does_not_import_private_amgan_helpers():
    import re

    for path in ("fir/config.py", "fir/train.py", *sorted(str(p) for p in Path("fir/flam").glob("*.py"))):
        text = Path(path).read_text()
        assert not re.search(r"from amgan\.\S+ import [^\n]*\b_[a-z]", text), path
