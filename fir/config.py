"""FIR experiment configuration: frozen dataclasses loaded from YAML, like ``amgan.config``.

``load_fir_config("configs/fir_synth64.yaml", overrides=["train.steps=10"])`` reads the
file, applies ``--set key=value`` overrides (values parsed as YAML, then type-checked)
and returns a frozen, validated :class:`FirConfig`. Unknown keys, wrong types and bad
values are :class:`amgan.config.ConfigError` naming the file and the key. Loading is
:func:`amgan.config.load_dataclass_config`; the data sections extend
:class:`amgan.config.DatasetConfig`, the one home of the SynthFashion defaults.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from amgan.config import (ConfigBase, ConfigError, DatasetConfig, build_config, check, check_data_section, check_range,
                          load_dataclass_config, save_config)

Split = Literal["train", "val", "test"]

__all__ = ["FirConfig", "FirDataConfig", "FirModelConfig", "FirTrainConfig", "FirEvalConfig",
           "fir_config_from_dict", "load_fir_config", "save_fir_config", "ConfigError",
           "FlamConfig", "FlamDataConfig", "FlamModelConfig", "FlamTrainConfig", "load_flam_config",
           "save_flam_config"]


@dataclass(frozen=True)
class FirDataConfig(DatasetConfig):
    """``root``, ``size`` (decode size; the model resizes to ``model.input_size``) and the
    SynthFashion parameters come from :class:`amgan.config.DatasetConfig`."""

    street_view: str = "street"  # consumer photos: the queries
    shop_view: str = "shop"  # catalogue photos: the gallery


@dataclass(frozen=True)
class FirModelConfig:
    dim: int = 128  # embedding size
    input_size: int = 128  # images are resized to this inside the net (multiple of 32)
    pooling: Literal["gem", "avg"] = "gem"  # over the trunk's 1280-channel head features
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
    save_every: int = 250  # resumable checkpoint (checkpoint.pt) every this many steps
    out: str = "runs/fir_synth64"


@dataclass(frozen=True)
class FirEvalConfig:
    split: Split = "test"  # street queries of this split against all its shop images
    ks: tuple[int, ...] = (1, 20, 50)
    batch_size: int = 128


@dataclass(frozen=True)
class FirConfig(ConfigBase):
    data: FirDataConfig = field(default_factory=FirDataConfig)
    model: FirModelConfig = field(default_factory=FirModelConfig)
    train: FirTrainConfig = field(default_factory=FirTrainConfig)
    eval: FirEvalConfig = field(default_factory=FirEvalConfig)

    def validate(self) -> "FirConfig":
        m, t = self.model, self.train
        check_data_section(self.data, "data")
        check(m.dim >= 2, "model.dim", "must be >= 2", m.dim)
        check(m.input_size >= 32 and m.input_size % 32 == 0, "model.input_size", "must be a multiple of 32 (>= 32)",
              m.input_size)
        check(m.gem_p >= 1.0, "model.gem_p", "must be >= 1", m.gem_p)
        check_range(t, "train", ("steps", "log_every", "save_every"), ge=1)
        check(t.products_per_batch >= 2, "train.products_per_batch", "must be >= 2 (in-batch negatives)",
              t.products_per_batch)
        check_range(t, "train", ("lr", "temperature"), gt=0)
        check_range(t, "train", ("trunk_lr_mult", "weight_decay", "warmup_steps", "threads"), ge=0)
        check(0.0 < t.crop_scale_min <= 1.0, "train.crop_scale_min", "must be in (0, 1]", t.crop_scale_min)
        check(0.0 <= t.color_jitter < 1.0, "train.color_jitter", "must be in [0, 1)", t.color_jitter)
        check_eval_section(self.eval)
        return self


def check_eval_section(e: "FirEvalConfig", prefix: str = "eval") -> None:
    check(len(e.ks) > 0 and all(k >= 1 for k in e.ks), f"{prefix}.ks", "must be positive integers", list(e.ks))
    check_range(e, prefix, ("batch_size",), ge=1)


def fir_config_from_dict(d: dict) -> FirConfig:
    return build_config(FirConfig, d or {}, "").validate()


def load_fir_config(path: str | Path | None = None, overrides=None) -> FirConfig:
    return load_dataclass_config(FirConfig, path, overrides)


def save_fir_config(cfg: FirConfig, path: str | Path) -> None:
    save_config(cfg, path)


# ---------------------------------------------------------------- FLAM (``fir train-flam``)
@dataclass(frozen=True)
class FlamDataConfig(FirDataConfig):
    views: tuple[str, ...] = ("shop", "street")  # whose FIR features FLAM learns from
    # photo data sets (same schema groups as root; `amgan data convert clothing_dataset` + annotate)
    # whose train split FLAM also learns from; their unknown labels are masked in every loss
    photo_roots: tuple[str, ...] = ()
    photo_views: tuple[str, ...] = ("photo",)
    exclude: str = ""  # CSV with an 'image' column: photos never trained on (the hand-checked ones)


@dataclass(frozen=True)
class FlamModelConfig:
    attr_dim: int = 32  # size of each attribute-specific space (dictionary prototypes live there)
    hidden: int = 512  # MLP width (embedders, generator, discriminator)
    gen_layers: int = 3  # generator depth (Linear layers)
    temperature: float = 0.1  # cosine-logit temperature (attribute matching, probabilities)
    # edit strength a in f' = normalize(f + a * R(f, c)): picked after training from this grid by
    # top-k retrieval accuracy of feature edits on calibrate_split (a single value fixes it)
    strength_grid: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
    calibrate_split: Split = "val"


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
    save_every: int = 1000  # resumable checkpoint (checkpoint.pt) every this many steps
    out: str = "runs/flam_synth64"


@dataclass(frozen=True)
class FlamConfig(ConfigBase):
    embedder: str = "checkpoints/fir_synth64/embedder.pt"  # the frozen FIR model (fir-embedder checkpoint)
    data: FlamDataConfig = field(default_factory=FlamDataConfig)
    model: FlamModelConfig = field(default_factory=FlamModelConfig)
    train: FlamTrainConfig = field(default_factory=FlamTrainConfig)
    eval: FirEvalConfig = field(default_factory=FirEvalConfig)

    def validate(self) -> "FlamConfig":
        m, t = self.model, self.train
        check(bool(self.embedder), "embedder", "must name a fir-embedder checkpoint")
        check_data_section(self.data, "data")
        check(len(self.data.views) > 0 and all(self.data.views), "data.views", "must name at least one view",
              list(self.data.views))
        check(m.attr_dim >= 2, "model.attr_dim", "must be >= 2", m.attr_dim)
        check(m.hidden >= 8, "model.hidden", "must be >= 8", m.hidden)
        check(m.gen_layers >= 2, "model.gen_layers", "must be >= 2", m.gen_layers)
        check_range(m, "model", ("temperature",), gt=0)
        check(len(m.strength_grid) > 0 and all(a > 0 for a in m.strength_grid), "model.strength_grid",
              "must be a non-empty list of numbers > 0", list(m.strength_grid))
        check_range(t, "train", ("steps", "log_every", "save_every", "embed_batch_size"), ge=1)
        check(t.batch_size >= 2, "train.batch_size", "must be >= 2", t.batch_size)
        check_range(t, "train", ("lr", "lr_embed"), gt=0)
        check_range(t, "train", ("triplet_margin", "lambda_adv", "lambda_attr", "lambda_cyc", "lambda_idt", "r1_gamma",
                                 "threads"), ge=0)
        check_eval_section(self.eval)
        return self


def load_flam_config(path: str | Path | None = None, overrides=None) -> FlamConfig:
    return load_dataclass_config(FlamConfig, path, overrides)


def save_flam_config(cfg: FlamConfig, path: str | Path) -> None:
    save_config(cfg, path)
