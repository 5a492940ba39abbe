"""One saved-model format for every model (editor, classifier/evaluator, FIR embedder, FLAM).

A model is a folder::

    config.json    {"kind", "format": 2, "model": constructor arguments, "image_processor",
                    "schema", "info": {step, metrics, embedder_id, ...}, "card": {...}}
    weights.pt     {net name: state_dict}; loaded with torch.load(weights_only=True), strict
    MODEL_CARD.md  generated from config.json: intended use, out of scope, data, metrics,
                   licence, provenance

written as a unit (a temp folder beside it, then renamed), so a reader never sees half a
model. :func:`load_pretrained` also reads the single-file checkpoints of earlier releases
and of the training loops (``editor.pt``, ``classifier.pt``, ``embedder.pt``, ``flam.pt``),
converting them in memory, so every door loads every model the same way.

:func:`model_id` names a model's weights (sha256 of ``weights.pt``, or of the legacy
file): a gallery index and a FLAM model record the id of the embedder they were made with.
:func:`export_pretrained` is the one fp16 export (checked against fp32 by the caller's
``check`` function before anything is written).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from amgan.checkpoint import CheckpointError, code_version, file_sha256, load_checkpoint
from amgan.errors import first_line
from amgan.image import ImageProcessor

__all__ = ["Pretrained", "save_pretrained", "load_pretrained", "model_id", "export_pretrained",
           "render_card", "KINDS", "FORMAT"]

FORMAT = 2
CONFIG, WEIGHTS, CARD = "config.json", "weights.pt", "MODEL_CARD.md"
KINDS = ("amgan-editor", "classifier", "fir-embedder", "fir-flam")
CARD_FIELDS = ("summary", "intended_use", "out_of_scope", "training_data", "metrics", "limitations",
               "licence", "provenance")


@dataclass
class Pretrained:
    kind: str
    weights: dict  # {net name: state_dict}
    model: dict  # constructor arguments
    image_processor: ImageProcessor | None
    schema: dict | None
    info: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)
    path: Path | None = None

    def config(self) -> dict:
        return {"kind": self.kind, "format": FORMAT, "model": self.model,
                "image_processor": self.image_processor.to_dict() if self.image_processor else None,
                "schema": self.schema, "info": self.info, "card": self.card}


def _check_finite(weights: dict, where) -> None:
    for net, sd in weights.items():
        for k, v in sd.items():
            if isinstance(v, torch.Tensor) and v.is_floating_point() and not torch.isfinite(v).all():
                raise CheckpointError(f"{where}: weight {net}.{k} has NaN or infinite values; refusing to load it")


# ---------------------------------------------------------------- writing
def render_card(p: Pretrained) -> str:
    """MODEL_CARD.md text from the card fields, the config and the info."""
    c = p.card
    title = c.get("title") or f"{p.kind} model"
    lines = [f"# {title}", "", c.get("summary", ""), ""]

    def section(name, body):
        if body:
            lines.extend([f"## {name}", "", body if isinstance(body, str) else json.dumps(body, indent=2), ""])

    section("Intended use", c.get("intended_use"))
    section("Out of scope", c.get("out_of_scope"))
    section("Training data", c.get("training_data"))
    metrics = c.get("metrics") or p.info.get("metrics")
    if isinstance(metrics, dict):
        lines.extend(["## Metrics", "", "```json", json.dumps(metrics, indent=2, sort_keys=True), "```", ""])
    else:
        section("Metrics", metrics)
    section("Limitations", c.get("limitations"))
    section("Licence", c.get("licence", "Apache-2.0 (the project's licence); trained on data the project renders itself"))
    section("Provenance", c.get("provenance"))
    arch = {"kind": p.kind, "model": p.model,
            "image_processor": p.image_processor.to_dict() if p.image_processor else None,
            "code_version": p.info.get("code_version")}
    parts = ["Weights in `weights.pt` (load with `torch.load(weights_only=True)`), constructor arguments and "
             "image processor in `config.json`"]
    if p.path and (Path(p.path) / "int8.pt").is_file():
        parts.append("`int8.pt`: the activation ranges of the generator's int8 body on the CPU (`amgan quantize`; "
                     "used by default on the CPU, `int8=False` for float; see PROVENANCE.md)")
    settings = (p.model or {}).get("editor") or {}
    if settings.get("caveats"):
        parts.append("`editor.caveats`: what the model is known to do badly per edited group, shown with every "
                     "such edit by `amgan edit` and the demo")
    if settings.get("colour_calibration"):
        parts.append("`editor.colour_calibration`: the CIELAB offset added to the edit's colour per colour name "
                     "(`amgan calibrate-colours`, measured on train photos)")
    lines.extend(["## Format", "", "; ".join(parts) + ":", "", "```json",
                  json.dumps(arch, indent=2), "```", ""])
    return "\n".join(lines).rstrip() + "\n"


def save_pretrained(folder: str | Path, p: Pretrained, *, overwrite: bool = True,
                    extra_files: dict[str, bytes] | None = None) -> Path:
    """Write ``p`` as a model folder, atomically (temp folder beside it, then rename).

    ``extra_files``: other files that belong in the folder (``PROVENANCE.md``, ``metrics.json``).
    """
    if p.kind not in KINDS:
        raise ValueError(f"unknown model kind {p.kind!r}; kinds: {', '.join(KINDS)}")
    unknown = set(p.card) - set(CARD_FIELDS) - {"title"}
    if unknown:
        raise ValueError(f"unknown model card fields {sorted(unknown)}; fields: {', '.join(CARD_FIELDS)}")
    _check_finite(p.weights, "save_pretrained")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder} exists and is not a folder")
    if folder.exists() and not overwrite:
        raise CheckpointError(f"{folder} exists; pass overwrite=True to replace it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    info = {**p.info, "code_version": p.info.get("code_version") or code_version()}
    p = Pretrained(p.kind, p.weights, p.model, p.image_processor, p.schema, info, p.card)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        torch.save({k: {n: t.detach().cpu() for n, t in sd.items()} for k, sd in p.weights.items()}, tmp / WEIGHTS)
        (tmp / CONFIG).write_text(json.dumps(p.config(), indent=2, sort_keys=False) + "\n")
        (tmp / CARD).write_text(render_card(p))
        for name, data in (extra_files or {}).items():
            if Path(name).name != name or name in (CONFIG, WEIGHTS, CARD):
                raise ValueError(f"extra file name {name!r} must be a plain file name other than the model's own")
            (tmp / name).write_bytes(data)
        mode = 0o777 & ~_umask()
        os.chmod(tmp, mode)
        for f in tmp.iterdir():
            os.chmod(f, mode & 0o666)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


# ---------------------------------------------------------------- reading
def model_id(path: str | Path) -> str:
    """sha256 of a model's weights (``weights.pt`` of a folder, or a legacy single file)."""
    p = Path(path)
    if p.is_dir():
        if not (p / WEIGHTS).is_file():
            raise CheckpointError(f"{p}: not a model folder (no {WEIGHTS})")
        return file_sha256(p / WEIGHTS)
    if not p.is_file():
        raise CheckpointError(f"model not found: {p}")
    return file_sha256(p)


