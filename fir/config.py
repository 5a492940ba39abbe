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
           "fir_config_from_dict", "load_fir_config", "save_fir_config", "ConfigError",
           "FlamConfig", "load_flam_config", "save_flam_config"]


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


# ---------------------------------------------------------------- FLAM (``fir train-flam``)
@dataclass(frozen=True)
class FlamDataConfig(FirDataConfig):
    views: tuple[str, ...] = ("shop", "street")  # whose FIR features FLAM learns from


@dataclass(frozen=True)
class FlamModelConfig:
    attr_dim: int = 32  # size of each attribute-specific space (dictionary prototypes live there)
    hidden: int = 512  # MLP width (embedders, generator, discriminator)
    gen_layers: int = 3  # generator depth (Linear layers)
    temperature: float = 0.1  # cosine-logit temperature (attribute matching, probabilities)
    # edit strength a in f' = normalize(f + a * R(f, c)): picked after training from this grid by
    # top-k retrieval accuracy of feature edits on calibrate_split (a single value fixes it)
    strength_grid: list = field(default_factory=lambda: [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0])
    calibrate_split: str = "val"


@dataclass(frozen=True)
class FlamTrainConfig:
    steps: int = 4000
    batch_size: int = 256
    lr: float = 2e-4  # generator and discriminator (Adam, betas 0.5/0.999)
    lr_embed: float = 1e-3  # attribute embedders + dictionary
    triplet_margin: float = 0.3  # on cosine distance
    lambda_adv: float = 1.0
    lambda_attr: float = 1.0
    lambda_cyc: float = 10.0
    lambda_idt: float = 10.0
    r1_gamma: float = 1.0  # R1 penalty on real features (0: off)
    embed_batch_size: int = 128  # FIR feature extraction batch
    cache_dir: str = "runs/cache"  # FIR features cached here, keyed by model + manifest sha256 ("": off)
    seed: int = 0
    threads: int = 0
    log_every: int = 100
    out: str = "runs/flam_synth64"


@dataclass(frozen=True)
class FlamConfig:
    embedder: str = "checkpoints/fir_synth64/embedder.pt"  # the frozen FIR model (fir-embedder checkpoint)
    data: FlamDataConfig = field(default_factory=FlamDataConfig)
    model: FlamModelConfig = field(default_factory=FlamModelConfig)
    train: FlamTrainConfig = field(default_factory=FlamTrainConfig)
    eval: FirEvalConfig = field(default_factory=FirEvalConfig)

    def to_dict(self) -> dict:
        return _to_plain(dataclasses.asdict(self))

    def validate(self) -> "FlamConfig":
        m, t = self.model, self.train
        checks = [
            (bool(self.embedder), "embedder must name a fir-embedder checkpoint"),
            (len(self.data.views) > 0, "data.views must name at least one view"),
            (m.attr_dim >= 2, "model.attr_dim must be >= 2"),
            (m.hidden >= 8, "model.hidden must be >= 8"),
            (m.gen_layers >= 2, "model.gen_layers must be >= 2"),
            (m.temperature > 0, "model.temperature must be > 0"),
            (len(m.strength_grid) > 0 and all(isinstance(a, (int, float)) and a > 0 for a in m.strength_grid),
             "model.strength_grid must be a non-empty list of numbers > 0"),
            (m.calibrate_split in ("train", "val", "test"), "model.calibrate_split must be train, val or test"),
            (t.steps >= 0, "train.steps must be >= 0"),
            (t.batch_size >= 2, "train.batch_size must be >= 2"),
            (t.lr > 0 and t.lr_embed > 0, "train.lr and train.lr_embed must be > 0"),
            (t.triplet_margin >= 0, "train.triplet_margin must be >= 0"),
            (min(t.lambda_adv, t.lambda_attr, t.lambda_cyc, t.lambda_idt, t.r1_gamma) >= 0,
             "train.lambda_* and train.r1_gamma must be >= 0"),
            (t.embed_batch_size >= 1, "train.embed_batch_size must be >= 1"),
            (t.log_every >= 1, "train.log_every must be >= 1"),
            (t.threads >= 0, "train.threads must be >= 0"),
            (self.eval.split in ("train", "val", "test"), "eval.split must be train, val or test"),
            (len(self.eval.ks) > 0 and all(k >= 1 for k in self.eval.ks), "eval.ks must be positive integers"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        return self


def load_flam_config(path: str | Path | None = None, overrides=None) -> FlamConfig:
    return load_dataclass_config(FlamConfig, path, overrides)


def save_flam_config(cfg: FlamConfig, path: str | Path) -> None:
    save_config(cfg, path)
