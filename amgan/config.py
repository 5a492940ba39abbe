"""Experiment configuration: one frozen dataclass per concern, loaded from YAML.

``load_config("configs/synth64.yaml", overrides=["train.steps=100"])`` reads the file,
applies ``--set key=value`` overrides (values parsed as YAML, then type-checked) and
returns a frozen :class:`Config`. Unknown keys, wrong types and bad values are errors
that name the key. The config never changes at run time; schedules are functions of
the step.
"""
from __future__ import annotations

from amgan.errors import UserError

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(UserError):
    """A config file or override is not valid."""


@dataclass(frozen=True)
class DataConfig:
    root: str = "data/synth64"  # data set folder (manifest.csv + schema.json)
    size: int = 64  # working resolution
    views: tuple[str, ...] = ("shop", "street")  # views used for training
    # SynthFashion made on demand when ``root`` has no manifest
    synth_products: int = 3000
    synth_seed: int = 0
    synth_street_views: int = 2
    workers: int = 0  # DataLoader workers (0: main process; images are cached in memory)


@dataclass(frozen=True)
class ClassifierConfig:
    backbone: str = "small"  # small | efficientnet_lite0
    width: int = 32
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    checkpoint: str = ""  # trained classifier used for CAM and L_p; made by `amgan train-classifier`


@dataclass(frozen=True)
class ModelConfig:
    g_width: int = 64
    g_res: int = 6
    d_width: int = 64
    d_layers: int = 6  # D_I conv layers; D_C has d_layers - 2 at half resolution


@dataclass(frozen=True)
class LossConfig:
    lambda_cls: float = 1.0
    lambda_cyc: float = 10.0
    lambda_att: float = 10.0  # 0 disables L_a (StarGAN-style ablation)
    lambda_perc: float = 20.0  # 0 disables L_p
    lambda_gp: float = 10.0
    use_dc: bool = True  # attribute-region discriminator D_C
    region_threshold: float = 0.5  # D_C crop: fraction of the mask's max


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 20000  # generator updates
    batch_size: int = 16
    n_critic: int = 5
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_start: float = 0.5  # linear lr decay to 0 from this fraction of steps
    ema_decay: float = 0.999
    seed: int = 0
    threads: int = 0  # torch intra-op threads (0: leave torch's default)
    amp: bool = True  # bf16/fp16 autocast on CUDA only
    log_every: int = 25
    sample_every: int = 250
    save_every: int = 500
    out: str = "runs/synth64"


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return _to_plain(dataclasses.asdict(self))

    def validate(self) -> "Config":
        checks = [
            (self.data.size in (32, 64, 128, 256), "data.size must be one of 32, 64, 128, 256"),
            (self.classifier.backbone in ("small", "efficientnet_lite0"),
             "classifier.backbone must be 'small' or 'efficientnet_lite0'"),
            (self.train.n_critic >= 1, "train.n_critic must be >= 1"),
            (self.train.batch_size >= 2, "train.batch_size must be >= 2"),
            (0.0 <= self.train.decay_start <= 1.0, "train.decay_start must be in [0, 1]"),
            (0.0 <= self.train.ema_decay < 1.0, "train.ema_decay must be in [0, 1)"),
            (0.0 < self.loss.region_threshold < 1.0, "loss.region_threshold must be in (0, 1)"),
            (self.model.d_layers >= 3, "model.d_layers must be >= 3 (D_C uses d_layers - 2)"),
            (all(v in ("shop", "street") or v for v in self.data.views), "data.views must be view names"),
        ]
        for k in ("lambda_cls", "lambda_cyc", "lambda_att", "lambda_perc", "lambda_gp"):
            checks.append((getattr(self.loss, k) >= 0, f"loss.{k} must be >= 0"))
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        return self


def _to_plain(x):
    if isinstance(x, dict):
        return {k: _to_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_plain(v) for v in x]
    return x


def _coerce(value, tp, key: str):
    origin = typing.get_origin(tp)
    if origin is tuple:
        (inner, _ellipsis) = typing.get_args(tp)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(_coerce(v, inner, key) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported type {tp}")


def _build(cls, d: dict, prefix: str):
    if not isinstance(d, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {d!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        where = f"section '{prefix}'" if prefix else "the top level"
        raise ConfigError(f"unknown config key(s) {unknown} in {where}; valid keys: {sorted(names)}")
    kwargs = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        tp = hints[k]
        if dataclasses.is_dataclass(tp):
            kwargs[k] = _build(tp, v or {}, key)
        else:
            kwargs[k] = _coerce(v, tp, key)
    return cls(**kwargs)


def parse_overrides(overrides) -> dict:
    """``["train.steps=10", "loss.use_dc=false"]`` -> nested dict (values parsed as YAML)."""
    tree: dict = {}
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if any(not p for p in parts):
            raise ConfigError(f"override {item!r}: bad key {key!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"override {item!r}: cannot parse value ({e})") from None
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override")
        node[parts[-1]] = value
    return tree


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def config_from_dict(d: dict) -> Config:
    return _build(Config, d or {}, "").validate()


def load_dataclass_config(cls, path: str | Path | None = None, overrides=None):
    """Read YAML at ``path`` (optional), apply ``--set`` overrides, build and validate ``cls``."""
    d: dict = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"config file not found: {p}")
        try:
            d = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML ({e})") from None
    try:
        return _build(cls, _merge(d, parse_overrides(overrides)), "").validate()
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path else str(e)) from None


def load_config(path: str | Path | None = None, overrides=None) -> Config:
    return load_dataclass_config(Config, path, overrides)


def save_config(cfg, path: str | Path) -> None:
    """Write any config dataclass with ``to_dict`` as YAML, atomically."""
    from amgan.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