def load_pretrained(path: str | Path, kind: str | None = None, map_location="cpu") -> Pretrained:
    """A model folder (or a legacy single-file checkpoint) -> :class:`Pretrained`.

    ``kind``: the expected kind (``"classifier"`` also accepts the classifier inside an editor).
    Non-finite weights are refused.
    """
    p = Path(path)
    if p.is_dir():
        out = _load_folder(p, map_location)
    elif p.is_file():
        _check_torch_file(p)
        out = _from_legacy(load_checkpoint(p, map_location=map_location), p)  # its message is one line
    else:
        raise CheckpointError(f"model not found: {p}")
    if kind == "classifier" and out.kind == "amgan-editor":
        out = Pretrained("classifier", {"classifier": out.weights["classifier"]}, out.model["classifier"],
                         out.image_processor, out.schema, out.info, {}, out.path)
    if kind is not None and out.kind != kind:
        raise CheckpointError(f"{p}: is a {out.kind!r} model, expected {kind!r}")
    _check_finite(out.weights, p)
    return out


def _check_torch_file(p: Path) -> None:
    """Refuse a file that is no ``torch.save`` output (a zip archive, or a legacy pickle) by name,
    before torch's long unpickling message can say it."""
    try:
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise CheckpointError(f"{p}: cannot read ({e.strerror or e})") from None
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        what = "an empty file" if not head else "not a PyTorch file"
        raise CheckpointError(f"{p}: not a readable checkpoint ({what}); give a model folder (config.json + "
                              f"weights.pt) or a .pt file written by training")


