"""FIR experiment configuration: frozen dataclasses loaded from YAML, like ``amgan.config``.

``load_fir_config("configs/fir_synth64.yaml", overrides=["train.steps=10"])`` reads the
file, applies ``--set key=value`` overrides (values parsed as YAML, then type-checked)
and returns a frozen, validated :class:`FirConfig`. Unknown keys, wrong types and bad
values are :class:`amgan.config.ConfigError` naming the key. Parsing and type checks are
``amgan.config``'s own helpers (``_build``, ``parse_overrides``, ``_merge``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path


from amgan.config import ConfigError, _build, _to_plain, load_dataclass_config, save_config

__all__ = ["FirConfig", "FirDataConfig", "FirModelConfig", "FirTrainConfig", "FirEvalConfig",
           "fir_config_from_dict", "load_fir_config", "save_fir_config", "ConfigError"]


@dataclass(frozen=True)
class FirDataConfig:
    root: str = "data/synth64"  # data set folder (manifest.csv + schema.json)
    size: int = 64  # images are decoded at this size (the model upsamples to input_size)
    street_view: str = "street"  # consumer photos: the queries
    shop_view: str = "shop"  # catalogue photos: the gallery
    # SynthFashion made on demand when ``root`` has no manifest (same as amgan's DataConfig)
    synth_products: int = 3000
    synth_seed: int = 0
    synth_street_views: int = 2


@dataclass(frozen=True)
class FirModelConfig:
    dim: int = 128  # embedding size
    input_size: int = 128  # images are resized to this inside the net (multiple of 32)
    pooling: str = "gem"  # gem | avg, over the trunk's 1280-channel head features
    gem_p: float = 3.0  # initial GeM exponent (learned)
    pretrained: bool = True  # ImageNet EfficientNet-Lite0 weights


@dataclass(frozen=True)
class FirTrainConfig:
    steps: int = 3000
    products_per_batch: int = 64  # P: each batch is P x (1 shop + 1 street) images
    lr: float = 1e-3  # projection head (and GeM p)
    trunk_lr_mult: float = 0.1  # trunk lr = lr * trunk_lr_mult
    weight_decay: float = 1e-4
    warmup_steps: int = 100  # linear warm-up, then cosine decay to 0
    temperature: float = 0.07  # InfoNCE softmax temperature
    freeze_bn: bool = True  # keep ImageNet BN statistics (small batches); affine stays trainable
    crop_scale_min: float = 0.6  # RandomResizedCrop scale range [crop_scale_min, 1]
    color_jitter: float = 0.3  # brightness/contrast/saturation strength (hue = strength/6)
    seed: int = 0
    threads: int = 0  # torch intra-op threads (0: leave torch's default)
    log_every: int = 25
    out: str = "runs/fir_synth64"


@dataclass(frozen=True)
class FirEvalConfig:
    split: str = "test"  # street queries of this split against all its shop images
    ks: tuple[int, ...] = (1, 20, 50)
    batch_size: int = 128


@dataclass(frozen=True)
class FirConfig:
    data: FirDataConfig = field(default_factory=FirDataConfig)
    model: FirModelConfig = field(default_factory=FirModelConfig)
    train: FirTrainConfig = field(default_factory=FirTrainConfig)
    eval: FirEvalConfig = field(default_factory=FirEvalConfig)

    def to_dict(self) -> dict:
        return _to_plain(dataclasses.asdict(self))

    def validate(self) -> "FirConfig":
        m, t, e = self.model, self.train, self.eval
        checks = [
            (self.data.size >= 16, "data.size must be >= 16"),
            (m.dim >= 2, "model.dim must be >= 2"),
            (m.input_size >= 32 and m.input_size % 32 == 0, "model.input_size must be a multiple of 32 (>= 32)"),
            (m.pooling in ("gem", "avg"), "model.pooling must be 'gem' or 'avg'"),
            (m.gem_p >= 1.0, "model.gem_p must be >= 1"),
            (t.steps >= 0, "train.steps must be >= 0"),
            (t.products_per_batch >= 2, "train.products_per_batch must be >= 2 (in-batch negatives)"),
            (t.lr > 0, "train.lr must be > 0"),
            (t.trunk_lr_mult >= 0, "train.trunk_lr_mult must be >= 0"),
            (t.weight_decay >= 0, "train.weight_decay must be >= 0"),
            (t.warmup_steps >= 0, "train.warmup_steps must be >= 0"),
            (t.temperature > 0, "train.temperature must be > 0"),
            (0.0 < t.crop_scale_min <= 1.0, "train.crop_scale_min must be in (0, 1]"),
            (0.0 <= t.color_jitter < 1.0, "train.color_jitter must be in [0, 1)"),
            (t.log_every >= 1, "train.log_every must be >= 1"),
            (t.threads >= 0, "train.threads must be >= 0"),
            (e.split in ("train", "val", "test"), "eval.split must be train, val or test"),
            (len(e.ks) > 0 and all(k >= 1 for k in e.ks), "eval.ks must be positive integers"),
            (e.batch_size >= 1, "eval.batch_size must be >= 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        return self


def fir_config_from_dict(d: dict) -> FirConfig:
    return _build(FirConfig, d or {}, "").validate()


def load_fir_config(path: str | Path | None = None, overrides=None) -> FirConfig:
    return load_dataclass_config(FirConfig, path, overrides)


def save_fir_config(cfg: FirConfig, path: str | Path) -> None:
    save_config(cfg, path)
