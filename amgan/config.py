"""Experiment configuration: one frozen dataclass per concern, loaded from YAML.

``load_config("configs/synth64.yaml", overrides=["train.steps=100"])`` reads the file,
applies ``--set key=value`` overrides (values parsed as YAML, then type-checked) and
returns a frozen, validated :class:`Config`. :func:`load_dataclass_config` does the same
for any config dataclass (FIR, FLAM and evaluation configs use it).

Field types the loader understands: ``bool``, ``int``, ``float``, ``str``,
``typing.Literal[...]`` choices, ``tuple[X, ...]`` / ``list[X]`` of those (a YAML list,
or one scalar for a one-item list: ``--set model.strength_grid=[1,2,3]``), ``X | None``
and nested config dataclasses (sections). Unknown keys, wrong types, values outside a
``Literal`` and bad values are :class:`ConfigError`\\ s on one line that name the file
(or the ``--set`` item) and the dotted key. The config never changes at run time;
schedules are functions of the step.

The SynthFashion defaults (the ``make data`` set: ``data/synth64``, 3000 products, seed 0,
2 street views, 64 px) live in :class:`DatasetConfig`, the data section that AMGAN's
:class:`DataConfig` and FIR/FLAM's data sections extend.
"""
from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from amgan.errors import UserError

__all__ = ["ConfigError", "DatasetConfig", "DataConfig", "ClassifierConfig", "ModelConfig", "LossConfig",
           "TrainConfig", "Config", "load_config", "load_dataclass_config", "build_config", "config_from_dict",
           "parse_overrides", "save_config", "to_plain", "flatten", "check", "check_range", "check_data_section"]


class ConfigError(UserError):
    """A config file or override is not valid. ``key``: the dotted key at fault, when known."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


# ---------------------------------------------------------------- sections
@dataclass(frozen=True)
class DatasetConfig:
    """Where the images are, at which size, and how SynthFashion is rendered there when the
    folder has no manifest (``amgan.data.synth_dataset.ensure_data``). The one home of the
    default data set's parameters (= ``make data``)."""

    root: str = "data/synth64"  # data set folder (manifest.csv + schema.json)
    size: int = 64  # working resolution (images are decoded at this size)
    synth_products: int = 3000
    synth_seed: int = 0
    synth_street_views: int = 2


@dataclass(frozen=True)
class DataConfig(DatasetConfig):
    views: tuple[str, ...] = ("shop", "street")  # views used for training
    workers: int = 0  # DataLoader workers (0: main process; images are cached in memory)
    photo_roots: tuple[str, ...] = ()  # real-photo data sets trained on beside root (same schema; unknown labels allowed)
    photo_fraction: float = 0.0  # share of every batch drawn from photo_roots (0 with photo_roots: uniform over all rows)
    exclude: str = ""  # CSV with an 'image' column: photos never trained on (the hand-checked ones); "" = none


@dataclass(frozen=True)
class ClassifierConfig:
    backbone: Literal["small", "efficientnet_lite0"] = "small"
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
    d_max_width: int = 0  # cap on D's channels (0: 16 * d_width, StarGAN's)
    g_upsample: Literal["deconv", "resize"] = "deconv"  # resize: bilinear x2 + 3x3 conv (no checkerboard)


@dataclass(frozen=True)
class LossConfig:
    lambda_cls: float = 1.0
    lambda_cyc: float = 10.0
    lambda_att: float = 10.0  # 0 disables L_a (StarGAN-style ablation)
    lambda_perc: float = 20.0  # 0 disables L_p
    perc_layers: int = 0  # L_p on the classifier's first N feature maps only (0: all of them, the paper's)
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
    amp: bool = True  # bf16 autocast on CUDA
    amp_cpu: bool = False  # also bf16 autocast on the CPU (AVX-512 BF16): 1.55x faster steps here; off until its quality is measured
    log_every: int = 25
    sample_every: int = 250
    save_every: int = 500
    keep_editors: bool = False  # also keep editors/editor_stepNNNNNN.pt at every save (time-to-quality curves)
    max_minutes: float = 0.0  # wall-clock budget of this process (0: none): stop, save and export at the next step
    init_from: str = ""  # warm start: G and its EMA from an editor model folder (critics, optimisers, step start afresh)
    out: str = "runs/synth64"


class ConfigBase:
    """What every top-level config dataclass shares: its plain-dict form (for YAML, checkpoints and
    resume checks) and, by default, no extra validation."""

    def to_dict(self) -> dict:
        return to_plain(dataclasses.asdict(self))

    def validate(self):
        return self