def _load_folder(p: Path, map_location) -> Pretrained:
    cfg_path, w_path = p / CONFIG, p / WEIGHTS
    if not cfg_path.is_file() or not w_path.is_file():
        raise CheckpointError(f"{p}: not a model folder (needs {CONFIG} and {WEIGHTS})")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{cfg_path}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict) or cfg.get("kind") not in KINDS or "model" not in cfg:
        raise CheckpointError(f"{cfg_path}: not a model config (needs 'kind' among {', '.join(KINDS)} and 'model')")
    if int(cfg.get("format", 0)) > FORMAT:
        raise CheckpointError(f"{p}: saved by a newer release (format {cfg['format']}); this one reads {FORMAT}")
    try:
        weights = torch.load(w_path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for bad files
        raise CheckpointError(first_line(f"{w_path}: not readable weights ({type(e).__name__}: {e})", 300)) from None
    if not isinstance(weights, dict) or not all(isinstance(v, dict) for v in weights.values()):
        raise CheckpointError(f"{w_path}: expected a dict of state dicts")
    ip = cfg.get("image_processor")
    return Pretrained(cfg["kind"], weights, cfg["model"], ImageProcessor.from_dict(ip) if ip else None,
                      cfg.get("schema"), cfg.get("info") or {}, cfg.get("card") or {}, p)


def _from_legacy(ck: dict, p: Path) -> Pretrained:
    """The single-file checkpoints written before the model folder existed (and by training)."""
    kind = ck.get("kind")
    info = {k: ck[k] for k in ("step", "seconds", "metrics", "strength", "embedder_id", "export_check", "dtype",
                                "code_version", "config") if k in ck}
    try:
        if kind == "amgan-editor":
            meta = ck["classifier_meta"]
            model = {"generator": dict(ck["generator"]),
                     "classifier": {"group_sizes": list(meta["group_sizes"]), "backbone": meta["backbone"],
                                    "width": int(meta["width"]),
                                    **{k: meta[k] for k in ("head", "adapter_width", "image_processor") if k in meta}}}
            return Pretrained(kind, {"G": ck["G_ema"], "classifier": ck["classifier"]}, model,
                              ImageProcessor(size=int(ck["size"])), ck["schema"], info, {}, p)
        if kind == "classifier":
            model = {"group_sizes": list(ck["group_sizes"]), "backbone": ck["backbone"], "width": int(ck["width"])}
            size = int(ck["config"]["data"]["size"])
            return Pretrained(kind, {"classifier": ck["model"]}, model, ImageProcessor(size=size), ck["schema"],
                              info, {}, p)
        if kind == "fir-embedder":
            size = int(ck.get("image_size") or ck["config"]["data"]["size"])
            return Pretrained(kind, {"embedder": ck["state_dict"]}, dict(ck["config"]["model"]),
                              ImageProcessor(size=size), ck.get("schema"), info, {}, p)
        if kind == "fir-flam":
            return Pretrained(kind, {"flam": ck["state_dict"]}, dict(ck["arch"]), None, ck["schema"], info, {}, p)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{p}: not a usable {kind} checkpoint (missing or bad {e})") from None
    raise CheckpointError(f"{p}: is a {kind!r} checkpoint, not a model (kinds: {', '.join(KINDS)})")


# ---------------------------------------------------------------- fp16 export
def half_weights(weights: dict) -> dict:
    return {k: {n: t.half() if t.is_floating_point() else t for n, t in sd.items()} for k, sd in weights.items()}


def export_pretrained(src: str | Path, dst: str | Path, *, dtype: str = "float16", card: dict | None = None,
                      check: Callable[[Pretrained, Pretrained], dict] | None = None) -> dict:
    """The one export: ``src`` (folder or legacy file) -> a model folder with fp16 weights.

    ``check(original, exported)`` compares the two (loaded back to fp32 as every loader does)
    and raises when the copy is not close enough; nothing is written then. Returns its report.
    """
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be float16 or float32, got {dtype!r}")
    orig = load_pretrained(src)
    weights = half_weights(orig.weights) if dtype == "float16" else orig.weights
    out = Pretrained(orig.kind, weights, orig.model, orig.image_processor, orig.schema,
                     {**{k: v for k, v in orig.info.items() if k != "config"}, "dtype": dtype,
                      "exported_from": str(src)}, card if card is not None else orig.card)
    report = check(orig, out) if check is not None else {}
    if report:
        out.info["export_check"] = report
    if any(not math.isfinite(v) for v in report.values() if isinstance(v, float)):
        raise ValueError(f"export check produced non-finite numbers: {report}")
    save_pretrained(dst, out)
    return report


# ---------------------------------------------------------------- builders
def build_classifier(p: Pretrained):
    from amgan.nets.classifier import AttributeClassifier

    m = p.model
    net = AttributeClassifier(m["group_sizes"], backbone=m["backbone"], width=int(m.get("width", 32)), pretrained=False,
                              head=m.get("head", "linear"), adapter_width=int(m.get("adapter_width", 192)))
    _load_state(net, p.weights["classifier"], p)
    return net.float().eval().requires_grad_(False)


def _load_state(net: torch.nn.Module, sd: dict, p: Pretrained) -> None:
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{p.path}: weights do not fit the {p.kind} it describes "
                              f"({first_line(e)})") from None


