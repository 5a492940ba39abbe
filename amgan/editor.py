"""The Editor: AMGAN inference on any PIL image.

    ed = Editor.from_checkpoint("checkpoints/amgan_synth64")
    ed.predict(img)                                  # {group: {value: prob}}
    res = ed.edit(img, {"color": "red"}, region="sleeves")
    res.image, res.mask, res.cam                     # PIL, at the input's size

Images of any size and mode go through the model's :class:`amgan.image.ImageProcessor`
(EXIF orientation, padded to a square with their border colour, resized to the model's
resolution), are edited there, and restored as ``x + up(y - x_small)`` on the photo's own
pixels: outside the attention mask nothing changes, inside it the low frequencies come
from the edit and the fine detail from the photo; at the model's resolution it is ``y``.
Several groups in one request are applied one after another (the generator was trained
to change one group per pass); the returned mask is their union.

Region-specific edits follow the paper: the attention mask of a "sleeveless" edit,
thresholded at 0.9, marks the sleeves; a colour or pattern edit is then kept only inside
it (``region="sleeves"``) or only outside it (``region="torso"``).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from amgan.attributes import Schema, SchemaError
from amgan.composite import composite, matte_coefficients, to_grid, work_size, worker_pool
from amgan.conditioning import group_onehot, manip_onehot
from amgan.errors import RequestError
from amgan.image import ImageProcessor
from amgan.nets import check_shape
from amgan.nets.classifier import AttributeClassifier
from amgan.nets.generator import Generator
from amgan.pattern import DRAWN_PATTERNS, PATTERN_METHODS
from amgan.reshape import SLEEVE_METHODS

REGIONS = (None, "whole", "sleeves", "torso", "sleeves+torso")


@dataclass
class EditResult:
    image: Image.Image  # the edit, input size, RGB
    mask: Image.Image  # attention a in [0,255], input size, L
    cam: Image.Image  # CAM of the input's current value of the first edited group, input size, L
    request: dict
    region: str | None
    source_attributes: dict  # the values the edit started from (classifier reading + ``source``)
    timings: dict = field(default_factory=dict)  # seconds per stage
    background_kept: bool = False  # the change was gated by the photo's garment mask (Editor.edit)
    caveats: list = field(default_factory=list)  # the model's known weaknesses for the groups edited
    method: str = "generator"  # who made the change: "generator", "outline" (a photo's sleeves reshaped),
    # "generator+outline" (a colour or pattern by the generator, then the sleeves by the outline), or "none" (a
    # sleeve-length request the outline could not make: the photo as it was, the caveat says why), "drawn" (a
    # pattern drawn on a photo's garment, amgan.pattern) or "generator+drawn" (a colour, then the pattern drawn)

    @property
    def target_attributes(self) -> dict:
        return {**self.source_attributes, **self.request}


@dataclass
class BatchEdit:
    """Model-resolution results of :meth:`Editor.edit_batch`, all [B,*,S,S] in [0,1]."""

    y: torch.Tensor  # the edit
    a: torch.Tensor  # attention mask (union over passes, kept to the region)
    cam: torch.Tensor | None  # CAM of the source value of the first edited group
    source_labels: torch.Tensor  # [B,G] the values the edit started from
    target_labels: torch.Tensor  # [B,G] source with the request put in


def _check_spread(value) -> float:
    """A colour_spread setting as a float in [0, 1] (nan and non-numbers refused)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"colour_spread must be a number in [0, 1], got {str(value)[:40]!r}") from None
    if not 0.0 <= v <= 1.0:  # also refuses nan
        raise ValueError(f"colour_spread must be in [0, 1], got {value}")
    return v