@dataclass(frozen=True)
class Config(ConfigBase):
    data: DataConfig = field(default_factory=DataConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> "Config":
        d, c, m, L, t = self.data, self.classifier, self.model, self.loss, self.train
        check_data_section(d, "data")
        check(d.size in (32, 64, 128, 256), "data.size", "must be one of 32, 64, 128, 256", d.size)
        check(len(d.views) > 0 and all(d.views), "data.views", "must name at least one view", list(d.views))
        check_range(d, "data", ("workers",), ge=0)
        check(0.0 <= d.photo_fraction <= 1.0, "data.photo_fraction", "must be in [0, 1]", d.photo_fraction)
        check(d.photo_fraction == 0.0 or len(d.photo_roots) > 0, "data.photo_fraction",
              "needs data.photo_roots (the photo data sets to draw from)", d.photo_fraction)
        check_range(m, "model", ("d_max_width",), ge=0)
        check_range(t, "train", ("max_minutes",), ge=0)
        check_range(c, "classifier", ("width", "steps", "batch_size"), ge=1)
        check_range(c, "classifier", ("lr",), gt=0)
        check_range(m, "model", ("g_width", "d_width"), ge=1)
        check_range(m, "model", ("g_res",), ge=0)
        check(m.d_layers >= 3, "model.d_layers", "must be >= 3 (D_C uses d_layers - 2)", m.d_layers)
        check_range(L, "loss", ("perc_layers",), ge=0)
        check_range(L, "loss", ("lambda_cls", "lambda_cyc", "lambda_att", "lambda_perc", "lambda_gp"), ge=0)
        check(0.0 < L.region_threshold < 1.0, "loss.region_threshold", "must be in (0, 1)", L.region_threshold)
        check_range(t, "train", ("steps", "n_critic", "log_every", "sample_every", "save_every"), ge=1)
        check(t.batch_size >= 2, "train.batch_size", "must be >= 2", t.batch_size)
        check_range(t, "train", ("lr_g", "lr_d"), gt=0)
        check(0.0 <= t.beta1 < 1.0 and 0.0 <= t.beta2 < 1.0, "train.beta1/beta2", "must be in [0, 1)",
              [t.beta1, t.beta2])
        check(0.0 <= t.decay_start <= 1.0, "train.decay_start", "must be in [0, 1]", t.decay_start)
        check(0.0 <= t.ema_decay < 1.0, "train.ema_decay", "must be in [0, 1)", t.ema_decay)
        check_range(t, "train", ("threads",), ge=0)
        return self


# ---------------------------------------------------------------- value checks (used by every config's validate)
def check(ok: bool, key: str, rule: str, value=dataclasses.MISSING) -> None:
    """Raise ``ConfigError("<key> <rule>, got <value>")`` unless ``ok``."""
    if not ok:
        got = "" if value is dataclasses.MISSING else f", got {value!r}"
        raise ConfigError(f"{key} {rule}{got}", key=key)


def check_range(section, prefix: str, names, *, ge=None, gt=None) -> None:
    """Each ``section.<name>`` must be ``>= ge`` (or ``> gt``); the error names ``<prefix>.<name>``."""
    for name in names:
        v = getattr(section, name)
        if ge is not None:
            check(v >= ge, f"{prefix}.{name}", f"must be >= {ge}", v)
        if gt is not None:
            check(v > gt, f"{prefix}.{name}", f"must be > {gt}", v)


def check_data_section(d: DatasetConfig, prefix: str = "data") -> None:
    """The checks every :class:`DatasetConfig` shares."""
    check(bool(d.root), f"{prefix}.root", "must name a data set folder")
    check(d.size >= 16, f"{prefix}.size", "must be >= 16", d.size)
    check_range(d, prefix, ("synth_products",), ge=1)
    check_range(d, prefix, ("synth_street_views",), ge=0)


# ---------------------------------------------------------------- building dataclasses from plain data
def to_plain(x):
    """Dicts, lists and scalars only (tuples become lists): what YAML and checkpoints hold."""
    if isinstance(x, dict):
        return {k: to_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_plain(v) for v in x]
    return x


def flatten(d: dict, prefix: str = "") -> dict:
    """``{"train": {"steps": 3}}`` -> ``{"train.steps": 3}``."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


_FLOAT_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _describe(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        inner = typing.get_args(tp)[0]
        plural = {bool: "true/false values", int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(inner) or _describe(inner)}"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _coerce(value, tp, key: str):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, key)
    if origin is Literal:
        choices = typing.get_args(tp)
        for c in choices:  # bool is an int: compare types as well as values
            if value == c and type(value) is type(c):
                return c
        raise ConfigError(f"{key} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}", key=key)
    if origin in (tuple, list):
        inner = typing.get_args(tp)[0]
        items = value if isinstance(value, (list, tuple)) else [value]  # one scalar: a one-item list
        if any(isinstance(v, (list, tuple, dict)) for v in items) or isinstance(value, dict):
            raise ConfigError(f"{key}: expected {_describe(tp)}, got {value!r}", key=key)
        try:
            out = [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(items)]
        except ConfigError as e:
            raise ConfigError(str(e), key=key) from None
        return tuple(out) if origin is tuple else out
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()):  # YAML 1.1 reads 1e-4 as a string
            return float(value)
    elif tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    else:
        raise ConfigError(f"{key}: unsupported field type {tp} (a bug in the config class)", key=key)
    raise ConfigError(f"{key}: expected {_describe(tp)}, got {value!r}", key=key)


def build_config(cls, d, prefix: str = ""):
    """An instance of the config dataclass ``cls`` from a nested dict (types checked, not validated)."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        where = f"section '{prefix}'" if prefix else "the top level"
        raise ConfigError(f"{where} must be a mapping of keys, got {type(d).__name__} {d!r}", key=prefix or None)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(names), key=str)
    if unknown:
        where = f"section '{prefix}'" if prefix else "the top level"
        full = [f"{prefix}.{k}" if prefix else str(k) for k in unknown]
        raise ConfigError(f"unknown config key(s) {unknown} in {where} ({', '.join(full)}); valid keys: {names}",
                          key=full[0])
    kwargs = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        tp = hints[k]
        kwargs[k] = build_config(tp, v, key) if dataclasses.is_dataclass(tp) else _coerce(v, tp, key)
    return cls(**kwargs)