def load_classifier(path, device=None):
    """(classifier in eval mode, Pretrained) from a classifier or an editor model."""
    p = load_pretrained(path, kind="classifier")
    net = build_classifier(p)
    return (net.to(device) if device is not None else net), p


def build_editor(p: Pretrained, device=None, int8: bool | None = None):
    """An :class:`amgan.editor.Editor` from a loaded editor model. ``int8``: run the generator's body
    in int8 from the model folder's ``int8.pt`` (:mod:`amgan.nets.int8`); None = when the folder has
    one and the editor runs on the CPU, True = require it, False = float."""
    from amgan.attributes import Schema
    from amgan.editor import Editor
    from amgan.nets.generator import Generator

    try:
        G = Generator(**p.model["generator"])
    except TypeError as e:
        raise CheckpointError(f"{p.path}: bad generator arguments ({e})") from None
    _load_state(G, p.weights["G"], p)
    C = build_classifier(Pretrained("classifier", {"classifier": p.weights["classifier"]}, p.model["classifier"],
                                    p.image_processor, p.schema, path=p.path))
    rp = p.model["classifier"].get("image_processor")
    try:
        settings = p.model.get("editor") or {}
        schema = Schema.from_dict(p.schema)
        namer, namer_weight = _editor_mask_reader(p, settings, "colour_namer", schema)
        shape, shape_weight = _editor_mask_reader(p, settings, "sleeve_shape", schema)
        ed = Editor(G.float(), C, schema, p.image_processor, device,
                    reader_processor=ImageProcessor.from_dict(rp) if rp else None,
                    attention_floor=float(settings.get("attention_floor", 0.0)),
                    colour_spread=float(settings.get("colour_spread", 0.0)),
                    caveats=settings.get("caveats"), colour_calibration=settings.get("colour_calibration"),
                    colour_namer=namer, colour_namer_weight=namer_weight,
                    sleeve_shape=shape, sleeve_shape_weight=shape_weight)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{p.path}: bad editor settings ({e})") from None
    ed.checkpoint_step = int(p.info.get("step") or 0)
    ed.pretrained = p
    if int8 is not False:
        _use_int8(ed, p, required=bool(int8))
    if ed.device.type == "cpu":
        ed.C.trace_read(ed.reader_processor.size)  # photos are read one at a time: that pass traced
    return ed


NAMER_FILE = "colour_namer.json"  # an editor folder's colour namer (amgan.data.colour_namer), when it has one
SLEEVE_SHAPE_FILE = "sleeve_shape.pt"  # an editor folder's sleeve-shape model (amgan.data.sleeve_shape)