def _to_pil(t: torch.Tensor) -> Image.Image:
    """[1,C,H,W] in [0,1] -> PIL (RGB for 3 channels, L for 1)."""
    arr = (t[0].permute(1, 2, 0).float().cpu().numpy() * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


class Editor:
    """The one owner of the edit: reads the photo, builds the target, runs the generator (one
    pass per requested group), keeps region edits to their region and composites at the
    photo's resolution. The evaluations, the pipeline in :mod:`fir.pipeline`, the CLI and the
    demo all call it; nothing else runs the generator."""

    def __init__(self, G: Generator, C: AttributeClassifier, schema: Schema, processor: ImageProcessor | int,
                 device=None, reader_processor: ImageProcessor | None = None, attention_floor: float = 0.0,
                 colour_spread: float = 0.0, caveats: Mapping[str, str] | None = None,
                 colour_calibration: Mapping[str, list] | None = None, colour_namer=None,
                 colour_namer_weight: float = 0.0, sleeve_shape=None, sleeve_shape_weight: float = 0.0):
        """``processor``: the generator's image path; ``reader_processor``: the CAM classifier's own
        (a reader trained at a higher resolution than the generator), None = the generator's.
        ``attention_floor`` t: the generator's mask a becomes ``a * clip((a - t) / t, 0, 1)`` (0 below
        t, a ramp to a at 2t), cutting the faint attention a short training run spreads over the
        background; 0 = the mask as trained. ``colour_spread`` s in [0, 1]: how far a whole-garment
        colour edit of a photo is evened out into one colour transform for the garment
        (:func:`amgan.composite.recolour_maps`; 0 = the generator's local colour as is). ``caveats``:
        {group: what the model is known to do badly when that group is edited} (measured, from its
        model card), returned with every edit of the group (:attr:`EditResult.caveats`) so the CLI
        and the demo can say it. ``colour_calibration``: {colour name: [dL*, da*, db*]}, the CIELAB offset
        added to the edit's colour when a photo is recoloured to that name (fitted on train photos by
        :mod:`amgan.colour_calibration`; none = the generator's colour as is). All four are settings
        saved with the model (``config.json``, ``editor``).

        ``colour_namer``: a :class:`amgan.data.colour_namer.ColourNamer` (the model folder's
        ``colour_namer.json``) that also reads a photo's colour from its garment pixels (the GrabCut
        mask the edit computes anyway); the reading is then the product of the two,
        :func:`amgan.data.colour_namer.fuse` with ``colour_namer_weight`` in (0, 1] (setting
        ``colour_namer.weight``). ``sleeve_shape``: a :class:`amgan.data.sleeve_shape.SleeveShape` (the
        folder's ``sleeve_shape.pt``) that reads the sleeve length from the same mask's outline, fused
        the same way with ``sleeve_shape_weight`` (setting ``sleeve_shape.weight``). A tensor batch
        (:meth:`read_labels`) is read by the classifier alone."""
        if not 0.0 <= float(attention_floor) < 0.5:
            raise ValueError(f"attention_floor must be in [0, 0.5), got {attention_floor}")
        self.attention_floor = float(attention_floor)
        self.colour_spread = _check_spread(colour_spread)
        self.caveats = _check_caveats(caveats or {}, schema)
        self.colour_calibration = _check_calibration(colour_calibration or {}, schema)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.G = G.to(self.device).eval().requires_grad_(False)
        self.C = C.to(self.device).eval().requires_grad_(False)
        self.schema = schema
        self.processor = processor if isinstance(processor, ImageProcessor) else ImageProcessor(size=int(processor))
        self.size = self.processor.size
        self.reader_processor = reader_processor or self.processor
        for key, group, reader, values, weight in (
                ("colour_namer", "color", colour_namer, getattr(colour_namer, "colours", ()), colour_namer_weight),
                ("sleeve_shape", "sleeve", sleeve_shape, getattr(sleeve_shape, "values", ()), sleeve_shape_weight)):
            if reader is None:
                continue
            if group not in schema.names or set(values) != set(schema.group(group).values):
                raise ValueError(f"the {key} reads other {group} values than the schema's")
            if not 0.0 < float(weight) <= 1.0:
                raise ValueError(f"{key}.weight must be in (0, 1], got {weight}")
        self.colour_namer, self.colour_namer_weight = colour_namer, float(colour_namer_weight)
        self.sleeve_shape, self.sleeve_shape_weight = sleeve_shape, float(sleeve_shape_weight)

    @property
    def mask_readers(self) -> dict[str, float]:
        """{group: weight} of the groups also read from the garment mask (the colour namer, the sleeve shape)."""
        out = {}
        if self.colour_namer is not None:
            out["color"] = self.colour_namer_weight
        if self.sleeve_shape is not None:
            out["sleeve"] = self.sleeve_shape_weight
        return out

    def _reader_input(self, x: torch.Tensor) -> torch.Tensor:
        """Generator-resolution images -> the classifier's resolution (for batches; a photo is read
        from its own pixels by :meth:`edit` and :meth:`predict`)."""
        s = self.reader_processor.size
        if x.shape[-1] == s:
            return x
        return F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=x.shape[-1] > s)

    def caveats_for(self, groups) -> list[str]:
        """The model's caveats for the edited ``groups`` (names), in schema order, each once."""
        return [self.caveats[g] for g in self.schema.names if g in self.caveats and g in set(groups)]

    @classmethod
    def from_checkpoint(cls, path: str | Path, device=None, int8: bool | None = None) -> "Editor":
        """An editor from its saved form (a model folder, or a legacy ``editor.pt`` file). ``int8``: the
        generator's body in int8 from the folder's ``int8.pt`` (None: when there is one and the
        device is the CPU; False: float)."""
        from amgan.pretrained import load_editor

        return load_editor(path, device=device, int8=int8)

    from_pretrained = from_checkpoint

    # ---- reading
    @torch.no_grad()
    def predict_tensor(self, x: torch.Tensor, *, reader_input: bool = False) -> list[torch.Tensor]:
        """Softmax per group of images at the generator's resolution (or, with ``reader_input``,
        already at the classifier's)."""
        return [lg.softmax(1) for lg in self.C(x if reader_input else self._reader_input(x))]

    def predict(self, image) -> dict[str, dict[str, float]]:
        """{group: {value: probability}} of one photo: the classifier's reading, its colour fused with
        the colour namer's reading of the garment's pixels and its sleeve with the sleeve-shape
        model's reading of the garment's outline, where the editor has them."""
        probs = self.predict_probs(image)
        return {g.name: {v: round(float(p), 4) for v, p in zip(g.values, pr.tolist())}
                for g, pr in zip(self.schema.groups, probs)}

    def predict_probs(self, image) -> list[np.ndarray]:
        """Per-group probabilities (float arrays in schema order) of one photo, as :meth:`predict`."""
        groups = tuple(self.mask_readers)
        if not groups:
            x = self.reader_processor.preprocess(image, self.device).tensor
            return [p[0].cpu().numpy() for p in self.predict_tensor(x, reader_input=True)]
        proxy = _proxy(self.processor.load(image))
        work = _work_image(proxy)
        with _core_for_mask(self.device.type == "cpu"):
            seg = worker_pool().submit(self._garment_readings, work, groups)
            x = self.reader_processor.preprocess(proxy, self.device).tensor
            probs = [p[0].cpu().numpy() for p in self.predict_tensor(x, reader_input=True)]
            readings = seg.result()[1]
        for g in groups:
            gi = self.schema.group_index(g)
            probs[gi] = self._fused(g, probs[gi], readings[g])
        return probs

    def _garment_readings(self, work: np.ndarray, groups: tuple[str, ...],
                          iterations: int | None = None) -> tuple[np.ndarray | None, dict[str, np.ndarray | None]]:
        """(the garment mask at GrabCut's size or None, {group: the mask reader's probabilities over the
        schema's values of that group, or None}) for ``groups`` among :attr:`mask_readers`: what the
        edit's worker thread computes beside the models. ``iterations``: GrabCut's (:func:`garment_mask_small`)."""
        from amgan.data.garment_mask import upsample_mask

        garment = garment_mask_small(work, iterations)
        out: dict[str, np.ndarray | None] = {g: None for g in groups}
        if garment is None:
            return None, out
        if "color" in groups:
            out["color"] = self.colour_namer.colour_probs(work, upsample_mask(garment, work.shape[:2]),
                                                          tuple(self.schema.group("color").values))
        if "sleeve" in groups:
            out["sleeve"] = self.sleeve_shape.probs(garment, tuple(self.schema.group("sleeve").values))
        return garment, out

    def _readings_then_matte(self, work: np.ndarray, groups: tuple[str, ...], found: Future):
        """A whole-garment colour or pattern edit's worker: :meth:`_garment_readings` (GrabCut with
        :data:`COLOUR_MASK_ITERATIONS`) given to ``found`` (or its error), then the garment's matte
        (:func:`~amgan.composite.matte_coefficients`, ~15 ms at 400x533; None without a garment) returned, computed
        while the main thread generates and starts the composite."""
        try:
            garment, readings = self._garment_readings(work, groups, COLOUR_MASK_ITERATIONS)
        except BaseException as e:
            found.set_exception(e)
            raise
        found.set_result((garment, readings))
        return None if garment is None else matte_coefficients(work, garment)

    def _fused(self, group: str, p_reader: np.ndarray, p_mask: np.ndarray | None) -> np.ndarray:
        """The probabilities of a photo's ``group`` read by both the classifier (``p_reader``) and that
        group's mask reader (``p_mask``; None: no garment found, the classifier's alone), a product of
        experts with the reader's weight (:func:`amgan.data.colour_namer.fuse`)."""
        from amgan.data.colour_namer import fuse

        return p_reader if p_mask is None else fuse(p_reader, p_mask, self.mask_readers[group])

    def read_labels(self, x: torch.Tensor, source=None, *, reader_input: bool = False) -> torch.Tensor:
        """[B,G] source labels: the classifier's reading, with the known values put in.

        ``source``: ``{group: value}`` (the same for the whole batch), or a [B,G] tensor whose
        entries >= 0 replace the reading (-1: unknown, read by the classifier).
        """
        if (isinstance(source, torch.Tensor) and tuple(source.shape) == (len(x), len(self.schema.groups))
                and bool((source >= 0).all())):
            return source.to(self.device).long()  # every value known: nothing to read
        return self._with_source(self.predict_tensor(x, reader_input=reader_input), source)

    def _with_source(self, scores: list[torch.Tensor], source) -> torch.Tensor:
        """Per-group scores (logits or probabilities) -> [B,G] labels (argmax), with the known values
        of ``source`` put in."""
        labels = torch.stack([p.argmax(1) for p in scores], 1)
        if source is None:
            return labels
        if isinstance(source, torch.Tensor):
            src = source.to(labels.device).long()
            if src.shape != labels.shape:
                raise ValueError(f"source labels have shape {tuple(src.shape)}, expected {tuple(labels.shape)}")
            return torch.where(src >= 0, src, labels)
        if not isinstance(source, Mapping):
            raise SchemaError(f"source must be a mapping group -> value, got {type(source).__name__}")
        labels = labels.clone()
        for g, v in self.schema.validate_values(source).items():
            labels[:, self.schema.group_index(g)] = self.schema.group(g).index(v)
        return labels

    # ---- editing at the model's resolution
    def _requests(self, request, batch: int) -> dict[str, torch.Tensor]:
        """{group: value name | index | [B] tensor} -> {group: [B] value indices}."""
        out = {}
        for g, v in request.items():
            grp = self.schema.group(g)
            if isinstance(v, torch.Tensor):
                t = v.to(self.device).long().reshape(-1)
                if t.numel() == 1:
                    t = t.expand(batch)
                if t.numel() != batch:
                    raise ValueError(f"request for {g!r} has {t.numel()} values for a batch of {batch}")
            else:
                t = torch.full((batch,), grp.index(v) if isinstance(v, str) else int(v), device=self.device)
            out[grp.name] = t
        return out

    def _target(self, labels: torch.Tensor, request: dict) -> torch.Tensor:
        """[B,G] ``labels`` with the values of ``request`` put in: what :meth:`_generate` conditions on."""
        cur = labels.clone()
        for g, v in self._requests(request, len(labels)).items():
            cur[:, self.schema.group_index(g)] = v
        return cur

    @torch.no_grad()
    def _generate(self, x: torch.Tensor, labels: torch.Tensor, request: dict[str, torch.Tensor]):
        """One generator pass per requested group. -> (y, target labels, union of masks a)."""
        y, a_all, cur = x, torch.zeros_like(x[:, :1]), labels.clone()
        t = self.attention_floor
        for gname, values in request.items():
            cur[:, self.schema.group_index(gname)] = values
            x_in = y
            y, z, a = self.G(x_in, manip_onehot(cur, self.schema), group_onehot(gname, self.schema, len(x), x.device))
            if t > 0:  # y = a*z + (1-a)*x with the floored mask
                a = a * ((a - t) / t).clamp(0, 1)
                y = a * z + (1 - a) * x_in
            a_all = torch.maximum(a_all, a)
        return y, cur, a_all

    @torch.no_grad()
    def sleeve_region(self, x: torch.Tensor, labels: torch.Tensor, threshold: float = 0.9) -> torch.Tensor:
        """The paper's sleeve mask: attention of a 'sleeveless' edit, thresholded. [B,1,S,S] in {0,1}."""
        if "sleeve" not in self.schema.names or "sleeveless" not in self.schema.group("sleeve").values:
            raise SchemaError("region edits need a 'sleeve' group with a 'sleeveless' value in the schema")
        _, _, a = self._generate(x, labels, self._requests({"sleeve": "sleeveless"}, len(x)))
        m = (a > threshold).float()
        weak = m.flatten(1).sum(1) == 0  # a weak mask: the paper's rule relative to its maximum
        if weak.any():
            m[weak] = (a[weak] > threshold * a[weak].amax(dim=(2, 3), keepdim=True)).float()
        return m

    @torch.no_grad()
    def edit_batch(self, x: torch.Tensor, request, *, source=None, region: str | None = None,
                   torso_request=None, cam: bool = True) -> BatchEdit:
        """Edit a batch at the model's resolution: the path every door and evaluation shares.

        ``x``: [B,3,S,S] in [0,1] (from :attr:`processor`). ``request``: ``{group: value}``, where
        a value may be a [B] tensor of value indices (one target per item). ``source``: see
        :meth:`read_labels`. ``region`` (colour/pattern edits only):

        - ``None`` / ``"whole"``: the whole garment;
        - ``"sleeves"`` / ``"torso"``: the paper's region-specific edit, kept inside / outside the
          sleeve mask (:meth:`sleeve_region`);
        - ``"sleeves+torso"``: two region passes, the sleeves first, then the torso on that result
          (``torso_request`` gives the torso another value, e.g. red sleeves on a blue body;
          by default the torso gets the same request).
        """
        region = None if region == "whole" else region
        if region not in REGIONS:
            raise RequestError(f"unknown region {region!r}; valid regions: whole, sleeves, torso, sleeves+torso")
        check_shape(x, ["B", 3, self.size, self.size], "Editor.edit_batch x")
        x = x.to(self.device)
        req = self._requests(request, len(x))
        if region and "sleeve" in req:
            raise RequestError(REGION_NOT_SLEEVE)
        labels = self.read_labels(x, source)
        y, target, a = self._generate(x, labels, req)
        if region:
            m = self.sleeve_region(x, labels)
            if region == "sleeves+torso":
                y1 = m * y + (1 - m) * x  # pass 1: the sleeves
                treq = req if torso_request is None else self._requests(torso_request, len(x))
                if "sleeve" in treq:
                    raise RequestError("torso_request cannot change the sleeve length")
                y2, t2, a2 = self._generate(y1, target, treq)  # pass 2: the torso, on the result of pass 1
                y = (1 - m) * y2 + m * y1
                a = torch.maximum(a * m, a2 * (1 - m))
                if torso_request is not None:
                    target = t2
            else:
                keep = m if region == "sleeves" else 1.0 - m
                a = a * keep
                y = keep * y + (1 - keep) * x
        c = None
        if cam:
            gi = self.schema.group_index(next(iter(req)))
            c = self.C.cam(self._reader_input(x), gi, labels[:, gi], size=self.size)
        return BatchEdit(y=y, a=a, cam=c, source_labels=labels, target_labels=target)

    # ---- editing a photo
    def edit(self, image, request, region: str | None = None, source: Mapping[str, str] | None = None,
             torso_request=None, keep_background: bool = True, colour_spread: float | None = None,
             sleeve_method: str = "outline", pattern_method: str = "drawn") -> EditResult:
        """Edit ``image`` as ``request`` asks ("make it red", {"color": "red"}) inside ``region``.

        ``source``: attribute values known from elsewhere (catalogue metadata, FLAM's reading of a
        street photo, a person's correction), {group: value}; they replace the CAM classifier's
        reading for those groups, which matters because the generator is conditioned on the whole
        target attribute vector. See :meth:`edit_batch` for ``region`` and ``torso_request``.

        ``keep_background``: a colour or pattern edit only changes the garment's pixels: the change
        is gated by a soft garment mask of the photo (:func:`background_gate`, GrabCut), so the
        floor or the wall behind keeps its pixels where the generator's attention spills over. Not
        applied to sleeve and neckline edits (they add or remove garment), nor when no garment is
        found (under 5% of the photo).

        ``colour_spread``: this edit's evenness of a whole-garment colour edit, in [0, 1] (None: the
        editor's own :attr:`colour_spread`); 1 = one dye over the whole garment. The editor is not changed.

        ``sleeve_method``: how a sleeve-length request (whole garment) changes a photo whose garment
        was found: "outline" (default) cuts the sleeves back, takes them off or draws them longer from the
        garment's outline (:mod:`amgan.reshape`; long sleeves lying along the body are cut at the outer share
        of the width where such sleeves lie, with a caveat); where it cannot (a sleeve running out of the photo,
        no sleeves found), the sleeves are left as they are and a caveat says why (``method``
        "none", or the colour or pattern of the same request alone): on photos the generator's own sleeve
        edit seldom changes the sleeves and often smears their colour. "outline+generator" falls back to the
        generator's edit there instead (it does reshape SynthFashion renders), "generator" always uses the
        generator. With a colour or pattern in the same request ("red with long sleeves") the generator
        makes that change and the outline then reshapes the edited photo's sleeves (new sleeves in the new
        colour). ``EditResult.method`` says which did.

        ``pattern_method``: how a request for a pattern of :data:`amgan.pattern.DRAWN_PATTERNS` (striped, checked,
        dotted, floral) changes the whole garment of a photo: "drawn" (default) draws it on the garment
        (:mod:`amgan.pattern`: the garment's matte, an ink that stands out from its colour, the photo's shading and
        prints kept; ``method`` "drawn", or "generator+drawn" after a colour in the same request); on photos the
        generator tints the garment and draws no pattern. "generator" uses the generator. "solid", a region, a
        torso request or ``keep_background=False``, and a photo without a garment found, use the generator.
        """
        spread = self.colour_spread if colour_spread is None else _check_spread(colour_spread)
        if sleeve_method not in SLEEVE_METHODS:
            raise RequestError(f"unknown sleeve_method {sleeve_method!r}; valid: {', '.join(SLEEVE_METHODS)}")
        if pattern_method not in PATTERN_METHODS:
            raise RequestError(f"unknown pattern_method {pattern_method!r}; valid: {', '.join(PATTERN_METHODS)}")
        req = self.schema.parse_edit(request) if isinstance(request, str) else self.schema.validate_edit(request)
        if (pattern_method == "drawn" and req.get("pattern") in DRAWN_PATTERNS and set(req) <= GATED_GROUPS
                and torso_request is None and keep_background and region in (None, "whole")):
            rest = {k: v for k, v in req.items() if k != "pattern"}
            base = None
            if rest:  # "red and striped": the colour by the generator, then the pattern drawn on it
                with ExitStack() as hold:
                    base = self._edit(image, rest, region, source, None, keep_background, spread, sleeve_method,
                                      hold)
            drawn = self._drawn_pattern(image, req, source, base)
            if drawn is not None:
                return drawn  # else no garment was found: the generator makes the whole request
        with ExitStack() as hold:  # see _edit: one core kept free while the worker makes the matte, to the edit's end
            return self._edit(image, request, region, source, torso_request, keep_background, spread, sleeve_method,
                              hold)

    def _read_photo(self, proxy: Image.Image, x: torch.Tensor, source) -> tuple[list, torch.Tensor, torch.Tensor]:
        """The classifier's reading of a photo at its own resolution, once (its map gives the CAM too):
        (logits per group, feature map, [1, G] labels with the known values of ``source`` put in); ``x``: the
        model's input, reused where the classifier's size is the model's."""
        rx = (self.reader_processor.preprocess(proxy, self.device).tensor
              if self.reader_processor.size != self.size else x)
        with torch.no_grad():
            logits, fmap = self.C.read(rx)
        return logits, fmap, self._with_source(logits, source)

    def _fuse_readings(self, labels: torch.Tensor, logits: list, readings: dict, groups) -> torch.Tensor:
        """``labels`` with every group a mask reader read (``groups``) set to the product of the two readings."""
        labels = labels.clone()
        for g in groups:
            gi = self.schema.group_index(g)
            labels[:, gi] = int(self._fused(g, logits[gi][0].softmax(0).cpu().numpy(), readings[g]).argmax())
        return labels

    def _drawn_pattern(self, image, request: dict, source, base: EditResult | None) -> EditResult | None:
        """``request``'s pattern drawn on the photo's garment (:func:`amgan.pattern.draw_pattern`), on ``base`` (the
        photo after the request's colour) when given; None when no garment is found (the caller uses the generator)."""
        from amgan.pattern import PatternError, draw_pattern

        times: dict = {}
        t = time.perf_counter()
        rgb = self.processor.load(image)
        proxy = _proxy(rgb)
        work = _work_image(proxy)
        mask_groups = tuple(g for g in self.mask_readers if not (isinstance(source, Mapping) and g in source))
        times["preprocess"] = time.perf_counter() - t
        t = time.perf_counter()
        with _core_for_mask(self.device.type == "cpu"):
            seg = worker_pool().submit(self._garment_readings, work, mask_groups, MASK_ITERATIONS)
            x, _, geom = self.processor.preprocess(proxy, self.device)
            logits, fmap, labels = self._read_photo(proxy, x, source)
            times["classify"] = time.perf_counter() - t
            t = time.perf_counter()
            garment, readings = seg.result()
        times["segment"] = time.perf_counter() - t
        if garment is None:
            return None
        t = time.perf_counter()
        labels = (self._with_source(logits, base.source_attributes) if base is not None
                  else self._fuse_readings(labels, logits, readings, mask_groups))
        canvas = None if base is None else np.asarray(base.image.convert("RGB"))
        try:
            edited, changed = draw_pattern(np.asarray(rgb), work, garment, request["pattern"], canvas=canvas)
        except PatternError:
            return None
        times["draw"] = time.perf_counter() - t
        gi = self.schema.group_index("pattern")
        cam = to_grid(self.C.cam_from_map(fmap, gi, labels[:, gi], size=self.size), geom, garment.shape)[..., 0]
        cam = Image.fromarray((np.clip(cam, 0, 1) * 255 + 0.5).astype(np.uint8)).resize(rgb.size, Image.BILINEAR)
        mask = changed if base is None else np.maximum(np.asarray(base.mask), changed)
        res = EditResult(image=Image.fromarray(edited), mask=Image.fromarray(mask), cam=cam, request=dict(request),
                         region="whole", source_attributes=self.schema.decode(labels[0].cpu().numpy()),
                         background_kept=True, method="drawn" if base is None else "generator+drawn",
                         caveats=[PATTERN_NOTE] + ([c for c in base.caveats if c not in self.caveats_for({"pattern"})]
                                                    if base is not None else []))
        res.timings = {k: round(v, 4) for k, v in ((base.timings if base else {}) | times).items()}
        return res
        with ExitStack() as hold:  # see _edit: one core kept free while the worker makes the matte, to the edit's end
            return self._edit(image, request, region, source, torso_request, keep_background, spread, sleeve_method,
                              hold)

    def _photo_regions(self, garment: np.ndarray | None, labels: torch.Tensor, request: dict, region: str | None,
                       torso_request: dict | None) -> list[tuple[np.ndarray, dict]] | None:
        """The parts of a region edit of a photo: [(mask on GrabCut's grid, the part's request)], sleeves
        first, from the garment mask's outline and the sleeve length in ``labels``
        (:func:`amgan.data.sleeve_region.sleeve_mask`); None where the paper's attention mask is used
        instead (no region, no garment found, or a schema without sleeve lengths)."""
        if region in (None, "whole") or garment is None or "sleeve" not in self.schema.names:
            return None
        if "sleeve" in request or (torso_request and "sleeve" in torso_request):
            raise RequestError(REGION_NOT_SLEEVE)
        from amgan.data.sleeve_region import sleeve_mask

        sleeves, _ = sleeve_mask(garment, self._reading(labels, "sleeve"))
        torso = np.asarray(garment, bool) & ~sleeves
        if region == "sleeves":
            return [(sleeves, request)]
        if region == "torso":
            return [(torso, request)]
        return [(sleeves, request), (torso, request if torso_request is None else torso_request)]

    def _reading(self, labels: torch.Tensor, group: str) -> str | None:
        """The value of ``group`` in the first row of ``labels`` (indices); None for a group the schema lacks
        or an unknown value."""
        if group not in self.schema.names or int(labels[0, self.schema.group_index(group)]) < 0:
            return None
        return self.schema.group(group).values[int(labels[0, self.schema.group_index(group)])]

    def _sleeve_plan(self, garment: np.ndarray, labels: torch.Tensor, target: str, work: np.ndarray,
                     fallback: bool):
        """The outline's plan for a sleeve-length request (:func:`amgan.reshape.plan_sleeves`), or the caveat
        that says why the outline cannot make it (``fallback``: the caller then uses the generator; else the
        sleeves stay as they are)."""
        from amgan.reshape import ReshapeError, plan_sleeves

        source = self._reading(labels, "sleeve")
        try:  # (the category: a dress's sleeves along the body are cut only down to where they end)
            return plan_sleeves(garment, source, target, image=work, category=self._reading(labels, "category"))
        except ReshapeError as e:
            then = ("this is the generator's edit, which seldom changes a photo's sleeves." if fallback else
                    "they were left as they are (the 'outline+generator' sleeve method tries the generator instead, "
                    "which seldom changes a photo's sleeves and often smears their colour).")
            return f"The sleeves could not be reshaped from the garment's outline: {e}. They read as {source}; {then}"

    def _reshape(self, rgb: Image.Image, garment: np.ndarray, plan, labels: torch.Tensor, fmap: torch.Tensor,
                 geom: tuple, request: dict, times: dict, t: float) -> EditResult:
        """A sleeve-length request made from the garment's outline (:mod:`amgan.reshape`)."""
        from amgan.reshape import reshape_photo

        times["generate"] = time.perf_counter() - t  # the plan
        t = time.perf_counter()
        edited, changed = reshape_photo(np.asarray(rgb), garment, plan)
        cam = self._sleeve_cam(rgb, labels, fmap, geom, garment.shape)
        src = self.schema.decode(labels[0].cpu().numpy())
        res = EditResult(image=Image.fromarray(edited), mask=Image.fromarray(changed), cam=cam, request=dict(request),
                         region="whole", source_attributes=src, background_kept=True, method="outline",
                         caveats=_outline_notes(plan))
        times["composite"] = time.perf_counter() - t
        res.timings = {k: round(v, 4) for k, v in times.items()}
        return res

    def _sleeve_cam(self, rgb: Image.Image, labels: torch.Tensor, fmap: torch.Tensor, geom: tuple,
                    grid: tuple[int, int]) -> Image.Image:
        """The CAM of the photo's sleeve reading at the photo's size (an outline edit shows it)."""
        gi = self.schema.group_index("sleeve")
        cam = to_grid(self.C.cam_from_map(fmap, gi, labels[:, gi], size=self.size), geom, grid)[..., 0]
        return Image.fromarray((np.clip(cam, 0, 1) * 255 + 0.5).astype(np.uint8)).resize(rgb.size, Image.BILINEAR)

    def _unchanged(self, rgb: Image.Image, labels: torch.Tensor, fmap: torch.Tensor, geom: tuple,
                   garment: np.ndarray, request: dict, caveat: str, times: dict, t: float) -> EditResult:
        """A sleeve-length request the outline could not make: the photo as it was, with the reason."""
        times["generate"] = time.perf_counter() - t  # the plan
        t = time.perf_counter()
        cam = self._sleeve_cam(rgb, labels, fmap, geom, garment.shape)
        res = EditResult(image=rgb.copy(), mask=Image.new("L", rgb.size, 0), cam=cam, request=dict(request),
                         region="whole", source_attributes=self.schema.decode(labels[0].cpu().numpy()),
                         background_kept=True, method="none", caveats=[caveat])
        times["composite"] = time.perf_counter() - t
        res.timings = {k: round(v, 4) for k, v in times.items()}
        return res

    def _edit(self, image, request, region, source, torso_request, keep_background: bool,
              colour_spread: float, sleeve_method: str, hold: ExitStack) -> EditResult:
        times: dict = {}
        t = time.perf_counter()
        request = self.schema.parse_edit(request) if isinstance(request, str) else self.schema.validate_edit(request)
        if torso_request is not None:
            torso_request = (self.schema.parse_edit(torso_request) if isinstance(torso_request, str)
                             else self.schema.validate_edit(torso_request))
        if region not in REGIONS:
            raise RequestError(f"unknown region {region!r}; valid regions: whole, sleeves, torso, sleeves+torso")
        rgb = self.processor.load(image)  # upright RGB at the photo's own size (checked)
        proxy = _proxy(rgb)  # a large photo, box-reduced for the models (they see at most 128 px)
        work = _work_image(proxy)
        # the garment mask (GrabCut, ~45 ms of one core at 160 px) is found while the classifier reads the photo
        # ... and read by the mask readers (colour namer, sleeve shape) for the groups the person did not give
        mask_groups = tuple(g for g in self.mask_readers if not (isinstance(source, Mapping) and g in source))
        segmenting = keep_background or bool(mask_groups)
        times["preprocess"] = time.perf_counter() - t
        edited = set(request) | set(torso_request or ())
        # GrabCut's thread gets a core of its own while it runs (see _core_for_mask), and gives it back after
        # the mask readers; a colour or pattern edit of the whole garment finds its matte beside them
        early_ok = edited <= GATED_GROUPS and torso_request is None and region in (None, "whole")
        # ... then, for a colour or pattern edit of the whole garment, its matte, while this thread generates and
        # starts the composite (seg: the matte's future; found: the garment and the readings')
        found = Future() if early_ok and keep_background else None
        with _core_for_mask(segmenting and self.device.type == "cpu"):
            if found is not None:
                seg = worker_pool().submit(self._readings_then_matte, work, mask_groups, found)
            else:
                seg = (worker_pool().submit(self._garment_readings, work, mask_groups, MASK_ITERATIONS)
                       if segmenting else None)
            # the model's input is made once GrabCut has started (the mask thread is the longer path)
            t = time.perf_counter()
            x, _, geom = self.processor.preprocess(proxy, self.device)
            times["preprocess"] += time.perf_counter() - t
            t = time.perf_counter()
            # the classifier reads the photo at its own resolution, once: its map gives the CAM too
            logits, fmap, labels = self._read_photo(proxy, x, source)
            times["classify"] = time.perf_counter() - t
            t = time.perf_counter()
            # a colour or pattern edit of the whole garment is generated from the classifier's reading while GrabCut
            # still runs (on the core it would otherwise wait on), and kept where the fused reading gives the same
            # target (the generator sees the target alone: the source colour the colour namer corrects is replaced
            # anyway); else generated again, on as many threads (the int8 kernels round differently on one thread
            # and on two: the edit must not depend on which finished first)
            early = self.edit_batch(x, request, source=labels, cam=False) if seg is not None and early_ok else None
            times["generate_early"] = time.perf_counter() - t
            t = time.perf_counter()
            garment, readings = (found or seg).result() if seg is not None else (None, {})
            # the matte's future (whole-garment colour or pattern edits): the composite waits for it last
            matte = seg if found is not None and garment is not None else None
            times["segment"] = time.perf_counter() - t  # the wait for GrabCut and the mask readers
            t = time.perf_counter()
            if mask_groups:  # every group a mask reader reads: the product of the two readings
                labels = self._fuse_readings(labels, logits, readings, mask_groups)
            if early is not None and not torch.equal(early.target_labels, self._target(labels, request)):
                early = self.edit_batch(x, request, source=labels, cam=False)
            if matte is not None:  # torch's threads stay one fewer while the worker makes the matte (two beside
                hold.enter_context(_core_for_mask(self.device.type == "cpu"))  # it: 86 -> 95 ms); edit() releases them
        sleeve_caveat, sleeve_plan, full_request = None, None, request
        if (sleeve_method != "generator" and "sleeve" in edited and edited <= GATED_GROUPS | {"sleeve"}
                and torso_request is None and keep_background and garment is not None and region in (None, "whole")):
            fallback = sleeve_method == "outline+generator"
            plan = self._sleeve_plan(garment, labels, request["sleeve"], work, fallback)  # from the outline
            if isinstance(plan, str):
                sleeve_caveat = plan
                if not fallback and edited == {"sleeve"}:  # nothing to make: the photo as it was, and why
                    return self._unchanged(rgb, labels, fmap, geom, garment, request, plan, times, t)
                if not fallback:  # "red with long sleeves": the colour alone
                    request = {k: v for k, v in request.items() if k != "sleeve"}
                    edited = set(request)
            elif edited == {"sleeve"}:
                return self._reshape(rgb, garment, plan, labels, fmap, geom, request, times, t)
            else:  # "red with long sleeves": the colour or pattern by the generator, then the sleeves by the outline
                sleeve_plan = plan
                request = {k: v for k, v in request.items() if k != "sleeve"}
                edited = set(request)
        # a region edit of a photo whose garment was found: the sleeves from the garment's outline
        # (amgan.data.sleeve_region), the region applied by the composite at the photo's resolution
        parts = self._photo_regions(garment, labels, request, region, torso_request) if keep_background else None
        if early is not None:
            out = replace(early, source_labels=labels)
        elif parts is None:
            out = self.edit_batch(x, request, source=labels, region=region, torso_request=torso_request, cam=False)
        else:
            out = self.edit_batch(x, request, source=labels, cam=False)  # the whole garment, kept to each part
            parts = [(part, r, out if r is request else self.edit_batch(x, r, source=labels, cam=False))
                     for part, r in parts]
        gi = self.schema.group_index(next(iter(request)))
        out.cam = self.C.cam_from_map(fmap, gi, labels[:, gi], size=self.size)
        times["generate"] = time.perf_counter() - t
        t = time.perf_counter()
        # back at the photo's resolution (amgan.composite): colour/pattern edits move the photo's own
        # pixels to the edit's local colour; outline edits (sleeve, neckline) add the smoothed change;
        # both gated by an edge-aware garment matte (outline edits: matte or attention)
        groups = edited
        recolour = groups <= GATED_GROUPS
        if not keep_background:
            garment = None
        if not torch.isfinite(out.y).all():
            raise RuntimeError("the edit produced non-finite pixels (a broken model?)")
        spread = colour_spread if (groups == {"color"} and region in (None, "whole")) else 0.0
        shift = self.colour_calibration.get(request.get("color")) if recolour and torso_request is None else None
        neutral = groups == {"color"} and torso_request is None and request.get("color") in NEUTRAL_COLOURS
        caveats = []
        if parts is None:
            edited, mask, cam = composite(np.asarray(rgb), work, x, out.y, out.a, geom, garment, recolour=recolour,
                                          cam=out.cam, spread=spread, shift=shift, neutral=neutral,
                                          removal_only=groups == {"sleeve"},
                                          matte=matte)
        else:
            edited, mask, cam = np.asarray(rgb), None, None
            for part, part_request, part_out in parts:
                if not part.any():
                    continue
                colour = part_request.get("color")
                colour_only = set(part_request) == {"color"}
                edited, m, cam = composite(edited, work, x, part_out.y, part_out.a, geom, garment, region=part,
                                           recolour=True, cam=out.cam, spread=colour_spread if colour_only else 0.0,
                                           shift=self.colour_calibration.get(colour),
                                           neutral=colour_only and colour in NEUTRAL_COLOURS)
                mask = m if mask is None else np.maximum(mask, m)
            if mask is None:  # no sleeves to recolour: the photo as it was, and why
                _, mask, cam = composite(edited, work, x, x, torch.zeros_like(out.a), geom, garment, recolour=True,
                                         cam=out.cam)
            if region in ("sleeves", "sleeves+torso") and not parts[0][0].any():
                caveats.append(f"No sleeves were found on this photo (its sleeve length read as "
                               f"{self.schema.decode(labels[0].cpu().numpy()).get('sleeve')}), so none were "
                               "recoloured; if that reading is wrong, give the sleeve length (known values).")
        if sleeve_plan is not None:  # the new colour's sleeves reshaped: new sleeves are drawn in the new colour
            from amgan.reshape import reshape_photo

            edited, changed = reshape_photo(edited, garment, sleeve_plan)
            mask = np.maximum(mask, changed)
            caveats += _outline_notes(sleeve_plan)
        src = self.schema.decode(out.source_labels[0].cpu().numpy())
        res = EditResult(image=Image.fromarray(edited), mask=Image.fromarray(mask), cam=Image.fromarray(cam),
                         request=dict(full_request), region=region if region not in (None, "whole") else "whole",
                         source_attributes=src, method="generator+outline" if sleeve_plan is not None else "generator")
        if torso_request is not None:
            res.request = {"sleeves": dict(request), "torso": dict(torso_request)}
        res.background_kept = garment is not None
        res.caveats = ([sleeve_caveat] if sleeve_caveat else []) + caveats + self.caveats_for(groups)
        times["composite"] = time.perf_counter() - t
        res.timings = {k: round(v, 4) for k, v in times.items()}
        return res