def parse_overrides(overrides) -> dict:
    """``["train.steps=10", "model.strength_grid=[1,2,3]"]`` -> nested dict (values parsed as YAML)."""
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
            raise ConfigError(f"override {item!r}: cannot parse the value as YAML ({_one_line(e)})") from None
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


def _one_line(e) -> str:
    return " ".join(str(e).split())


def read_yaml_mapping(path: str | Path) -> dict:
    """The mapping in a YAML config file; one-line ConfigErrors for a missing path, a folder,
    unreadable text, bad YAML or a top level that is not a mapping."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p}: is a folder, not a YAML config file")
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read ({_one_line(e)})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({_one_line(e)})") from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of sections (e.g. 'train:'), "
                          f"got a {type(d).__name__}")
    return d


def load_dataclass_config(cls, path: str | Path | None = None, overrides=None):
    """Read YAML at ``path`` (optional), apply ``--set`` overrides, build and validate ``cls``.

    Errors are one-line :class:`ConfigError`\\ s that start with the file (or ``--set``, when
    the bad key came from an override) and name the dotted key.
    """
    d = read_yaml_mapping(path) if path is not None else {}
    tree = parse_overrides(overrides)
    by_key = {item.split("=", 1)[0].strip(): item for item in overrides or []}
    try:
        cfg = build_config(cls, _merge(d, tree), "")
        return cfg.validate() if hasattr(cfg, "validate") else cfg
    except ConfigError as e:
        item = next((it for k, it in by_key.items() if e.key and (k == e.key or k.startswith(e.key + ".")
                                                                   or e.key.startswith(k + "."))), None)
        where = str(path) if path is not None else "config"
        if item:
            where = f"{where} (--set {item})" if path is not None else f"--set {item}"
        raise ConfigError(f"{where}: {e}", key=e.key) from None


def config_from_dict(d: dict) -> Config:
    return build_config(Config, d or {}, "").validate()


def load_config(path: str | Path | None = None, overrides=None) -> Config:
    return load_dataclass_config(Config, path, overrides)


def save_config(cfg, path: str | Path) -> None:
    """Write any config dataclass with ``to_dict`` as YAML, atomically."""
    from amgan.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def add_config_arguments(p, example: str = "") -> None:
    """``--config``, ``--set KEY=VALUE`` (repeatable) and ``--no-progress`` on an argparse parser:
    the options every config-driven command shares."""
    p.add_argument("--config", required=True, help="the YAML config" + (f", e.g. {example}" if example else ""))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. train.steps=100")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def config_argv(args, *names: str) -> list[str]:
    """The argv of :func:`add_config_arguments` (and of the named options) rebuilt from parsed
    ``args``: how a top-level CLI hands a subcommand to its module's ``main(argv)``."""
    argv = ["--config", args.config] + [a for s in (args.set or []) for a in ("--set", s)]
    argv += ["--no-progress"] if getattr(args, "no_progress", False) else []
    for n in names:
        v = getattr(args, n.replace("-", "_"), None)
        if v is True:
            argv.append("--" + n)
        elif v not in (None, False):
            argv += ["--" + n, str(v)]
    return argv