def _mask_reader_kind(key: str):
    """(file name in an editor folder, loader(path, schema)) of the mask reader named by the setting ``key``."""
    if key == "colour_namer":
        from amgan.data.colour_namer import ColourNamer

        return NAMER_FILE, lambda f, schema: ColourNamer.load(f, colours=tuple(schema.group("color").values))
    if key == "sleeve_shape":
        from amgan.data.sleeve_shape import SleeveShape

        return SLEEVE_SHAPE_FILE, lambda f, schema: SleeveShape.load(f, values=tuple(schema.group("sleeve").values))
    raise ValueError(f"no mask reader {key!r}")


def _editor_mask_reader(p: Pretrained, settings: dict, key: str, schema):
    """(the mask reader or None, its weight) from the editor setting ``key`` (``colour_namer``,
    ``sleeve_shape``: ``{'weight': w, ...}``) and the folder's file for it."""
    cfg = settings.get(key)
    if not cfg:
        return None, 0.0
    name, load = _mask_reader_kind(key)
    folder = Path(p.path) if p.path and Path(p.path).is_dir() else None
    if folder is None or not (folder / name).is_file():
        raise CheckpointError(f"{p.path}: the settings name a {key} but the folder has no {name}")
    if not isinstance(cfg, dict) or "weight" not in cfg:
        raise CheckpointError(f"{p.path}: editor setting {key} must be {{'weight': w}}, got {cfg!r}")
    return load(folder / name, schema), float(cfg["weight"])


def attach_mask_reader(editor, key: str, model, *, weight: float | None, card: dict | None = None) -> Path:
    """Give the editor folder ``editor`` a mask reader (``key``: ``colour_namer`` or ``sleeve_shape``;
    a copy of the file ``model``) whose reading of a photo's garment mask is fused with the classifier's
    reading of that group (``weight`` in (0, 1]; None takes it away). In place; every other file and
    setting is kept."""
    name, load = _mask_reader_kind(key)
    ed = load_pretrained(editor, kind="amgan-editor")
    settings = dict(ed.model.get("editor") or {})
    keep = _other_files(editor, name)
    if weight is None:
        settings.pop(key, None)
    else:
        if not 0.0 < float(weight) <= 1.0:
            raise CheckpointError(f"--weight must be in (0, 1], got {weight}")
        from amgan.attributes import Schema

        load(model, Schema.from_dict(ed.schema))  # refused here if it does not fit
        keep[name] = Path(model).read_bytes()
        settings[key] = {"weight": float(weight), "sha256": hashlib.sha256(keep[name]).hexdigest()}
    p = Pretrained("amgan-editor", ed.weights, {**ed.model, "editor": settings}, ed.image_processor, ed.schema,
                   ed.info, {**ed.card, **(card or {})})
    return save_pretrained(editor, p, extra_files=keep)


def attach_namer(editor, namer, *, weight: float | None, card: dict | None = None) -> Path:
    """:func:`attach_mask_reader` for the colour namer (:data:`NAMER_FILE`)."""
    return attach_mask_reader(editor, "colour_namer", namer, weight=weight, card=card)


def _use_int8(ed, p: Pretrained, required: bool) -> None:
    from amgan.nets.int8 import INT8_FILE, load_int8

    folder = Path(p.path) if p.path and Path(p.path).is_dir() else None
    if ed.device.type != "cpu" or folder is None or not (folder / INT8_FILE).is_file():
        if required:
            raise CheckpointError(f"{p.path}: no int8 generator here ({INT8_FILE} in a model folder, CPU only; "
                                  "make one with `amgan quantize`)")
        return
    g8 = load_int8(ed.G, folder)
    if g8 is None and required:
        raise CheckpointError(f"{folder / INT8_FILE}: cannot be used with this PyTorch (see the warning above)")
    if g8 is not None:
        g8.trace(ed.size)  # photos are edited one at a time: that pass traced
        ed.G = g8


def load_editor(path, device=None, int8: bool | None = None):
    """An :class:`amgan.editor.Editor` from an editor model (folder or legacy file); ``int8``: see
    :func:`build_editor`."""
    return build_editor(load_pretrained(path, kind="amgan-editor"), device, int8=int8)