OUTLINE_NOTE = ("The sleeves were reshaped from the garment's outline, not by the generator: the floor under a removed "
                "sleeve is filled in from the floor around it, and a new sleeve is drawn with the garment's own fabric.")

ONE_SLEEVE_NOTE = ("Only one sleeve stood out clearly from the garment's outline, so that one was changed; the other "
                   "seems to lie along the body and stays mostly as it was. A photo with both sleeves spread out from "
                   "the body works.")


BANDS_NOTE = ("A sleeve lying along the body does not show where it meets the body in the garment's outline: it was "
              "cut at the outer share of the garment's width where such sleeves lie, which may miss the seam, and the "
              "floor beside it was mirrored into its place. A photo with the sleeves spread out from the body is "
              "reshaped more exactly.")


def _outline_notes(plan) -> list[str]:
    """The caveats of an edit the outline made (:class:`amgan.reshape.SleevePlan`)."""
    return [OUTLINE_NOTE] + ([BANDS_NOTE] if plan.bands else []) + ([ONE_SLEEVE_NOTE] if plan.sleeves == 1 else [])


PATTERN_NOTE = ("The pattern was drawn on the garment, not by the generator: straight in the photo's plane, in an ink "
                "that stands out from the garment's colour, with the photo's shading and its prints kept on top.")


REGION_NOT_SLEEVE = ("a region edit changes colour or pattern inside the sleeves or the torso; "
                     "it cannot change the sleeve length itself")
GATED_GROUPS = frozenset({"color", "pattern"})  # edits that keep the garment's outline
NEUTRAL_COLOURS = frozenset({"black", "white", "gray"})  # no hue: the edit's chroma is 0 (recolour_maps)
MIN_GARMENT = 0.05  # a garment mask under this share of the photo is a failed segmentation


PROXY_SIDE = 1024  # photos longer than this are box-reduced (by a whole factor) before the models see them


def _proxy(rgb: Image.Image, side: int = PROXY_SIDE) -> Image.Image:
    """The photo the models and the matte are computed from: ``rgb`` itself up to ``side`` px, else
    box-reduced by a whole factor to between ``side`` and ``2 * side`` px (the models see at most 128 px,
    so their input is the same to a grey level; a 12-megapixel photo costs 40 ms instead of a second)."""
    k = max(rgb.size) // side
    return rgb.reduce(k) if k >= 2 else rgb


def _work_image(proxy: Image.Image) -> np.ndarray:
    """The photo on the matte's working grid (:func:`amgan.composite.work_size`), uint8 [h,w,3]."""
    pa = np.asarray(proxy)
    wh, ww = work_size(*pa.shape[:2])
    return pa if (wh, ww) == pa.shape[:2] else cv2_resize_area(pa, (wh, ww))