# ---------------------------------------------------------------- command line
def convert(src, dst, *, card: dict | None = None, keep: tuple[str, ...] = (), info: dict | None = None) -> Path:
    """A legacy single-file checkpoint -> a model folder (weights unchanged, bit for bit).

    ``keep``: files beside ``src`` to carry into the folder (PROVENANCE.md, metrics.json, ...).
    """
    p = load_pretrained(src)
    p.card = card or p.card
    p.info = {**{k: v for k, v in p.info.items() if k != "config"}, **(info or {}), "converted_from": Path(src).name}
    extras = {name: (Path(src).parent / name).read_bytes() for name in keep if (Path(src).parent / name).is_file()}
    return save_pretrained(dst, p, extra_files=extras)


def compose_editor(generator_from, classifier, dst, *, card: dict | None = None) -> Path:
    """A new editor: the generator of the editor ``generator_from`` with another CAM classifier
    (e.g. a reader that reads photos) that keeps its own image processor. The two must share
    the attribute schema; the weights of both are copied unchanged."""
    ed = load_pretrained(generator_from, kind="amgan-editor")
    c = load_pretrained(classifier, kind="classifier")
    if c.schema != ed.schema:
        raise CheckpointError(f"{classifier} reads another schema than {generator_from}'s generator edits")
    model = {"generator": ed.model["generator"],
             "classifier": {**c.model, "image_processor": c.image_processor.to_dict()}}
    info = {"generator_from": {"path": str(generator_from), "model_id": model_id(generator_from),
                               "step": ed.info.get("step")},
            "classifier_from": {"path": str(classifier), "model_id": model_id(classifier)},
            "metrics": {"classifier": c.info.get("metrics")}}
    p = Pretrained("amgan-editor", {"G": ed.weights["G"], "classifier": c.weights["classifier"]}, model,
                   ed.image_processor, ed.schema, info, card or {})
    return save_pretrained(dst, p)


def _other_files(folder, *also: str) -> dict[str, bytes]:
    """The files of a model folder besides its own (config, weights, card) and ``also``: {name: bytes}, to
    carry into the folder rewritten in place."""
    return {f.name: f.read_bytes() for f in Path(folder).iterdir()
            if f.is_file() and f.name not in (CONFIG, WEIGHTS, CARD, *also)}


def replace_classifier(editor, classifier, *, card: dict | None = None, new_input: bool = False) -> Path:
    """Put another CAM classifier of the same architecture (e.g. a retrained photo reader) into the
    editor folder ``editor``, in place: the generator, the editor's settings (``model.editor``) and
    every other file of the folder (``int8.pt``: the generator's; ``PROVENANCE.md``) are kept; the
    classifier's weights take the dtype the editor stores. ``card``: model card fields to update.

    ``new_input``: the classifier may read another input (its own image processor, e.g. a reader
    trained at 192 px beside a 128-px generator; the editor reads photos through it); without it a
    classifier whose input differs from the one it replaces is refused."""
    ed = load_pretrained(editor, kind="amgan-editor")
    c = load_pretrained(classifier, kind="classifier")
    if c.schema != ed.schema:
        raise CheckpointError(f"{classifier} reads another schema than {editor}'s generator edits")
    have = {k: v for k, v in ed.model["classifier"].items() if k != "image_processor"}
    same_input = ed.model["classifier"].get("image_processor") == c.image_processor.to_dict()
    if have != c.model or not (same_input or new_input):
        raise CheckpointError(f"{classifier} is not the same architecture and input as {editor}'s classifier "
                              f"({c.model} against {have}, input {c.image_processor.to_dict()} against "
                              f"{ed.model['classifier'].get('image_processor')}); --new-input allows another input")
    model = {**ed.model, "classifier": {**c.model, "image_processor": c.image_processor.to_dict()}}
    dtype = next(iter(ed.weights["classifier"].values())).dtype
    weights = {**ed.weights, "classifier": {k: v.to(dtype) if v.is_floating_point() else v
                                            for k, v in c.weights["classifier"].items()}}
    info = {**ed.info, "classifier_from": {"path": str(classifier), "model_id": model_id(classifier)}}
    keep = _other_files(editor)
    p = Pretrained("amgan-editor", weights, model, ed.image_processor, ed.schema, info, {**ed.card, **(card or {})})
    return save_pretrained(editor, p, extra_files=keep)


def main(argv=None) -> int:
    """``python -m amgan.pretrained convert SRC DST [--card CARD.json] [--keep NAME ...]``, ``compose-editor``,
    or ``card DIR``."""
    import argparse
    import sys

    from amgan.errors import UserError

    ap = argparse.ArgumentParser(prog="python -m amgan.pretrained", description="model folders: convert, card")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="a legacy single-file checkpoint -> a model folder")
    c.add_argument("src")
    c.add_argument("dst")
    c.add_argument("--card", help="JSON file with the model card fields")
    c.add_argument("--keep", nargs="*", default=[], help="files beside SRC to carry into the folder")
    c.add_argument("--info", help="JSON object merged into the config's info (e.g. an updated embedder_id)")
    ce = sub.add_parser("compose-editor", help="an editor's generator with another CAM classifier")
    ce.add_argument("--generator-from", required=True, help="the editor whose generator is taken")
    ce.add_argument("--classifier", required=True, help="the classifier (e.g. a reader) to pair it with")
    ce.add_argument("--out", required=True)
    ce.add_argument("--card", help="JSON file with the model card fields")
    rc = sub.add_parser("replace-classifier", help="an editor folder with another classifier of the same "
                        "architecture (in place; settings and other files kept)")
    rc.add_argument("--editor", required=True, help="the editor folder to change")
    rc.add_argument("--classifier", required=True, help="the classifier (e.g. a retrained reader)")
    rc.add_argument("--new-input", action="store_true",
                    help="allow a classifier that reads another input size (its own image processor is kept)")
    rc.add_argument("--card", help="JSON file with model card fields to update")
    for cmd, flag, what, trained_by in (("attach-namer", "--namer", "a photo's colour with a colour namer",
                                         "the colour namer file (amgan data train-namer)"),
                                        ("attach-sleeve-shape", "--model", "a photo's sleeves from the garment's "
                                         "outline", "the sleeve-shape file (amgan data train-sleeve-shape)")):
        an = sub.add_parser(cmd, help=f"an editor folder reads {what} too (in place; settings and other files kept)")
        an.add_argument("--editor", required=True, help="the editor folder to change")
        an.add_argument(flag, help=trained_by)
        an.add_argument("--weight", type=float, help="its share of the fused reading, in (0, 1]")
        an.add_argument("--remove", action="store_true", help="take it away instead")
        an.add_argument("--card", help="JSON file with model card fields to update")
    k = sub.add_parser("card", help="print the model card of a model folder")
    k.add_argument("folder")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "convert":
            card = json.loads(Path(args.card).read_text()) if args.card else None
            out = convert(args.src, args.dst, card=card, keep=tuple(args.keep),
                          info=json.loads(args.info) if args.info else None)
            print(json.dumps({"out": str(out), "model_id": model_id(out)}))
        elif args.cmd == "compose-editor":
            card = json.loads(Path(args.card).read_text()) if args.card else None
            out = compose_editor(args.generator_from, args.classifier, args.out, card=card)
            print(json.dumps({"out": str(out), "model_id": model_id(out)}))
        elif args.cmd == "replace-classifier":
            card = json.loads(Path(args.card).read_text()) if args.card else None
            out = replace_classifier(args.editor, args.classifier, card=card, new_input=args.new_input)
            print(json.dumps({"out": str(out), "model_id": model_id(out)}))
        elif args.cmd in ("attach-namer", "attach-sleeve-shape"):
            key, flag, model = (("colour_namer", "--namer", args.namer) if args.cmd == "attach-namer"
                                else ("sleeve_shape", "--model", args.model))
            if args.remove == bool(model or args.weight is not None):
                raise UserError(f"{args.cmd}: give {flag} and --weight, or --remove")
            if not args.remove and not (model and args.weight is not None):
                raise UserError(f"{args.cmd}: give both {flag} and --weight")
            card = json.loads(Path(args.card).read_text()) if args.card else None
            out = attach_mask_reader(args.editor, key, model, weight=None if args.remove else args.weight, card=card)
            print(json.dumps({"out": str(out), "model_id": model_id(out)}))
        else:
            print(render_card(load_pretrained(args.folder)), end="")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