def cv2_resize_area(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 [H,W,3] -> [h,w,3] (``size`` = (h, w)), area-averaged."""
    import cv2

    return cv2.resize(arr, (size[1], size[0]), interpolation=cv2.INTER_AREA)


MAX_CAVEAT = 400  # characters of one caveat


def _check_caveats(caveats: Mapping, schema: Schema) -> dict[str, str]:
    """{group: text} checked: known group names, non-empty text of at most :data:`MAX_CAVEAT` characters."""
    if not isinstance(caveats, Mapping):
        raise ValueError(f"caveats must be a mapping {{group: text}}, got {type(caveats).__name__}")
    out = {}
    for g, text in caveats.items():
        if g not in schema.names:
            raise ValueError(f"caveat for unknown group {g!r}; groups: {', '.join(schema.names)}")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_CAVEAT:
            raise ValueError(f"caveat for {g!r} must be non-empty text of at most {MAX_CAVEAT} characters")
        out[g] = " ".join(text.split())
    return out


MAX_SHIFT = 50.0  # CIELAB units: a larger calibration offset is a mistake, not a calibration


def _check_calibration(calibration: Mapping, schema: Schema) -> dict[str, list[float]]:
    """{colour name: [dL*, da*, db*]} checked: names of the schema's 'color' group, three finite numbers
    each within +-:data:`MAX_SHIFT`."""
    if not isinstance(calibration, Mapping):
        raise ValueError(f"colour_calibration must be a mapping {{colour: [dL, da, db]}}, got {type(calibration).__name__}")
    if calibration and "color" not in schema.names:
        raise ValueError("colour_calibration needs a 'color' group in the schema")
    out = {}
    values = schema.group("color").values if calibration else ()
    for name, v in calibration.items():
        if name not in values:
            raise ValueError(f"colour_calibration for unknown colour {name!r}; colours: {', '.join(values)}")
        try:
            v = [float(t) for t in v]
        except (TypeError, ValueError):
            raise ValueError(f"colour_calibration[{name!r}] must be three numbers [dL, da, db]") from None
        if len(v) != 3 or not all(np.isfinite(v)) or max(abs(t) for t in v) > MAX_SHIFT:
            raise ValueError(f"colour_calibration[{name!r}] must be three finite numbers within +-{MAX_SHIFT:g}, got {v}")
        out[name] = v
    return out


_THREADS = threading.Lock()
_THREADS_HELD = [0, 0]  # [edits inside _core_for_mask, torch's thread count before the first of them]


@contextmanager
def _core_for_mask(active: bool):
    """torch's intra-op threads one fewer (at least 1) while a photo's garment mask (GrabCut) runs on
    a thread of its own beside the classifier.

    On 2 cores, two torch threads beside GrabCut's thread oversubscribe the machine and every stage
    waits (a 400x533 colour edit took 144 ms instead of 92 ms on stop 24's machine). :meth:`Editor.edit`
    holds it until the mask is found, then generates and composites on every thread. Concurrent edits
    share one reduction; the last one out restores the count."""
    if not active:
        yield
        return
    with _THREADS:
        if _THREADS_HELD[0] == 0:
            _THREADS_HELD[1] = torch.get_num_threads()
            if _THREADS_HELD[1] > 1:
                torch.set_num_threads(_THREADS_HELD[1] - 1)
        _THREADS_HELD[0] += 1
    try:
        yield
    finally:
        with _THREADS:
            _THREADS_HELD[0] -= 1
            if _THREADS_HELD[0] == 0 and _THREADS_HELD[1] > 1:
                torch.set_num_threads(_THREADS_HELD[1])


MASK_SIDE = 160  # the editor's GrabCut: working size (long side, px) ...
MASK_ITERATIONS = 3  # ... and iterations (the annotator's), ...
COLOUR_MASK_ITERATIONS = 2  # ... for a whole-garment colour or pattern edit: the same readings and colour-edit probes
# on the val photos, ~8 ms sooner; outline edits (sleeves, regions) keep 3 (val sleeve edits 0.493 against 0.479)
FRAME_RESCUE = True  # a garment running off the frame kept to the edge (amgan.data.garment_mask.frame_like)


def garment_mask_small(work: np.ndarray, iterations: int | None = None) -> np.ndarray | None:
    """The garment of a photo (uint8 [H,W,3]) as a boolean mask at the editor's GrabCut size
    (:data:`MASK_SIDE` px, ``iterations`` or :data:`MASK_ITERATIONS`; :func:`amgan.data.garment_mask.segment`),
    or None when no garment is found (under :data:`MIN_GARMENT` of the photo)."""
    from amgan.data.garment_mask import segment, to_work_size

    fg = segment(to_work_size(work, MASK_SIDE), iterations=MASK_ITERATIONS if iterations is None else iterations,
                 frame_rescue=FRAME_RESCUE)
    return None if fg.mean() < MIN_GARMENT else fg
